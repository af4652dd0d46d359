/**
 * Nothing a client sends or does takes berthd down (issue 11). First the three ways it went down, then
 * thousands of malformed, truncated, oversized and aborted requests, in batches; after each batch the
 * daemon must answer /_ping, hold no more descriptors and child processes than before, and its memory
 * must settle. Only the test daemon's unix socket is ever spoken to.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { TestDaemon } from './harness.js';

let d: TestDaemon;
let imageId: string;
/** A created container (export, logs, attach) and a running one (logs -f, stats, attach). */
let createdId: string;
let runningId: string;

before(async () => {
  d = await new TestDaemon().start();
  imageId = await d.seedBusybox();
  createdId = await createContainer({ Image: 'busybox', Cmd: ['true'], HostConfig: { NetworkMode: 'none' } });
  // It writes now and then: a client that hung up on a hijacked stream is only noticed on the next
  // write (a half-closed connection is how docker's CLI says "no more input", not "gone").
  runningId = await createContainer({ Image: 'busybox', Cmd: ['sh', '-c', 'while true; do echo tick; sleep 0.2; done'], HostConfig: { NetworkMode: 'none' } });
  const started = await d.request('POST', `/containers/${runningId}/start`);
  assert.equal(started.status, 204, started.text);
});

after(async () => {
  await d?.stop();
});

async function createContainer(body: unknown): Promise<string> {
  const res = await d.request('POST', '/containers/create', body);
  assert.equal(res.status, 201, res.text);
  return res.json<{ Id: string }>().Id;
}

// ---- talking raw to the socket ----------------------------------------------------------------

interface RawOptions {
  /** Hang up once this many bytes of the answer have come (0: as soon as anything comes). */
  hangUpAfter?: number;
  /** Hang up this many ms after the request was written, answered or not. */
  hangUpAfterMs?: number;
  /** Give up waiting for the daemon to end the answer (streams that never end). */
  timeoutMs?: number;
}

/** Writes raw bytes on a fresh connection and collects whatever comes back until the connection ends. */
function raw(data: Buffer | string | Array<Buffer | string>, opts: RawOptions = {}): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const s = net.connect(d.socket);
    const done = () => {
      clearTimeout(timer);
      s.destroy();
      resolve(Buffer.concat(chunks));
    };
    const timer = setTimeout(done, opts.hangUpAfterMs ?? opts.timeoutMs ?? 2_000);
    s.on('connect', () => {
      for (const part of Array.isArray(data) ? data : [data]) s.write(part);
    });
    s.on('data', (c: Buffer) => {
      chunks.push(c);
      size += c.length;
      if (opts.hangUpAfter !== undefined && size > opts.hangUpAfter) done();
    });
    s.on('end', done);
    s.on('close', done);
    s.on('error', done);
  });
}

function statusOf(answer: Buffer): number | undefined {
  const m = /^HTTP\/1\.1 (\d{3})/.exec(answer.subarray(0, 20).toString('latin1'));
  return m ? Number(m[1]) : undefined;
}

function request(method: string, target: string, headers: Record<string, string | number> = {}, body?: Buffer | string): string[] | Array<string | Buffer> {
  const lines = [`${method} ${target} HTTP/1.1`, 'Host: berth', 'Connection: close'];
  if (body !== undefined && headers['Content-Length'] === undefined && headers['Transfer-Encoding'] === undefined) headers['Content-Length'] = Buffer.byteLength(body);
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  const head = lines.join('\r\n') + '\r\n\r\n';
  return body === undefined ? [head] : [head, body];
}

// ---- what the daemon holds --------------------------------------------------------------------

function daemonPid(): number {
  return Number(readFileSync(path.join(d.execRoot, 'berthd.pid'), 'utf8').trim());
}

function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

async function fewestFds(pid: number, ms: number): Promise<number> {
  let fewest = fdCount(pid);
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 20))) fewest = Math.min(fewest, fdCount(pid));
  return fewest;
}

/** What the descriptors point at, for a failure message. */
function fdTargets(pid: number): string[] {
  return readdirSync(`/proc/${pid}/fd`).map((fd) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      return '?'; // closed meanwhile
    }
  });
}

