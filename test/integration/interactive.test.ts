import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import type { Socket } from 'node:net';
import { TestDaemon, DOCKER, hasDocker } from './harness.js';

const hasScript = spawnSync('script', ['--version'], { stdio: 'ignore' }).status === 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Single-quotes a word for sh. */
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * The docker CLI on a pseudo-terminal (util-linux `script`), driven like a person at a keyboard:
 * wait for some output, type, read the rest, get the exit status.
 */
class PtySession {
  private readonly child: ChildProcess;
  output = '';
  readonly exited: Promise<number>;
  private readonly watchers: Array<() => void> = [];

  constructor(d: TestDaemon, args: string[], size = { rows: 40, cols: 100 }) {
    const cmd = `stty rows ${size.rows} cols ${size.cols}; exec ${[DOCKER, ...args].map(q).join(' ')}`;
    this.child = spawn('script', ['-qec', cmd, '/dev/null'], {
      env: { ...process.env, DOCKER_HOST: d.host, DOCKER_CONFIG: path.join(d.root, 'docker-config'), TERM: 'xterm' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const take = (b: Buffer) => {
      this.output += b.toString('utf8');
      for (const w of [...this.watchers]) w();
    };
    this.child.stdout!.on('data', take);
    this.child.stderr!.on('data', take);
    this.exited = new Promise((resolve) => this.child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1))));
  }

  /** Waits until the output (from `from` on) matches re. */
  waitFor(re: RegExp, timeoutMs = 15_000, from = 0): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const m = this.output.slice(from).match(re);
        if (!m) return false;
        this.watchers.splice(this.watchers.indexOf(check), 1);
        clearTimeout(timer);
        resolve(m);
        return true;
      };
      const timer = setTimeout(() => {
        this.watchers.splice(this.watchers.indexOf(check), 1);
        reject(new Error(`timed out waiting for ${re}; output so far: ${JSON.stringify(this.output)}`));
      }, timeoutMs);
      this.watchers.push(check);
      check();
    });
  }

  type(text: string): void {
    this.child.stdin!.write(text);
  }

  /** The exit status, killing the session if it has not ended in time. */
  async end(timeoutMs = 15_000): Promise<number> {
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const code = await this.exited;
    clearTimeout(timer);
    this.child.stdin!.destroy();
    return code;
  }
}

/** Splits Docker's multiplexed stream into stdout and stderr text. */
function demux(buf: Buffer): { stdout: string; stderr: string } {
  let stdout = '';
  let stderr = '';
  for (let i = 0; i + 8 <= buf.length; ) {
    const len = buf.readUInt32BE(i + 4);
    const chunk = buf.subarray(i + 8, i + 8 + len).toString();
    if (buf[i] === 1) stdout += chunk;
    else if (buf[i] === 2) stderr += chunk;
    i += 8 + len;
  }
  return { stdout, stderr };
}

/** A hijacked API connection (attach, exec start) as the docker CLI opens it. */
function hijack(d: TestDaemon, urlPath: string, body?: unknown): Promise<{ socket: Socket; status: number; contentType: string; received: () => Buffer; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request({
      socketPath: d.socket,
      method: 'POST',
      path: urlPath,
      headers: { Connection: 'Upgrade', Upgrade: 'tcp', ...(data ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) } : {}) },
    });
    req.on('upgrade', (res, socket, head) => {
      let got = Buffer.from(head);
      socket.on('data', (b: Buffer) => (got = Buffer.concat([got, b])));
      const closed = new Promise<void>((r) => socket.on('close', () => r()));
      resolve({ socket, status: res.statusCode!, contentType: String(res.headers['content-type']), received: () => got, closed });
    });
    req.on('response', (res) => reject(new Error(`no upgrade: ${res.statusCode}`)));
    req.on('error', reject);
    req.end(data);
  });
}

async function until(what: string, fn: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await fn()) return;
    await sleep(100);
  }
  assert.fail(`timed out: ${what}`);
}

