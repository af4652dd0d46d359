/**
 * Container logs as docker compose prints them: each line behind its container's prefix
 * (`web-1  | `, padded to the longest name, coloured per container in docker compose's rainbow
 * order when colours are on), status lines (`web-1 exited with code 0`), and following a
 * project's containers as they start, restart and go away. `compose logs` and attached
 * `compose up` both use it.
 */
import type { IncomingMessage } from 'node:http';
import type { ApiClient } from '../../client.js';
import { DaemonError } from '../../errors.js';
import { formatRFC3339NanoFixed, getTimestamp, unixLocal } from '../../gotime.js';
import { jsonValues } from '../../jsonstream.js';
import { StdDemuxer } from '../../stdcopy.js';
import type { Output } from '../../streams.js';
import type { LogConsumer } from '../../../compose/engine/up.js';
import { pathName } from '../../client.js';
import { filtersParam } from '../common.js';
import { LABEL, projectFilter } from '../../../compose/engine/labels.js';
import { defaultContainerName, nameWithoutProject, projectContainers, sortedByName, type ContainerSummary } from './project-containers.js';

// ---- colours ------------------------------------------------------------------------------

type Colour = (s: string) => string;
const plain: Colour = (s) => s;
const ansi =
  (code: string): Colour =>
  (s) =>
    `\x1b[${code}m${s}\x1b[0m`;

/** docker compose's rainbow: cyan, yellow, green, magenta, blue, then their intense forms. */
export const RAINBOW: readonly string[] = ['36', '33', '32', '35', '34', '36;1', '33;1', '32;1', '35;1', '34;1'];

/** The name of the `watch` logger, whose lines docker compose marks with ⦿ in bright green. */
export const WATCH_LOGGER = '#watch';

/** goterm's RESET_LINE, which docker compose puts before a status line. */
const RESET_LINE = '\r\x1b[K';

/**
 * Whether output gets ANSI codes, as docker compose's --ansi decides: "always", "never",
 * or "auto" (a terminal). COMPOSE_ANSI / NO_COLOR are read by the caller into `mode`.
 */
export function useAnsi(mode: string, out: Pick<Output, 'isTTY'>): boolean {
  if (mode === 'always') return true;
  if (mode === 'auto' || mode === '') return !!out.isTTY;
  return false;
}

export interface LogPrinterOptions {
  color: boolean;
  /** `web-1  | ` before each line; off with --no-log-prefix. */
  prefix: boolean;
  /**
   * Stamp each line with the time it arrived, as attached `up --timestamps` does. `logs -t`
   * asks the daemon for its timestamps instead and leaves this off.
   */
  timestamps?: boolean;
  /** The clock, in ms (tests). */
  now?: () => number;
}

interface Presenter {
  colour: Colour;
  prefix: string;
}

/** Writes lines of named sources (containers) with docker compose's prefixes and colours. */
export class LogPrinter {
  private readonly presenters = new Map<string, Presenter>();
  private nextColour = 0;
  private width = 0;

  constructor(
    private readonly out: Output,
    private readonly err: Output,
    private readonly opts: LogPrinterOptions,
  ) {}

  /** Makes `name` known: it takes the next colour and the prefixes widen to fit it. */
  register(name: string): void {
    if (this.presenters.has(name)) return;
    let colour = plain;
    const space = name.indexOf(' ');
    if (space > 0) {
      // "web-1 (hook)"-style names share their parent's colour, as docker compose's do.
      colour = this.presenter(name.slice(0, space)).colour;
    } else if (this.opts.color && name !== '') {
      colour = name === WATCH_LOGGER ? ansi('92') : ansi(RAINBOW[this.nextColour++ % RAINBOW.length]!);
    }
    this.presenters.set(name, { colour, prefix: '' });
    this.width = Math.max(0, ...[...this.presenters.keys()].map((n) => n.length)) + 1;
    if (this.opts.prefix) for (const [n, p] of this.presenters) p.prefix = this.prefixFor(n, p.colour);
  }

  private prefixFor(name: string, colour: Colour): string {
    if (name === WATCH_LOGGER) return colour(' '.repeat(this.width) + ' ⦿ ');
    return colour(`${name.padEnd(this.width)} | `);
  }

