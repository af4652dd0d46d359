/**
 * Attached `compose up`'s output through the shared LogPrinter (log-printer.ts): `Attaching to
 * ...`, `web-1  | line` with docker compose's colours, `web-1 exited with code 0`.
 */
import type { Output } from '../../streams.js';
import type { LogConsumer } from '../../../compose/engine/up.js';
import { LogPrinter } from './log-printer.js';

export function upLogPrinter(out: Output, err: Output, opts: { color: boolean; prefix: boolean; timestamps?: boolean }): LogConsumer {
  const printer = new LogPrinter(out, err, opts);
  return {
    register(names) {
      for (const n of names) printer.register(n);
      out.write(`Attaching to ${names.join(', ')}\n`);
    },
    // docker compose prints a container's stderr on its own stdout too, behind the same prefix.
    line: (name, _service, _stream, text) => printer.log(name, text),
    exited: (name, code) => printer.status(name, `exited with code ${code}`),
    info: (text) => out.write(text + '\n'),
  };
}
