import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { TestDaemon, demux } from './harness.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('restart policies', () => {
  const d = new TestDaemon();
  before(async () => {
    await d.start();
    await d.seedBusybox();
  });
  after(() => d.stop());

  const run = async (cmd: string[], policy: object, name?: string) => {
    const r = await d.request('POST', `/containers/create${name ? `?name=${name}` : ''}`, { Image: 'busybox', Cmd: cmd, HostConfig: { RestartPolicy: policy } });
    assert.equal(r.status, 201, r.text);
    const id = r.json().Id as string;
    await d.request('POST', `/containers/${id}/start`);
    return id;
  };
  const inspect = async (id: string) => (await d.request('GET', `/containers/${id}/json`)).json();
  const until = async (id: string, pred: (c: any) => boolean, ms = 10_000) => {
    const end = Date.now() + ms;
    for (;;) {
      const c = await inspect(id);
      if (pred(c)) return c;
      if (Date.now() > end) assert.fail(`condition not met: ${JSON.stringify(c.State)} RestartCount=${c.RestartCount}`);
      await sleep(50);
    }
  };

  test('on-failure:2 restarts a failing container twice, then leaves it exited', async () => {
    const id = await run(['sh', '-c', 'exit 1'], { Name: 'on-failure', MaximumRetryCount: 2 });
    const c = await until(id, (x) => x.RestartCount === 2 && x.State.Status === 'exited');
    assert.equal(c.State.ExitCode, 1);
    await sleep(1000);
    assert.equal((await inspect(id)).RestartCount, 2);
  });

  test('on-failure does not restart a container that exits 0', async () => {
    const id = await run(['true'], { Name: 'on-failure' });
    const c = await until(id, (x) => x.State.Status === 'exited');
    await sleep(300);
    assert.equal((await inspect(id)).RestartCount, 0);
    assert.equal(c.State.ExitCode, 0);
  });

  test('always restarts, shows restarting with a growing delay, and docker stop ends it', async () => {
    const id = await run(['sh', '-c', 'exit 2'], { Name: 'always' });
    await until(id, (x) => x.RestartCount >= 3);
    const ps = (await d.request('GET', '/containers/json?all=1')).json().find((x: any) => x.Id === id);
    assert.ok(['restarting', 'running', 'exited'].includes(ps.State));
    assert.equal((await d.request('POST', `/containers/${id}/stop?t=1`)).status, 204);
    const stopped = await until(id, (x) => x.State.Status === 'exited');
    const count = stopped.RestartCount;
    await sleep(1500);
    assert.equal((await inspect(id)).RestartCount, count, 'no restarts after stop');
  });

  test('update --restart changes the policy of a live container', async () => {
    const id = await run(['sh', '-c', 'sleep 0.5; exit 3'], { Name: 'no' });
    assert.equal((await d.request('POST', `/containers/${id}/update`, { RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 1 } })).status, 200);
    const c = await until(id, (x) => x.RestartCount === 1 && x.State.Status === 'exited');
    assert.equal(c.HostConfig.RestartPolicy.Name, 'on-failure');
  });
});

describe('restart policies across daemon restarts', () => {
  const d = new TestDaemon();
  before(async () => {
    await d.start();
    await d.seedBusybox();
  });
  after(() => d.stop());

  const create = async (name: string, policy: string) => {
    const id = (await d.request('POST', `/containers/create?name=${name}`, { Image: 'busybox', Cmd: ['sleep', '1000'], StopTimeout: 1, HostConfig: { RestartPolicy: { Name: policy } } })).json().Id;
    await d.request('POST', `/containers/${id}/start`);
    return id;
  };
  const status = async (name: string) => (await d.request('GET', `/containers/${name}/json`)).json().State.Status;

  test('always and unless-stopped come back; a user stop is honoured by unless-stopped only', async () => {
    await create('keep-always', 'always');
    await create('keep-unless', 'unless-stopped');
    await create('stopped-unless', 'unless-stopped');
    await create('stopped-always', 'always');
    await create('plain', 'no');
    await d.request('POST', '/containers/stopped-unless/stop?t=0');
    await d.request('POST', '/containers/stopped-always/stop?t=0');
    assert.equal(await d.kill('SIGTERM'), 0); // a clean shutdown stops the running ones
    await d.start();
    assert.equal(await status('keep-always'), 'running');
    assert.equal(await status('keep-unless'), 'running');
    assert.equal(await status('stopped-unless'), 'exited');
    assert.equal(await status('stopped-always'), 'running');
    assert.equal(await status('plain'), 'exited');
  });
});

describe('live restore and reload', () => {
  const d = new TestDaemon();
  before(async () => {
    await d.start();
    await d.seedBusybox();
  });
  after(() => d.stop());

  test('SIGHUP applies live-restore from daemon.json; a stop then leaves containers running, with their logs whole', async () => {
    const { writeFileSync } = await import('node:fs');
    writeFileSync(`${d.root}/daemon.json`, JSON.stringify({ 'live-restore': true, debug: true }));
    const { execFileSync } = await import('node:child_process');
    const pid = Number(execFileSync('cat', [`${d.execRoot}/berthd.pid`], { encoding: 'utf8' }));
    process.kill(pid, 'SIGHUP');
    const deadline = Date.now() + 5000;
    while (!(await d.request('GET', '/info')).json().LiveRestoreEnabled) {
      if (Date.now() > deadline) assert.fail('live-restore not applied');
      await sleep(50);
    }
    // The log line travels through a pipe and may arrive after the /info answer.
    while (!/Reloaded configuration/.test(d.logs)) {
      if (Date.now() > deadline) assert.fail(`no "Reloaded configuration" in the daemon's log: ${d.logs}`);
      await sleep(50);
    }
    const id = (await d.request('POST', '/containers/create', { Image: 'busybox', Cmd: ['sh', '-c', 'i=0; while [ $i -lt 30 ]; do echo tick$i; i=$((i+1)); sleep 0.1; done'] })).json().Id;
    await d.request('POST', `/containers/${id}/start`);
    await sleep(300);
    assert.equal(await d.kill('SIGTERM'), 0);
    await sleep(500);
    await d.start();
    assert.equal((await d.request('POST', `/containers/${id}/wait`)).json().StatusCode, 0);
    const logs = await d.request('GET', `/containers/${id}/logs?stdout=1`);
    const lines = demux(logs.body).stdout.trim().split('\n');
    assert.deepEqual(lines, Array.from({ length: 30 }, (_, i) => `tick${i}`));
  });
});
