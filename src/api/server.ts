import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Router } from './router.js';
import { statusOf } from './errors.js';
import { API_VERSION, BERTH_VERSION, MIN_API_VERSION, compareVersions } from './version.js';
import { log } from '../lib/log.js';
import { messageOf } from '../lib/errors.js';
import { replayBody } from './http.js';
import { authorizeApiRequest, type AuthzChain } from '../plugins/authz.js';

/** What the server puts in front of every routed request. */
export interface ApiServerOptions {
  /** Authorization plugins (--authorization-plugin); none when absent or empty. */
  authz?: AuthzChain;
}

const VERSION_PREFIX = /^\/v([0-9]+\.[0-9]+)(\/.*)$/;

/** Headers dockerd sends on every answer; clients read Api-Version to negotiate. */
function commonHeaders(res: ServerResponse): void {
  res.setHeader('Api-Version', API_VERSION);
  res.setHeader('Server', `Berth/${BERTH_VERSION} (linux)`);
  res.setHeader('Docker-Experimental', 'false');
  res.setHeader('Ostype', 'linux');
}

/** An HTTP server that routes Engine API requests; errors become {"message": ...} with Docker's codes. */
export function createApiServer(router: Router, options: ApiServerOptions = {}): http.Server {
  const server = http.createServer({ requestTimeout: 0, headersTimeout: 60_000 }, (req, res) => {
    handleSafely(router, req, res, false, options);
  });
  // Attach and exec start ask to upgrade the connection (Upgrade: tcp); route them like any request.
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    // node's HTTP server stops watching an upgraded socket: a client that resets it must not be an
    // unhandled 'error' event (the handler's own streams see the close).
    socket.on('error', (err) => log.debug('upgraded connection failed', { error: err.message }));
    if (head.length) socket.unshift(head);
    const res = new http.ServerResponse(req);
    res.assignSocket(socket);
    res.on('finish', () => socket.end());
    handleSafely(router, req, res, true, options);
  });
  server.keepAliveTimeout = 5_000;
  return server;
}

/**
 * Runs one request to its end whatever happens: nothing a client sends, and no handler's failure,
 * may become an unhandled rejection (which would end the daemon). What `handle` could not answer
 * itself ends with a 500 or, once the answer has started, a closed connection.
 */
function handleSafely(router: Router, req: IncomingMessage, res: ServerResponse, upgrade = false, options: ApiServerOptions = {}): void {
  // Errors of the request and response streams arrive through the handler's reads and writes (or not
  // at all once the client is gone); without a listener a late one would be an uncaught exception.
  req.on('error', (err) => log.debug('request stream failed', { error: err.message }));
  res.on('error', (err) => log.debug('response stream failed', { error: err.message }));
  handle(router, req, res, upgrade, options).catch((err: unknown) => {
    log.error('request failed outside its handler', { method: req.method, url: req.url, error: messageOf(err) });
    try {
      if (!res.headersSent && !req.socket.destroyed) fail(res, 500, messageOf(err));
      else req.socket.destroy();
    } catch (err2) {
      log.debug('could not answer a failed request', { error: messageOf(err2) });
      req.socket.destroy();
    }
  });
}

/** The request target as a URL, or undefined when it is not one (e.g. `http://[`). */
function parseTarget(target: string): URL | undefined {
  try {
    return new URL(target, 'http://berth');
  } catch {
    return undefined; // answered with a 400 by the caller
  }
}

async function handle(router: Router, req: IncomingMessage, res: ServerResponse, upgrade = false, options: ApiServerOptions = {}): Promise<void> {
  commonHeaders(res);
  const url = parseTarget(req.url ?? '/');
  if (!url) return fail(res, 400, `invalid request URI: ${req.url}`);
  let path = url.pathname;
  let version = API_VERSION;
  const prefixed = VERSION_PREFIX.exec(path);
  if (prefixed) {
    version = prefixed[1]!;
    path = prefixed[2]!;
    if (compareVersions(version, MIN_API_VERSION) < 0) {
      return fail(res, 400, `client version ${version} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`);
    }
    if (compareVersions(version, API_VERSION) > 0) {
      return fail(res, 400, `client version ${version} is too new. Maximum supported API version is ${API_VERSION}`);
    }
  }
  const method = req.method ?? 'GET';
  let match: ReturnType<Router['match']>;
  try {
    match = router.match(method, path);
  } catch (err) {
    return fail(res, statusOf(err), messageOf(err));
  }
  log.debug('API request', { method, path: url.pathname });
  if (match === undefined) return fail(res, 404, 'page not found');
  if (match === 'method') return fail(res, 405, 'method not allowed');
  if (options.authz?.enabled) {
    try {
      await authorizeApiRequest(options.authz, req, res, upgrade, (body) => replayBody(req, body));
    } catch (err) {
      log.info('request not authorized', { method, path: url.pathname, error: messageOf(err) });
      return fail(res, statusOf(err), messageOf(err));
    }
  }
  let hijacked = false;
  const hijack = (contentType: string): Socket => {
    hijacked = true;
    const socket = req.socket;
    const status = upgrade ? '101 UPGRADED' : '200 OK';
    const upgradeHeaders = upgrade ? 'Connection: Upgrade\r\nUpgrade: tcp\r\n' : '';
    socket.write(`HTTP/1.1 ${status}\r\nContent-Type: ${contentType}\r\n${upgradeHeaders}Api-Version: ${API_VERSION}\r\n\r\n`);
    return socket;
  };
  try {
    await match.handler({ req, res, params: match.params, query: url.searchParams, version, hijack });
  } catch (err) {
    const status = statusOf(err);
    if (hijacked) return void req.socket.destroy();
    if (res.destroyed || req.socket.destroyed) {
      // The client went away (e.g. `docker save | head`): nobody left to answer.
      log.debug('client went away', { method, path, error: messageOf(err) });
      return;
    }
    if (status >= 500) log.error('handler failed', { method, path, error: messageOf(err) });
    if (res.headersSent) {
      // A stream already started: report the error inside it, as dockerd does for progress streams.
      if (!res.writableEnded) res.end(JSON.stringify({ errorDetail: { message: messageOf(err) }, error: messageOf(err) }) + '\n');
      return;
    }
    fail(res, status, messageOf(err));
  }
  // Drain an unread body so the connection can be reused.
  if (!hijacked && !req.complete) req.resume();
}

function fail(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) return void res.end();
  const body = JSON.stringify({ message }) + '\n';
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}