function childCount(pid: number): number {
  let n = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    n += readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).length;
  }
  return n;
}

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]);
}

async function waitFor(check: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

function assertNoBugLines(): void {
  const bugs = d.logs.split('\n').filter((l) => /msg="BUG:|level=fatal/.test(l));
  assert.deepEqual(bugs, [], 'the last-resort handlers were reached');
}

async function assertAlive(): Promise<void> {
  const ping = await d.request('GET', '/_ping');
  assert.equal(ping.status, 200);
  assertNoBugLines();
}

// ---- the three ways it went down --------------------------------------------------------------

test('a client that hangs up in the middle of `docker save` leaves the daemon up, with no descriptor held', async () => {
  const pid = daemonPid();
  await assertAlive();
  // The running container's log copy opens and closes its cursor file a few times a second: the
  // baseline is the fewest descriptors seen over a moment, not one sample.
  const fdsBefore = await fewestFds(pid, 500);
  for (let i = 0; i < 5; i++) {
    const got = await raw(request('GET', '/images/get?names=busybox'), { hangUpAfter: 1000 });
    assert.equal(statusOf(got), 200, got.subarray(0, 200).toString('latin1'));
  }
  await assertAlive();
  // The layer blobs the save opened are closed again (a loaded machine may take a moment).
  assert.ok(await waitFor(() => fdCount(pid) <= fdsBefore, 10_000), `fds ${fdsBefore} -> ${fdCount(pid)}: ${fdTargets(pid).join(' ')}`);
});

test('a request line whose URL does not parse gets a 400, and the daemon stays up', async () => {
  for (const target of ['http://[', 'http://[::1', '//[', 'http://a b']) {
    const got = await raw(request('GET', target));
    const status = statusOf(got);
    assert.ok(status === 400 || status === undefined, `${target}: ${got.toString('latin1').slice(0, 100)}`);
  }
  const badEscape = await raw(request('GET', '/containers/%zz/json'));
  assert.equal(statusOf(badEscape), 400, badEscape.toString('latin1'));
  await assertAlive();
});

// ---- thousands of bad requests ------------------------------------------------------------------

const hostile = (): Array<() => Promise<unknown>> => {
  const r = (n: number) => Math.floor(Math.random() * n);
  const json = ['{', '{"Image":', '{"Image": 5}', '[]', 'null', '"x"', '{"HostConfig": "x"}', '{"Cmd": {"a": 1}}', '{"Env": [1, 2]}', '{"Labels": []}', '\u0000\u0001', '{"Image": "busybox", "HostConfig": {"Memory": "lots"}}', '{'.repeat(2000)];
  const postTargets = ['/containers/create', '/containers/create?name=%00', '/volumes/create', '/exec/nope/start', `/containers/${createdId}/exec`, '/containers/prune?filters={', '/images/create?fromImage=', '/build', '/commit?container=nope', '/networks/nope/connect', '/swarm/join', '/auth'];
  const getTargets = [
    '/containers/json?limit=abc',
    '/containers/json?filters={bad',
    '/images/json?filters=[',
    '/events?since=abc&until=1',
    `/containers/${createdId}/logs?tail=zz&stdout=1`,
    '/containers/nope/json',
    `/containers/${createdId}/archive?path=`,
    `/containers/${createdId}/archive?path=../../../../etc/shadow`,
    '/images/%2e%2e/json',
    '/v0.1/version',
    '/v99.99/version',
    '/v1.50/' + 'a/'.repeat(3000),
    '/' + 'x'.repeat(10_000),
    '/version?' + 'a=b&'.repeat(2000),
  ];
  const cases: Array<() => Promise<unknown>> = [
    // Request lines that are not HTTP, methods that are not, URLs that do not parse.
    () => raw(randomBytes(1 + r(300))),
    () => raw(`${['FOO', 'GET', 'P OST', '', 'CONNECT', 'TRACE', 'DELETE', 'PATCH'][r(8)]} ${['/_ping', 'http://[', '*', '/%', '/containers/%ff%fe/json', 'http://berth/_ping'][r(6)]} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`),
    () => raw(`GET /_ping HTTP/${['0.9', '2.0', '1.1x', '9'][r(4)]}\r\n\r\n`),
    () => raw(request(['GET', 'HEAD', 'DELETE', 'POST'][r(4)]!, getTargets[r(getTargets.length)]!)),
    // Bodies: bad JSON, wrong types, through every kind of POST.
    () => raw(request('POST', postTargets[r(postTargets.length)]!, { 'Content-Type': 'application/json' }, json[r(json.length)]!)),
    // Truncated chunked bodies, and chunk sizes that are not numbers.
    () => raw(request('POST', '/containers/create', { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' }, `10\r\n{"Image": "busyb`), { hangUpAfterMs: 30 }),
    () => raw(request('POST', '/images/load', { 'Transfer-Encoding': 'chunked' }, `zz\r\nhello\r\n0\r\n\r\n`)),
    // Headers past the limit; a Content-Length that lies; a body promised and never sent.
    () => raw(`GET /_ping HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000 + r(20_000))}\r\n\r\n`),
    () => raw(request('POST', '/containers/create', { 'Content-Type': 'application/json', 'Content-Length': 1_000_000 }, '{"Image": "busybox"'), { hangUpAfterMs: 20 + r(50) }),
    () => raw(request('POST', '/volumes/create', { 'Content-Length': 'ten' }, '{}')),
    // An oversized JSON body (past the 8 MiB limit) hung up on midway.
    () => raw(request('POST', '/containers/create', { 'Content-Type': 'application/json', 'Content-Length': 9 * 1024 * 1024 }, Buffer.alloc(1024 * 1024, 0x20)), { hangUpAfterMs: 100 }),
    // Random bytes, a gzip header with garbage, and cut-off tars as an archive to load.
    () => raw(request('POST', '/images/load', { 'Content-Type': 'application/x-tar' }, randomBytes(r(20_000)))),
    () => raw(request('POST', '/images/load', {}, Buffer.concat([gzipSync(randomBytes(3000)).subarray(0, 200 + r(500))]))),
    () => raw(request('POST', '/images/load', { 'Content-Length': 50_000 }, Buffer.concat([Buffer.from('manifest.json'), Buffer.alloc(499), randomBytes(3000)])), { hangUpAfterMs: 30 }),
    () => raw(request('PUT', `/containers/${createdId}/archive?path=/tmp`, { 'Content-Type': 'application/x-tar' }, randomBytes(r(5000)))),
    // Clients that hang up mid-response, on every kind of stream.
    () => raw(request('GET', '/images/get?names=busybox'), { hangUpAfter: r(20_000) }),
    () => raw(request('GET', `/containers/${createdId}/export`), { hangUpAfter: r(20_000) }),
    () => raw(request('GET', `/containers/${createdId}/archive?path=/bin`), { hangUpAfter: r(5_000) }),
    () => raw(request('GET', '/events'), { hangUpAfterMs: r(30) }),
    () => raw(request('GET', `/containers/${runningId}/logs?follow=1&stdout=1&stderr=1`), { hangUpAfterMs: r(30) }),
    () => raw(request('GET', `/containers/${runningId}/stats`), { hangUpAfterMs: r(60) }),
    () => raw(request('POST', `/containers/${runningId}/wait`), { hangUpAfterMs: r(30) }),
    () => raw(request('POST', `/containers/${runningId}/attach?stream=1&stdout=1`, { Upgrade: 'tcp', Connection: 'Upgrade' }), { hangUpAfterMs: r(30) }),
    () => raw(request('POST', `/containers/${runningId}/attach?stream=1&stdin=1&stdout=1&logs=1`, { Upgrade: 'tcp', Connection: 'Upgrade' }, randomBytes(100)), { hangUpAfterMs: r(30) }),
    () => raw(request('POST', `/containers/${createdId}/attach?stream=0&stdout=1&logs=1`, { Upgrade: 'tcp', Connection: 'Upgrade' }), { hangUpAfterMs: r(30) }),
  ];
  return cases;
};

async function runBatch(size: number, concurrency: number): Promise<void> {
  const cases = hostile();
  let next = 0;
  const worker = async () => {
    while (next < size) {
      next++;
      await cases[Math.floor(Math.random() * cases.length)]!();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

test('thousands of malformed, truncated, oversized and aborted requests leave the daemon up and holding nothing', async () => {
  const pid = daemonPid();
  const started = Date.now();
  // A first batch lets the daemon load what it loads lazily; what it holds after it is the baseline.
  await runBatch(250, 16);
  await assertAlive();
  await new Promise((r) => setTimeout(r, 500));
  const fds = fdCount(pid);
  const children = childCount(pid);
  const rssAfterWarmUp = rssKb(pid);
  // Bounded in count and in time (the machine may be shared): up to 3000 more, for about 30 s.
  let sent = 250;
  let batches = 0;
  while (batches < 12 && Date.now() - started < 30_000) {
    await runBatch(250, 16);
    sent += 250;
    batches++;
    await assertAlive();
    // Streams torn down release their files, mounts and children within a moment.
    assert.ok(await waitFor(() => fdCount(pid) <= fds + 4, 3_000), `batch ${batches}: descriptors ${fds} -> ${fdCount(pid)}`);
    assert.ok(await waitFor(() => childCount(pid) <= children, 3_000), `batch ${batches}: children ${children} -> ${childCount(pid)}`);
  }
  console.log(`${sent} requests in ${batches + 1} batches, ${Date.now() - started} ms; fds ${fds} -> ${fdCount(pid)}, RSS ${rssAfterWarmUp} -> ${rssKb(pid)} kB`);
  assert.ok(batches >= 3, `only ${sent} requests in the time allowed`);
  // Memory settles: garbage is collected lazily, so allow slack, but not growth per request.
  const settled = await waitFor(() => rssKb(pid) < rssAfterWarmUp * 1.5 + 40 * 1024, 5_000);
  assert.ok(settled, `RSS ${rssAfterWarmUp} kB -> ${rssKb(pid)} kB`);
  // The running container was never disturbed.
  const inspect = await d.request('GET', `/containers/${runningId}/json`);
  assert.equal(inspect.json().State.Running, true);
});

test('a logs -f client that stops reading and then hangs up releases the log file', async () => {
  const id = await createContainer({
    Image: 'busybox',
    Cmd: ['sh', '-c', 'i=0; while [ $i -lt 100000 ]; do echo line-$i-0123456789abcdef0123456789abcdef; i=$((i+1)); done; sleep 1000'],
    HostConfig: { NetworkMode: 'none' },
  });
  assert.equal((await d.request('POST', `/containers/${id}/start`)).status, 204);
  const pid = daemonPid();
  await new Promise((r) => setTimeout(r, 1500));
  const fdsBefore = await fewestFds(pid, 500);
  for (let i = 0; i < 3; i++) {
    await new Promise<void>((resolve) => {
      const s = net.connect(d.socket, () => s.write(request('GET', `/containers/${id}/logs?follow=1&stdout=1`).join('')));
      // Never read: the daemon's writes back up until it waits for 'drain'; then leave.
      s.pause();
      setTimeout(() => {
        s.destroy();
        resolve();
      }, 1000);
    });
  }
  assert.ok(await waitFor(() => fdCount(pid) <= fdsBefore, 10_000), `fds ${fdsBefore} -> ${fdCount(pid)}: ${fdTargets(pid).join(' ')}`);
  await d.request('DELETE', `/containers/${id}?force=1`);
  await assertAlive();
});

// ---- layers in use survive a restart ------------------------------------------------------------

test('a container whose image was force-removed survives a daemon restart and starts', async () => {
  const id = await createContainer({ Image: imageId, Cmd: ['true'], HostConfig: { NetworkMode: 'none' } });
  // No running container may use the image (that rmi cannot force).
  assert.equal((await d.request('POST', `/containers/${runningId}/kill`)).status, 204);
  await d.request('POST', `/containers/${runningId}/wait`);
  const rmi = await d.request('DELETE', `/images/${imageId}?force=1`);
  assert.equal(rmi.status, 200, rmi.text);
  await d.kill();
  await d.start();
  const start = await d.request('POST', `/containers/${id}/start`);
  assert.equal(start.status, 204, start.text);
  const wait = await d.request('POST', `/containers/${id}/wait`);
  assert.equal(wait.json().StatusCode, 0, wait.text);
  assertNoBugLines();
});
