import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { TestDaemon, demux, hasDocker } from './harness.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('container lifecycle as dockerd', () => {
  const d = new TestDaemon();
  before(async () => {
    await d.start();
    await d.seedBusybox();
  });
  after(() => d.stop());

  const create = async (body: object, name?: string) => {
    const r = await d.request('POST', `/containers/create${name ? `?name=${name}` : ''}`, { Image: 'busybox', ...body });
    assert.equal(r.status, 201, r.text);
    return r.json().Id as string;
  };
  const run = async (body: object, name?: string) => {
    const id = await create(body, name);
    const r = await d.request('POST', `/containers/${id}/start`);
    assert.equal(r.status, 204, r.text);
    return id;
  };
  const inspect = async (id: string) => (await d.request('GET', `/containers/${id}/json`)).json();
  const until = async (what: string, pred: () => Promise<boolean>, ms = 10_000) => {
    const end = Date.now() + ms;
    while (!(await pred())) {
      if (Date.now() > end) assert.fail(`timed out: ${what}`);
      await sleep(50);
    }
  };

  test('exec start frames output by the start request\'s Tty, as dockerd (docker-py starts TTY execs without it)', async () => {
    const id = await run({ Cmd: ['sleep', '1000'] });
    const ex = (await d.request('POST', `/containers/${id}/exec`, { Cmd: ['echo', 'framed'], Tty: true, AttachStdout: true })).json().Id;
    const out = await d.request('POST', `/exec/${ex}/start`, { Detach: false, Tty: false });
    assert.equal(out.status, 200, out.text);
    assert.equal(out.headers['content-type'], 'application/vnd.docker.multiplexed-stream');
    assert.equal(demux(out.body).stdout, 'framed\r\n');
    const raw = (await d.request('POST', `/containers/${id}/exec`, { Cmd: ['echo', 'raw'], Tty: true, AttachStdout: true })).json().Id;
    const rawOut = await d.request('POST', `/exec/${raw}/start`, { Detach: false, Tty: true });
    assert.equal(rawOut.text, 'raw\r\n');
    await d.request('DELETE', `/containers/${id}?force=1`);
  });

  test('exec inspect has Docker fields, ProcessConfig included', async () => {
    const id = await run({ Cmd: ['sleep', '1000'] });
    const ex = (await d.request('POST', `/containers/${id}/exec`, { Cmd: ['sh', '-c', 'exit 4'], Tty: true, User: 'nobody', AttachStdout: true })).json().Id;
    const created = (await d.request('GET', `/exec/${ex}/json`)).json();
    assert.deepEqual(created.ProcessConfig, { tty: true, entrypoint: 'sh', arguments: ['-c', 'exit 4'], privileged: false, user: 'nobody' });
    assert.equal(created.Running, false);
    assert.equal(created.ExitCode, null);
    assert.equal(created.CanRemove, false);
    assert.equal(created.ContainerID, id);
    assert.equal(created.DetachKeys, '');
    assert.equal(created.OpenStdout, true);
    assert.equal(created.OpenStdin, false);
    assert.equal(created.Pid, 0);
    assert.equal((await d.request('POST', `/exec/${ex}/start`, { Detach: true })).status, 200);
    await until('exec exit', async () => (await d.request('GET', `/exec/${ex}/json`)).json().ExitCode === 4);
    const noUser = (await d.request('POST', `/containers/${id}/exec`, { Cmd: ['true'], DetachKeys: 'ctrl-a,b' })).json().Id;
    const i2 = (await d.request('GET', `/exec/${noUser}/json`)).json();
    assert.deepEqual(i2.ProcessConfig, { tty: false, entrypoint: 'true', arguments: [], privileged: false });
    assert.equal(Buffer.from(i2.DetachKeys, 'base64').toString('hex'), '0162');
    const bad = await d.request('POST', `/containers/${id}/exec`, { Cmd: ['true'], DetachKeys: 'ctrl-1' });
    assert.equal(bad.json().message, 'Invalid escape keys (ctrl-1) provided');
    await d.request('DELETE', `/containers/${id}?force=1`);
  });

  test('MaskedPaths and ReadonlyPaths: defaults in inspect, none when privileged, given ones used', async () => {
    const id = await create({ Cmd: ['true'] });
    const hc = (await inspect(id)).HostConfig;
    assert.ok(hc.MaskedPaths.includes('/proc/kcore') && hc.MaskedPaths.includes('/sys/firmware'), JSON.stringify(hc.MaskedPaths));
    assert.equal(hc.MaskedPaths[0], '/proc/asound');
    assert.deepEqual(hc.ReadonlyPaths, ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger']);
    const priv = await create({ Cmd: ['true'], HostConfig: { Privileged: true } });
    const phc = (await inspect(priv)).HostConfig;
    assert.equal(phc.MaskedPaths, null);
    assert.equal(phc.ReadonlyPaths, null);
    const given = await run({ Cmd: ['sh', '-c', 'cat /proc/kcore >/dev/null 2>&1; echo k$?; echo x > /proc/sys/kernel/hostname 2>/dev/null; echo h$?; wc -c < /proc/timer_list'], HostConfig: { MaskedPaths: ['/proc/timer_list'], ReadonlyPaths: [] } });
    assert.deepEqual((await inspect(given)).HostConfig.MaskedPaths, ['/proc/timer_list']);
    await d.request('POST', `/containers/${given}/wait`);
    const out = demux((await d.request('GET', `/containers/${given}/logs?stdout=1&stderr=1`)).body).stdout;
    assert.match(out, /^0$/m, out); // /proc/timer_list masked: empty
    await d.request('DELETE', `/containers/${given}`);
  });

  test('stats have networks with eth0 on a bridge, none for --network none', async () => {
    const id = await run({ Cmd: ['sleep', '1000'] });
    const s = (await d.request('GET', `/containers/${id}/stats?stream=0&one-shot=1`)).json();
    assert.ok(s.networks?.eth0, JSON.stringify(s));
    for (const k of ['rx_bytes', 'rx_packets', 'rx_errors', 'rx_dropped', 'tx_bytes', 'tx_packets', 'tx_errors', 'tx_dropped']) assert.equal(typeof s.networks.eth0[k], 'number', k);
    const none = await run({ Cmd: ['sleep', '1000'], HostConfig: { NetworkMode: 'none' } });
    const s2 = (await d.request('GET', `/containers/${none}/stats?stream=0&one-shot=1`)).json();
    assert.equal(s2.networks, undefined);
    await d.request('DELETE', `/containers/${id}?force=1`);
    await d.request('DELETE', `/containers/${none}?force=1`);
  });

  test('commit: Parent is the container image; ENV changes expand against the container env', async () => {
    const img = (await d.request('GET', '/images/busybox/json')).json().Id;
    const id = await create({ Cmd: ['true'], Env: ['FOO=bar'] });
    const changes = encodeURIComponent('ENV PATH=$PATH:/x') + '&changes=' + encodeURIComponent('ENV B=${FOO}-1');
    const r = await d.request('POST', `/commit?container=${id}&repo=committed&tag=v1&changes=${changes}`);
    assert.equal(r.status, 201, r.text);
    const ci = (await d.request('GET', '/images/committed:v1/json')).json();
    assert.equal(ci.Parent, img);
    const env: string[] = ci.Config.Env;
    assert.ok(env.includes('PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/x') || env.some((e) => /^PATH=.+:\/x$/.test(e) && !e.includes('$')), JSON.stringify(env));
    assert.ok(env.includes('B=bar-1'), JSON.stringify(env));
    const hist = (await d.request('GET', '/images/committed:v1/history')).json();
    assert.equal(hist[0].Id, ci.Id);
    assert.equal(hist[1].Id, img);
    const list = (await d.request('GET', '/images/json')).json().find((x: any) => x.Id === ci.Id);
    assert.equal(list.ParentId, img);
    await d.request('DELETE', `/containers/${id}`);
  });

  test('wait returns at the next exit of a container that will restart', async () => {
    const id = await run({ Cmd: ['sh', '-c', 'sleep 0.3; exit 5'], HostConfig: { RestartPolicy: { Name: 'always' } } });
    for (const cond of ['not-running', 'next-exit']) {
      const r = await Promise.race([d.request('POST', `/containers/${id}/wait?condition=${cond}`), sleep(8000).then(() => undefined)]);
      assert.ok(r, `wait ${cond} returned`);
      assert.equal(r.json().StatusCode, 5);
    }
    await d.request('DELETE', `/containers/${id}?force=1`);
  });

  test('a kill with the stop signal, or docker stop, is not followed by a restart', async () => {
    const trap = ['sh', '-c', 'trap "exit 7" USR1 TERM; while true; do sleep 0.1; done'];
    const own = await run({ Cmd: trap, StopSignal: 'SIGUSR1', HostConfig: { RestartPolicy: { Name: 'always' } } });
    assert.equal((await d.request('POST', `/containers/${own}/kill?signal=SIGUSR1`)).status, 204);
    await until('exit', async () => (await inspect(own)).State.ExitCode === 7);
    await sleep(1500);
    let c = await inspect(own);
    assert.equal(c.RestartCount, 0);
    assert.equal(c.State.Status, 'exited');
    // Another signal than its stop signal: restarted (policy always).
    const other = await run({ Cmd: trap, StopSignal: 'SIGUSR1', HostConfig: { RestartPolicy: { Name: 'always' } } });
    await d.request('POST', `/containers/${other}/kill?signal=SIGTERM`);
    await until('restart', async () => (await inspect(other)).RestartCount === 1);
    // Default stop signal (none set): docker kill -s TERM ends it for good.
    const def = await run({ Cmd: trap, HostConfig: { RestartPolicy: { Name: 'always' } } });
    await d.request('POST', `/containers/${def}/kill?signal=SIGTERM`);
    await until('exit', async () => (await inspect(def)).State.ExitCode === 7);
    await sleep(1500);
    c = await inspect(def);
    assert.equal(c.RestartCount, 0);
    assert.equal(c.State.Running, false);
    // docker kill (SIGKILL) of an unless-stopped container
    const us = await run({ Cmd: ['sleep', '1000'], HostConfig: { RestartPolicy: { Name: 'unless-stopped' } } });
    await d.request('POST', `/containers/${us}/kill`);
    await sleep(1500);
    assert.equal((await inspect(us)).RestartCount, 0);
    for (const x of [own, other, def, us]) await d.request('DELETE', `/containers/${x}?force=1`);
  });

  test('kill returns once the exit is recorded', async () => {
    for (const q of ['', '?signal=9', '?signal=KILL']) {
      const id = await run({ Cmd: ['sleep', '1000'] });
      assert.equal((await d.request('POST', `/containers/${id}/kill${q}`)).status, 204);
      const s = (await inspect(id)).State;
      assert.equal(s.Status, 'exited', q);
      assert.equal(s.ExitCode, 137);
      await d.request('DELETE', `/containers/${id}`);
    }
  });

  test('an --rm container can be restarted and stopped then started', async () => {
    const id = await run({ Cmd: ['sleep', '1000'], StopTimeout: 1, HostConfig: { AutoRemove: true } });
    const r = await d.request('POST', `/containers/${id}/restart?t=0`);
    assert.equal(r.status, 204, r.text);
    const c = await inspect(id);
    assert.equal(c.State.Status, 'running');
    const r2 = await d.request('POST', `/containers/${id}/restart?t=0`);
    assert.equal(r2.status, 204, r2.text);
    assert.equal((await d.request('POST', `/containers/${id}/stop?t=0`)).status, 204);
    await until('removed', async () => (await d.request('GET', `/containers/${id}/json`)).status === 404);
  });

  test('update --pids-limit takes effect and shows in inspect', async () => {
    const id = await run({ Cmd: ['sleep', '1000'] });
    const r = await d.request('POST', `/containers/${id}/update`, { PidsLimit: 42, CpuShares: 512, Memory: 64 * 1024 * 1024 });
    assert.equal(r.status, 200, r.text);
    const hc = (await inspect(id)).HostConfig;
    assert.equal(hc.PidsLimit, 42);
    assert.equal(hc.CpuShares, 512);
    assert.equal(hc.Memory, 64 * 1024 * 1024);
    const s = (await d.request('GET', `/containers/${id}/stats?stream=0&one-shot=1`)).json();
    assert.equal(s.pids_stats.limit, 42);
    const cg = ['/sys/fs/cgroup/pids/berth', '/sys/fs/cgroup/berth'].map((p) => path.join(p, id, 'pids.max')).find(existsSync);
    if (cg) assert.equal(readFileSync(cg, 'utf8').trim(), '42');
    await d.request('DELETE', `/containers/${id}?force=1`);
  });

  test('volume subpath mounts', async () => {
    assert.equal((await d.request('POST', '/volumes/create', { Name: 'subv' })).status, 201);
    const fill = await run({ Cmd: ['sh', '-c', 'mkdir -p /v/sub/deep && echo hi > /v/sub/deep/f && echo top > /v/top'], HostConfig: { Binds: ['subv:/v'] } });
    await d.request('POST', `/containers/${fill}/wait`);
    const id = await run({ Cmd: ['sh', '-c', 'cat /d/deep/f; ls /d'], HostConfig: { Mounts: [{ Type: 'volume', Source: 'subv', Target: '/d', VolumeOptions: { Subpath: 'sub' } }] } });
    assert.equal((await d.request('POST', `/containers/${id}/wait`)).json().StatusCode, 0);
    assert.equal(demux((await d.request('GET', `/containers/${id}/logs?stdout=1`)).body).stdout, 'hi\ndeep\n');
    const missing = await create({ Cmd: ['true'], HostConfig: { Mounts: [{ Type: 'volume', Source: 'subv', Target: '/d', VolumeOptions: { Subpath: 'nope' } }] } });
    const r = await d.request('POST', `/containers/${missing}/start`);
    assert.equal(r.status, 404, r.text);
    assert.match(r.json().message, /cannot access path .*\/nope/);
    // A symlink in the volume cannot lead the mount out of it.
    const link = await run({ Cmd: ['ln', '-s', '/etc', '/v/esc'], HostConfig: { Binds: ['subv:/v'] } });
    await d.request('POST', `/containers/${link}/wait`);
    const escaping = await create({ Cmd: ['true'], HostConfig: { Mounts: [{ Type: 'volume', Source: 'subv', Target: '/d', VolumeOptions: { Subpath: 'esc' } }] } });
    const r3 = await d.request('POST', `/containers/${escaping}/start`);
    assert.equal(r3.status, 400, r3.text);
    assert.match(r3.json().message, /escapes the base directory/);
    assert.ok(!readFileSync('/proc/self/mounts', 'utf8').includes(path.join(d.execRoot, 'subpaths')), 'no staging mount left');
    const esc = await d.request('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: { Mounts: [{ Type: 'volume', Source: 'subv', Target: '/d', VolumeOptions: { Subpath: '../x' } }] } });
    assert.equal(esc.status, 400, esc.text);
    if (hasDocker) {
      const cli = await d.docker(['run', '--rm', '--mount', 'type=volume,src=subv,dst=/d,volume-subpath=sub/deep', 'busybox', 'cat', '/d/f']);
      assert.equal(cli.stdout, 'hi\n', cli.stderr);
    }
    for (const x of [fill, id, missing, link, escaping]) await d.request('DELETE', `/containers/${x}?force=1`);
  });

  test('exec honours the detach keys of its create body', { skip: !hasDocker }, async () => {
    const id = await run({ Cmd: ['sleep', '1000'], Tty: true, OpenStdin: true });
    const ex = (await d.request('POST', `/containers/${id}/exec`, { Cmd: ['cat'], Tty: true, AttachStdin: true, AttachStdout: true, DetachKeys: 'ctrl-a' })).json().Id;
    const { Socket } = await import('node:net');
    const sock = new Socket();
    await new Promise<void>((r) => sock.connect(d.socket, r));
    sock.write(`POST /exec/${ex}/start HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: 28\r\n\r\n{"Detach":false,"Tty":true}`.replace('Content-Length: 28', `Content-Length: ${'{"Detach":false,"Tty":true}'.length}`));
    let got = '';
    sock.on('data', (b) => (got += b.toString('latin1')));
    await until('upgraded', async () => got.includes('101'));
    sock.write('hello\r');
    await until('echo', async () => got.includes('hello'));
    sock.write(Buffer.from([1]));
    const closed = await Promise.race([new Promise((r) => sock.once('close', () => r(true))), sleep(3000).then(() => false)]);
    assert.ok(closed, 'ctrl-a detached the exec session');
    sock.destroy();
    await d.request('DELETE', `/containers/${id}?force=1`);
  });
});

