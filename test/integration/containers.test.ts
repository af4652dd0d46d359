import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { TestDaemon, demux } from './harness.js';

describe('container lifecycle over the API', () => {
  const d = new TestDaemon();
  before(async () => {
    await d.start();
    await d.seedBusybox();
  });
  after(async () => {
    for (const c of (await d.request('GET', '/containers/json?all=1')).json()) await d.request('DELETE', `/containers/${c.Id}?force=1`);
    await d.stop();
  });

  const create = async (body: object, name?: string) => {
    const r = await d.request('POST', `/containers/create${name ? `?name=${name}` : ''}`, { Image: 'busybox', ...body });
    assert.equal(r.status, 201, r.text);
    return r.json().Id as string;
  };
  const waitExit = async (id: string) => (await d.request('POST', `/containers/${id}/wait`)).json().StatusCode as number;

  test('create, start, wait: exit code, logs with separate streams', async () => {
    const id = await create({ Cmd: ['sh', '-c', 'echo out; echo err >&2; exit 3'] }, 'exit3');
    const created = (await d.request('GET', `/containers/${id}/json`)).json();
    assert.equal(created.State.Status, 'created');
    assert.equal(created.Name, '/exit3');
    assert.equal(created.Config.Hostname, id.slice(0, 12));
    assert.equal((await d.request('POST', `/containers/${id}/start`)).status, 204);
    assert.equal(await waitExit(id), 3);
    const after = (await d.request('GET', `/containers/exit3/json`)).json();
    assert.equal(after.State.Status, 'exited');
    assert.equal(after.State.ExitCode, 3);
    assert.equal(after.State.Running, false);
    assert.notEqual(after.State.FinishedAt, '0001-01-01T00:00:00Z');
    const logs = await d.request('GET', `/containers/${id}/logs?stdout=1&stderr=1`);
    assert.deepEqual(demux(logs.body), { stdout: 'out\n', stderr: 'err\n' });
    const onlyErr = await d.request('GET', `/containers/${id}/logs?stderr=1`);
    assert.deepEqual(demux(onlyErr.body), { stdout: '', stderr: 'err\n' });
    assert.equal((await d.request('GET', `/containers/${id}/logs`)).status, 400);
  });

  test('a running container: top, pause, unpause, stop with its signal and timeout', async () => {
    const id = await create({ Cmd: ['sleep', '1000'] }, 'sleeper');
    await d.request('POST', `/containers/${id}/start`);
    const running = (await d.request('GET', `/containers/${id}/json`)).json();
    assert.equal(running.State.Status, 'running');
    assert.ok(running.State.Pid > 0);
    const top = (await d.request('GET', `/containers/${id}/top`)).json();
    assert.ok(top.Titles.includes('PID'));
    assert.ok(top.Processes.some((p: string[]) => p.at(-1)!.includes('sleep 1000')));
    assert.equal((await d.request('POST', `/containers/${id}/pause`)).status, 204);
    assert.equal((await d.request('GET', `/containers/${id}/json`)).json().State.Status, 'paused');
    assert.equal((await d.request('POST', `/containers/${id}/unpause`)).status, 204);
    const started = Date.now();
    assert.equal((await d.request('POST', `/containers/${id}/stop?t=1`)).status, 204);
    const elapsed = Date.now() - started;
    // sleep ignores nothing: SIGTERM ends PID 1 only if it handles it; busybox sleep as PID 1 does not, so SIGKILL after 1s.
    assert.ok(elapsed >= 900 && elapsed < 8000, `stop took ${elapsed}ms`);
    const stopped = (await d.request('GET', `/containers/${id}/json`)).json();
    assert.equal(stopped.State.Status, 'exited');
    assert.equal(stopped.State.ExitCode, 137);
    assert.equal((await d.request('POST', `/containers/${id}/stop`)).status, 304);
  });

  test('kill with a signal by name and number; events in order', async () => {
    const since = Date.now() / 1000;
    const id = await create({ Cmd: ['sh', '-c', 'trap "exit 42" USR1; while true; do sleep 0.1; done'] });
    await d.request('POST', `/containers/${id}/start`);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await d.request('POST', `/containers/${id}/kill?signal=USR1`)).status, 204);
    assert.equal(await waitExit(id), 42);
    const bad = await d.request('POST', `/containers/${id}/kill?signal=NOPE`);
    assert.ok(bad.status === 400 || bad.status === 409, bad.text);
    await d.request('DELETE', `/containers/${id}`);
    const ev = await d.request('GET', `/events?since=${since}&until=${Date.now() / 1000 + 0.3}&filters=` + encodeURIComponent(JSON.stringify({ container: { [id]: true } })));
    const actions = ev.text.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(actions.map((e) => e.Action), ['create', 'start', 'kill', 'die', 'destroy']);
    assert.equal(actions[3].Actor.Attributes.exitCode, '42');
  });

  test('names: generated, unique, and conflicts name the holder', async () => {
    const id = await create({ Cmd: ['true'] });
    const name = (await d.request('GET', `/containers/${id}/json`)).json().Name;
    assert.match(name, /^\/[a-z]+_[a-z]+\d*$/);
    await create({ Cmd: ['true'] }, 'taken');
    const clash = await d.request('POST', '/containers/create?name=taken', { Image: 'busybox', Cmd: ['true'] });
    assert.equal(clash.status, 409);
    assert.match(clash.json().message, /^Conflict\. The container name "\/taken" is already in use by container "[a-f0-9]{64}"\. You have to remove \(or rename\) that container to be able to reuse that name\.$/);
    const bad = await d.request('POST', '/containers/create?name=' + encodeURIComponent('bad name!'), { Image: 'busybox', Cmd: ['true'] });
    assert.equal(bad.status, 400);
    assert.match(bad.json().message, /Invalid container name/);
    assert.equal((await d.request('POST', '/containers/taken/rename?name=renamed')).status, 204);
    assert.equal((await d.request('GET', '/containers/renamed/json')).status, 200);
    assert.equal((await d.request('GET', `/containers/${id.slice(0, 8)}/json`)).json().Id, id);
  });

  test('bad input: unknown image, bad memory, bad cpus, no command', async () => {
    const noImage = await d.request('POST', '/containers/create', { Image: 'nope', Cmd: ['true'] });
    assert.equal(noImage.status, 404);
    assert.equal(noImage.json().message, 'No such image: nope:latest');
    const mem = await d.request('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: { Memory: 1024 } });
    assert.equal(mem.status, 400);
    assert.match(mem.json().message, /Minimum memory limit allowed is 6MB/);
    const cpus = await d.request('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: { NanoCpus: 1e12 } });
    assert.equal(cpus.status, 400);
    assert.match(cpus.json().message, /range of CPUs is from 0.01 to/i);
    const before = (await d.request('GET', '/containers/json?all=1')).json().length;
    const missingExe = await create({ Cmd: ['/nope'] });
    const start = await d.request('POST', `/containers/${missingExe}/start`);
    assert.ok(start.status >= 400);
    assert.match(start.json().message, /no such file or directory|not found/);
    const state = (await d.request('GET', `/containers/${missingExe}/json`)).json().State;
    assert.equal(state.Status, 'created');
    assert.equal(state.ExitCode, 127);
    assert.ok(!existsSync(`${d.execRoot}/containers/${missingExe}/rootfs/bin`), 'rootfs unmounted after a failed start');
    assert.ok(!readFileSync('/proc/self/mounts', 'utf8').includes(missingExe), 'no mount left');
    assert.equal((await d.request('GET', '/containers/json?all=1')).json().length, before + 1);
  });

  test('rm refuses a running container unless forced; list filters', async () => {
    const id = await create({ Cmd: ['sleep', '1000'], Labels: { tier: 'web' } }, 'web1');
    await d.request('POST', `/containers/${id}/start`);
    const refused = await d.request('DELETE', `/containers/${id}`);
    assert.equal(refused.status, 409);
    assert.equal(refused.json().message, 'cannot remove container "/web1": container is running: stop the container before removing or force remove');
    const running = (await d.request('GET', '/containers/json')).json();
    assert.ok(running.some((c: any) => c.Id === id && c.State === 'running' && /^Up /.test(c.Status)));
    const byLabel = (await d.request('GET', '/containers/json?all=1&filters=' + encodeURIComponent('{"label":{"tier=web":true}}'))).json();
    assert.deepEqual(byLabel.map((c: any) => c.Id), [id]);
    const byStatus = (await d.request('GET', '/containers/json?filters=' + encodeURIComponent('{"status":{"exited":true}}'))).json();
    assert.ok(byStatus.every((c: any) => c.State === 'exited'));
    assert.equal((await d.request('DELETE', `/containers/${id}?force=1`)).status, 204);
    assert.equal((await d.request('GET', `/containers/${id}/json`)).status, 404);
    assert.ok(!existsSync(`${d.dataRoot}/containers/${id}`));
  });

  test('update changes limits of a running container', async () => {
    const id = await create({ Cmd: ['sleep', '1000'], HostConfig: { Memory: 64 * 1024 * 1024 } });
    await d.request('POST', `/containers/${id}/start`);
    const r = await d.request('POST', `/containers/${id}/update`, { Memory: 128 * 1024 * 1024, MemorySwap: 256 * 1024 * 1024, PidsLimit: 50 });
    assert.equal(r.status, 200, r.text);
    const hc = (await d.request('GET', `/containers/${id}/json`)).json().HostConfig;
    assert.equal(hc.Memory, 128 * 1024 * 1024);
    assert.equal(hc.PidsLimit, 50);
    await d.request('DELETE', `/containers/${id}?force=1`);
  });

  test('AutoRemove removes the container after it exits; wait condition=removed', async () => {
    const id = await create({ Cmd: ['true'], HostConfig: { AutoRemove: true } });
    const waiting = d.request('POST', `/containers/${id}/wait?condition=removed`);
    await d.request('POST', `/containers/${id}/start`);
    assert.equal((await waiting).json().StatusCode, 0);
    assert.equal((await d.request('GET', `/containers/${id}/json`)).status, 404);
  });
});