  private presenter(name: string): Presenter {
    if (!this.presenters.has(name)) this.register(name);
    return this.presenters.get(name)!;
  }

  /** The prefix `name`'s lines get now (tests, and callers that print their own lines). */
  prefixOf(name: string): string {
    return this.presenter(name).prefix;
  }

  /** A line (or several, split at newlines) of `name`'s output. */
  log(name: string, message: string): void {
    this.write(this.out, name, message);
  }

  /** A line of `name`'s on stderr (docker compose's Err: hook and watch failures). */
  error(name: string, message: string): void {
    this.write(this.err, name, message);
  }

  /** `web-1 exited with code 0`: a line about the container rather than from it. */
  status(name: string, message: string): void {
    const p = this.presenter(name);
    const reset = this.opts.color ? RESET_LINE : '';
    this.out.write(p.colour(`${reset}${name} ${message}\n`));
  }

  private write(to: Output, name: string, message: string): void {
    const p = this.presenter(name);
    let stamp = '';
    if (this.opts.timestamps) {
      const ms = (this.opts.now ?? Date.now)();
      stamp = formatRFC3339NanoFixed(unixLocal(Math.floor(ms / 1000), (ms % 1000) * 1e6)) + ' ';
    }
    let text = '';
    for (const line of message.split('\n')) text += `${p.prefix}${stamp}${line}\n`;
    to.write(text);
  }
}

/**
 * The printer as attached `up`'s LogConsumer (src/compose/engine/up.ts): the same prefixes,
 * rainbow and status lines as `compose logs`, and `up --timestamps` (the arrival time of each line).
 */
export function upLogConsumer(out: Output, err: Output, opts: LogPrinterOptions): LogConsumer {
  const printer = new LogPrinter(out, err, opts);
  return {
    register(names) {
      for (const n of names) printer.register(n);
      out.write(`Attaching to ${names.join(', ')}\n`);
    },
    line(name, _service, _stream, text) {
      printer.log(name, text);
    },
    exited(name, code) {
      printer.status(name, `exited with code ${code}`);
    },
    info(text) {
      out.write(`${text}\n`);
    },
  };
}

// ---- one container's log stream -----------------------------------------------------------

export interface LogStreamOptions {
  follow?: boolean;
  /** Lines from the end ("all" or a number). */
  tail?: string;
  /** As the API takes them (seconds[.nanoseconds]); the CLI converts --since/--until first. */
  since?: string;
  until?: string;
  /** The daemon's timestamps on each line (`logs -t`). */
  timestamps?: boolean;
}

export interface LogSource {
  id: string;
  /** The name lines are printed under (`web-1`). */
  name: string;
  tty: boolean;
}

/** Splits a byte stream into lines for `emit`; a last line without a newline is kept for `flush`. */
export class LineSplitter {
  private pending = '';
  private readonly decoder = new TextDecoder();

  constructor(private readonly emit: (line: string) => void) {}

  push(chunk: Uint8Array): void {
    const text = this.pending + this.decoder.decode(chunk, { stream: true });
    const lines = text.split('\n');
    this.pending = lines.pop()!;
    for (const line of lines) this.emit(line);
  }

  flush(): void {
    const rest = this.pending + this.decoder.decode();
    this.pending = '';
    if (rest !== '') this.emit(rest);
  }
}

/**
 * Prints one container's logs until its stream ends (at once without `follow`; when the
 * container stops with it) or `signal` aborts. stdout and stderr both go to the printer's
 * output, as docker compose prints them. A container removed meanwhile ends quietly.
 */
