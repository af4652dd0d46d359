/**
 * A minimal WebSocket server side (RFC 6455) for the Engine API's /containers/{id}/attach/ws: the
 * handshake on an upgraded connection, and a connection object that reads and writes whole messages
 * with the shape of a socket (data/end/close events, write, end, pause), so that the attach plumbing
 * (containers/streams.ts) can use it in place of a hijacked TCP stream.
 * What is supported: unfragmented and fragmented data frames in (text or binary: their payload is the
 * input), ping (answered with pong), close (answered, then the connection ends). Out: one binary
 * frame per write (text frames for clients older than API 1.28, as dockerd). No extensions.
 */
import { EventEmitter } from 'node:events';
import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { invalidArgument } from '../lib/errors.js';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** Frames larger than this are refused (input from a terminal or a pipe comes in small pieces). */
const MAX_FRAME = 16 * 1024 * 1024;

/** Throws 400 unless req is a WebSocket upgrade; returns the key to answer. */
export function webSocketKey(req: IncomingMessage): string {
  const key = req.headers['sec-websocket-key'];
  if (String(req.headers.upgrade ?? '').toLowerCase() !== 'websocket' || typeof key !== 'string' || !key) {
    throw invalidArgument('websocket: the client is not using the websocket protocol');
  }
  return key;
}

/** Answers the handshake (101) on the request's socket and returns the connection. */
export function acceptWebSocket(req: IncomingMessage, opts: { binary: boolean }): WebSocketConn {
  const key = webSocketKey(req);
  const accept = createHash('sha1').update(key + GUID).digest('base64');
  const socket = req.socket;
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
  return new WebSocketConn(socket, opts.binary);
}

function frame(opcode: number, payload: Buffer): Buffer {
  const len = payload.length;
  let header: Buffer;
  if (len < 126) {
    header = Buffer.from([0x80 | opcode, len]);
  } else if (len < 65536) {
    header = Buffer.alloc(4);
    header[0] = 0x80 | opcode;
    header[1] = 126;
    header.writeUInt16BE(len, 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = 0x80 | opcode;
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(len), 2);
  }
  return Buffer.concat([header, payload]);
}

/**
 * A WebSocket connection with a socket's surface. Events: 'data' (Buffer: one message's payload),
 * 'end' (the client sent close), 'close', 'error'.
 */
export class WebSocketConn extends EventEmitter {
  private buf: Buffer = Buffer.alloc(0);
  private fragments: Buffer[] = [];
  private closing = false;

  constructor(
    private readonly socket: Socket,
    private readonly binary: boolean,
  ) {
    super();
    socket.on('data', (b: Buffer) => this.receive(b));
    socket.on('end', () => this.emit('end'));
    socket.on('close', () => this.emit('close'));
    socket.on('error', (err) => this.emit('error', err));
  }

  get destroyed(): boolean {
    return this.socket.destroyed;
  }

  get writableLength(): number {
    return this.socket.writableLength;
  }

  write(data: Buffer): boolean {
    if (this.closing || this.socket.destroyed) return true;
    return this.socket.write(frame(this.binary ? 0x2 : 0x1, data));
  }

  /** Sends a close frame and ends the connection. */
  end(): void {
    if (!this.closing && !this.socket.destroyed) {
      this.closing = true;
      const status = Buffer.alloc(2);
      status.writeUInt16BE(1000, 0);
      this.socket.write(frame(0x8, status));
    }
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  private receive(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    for (;;) {
      if (this.buf.length < 2) return;
      const b0 = this.buf[0]!;
      const b1 = this.buf[1]!;
      const fin = (b0 & 0x80) !== 0;
      const opcode = b0 & 0x0f;
      const masked = (b1 & 0x80) !== 0;
      let len = b1 & 0x7f;
      let off = 2;
      if (len === 126) {
        if (this.buf.length < 4) return;
        len = this.buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) return;
        const big = this.buf.readBigUInt64BE(2);
        if (big > BigInt(MAX_FRAME)) return this.fail();
        len = Number(big);
        off = 10;
      }
      if (len > MAX_FRAME) return this.fail();
      const maskLen = masked ? 4 : 0;
      if (this.buf.length < off + maskLen + len) return;
      const payload = Buffer.from(this.buf.subarray(off + maskLen, off + maskLen + len));
      if (masked) {
        const mask = this.buf.subarray(off, off + 4);
        for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i & 3]!;
      }
      this.buf = this.buf.subarray(off + maskLen + len);
      this.handle(fin, opcode, payload);
    }
  }

  private handle(fin: boolean, opcode: number, payload: Buffer): void {
    switch (opcode) {
      case 0x0: // continuation
      case 0x1: // text
      case 0x2: // binary
        this.fragments.push(payload);
        if (fin) {
          const message = Buffer.concat(this.fragments);
          this.fragments = [];
          if (message.length) this.emit('data', message);
        }
        return;
      case 0x8: // close: answer it; the input is over
        if (!this.closing && !this.socket.destroyed) {
          this.closing = true;
          this.socket.write(frame(0x8, payload.subarray(0, 2)));
        }
        this.emit('end');
        this.socket.end();
        return;
      case 0x9: // ping
        if (!this.socket.destroyed) this.socket.write(frame(0xa, payload));
        return;
      default: // pong and reserved opcodes: ignored
        return;
    }
  }

  private fail(): void {
    this.emit('error', new Error('websocket: frame too large'));
    this.socket.destroy();
  }
}