describe('containers outlive the daemon', () => {
  const d = new TestDaemon();
  before(async () => {
    await d.start();
    await d.seedBusybox();
  });
  after(() => d.stop());

  test('kill -9 of berthd leaves a container running; the next berthd adopts it and records its exit', async () => {
    const id = (await d.request('POST', '/containers/create', { Image: 'busybox', Cmd: ['sh', '-c', 'echo before; until [ -e /go ]; do sleep 0.1; done; echo after; exit 7'] })).json().Id;
    await d.request('POST', `/containers/${id}/start`);
    const pid = (await d.request('GET', `/containers/${id}/json`)).json().State.Pid;
    await d.kill('SIGKILL');
    process.kill(pid, 0); // still alive: throws if not
    await d.start();
    const adopted = (await d.request('GET', `/containers/${id}/json`)).json();
    assert.equal(adopted.State.Status, 'running');
    // The container waits for /go rather than a fixed time, so a slow restart cannot outlive it.
    const ex = (await d.request('POST', `/containers/${id}/exec`, { Cmd: ['touch', '/go'] })).json().Id;
    await d.request('POST', `/exec/${ex}/start`, { Detach: true });
    assert.equal((await d.request('POST', `/containers/${id}/wait`)).json().StatusCode, 7);
    const logs = await d.request('GET', `/containers/${id}/logs?stdout=1`);
    assert.equal(demux(logs.body).stdout, 'before\nafter\n');
  });

  test('an exit that happens while berthd is down is recorded at the next start', async () => {
    const id = (await d.request('POST', '/containers/create', { Image: 'busybox', Cmd: ['sh', '-c', 'sleep 1; exit 5'] })).json().Id;
    await d.request('POST', `/containers/${id}/start`);
    await d.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 1800));
    await d.start();
    const state = (await d.request('GET', `/containers/${id}/json`)).json().State;
    assert.equal(state.Status, 'exited');
    assert.equal(state.ExitCode, 5);
    assert.ok(!readFileSync('/proc/self/mounts', 'utf8').includes(id), 'rootfs unmounted');
  });
});

