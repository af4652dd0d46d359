/**
 * Commands that work inside or on a running container: exec and attach (hijacked connections
 * with the output copied back, stdin forwarded, TTY resizing and detach keys as docker's
 * hijackedIOStreamer), stats, diff, commit and export, with docker 28's requests and output.
 */
import { promises as fs } from 'node:fs';
import nodePath from 'node:path';
import { randomInt } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import type { Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { IncomingMessage } from 'node:http';
import type { CommandDef, FlagDef, Invocation } from '../args.js';
import { pathName, type ApiClient, type Hijacked } from '../client.js';
import { CliError, fsErrorMessage } from '../errors.js';
import { InvalidReferenceError, familiarName, parseNormalizedNamed } from '../reference.js';
import { StdDemuxer, type Sink } from '../stdcopy.js';
import type { Cli } from '../streams.js';
import { truncateId } from '../text.js';
import { bytesSize, humanSizeWithPrecision } from '../units.js';
import { formatFlag, isDefaultTable, renderRows } from './common.js';
import { expandEnv, parseKeyValueFile } from './run.js';

const cpath = (name: string, rest = '') => `/containers/${pathName(name)}${rest}`;
const aliases = (name: string) => [`container ${name}`, name];
const detachKeysFlag: FlagDef = { name: 'detach-keys', type: 'string', usage: 'Override the key sequence for detaching a container' };

// ---- hijacked streams ---------------------------------------------------------------------

/** The message of docker's term.EscapeError, returned when the user typed the detach keys. */
export const ESCAPE_MESSAGE = 'read escape sequence';
const DEFAULT_ESCAPE = [16, 17]; // ctrl-p, ctrl-q

/** moby/term ToBytes: "ctrl-p,ctrl-q", "a,ctrl-@"; undefined when invalid. */
export function detachKeyBytes(keys: string): number[] | undefined {
  const out: number[] = [];
  for (const raw of keys.split(',')) {
    const key = raw.trim();
    if (key.length > 1 && key.startsWith('ctrl-')) {
      const k = key.slice(5);
      if (k.length !== 1) return undefined;
      const c = k.toLowerCase();
      if (c >= 'a' && c <= 'z') out.push(c.charCodeAt(0) - 96);
      else {
        const special: Record<string, number> = { '@': 0, '[': 27, '\\': 28, ']': 29, '^': 30, _: 31 };
        if (special[c] === undefined) return undefined;
        out.push(special[c]);
      }
    } else if (key.length === 1) {
      out.push(key.charCodeAt(0));
    } else {
      return undefined;
    }
  }
  return out;
}

/**
 * Passes input through, holding back a partial detach sequence; reports the whole sequence
 * (moby/term's EscapeProxy).
 */
export class EscapeProxy {
  private matched = 0;
  constructor(private readonly keys: number[]) {}
  /** The bytes to send on, and whether the detach sequence was completed. */
  push(chunk: Buffer): { data: Buffer; detach: boolean } {
    const out: number[] = [];
    for (const b of chunk) {
      if (this.keys.length && b === this.keys[this.matched]) {
        this.matched++;
        if (this.matched === this.keys.length) return { data: Buffer.from(out), detach: true };
        continue;
      }
      if (this.matched > 0) {
        out.push(...this.keys.slice(0, this.matched));
        this.matched = 0;
        if (b === this.keys[0]) {
          this.matched = 1;
          if (this.keys.length === 1) return { data: Buffer.from(out), detach: true };
          continue;
        }
      }
      out.push(b);
    }
    return { data: Buffer.from(out), detach: false };
  }
}

interface StreamOptions {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
  detachKeys: string;
}

/**
 * docker's hijackedIOStreamer: copies the connection's output to ours (raw with a TTY, else
 * demultiplexed), our stdin to it (raw mode and detach keys with a TTY), and settles when the
 * output ends or with 'detached' when the detach keys were typed.
 */
export async function streamHijacked(cli: Cli, hijacked: Hijacked, opts: StreamOptions): Promise<'done' | 'detached'> {
  const stream = hijacked.stream;
  const toOut: Sink | undefined = opts.stdout ? (b) => cli.out.write(b) : undefined;
  const toErr: Sink | undefined = opts.stderr ? (b) => (opts.tty ? cli.out.write(b) : cli.err.write(b)) : undefined;
  const demux = opts.tty ? undefined : new StdDemuxer(toOut, toErr);
  const cleanups: Array<() => void> = [];
  try {
    return await new Promise<'done' | 'detached'>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        try {
          if (demux) demux.push(chunk);
          else toOut?.(chunk);
        } catch (err) {
          reject(err);
          stream.destroy();
        }
      };
      if (hijacked.head.length) onData(hijacked.head);
      stream.on('data', onData);
      stream.on('end', () => resolve('done'));
      stream.on('close', () => resolve('done'));
      stream.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' || err.code === 'EPIPE' ? resolve('done') : reject(err)));

      if (!hijacked.upgraded) return;
      const conn = stream as Duplex;
      if (!opts.stdin) {
        conn.end();
        return;
      }
      const input = cli.in as typeof cli.in & { setRawMode?: (raw: boolean) => void };
      let proxy: EscapeProxy | undefined;
      if (opts.tty) {
        if (input.isTTY && input.setRawMode) {
          input.setRawMode(true);
          cleanups.push(() => input.setRawMode!(false));
          rawOutput(input);
        }
        proxy = new EscapeProxy((opts.detachKeys && detachKeyBytes(opts.detachKeys)) || DEFAULT_ESCAPE);
      }
      const onInput = (chunk: Buffer | string) => {
        let data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        if (proxy) {
          const r = proxy.push(data);
          data = r.data;
          if (data.length && !conn.destroyed) conn.write(data);
          if (r.detach) resolve('detached');
          return;
        }
        if (!conn.destroyed) conn.write(data);
      };
      const onEnd = () => {
        if (!conn.destroyed) conn.end();
      };
      input.on('data', onInput);
      input.on('end', onEnd);
      input.resume();
      cleanups.push(() => {
        input.off('data', onInput);
        input.off('end', onEnd);
        input.pause();
      });
    });
  } finally {
    for (const c of cleanups.reverse()) c();
    stream.destroy();
  }
}

