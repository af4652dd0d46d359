/**
 * A small typed client for etcd v3 over its JSON gRPC gateway (HTTP POST /v3/...), on node:http/https
 * only. Keys and values are strings here and base64 on the wire; etcd's 64-bit numbers (revisions,
 * lease and member ids) stay decimal strings so nothing is rounded.
 *
 * Lifecycle: stateless apart from a keep-alive agent and the endpoint that last answered; close()
 * ends the agent's sockets and any open watches. With several endpoints, a request that cannot
 * connect (refused, unreachable, reset before an answer, timeout on connect) goes to the next one,
 * so a client survives the loss of a member (watches and lease renewals too, when they open); an
 * answer etcd gives (an error included) is final.
 */
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';

export interface EtcdClientOptions {
  /** Client URLs of the members, e.g. ["https://10.0.0.2:2379"]. */
  endpoints: string[];
  /** Mutual TLS: PEM files of the CA and of this client's certificate and key. */
  tls?: { caFile: string; certFile: string; keyFile: string };
  /** Per-request time limit (default 5 s). */
  timeoutMs?: number;
}

/** An error etcd answered (gRPC code and message), or no endpoint answered (code 14, Unavailable). */
export class EtcdError extends Error {
  override name = 'EtcdError';
  constructor(
    message: string,
    readonly code: number,
    readonly httpStatus?: number,
  ) {
    super(message);
  }
}

export interface KeyValue {
  key: string;
  value: string;
  createRevision: string;
  modRevision: string;
  version: string;
  lease?: string;
}

export interface RangeOptions {
  /** Every key starting with the key. */
  prefix?: boolean;
  limit?: number;
  revision?: string;
  keysOnly?: boolean;
  countOnly?: boolean;
}

export interface RangeResult {
  revision: string;
  kvs: KeyValue[];
  count: number;
  more: boolean;
}

export interface PutOptions {
  lease?: string;
  prevKv?: boolean;
}

export type CompareTarget = 'VERSION' | 'CREATE' | 'MOD' | 'VALUE' | 'LEASE';
export type CompareResult = 'EQUAL' | 'GREATER' | 'LESS' | 'NOT_EQUAL';

export interface Compare {
  key: string;
  target: CompareTarget;
  result: CompareResult;
  /** For VERSION, CREATE, MOD (revision numbers) and LEASE (a lease id): decimal string or number. */
  number?: string | number;
  /** For VALUE. */
  value?: string;
}

export type TxnOp =
  | { put: { key: string; value: string } & PutOptions }
  | { range: { key: string } & RangeOptions }
  | { deleteRange: { key: string; prefix?: boolean } };

export type TxnOpResult = { put: { revision: string } } | { range: RangeResult } | { deleteRange: { deleted: number } };

export interface TxnResult {
  succeeded: boolean;
  revision: string;
  responses: TxnOpResult[];
}

export interface WatchEvent {
  type: 'PUT' | 'DELETE';
  kv: KeyValue;
  prevKv?: KeyValue;
}

export interface WatchOptions {
  prefix?: boolean;
  /** Events from this revision on (history), instead of from now. */
  startRevision?: string;
  prevKv?: boolean;
}

export interface Watch {
  /** Resolves with the watch id once etcd has created the watch (events after that are seen). */
  readonly created: Promise<string>;
  /** Ends the watch (idempotent). */
  close(): void;
}

export interface Member {
  id: string;
  name: string;
  peerUrls: string[];
  clientUrls: string[];
  isLearner: boolean;
}

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: string | undefined): string => (s ? Buffer.from(s, 'base64').toString('utf8') : '');

/** The key just past every key starting with `prefix` (etcd's range_end for a prefix). */
export function prefixEnd(prefix: string): string {
  const bytes = Buffer.from(prefix, 'utf8');
  for (let i = bytes.length - 1; i >= 0; i--) {
    if (bytes[i]! < 0xff) {
      const end = Buffer.from(bytes.subarray(0, i + 1));
      end[i] = end[i]! + 1;
      return end.toString('base64');
    }
  }
  return Buffer.from([0]).toString('base64'); // every key
}

type Json = Record<string, any>;

/** The gateway speaks snake_case (proto names); accept camelCase too. */
function field(o: Json | undefined, snake: string): any {
  if (!o) return undefined;
  if (snake in o) return o[snake];
  const camel = snake.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
  return o[camel];
}