describe('limits and init', () => {
  const d = new TestDaemon();
  before(async () => {
    await d.start();
    await d.seedBusybox();
  });
  after(() => d.stop());

  const runToEnd = async (body: object) => {
    const id = (await d.request('POST', '/containers/create', { Image: 'busybox', ...body })).json().Id;
    await d.request('POST', `/containers/${id}/start`);
    const code = (await d.request('POST', `/containers/${id}/wait`)).json().StatusCode;
    const out = demux((await d.request('GET', `/containers/${id}/logs?stdout=1&stderr=1`)).body);
    const state = (await d.request('GET', `/containers/${id}/json`)).json().State;
    return { id, code, out, state };
  };

  test('a container over its memory limit is OOM killed and says so', async () => {
    const r = await runToEnd({ Cmd: ['sh', '-c', 'x=a; while true; do x=$x$x; done'], HostConfig: { Memory: 8 * 1024 * 1024, MemorySwap: 8 * 1024 * 1024 } });
    assert.equal(r.code, 137);
    assert.equal(r.state.OOMKilled, true);
  });

  test('cgroup limits reach the container: pids, cpu, memory', async () => {
    const r = await runToEnd({
      Cmd: ['sh', '-c', 'cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || cat /sys/fs/cgroup/pids.max /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max'],
      HostConfig: { PidsLimit: 42, Memory: 32 * 1024 * 1024, NanoCpus: 500_000_000 },
    });
    assert.equal(r.code, 0, r.out.stderr);
    const lines = r.out.stdout.trim().split('\n');
    assert.equal(lines[0], '42');
    assert.equal(lines[1], String(32 * 1024 * 1024));
    assert.match(lines[2]!, /^50000/);
  });

  test('--init runs the process under docker-init as PID 1; without it the process is PID 1', async () => {
    const withInit = await runToEnd({ Cmd: ['sh', '-c', 'cat /proc/1/cmdline | tr "\\0" " "'], HostConfig: { Init: true } });
    assert.match(withInit.out.stdout, /^\/sbin\/docker-init -- sh -c/);
    const without = await runToEnd({ Cmd: ['sh', '-c', 'echo $$'] });
    assert.equal(without.out.stdout.trim(), '1');
  });

  test('user, workdir, env and hostname reach the process', async () => {
    const r = await runToEnd({ Cmd: ['sh', '-c', 'id -u; pwd; echo $FOO; hostname'], User: 'nobody', WorkingDir: '/tmp', Env: ['FOO=bar'], Hostname: 'box' });
    assert.deepEqual(r.out.stdout.trim().split('\n'), ['65534', '/tmp', 'bar', 'box']);
  });

  test('logs: tail, timestamps, since and follow', async () => {
    const r = await runToEnd({ Cmd: ['sh', '-c', 'for i in 1 2 3 4 5; do echo line$i; done'] });
    const tail = demux((await d.request('GET', `/containers/${r.id}/logs?stdout=1&tail=2`)).body).stdout;
    assert.equal(tail, 'line4\nline5\n');
    const ts = demux((await d.request('GET', `/containers/${r.id}/logs?stdout=1&timestamps=1&tail=1`)).body).stdout;
    assert.match(ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z line5\n$/);
    const future = demux((await d.request('GET', `/containers/${r.id}/logs?stdout=1&since=${Math.floor(Date.now() / 1000) + 60}`)).body).stdout;
    assert.equal(future, '');
    const id = (await d.request('POST', '/containers/create', { Image: 'busybox', Cmd: ['sh', '-c', 'echo a; sleep 1; echo b'] })).json().Id;
    await d.request('POST', `/containers/${id}/start`);
    const followed = demux((await d.request('GET', `/containers/${id}/logs?stdout=1&follow=1`)).body).stdout;
    assert.equal(followed, 'a\nb\n');
  });
});

