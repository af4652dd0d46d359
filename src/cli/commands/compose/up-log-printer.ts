/**
 * A minimal log printer for attached `compose up` (`web-1  | line`, `web-1 exited with code 0`),
 * with docker compose's prefix layout and a colour per container on a terminal. c-cli's shared
 * printer for `compose logs` may replace it.
 */
import type { Output } from '../../streams.js';
import type { LogConsumer } from '../../../compose/engine/up.js';

const COLORS = ['36', '33', '32', '35', '34', '96', '93', '92', '95', '94'];

export function upLogPrinter(out: Output, opts: { color: boolean; prefix: boolean }): LogConsumer {
  let width = 0;
  const colorOf = new Map<string, string>();
  const paint = (name: string, s: string) => (opts.color && colorOf.has(name) ? `\x1b[${colorOf.get(name)}m${s}\x1b[0m` : s);
  return {
    register(names) {
      names.forEach((n, i) => colorOf.set(n, COLORS[i % COLORS.length]!));
      width = Math.max(0, ...names.map((n) => n.length)) + 1;
      out.write(`Attaching to ${names.join(', ')}\n`);
    },
    line(name, _service, _stream, text) {
      out.write(opts.prefix ? `${paint(name, `${name.padEnd(width)} | `)}${text}\n` : `${text}\n`);
    },
    exited(name, code) {
      out.write(paint(name, `${name} exited with code ${code}`) + '\n');
    },
    info(text) {
      out.write(text + '\n');
    },
  };
}
