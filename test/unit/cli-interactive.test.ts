/**
 * exec, attach, stats, diff, commit and export against a stub daemon: the requests they make,
 * what they print, and exit statuses; plus the pure helpers (stats maths, detach keys).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';

const { resolve } = await import('../../src/cli/args.js');
const { ApiClient, parseHost } = await import('../../src/cli/client.js');
const { rootCommand } = await import('../../src/cli/commands/index.js');
const { CliError } = await import('../../src/cli/errors.js');
const { frame } = await import('../../src/cli/stdcopy.js');
const inter = await import('../../src/cli/commands/interactive.js');
type Cli = import('../../src/cli/streams.js').Cli;

const ID = 'c0ffee'.repeat(10) + 'abcd';

interface Req {
  method: string;
  url: string;
  body: string;
}
type Route = (req: Req, res: http.ServerResponse) => void;
type Upgrade = (sock: Socket, req: Req) => void;

const json = (res: http.ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
};

async function withDaemon(route: Route, upgrade: Upgrade, fn: (run: (argv: string[], stdin?: string) => Promise<{ out: string; err: string; code: number }>, seen: string[]) => Promise<void>) {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-inter-'));
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
  const upgraded = new Set<Socket>();
  server.on('upgrade', (req: http.IncomingMessage, sock: Socket, head: Buffer) => {
    upgraded.add(sock);
    sock.on('error', () => undefined);
    const r = { method: req.method!, url: req.url!, body: head.toString() };
    const go = () => {
      seen.push(`UPGRADE ${r.method} ${r.url}${r.body ? ' ' + r.body : ''}`);
      sock.write('HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
      upgrade(sock, r);
    };
    const len = Number(req.headers['content-length'] ?? 0);
    if (head.length >= len) return go();
    sock.once('data', (more: Buffer) => {
      r.body += more.toString();
      go();
    });
  });
  await new Promise<void>((r) => server.listen(socket, r));
  const run = async (argv: string[], stdin = '') => {
    const r = resolve(rootCommand, argv);
    if (r.kind === 'error') return { out: '', err: r.message + '\n', code: r.exitCode };
    if (r.kind !== 'run') throw new Error(`not runnable: ${argv.join(' ')}`);
    const out: string[] = [];
    const err: string[] = [];
    const client = new ApiClient(parseHost(`unix://${socket}`));
    const cli: Cli = {
      out: { write: (s) => out.push(Buffer.from(s as Uint8Array).toString()) },
      err: { write: (s) => err.push(Buffer.from(s as Uint8Array).toString()) },
      in: Readable.from([stdin]),
      rawOut: new PassThrough(),
      client: () => client,
      debug: false,
      env: { HOME_VAR: 'home' },
      now: () => 0,
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
    await fn(run, seen);
  } finally {
    for (const s of upgraded) s.destroy();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  }
}

test('exec: inspect, create, hijacked start, output demultiplexed, exit status from inspect', async () => {
  const route: Route = (req, res) => {
    if (req.url === '/v1.50/containers/c/json') return json(res, 200, { Id: ID, State: { Running: true } });
    if (req.url === '/v1.50/containers/c/exec') return json(res, 201, { Id: 'e1' });
    if (req.url === '/v1.50/exec/e1/json') return json(res, 200, { ExitCode: 4, Running: false });
    json(res, 404, { message: 'page not found' });
  };
  await withDaemon(
    route,
    (sock) => sock.end(Buffer.concat([frame(1, 'out\n'), frame(2, 'err\n')])),
    async (run, seen) => {
      const r = await run(['exec', '-e', 'A=1', '-e', 'HOME_VAR', '-w', '/w', '-u', 'u', 'c', 'sh', '-c', 'exit 4']);
      assert.deepEqual(r, { out: 'out\n', err: 'err\n', code: 4 });
      assert.deepEqual(seen, [
        'GET /v1.50/containers/c/json',
        'POST /v1.50/containers/c/exec {"User":"u","Privileged":false,"Tty":false,"AttachStdin":false,"AttachStderr":true,"AttachStdout":true,"Detach":false,"DetachKeys":"","Env":["A=1","HOME_VAR=home"],"WorkingDir":"/w","Cmd":["sh","-c","exit 4"]}',
        'UPGRADE POST /v1.50/exec/e1/start {"Detach":false,"Tty":false}',
        'GET /v1.50/exec/e1/json',
      ]);
    },
  );
});

test('exec -i forwards stdin; -d starts detached; a missing container fails before create', async () => {
  const route: Route = (req, res) => {
    if (req.url === '/v1.50/containers/c/json') return json(res, 200, { Id: ID });
    if (req.url === '/v1.50/containers/nope/json') return json(res, 404, { message: 'No such container: nope' });
    if (req.url === '/v1.50/containers/c/exec') return json(res, 201, { Id: 'e2' });
    if (req.url === '/v1.50/exec/e2/start') {
      res.writeHead(200);
      return res.end();
    }
    if (req.url === '/v1.50/exec/e2/json') return json(res, 200, { ExitCode: 0 });
    json(res, 404, { message: 'page not found' });
  };
  const echo: Upgrade = (sock) => {
    let got = '';
    sock.on('data', (c: Buffer) => (got += c.toString()));
    sock.on('end', () => sock.end(frame(1, got.toUpperCase())));
  };
  await withDaemon(route, echo, async (run, seen) => {
    assert.deepEqual(await run(['exec', '-i', 'c', 'cat'], 'hi\n'), { out: 'HI\n', err: '', code: 0 });
    seen.length = 0;
    assert.deepEqual(await run(['exec', '-d', 'c', 'sleep', '1']), { out: '', err: '', code: 0 });
    assert.equal(seen[2], 'POST /v1.50/exec/e2/start {"Detach":true,"Tty":false}');
    assert.match(seen[1]!, /"AttachStdin":false,"AttachStderr":false,"AttachStdout":false/);
    seen.length = 0;
    assert.deepEqual(await run(['exec', 'nope', 'true']), { out: '', err: 'Error response from daemon: No such container: nope\n', code: 1 });
    assert.deepEqual(seen, ['GET /v1.50/containers/nope/json']);
    const tty = await run(['exec', '-it', 'c', 'true']);
    assert.deepEqual(tty, { out: '', err: 'the input device is not a TTY\n', code: 1 });
  });
});

test('attach: state checks, hijacked attach, wait status', async () => {
  let running = true;
  const route: Route = (req, res) => {
    if (req.url === '/v1.50/containers/c/json') return json(res, 200, { Id: ID, State: { Running: running }, Config: { Tty: false, OpenStdin: false } });
    if (req.url.startsWith('/v1.50/containers/c/wait')) return json(res, 200, { StatusCode: 7 });
    json(res, 404, { message: 'page not found' });
  };
  await withDaemon(
    route,
    (sock) => setTimeout(() => sock.end(frame(1, 'log\n')), 20),
    async (run, seen) => {
      assert.deepEqual(await run(['attach', 'c']), { out: 'log\n', err: '', code: 7 });
      assert.ok(seen.includes('UPGRADE POST /v1.50/containers/c/attach?stderr=1&stdout=1&stream=1'), seen.join('\n'));
      running = false;
      assert.deepEqual(await run(['container', 'attach', 'c']), { out: '', err: 'You cannot attach to a stopped container, start it first\n', code: 1 });
    },
  );
});

test('diff, commit and export requests and output', async () => {
  const route: Route = (req, res) => {
    if (req.url === '/v1.50/containers/c/changes') return json(res, 200, [{ Path: '/etc', Kind: 0 }, { Path: '/x', Kind: 1 }, { Path: '/y', Kind: 2 }]);
    if (req.url.startsWith('/v1.50/commit')) return json(res, 201, { Id: 'sha256:' + 'ab'.repeat(32) });
    json(res, 404, { message: 'page not found' });
  };
  await withDaemon(route, () => undefined, async (run, seen) => {
    assert.deepEqual(await run(['diff', 'c']), { out: 'C /etc\nA /x\nD /y\n', err: '', code: 0 });
    const r = await run(['commit', '-a', 'me', '-m', 'msg', '-c', 'ENV A=1', '--pause=false', 'c', 'repo/img']);
    assert.deepEqual(r, { out: `sha256:${'ab'.repeat(32)}\n`, err: '', code: 0 });
    assert.equal(seen.at(-1), 'POST /v1.50/commit?author=me&changes=ENV+A%3D1&comment=msg&container=c&pause=0&repo=repo%2Fimg&tag=latest');
    await run(['commit', 'c']);
    assert.equal(seen.at(-1), 'POST /v1.50/commit?author=&comment=&container=c&repo=&tag=');
  });
});

test('export refuses a terminal', async () => {
  const cmd = inter.exportCommand('export');
  const cli = { rawOut: Object.assign(new PassThrough(), { isTTY: true }) } as unknown as Cli;
  const r = resolve(rootCommand, ['export', 'c']);
  assert.equal(r.kind, 'run');
  await assert.rejects(cmd.run!({ args: ['c'], flags: (r as unknown as { flags: never }).flags, path: '' }, cli), /cowardly refusing to save to a terminal\. Use the -o flag or redirect/);
});

test('stats maths and table as docker computes them', () => {
  const v = {
    name: '/web',
    id: ID,
    cpu_stats: { cpu_usage: { total_usage: 400_000_000 }, system_cpu_usage: 20_000_000_000, online_cpus: 4 },
    precpu_stats: { cpu_usage: { total_usage: 200_000_000 }, system_cpu_usage: 10_000_000_000 },
    memory_stats: { usage: 10 * 1024 * 1024, limit: 1024 * 1024 * 1024, stats: { inactive_file: 2 * 1024 * 1024 } },
    networks: { eth0: { rx_bytes: 1500, tx_bytes: 500 }, eth1: { rx_bytes: 500, tx_bytes: 0 } },
    blkio_stats: { io_service_bytes_recursive: [{ op: 'Read', value: 4096 }, { op: 'Write', value: 8192 }, { op: 'read', value: 4096 }] },
    pids_stats: { current: 3 },
  };
  const e = inter.statsEntry('web', v);
  assert.equal(e.cpu, 8); // 0.2e9 / 10e9 * 4 * 100
  assert.equal(e.mem, 8 * 1024 * 1024);
  const v1 = { ...v, memory_stats: { usage: 10 * 1024 * 1024, limit: 0, stats: { total_inactive_file: 1024 * 1024, inactive_file: 5 } } };
  assert.equal(inter.statsEntry('web', v1).mem, 9 * 1024 * 1024);
  assert.deepEqual(inter.statsRow(e, true), {
    BlockIO: '8.19kB / 8.19kB',
    CPUPerc: '8.00%',
    Container: 'web',
    ID: ID.slice(0, 12),
    MemPerc: '0.78%',
    MemUsage: '8MiB / 1GiB',
    Name: 'web',
    NetIO: '2kB / 500B',
    PIDs: '3',
  });
  assert.equal(
    inter.formatStats([e], '', true),
    'CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O      BLOCK I/O         PIDS\n' +
      `${ID.slice(0, 12)}   web       8.00%     8MiB / 1GiB         0.78%     2kB / 500B   8.19kB / 8.19kB   3\n`,
  );
});

test('detach keys and the escape proxy', () => {
  assert.deepEqual(inter.detachKeyBytes('ctrl-p,ctrl-q'), [16, 17]);
  assert.deepEqual(inter.detachKeyBytes('a,ctrl-@,ctrl-]'), [97, 0, 29]);
  assert.equal(inter.detachKeyBytes('ctrl-1'), undefined);
  assert.equal(inter.detachKeyBytes('ab'), undefined);
  const p = new inter.EscapeProxy([16, 17]);
  assert.deepEqual(p.push(Buffer.from([1, 16])), { data: Buffer.from([1]), detach: false });
  assert.deepEqual(p.push(Buffer.from([2])), { data: Buffer.from([16, 2]), detach: false });
  assert.deepEqual(p.push(Buffer.from([16, 16, 17])), { data: Buffer.from([16]), detach: true });
});

test('cp: argument splitting and docker archive-copy rules', async () => {
  const cp = await import('../../src/cli/commands/cp.js');
  assert.deepEqual(cp.splitCpArg('c:/etc'), ['c', '/etc']);
  assert.deepEqual(cp.splitCpArg('/abs:x'), ['', '/abs:x']);
  assert.deepEqual(cp.splitCpArg('./f:name'), ['', './f:name']);
  assert.deepEqual(cp.splitCpArg('rel'), ['', 'rel']);
  assert.deepEqual(cp.splitPathDirEntry('/a/b/.'), ['/a/b', '.']);
  assert.deepEqual(cp.splitPathDirEntry('/a/b/'), ['/a', 'b']);
  assert.equal(cp.rebaseName('d/sub/f', 'd', 'new'), 'new/sub/f');
  assert.equal(cp.rebaseName('./x', '.', 'new'), 'new/x');
  assert.equal(cp.rebaseName('dd/x', 'd', 'new'), 'dd/x');
  const info = (p: string, exists: boolean, isDir: boolean) => ({ path: p, exists, isDir, rebaseName: '' });
  assert.equal(cp.prepareArchiveCopy(info('/d', true, true), info('/t', true, true)).dir, '/t');
  const renamed = cp.prepareArchiveCopy(info('/d', true, true), info('/t/new', false, false));
  assert.deepEqual([renamed.dir, renamed.rename('d/x')], ['/t', 'new/x']);
  assert.throws(() => cp.prepareArchiveCopy(info('/d', true, true), info('/t/file', true, false)), /cannot copy directory/);
  assert.throws(() => cp.prepareArchiveCopy(info('/f', true, false), info('/t/nope/', false, false)), /no such directory/);
});
