/**
 * The WebSocket side of the Engine API's /containers/{id}/attach/ws, on the `ws` package: the
 * handshake on the connection the API server already upgraded, and an adapter that gives a `ws`
 * connection the surface of a socket (data/end/close events, write, end, pause), so that the attach
 * plumbing (api/streams/) can use it in place of a hijacked TCP stream.
 * `ws` enforces the protocol: unmasked client frames, bad opcodes and messages (fragmented or not)
 * larger than MAX_MESSAGE end the connection with a close frame. Out: one binary frame per write
 * (text frames for clients older than API 1.28, as dockerd).
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import { invalidArgument } from '../lib/errors.js';

/**
 * Largest message a client may send, fragments included: input from a terminal or a pipe comes in
 * small pieces, so this only stops a client from making the daemon buffer without bound.
 */
export const MAX_MESSAGE = 1024 * 1024;

/** One server in noServer mode: it only does handshakes on connections the API server hands it. */
const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE, perMessageDeflate: false, clientTracking: false });

/** Throws 400 unless req is a WebSocket upgrade `ws` will accept; returns the key to answer. */
export function webSocketKey(req: IncomingMessage): string {
  const key = req.headers['sec-websocket-key'];
  const version = String(req.headers['sec-websocket-version'] ?? '');
  if (String(req.headers.upgrade ?? '').toLowerCase() !== 'websocket' || typeof key !== 'string' || !key) {
    throw invalidArgument('websocket: the client is not using the websocket protocol');
  }
  if (!/^[+/0-9A-Za-z]{22}==$/.test(key)) throw invalidArgument('websocket: invalid Sec-WebSocket-Key header');
  if (version !== '13' && version !== '8') throw invalidArgument('websocket: missing or invalid Sec-WebSocket-Version header');
  return key;
}

/**
 * Answers the handshake (101) on the request's socket and returns the connection. The API server
 * has already put any bytes read past the request back into the socket, so no head is passed on.
 */
export function acceptWebSocket(req: IncomingMessage, opts: { binary: boolean }): WebSocketConn {
  webSocketKey(req);
  let conn: WebSocketConn | undefined;
  wss.handleUpgrade(req, req.socket, Buffer.alloc(0), (ws) => {
    conn = new WebSocketConn(ws, req.socket, opts.binary);
  });
  // Without verifyClient the handshake completes at once; if ws refused it, it answered and closed.
  if (!conn) throw invalidArgument('websocket: the handshake failed');
  return conn;
}

/**
 * A WebSocket connection with a socket's surface. Events: 'data' (Buffer: one message's payload),
 * 'end' (the client closed: its input is over), 'close', 'error'.
 */
export class WebSocketConn extends EventEmitter {
  private closed = false;

  constructor(
    private readonly ws: WebSocket,
    private readonly socket: Socket,
    private readonly binary: boolean,
  ) {
    super();
    ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
      const message = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      if (message.length) this.emit('data', message);
    });
    // A protocol violation (unmasked frame, message too large, ...): ws sends a close frame and
    // closes the socket; 'close' follows.
    ws.on('error', (err) => this.emit('error', err));
    ws.on('close', () => {
      if (this.closed) return;
      this.closed = true;
      this.emit('end');
      this.emit('close');
    });
  }

  get destroyed(): boolean {
    return this.socket.destroyed || this.ws.readyState !== this.ws.OPEN;
  }

  get writableLength(): number {
    return this.ws.bufferedAmount;
  }

  write(data: Buffer): boolean {
    if (this.ws.readyState !== this.ws.OPEN) return true;
    this.ws.send(data, { binary: this.binary });
    return !this.socket.writableNeedDrain;
  }

  /** Sends a close frame; the connection ends once the client answers (or ws gives up waiting). */
  end(): void {
    if (this.ws.readyState === this.ws.OPEN || this.ws.readyState === this.ws.CONNECTING) this.ws.close(1000);
  }

  destroy(): void {
    this.ws.terminate();
  }

  pause(): void {
    this.ws.pause();
  }

  resume(): void {
    this.ws.resume();
  }
}
