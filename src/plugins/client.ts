/**
 * One plugin call: POST /<Method> with a JSON body, within a deadline, as Docker's pkg/plugins client
 * (Accept: the v1.2 plugin media type). The deadline covers connecting, sending and reading the whole
 * answer, so a plugin that accepts and never answers cannot hold a caller.
 */
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { BerthError } from '../lib/errors.js';
import type { PluginEndpoint } from './discovery.js';

export const PLUGIN_ACCEPT = 'application/vnd.docker.plugins.v1.2+json';
export const PLUGIN_CONTENT_TYPE = 'application/vnd.docker.plugins.v1+json';
export const DEFAULT_CALL_TIMEOUT_MS = 30_000;
/** Docker's placeholder host for plugins on unix sockets. */
const UNIX_HOST = 'plugin.moby.localhost';
/** A plugin's answer larger than this is refused (nothing a plugin sends may exhaust the daemon). */
const MAX_ANSWER = 16 * 1024 * 1024;

/**
 * A failed plugin call. The message is dockerd's `<Method>: <reason>`; `plugin` and `method` name
 * the parts, `detail` is the reason alone (a plugin's {"Err"} text as it sent it), `transport` tells
 * that the plugin could not be reached or did not answer in time (it will be re-activated).
 */
export class PluginCallError extends BerthError {
  constructor(
    readonly plugin: string,
    readonly method: string,
    readonly detail: string,
    readonly transport: boolean,
    readonly status?: number,
  ) {
    super('Internal', `${method}: ${detail}`);
  }
}

function tlsOptions(endpoint: Extract<PluginEndpoint, { kind: 'tcp' }>): https.RequestOptions {
  const t = endpoint.tls!;
  return {
    rejectUnauthorized: !t.insecureSkipVerify,
    ...(t.caFile ? { ca: readFileSync(t.caFile) } : {}),
    ...(t.certFile ? { cert: readFileSync(t.certFile) } : {}),
    ...(t.keyFile ? { key: readFileSync(t.keyFile) } : {}),
  };
}

/** POSTs `body` (JSON; nothing when undefined) to `/<method>` and resolves with the decoded answer. */
export function callPlugin<T>(plugin: string, endpoint: PluginEndpoint, method: string, body: unknown, timeoutMs = DEFAULT_CALL_TIMEOUT_MS): Promise<T> {
  const payload = body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(body));
  const fail = (detail: string, transport: boolean, status?: number) => new PluginCallError(plugin, method, detail, transport, status);
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const done = (err: Error | undefined, value?: T) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        req.destroy();
        reject(err);
      } else resolve(value as T);
    };
    const headers = {
      Accept: PLUGIN_ACCEPT,
      'Content-Type': PLUGIN_CONTENT_TYPE,
      'Content-Length': payload.length,
    };
    let options: http.RequestOptions;
    let transport: typeof http | typeof https = http;
    try {
      options =
        endpoint.kind === 'unix'
          ? { socketPath: endpoint.socketPath, host: UNIX_HOST, path: `/${method}`, method: 'POST', headers, agent: false }
          : { host: endpoint.host, port: endpoint.port, path: `/${method}`, method: 'POST', headers, agent: false, ...(endpoint.tls ? tlsOptions(endpoint) : {}) };
      if (endpoint.kind === 'tcp' && endpoint.tls) transport = https;
    } catch (err) {
      reject(fail(`plugin "${plugin}": cannot read its TLS files: ${(err as Error).message}`, true));
      return;
    }
    const where = endpoint.kind === 'unix' ? endpoint.socketPath : `${endpoint.host}:${endpoint.port}`;
    const req = transport.request(options, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_ANSWER) return done(fail(`plugin "${plugin}" answered more than ${MAX_ANSWER} bytes`, false));
        chunks.push(c);
      });
      res.on('error', (err) => done(fail(`plugin "${plugin}" (${where}): ${err.message}`, true)));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let decoded: unknown;
        try {
          decoded = text.trim() ? JSON.parse(text) : {};
        } catch {
          decoded = undefined;
        }
        const errText = decoded && typeof decoded === 'object' && typeof (decoded as { Err?: unknown }).Err === 'string' ? (decoded as { Err: string }).Err : '';
        const status = res.statusCode ?? 0;
        if (status !== 200) return done(fail(errText || text.trim() || `plugin "${plugin}" answered ${status}`, false, status));
        if (errText) return done(fail(errText, false, status));
        if (decoded === undefined) return done(fail(`plugin "${plugin}" answered with invalid JSON: ${text.slice(0, 200)}`, false, status));
        done(undefined, decoded as T);
      });
    });
    const timer = setTimeout(() => done(fail(`plugin "${plugin}" (${where}) did not answer within ${formatMs(timeoutMs)}`, true)), timeoutMs);
    req.on('error', (err) => done(fail(`plugin "${plugin}" (${where}): ${err.message}`, true)));
    req.end(payload);
  });
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
