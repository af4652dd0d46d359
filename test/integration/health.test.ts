import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { TestDaemon, hasDocker } from './harness.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MS = 1_000_000;

describe('healthchecks at run time', () => {
  const d = new TestDaemon();
  before(async () => {
    await d.start();
    await d.seedBusybox();
  });
  after(() => d.stop());

  const inspect = async (id: string) => (await d.request('GET', `/containers/${id}/json`)).json();
  const until = async (id: string, pred: (c: any) => boolean, ms = 15_000) => {
    const end = Date.now() + ms;
    for (;;) {
      const c = await inspect(id);
      if (pred(c)) return c;
      if (Date.now() > end) assert.fail(`condition not met: ${JSON.stringify(c.State)}`);
      await sleep(50);
    }
  };
  const runWith = async (body: object, name?: string) => {
    const r = await d.request('POST', `/containers/create${name ? `?name=${name}` : ''}`, { Image: 'busybox', Cmd: ['sleep', '300'], ...body });
    assert.equal(r.status, 201, r.text);
    const id = r.json().Id as string;
    assert.equal((await d.request('POST', `/containers/${id}/start`)).status, 204);
    return id;
  };
  const events = async (id: string, sinceSec: number) => {
    const now = Math.ceil(Date.now() / 1000) + 1;
    const r = await d.request('GET', `/events?since=${sinceSec}&until=${now}&filters=${encodeURIComponent(JSON.stringify({ container: [id] }))}`);
    return r.text.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  };

  test('a passing probe: starting, then healthy, with the log, ps status, filter and events', async () => {
    const since = Math.floor(Date.now() / 1000);
    const id = await runWith({ Healthcheck: { Test: ['CMD-SHELL', 'echo ok; echo err >&2'], Interval: 200 * MS } }, 'hc-good');
    const first = await inspect(id);
    assert.equal(first.State.Health.Status, 'starting');
    const c = await until(id, (x) => x.State.Health.Status === 'healthy');
    assert.equal(c.State.Health.FailingStreak, 0);
    const entry = c.State.Health.Log[0];
    assert.equal(entry.ExitCode, 0);
    assert.equal(entry.Output, 'ok\nerr\n');
    assert.ok(Date.parse(entry.End) >= Date.parse(entry.Start));
    // The log keeps the last five.
    const later = await until(id, (x) => x.State.Health.Log.length === 5);
    await sleep(600);
    assert.equal((await inspect(id)).State.Health.Log.length, 5);
    assert.notEqual((await inspect(id)).State.Health.Log[0].Start, later.State.Health.Log[0].Start);

    const list = (await d.request('GET', `/containers/json?filters=${encodeURIComponent(JSON.stringify({ health: ['healthy'] }))}`)).json();
    assert.deepEqual(list.map((x: any) => x.Id), [id]);
    assert.match(list[0].Status, /^Up .* \(healthy\)$/);
    const ps = await d.berth(['ps', '--filter', 'health=healthy', '--format', '{{.Names}} {{.Status}}']);
    assert.match(ps.stdout, /^hc-good Up .* \(healthy\)\n$/);
    if (hasDocker) {
      const dps = await d.docker(['ps', '--filter', 'health=healthy', '--format', '{{.Names}} {{.Status}}']);
      assert.match(dps.stdout, /^hc-good Up .* \(healthy\)\n$/, dps.stderr);
    }
    const none = (await d.request('GET', `/containers/json?filters=${encodeURIComponent(JSON.stringify({ health: ['none'] }))}`)).json();
    assert.ok(!none.some((x: any) => x.Id === id));

    const evs = await events(id, since);
    const health = evs.filter((e) => e.Action.startsWith('health_status'));
    assert.equal(health[0].Action, 'health_status: healthy');
    assert.equal(health[0].Actor.Attributes.name, 'hc-good');
    assert.equal(health[0].Actor.Attributes.image, 'busybox');
    const create = evs.find((e) => e.Action.startsWith('exec_create'));
    assert.equal(create.Action, 'exec_create: /bin/sh -c echo ok; echo err >&2');
    assert.ok(create.Actor.Attributes.execID);
    assert.ok(evs.some((e) => e.Action === 'exec_die' && e.Actor.Attributes.exitCode === '0'));

    // Stopped: the monitor ends and dockerd's status is unhealthy; no health in the Status column.
    await d.request('POST', `/containers/${id}/stop?t=1`);
    const stopped = await inspect(id);
    assert.equal(stopped.State.Health.Status, 'unhealthy');
    const n = stopped.State.Health.Log.at(-1).Start;
    await sleep(600);
    assert.equal((await inspect(id)).State.Health.Log.at(-1).Start, n);
    // Started again: starting, the old log kept.
    await d.request('POST', `/containers/${id}/start`);
    const restarted = await inspect(id);
    assert.equal(restarted.State.Health.Status, 'starting');
    assert.equal(restarted.State.Health.FailingStreak, 0);
    await until(id, (x) => x.State.Health.Status === 'healthy');
    await d.request('DELETE', `/containers/${id}?force=1`);
  });

  test('a failing probe: the streak counts up to Retries, then unhealthy; the container keeps running', async () => {
    const since = Math.floor(Date.now() / 1000);
    const id = await runWith({ Healthcheck: { Test: ['CMD', 'sh', '-c', 'echo nope; exit 3'], Interval: 200 * MS, Retries: 2 }, HostConfig: { RestartPolicy: { Name: 'always' } } });
    const mid = await until(id, (x) => x.State.Health.FailingStreak === 1);
    assert.equal(mid.State.Health.Status, 'starting');
    const c = await until(id, (x) => x.State.Health.Status === 'unhealthy');
    assert.equal(c.State.Health.FailingStreak, 2);
    assert.deepEqual(c.State.Health.Log.map((e: any) => [e.ExitCode, e.Output]), [[3, 'nope\n'], [3, 'nope\n']]);
    await until(id, (x) => x.State.Health.FailingStreak >= 4);
    const after = await inspect(id);
    assert.equal(after.State.Running, true);
    assert.equal(after.RestartCount, 0);
    const ps = (await d.request('GET', '/containers/json')).json().find((x: any) => x.Id === id);
    assert.match(ps.Status, /\(unhealthy\)$/);
    const evs = await events(id, since);
    assert.deepEqual(evs.filter((e) => e.Action.startsWith('health_status')).map((e) => e.Action), ['health_status: unhealthy']);
    await d.request('DELETE', `/containers/${id}?force=1`);
  });

  test('a probe that overruns its timeout is killed and logged with exit code -1', async () => {
    const id = await runWith({ Healthcheck: { Test: ['CMD-SHELL', 'echo partial; sleep 5'], Interval: 100 * MS, Timeout: 300 * MS, Retries: 1 } });
    const c = await until(id, (x) => x.State.Health.Status === 'unhealthy');
    const entry = c.State.Health.Log[0];
    assert.equal(entry.ExitCode, -1);
    assert.equal(entry.Output, 'Health check exceeded timeout (300ms): partial\n');
    assert.ok(Date.parse(entry.End) - Date.parse(entry.Start) < 3000);
    await d.request('DELETE', `/containers/${id}?force=1`);
  });

  test('probes never pile up: a slow probe with a short interval runs one at a time', async () => {
    const id = await runWith({ Healthcheck: { Test: ['CMD-SHELL', 'mkdir /tmp/lock || exit 9; sleep 0.5; rmdir /tmp/lock'], Interval: 10 * MS } });
    const c = await until(id, (x) => x.State.Health.Log.length >= 3);
    for (const e of c.State.Health.Log) assert.equal(e.ExitCode, 0, JSON.stringify(c.State.Health.Log));
    // No probe sessions left behind in the container: at most the current probe's `sleep` (its
    // `sh -c ...` line also names `sleep 0.5`, so only the CMD column counts).
    const top = (await d.request('GET', `/containers/${id}/top?ps_args=-ef`)).json();
    assert.ok(top.Processes.filter((p: string[]) => p.at(-1) === 'sleep 0.5').length <= 1, JSON.stringify(top.Processes));
    await d.request('DELETE', `/containers/${id}?force=1`);
  });

  test('start period: failures do not count, and the start interval is used', async () => {
    const id = await runWith({ Healthcheck: { Test: ['CMD', 'false'], Interval: 1000 * MS, StartPeriod: 3000 * MS, StartInterval: 100 * MS, Retries: 1 } });
    await sleep(2000);
    const during = await inspect(id);
    assert.equal(during.State.Health.Status, 'starting');
    assert.equal(during.State.Health.FailingStreak, 0);
    // Probes every 100 ms after the last (each takes a few hundred ms here), not every second.
    assert.ok(during.State.Health.Log.length >= 2, JSON.stringify(during.State.Health.Log));
    const c = await until(id, (x) => x.State.Health.Status === 'unhealthy', 8_000);
    assert.equal(c.State.Health.FailingStreak, 1);
    await d.request('DELETE', `/containers/${id}?force=1`);
  });

  test("the image's HEALTHCHECK applies, fields left zero inherit it, and NONE disables it", async () => {
    const base = await runWith({});
    const commit = await d.request('POST', `/commit?container=${base}&repo=hc-image&tag=v1`, { Healthcheck: { Test: ['CMD-SHELL', 'exit 0'], Interval: 200 * MS, Retries: 7 } });
    assert.equal(commit.status, 201, commit.text);
    await d.request('DELETE', `/containers/${base}?force=1`);

    const fromImage = await runWith({ Image: 'hc-image:v1' });
    const c = await until(fromImage, (x) => x.State.Health?.Status === 'healthy');
    assert.deepEqual(c.Config.Healthcheck.Test, ['CMD-SHELL', 'exit 0']);

    const merged = await runWith({ Image: 'hc-image:v1', Healthcheck: { Test: ['CMD', 'false'] } });
    const m = await inspect(merged);
    assert.equal(m.Config.Healthcheck.Interval, 200 * MS);
    assert.equal(m.Config.Healthcheck.Retries, 7);
    await until(merged, (x) => x.State.Health.FailingStreak >= 1);

    const disabled = await runWith({ Image: 'hc-image:v1', Healthcheck: { Test: ['NONE'] } });
    await sleep(500);
    const dis = await inspect(disabled);
    assert.equal(dis.State.Health, undefined);
    const none = (await d.request('GET', `/containers/json?filters=${encodeURIComponent(JSON.stringify({ health: ['none'] }))}`)).json();
    assert.ok(none.some((x: any) => x.Id === disabled));
    assert.doesNotMatch(none.find((x: any) => x.Id === disabled).Status, /health/);
    for (const id of [fromImage, merged, disabled]) await d.request('DELETE', `/containers/${id}?force=1`);
  });

  test('berth run --health-* flags, --no-healthcheck and their errors', async () => {
    const r = await d.berth(['run', '-d', '--name', 'hc-cli', '--health-cmd', 'true', '--health-interval', '200ms', '--health-retries', '2', '--health-timeout', '1s', '--health-start-period', '1ms', '--health-start-interval', '100ms', 'busybox', 'sleep', '300']);
    assert.equal(r.code, 0, r.stderr);
    const c = await until('hc-cli', (x) => x.State.Health?.Status === 'healthy');
    assert.deepEqual(c.Config.Healthcheck, { Test: ['CMD-SHELL', 'true'], Interval: 200 * MS, Timeout: 1000 * MS, StartPeriod: 1 * MS, StartInterval: 100 * MS, Retries: 2 });
    await d.request('DELETE', '/containers/hc-cli?force=1');

    const conflict = await d.berth(['create', '--no-healthcheck', '--health-cmd', 'true', 'busybox']);
    assert.equal(conflict.code, 125);
    assert.match(conflict.stderr, /--no-healthcheck conflicts with --health-\* options/);
    const negative = await d.berth(['create', '--health-retries', '-1', 'busybox']);
    assert.match(negative.stderr, /--health-retries cannot be negative/);
    const bad = await d.berth(['create', '--health-interval', 'soon', 'busybox']);
    assert.match(bad.stderr, /invalid argument "soon" for "--health-interval" flag: time: invalid duration "soon"/);

    const off = await d.berth(['create', '--no-healthcheck', 'busybox']);
    assert.equal(off.code, 0, off.stderr);
    const id = off.stdout.trim();
    assert.deepEqual((await inspect(id)).Config.Healthcheck, { Test: ['NONE'] });
    const badFilter = await d.request('GET', `/containers/json?filters=${encodeURIComponent(JSON.stringify({ health: ['sick'] }))}`);
    assert.equal(badFilter.status, 400);
    assert.equal(badFilter.json().message, "invalid filter 'health=sick': invalid value for health (sick): must be one of none, starting, healthy, unhealthy");
    await d.request('DELETE', `/containers/${id}`);
  });

  test('API 1.43 and older: StartInterval is ignored, as dockerd', async () => {
    const old = await d.request('POST', '/v1.43/containers/create', { Image: 'busybox', Healthcheck: { Test: ['CMD', 'true'], StartInterval: 100 * MS } });
    assert.equal(old.status, 201, old.text);
    assert.deepEqual((await inspect(old.json().Id)).Config.Healthcheck, { Test: ['CMD', 'true'] });
    const current = await d.request('POST', '/containers/create', { Image: 'busybox', Healthcheck: { Test: ['CMD', 'true'], StartInterval: 100 * MS } });
    assert.equal((await inspect(current.json().Id)).Config.Healthcheck.StartInterval, 100 * MS);
    for (const r of [old, current]) await d.request('DELETE', `/containers/${r.json().Id}`);
  });

  test('pause stops probing (unhealthy, as dockerd) and unpause resumes it', async () => {
    const id = await runWith({ Healthcheck: { Test: ['CMD', 'true'], Interval: 200 * MS } });
    await until(id, (x) => x.State.Health.Status === 'healthy');
    // dockerd names the probe entrypoint + " " + args: a trailing space for a command alone.
    const evs = await events(id, Math.floor(Date.now() / 1000) - 30);
    assert.ok(evs.some((e) => e.Action === 'exec_create: true '), JSON.stringify(evs.map((e) => e.Action)));
    assert.ok(evs.some((e) => e.Action === 'exec_start: true '));
    await d.request('POST', `/containers/${id}/pause`);
    const paused = await inspect(id);
    assert.equal(paused.State.Health.Status, 'unhealthy');
    const n = paused.State.Health.Log.at(-1).Start;
    await sleep(600);
    assert.equal((await inspect(id)).State.Health.Log.at(-1).Start, n);
    await d.request('POST', `/containers/${id}/unpause`);
    await until(id, (x) => x.State.Health.Status === 'healthy' && x.State.Health.Log.at(-1).Start !== n);
    await d.request('DELETE', `/containers/${id}?force=1`);
  });

  test('a restarted daemon adopts a running container and goes on probing it', async () => {
    const id = await runWith({ Healthcheck: { Test: ['CMD', 'true'], Interval: 200 * MS } });
    await until(id, (x) => x.State.Health.Status === 'healthy');
    await d.kill('SIGKILL');
    await d.start();
    const adopted = await inspect(id);
    assert.equal(adopted.State.Running, true);
    assert.equal(adopted.State.Health.Status, 'starting');
    const last = adopted.State.Health.Log.at(-1)?.Start;
    await until(id, (x) => x.State.Health.Status === 'healthy' && x.State.Health.Log.at(-1).Start !== last);
    await d.request('DELETE', `/containers/${id}?force=1`);
  });
});
