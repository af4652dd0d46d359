import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import http from 'node:http';
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { TestDaemon, demux, hasDocker } from './harness.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const hasDockerPy = spawnSync('python3', ['-c', 'import docker']).status === 0;
const RFC3339NANO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/;

describe('logging drivers', () => {
  const d = new TestDaemon();
  before(async () => {
    await d.start();
    await d.seedBusybox();
  });
  after(async () => {
    for (const c of (await d.request('GET', '/containers/json?all=1')).json()) await d.request('DELETE', `/containers/${c.Id}?force=1`);
    await d.stop();
  });

  const create = async (body: object) => {
    const r = await d.request('POST', '/containers/create', { Image: 'busybox', ...body });
    assert.equal(r.status, 201, r.text);
    return r.json().Id as string;
  };
  const runToEnd = async (body: object) => {
    const id = await create(body);
    assert.equal((await d.request('POST', `/containers/${id}/start`)).status, 204);
    await d.request('POST', `/containers/${id}/wait`);
    return id;
  };
  const inspect = async (id: string) => (await d.request('GET', `/containers/${id}/json`)).json();
  const containerCount = async () => (await d.request('GET', '/containers/json?all=1')).json().length as number;

  test('json-file is the default: inspect, /info, and LogPath holds Docker JSON lines', async () => {
    const info = (await d.request('GET', '/info')).json();
    assert.equal(info.LoggingDriver, 'json-file');
    assert.deepEqual(info.Plugins.Log, ['json-file', 'local']);
    const created = await create({ Cmd: ['true'] });
    assert.equal((await inspect(created)).LogPath, '', 'no LogPath before the first start, as dockerd');
    const id = await runToEnd({ Cmd: ['sh', '-c', 'echo out; echo err >&2; printf "no newline <&>"'] });
    const c = await inspect(id);
    assert.deepEqual(c.HostConfig.LogConfig, { Type: 'json-file', Config: {} });
    assert.equal(c.LogPath, path.join(d.dataRoot, 'containers', id, `${id}-json.log`));
    const lines = readFileSync(c.LogPath, 'utf8').split('\n');
    assert.equal(lines.pop(), '');
    const entries = lines.map((l) => JSON.parse(l));
    assert.deepEqual(
      entries.map((e) => [e.log, e.stream]).sort(),
      [['err\n', 'stderr'], ['no newline <&>', 'stdout'], ['out\n', 'stdout']],
    );
    for (const e of entries) {
      assert.deepEqual(Object.keys(e), ['log', 'stream', 'time']);
      assert.match(e.time, RFC3339NANO_UTC);
    }
    // Go's encoder escapes < > & in strings.
    assert.ok(lines.some((l) => l.startsWith('{"log":"no newline \\u003c\\u0026\\u003e","stream":"stdout","time":"')), lines.join('\n'));
    const logs = demux((await d.request('GET', `/containers/${id}/logs?stdout=1&stderr=1`)).body);
    assert.deepEqual(logs, { stdout: 'out\nno newline <&>', stderr: 'err\n' });
  });

  test('json-file max-size/max-file rotate, and docker logs reads every kept file', async () => {
    // 450 lines of 101 bytes of output: ~72 KB of JSON entries; 20k x 5 keeps all of it in 4 files.
    const id = await runToEnd({
      Cmd: ['sh', '-c', 'i=0; while [ $i -lt 450 ]; do printf "%04d%096d\\n" $i 0; i=$((i+1)); done'],
      HostConfig: { LogConfig: { Type: 'json-file', Config: { 'max-size': '20k', 'max-file': '5' } } },
    });
    const dir = path.join(d.dataRoot, 'containers', id);
    const files = readdirSync(dir).filter((f) => f.startsWith(`${id}-json.log`)).sort();
    assert.deepEqual(files, [`${id}-json.log`, `${id}-json.log.1`, `${id}-json.log.2`, `${id}-json.log.3`], files.join(' '));
    for (const f of files.slice(1)) {
      const size = readFileSync(path.join(dir, f)).length;
      assert.ok(size >= 20_000 && size < 20_000 + 200, `${f} rotated at max-size (${size})`);
    }
    const out = demux((await d.request('GET', `/containers/${id}/logs?stdout=1`)).body).stdout.split('\n');
    assert.equal(out.length, 451);
    assert.deepEqual(out.slice(0, 450).map((l) => Number(l.slice(0, 4))), [...Array(450).keys()]);
    const tail = demux((await d.request('GET', `/containers/${id}/logs?stdout=1&tail=250`)).body).stdout.split('\n');
    assert.deepEqual(tail.slice(0, 250).map((l) => Number(l.slice(0, 4))), [...Array(250).keys()].map((i) => i + 200));

    // max-file 2: the oldest output is dropped, as dockerd drops it.
    const id2 = await runToEnd({
      Cmd: ['sh', '-c', 'i=0; while [ $i -lt 600 ]; do printf "%04d%096d\\n" $i 0; i=$((i+1)); done'],
      HostConfig: { LogConfig: { Type: 'json-file', Config: { 'max-size': '20k', 'max-file': '2', compress: 'true' } } },
    });
    const files2 = readdirSync(path.join(d.dataRoot, 'containers', id2)).filter((f) => f.startsWith(`${id2}-json.log`)).sort();
    assert.deepEqual(files2, [`${id2}-json.log`, `${id2}-json.log.1.gz`]);
    const kept = demux((await d.request('GET', `/containers/${id2}/logs?stdout=1`)).body).stdout.split('\n').slice(0, -1);
    assert.ok(kept.length < 300 && kept.length > 100, `two files of ~117 lines: ${kept.length}`);
    assert.equal(kept.at(-1)!.slice(0, 4), '0599');
    const nums = kept.map((l) => Number(l.slice(0, 4)));
    assert.deepEqual(nums, nums.map((_, i) => nums[0]! + i), 'a contiguous run of the newest lines');
  });

  test('local driver: docker logs works, rotation on by default, no LogPath', async () => {
    const id = await runToEnd({ Cmd: ['sh', '-c', 'echo a; echo b >&2'], HostConfig: { LogConfig: { Type: 'local', Config: {} } } });
    const c = await inspect(id);
    assert.equal(c.LogPath, '');
    assert.equal(c.HostConfig.LogConfig.Type, 'local');
    assert.ok(existsSync(path.join(d.dataRoot, 'containers', id, 'local-logs', 'container.log')));
    assert.deepEqual(demux((await d.request('GET', `/containers/${id}/logs?stdout=1&stderr=1`)).body), { stdout: 'a\n', stderr: 'b\n' });
    const small = await runToEnd({
      Cmd: ['sh', '-c', 'i=0; while [ $i -lt 400 ]; do printf "%04d%096d\\n" $i 0; i=$((i+1)); done'],
      HostConfig: { LogConfig: { Type: 'local', Config: { 'max-size': '10k', 'max-file': '3' } } },
    });
    const files = readdirSync(path.join(d.dataRoot, 'containers', small, 'local-logs')).sort();
    assert.deepEqual(files, ['container.log', 'container.log.1.gz', 'container.log.2.gz'], 'compressed by default');
  });

  test('none: no log file, docker logs is refused with 501, attach still works', async () => {
    const id = await create({ Cmd: ['sh', '-c', 'sleep 0.5; echo live'], AttachStdout: true, HostConfig: { LogConfig: { Type: 'none', Config: {} } } });
    // Attach before start: the output comes through conmon's attach socket.
    const attached = new Promise<Buffer>((resolve, reject) => {
      const req = http.request({ socketPath: d.socket, method: 'POST', path: `/containers/${id}/attach?stream=1&stdout=1`, headers: { Connection: 'Upgrade', Upgrade: 'tcp' } });
      req.on('upgrade', (_res, socket, head) => {
        const chunks: Buffer[] = [head];
        socket.on('data', (c: Buffer) => chunks.push(c));
        socket.on('end', () => resolve(Buffer.concat(chunks)));
        socket.on('error', reject);
        void d.request('POST', `/containers/${id}/start`);
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(demux(await attached).stdout, 'live\n');
    await d.request('POST', `/containers/${id}/wait`);
    const r = await d.request('GET', `/containers/${id}/logs?stdout=1`);
    assert.equal(r.status, 501);
    assert.equal(r.json().message, 'configured logging driver does not support reading');
    const dir = path.join(d.dataRoot, 'containers', id);
    assert.deepEqual(readdirSync(dir).filter((f) => f.includes('log')), [], 'no log file of any kind');
    assert.equal((await inspect(id)).LogPath, '');
  });

  test('unknown drivers and bad options: 400 with dockerd words, nothing created', async () => {
    const before = await containerCount();
    const cases: [object, string][] = [
      [{ Type: 'foo', Config: {} }, "logger: no log driver named 'foo' is registered"],
      [{ Type: 'syslog', Config: {} }, "logger: no log driver named 'syslog' is registered"],
      [{ Type: 'json-file', Config: { 'max-size': 'abc' } }, "failed to initialize logging driver: invalid size: 'abc'"],
      [{ Type: 'json-file', Config: { 'max-size': '0' } }, 'failed to initialize logging driver: max-size must be a positive number'],
      [{ Type: 'json-file', Config: { 'max-file': '0', 'max-size': '1m' } }, 'failed to initialize logging driver: max-file cannot be less than 1'],
      [{ Type: 'json-file', Config: { compress: 'true' } }, 'failed to initialize logging driver: compress cannot be true when max-file is less than 2 or max-size is not set'],
      [{ Type: 'json-file', Config: { bogus: '1' } }, "unknown log opt 'bogus' for json-file log driver"],
      [{ Type: 'local', Config: { bogus: '1' } }, "unknown log opt 'bogus' for log driver local"],
      [{ Type: 'local', Config: { 'max-file': '1' } }, 'failed to initialize logging driver: compression cannot be enabled when max file count is 1'],
      [{ Type: 'json-file', Config: { mode: 'fast' } }, 'logger: logging mode not supported: fast'],
    ];
    for (const [LogConfig, message] of cases) {
      const r = await d.request('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: { LogConfig } });
      assert.equal(r.status, 400, JSON.stringify(LogConfig));
      assert.equal(r.json().message, message);
    }
    assert.equal(await containerCount(), before);
  });

  test('output written while berthd was SIGKILLed appears in docker logs and in LogPath after restart', async () => {
    const id = await create({ Cmd: ['sh', '-c', 'echo one; sleep 2; echo two; sleep 1; echo three; sleep 600'] });
    assert.equal((await d.request('POST', `/containers/${id}/start`)).status, 204);
    await sleep(600);
    await d.kill('SIGKILL');
    await sleep(3000); // "two" and "three" are written while no daemon runs
    await d.start();
    const logs = demux((await d.request('GET', `/containers/${id}/logs?stdout=1`)).body).stdout;
    assert.equal(logs, 'one\ntwo\nthree\n');
    const c = await inspect(id);
    assert.equal(c.State.Running, true);
    const inFile = readFileSync(c.LogPath, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l).log);
    assert.deepEqual(inFile, ['one\n', 'two\n', 'three\n'], 'nothing lost, nothing copied twice');
    // The adopted container goes on being copied.
    const ex = await d.request('POST', `/containers/${id}/exec`, { Cmd: ['sh', '-c', 'echo four > /proc/1/fd/1'] });
    await d.request('POST', `/exec/${ex.json().Id}/start`, { Detach: true });
    for (let i = 0; i < 40 && !readFileSync(c.LogPath, 'utf8').includes('four'); i++) await sleep(50);
    assert.ok(readFileSync(c.LogPath, 'utf8').includes('"log":"four\\n"'));
    await d.request('DELETE', `/containers/${id}?force=1`);
  });

  test('the docker CLI: run output, logs with options, none and unknown drivers', { skip: !hasDocker }, async () => {
    const run = await d.docker(['run', '--name', 'cli-json', 'busybox', 'sh', '-c', 'echo one; echo two >&2']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, 'one\n');
    const logs = await d.docker(['logs', '-t', '--tail', '1', 'cli-json']);
    assert.match(logs.stderr, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z two\n$/);
    const none = await d.docker(['run', '--name', 'cli-none', '--log-driver', 'none', 'busybox', 'echo', 'attached']);
    assert.equal(none.stdout, 'attached\n');
    const refused = await d.docker(['logs', 'cli-none']);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /Error response from daemon: configured logging driver does not support reading/);
    const unknown = await d.docker(['run', '--name', 'cli-foo', '--log-driver', 'foo', 'busybox', 'true']);
    assert.equal(unknown.code, 125);
    assert.match(unknown.stderr, /Error response from daemon: logger: no log driver named 'foo' is registered/);
    assert.notEqual((await d.docker(['inspect', 'cli-foo'])).code, 0, 'nothing created');
    const rotated = await d.docker(['run', '--name', 'cli-rot', '--log-opt', 'max-size=1k', '--log-opt', 'max-file=3', 'busybox', 'sh', '-c', 'seq 1 100']);
    assert.equal(rotated.code, 0, rotated.stderr);
    const kept = (await d.docker(['logs', 'cli-rot'])).stdout.trim().split('\n').map(Number);
    assert.equal(kept.at(-1), 100);
    assert.ok(kept.length < 100, 'the oldest rotated away');
  });

  test("docker-py's containers.run() without detach returns the output (it does so only for json-file, journald, local)", { skip: !hasDockerPy }, () => {
    const script = `import docker\nc = docker.DockerClient(base_url="${d.host}")\nprint(c.containers.run("busybox", ["echo", "hello"], remove=True).decode(), end="")`;
    assert.equal(execFileSync('python3', ['-c', script], { encoding: 'utf8' }), 'hello\n');
  });

  test('a client hanging up during logs -f does not hurt the daemon', async () => {
    const id = await create({ Cmd: ['sh', '-c', 'while true; do echo tick; sleep 0.05; done'] });
    await d.request('POST', `/containers/${id}/start`);
    for (let n = 0; n < 5; n++) {
      await new Promise<void>((resolve) => {
        const req = http.request({ socketPath: d.socket, path: `/containers/${id}/logs?stdout=1&follow=1` }, (res) => {
          res.once('data', () => {
            req.destroy();
            resolve();
          });
        });
        req.on('error', () => resolve());
        req.end();
      });
    }
    // A client that never reads: its socket fills and then it goes.
    const stalled = http.request({ socketPath: d.socket, path: `/containers/${id}/logs?stdout=1&follow=1` }, (res) => res.pause());
    stalled.end();
    await sleep(500);
    stalled.destroy();
    await sleep(200);
    assert.equal((await d.request('GET', '/_ping')).status, 200);
    // (More than two when ticks land between the tail scan and the end of the read.)
    const out = demux((await d.request('GET', `/containers/${id}/logs?stdout=1&tail=2`)).body).stdout;
    assert.match(out, /^tick\ntick\n(tick\n)*$/);
    await d.request('DELETE', `/containers/${id}?force=1`);
  });
});

describe('daemon default log driver', () => {
  const d = new TestDaemon(['--log-driver', 'local', '--log-opt', 'max-size=1m']);
  before(async () => {
    await d.start();
    await d.seedBusybox();
  });
  after(() => d.stop());

  test('--log-driver/--log-opt are the default for new containers and in /info', async () => {
    assert.equal((await d.request('GET', '/info')).json().LoggingDriver, 'local');
    const r = await d.request('POST', '/containers/create', { Image: 'busybox', Cmd: ['echo', 'hi'] });
    assert.equal(r.status, 201, r.text);
    const c = (await d.request('GET', `/containers/${r.json().Id}/json`)).json();
    assert.deepEqual(c.HostConfig.LogConfig, { Type: 'local', Config: { 'max-size': '1m' } });
    // Another driver does not inherit the daemon's options.
    const other = await d.request('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: { LogConfig: { Type: 'json-file' } } });
    assert.deepEqual((await d.request('GET', `/containers/${other.json().Id}/json`)).json().HostConfig.LogConfig, { Type: 'json-file', Config: {} });
  });

  test('a bad daemon default stops berthd with the reason', async () => {
    const bad = new TestDaemon(['--log-driver', 'nope']);
    await assert.rejects(bad.start(), /failed to set log opts: logger: no log driver named 'nope' is registered/);
    await bad.stop();
  });
});
