import type { RequestContext } from '../http.js';
import { parseBody, readJson } from '../http.js';
import { invalidArgument } from '../../lib/errors.js';

/**
 * The JSON body of a request that is about to be hijacked. After an HTTP upgrade Node hands the
 * connection over unparsed, so the body (Content-Length bytes) is read from the socket itself and
 * whatever follows it is put back for the stream.
 */
export async function readHijackJson(ctx: RequestContext): Promise<unknown> {
  const { req } = ctx;
  const upgrading = Boolean(req.headers.upgrade) && /\bupgrade\b/i.test(String(req.headers.connection ?? ''));
  if (!upgrading) return readJson(req);
  const len = Number(req.headers['content-length'] ?? 0);
  if (!Number.isInteger(len) || len <= 0) return undefined;
  if (len > 1024 * 1024) throw invalidArgument('request body is too large');
  const socket = req.socket;
  const body = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const cleanup = () => {
      socket.removeListener('data', onData);
      socket.removeListener('end', onEnd);
      socket.removeListener('error', onEnd);
    };
    const onData = (b: Buffer) => {
      chunks.push(b);
      got += b.length;
      if (got < len) return;
      cleanup();
      socket.pause();
      const all = Buffer.concat(chunks);
      if (all.length > len) socket.unshift(all.subarray(len));
      resolve(all.subarray(0, len));
    };
    const onEnd = () => {
      cleanup();
      reject(invalidArgument('unexpected end of request body'));
    };
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('error', onEnd);
    socket.resume();
  });
  return parseBody(body.toString('utf8'));
}
