/**
 * Commands run in-process against a stub daemon: which requests they make and what they print.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';

process.env.TZ = 'UTC';
const { resolve } = await import('../../src/cli/args.js');
const { ApiClient, parseHost } = await import('../../src/cli/client.js');
const { rootCommand } = await import('../../src/cli/commands/index.js');
const { CliError } = await import('../../src/cli/errors.js');
type Cli = import('../../src/cli/streams.js').Cli;

type Route = (req: { method: string; url: string; body: string }, res: http.ServerResponse) => void;

async function withDaemon(route: Route, fn: (run: (argv: string[], stdin?: string) => Promise<Result>, seen: string[], dir: string) => Promise<void>) {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-cmd-'));
  const socket = path.join(dir, 'd.sock');
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.setHeader('Api-Version', '1.50');
      if (req.url === '/_ping') return res.end();
      const body = Buffer.concat(chunks).toString();
      seen.push(`${req.method} ${req.url}${body ? ' ' + body : ''}`);
      route({ method: req.method!, url: req.url!, body }, res);
    });
  });
  await new Promise<void>((r) => server.listen(socket, r));
  const run = async (argv: string[], stdin = ''): Promise<Result> => {
    const r = resolve(rootCommand, argv);
    if (r.kind !== 'run') throw new Error(`not runnable: ${argv.join(' ')}`);
    const out: string[] = [];
    const err: string[] = [];
    const client = new ApiClient(parseHost(`unix://${socket}`));
    const rawOut = new PassThrough();
    rawOut.on('data', (c: Buffer) => out.push(c.toString()));
    const cli: Cli = {
      out: { write: (s) => out.push(String(s)) },
      err: { write: (s) => err.push(String(s)) },
      in: Readable.from([stdin]),
      rawOut,
      client: () => client,
      debug: false,
      env: {},
      now: () => 1795870800_000,
    };
    let code = 0;
    try {
      code = (await r.command.run!({ args: r.args, flags: r.flags, path: '' }, cli)) ?? 0;
    } catch (e) {
      if (!(e instanceof CliError)) throw e;
      err.push(e.message + '\n');
      code = e.exitCode;
    } finally {
      client.close();
    }
    return { out: out.join(''), err: err.join(''), code };
  };
  try {
    await fn(run, seen, dir);
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Result {
  out: string;
  err: string;
  code: number;
}

const json = (res: http.ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
};

test('rmi carries on after an error and fails at the end', async () => {
  await withDaemon(
    (req, res) => {
      if (req.url.includes('missing')) return json(res, 404, { message: 'No such image: missing:latest' });
      json(res, 200, [{ Untagged: `${req.url.split('/').pop()}:latest` }]);
    },
    async (run, seen) => {
      const r = await run(['rmi', 'a', 'missing', 'b']);
      assert.equal(r.out, 'Untagged: a:latest\nUntagged: b:latest\n');
      assert.equal(r.err, 'Error response from daemon: No such image: missing:latest\n');
      assert.equal(r.code, 1);
      assert.deepEqual(seen, ['DELETE /v1.50/images/a', 'DELETE /v1.50/images/missing', 'DELETE /v1.50/images/b']);
    },
  );
});

test('inspect tries containers, images, networks, volumes; image inspect only images', async () => {
  await withDaemon(
    (req, res) => {
      if (req.url === '/v1.50/images/busybox/json') return res.end('{"Id":"sha256:1"}');
      json(res, 404, { message: req.url.includes('/images/') ? 'No such image: x' : 'page not found' });
    },
    async (run, seen) => {
      const r = await run(['inspect', '-f', '{{.Id}}', 'busybox', 'nothing']);
      assert.equal(r.out, 'sha256:1\n');
      assert.equal(r.err, 'Error: No such object: nothing\n');
      assert.equal(r.code, 1);
      assert.deepEqual(seen, [
        'GET /v1.50/containers/busybox/json',
        'GET /v1.50/images/busybox/json',
        'GET /v1.50/containers/nothing/json',
        'GET /v1.50/images/nothing/json',
        'GET /v1.50/networks/nothing',
        'GET /v1.50/volumes/nothing',
      ]);
      seen.length = 0;
      const typed = await run(['image', 'inspect', 'x']);
      assert.equal(typed.out, '[]\n');
      assert.equal(typed.err, 'Error response from daemon: No such image: x\n');
      assert.deepEqual(seen, ['GET /v1.50/images/x/json']);
    },
  );
});

test('images sends -a, filters and the reference; prune asks first', async () => {
  await withDaemon(
    (req, res) => {
      if (req.url.startsWith('/v1.50/images/prune')) return json(res, 200, { ImagesDeleted: null, SpaceReclaimed: 0 });
      json(res, 200, []);
    },
    async (run, seen) => {
      const r = await run(['images', '-a', '--filter', 'dangling=true', 'busybox']);
      assert.equal(r.out, 'REPOSITORY   TAG       IMAGE ID   CREATED   SIZE\n');
      assert.deepEqual(seen, [
        'GET /v1.50/images/json?all=1&filters=%7B%22dangling%22%3A%7B%22true%22%3Atrue%7D%2C%22reference%22%3A%7B%22busybox%22%3Atrue%7D%7D',
      ]);
      seen.length = 0;
      const no = await run(['image', 'prune'], 'n\n');
      assert.equal(no.out, 'WARNING! This will remove all dangling images.\nAre you sure you want to continue? [y/N] ');
      assert.deepEqual(seen, []);
      const yes = await run(['image', 'prune', '-a'], 'y\n');
      assert.ok(yes.out.endsWith('[y/N] Total reclaimed space: 0B\n'));
      assert.deepEqual(seen, ['POST /v1.50/images/prune?filters=%7B%22dangling%22%3A%7B%22false%22%3Atrue%7D%7D']);
    },
  );
});

test('tag, save -o, load -i, import', async () => {
  await withDaemon(
    (req, res) => {
      if (req.url.includes('/tag?')) {
        res.statusCode = 201;
        return res.end();
      }
      if (req.url.startsWith('/v1.50/images/get')) return res.end('TARDATA');
      if (req.url.startsWith('/v1.50/images/load')) return json(res, 200, { stream: 'Loaded image: busybox:latest\n' });
      if (req.url.startsWith('/v1.50/images/create')) return json(res, 200, { status: 'sha256:new' });
      json(res, 404, { message: 'page not found' });
    },
    async (run, seen, dir) => {
      assert.equal((await run(['tag', 'busybox', 'me/app:v1'])).code, 0);
      const file = path.join(dir, 'out.tar');
      assert.equal((await run(['save', '-o', file, 'busybox', 'alpine'])).code, 0);
      assert.equal(readFileSync(file, 'utf8'), 'TARDATA');
      const loaded = await run(['load', '-i', file]);
      assert.equal(loaded.out, 'Loaded image: busybox:latest\n');
      const rootfs = path.join(dir, 'rootfs.tar');
      writeFileSync(rootfs, 'ROOTFS');
      const imported = await run(['import', '-c', 'CMD ["sh"]', '-m', 'hi there', rootfs, 'me/app:v2']);
      assert.equal(imported.out, 'sha256:new\n');
      const missing = await run(['load', '-i', path.join(dir, 'nope.tar')]);
      assert.equal(missing.err, `open ${path.join(dir, 'nope.tar')}: no such file or directory\n`);
      assert.deepEqual(seen, [
        'POST /v1.50/images/busybox/tag?repo=docker.io%2Fme%2Fapp&tag=v1',
        'GET /v1.50/images/get?names=busybox&names=alpine',
        'POST /v1.50/images/load?quiet=1 TARDATA',
        'POST /v1.50/images/create?changes=CMD+%5B%22sh%22%5D&fromSrc=-&message=hi+there&repo=me%2Fapp%3Av2 ROOTFS',
      ]);
    },
  );
});

test('events stream until the daemon ends it', async () => {
  await withDaemon(
    (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write('{"Type":"image","Action":"tag","Actor":{"ID":"sha256:1","Attributes":{"name":"a:b"}},"time":1795870800,"timeNano":1795870800000000001}\n');
      res.end('{"Type":"image","Action":"untag","Actor":{"ID":"sha256:1","Attributes":{}},"time":1795870801,"timeNano":1795870801000000000}\n');
    },
    async (run, seen) => {
      const r = await run(['events', '--since', '1h', '--until', '0s', '-f', 'type=image']);
      assert.equal(
        r.out,
        '2026-11-28T13:00:00.000000001Z image tag sha256:1 (name=a:b)\n2026-11-28T13:00:01.000000000Z image untag sha256:1\n',
      );
      assert.deepEqual(seen, ['GET /v1.50/events?filters=%7B%22type%22%3A%7B%22image%22%3Atrue%7D%7D&since=1795867200&until=1795870800']);
    },
  );
});