export async function streamContainerLogs(
  client: ApiClient,
  printer: LogPrinter,
  source: LogSource,
  opts: LogStreamOptions,
  signal?: AbortSignal,
): Promise<void> {
  if (signal?.aborted) return;
  let res: IncomingMessage;
  try {
    res = await client.request('GET', `/containers/${pathName(source.id)}/logs`, {
      query: {
        follow: opts.follow || undefined,
        since: opts.since || undefined,
        stderr: true,
        stdout: true,
        tail: opts.tail ?? 'all',
        timestamps: opts.timestamps || undefined,
        until: opts.until || undefined,
      },
    });
  } catch (err) {
    if (err instanceof DaemonError && err.status === 404) return;
    throw err;
  }
  const abort = () => res.destroy();
  signal?.addEventListener('abort', abort, { once: true });
  const lines = new LineSplitter((line) => printer.log(source.name, line));
  const demux = source.tty ? undefined : new StdDemuxer((b) => lines.push(b), (b) => lines.push(b));
  try {
    for await (const chunk of res) {
      if (demux) demux.push(chunk as Buffer);
      else lines.push(chunk as Buffer);
    }
  } catch (err) {
    // Aborted by us, or the daemon went away mid-stream: what arrived has been printed.
    if (!signal?.aborted && !isConnectionEnd(err)) throw err;
  } finally {
    signal?.removeEventListener('abort', abort);
    lines.flush();
  }
}

function isConnectionEnd(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException)?.code;
  return code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' || (err as Error)?.message === 'aborted';
}

// ---- a project's containers, coming and going ---------------------------------------------

export interface ContainerExit {
  id: string;
  name: string;
  service: string;
  exitCode: number;
  /** The daemon restarts it (restart policy): logs go on. */
  restarting: boolean;
}

export interface ProjectLogsOptions extends LogStreamOptions {
  project: string;
  /** Services whose containers are printed and watched; empty: all of the project's. */
  services?: string[];
  /** Only this replica number (`logs --index`). */
  index?: number;
  /**
   * The containers to start from; by default every (also stopped) non-one-off container of
   * the watched services, as docker compose's logs takes them.
   */
  containers?: ContainerSummary[];
  signal?: AbortSignal;
  /** Told of every container exit while following (attached `up` decides when to stop). */
  onExit?: (exit: ContainerExit) => void;
  /** Told of every container start while following, after its log stream began. */
  onStart?: (source: LogSource) => void;
}

interface InspectState {
  Id: string;
  Name?: string;
  Config?: { Tty?: boolean; Labels?: Record<string, string> | null } | null;
  State?: { Running?: boolean; Restarting?: boolean; StartedAt?: string; ExitCode?: number } | null;
}

interface EventActor {
  Type?: string;
  Action?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> | null };
}

export interface ProjectLogs {
  /** Settles when every stream ended (following: when every watched container has exited). */
  done: Promise<void>;
  /** Stops following: streams close, `done` resolves. */
  stop(): void;
}

/**
 * Prints the logs of a project's containers. With `follow`, it watches the project's events
 * first (so nothing starting meanwhile is missed), then prints each container as it starts
 * (from its start time), prints `exited with code N` as each one dies, and is done when no
 * watched container remains (docker compose's monitor). Resolves once it is watching, so
 * attached `up` can start containers after.
 */
