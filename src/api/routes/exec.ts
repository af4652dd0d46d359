import type { Router } from '../router.js';
import type { ExecBackend } from '../backends.js';
import { sendJson } from '../http.js';
import { invalidArgument } from '../../lib/errors.js';
import { execStartStream } from '../streams/exec.js';
import { readHijackJson } from '../streams/hijack.js';
import { decode } from '../schemas/decode.js';
import { consoleSize, execStartOptions } from '../schemas/container.js';

/** The h and w of a resize request (Docker: both required whole numbers). */
export function resizeSize(query: URLSearchParams): { height: number; width: number } {
  const parse = (name: string): number => {
    const raw = query.get(name) ?? '';
    if (!/^-?\d+$/.test(raw)) throw invalidArgument(`strconv.Atoi: parsing ${JSON.stringify(raw)}: invalid syntax`);
    const n = Number(raw);
    if (n < 0) throw invalidArgument(`invalid terminal size ${name}=${raw}`);
    return n;
  };
  return { height: parse('h'), width: parse('w') };
}

/** Exec sessions: start (hijacked unless detached), resize, inspect. Create is under /containers. */
export function execRoutes(router: Router, s: ExecBackend): void {
  const execs = s.execs;

  router.post('/exec/{id}/start', async (ctx) => {
    const id = ctx.params.id!;
    const raw = await readHijackJson(ctx);
    const { ConsoleSize, ...options } = raw === undefined ? {} : decode(execStartOptions, raw);
    const body = { ...options, ConsoleSize: consoleSize(ConsoleSize) };
    if (body.Detach) {
      execs.startable(id);
      const run = await execs.start(id, { attach: false, consoleSize: body.ConsoleSize ?? undefined });
      void run.done.catch(() => undefined); // detached: nobody to report the exec's failure to
      ctx.res.writeHead(200, { 'Content-Length': '0' });
      ctx.res.end();
      return;
    }
    await execStartStream(ctx, execs, id, body);
  });

  router.post('/exec/{id}/resize', async ({ res, params, query }) => {
    const { height, width } = resizeSize(query);
    await execs.resize(params.id!, height, width);
    res.writeHead(200, { 'Content-Length': '0' });
    res.end();
  });

  router.get('/exec/{id}/json', ({ res, params }) => sendJson(res, 200, execs.inspect(params.id!)));
}
