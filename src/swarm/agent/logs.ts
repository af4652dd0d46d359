/**
 * Task logs. `TaskLogs` reads the log of a task container on this node (the container log reader, with
 * the options of GET /containers/{id}/logs); `serveTaskLogs` serves it to other nodes on the control
 * plane (`/logs/task/{id}`, JSON lines); `ServiceLogs` gathers, on a manager, the logs of a service's
 * tasks (or of one task) from every node, local ones read directly, as dockerd's log broker does: one
 * stream, messages in the order they arrive, each with the task's context (node, service and task ids)
 * that `details` prints as com.docker.swarm.* attributes.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { SwarmStore } from '../contracts.js';
import type { Task } from '../types.js';
import type { LogMessage } from '../../containers/logs.js';
import type { AgentContainers, AgentLogs, TaskLogOptions } from './deps.js';
import { TASK_ID_LABEL } from './spec.js';
import { invalidArgument, isKind, messageOf, notFound } from '../../lib/errors.js';
import { parseTimestampNs } from '../../lib/timestamps.js';
import { stateIndex } from './task.js';

export interface LogContext {
  NodeID: string;
  ServiceID: string;
  TaskID: string;
}

/** One message of a gathered stream; `error` stands for a source that failed ("Error grabbing logs: ..."). */
export type SwarmLogMessage = (LogMessage & { context: LogContext }) | { error: string; context?: LogContext };

/** The options of a logs request without its signal, as the API's query gives them. */
export type LogQuery = Omit<TaskLogOptions, 'signal'> & { timestamps: boolean; details: boolean };

const truthy = (v: string | null) => v !== null && !['', '0', 'no', 'false', 'none'].includes(v.trim().toLowerCase());

/** dockerd's swarmLogs/ServiceLogs checks, with its wording. */
export function parseLogQuery(query: URLSearchParams): LogQuery {
  const stdout = truthy(query.get('stdout'));
  const stderr = truthy(query.get('stderr'));
  if (!stdout && !stderr) throw invalidArgument("must specify at least one of 'stdout' or 'stderr'");
  let since: number | undefined;
  const sinceRaw = query.get('since');
  if (sinceRaw && sinceRaw !== '0') {
    try {
      since = parseTimestampNs(sinceRaw);
    } catch (err) {
      throw invalidArgument(`invalid value for "since": ${messageOf(err)}`);
    }
  }
  const tailRaw = query.get('tail') ?? '';
  let tail: number | 'all' = 'all';
  if (tailRaw !== '' && tailRaw !== 'all') {
    if (!/^-?\d+$/.test(tailRaw)) throw invalidArgument('tail value must be a positive integer or "all"');
    tail = Number(tailRaw);
    if (tail < 0) throw invalidArgument('negative tail values not supported');
  }
  return { stdout, stderr, since, tail, follow: truthy(query.get('follow')), timestamps: truthy(query.get('timestamps')), details: truthy(query.get('details')) };
}

/** The logs of this node's task containers. */
export class TaskLogs {
  constructor(
    private readonly containers: AgentContainers,
    private readonly logs: AgentLogs,
  ) {}

  /** The task's container on this node, if there is one. */
  containerOf(taskId: string): string | undefined {
    return this.containers.listTaskContainers().find((c) => c.labels[TASK_ID_LABEL] === taskId)?.id;
  }

  read(taskId: string, opts: TaskLogOptions): AsyncIterable<LogMessage> {
    const id = this.containerOf(taskId);
    if (!id) throw notFound(`task ${taskId} not found`);
    return this.logs.read(id, opts);
  }
}

/**
 * The control-plane handler of `/logs/task/{id}` (ControlServer.raw): the task's log as JSON lines
 * `{"time","stream","line"(base64)}`, following until the caller hangs up when asked to.
 */
