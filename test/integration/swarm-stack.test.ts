// Stacks on a 2-node netns cluster (a manager and a worker), through `berth stack` and the official docker
// CLI as a user types them: a three-service stack (overlay networks, a named volume, a secret and a
// templated config, long-form depends_on) deployed, redeployed with one service changed (the others'
// tasks untouched), scaled, read from a task on the worker, refused on bad input with nothing left
// behind, and removed.
import { test, after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { down, readCluster, up, type DevCluster, type DevNode } from '../../src/swarm/devcluster/devcluster.js';
import { formSwarm, seedImages } from '../../src/swarm/devcluster/swarm-setup.js';
import { BERTH, DOCKER, run } from './harness.js';
import { dk, eventually } from './swarm-helpers.js';
import { sleep } from '../../src/lib/sleep.js';

const berth = (n: DevNode, args: string[]) => run(BERTH, args, { BERTH_HOST: `unix://${n.socket}` });
const docker = (n: DevNode, args: string[]) => run(DOCKER, args, { DOCKER_HOST: `unix://${n.socket}` });

/** The stack: `api` after `db` (long-form depends_on), on the worker, with the secret and the templated config. */
function stackFile(opts: { apiMode: string; webReplicas: number }): string {
  return `
services:
  web:
    image: busybox
    command: ["sh", "-c", "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 80 -h /www"]
    networks: [front]
    stop_grace_period: 1s
    deploy:
      replicas: ${opts.webReplicas}
  api:
    image: busybox
    command: sleep 100000
    stop_grace_period: 1s
    build: ./api
    depends_on:
      db: { condition: service_started }
    environment:
      MODE: ${opts.apiMode}
    networks: [front, back]
    secrets: [token]
    configs:
      - source: settings
        target: /etc/settings.conf
    deploy:
      placement:
        constraints: [node.role==worker]
  db:
    image: busybox
    command: sleep 100000
    stop_grace_period: 1s
    container_name: database
    networks: [back]
    volumes: [data:/data]
networks:
  front: {}
  back: {}
volumes:
  data: {}
secrets:
  token:
    file: ./token.txt
configs:
  settings:
    file: ./settings.tmpl
    template_driver: golang
`;
}

describe('stacks on a 2-node cluster', { timeout: 300_000 }, () => {
  const root = path.join(mkdtempSync(path.join(os.tmpdir(), 'berth-stack-')), 'c');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-stack-files-'));
  const file = path.join(dir, 'stack.yaml');
  let cluster: DevCluster;
  let m1: DevNode, w1: DevNode;

  /** Running task IDs by service, from `stack ps`. */
  async function runningTasks(stack: string): Promise<Record<string, string[]>> {
    const out = await dk(m1, ['stack', 'ps', stack, '--no-trunc', '--filter', 'desired-state=running', '--format', '{{.Name}} {{.ID}} {{.CurrentState}}']);
    const byService: Record<string, string[]> = {};
    for (const line of out.trim().split('\n').filter(Boolean)) {
      const [name, id, state] = line.split(' ');
      if (state !== 'Running') continue;
      const service = name!.replace(/\.\d+$/, '');
      (byService[service] ??= []).push(id!);
    }
    for (const ids of Object.values(byService)) ids.sort();
    return byService;
  }
  const counts = (tasks: Record<string, string[]>) => Object.fromEntries(Object.entries(tasks).map(([k, v]) => [k, v.length]));

  before(async () => {
    cluster = await up(root, 2);
    [m1, w1] = cluster.nodes as [DevNode, DevNode];
    await seedImages(cluster);
    await formSwarm(cluster, { managers: 1 });
    writeFileSync(path.join(dir, 'token.txt'), 's3cret-token');
    writeFileSync(path.join(dir, 'settings.tmpl'), 'service={{.Service.Name}} slot={{.Task.Slot}}\n');
  });

  after(async () => {
    if (await readCluster(root)) await down(root);
    rmSync(path.dirname(root), { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  test('deploy: networks, secret, config, then the services in depends_on order; ls, services and ps', async () => {
    writeFileSync(file, stackFile({ apiMode: 'one', webReplicas: 2 }));
    const r = await berth(m1, ['stack', 'deploy', '-c', file, '--resolve-image', 'never', 'app']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      'Creating network app_back\nCreating network app_front\nCreating secret app_token\nCreating config app_settings\n' +
        'Creating service app_db\nCreating service app_api\nCreating service app_web\n',
    );
    assert.match(r.stderr, /Ignoring deprecated options:\n\ncontainer_name: Setting the container name is not supported\.\n/);
    assert.match(r.stderr, /Skipping build for service api: stack deploy does not build images; the service runs image busybox\n/);
    const tasks = await eventually('every task running', async () => {
      const t = await runningTasks('app');
      return JSON.stringify(counts(t)) === JSON.stringify({ app_api: 1, app_db: 1, app_web: 2 }) ? t : undefined;
    }, 60_000);
    assert.ok(tasks);

    // berth prints what docker prints for the same stack.
    for (const args of [['stack', 'ls'], ['stack', 'services', 'app', '--format', '{{.Name}} {{.Mode}} {{.Replicas}} {{.Image}}'], ['stack', 'ps', 'app', '--format', '{{.Name}} {{.Image}} {{.DesiredState}}']]) {
      const b = await berth(m1, args);
      const d = await docker(m1, args);
      assert.equal(b.code, 0, b.stderr);
      assert.equal(b.stdout.split('\n').sort().join('\n'), d.stdout.split('\n').sort().join('\n'), args.join(' '));
    }
    assert.equal((await berth(m1, ['stack', 'ls'])).stdout, 'NAME      SERVICES\napp       3\n');
    const labels = JSON.parse(await dk(m1, ['service', 'inspect', 'app_api', '--format', '{{json .Spec.Labels}}']));
    assert.deepEqual(labels, { 'com.docker.stack.image': 'busybox', 'com.docker.stack.namespace': 'app' });
    const nets = await dk(m1, ['network', 'ls', '--filter', 'label=com.docker.stack.namespace=app', '--format', '{{.Name}} {{.Driver}} {{.Scope}}']);
    assert.deepEqual(nets.trim().split('\n').sort(), ['app_back overlay swarm', 'app_front overlay swarm']);
  });

  test('a task on the worker reads the secret and the config rendered for it', async () => {
    const container = await eventually('the api task container on the worker', async () => (await dk(w1, ['ps', '-q', '--filter', 'label=com.docker.swarm.service.name=app_api'])).trim() || undefined, 30_000);
    assert.equal(await dk(w1, ['exec', container, 'cat', '/run/secrets/token']), 's3cret-token');
    assert.equal(await dk(w1, ['exec', container, 'cat', '/etc/settings.conf']), 'service=app_api slot=1\n');
  });

  test('redeploy: only the changed service is updated; the other tasks keep running', async () => {
    const before = await runningTasks('app');
    const same = await berth(m1, ['stack', 'deploy', '-c', file, '--resolve-image', 'never', 'app']);
    assert.equal(same.code, 0, same.stderr);
    assert.equal(same.stdout, '', 'an unchanged file updates nothing');

    writeFileSync(file, stackFile({ apiMode: 'two', webReplicas: 2 }));
    const r = await berth(m1, ['stack', 'deploy', '-c', file, '--resolve-image', 'never', 'app']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Updating service app_api \(id: [a-z0-9]{25}\)\n$/);
    const after1 = await eventually('api replaced', async () => {
      const t = await runningTasks('app');
      return t.app_api?.length === 1 && t.app_api[0] !== before.app_api![0] ? t : undefined;
    }, 60_000);
    assert.deepEqual(after1.app_db, before.app_db);
    assert.deepEqual(after1.app_web, before.app_web);
    assert.match(await dk(m1, ['service', 'inspect', 'app_api', '--format', '{{json .Spec.TaskTemplate.ContainerSpec.Env}}']), /MODE=two/);

    // Scaled in the file: web gets a third task, its two keep running, the others are untouched.
    writeFileSync(file, stackFile({ apiMode: 'two', webReplicas: 3 }));
    const s = await berth(m1, ['stack', 'deploy', '-c', file, '--resolve-image', 'never', 'app']);
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout, /^Updating service app_web \(id: [a-z0-9]{25}\)\n$/);
    const after2 = await eventually('web scaled to 3', async () => {
      const t = await runningTasks('app');
      return t.app_web?.length === 3 ? t : undefined;
    }, 60_000);
    assert.ok(before.app_web!.every((id) => after2.app_web!.includes(id)), 'the two web tasks kept running');
    assert.deepEqual(after2.app_api, after1.app_api);
    assert.deepEqual(after2.app_db, before.app_db);
  });

  test('bad input: docker\'s errors, and nothing deployed', async () => {
    const missing = path.join(dir, 'missing.yaml');
    writeFileSync(missing, 'services:\n  a:\n    image: busybox\n    secrets: [nope]\nnetworks:\n  extra: {}\nsecrets:\n  nope:\n    external: true\n');
    const r = await berth(m1, ['stack', 'deploy', '-c', missing, 'bad']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /service a: secret not found: nope\n$/);
    assert.equal(r.stdout, '');

    await dk(m1, ['service', 'create', '--detach', '--name', 'clash_a', 'busybox', 'sleep', '100000']);
    const clash = path.join(dir, 'clash.yaml');
    writeFileSync(clash, 'services:\n  a: { image: busybox }\n  b: { image: busybox }\nsecrets:\n  s: { file: ./token.txt }\n');
    const c = await berth(m1, ['stack', 'deploy', '-c', clash, 'clash']);
    assert.equal(c.code, 1);
    assert.match(c.stderr, /failed to create service clash_a: Error response from daemon: rpc error: code = AlreadyExists desc = name conflicts with an existing object: service clash_a already exists\n$/);
    await dk(m1, ['service', 'rm', 'clash_a']);

    // Over swarm's 500 KB: refused by the daemon after the network was made; the run takes it back.
    const big = path.join(dir, 'big.yaml');
    writeFileSync(path.join(dir, 'big.bin'), Buffer.alloc(600 * 1024, 1));
    writeFileSync(big, 'services:\n  a: { image: busybox, secrets: [blob] }\nsecrets:\n  blob: { file: ./big.bin }\n');
    const b = await berth(m1, ['stack', 'deploy', '-c', big, 'big']);
    assert.equal(b.code, 1);
    assert.match(b.stderr, /failed to create secret big_blob: Error response from daemon: rpc error: code = InvalidArgument desc = secret data must be larger than 0 and less than 512000 bytes\n$/);

    for (const stack of ['bad', 'clash', 'big']) {
      for (const kind of ['service', 'network', 'secret', 'config']) {
        const left = await dk(m1, [kind, 'ls', '-q', '--filter', `label=com.docker.stack.namespace=${stack}`]);
        assert.equal(left.trim(), '', `${kind}s of ${stack} left behind`);
      }
    }
    assert.equal((await berth(m1, ['stack', 'ls'])).stdout, 'NAME      SERVICES\napp       3\n');
  });

  test('the docker CLI: stack deploy, ls, services, ps and rm against berthd', async () => {
    const plain = path.join(dir, 'plain.yaml');
    writeFileSync(plain, 'services:\n  one:\n    image: busybox\n    command: sleep 100000\n    stop_grace_period: 1s\n    secrets: [key]\nsecrets:\n  key:\n    file: ./token.txt\n');
    const d = await docker(m1, ['stack', 'deploy', '-c', plain, 'dk']);
    assert.equal(d.code, 0, d.stderr);
    assert.equal(d.stdout, 'Creating network dk_default\nCreating secret dk_key\nCreating service dk_one\n');
    const first = await eventually('dk_one running', async () => {
      const t = await runningTasks('dk');
      return t.dk_one?.length === 1 ? t : undefined;
    }, 60_000);
    // docker sends every service again; berthd leaves the tasks of an unchanged spec running.
    const again = await docker(m1, ['stack', 'deploy', '-c', plain, 'dk']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^Updating service dk_one \(id: [a-z0-9]{25}\)\n$/);
    await sleep(1500); // long enough for the orchestrator to act on a changed spec
    assert.deepEqual(await runningTasks('dk'), first);
    assert.match((await docker(m1, ['stack', 'ls'])).stdout, /^NAME +SERVICES\napp +3\ndk +1\n$/);
    assert.match((await docker(m1, ['stack', 'services', 'dk'])).stdout, /^ID +NAME +MODE +REPLICAS +IMAGE +PORTS\n[a-z0-9]{12} +dk_one +replicated +1\/1 +busybox:latest +\n$/);
    assert.match((await docker(m1, ['stack', 'ps', 'dk'])).stdout, /dk_one\.1 +busybox:latest +\S+ +Running +Running/);
    const rm = await docker(m1, ['stack', 'rm', 'dk']);
    assert.equal(rm.code, 0, rm.stderr);
    assert.equal(rm.stdout, 'Removing service dk_one\nRemoving secret dk_key\nRemoving network dk_default\n');
    assert.match((await docker(m1, ['stack', 'ps', 'dk'])).stderr, /nothing found in stack: dk/);
  });

  test('stack rm removes the services, secret, config and networks of the stack', async () => {
    const r = await berth(m1, ['stack', 'rm', 'app']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      'Removing service app_api\nRemoving service app_db\nRemoving service app_web\nRemoving secret app_token\nRemoving config app_settings\nRemoving network app_back\nRemoving network app_front\n',
    );
    for (const kind of ['service', 'secret', 'config']) {
      assert.equal((await dk(m1, [kind, 'ls', '-q', '--filter', 'label=com.docker.stack.namespace=app'])).trim(), '', kind);
    }
    // A node's copy of an overlay network goes with the last task container on it.
    await eventually('the networks gone', async () => (await dk(m1, ['network', 'ls', '-q', '--filter', 'label=com.docker.stack.namespace=app'])).trim() === '', 30_000);
    const again = await berth(m1, ['stack', 'rm', 'app']);
    assert.equal(again.stderr, 'Nothing found in stack: app\n');
    for (const n of cluster.nodes) {
      await eventually(`${n.name}: no task containers`, async () => (await dk(n, ['ps', '-aq', '--filter', 'label=com.docker.swarm.task.id'])).trim() === '', 60_000);
    }
  });
});