describe('a long exec root and data root', () => {
  class LongDaemon extends TestDaemon {
    override get execRoot() {
      return path.join(this.root, 'exec-' + 'e'.repeat(60), 'r'.repeat(60));
    }
    override get dataRoot() {
      return path.join(this.root, 'data-' + 'd'.repeat(60), 'x'.repeat(60));
    }
  }
  const d = new LongDaemon();
  before(async () => {
    assert.ok(d.execRoot.length >= 140, `${d.execRoot.length}`);
    await d.start();
    await d.seedBusybox();
  });
  after(() => d.stop());

  test('attach and exec work', async () => {
    const id = (await d.request('POST', '/containers/create', { Image: 'busybox', Cmd: ['sh', '-c', 'echo hello; sleep 1000'] })).json().Id;
    assert.equal((await d.request('POST', `/containers/${id}/start`)).status, 204);
    // The shell may not have run `echo` yet when start returns: ask again until it has.
    let replayed = '';
    for (let i = 0; i < 50 && !replayed; i++) {
      replayed = demux((await d.request('POST', `/containers/${id}/attach?stdout=1&logs=1&stream=0`)).body).stdout;
      if (!replayed) await sleep(100);
    }
    assert.equal(replayed, 'hello\n');
    const ex = (await d.request('POST', `/containers/${id}/exec`, { Cmd: ['echo', 'from-exec'], AttachStdout: true })).json().Id;
    const out = await d.request('POST', `/exec/${ex}/start`, { Detach: false });
    assert.equal(out.status, 200, out.text);
    assert.equal(demux(out.body).stdout, 'from-exec\n');
    if (hasDocker) {
      const cli = await d.docker(['exec', id, 'echo', 'cli']);
      assert.equal(cli.stdout, 'cli\n', cli.stderr);
      const r = await d.docker(['run', '--rm', '-i', 'busybox', 'cat'], 'piped\n');
      assert.equal(r.stdout, 'piped\n', r.stderr);
    }
    await d.request('DELETE', `/containers/${id}?force=1`);
  });
});

void readdirSync;