export function serveTaskLogs(taskLogs: TaskLogs) {
  return async (req: { params: Record<string, string>; query: URLSearchParams }, res: ServerResponse): Promise<void> => {
    const q = parseLogQuery(req.query);
    const abort = new AbortController();
    res.once('close', () => abort.abort());
    const messages = taskLogs.read(req.params.id!, { ...q, signal: abort.signal });
    res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
    res.flushHeaders?.();
    for await (const m of messages) {
      if (abort.signal.aborted) break;
      const ok = res.write(JSON.stringify({ time: m.time, stream: m.stream, line: m.line.toString('base64') }) + '\n');
      if (!ok) await new Promise<void>((resolve) => (res.once('drain', resolve), abort.signal.addEventListener('abort', () => resolve())));
    }
    if (!abort.signal.aborted) res.end();
  };
}

/** Reads the JSON lines of a remote node's `/logs/task/{id}` answer. */
export async function* readRemoteTaskLogs(body: Readable | IncomingMessage): AsyncGenerator<LogMessage> {
  for await (const text of createInterface({ input: body, crlfDelay: Infinity })) {
    if (!text) continue;
    const m = JSON.parse(text) as { time: string; stream: 'stdout' | 'stderr'; line: string };
    yield { time: m.time, stream: m.stream, line: Buffer.from(m.line, 'base64') };
  }
}

export interface ServiceLogsDeps {
  /** The cluster's store; throws (503) when this node is not a manager. */
  managerStore(): SwarmStore;
  /** This node's id and its task logs, when it is in a swarm. */
  local(): { nodeId: string; taskLogs: TaskLogs } | undefined;
  /** Opens `/logs/task/{taskId}?<query>` on another node (ControlClient.raw); the body is JSON lines. */
  remote(nodeId: string, path: string): Promise<Readable>;
}

/** GET /services/{id}/logs and GET /tasks/{id}/logs on a manager. */
export class ServiceLogs {
  constructor(private readonly deps: ServiceLogsDeps) {}

  /** The tasks behind a selector, and whether their logs are raw (TTY), as dockerd checks before streaming. */
  async select(selector: { service?: string; task?: string }): Promise<{ tasks: Task[]; tty: boolean }> {
    const store = this.deps.managerStore();
    if (selector.service !== undefined) {
      const services = await store.services.list();
      const svc = pick(services, selector.service, (s) => s.Spec.Name, 'service');
      const tasks = (await store.tasks.list()).filter((t) => t.ServiceID === svc.ID && t.NodeID && hasContainer(t));
      return { tasks, tty: Boolean(svc.Spec.TaskTemplate.ContainerSpec?.TTY) };
    }
    const all = await store.tasks.list();
    const task = pick(all, selector.task ?? '', () => undefined, 'task');
    return { tasks: task.NodeID ? [task] : [], tty: Boolean(task.Spec.ContainerSpec?.TTY) };
  }

  /** Every selected task's messages, interleaved as they come; ends when every source ended (never while following). */
  gather(tasks: Task[], q: LogQuery, signal: AbortSignal): AsyncIterable<SwarmLogMessage> {
    const local = this.deps.local();
    const sources = tasks.map((t) => this.source(t, q, signal, local));
    return merge(sources, signal);
  }

  private async *source(t: Task, q: LogQuery, signal: AbortSignal, local: ReturnType<ServiceLogsDeps['local']>): AsyncGenerator<SwarmLogMessage> {
    const context: LogContext = { NodeID: t.NodeID ?? '', ServiceID: t.ServiceID, TaskID: t.ID };
    try {
      let messages: AsyncIterable<LogMessage>;
      if (local && t.NodeID === local.nodeId) {
        if (!local.taskLogs.containerOf(t.ID)) return; // a task whose container is gone has no logs left
        messages = local.taskLogs.read(t.ID, { ...q, signal });
      } else {
        const body = await this.deps.remote(t.NodeID!, `/logs/task/${encodeURIComponent(t.ID)}?${remoteQuery(q)}`);
        signal.addEventListener('abort', () => body.destroy());
        const status = (body as IncomingMessage).statusCode;
        if (status !== undefined && status !== 200) throw new Error(await errorText(body));
        messages = readRemoteTaskLogs(body);
      }
      for await (const m of messages) {
        if (signal.aborted) return;
        yield { ...m, context };
      }
    } catch (err) {
      // A task whose container is gone on its node (a history entry that never started) has nothing to show.
      if (isKind(err, 'NotFound')) return;
      if (!signal.aborted) yield { error: messageOf(err), context };
    }
  }
}

