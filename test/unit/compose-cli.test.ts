/**
 * `berth compose` commands other than the lifecycle ones: the log printer's prefixes and
 * colours, following a project's logs against a stub daemon, and the commands' formatting.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

process.env.TZ = 'UTC';
const { ApiClient, parseHost } = await import('../../src/cli/client.js');
const { frame } = await import('../../src/cli/stdcopy.js');
const lp = await import('../../src/cli/commands/compose/log-printer.js');
const pc = await import('../../src/cli/commands/compose/project-containers.js');

function sink() {
  const chunks: string[] = [];
  return { write: (s: string | Uint8Array) => chunks.push(typeof s === 'string' ? s : Buffer.from(s).toString()), text: () => chunks.join('') };
}

test('log printer: prefixes padded to the longest name, one line per newline', () => {
  const out = sink();
  const p = new lp.LogPrinter(out, out, { color: false, prefix: true });
  p.register('web-1');
  p.register('database-1');
  p.log('web-1', 'hello');
  p.log('database-1', 'a\nb');
  assert.equal(out.text(), 'web-1       | hello\ndatabase-1  | a\ndatabase-1  | b\n');
});

test('log printer: a name seen late widens every prefix', () => {
  const out = sink();
  const p = new lp.LogPrinter(out, out, { color: false, prefix: true });
  p.log('a-1', 'x');
  p.log('longer-1', 'y');
  p.log('a-1', 'z');
  assert.equal(out.text(), 'a-1  | x\nlonger-1  | y\na-1       | z\n');
});

test("log printer: colours in docker compose's rainbow order, status lines coloured whole", () => {
  const out = sink();
  const p = new lp.LogPrinter(out, out, { color: true, prefix: true });
  p.register('web-1');
  p.register('db-1');
  p.log('web-1', 'hi');
  p.log('db-1', 'yo');
  p.status('web-1', 'exited with code 0');
  assert.equal(
    out.text(),
    '\x1b[36mweb-1  | \x1b[0mhi\n' + '\x1b[33mdb-1   | \x1b[0myo\n' + '\x1b[36m\r\x1b[Kweb-1 exited with code 0\n\x1b[0m',
  );
  assert.deepEqual(lp.RAINBOW.slice(0, 5), ['36', '33', '32', '35', '34']);
});

test('log printer: --no-log-prefix prints the bare line; client timestamps when asked', () => {
  const out = sink();
  new lp.LogPrinter(out, out, { color: false, prefix: false }).log('web-1', 'bare');
  const stamped = new lp.LogPrinter(out, out, { color: false, prefix: true, timestamps: true, now: () => 1795870800123 });
  stamped.log('w-1', 'x');
  assert.equal(out.text(), 'bare\nw-1  | 2026-11-28T13:00:00.123000000Z x\n');
});

test('useAnsi: auto follows the terminal; never and always', () => {
  assert.equal(lp.useAnsi('auto', { isTTY: true }), true);
  assert.equal(lp.useAnsi('auto', {}), false);
  assert.equal(lp.useAnsi('never', { isTTY: true }), false);
  assert.equal(lp.useAnsi('always', {}), true);
});

test('line splitter: partial lines wait for their newline; the last one is flushed', () => {
  const lines: string[] = [];
  const s = new lp.LineSplitter((l) => lines.push(l));
  s.push(Buffer.from('ab'));
  s.push(Buffer.from('c\nd\ne'));
  assert.deepEqual(lines, ['abc', 'd']);
  s.flush();
  assert.deepEqual(lines, ['abc', 'd', 'e']);
});

test('names: web-1 for a default name, container_name kept whole', () => {
  const labels = { 'com.docker.compose.project': 'demo', 'com.docker.compose.service': 'web', 'com.docker.compose.container-number': '1' };
  assert.equal(pc.nameWithoutProject({ Id: 'x', Names: ['/demo-web-1'], Labels: labels }), 'web-1');
  assert.equal(pc.nameWithoutProject({ Id: 'x', Names: ['/custom'], Labels: labels }), 'custom');
  assert.equal(pc.canonicalName({ Id: 'abcdef0123456789', Names: ['/other/alias', '/own'] }), 'own');
});

// ---- following a project against a stub daemon -----------------------------------------

interface StubContainer {
  Id: string;
  name: string;
  service: string;
  tty: boolean;
  logs: string;
}

function labelsOf(c: StubContainer): Record<string, string> {
  return {
    'com.docker.compose.project': 'demo',
    'com.docker.compose.service': c.service,
    'com.docker.compose.container-number': '1',
    'com.docker.compose.oneoff': 'False',
  };
}

async function withStub(containers: StubContainer[], fn: (client: InstanceType<typeof ApiClient>, events: http.ServerResponse[]) => Promise<void>) {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-ccli-'));
  const socket = path.join(dir, 'd.sock');
  const events: http.ServerResponse[] = [];
  const server = http.createServer((req, res) => {
    res.setHeader('Api-Version', '1.50');
    const url = new URL(req.url!, 'http://x');
    const p = url.pathname.replace(/^\/v[\d.]+/, '');
    if (p === '/_ping') return res.end('OK');
    if (p === '/events') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.flushHeaders();
      events.push(res);
      return;
    }
    if (p === '/containers/json') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return res.end(JSON.stringify(containers.map((c) => ({ Id: c.Id, Names: [`/${c.name}`], Labels: labelsOf(c), State: 'running' }))));
    }
    const m = /^\/containers\/([^/]+)\/(json|logs)$/.exec(p);
    const c = m && containers.find((x) => x.Id === m[1]);
    if (!c) {
      res.writeHead(404, { 'Content-Type': 'application/json' });
      return res.end(JSON.stringify({ message: `No such container: ${m?.[1]}` }));
    }
    if (m![2] === 'json') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return res.end(JSON.stringify({ Id: c.Id, Config: { Tty: c.tty }, State: { Running: false, StartedAt: '2026-11-28T13:00:00.5Z', ExitCode: 3 } }));
    }
    res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
    res.end(c.tty ? c.logs : frame(1, c.logs.slice(0, 3)).toString('latin1') + frame(2, c.logs.slice(3)).toString('latin1'), 'latin1');
  });
  await new Promise<void>((r) => server.listen(socket, r));
  const client = new ApiClient(parseHost(`unix://${socket}`));
  try {
    await fn(client, events);
  } finally {
    client.close();
    for (const e of events) e.destroy();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('project logs: tty and multiplexed streams under their prefixes', async () => {
  const containers = [
    { Id: 'a1', name: 'demo-web-1', service: 'web', tty: false, logs: 'one\ntwo\n' },
    { Id: 'b2', name: 'demo-db-1', service: 'db', tty: true, logs: 'ready' },
  ];
  await withStub(containers, async (client) => {
    const out = sink();
    const printer = new lp.LogPrinter(out, out, { color: false, prefix: true });
    const logs = await lp.startProjectLogs(client, printer, { project: 'demo' });
    await logs.done;
    const lines = out.text().split('\n').filter(Boolean).sort();
    assert.deepEqual(lines, ['db-1   | ready', 'web-1  | one', 'web-1  | two']);
  });
});

test('project logs -f: a started container is followed, a dying one reported, done when none is left', async () => {
  const containers = [{ Id: 'a1', name: 'demo-web-1', service: 'web', tty: true, logs: 'first\n' }];
  await withStub(containers, async (client, events) => {
    const out = sink();
    const printer = new lp.LogPrinter(out, out, { color: false, prefix: true });
    const exits: number[] = [];
    const logs = await lp.startProjectLogs(client, printer, { project: 'demo', follow: true, onExit: (e) => exits.push(e.exitCode) });
    assert.equal(events.length, 1, 'subscribed to events before listing');
    containers.push({ Id: 'c3', name: 'demo-job-1', service: 'job', tty: true, logs: 'job line\n' });
    const send = (action: string, c: StubContainer, extra: Record<string, string> = {}) =>
      events[0]!.write(JSON.stringify({ Type: 'container', Action: action, Actor: { ID: c.Id, Attributes: { name: c.name, ...labelsOf(c), ...extra } } }) + '\n');
    send('start', containers[1]!);
    send('die', containers[1]!, { exitCode: '3' });
    send('die', containers[0]!, { exitCode: '0' });
    await logs.done;
    const text = out.text();
    assert.match(text, /web-1  \| first\n/);
    assert.match(text, /job-1  \| job line\n/);
    assert.match(text, /job-1 exited with code 3\n/);
    assert.match(text, /web-1 exited with code 0\n/);
    assert.deepEqual(exits, [3, 0]);
  });
});

test('project logs -f: stop() ends following at once', async () => {
  const containers = [{ Id: 'a1', name: 'demo-web-1', service: 'web', tty: true, logs: '' }];
  await withStub(containers, async (client) => {
    const out = sink();
    const logs = await lp.startProjectLogs(client, new lp.LogPrinter(out, out, { color: false, prefix: true }), { project: 'demo', follow: true });
    logs.stop();
    await logs.done;
  });
});