function decodeKv(kv: Json): KeyValue {
  const lease = field(kv, 'lease');
  return {
    key: unb64(kv.key),
    value: unb64(kv.value),
    createRevision: String(field(kv, 'create_revision') ?? '0'),
    modRevision: String(field(kv, 'mod_revision') ?? '0'),
    version: String(kv.version ?? '0'),
    ...(lease && lease !== '0' ? { lease: String(lease) } : {}),
  };
}

function decodeRange(r: Json): RangeResult {
  return {
    revision: String(r.header?.revision ?? '0'),
    kvs: ((r.kvs as Json[] | undefined) ?? []).map(decodeKv),
    count: Number(r.count ?? 0),
    more: Boolean(r.more),
  };
}

function decodeMember(m: Json): Member {
  return {
    id: String(m.ID ?? m.id ?? '0'),
    name: String(m.name ?? ''),
    peerUrls: field(m, 'peer_u_r_ls') ?? m.peerURLs ?? [],
    clientUrls: field(m, 'client_u_r_ls') ?? m.clientURLs ?? [],
    isLearner: Boolean(field(m, 'is_learner') ?? m.isLearner),
  };
}

function rangeBody(key: string, o: RangeOptions = {}): Json {
  const body: Json = { key: b64(key) };
  if (o.prefix) body.range_end = prefixEnd(key);
  if (o.limit) body.limit = String(o.limit);
  if (o.revision) body.revision = o.revision;
  if (o.keysOnly) body.keys_only = true;
  if (o.countOnly) body.count_only = true;
  return body;
}

function putBody(key: string, value: string, o: PutOptions = {}): Json {
  const body: Json = { key: b64(key), value: b64(value) };
  if (o.lease) body.lease = o.lease;
  if (o.prevKv) body.prev_kv = true;
  return body;
}

function deleteBody(key: string, prefix?: boolean): Json {
  const body: Json = { key: b64(key) };
  if (prefix) body.range_end = prefixEnd(key);
  return body;
}

const COMPARE_FIELD: Record<CompareTarget, string> = { VERSION: 'version', CREATE: 'create_revision', MOD: 'mod_revision', VALUE: 'value', LEASE: 'lease' };

function compareBody(c: Compare): Json {
  const body: Json = { key: b64(c.key), target: c.target, result: c.result };
  body[COMPARE_FIELD[c.target]] = c.target === 'VALUE' ? b64(c.value ?? '') : String(c.number ?? 0);
  return body;
}

function opBody(op: TxnOp): Json {
  if ('put' in op) return { request_put: putBody(op.put.key, op.put.value, op.put) };
  if ('range' in op) return { request_range: rangeBody(op.range.key, op.range) };
  return { request_delete_range: deleteBody(op.deleteRange.key, op.deleteRange.prefix) };
}

function decodeOpResult(r: Json): TxnOpResult {
  const put = field(r, 'response_put');
  if (put) return { put: { revision: String(put.header?.revision ?? '0') } };
  const range = field(r, 'response_range');
  if (range) return { range: decodeRange(range) };
  const del = field(r, 'response_delete_range') ?? {};
  return { deleteRange: { deleted: Number(del.deleted ?? 0) } };
}

/** Connection-level failures, where the request surely did not reach etcd's state machine. */
const RETRYABLE = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT_CONNECT']);

export class EtcdClient {
  private readonly endpoints: URL[];
  private readonly agentOptions: https.AgentOptions;
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;
  private current = 0;
  private readonly watches = new Set<() => void>();