/**
 * Go's term.MakeRaw also turns off output processing (OPOST); libuv's raw mode keeps ONLCR, which
 * would turn the remote TTY's "\r\n" into "\r\r\n". Leaving raw mode restores the saved settings.
 */
function rawOutput(input: object): void {
  const fd = (input as { fd?: unknown }).fd;
  if (typeof fd !== 'number') return;
  spawnSync('stty', ['-opost'], { stdio: [fd, 'ignore', 'ignore'] });
}

/** Keeps the remote TTY the size of ours: once now and on every SIGWINCH (MonitorTtySize). */
function monitorTtySize(cli: Cli, resizePath: string): () => void {
  const out = cli.out as { rows?: number; columns?: number };
  const client = cli.client();
  const resize = () => {
    if (!out.rows || !out.columns) return;
    client
      .request('POST', resizePath, { query: { h: out.rows, w: out.columns } })
      .then((res) => res.resume())
      .catch(() => undefined); // resize is best effort: the next resize corrects it
  };
  resize();
  const signals = cli.signals;
  if (!signals) return () => undefined;
  signals.on('SIGWINCH', resize);
  return () => signals.off('SIGWINCH', resize);
}

function ttySize(cli: Cli): [number, number] {
  const out = cli.out as { isTTY?: boolean; rows?: number; columns?: number };
  return out.isTTY ? [out.rows ?? 0, out.columns ?? 0] : [0, 0];
}

function checkTty(cli: Cli, attachStdin: boolean, tty: boolean): void {
  if (tty && attachStdin && !cli.in.isTTY) throw new CliError('the input device is not a TTY');
}

