/**
 * Docker's multiplexed stream format (attach and logs of containers without a TTY): frames of
 * an 8-byte header — stream (0 stdin, 1 stdout, 2 stderr, 3 daemon error), three zero bytes,
 * big-endian uint32 length — followed by that many bytes of payload.
 */
import { CliError } from './errors.js';

export type Sink = (chunk: Buffer) => void;

/** Splits frames as they arrive, however the bytes are chunked, as docker's StdCopy does. */
export class StdDemuxer {
  private pending = Buffer.alloc(0);

  /**
   * `out` and `err` receive payloads; a stream nobody attached (undefined) is dropped. Stdin
   * frames go to `out` as StdCopy writes them; a daemon error frame throws.
   */
  constructor(
    private readonly out: Sink | undefined,
    private readonly err: Sink | undefined,
  ) {}

  push(chunk: Buffer): void {
    let buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    while (buf.length >= 8) {
      const len = buf.readUInt32BE(4);
      if (buf.length < 8 + len) break;
      const kind = buf[0];
      const payload = buf.subarray(8, 8 + len);
      buf = buf.subarray(8 + len);
      if (kind === 0 || kind === 1) this.out?.(payload);
      else if (kind === 2) this.err?.(payload);
      else if (kind === 3) throw new CliError(`error from daemon in stream: ${payload.toString()}`);
      else throw new CliError(`Unrecognized input header: ${kind}`);
    }
    this.pending = Buffer.from(buf);
  }
}

/** One frame, for tests and stub daemons. */
export function frame(stream: number, payload: string | Buffer): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(body.length, 4);
  return Buffer.concat([header, body]);
}
