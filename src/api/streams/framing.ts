import type { LogStream } from '../../containers/logs.js';

/** Docker's content types for raw (TTY) and multiplexed (stdout/stderr framed) streams. */
export const RAW = 'application/vnd.docker.raw-stream';
export const MULTIPLEXED = 'application/vnd.docker.multiplexed-stream';

/**
 * One frame of Docker's multiplexed stream (non-TTY logs and attach): an 8-byte header (stream
 * type 1 = stdout, 2 = stderr; three zero bytes; payload length as big-endian uint32) then payload.
 */
export function frameMultiplexed(stream: LogStream, payload: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header[0] = stream === 'stdout' ? 1 : 2;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}
