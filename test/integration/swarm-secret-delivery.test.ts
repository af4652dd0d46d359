/**
 * Secrets and configs reaching a task's container on a one-node swarm (berthd on 127.0.0.1 with ports
 * chosen at run time): `service create --secret/--config` through the berth CLI, the files read from
 * inside the task's container with their owner and mode, a templated config rendered for the task,
 * the data on a tmpfs of the task's own and nowhere under the data-root, `service update --secret-rm`
 * rolling the task, and nothing left mounted after `service rm`.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { TestDaemon, hasDocker } from './harness.js';
import { eventually } from './swarm-helpers.js';

interface Task {
  ID: string;
  Slot?: number;
  DesiredState: string;
  Status: { State: string; Err?: string; ContainerStatus?: { ContainerID?: string } };
}

const mountsUnder = (dir: string) =>
  readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' '))
    .filter((f) => (f[1] ?? '').startsWith(dir + '/'));

/** Whether any regular file under dir contains the needle (the data-root: images, containers, etcd). */
async function anyFileContains(dir: string, needle: Buffer): Promise<string | undefined> {
  for (const entry of await fs.readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      const found = await anyFileContains(p, needle);
      if (found) return found;
    } else if (entry.isFile()) {
      const data = await fs.readFile(p).catch(() => Buffer.alloc(0));
      if (data.includes(needle)) return p;
    }
  }
  return undefined;
}