describe('interactive I/O with the docker CLI', { skip: (!hasDocker && 'no docker CLI') || (!hasScript && 'no script(1) for a pseudo-terminal') }, () => {
  const d = new TestDaemon();
  before(async () => {
    await d.start();
    await d.seedBusybox();
  });
  after(async () => {
    for (const c of (await d.request('GET', '/containers/json?all=1')).json()) await d.request('DELETE', `/containers/${c.Id}?force=1`);
    await d.stop();
  });

  const running = async (name: string) => (await d.docker(['inspect', '-f', '{{.State.Running}}', name])).stdout.trim() === 'true';

  test('docker run -it: a real terminal with the client’s size; the exit status comes back', async () => {
    const s = new PtySession(d, ['run', '-it', '--rm', 'busybox', 'sh']);
    await s.waitFor(/# /);
    await sleep(300); // the client sends its size right after the start (runtime-facts: a race Docker has too)
    s.type('stty size; tty; exit 3\r');
    const code = await s.end();
    assert.equal(code, 3, s.output);
    assert.match(s.output, /\r\n40 100\r\n/);
    assert.match(s.output, /\/dev\/pts\/\d+\r\n/);
  });

  test('piped stdin: echo hi | docker run -i --rm busybox cat', async () => {
    const r = await d.docker(['run', '-i', '--rm', 'busybox', 'cat'], 'hi\n');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'hi\n');
  });

  test('piped stdin of a megabyte of binary data arrives whole (no detach keys without a tty)', async () => {
    const data = randomBytes(1024 * 1024);
    const r = await d.docker(['run', '-i', '--rm', 'busybox', 'md5sum'], data);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.split(' ')[0], createHash('md5').update(data).digest('hex'));
  });

  test('a container that exits while its input still flows: yes | docker run -i busybox head -2', async () => {
    const r = await d.docker(['run', '-i', '--rm', 'busybox', 'head', '-2'], 'y\n'.repeat(100_000));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'y\ny\n');
  });

  test('output of both streams, and docker start -ai of a created container', async () => {
    const r = await d.docker(['run', '--rm', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 2']);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, 'out\n');
    assert.equal(r.stderr, 'err\n');
    assert.equal((await d.docker(['create', '-i', '--name', 'startai', 'busybox', 'cat'])).code, 0);
    const started = await d.docker(['start', '-ai', 'startai'], 'via start\n');
    assert.equal(started.code, 0, started.stderr);
    assert.equal(started.stdout, 'via start\n');
    await d.docker(['rm', 'startai']);
  });

  test('docker run -itd, docker attach, detach with ctrl-p ctrl-q: the container runs on; attach again and exit', async () => {
    const r = await d.docker(['container', 'run', '-itd', '--name=testcontainer', '--rm', 'busybox']);
    assert.equal(r.code, 0, r.stderr);
    const first = new PtySession(d, ['attach', 'testcontainer']);
    await sleep(500);
    first.type('echo hello-$((6*7))\r');
    await first.waitFor(/hello-42/);
    first.type('\x10\x11');
    await first.end();
    assert.match(first.output, /read escape sequence/);
    assert.equal(await running('testcontainer'), true);

    const second = new PtySession(d, ['attach', 'testcontainer']);
    await sleep(500);
    second.type('echo again-$((2+3))\r');
    await second.waitFor(/again-5/);
    second.type('exit 0\r');
    assert.equal(await second.end(), 0, second.output);
    await until('--rm removes the container', async () => (await d.request('GET', '/containers/testcontainer/json')).status === 404);
  });

  test('docker run -it, detach, the shell keeps its input: attach and use it again', async () => {
    const s = new PtySession(d, ['run', '-it', '--name', 'keeps', 'busybox', 'sh']);
    await s.waitFor(/# /);
    s.type('\x10\x11');
    assert.equal(await s.end(), 0, s.output);
    assert.equal(await running('keeps'), true);
    const again = new PtySession(d, ['attach', 'keeps']);
    await sleep(500);
    again.type('exit 6\r');
    assert.equal(await again.end(), 6, again.output);
    assert.equal((await d.docker(['inspect', '-f', '{{.State.ExitCode}}', 'keeps'])).stdout.trim(), '6');
    await d.docker(['rm', 'keeps']);
  });

  test('detach keys in the daemon: attach?detachKeys=ctrl-x,y ends the stream, the container runs on, a detach event', async () => {
    const since = Date.now() / 1000;
    const created = await d.request('POST', '/containers/create?name=dk', { Image: 'busybox', Cmd: ['sh'], Tty: true, OpenStdin: true });
    assert.equal(created.status, 201, created.text);
    assert.equal((await d.request('POST', '/containers/dk/start')).status, 204);
    const bad = await d.request('POST', '/containers/dk/attach?stream=1&stdin=1&detachKeys=ctrl-%C3%A9');
    assert.equal(bad.status, 400);
    assert.equal(bad.json().message, 'Invalid detach keys (ctrl-é) provided');
    const a = await hijack(d, '/containers/dk/attach?stream=1&stdin=1&stdout=1&stderr=1&detachKeys=ctrl-x,y');
    assert.equal(a.status, 101);
    assert.equal(a.contentType, 'application/vnd.docker.raw-stream');
    a.socket.write('echo one-$((1+1))\r');
    await until('output arrives raw', () => a.received().toString().includes('one-2'));
    a.socket.write('\x18y');
    await a.closed;
    assert.equal(await running('dk'), true);
    const ev = await d.request('GET', `/events?since=${since}&until=${Date.now() / 1000 + 0.2}&filters=${encodeURIComponent(JSON.stringify({ container: { dk: true } }))}`);
    const actions = ev.text.trim().split('\n').map((l) => JSON.parse(l).Action);
    assert.deepEqual(actions.filter((x: string) => x === 'attach' || x === 'detach'), ['attach', 'detach']);
    await d.request('DELETE', '/containers/dk?force=1');
  });

  test('attach with logs=1 replays the log, multiplexed without a tty; stream=0 ends there', async () => {
    const id = (await d.request('POST', '/containers/create', { Image: 'busybox', Cmd: ['sh', '-c', 'echo one; echo two >&2; sleep 100'] })).json().Id;
    await d.request('POST', `/containers/${id}/start`);
    await until('log written', async () => demux((await d.request('GET', `/containers/${id}/logs?stdout=1&stderr=1`)).body).stderr === 'two\n');
    const r = await d.request('POST', `/containers/${id}/attach?logs=1&stream=0&stdout=1&stderr=1`);
    assert.equal(r.status, 200);
    assert.deepEqual(demux(r.body), { stdout: 'one\n', stderr: 'two\n' });
    await d.request('DELETE', `/containers/${id}?force=1`);
  });

  test('attach over a WebSocket: raw output in binary frames, input from the client’s frames', async () => {
    const id = (await d.request('POST', '/containers/create', { Image: 'busybox', Cmd: ['sh', '-c', 'while read l; do echo "got $l"; echo "err $l" >&2; done'], OpenStdin: true })).json().Id;
    await d.request('POST', `/containers/${id}/start`);
    const notWs = await d.request('GET', `/containers/${id}/attach/ws?stream=1`);
    assert.equal(notWs.status, 400);
    const ws = await new Promise<{ socket: Socket; status: number; accept: string }>((resolve, reject) => {
      const req = http.request({
        socketPath: d.socket,
        path: `/containers/${id}/attach/ws?stream=1&stdin=1&stdout=1&stderr=1`,
        headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version': '13' },
      });
      req.on('upgrade', (res, socket) => resolve({ socket, status: res.statusCode!, accept: String(res.headers['sec-websocket-accept']) }));
      req.on('response', (res) => reject(new Error(`no upgrade: ${res.statusCode}`)));
      req.on('error', reject);
      req.end();
    });
    assert.equal(ws.status, 101);
    assert.equal(ws.accept, 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
    const frames: Array<{ opcode: number; payload: string }> = [];
    let buf = Buffer.alloc(0);
    ws.socket.on('data', (b: Buffer) => {
      buf = Buffer.concat([buf, b]);
      while (buf.length >= 2 && buf.length >= 2 + (buf[1]! & 0x7f)) {
        const len = buf[1]! & 0x7f; // the test's messages are short
        frames.push({ opcode: buf[0]! & 0x0f, payload: buf.subarray(2, 2 + len).toString() });
        buf = buf.subarray(2 + len);
      }
    });
    const send = (opcode: number, text: string) => {
      const payload = Buffer.from(text);
      const mask = randomBytes(4);
      const masked = Buffer.from(payload.map((b, i) => b ^ mask[i & 3]!));
      ws.socket.write(Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | payload.length]), mask, masked]));
    };
    send(0x2, 'hello\n');
    await until('the echo comes back', () => frames.map((f) => f.payload).join('').includes('got hello\n') && frames.map((f) => f.payload).join('').includes('err hello\n'));
    assert.ok(frames.every((f) => f.opcode === 0x2));
    send(0x8, '');
    await until('the close is answered', () => frames.some((f) => f.opcode === 0x8));
    ws.socket.destroy();
    await d.request('DELETE', `/containers/${id}?force=1`);
  });

  test('attach over a WebSocket: an unmasked client frame or a message over the limit ends the connection; the daemon carries on', async () => {
    const id = (await d.request('POST', '/containers/create', { Image: 'busybox', Cmd: ['cat'], OpenStdin: true })).json().Id;
    await d.request('POST', `/containers/${id}/start`);
    const open = () =>
      new Promise<Socket>((resolve, reject) => {
        const req = http.request({
          socketPath: d.socket,
          path: `/containers/${id}/attach/ws?stream=1&stdin=1&stdout=1`,
          headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version': '13' },
        });
        req.on('upgrade', (_res, socket) => resolve(socket));
        req.on('response', (res) => reject(new Error(`no upgrade: ${res.statusCode}`)));
        req.on('error', reject);
        req.end();
      });
    /** Resolves with the status code of the server's close frame (undefined if none came) once the connection is gone. */
    const closeCode = (socket: Socket) =>
      new Promise<number | undefined>((resolve) => {
        let buf = Buffer.alloc(0);
        socket.on('data', (b: Buffer) => (buf = Buffer.concat([buf, b])));
        socket.on('error', () => undefined);
        socket.on('close', () => resolve(buf.length >= 4 && (buf[0]! & 0x0f) === 0x8 ? buf.readUInt16BE(2) : undefined));
      });
    const maskedFrame = (first: number, payload: Buffer) => {
      const mask = randomBytes(4);
      const len = payload.length;
      const header = len < 126 ? Buffer.from([first, 0x80 | len]) : Buffer.from([first, 0x80 | 126, len >> 8, len & 0xff]);
      return Buffer.concat([header, mask, Buffer.from(payload.map((b, i) => b ^ mask[i & 3]!))]);
    };
    const within = <T>(p: Promise<T>, what: string) =>
      Promise.race([p, sleep(10_000).then(() => assert.fail(`timed out: ${what}`))]);

    // RFC 6455 5.1: a server must close the connection on an unmasked client frame (1002: protocol error).
    const unmasked = await open();
    const unmaskedClosed = closeCode(unmasked);
    unmasked.write(Buffer.from([0x82, 5, ...Buffer.from('hello')]));
    assert.equal(await within(unmaskedClosed, 'an unmasked frame closes the connection'), 1002);

    // Fragments that never end: the connection goes once the message passes the limit (1009: too big).
    const fragmented = await open();
    const fragmentedClosed = closeCode(fragmented);
    const piece = Buffer.alloc(60_000, 0x61);
    fragmented.write(maskedFrame(0x02, piece)); // binary, FIN not set
    const flood = async () => {
      for (let i = 0; i < 64 && !fragmented.destroyed; i++) {
        // The daemon closing the connection is the expected end: a full buffer then never drains.
        if (!fragmented.write(maskedFrame(0x00, piece))) await new Promise((r) => (fragmented.once('drain', r), fragmented.once('close', r)));
      }
    };
    await flood().catch(() => undefined);
    assert.equal(await within(fragmentedClosed, 'an endless fragmented message closes the connection'), 1009);

    const ping = await d.request('GET', '/_ping');
    assert.equal(ping.status, 200);
    assert.equal(ping.text, 'OK');
    // The container is unharmed: a well-behaved client still gets its input echoed.
    const good = await open();
    let echoed = '';
    good.on('data', (b: Buffer) => (echoed += b.toString('latin1')));
    good.write(maskedFrame(0x82, Buffer.from('still here\n')));
    await until('the echo comes back', () => echoed.includes('still here\n'));
    good.destroy();
    await d.request('DELETE', `/containers/${id}?force=1`);
  });

  test('resize: POST /containers/{id}/resize changes what stty size says inside', async () => {
    const id = (await d.request('POST', '/containers/create', { Image: 'busybox', Cmd: ['sh', '-c', 'while true; do stty size; sleep 0.2; done'], Tty: true })).json().Id;
    await d.request('POST', `/containers/${id}/start`);
    const r = await d.request('POST', `/containers/${id}/resize?h=33&w=77`);
    assert.equal(r.status, 200, r.text);
    await until('the new size is seen', async () => (await d.request('GET', `/containers/${id}/logs?stdout=1`)).text.includes('33 77'));
    assert.equal((await d.request('POST', `/containers/${id}/resize?h=x&w=1`)).status, 400);
    await d.request('POST', `/containers/${id}/kill`);
    await d.request('POST', `/containers/${id}/wait`);
    const stopped = await d.request('POST', `/containers/${id}/resize?h=10&w=10`);
    assert.equal(stopped.status, 409);
    assert.equal(stopped.json().message, `container ${id} is not running`);
    await d.request('DELETE', `/containers/${id}`);
  });

  describe('docker exec', () => {
    before(async () => {
      const r = await d.docker(['run', '-d', '--name', 'web', 'busybox', 'sleep', '1000']);
      assert.equal(r.code, 0, r.stderr);
    });
    after(() => d.docker(['rm', '-f', 'web']));

    test('the exit code reaches the CLI, exec inspect and the events', async () => {
      const since = Date.now() / 1000;
      const r = await d.docker(['exec', 'web', 'sh', '-c', 'echo out; echo err >&2; exit 4']);
      assert.equal(r.code, 4);
      assert.equal(r.stdout, 'out\n');
      assert.equal(r.stderr, 'err\n');
      const ev = await d.request('GET', `/events?since=${since}&until=${Date.now() / 1000 + 0.2}&filters=${encodeURIComponent(JSON.stringify({ container: { web: true } }))}`);
      const events = ev.text.trim().split('\n').map((l) => JSON.parse(l));
      assert.deepEqual(
        events.map((e) => e.Action),
        ['exec_create: sh -c echo out; echo err >&2; exit 4', 'exec_start: sh -c echo out; echo err >&2; exit 4', 'exec_die'],
      );
      assert.equal(events[2].Actor.Attributes.exitCode, '4');
      const execId = events[0].Actor.Attributes.execID;
      const inspect = (await d.request('GET', `/exec/${execId}/json`)).json();
      assert.equal(inspect.ExitCode, 4);
      assert.equal(inspect.Running, false);
      assert.deepEqual(inspect.ProcessConfig, { tty: false, entrypoint: 'sh', arguments: ['-c', 'echo out; echo err >&2; exit 4'], privileged: false });
      assert.equal(inspect.ContainerID, (await d.request('GET', '/containers/web/json')).json().Id);
      assert.ok(inspect.Pid > 0);
    });

    test('docker exec -it: a real terminal where tty and ps -ef work', async () => {
      const s = new PtySession(d, ['exec', '-it', 'web', 'sh'], { rows: 30, cols: 90 });
      await s.waitFor(/# /);
      s.type('tty; stty size; ps -ef; exit 5\r');
      assert.equal(await s.end(), 5, s.output);
      assert.match(s.output, /\/dev\/pts\/\d+\r\n/);
      assert.match(s.output, /\r\n30 90\r\n/);
      assert.match(s.output, /sleep 1000/);
    });

    test('-i with piped input, -e, -w, -u, -d', async () => {
      const piped = await d.docker(['exec', '-i', 'web', 'cat'], 'piped\n');
      assert.equal(piped.stdout, 'piped\n');
      assert.equal(piped.code, 0);
      const env = await d.docker(['exec', '-e', 'A=1', '-w', '/tmp', '-u', 'nobody', 'web', 'sh', '-c', 'echo $A $(pwd) $(id -u)']);
      assert.equal(env.stdout, '1 /tmp 65534\n', env.stderr);
      const detached = await d.docker(['exec', '-d', 'web', 'sh', '-c', 'echo done > /tmp/detached']);
      assert.equal(detached.code, 0, detached.stderr);
      assert.equal(detached.stdout, '');
      await until('the detached exec ran', async () => (await d.docker(['exec', 'web', 'cat', '/tmp/detached'])).stdout === 'done\n');
    });

    test('--privileged gets the capabilities the daemon holds', async () => {
      const plain = await d.docker(['exec', 'web', 'sh', '-c', 'grep CapEff /proc/self/status']);
      const priv = await d.docker(['exec', '--privileged', 'web', 'sh', '-c', 'grep CapEff /proc/self/status']);
      assert.equal(priv.code, 0, priv.stderr);
      const bits = (s: string) => BigInt('0x' + s.trim().split(/\s+/)[1]);
      assert.ok(bits(priv.stdout) > bits(plain.stdout), `${plain.stdout} vs ${priv.stdout}`);
      const own = /^CapEff:\s*(\S+)$/m.exec(spawnSync('cat', ['/proc/self/status']).stdout.toString())![1]!;
      assert.equal(bits(priv.stdout), BigInt('0x' + own));
    });

    test('a missing command is 127, an unknown user 126, with the runtime’s words', async () => {
      const missing = await d.docker(['exec', 'web', 'nope']);
      assert.equal(missing.code, 127);
      assert.match(missing.stdout + missing.stderr, /OCI runtime exec failed: exec failed: unable to start container process: exec: "nope": executable file not found in \$PATH/);
      const user = await d.docker(['exec', '-u', 'nope', 'web', 'true']);
      assert.equal(user.code, 126);
      assert.match(user.stdout + user.stderr, /unable to find user nope: no matching entries in passwd file/);
    });

    test('exec resize reaches the exec’s terminal', async () => {
      const created = await d.request('POST', '/containers/web/exec', { Cmd: ['sh', '-c', 'sleep 1; stty size > /tmp/size'], Tty: true });
      assert.equal(created.status, 201, created.text);
      const id = created.json().Id;
      const start = await d.request('POST', `/exec/${id}/start`, { Detach: true, Tty: true });
      assert.equal(start.status, 200, start.text);
      assert.equal((await d.request('POST', `/exec/${id}/resize?h=21&w=42`)).status, 200);
      await until('the exec has finished', async () => (await d.request('GET', `/exec/${id}/json`)).json().Running === false);
      assert.equal((await d.docker(['exec', 'web', 'cat', '/tmp/size'])).stdout, '21 42\n');
      const again = await d.request('POST', `/exec/${id}/start`, { Detach: true });
      assert.equal(again.status, 409);
      assert.equal(again.json().message, `Error: Exec command ${id} has already run`);
    });

    test('exec start over a hijacked connection: multiplexed output and stdin', async () => {
      const id = (await d.request('POST', '/containers/web/exec', { Cmd: ['sh', '-c', 'read x; echo got $x; echo e >&2; exit 3'], AttachStdin: true, AttachStdout: true, AttachStderr: true })).json().Id;
      const s = await hijack(d, `/exec/${id}/start`, { Detach: false, Tty: false });
      assert.equal(s.status, 101);
      assert.equal(s.contentType, 'application/vnd.docker.multiplexed-stream');
      s.socket.end('line\n');
      await s.closed;
      assert.deepEqual(demux(s.received()), { stdout: 'got line\n', stderr: 'e\n' });
      assert.equal((await d.request('GET', `/exec/${id}/json`)).json().ExitCode, 3);
    });

    test('no exec into a paused or a stopped container (409), nor of nothing (400), nor of an unknown id (404)', async () => {
      assert.equal((await d.docker(['pause', 'web'])).code, 0);
      const paused = await d.request('POST', '/containers/web/exec', { Cmd: ['true'] });
      assert.equal(paused.status, 409);
      assert.equal(paused.json().message, 'Container web is paused, unpause the container before exec');
      const cli = await d.docker(['exec', 'web', 'true']);
      assert.equal(cli.code, 1);
      assert.match(cli.stderr, /Container web is paused, unpause the container before exec/);
      assert.equal((await d.docker(['unpause', 'web'])).code, 0);
      assert.equal((await d.request('POST', '/containers/web/exec', { Cmd: [] })).status, 400);
      assert.equal((await d.request('GET', '/exec/nope/json')).status, 404);
      const id = (await d.request('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'] })).json().Id;
      const stopped = await d.request('POST', `/containers/${id}/exec`, { Cmd: ['true'] });
      assert.equal(stopped.status, 409);
      assert.equal(stopped.json().message, `container ${id} is not running`);
      await d.request('DELETE', `/containers/${id}`);
    });
  });
});

describe('attach after a daemon restart', { skip: (!hasDocker && 'no docker CLI') || (!hasScript && 'no script(1)') }, () => {
  const d = new TestDaemon();
  before(async () => {
    await d.start();
    await d.seedBusybox();
  });
  after(() => d.stop());

  test('a -itd container outlives berthd (kill -9); docker attach to it works with the next berthd', async () => {
    assert.equal((await d.docker(['run', '-itd', '--name', 'survivor', 'busybox', 'sh'])).code, 0);
    await d.kill('SIGKILL');
    await d.start();
    const s = new PtySession(d, ['attach', 'survivor']);
    await sleep(500);
    s.type('echo still-$((40+2))\r');
    await s.waitFor(/still-42/);
    s.type('exit 8\r');
    assert.equal(await s.end(), 8, s.output);
  });
});