export async function startProjectLogs(client: ApiClient, printer: LogPrinter, opts: ProjectLogsOptions): Promise<ProjectLogs> {
  const controller = new AbortController();
  const stop = () => controller.abort();
  opts.signal?.addEventListener('abort', stop, { once: true });
  const signal = controller.signal;
  const watched = (service: string) => !opts.services?.length || opts.services.includes(service);
  const wantedNumber = (labels: Record<string, string>) => !opts.index || labels[LABEL.containerNumber] === String(opts.index);

  let events: IncomingMessage | undefined;
  if (opts.follow) {
    events = await client.request('GET', '/events', {
      query: {
        filters: filtersParam([`label=${projectFilter(opts.project)}`, `label=${LABEL.oneoff}=False`, 'type=container']),
      },
    });
  }

  const containers = (
    opts.containers ??
    (await projectContainers({ client, progress: noProgress, warn: () => undefined }, opts.project, { all: true, oneoff: false, services: opts.services }))
  ).filter((c) => watched(c.Labels?.[LABEL.service] ?? '') && wantedNumber(c.Labels ?? {}));
  // Colours by name order, so a project's services keep theirs from one run to the next.
  for (const c of sortedByName(containers)) printer.register(nameWithoutProject(c));

  /** Streams by container id: the last one started, and the start time it prints from. */
  const streams = new Map<string, { done: Promise<void>; startedAt: string }>();
  const all: Promise<void>[] = [];
  const running = new Set(containers.map((c) => c.Id));

  const follow = (id: string, name: string, inspect: InspectState, logOpts: LogStreamOptions) => {
    const previous = streams.get(id)?.done ?? Promise.resolve();
    const source: LogSource = { id, name, tty: !!inspect.Config?.Tty };
    // A restart's stream waits for the previous one to drain, so lines stay in order.
    const done = previous.then(() => streamContainerLogs(client, printer, source, logOpts, signal));
    streams.set(id, { done, startedAt: inspect.State?.StartedAt ?? '' });
    all.push(done);
    return source;
  };

  for (const c of containers) {
    let inspect: InspectState;
    try {
      inspect = await client.json<InspectState>('GET', `/containers/${pathName(c.Id)}/json`);
    } catch (err) {
      if (err instanceof DaemonError && err.status === 404) {
        running.delete(c.Id);
        continue;
      }
      throw err;
    }
    follow(c.Id, nameWithoutProject(c), inspect, opts);
  }

  let done: Promise<void>;
  if (!events) {
    done = Promise.all(all).then(() => undefined);
  } else {
    const ev = events;
    signal.addEventListener('abort', () => ev.destroy(), { once: true });
    const onEvent = async (e: EventActor): Promise<boolean> => {
      const attrs = e.Actor?.Attributes ?? {};
      const id = e.Actor?.ID ?? '';
      const service = attrs[LABEL.service] ?? '';
      if (!id || !watched(service) || !wantedNumber(attrs)) return false;
      const name = eventSourceName(opts.project, attrs);
      switch (e.Action) {
        case 'create':
          running.add(id);
          if (attrs[LABEL.replace]) printer.status(attrs[LABEL.replace]!, 'has been recreated');
          return false;
        case 'start': {
          running.add(id);
          const inspect = await inspectOrUndefined(client, id);
          if (!inspect) return false;
          // The start the first listing already streams from: nothing new to print.
          if (streams.get(id)?.startedAt === inspect.State?.StartedAt) return false;
          const since = inspect.State?.StartedAt ? getTimestamp(inspect.State.StartedAt, Date.now()) : undefined;
          const source = follow(id, name, inspect, { ...opts, since, tail: opts.tail });
          opts.onStart?.(source);
          return false;
        }
        case 'die': {
          const inspect = await inspectOrUndefined(client, id);
          const restarting = !!(inspect?.State?.Restarting || inspect?.State?.Running);
          const exitCode = Number(attrs.exitCode ?? inspect?.State?.ExitCode ?? 0) || 0;
          printer.status(name, `exited with code ${exitCode}${restarting ? ' (restarting)' : ''}`);
          if (!restarting) running.delete(id);
          opts.onExit?.({ id, name, service, exitCode, restarting });
          return running.size === 0;
        }
        case 'destroy':
          running.delete(id);
          return running.size === 0;
        default:
          return false;
      }
    };
    done = (async () => {
      try {
        if (running.size > 0) {
          for await (const raw of jsonValues(ev)) {
            if (await onEvent(JSON.parse(raw) as EventActor)) break;
          }
        }
      } catch (err) {
        if (!signal.aborted && !isConnectionEnd(err)) throw err;
      } finally {
        ev.destroy();
      }
      // Every watched container exited: their streams end by themselves; print what is left.
      await Promise.all(all);
    })();
  }
  done = done.finally(() => opts.signal?.removeEventListener('abort', stop));
  return { done, stop };
}

/** docker compose's event source name: `web-1` for a default name, else the name itself. */
function eventSourceName(project: string, attrs: Record<string, string>): string {
  const name = attrs.name ?? '';
  const expected = defaultContainerName(project, attrs[LABEL.service] ?? '', attrs[LABEL.containerNumber] ?? '');
  return name === expected ? name.slice(project.length + 1) : name;
}

async function inspectOrUndefined(client: ApiClient, id: string): Promise<InspectState | undefined> {
  try {
    return await client.json<InspectState>('GET', `/containers/${pathName(id)}/json`);
  } catch (err) {
    if (err instanceof DaemonError && err.status === 404) return undefined;
    throw err;
  }
}

const noProgress = { event: () => undefined, log: () => undefined, close: () => undefined };