describe('secrets and configs in swarm tasks (one node)', { timeout: 90_000 }, () => {
  const d = new TestDaemon();
  const port = 21000 + Math.floor(Math.random() * 15000);
  const dataPathPort = 40000 + Math.floor(Math.random() * 9000);
  const secretsDir = () => path.join(d.execRoot, 'swarm-secrets');

  before(async () => {
    await d.start();
    await d.seedBusybox();
    const init = await d.request('POST', '/swarm/init', { ListenAddr: `127.0.0.1:${port}`, AdvertiseAddr: `127.0.0.1:${port}`, DataPathPort: dataPathPort });
    assert.equal(init.status, 200, init.text);
  });
  after(async () => {
    await d.request('POST', '/swarm/leave?force=1').catch(() => undefined);
    await d.stop();
  });

  const berth = async (...args: string[]) => {
    const r = await d.berth(args);
    assert.equal(r.code, 0, `berth ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  };
  const running = (service: string) =>
    eventually(`a running task of ${service}`, async () => {
      const tasks = (await d.request('GET', `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: [service], 'desired-state': ['running'] }))}`)).json() as Task[];
      const failed = tasks.find((t) => t.Status.Err);
      if (failed) throw new Error(failed.Status.Err);
      return tasks.find((t) => t.Status.State === 'running');
    }, 40_000);

  test('a task reads its secret and its templated config; the data is on its own tmpfs only; update and rm clean up', async () => {
    const value = `s3cr3t-${randomBytes(8).toString('hex')}`;
    const secret = await d.request('POST', '/secrets/create', { Name: 'db_pw', Data: Buffer.from(value).toString('base64') });
    assert.equal(secret.status, 201, secret.text);
    const template = 'svc={{.Service.Name}} slot={{.Task.Slot}} task={{.Task.ID}} mode={{env "MODE"}} pw={{secret "db_pw"}}\n';
    const config = await d.request('POST', '/configs/create', { Name: 'app_conf', Data: Buffer.from(template).toString('base64'), Templating: { Name: 'golang' } });
    assert.equal(config.status, 201, config.text);

    // Names the store does not have are refused by the CLI with docker's words, before anything is made.
    const missing = await d.berth(['service', 'create', '--detach', '--name', 'nope', '--secret', 'no_such', 'busybox', 'true']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /secret not found: no_such/);

    await berth('service', 'create', '--detach', '--name', 'web', '--env', 'MODE=prod',
      '--secret', 'source=db_pw,target=db_pw,uid=1000,gid=1001,mode=0400',
      '--config', 'source=app_conf,target=/etc/app.conf',
      'busybox', 'sleep', '1000');
    const task = await running('web');
    const cid = task.Status.ContainerStatus!.ContainerID!;

    assert.equal(await berth('exec', cid, 'cat', '/run/secrets/db_pw'), value);
    assert.equal(await berth('exec', cid, 'stat', '-c', '%a %u %g', '/run/secrets/db_pw'), '400 1000 1001');
    assert.equal(await berth('exec', cid, 'cat', '/etc/app.conf'), `svc=web slot=${task.Slot} task=${task.ID} mode=prod pw=${value}`);
    assert.equal(await berth('exec', cid, 'stat', '-c', '%a %u %g', '/etc/app.conf'), '444 0 0');
    // Read-only in the container, whoever asks.
    const write = await d.berth(['exec', cid, 'sh', '-c', 'echo x > /run/secrets/db_pw']);
    assert.notEqual(write.code, 0);

    // On the node: a tmpfs of the task's own, read-only; nothing of the secret under the data-root.
    const taskDir = path.join(secretsDir(), task.ID);
    const mine = mountsUnder(secretsDir()).find((f) => f[1] === taskDir);
    assert.ok(mine, `a mount at ${taskDir}`);
    assert.equal(mine[2], 'tmpfs');
    assert.ok(mine[3]!.split(',').includes('ro'));
    // (The search does reach the container's config, which names the mount target but holds no data.)
    assert.ok(await anyFileContains(d.dataRoot, Buffer.from('/run/secrets/db_pw')), 'the search reads the data-root');
    assert.equal(await anyFileContains(d.dataRoot, Buffer.from(value)), undefined, 'the secret is nowhere under the data-root');
    assert.ok(!d.logs.includes(value), 'nor in the daemon log');

    // Removing the secret from the service rolls the task; the old task's tmpfs goes with its container.
    await berth('service', 'update', '--detach', '--secret-rm', 'db_pw', '--config-rm', 'app_conf', 'web');
    const next = await eventually('the rolled task', async () => {
      const t = await running('web');
      return t.ID !== task.ID ? t : undefined;
    }, 40_000);
    const ls = await d.berth(['exec', next.Status.ContainerStatus!.ContainerID!, 'ls', '/run/secrets']);
    assert.notEqual(ls.code, 0, 'no /run/secrets in the new task');
    assert.ok(!mountsUnder(secretsDir()).some((f) => f[1] === path.join(secretsDir(), next.ID)), 'a task without secrets gets no tmpfs');
    await eventually("the old task's tmpfs removed", async () => !mountsUnder(secretsDir()).some((f) => f[1] === taskDir), 20_000);

    // Back again (through the official docker CLI when there is one), then the service goes: nothing stays mounted or on disk.
    if (hasDocker) {
      const r = await d.docker(['service', 'update', '--detach', '--secret-add', 'source=db_pw,target=db_pw,mode=0440', 'web']);
      assert.equal(r.code, 0, r.stderr);
    } else {
      await berth('service', 'update', '--detach', '--secret-add', 'source=db_pw,target=db_pw,mode=0440', 'web');
    }
    assert.match(await berth('service', 'inspect', '--pretty', 'web'), /\nSecrets:\n Target:\tdb_pw\n  Source:\tdb_pw/);
    const third = await eventually('the task with the secret again', async () => {
      const t = await running('web');
      return t.ID !== next.ID ? t : undefined;
    }, 40_000);
    assert.equal(await berth('exec', third.Status.ContainerStatus!.ContainerID!, 'cat', '/run/secrets/db_pw'), value);
    assert.equal(await berth('exec', third.Status.ContainerStatus!.ContainerID!, 'stat', '-c', '%a', '/run/secrets/db_pw'), '440');
    await berth('service', 'rm', 'web');
    await eventually('every task tmpfs unmounted and removed', async () => {
      if (mountsUnder(secretsDir()).length) return false;
      const left = await fs.readdir(secretsDir()).catch(() => []);
      return left.length === 0;
    }, 30_000);
    await eventually('the task containers removed', async () => {
      const all = (await d.request('GET', '/containers/json?all=1')).json() as Array<{ Labels: Record<string, string> }>;
      return all.every((c) => !c.Labels['com.docker.swarm.task.id']);
    }, 30_000);
  });
});