  constructor(private readonly opts: EtcdClientOptions) {
    if (!opts.endpoints.length) throw new EtcdError('etcd client needs at least one endpoint', 3);
    this.endpoints = opts.endpoints.map((e) => new URL(e));
    const tls = opts.tls;
    // One secure context for every connection: made per connection from PEM options, it cost ~10 ms
    // of CPU each (parsing the key and the CA), and lease keepalives open a connection every second.
    this.agentOptions = tls ? { secureContext: createSecureContext({ ca: readFileSync(tls.caFile), cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) }) } : {};
    this.httpAgent = new http.Agent({ keepAlive: true });
    this.httpsAgent = new https.Agent({ keepAlive: true, ...this.agentOptions });
  }

  close(): void {
    for (const end of [...this.watches]) end();
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  // ---- KV

  async get(key: string): Promise<KeyValue | undefined> {
    return (await this.range(key)).kvs[0];
  }

  async range(key: string, o: RangeOptions = {}): Promise<RangeResult> {
    return decodeRange(await this.call('/v3/kv/range', rangeBody(key, o)));
  }

  /** Resolves with the revision of the write (and the previous pair when prevKv). */
  async put(key: string, value: string, o: PutOptions = {}): Promise<{ revision: string; prevKv?: KeyValue }> {
    const r = await this.call('/v3/kv/put', putBody(key, value, o));
    const prev = field(r, 'prev_kv');
    return { revision: String(r.header?.revision ?? '0'), ...(prev ? { prevKv: decodeKv(prev) } : {}) };
  }

  async delete(key: string, o: { prefix?: boolean } = {}): Promise<{ revision: string; deleted: number }> {
    const r = await this.call('/v3/kv/deleterange', deleteBody(key, o.prefix));
    return { revision: String(r.header?.revision ?? '0'), deleted: Number(r.deleted ?? 0) };
  }

  async txn(compare: Compare[], success: TxnOp[], failure: TxnOp[] = []): Promise<TxnResult> {
    const r = await this.call('/v3/kv/txn', { compare: compare.map(compareBody), success: success.map(opBody), failure: failure.map(opBody) });
    return {
      succeeded: Boolean(r.succeeded),
      revision: String(r.header?.revision ?? '0'),
      responses: ((r.responses as Json[] | undefined) ?? []).map(decodeOpResult),
    };
  }

  /**
   * Writes `value` only when the key's mod revision is still `modRevision` ("0": only when the key
   * does not exist). Resolves with whether it wrote.
   */
  async compareAndSwap(key: string, modRevision: string, value: string, o: PutOptions = {}): Promise<boolean> {
    const r = await this.txn([{ key, target: 'MOD', result: 'EQUAL', number: modRevision }], [{ put: { key, value, ...o } }]);
    return r.succeeded;
  }

  // ---- leases

  async leaseGrant(ttlSeconds: number): Promise<{ id: string; ttl: number }> {
    const r = await this.call('/v3/lease/grant', { TTL: String(ttlSeconds), ID: '0' });
    if (r.error) throw new EtcdError(`etcd lease grant: ${r.error}`, 2);
    return { id: String(r.ID), ttl: Number(r.TTL) };
  }

  /** Renews the lease once; resolves with its new TTL (0 or below: the lease is gone). */
  async leaseKeepAlive(id: string): Promise<number> {
    const messages = await this.stream('/v3/lease/keepalive', { ID: id }, 1);
    const result = messages[0]?.result ?? messages[0];
    if (messages[0]?.error) throw errorFrom(messages[0].error, 200);
    return Number(result?.TTL ?? 0);
  }

  async leaseRevoke(id: string): Promise<void> {
    await this.call('/v3/lease/revoke', { ID: id });
  }

  /** Remaining TTL in seconds (-1 when the lease does not exist). */
  async leaseTimeToLive(id: string): Promise<number> {
    const r = await this.call('/v3/lease/timetolive', { ID: id });
    return Number(r.TTL ?? -1);
  }

  // ---- cluster membership

  async memberList(): Promise<Member[]> {
    const r = await this.call('/v3/cluster/member/list', {});
    return ((r.members as Json[] | undefined) ?? []).map(decodeMember);
  }

  /**
   * Announces a member before it starts (with clusterState 'existing'); resolves with it and the new
   * list. etcd refuses ("unhealthy cluster") until every member has been connected for 5 s (its
   * strict reconfiguration check), as right after the cluster started: that answer is retried for
   * up to `retryUnhealthyMs` (default 10 s).
   */
  async memberAdd(peerUrls: string[], o: { learner?: boolean; retryUnhealthyMs?: number } = {}): Promise<{ member: Member; members: Member[] }> {
    const end = Date.now() + (o.retryUnhealthyMs ?? 10_000);
    for (;;) {
      try {
        const r = await this.call('/v3/cluster/member/add', { peerURLs: peerUrls, ...(o.learner ? { isLearner: true } : {}) });
        return { member: decodeMember(r.member ?? {}), members: ((r.members as Json[] | undefined) ?? []).map(decodeMember) };
      } catch (err) {
        if (!(err instanceof EtcdError && /unhealthy cluster/.test(err.message)) || Date.now() > end) throw err;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }

  /** Makes a learner a voting member (etcd refuses until the learner has caught up with the leader). */
  async memberPromote(id: string): Promise<Member[]> {
    const r = await this.call('/v3/cluster/member/promote', { ID: id });
    return ((r.members as Json[] | undefined) ?? []).map(decodeMember);
  }

  async memberRemove(id: string): Promise<Member[]> {
    const r = await this.call('/v3/cluster/member/remove', { ID: id });
    return ((r.members as Json[] | undefined) ?? []).map(decodeMember);
  }

  // ---- watch

  /**
   * Calls onEvents for every batch of changes to the key (or prefix) until close(). onError is
   * called once if the stream ends without close() (the member went away, etcd cancelled it);
   * the caller re-watches from the last revision it saw + 1.
   */
  watch(key: string, o: WatchOptions, onEvents: (events: WatchEvent[], revision: string) => void, onError?: (err: Error) => void): Watch {
    const create: Json = { key: b64(key) };
    if (o.prefix) create.range_end = prefixEnd(key);
    if (o.startRevision) create.start_revision = o.startRevision;
    if (o.prevKv) create.prev_kv = true;
    let closed = false;
    let resolveCreated!: (id: string) => void;
    let rejectCreated!: (e: Error) => void;
    const created = new Promise<string>((res, rej) => {
      resolveCreated = res;
      rejectCreated = rej;
    });
    created.catch(() => undefined);
    let req: http.ClientRequest | undefined;
    const end = (): void => {
      if (closed) return;
      closed = true;
      this.watches.delete(end);
      req?.destroy();
    };
    this.watches.add(end);
    const fail = (err: Error): void => {
      if (closed) return;
      end();
      rejectCreated(err);
      onError?.(err);
    };
    const open = (tried: number): void => {
      const index = (this.current + tried) % this.endpoints.length;
      const url = new URL('/v3/watch', this.endpoints[index]!);
      let answered = false;
      req = this.request(url, 0, (res) => {
        answered = true;
        if (res.statusCode !== 200) {
          readAll(res).then((t) => fail(errorFromBody(t, res.statusCode ?? 0)), fail);
          return;
        }
        splitJsonLines(res, (msg) => {
          if (closed) return;
          if (msg.error) return fail(errorFrom(msg.error, 200));
          const r = msg.result ?? {};
          if (r.created) resolveCreated(String(r.watch_id ?? r.watchId ?? '0'));
          if (r.canceled) return fail(new EtcdError(`etcd watch cancelled: ${r.cancel_reason ?? r.cancelReason ?? 'compacted'}`, 1));
          const events = ((r.events as Json[] | undefined) ?? []).map((e): WatchEvent => ({
            type: e.type === 'DELETE' ? 'DELETE' : 'PUT',
            kv: decodeKv(e.kv ?? {}),
            ...(field(e, 'prev_kv') ? { prevKv: decodeKv(field(e, 'prev_kv')) } : {}),
          }));
          if (events.length) onEvents(events, String(r.header?.revision ?? '0'));
        });
        res.on('end', () => fail(new EtcdError('etcd watch stream ended', 14)));
        res.on('error', fail);
      });
      req.on('error', (err: NodeJS.ErrnoException) => {
        // Not connected yet: the next endpoint (a watch is a read, so trying again is harmless).
        if (!answered && !closed && err.code && RETRYABLE.has(err.code) && tried + 1 < this.endpoints.length) open(tried + 1);
        else fail(err);
      });
      req.end(JSON.stringify({ create_request: create }) + '\n');
    };
    open(0);
    return { created, close: end };
  }

  // ---- transport

  /** POST a JSON body to a unary gateway path, trying the endpoints in turn on connection failures. */
  private call(path: string, body: Json): Promise<Json> {
    return this.failover((base) => this.once(new URL(path, base), body));
  }

  /** Runs `attempt` against each endpoint in turn, from the last one that answered, while connections fail. */
  private async failover<T>(attempt: (endpoint: URL) => Promise<T>): Promise<T> {
    let lastErr: Error | undefined;
    for (let tried = 0; tried < this.endpoints.length; tried++) {
      const index = (this.current + tried) % this.endpoints.length;
      try {
        const r = await attempt(this.endpoints[index]!);
        this.current = index;
        return r;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (!(err instanceof EtcdError) && code && RETRYABLE.has(code)) {
          lastErr = err as Error;
          continue;
        }
        throw err;
      }
    }
    throw new EtcdError(`no etcd endpoint answered (${this.opts.endpoints.join(', ')}): ${lastErr?.message ?? 'unknown error'}`, 14);
  }

  private once(url: URL, body: Json): Promise<Json> {
    return new Promise((resolve, reject) => {
      const req = this.request(url, this.opts.timeoutMs ?? 5_000, (res) => {
        readAll(res).then((text) => {
          if (res.statusCode !== 200) return reject(errorFromBody(text, res.statusCode ?? 0));
          try {
            resolve(text ? (JSON.parse(text) as Json) : {});
          } catch {
            reject(new EtcdError(`etcd answered ${url.pathname} with non-JSON: ${text.slice(0, 200)}`, 13, res.statusCode));
          }
        }, reject);
      });
      req.on('error', reject);
      req.end(JSON.stringify(body));
    });
  }

  /** POST to a streaming path; resolves with the first `count` messages, then ends the stream. */
  private stream(path: string, body: Json, count: number): Promise<Json[]> {
    return this.failover((base) => this.streamOnce(new URL(path, base), body, count));
  }

  private streamOnce(url: URL, body: Json, count: number): Promise<Json[]> {
    return new Promise((resolve, reject) => {
      const got: Json[] = [];
      const req = this.request(url, this.opts.timeoutMs ?? 5_000, (res) => {
        if (res.statusCode !== 200) {
          readAll(res).then((t) => reject(errorFromBody(t, res.statusCode ?? 0)), reject);
          return;
        }
        splitJsonLines(res, (msg) => {
          got.push(msg);
          if (got.length >= count) {
            resolve(got);
            req.destroy();
          }
        });
        res.on('end', () => resolve(got));
        res.on('error', (e) => (got.length >= count ? undefined : reject(e)));
      });
      req.on('error', (e) => (got.length >= count ? undefined : reject(e)));
      req.end(JSON.stringify(body) + '\n');
    });
  }

  private request(url: URL, timeoutMs: number, onResponse: (res: http.IncomingMessage) => void): http.ClientRequest {
    const secure = url.protocol === 'https:';
    const options: https.RequestOptions = {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      agent: secure ? this.httpsAgent : this.httpAgent,
      ...(secure ? this.agentOptions : {}),
    };
    const req = (secure ? https : http).request(url, options, onResponse);
    if (timeoutMs > 0) {
      req.setTimeout(timeoutMs, () => {
        const err = new Error(`etcd request ${url.pathname} to ${url.host} timed out after ${timeoutMs} ms`) as NodeJS.ErrnoException;
        // A timeout before any socket connected is a dead endpoint; after, the request may have applied.
        err.code = req.socket && !req.socket.connecting ? 'ETIMEDOUT' : 'ETIMEDOUT_CONNECT';
        req.destroy(err);
      });
    }
    return req;
  }
}

function readAll(res: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    res.setEncoding('utf8');
    res.on('data', (c: string) => (text += c));
    res.on('end', () => resolve(text));
    res.on('error', reject);
  });
}

/** The gateway streams one JSON object per line. */
function splitJsonLines(res: http.IncomingMessage, onMessage: (m: Json) => void): void {
  let buf = '';
  res.setEncoding('utf8');
  res.on('data', (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (!line) continue;
      try {
        onMessage(JSON.parse(line) as Json);
      } catch {
        // a line that is not JSON is skipped
      }
    }
  });
}

function errorFrom(e: Json | string, status: number): EtcdError {
  if (typeof e === 'string') return new EtcdError(`etcd: ${e}`, 2, status);
  return new EtcdError(`etcd: ${e.message ?? e.error ?? JSON.stringify(e)}`, Number(e.code ?? e.grpc_code ?? 2), status);
}

function errorFromBody(text: string, status: number): EtcdError {
  try {
    return errorFrom(JSON.parse(text) as Json, status);
  } catch {
    return new EtcdError(`etcd: HTTP ${status}: ${text.trim().slice(0, 200)}`, 2, status);
  }
}