// ---- exec -----------------------------------------------------------------------------------

async function runExec(inv: Invocation, cli: Cli): Promise<number> {
  const fl = inv.flags;
  const [container, ...cmd] = inv.args as [string, ...string[]];
  const detach = fl.bool('detach');
  const tty = fl.bool('tty');
  const lookup = (k: string) => cli.env[k];
  const env = [...fl.list('env-file').flatMap((f) => parseKeyValueFile(f, lookup)), ...fl.list('env').map((e) => expandEnv(e, cli.env))];
  const attachStdin = !detach && fl.bool('interactive');
  const consoleSize = tty ? ttySize(cli) : undefined;
  const body = {
    User: fl.string('user'),
    Privileged: fl.bool('privileged'),
    Tty: tty,
    ...(consoleSize && { ConsoleSize: consoleSize }),
    AttachStdin: attachStdin,
    AttachStderr: !detach,
    AttachStdout: !detach,
    Detach: false,
    DetachKeys: fl.string('detach-keys'),
    Env: env.length ? env : null,
    WorkingDir: fl.string('workdir'),
    Cmd: cmd,
  };
  const client = cli.client();
  // Inspect first so that "No such container" wins, and check the TTY before creating.
  (await client.request('GET', cpath(container, '/json'))).resume();
  if (!detach) checkTty(cli, attachStdin, tty);
  const created = await client.json<{ Id?: string }>('POST', cpath(container, '/exec'), { json: body });
  const execId = created?.Id ?? '';
  if (execId === '') throw new CliError('exec ID empty');
  const start = { Detach: detach, Tty: tty, ...(consoleSize && { ConsoleSize: consoleSize }) };
  if (detach) {
    (await client.request('POST', `/exec/${execId}/start`, { json: start })).resume();
    return 0;
  }
  const hijacked = await client.hijack('POST', `/exec/${execId}/start`, { json: start });
  const stopResize = tty && cli.in.isTTY ? monitorTtySize(cli, `/exec/${execId}/resize`) : () => undefined;
  let how: 'done' | 'detached';
  try {
    how = await streamHijacked(cli, hijacked, { stdin: attachStdin, stdout: true, stderr: true, tty, detachKeys: fl.string('detach-keys') });
  } finally {
    stopResize();
  }
  if (how === 'detached') throw new CliError(ESCAPE_MESSAGE);
  return execExitStatus(client, execId);
}

async function execExitStatus(client: ApiClient, execId: string): Promise<number> {
  const info = await client.json<{ ExitCode?: number | null }>('GET', `/exec/${execId}/json`);
  return info?.ExitCode ?? 0;
}

export function execCommand(name: string): CommandDef {
  return {
    name,
    usage: '[OPTIONS] CONTAINER COMMAND [ARG...]',
    short: 'Execute a command in a running container',
    aliasPaths: aliases('exec'),
    args: { min: 2 },
    noInterspersed: true,
    flags: [
      { name: 'detach', short: 'd', type: 'bool', usage: 'Detached mode: run command in the background' },
      detachKeysFlag,
      { name: 'env', short: 'e', type: 'list', usage: 'Set environment variables', check: (v) => (v.startsWith('=') ? `invalid environment variable: ${v}` : undefined) },
      { name: 'env-file', type: 'list', usage: 'Read in a file of environment variables' },
      { name: 'interactive', short: 'i', type: 'bool', usage: 'Keep STDIN open even if not attached' },
      { name: 'privileged', type: 'bool', usage: 'Give extended privileges to the command' },
      { name: 'tty', short: 't', type: 'bool', usage: 'Allocate a pseudo-TTY' },
      { name: 'user', short: 'u', type: 'string', usage: 'Username or UID (format: "<name|uid>[:<group|gid>]")' },
      { name: 'workdir', short: 'w', type: 'string', usage: 'Working directory inside the container' },
    ],
    run: runExec,
  };
}

// ---- attach ---------------------------------------------------------------------------------