describe('containers and images together', () => {
  const d = new TestDaemon();
  before(async () => {
    await d.start();
    await d.seedBusybox();
  });
  after(() => d.stop());

  test('an image used by a container is refused with Docker’s 409 unless forced', async () => {
    await d.request('POST', '/images/busybox/tag?repo=inuse');
    const id = (await d.request('POST', '/containers/create', { Image: 'inuse', Cmd: ['sleep', '100'] })).json().Id;
    const img = (await d.request('GET', '/images/inuse/json')).json().Id;
    const byName = await d.request('DELETE', '/images/busybox');
    assert.equal(byName.status, 200, 'busybox is only one of the names: untag is fine');
    const last = await d.request('DELETE', '/images/inuse');
    assert.equal(last.status, 409);
    assert.equal(last.json().message, `conflict: unable to remove repository reference "inuse" (must force) - container ${id.slice(0, 12)} is using its referenced image ${img.slice(7, 19)}`);
    await d.request('POST', `/containers/${id}/start`);
    const running = await d.request('DELETE', `/images/${img}?force=1`);
    assert.equal(running.status, 409);
    assert.match(running.json().message, /\(cannot be forced\) - image is being used by running container/);
    await d.request('DELETE', `/containers/${id}?force=1`);
    assert.equal((await d.request('DELETE', '/images/inuse')).status, 200);
  });

  test('restart runs the process again; prune removes stopped containers only', async () => {
    await d.seedBusybox();
    const id = (await d.request('POST', '/containers/create', { Image: 'busybox', Cmd: ['sh', '-c', 'echo run; sleep 100'] })).json().Id;
    await d.request('POST', `/containers/${id}/start`);
    assert.equal((await d.request('POST', `/containers/${id}/restart?t=0`)).status, 204);
    const state = (await d.request('GET', `/containers/${id}/json`)).json().State;
    assert.equal(state.Status, 'running');
    // The restarted process writes its line a moment after start returns.
    let logs = '';
    for (let i = 0; i < 60 && logs !== 'run\nrun\n'; i++) {
      logs = demux((await d.request('GET', `/containers/${id}/logs?stdout=1`)).body).stdout;
      if (logs !== 'run\nrun\n') await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(logs, 'run\nrun\n');
    const stopped = (await d.request('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'] })).json().Id;
    const pruned = (await d.request('POST', '/containers/prune')).json();
    assert.deepEqual(pruned.ContainersDeleted, [stopped]);
    assert.equal((await d.request('GET', `/containers/${id}/json`)).status, 200);
    await d.request('DELETE', `/containers/${id}?force=1`);
  });
});