/** The message of an error answer ({"message": ...} as the control plane sends errors, or its text). */
async function errorText(body: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString();
  try {
    const m = (JSON.parse(text) as { message?: unknown }).message;
    if (typeof m === 'string') return m;
  } catch {
    // not JSON
  }
  return text.trim();
}

function remoteQuery(q: LogQuery): string {
  const p = new URLSearchParams({ stdout: q.stdout ? '1' : '0', stderr: q.stderr ? '1' : '0', follow: q.follow ? '1' : '0', tail: String(q.tail ?? 'all') });
  if (q.since !== undefined) p.set('since', nsToSeconds(q.since));
  return p.toString();
}

const nsToSeconds = (ns: number | bigint) => {
  const n = BigInt(ns);
  return `${n / 1_000_000_000n}.${String(n % 1_000_000_000n).padStart(9, '0')}`;
};

/** A task that reached the state where it has a container. */
function hasContainer(t: Task): boolean {
  return stateIndex(t.Status.State) >= stateIndex('ready') && t.Status.State !== 'rejected';
}

/** By full ID, then by name, then by unique ID prefix, with dockerd's errors. */
function pick<T extends { ID: string }>(items: T[], ref: string, nameOf: (t: T) => string | undefined, kind: string): T {
  const byId = items.find((i) => i.ID === ref);
  if (byId) return byId;
  const byName = items.find((i) => nameOf(i) === ref);
  if (byName) return byName;
  const byPrefix = ref ? items.filter((i) => i.ID.startsWith(ref)) : [];
  if (byPrefix.length > 1) throw invalidArgument(`${kind} ${ref} is ambiguous (${byPrefix.length} matches found)`);
  if (!byPrefix[0]) throw notFound(`${kind} ${ref} not found`);
  return byPrefix[0];
}

/** Interleaves async iterables in arrival order. */
export async function* merge<T>(sources: AsyncIterable<T>[], signal: AbortSignal): AsyncGenerator<T> {
  const iterators = sources.map((s) => s[Symbol.asyncIterator]());
  const next = (i: number) => iterators[i]!.next().then((r) => ({ i, r }));
  const pending = new Map<number, Promise<{ i: number; r: IteratorResult<T> }>>();
  iterators.forEach((_, i) => pending.set(i, next(i)));
  const aborted = new Promise<'abort'>((resolve) => (signal.aborted ? resolve('abort') : signal.addEventListener('abort', () => resolve('abort'), { once: true })));
  try {
    while (pending.size) {
      const won = await Promise.race([aborted, ...pending.values()]);
      if (won === 'abort') return;
      if (won.r.done) {
        pending.delete(won.i);
        continue;
      }
      pending.set(won.i, next(won.i));
      yield won.r.value;
    }
  } finally {
    // Not awaited: a source still waiting for its next line ends with the signal, not with return().
    for (const it of iterators) void it.return?.(undefined).catch(() => undefined);
  }
}

/** dockerd's attrsByteSlice: key=value pairs sorted by key, query-escaped, comma-separated. */
export function detailsPrefix(ctx: LogContext): string {
  const attrs: Array<[string, string]> = [
    ['com.docker.swarm.node.id', ctx.NodeID],
    ['com.docker.swarm.service.id', ctx.ServiceID],
    ['com.docker.swarm.task.id', ctx.TaskID],
  ];
  const esc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+').replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
  return attrs.sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([k, v]) => `${esc(k)}=${esc(v)}`).join(',');
}