interface AttachTarget {
  Id: string;
  State?: { Running?: boolean; Paused?: boolean; Restarting?: boolean } | null;
  Config?: { Tty?: boolean; OpenStdin?: boolean } | null;
}

async function inspectAndCheckState(client: ApiClient, name: string): Promise<AttachTarget> {
  const c = await client.json<AttachTarget>('GET', cpath(name, '/json'));
  if (!c.State?.Running) throw new CliError('You cannot attach to a stopped container, start it first');
  if (c.State.Paused) throw new CliError('You cannot attach to a paused container, unpause it first');
  if (c.State.Restarting) throw new CliError('You cannot attach to a restarting container, wait until it is running');
  return c;
}

/** Signals docker's ForwardAllSignals passes on (the ones Node lets a process catch). */
const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

async function runAttach(inv: Invocation, cli: Cli): Promise<number> {
  const fl = inv.flags;
  const name = inv.args[0]!;
  const client = cli.client();
  const c = await inspectAndCheckState(client, name);
  const tty = !!c.Config?.Tty;
  checkTty(cli, !fl.bool('no-stdin'), tty);
  const stdin = !fl.bool('no-stdin') && !!c.Config?.OpenStdin;
  const detachKeys = fl.string('detach-keys');
  const cleanups: Array<() => void> = [];
  if (fl.bool('sig-proxy') && !tty && cli.signals) {
    const signals = cli.signals;
    const forward = (sig: NodeJS.Signals) => {
      client
        .request('POST', cpath(name, '/kill'), { query: { signal: sig.replace(/^SIG/, '') } })
        .then((res) => res.resume())
        .catch(() => undefined); // signal proxying is best effort: the container may have exited
    };
    for (const sig of FORWARDED) signals.on(sig, forward);
    cleanups.push(() => {
      for (const sig of FORWARDED) signals.off(sig, forward);
    });
  }
  try {
    const hijacked = await client.hijack('POST', cpath(name, '/attach'), {
      query: { stream: true, stdin: stdin || undefined, stdout: true, stderr: true, detachKeys: detachKeys || undefined },
    });
    try {
      await inspectAndCheckState(client, name);
    } catch (err) {
      hijacked.stream.destroy();
      throw err;
    }
    if (tty && cli.out.isTTY) cleanups.push(monitorTtySize(cli, cpath(name, '/resize')));
    const wait = client.request('POST', cpath(name, '/wait'));
    wait.catch(() => undefined); // awaited later; not an unhandled rejection meanwhile
    const how = await streamHijacked(cli, hijacked, { stdin, stdout: true, stderr: true, tty, detachKeys });
    if (how === 'detached') {
      void wait.then((r) => r.destroy(), () => undefined);
      throw new CliError(ESCAPE_MESSAGE);
    }
    const res = await wait;
    const text = (await readAll(res)).toString();
    const result = JSON.parse(text) as { StatusCode: number; Error?: { Message?: string } | null };
    if (result.Error?.Message) throw new CliError(result.Error.Message);
    return result.StatusCode;
  } finally {
    for (const c2 of cleanups.reverse()) c2();
  }
}

export function attachCommand(name: string): CommandDef {
  return {
    name,
    usage: '[OPTIONS] CONTAINER',
    short: 'Attach local standard input, output, and error streams to a running container',
    aliasPaths: aliases('attach'),
    args: { min: 1, max: 1 },
    flags: [
      detachKeysFlag,
      { name: 'no-stdin', type: 'bool', usage: 'Do not attach STDIN' },
      { name: 'sig-proxy', type: 'bool', default: true, usage: 'Proxy all received signals to the process' },
    ],
    run: runAttach,
  };
}

async function readAll(res: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

// ---- diff, commit, export -------------------------------------------------------------------

export function diffCommand(name: string): CommandDef {
  return {
    name,
    usage: 'CONTAINER',
    short: "Inspect changes to files or directories on a container's filesystem",
    aliasPaths: aliases('diff'),
    args: { min: 1, max: 1 },
    run: async (inv, cli) => {
      const changes = await cli.client().json<Array<{ Path: string; Kind: number }> | null>('GET', cpath(inv.args[0]!, '/changes'));
      cli.out.write(formatChanges(changes ?? []));
    },
  };
}

/** `C /etc` lines: Kind 0 changed, 1 added, 2 deleted. */
export function formatChanges(changes: Array<{ Path: string; Kind: number }>): string {
  return changes.map((c) => `${['C', 'A', 'D'][c.Kind] ?? ''} ${c.Path}\n`).join('');
}

export function commitCommand(name: string): CommandDef {
  return {
    name,
    usage: '[OPTIONS] CONTAINER [REPOSITORY[:TAG]]',
    short: "Create a new image from a container's changes",
    aliasPaths: aliases('commit'),
    args: { min: 1, max: 2 },
    flags: [
      { name: 'author', short: 'a', type: 'string', usage: 'Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")' },
      { name: 'change', short: 'c', type: 'list', usage: 'Apply Dockerfile instruction to the created image' },
      { name: 'message', short: 'm', type: 'string', usage: 'Commit message' },
      { name: 'pause', short: 'p', type: 'bool', default: true, usage: 'Pause container during commit' },
    ],
    run: async (inv, cli) => {
      const fl = inv.flags;
      const [container, reference = ''] = inv.args as [string, string?];
      let repo = '';
      let tag = '';
      if (reference !== '') {
        try {
          const ref = parseNormalizedNamed(reference);
          if (ref.digest) throw new CliError('refusing to create a tag with a digest reference');
          tag = ref.tag ?? 'latest';
          repo = familiarName(ref);
        } catch (err) {
          if (err instanceof InvalidReferenceError) throw new CliError(err.message);
          throw err;
        }
      }
      const changes = fl.list('change');
      const res = await cli.client().json<{ Id: string }>('POST', '/commit', {
        query: {
          author: fl.string('author'),
          changes: changes.length ? changes : undefined,
          comment: fl.string('message'),
          container,
          pause: fl.bool('pause') ? undefined : '0',
          repo,
          tag,
        },
      });
      cli.out.write(`${res.Id}\n`);
    },
  };
}

/** command.CopyToFile: through a temporary file beside the target, then renamed. */
async function copyToFile(file: string, body: IncomingMessage): Promise<void> {
  const tmp = nodePath.join(nodePath.dirname(file), `.docker_temp_${randomInt(1e9, 1e10)}`);
  let handle;
  try {
    handle = await fs.open(tmp, 'wx', 0o600);
  } catch (err) {
    body.resume();
    throw new CliError(fsErrorMessage('open', tmp, err));
  }
  try {
    await pipeline(body, handle.createWriteStream());
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw new CliError(fsErrorMessage('write', tmp, err));
  }
}

export function exportCommand(name: string): CommandDef {
  return {
    name,
    usage: '[OPTIONS] CONTAINER',
    short: "Export a container's filesystem as a tar archive",
    aliasPaths: aliases('export'),
    args: { min: 1, max: 1 },
    flags: [{ name: 'output', short: 'o', type: 'string', usage: 'Write to a file, instead of STDOUT' }],
    run: async (inv, cli) => {
      const output = inv.flags.string('output');
      if (output === '' && cli.rawOut.isTTY) throw new CliError('cowardly refusing to save to a terminal. Use the -o flag or redirect');
      if (output !== '') {
        const dir = nodePath.dirname(output);
        let isDir = false;
        try {
          isDir = (await fs.stat(dir)).isDirectory();
        } catch (err) {
          throw new CliError(`failed to export container: invalid output path: ${fsErrorMessage('stat', dir, err)}`);
        }
        if (!isDir) throw new CliError(`failed to export container: invalid output path: stat ${dir}: not a directory`);
      }
      const res = await cli.client().request('GET', cpath(inv.args[0]!, '/export'));
      if (output !== '') await copyToFile(output, res);
      else await pipeline(res, cli.rawOut, { end: false });
    },
  };
}

// ---- stats ----------------------------------------------------------------------------------

export interface StatsJson {
  name?: string;
  id?: string;
  cpu_stats?: { cpu_usage?: { total_usage?: number; percpu_usage?: number[] | null }; system_cpu_usage?: number; online_cpus?: number };
  precpu_stats?: { cpu_usage?: { total_usage?: number }; system_cpu_usage?: number };
  memory_stats?: { usage?: number; limit?: number; stats?: Record<string, number> | null };
  networks?: Record<string, { rx_bytes?: number; tx_bytes?: number }> | null;
  blkio_stats?: { io_service_bytes_recursive?: Array<{ op: string; value: number }> | null };
  pids_stats?: { current?: number };
}

export interface StatsEntry {
  container: string;
  name: string;
  id: string;
  cpu: number;
  mem: number;
  memLimit: number;
  memPercent: number;
  netRx: number;
  netTx: number;
  blkRead: number;
  blkWrite: number;
  pids: number;
  invalid: boolean;
}

/** docker's calculations: CPU over the sampling interval, memory without the page cache. */
export function statsEntry(container: string, v: StatsJson): StatsEntry {
  const cpuDelta = (v.cpu_stats?.cpu_usage?.total_usage ?? 0) - (v.precpu_stats?.cpu_usage?.total_usage ?? 0);
  const systemDelta = (v.cpu_stats?.system_cpu_usage ?? 0) - (v.precpu_stats?.system_cpu_usage ?? 0);
  let online = v.cpu_stats?.online_cpus ?? 0;
  if (online === 0) online = v.cpu_stats?.cpu_usage?.percpu_usage?.length ?? 0;
  const cpu = systemDelta > 0 && cpuDelta > 0 ? (cpuDelta / systemDelta) * online * 100 : 0;
  const m = v.memory_stats ?? {};
  const usage = m.usage ?? 0;
  const st = m.stats ?? {};
  let mem = usage;
  if (st.total_inactive_file !== undefined && st.total_inactive_file < usage) mem = usage - st.total_inactive_file;
  else if ((st.inactive_file ?? 0) < usage) mem = usage - (st.inactive_file ?? 0);
  const memLimit = m.limit ?? 0;
  let netRx = 0;
  let netTx = 0;
  for (const n of Object.values(v.networks ?? {})) {
    netRx += n.rx_bytes ?? 0;
    netTx += n.tx_bytes ?? 0;
  }
  let blkRead = 0;
  let blkWrite = 0;
  for (const e of v.blkio_stats?.io_service_bytes_recursive ?? []) {
    const op = e.op.toLowerCase();
    if (op === 'read') blkRead += e.value;
    else if (op === 'write') blkWrite += e.value;
  }
  return {
    container,
    name: v.name ?? '',
    id: v.id ?? '',
    cpu,
    mem,
    memLimit,
    memPercent: memLimit !== 0 ? (mem / memLimit) * 100 : 0,
    netRx,
    netTx,
    blkRead,
    blkWrite,
    pids: v.pids_stats?.current ?? 0,
    invalid: false,
  };
}

const STATS_FORMAT = 'table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}';
const STATS_HEADERS: Record<string, string> = {
  Container: 'CONTAINER',
  ID: 'CONTAINER ID',
  Name: 'NAME',
  CPUPerc: 'CPU %',
  MemUsage: 'MEM USAGE / LIMIT',
  MemPerc: 'MEM %',
  NetIO: 'NET I/O',
  BlockIO: 'BLOCK I/O',
  PIDs: 'PIDS',
};

const pct = (v: number) => `${v.toFixed(2)}%`;

/** The row docker's statsContext shows (keys in the order its JSON has them). */
export function statsRow(s: StatsEntry, trunc: boolean): Record<string, string> {
  const bad = s.invalid;
  return {
    BlockIO: bad ? '--' : `${humanSizeWithPrecision(s.blkRead, 3)} / ${humanSizeWithPrecision(s.blkWrite, 3)}`,
    CPUPerc: bad ? '--' : pct(s.cpu),
    Container: s.container,
    ID: trunc ? truncateId(s.id) : s.id,
    MemPerc: bad ? '--' : pct(s.memPercent),
    MemUsage: bad ? '-- / --' : `${bytesSize(s.mem)} / ${bytesSize(s.memLimit)}`,
    Name: s.name.length > 1 ? s.name.slice(1) : '--',
    NetIO: bad ? '--' : `${humanSizeWithPrecision(s.netRx, 3)} / ${humanSizeWithPrecision(s.netTx, 3)}`,
    PIDs: bad ? '--' : String(s.pids),
  };
}

export function formatStats(entries: StatsEntry[], format: string, trunc: boolean): string {
  return renderRows(isDefaultTable(format) ? STATS_FORMAT : format, entries.map((e) => statsRow(e, trunc)), STATS_HEADERS);
}

async function runStats(inv: Invocation, cli: Cli): Promise<void> {
  const fl = inv.flags;
  const client = cli.client();
  const noStream = fl.bool('no-stream');
  const trunc = !fl.bool('no-trunc');
  const format = fl.string('format');
  let names = inv.args;
  if (names.length === 0) {
    const list = await client.json<Array<{ Id: string }>>('GET', '/containers/json', { query: { all: fl.bool('all') ? '1' : undefined } });
    names = list.map((c) => c.Id.slice(0, 12));
  }
  const entries: StatsEntry[] = names.map((n) => ({ ...statsEntry(n, {}), invalid: true }));
  if (noStream) {
    const errors: string[] = [];
    await Promise.all(
      names.map(async (n, i) => {
        try {
          entries[i] = statsEntry(n, await client.json<StatsJson>('GET', cpath(n, '/stats'), { query: { stream: '0' } }));
        } catch (err) {
          if (!(err instanceof CliError)) throw err;
          errors[i] = err.message;
        }
      }),
    );
    const errs = errors.filter(Boolean);
    if (errs.length) throw new CliError(errs.join('\n'));
    cli.out.write(formatStats(entries, format, trunc));
    return;
  }
  // Streaming: one connection per container, the table redrawn twice a second.
  const streams: IncomingMessage[] = [];
  for (const [i, n] of names.entries()) {
    const res = await client.request('GET', cpath(n, '/stats'), { query: { stream: '1' } });
    streams.push(res);
    let buf = '';
    res.on('data', (chunk: Buffer) => {
      buf += chunk.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) !== -1) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line) entries[i] = statsEntry(n, JSON.parse(line) as StatsJson);
      }
    });
    res.on('end', () => (entries[i]!.invalid = true));
  }
  const draw = () => {
    const text = formatStats(entries, format, trunc);
    cli.out.write('\x1b[H' + text.split('\n').slice(0, -1).map((l) => `${l}\x1b[K\n`).join('') + '\x1b[J');
  };
  cli.out.write('\x1b[2J');
  await new Promise<void>((resolve) => {
    const timer = setInterval(draw, 500);
    const stop = () => {
      clearInterval(timer);
      for (const s of streams) s.destroy();
      resolve();
    };
    cli.signals?.on('SIGINT', stop);
    cli.signals?.on('SIGTERM', stop);
  });
}

export function statsCommand(name: string): CommandDef {
  return {
    name,
    usage: '[OPTIONS] [CONTAINER...]',
    short: 'Display a live stream of container(s) resource usage statistics',
    aliasPaths: aliases('stats'),
    flags: [
      { name: 'all', short: 'a', type: 'bool', usage: 'Show all containers (default shows just running)' },
      formatFlag(),
      { name: 'no-stream', type: 'bool', usage: 'Disable streaming stats and only pull the first result' },
      { name: 'no-trunc', type: 'bool', usage: 'Do not truncate output' },
    ],
    run: runStats,
  };
}
