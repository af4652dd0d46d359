// The services API, tasks and cluster networks on a real one-node swarm (a devcluster node in its own
// network namespace): VIPs and published ports, task addresses, network rules, update/rollback, bad bodies.
import { test, after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { down, readCluster, up, type DevNode } from '../../src/swarm/devcluster/devcluster.js';
import { formSwarm, nodeApi, seedImages } from '../../src/swarm/devcluster/swarm-setup.js';
import { DOCKER, run } from './harness.js';
import { eventually } from './swarm-helpers.js';

interface Service {
  ID: string;
  Version: { Index: number };
  Spec: { TaskTemplate: { ContainerSpec: { Env?: string[] } } };
  PreviousSpec?: { TaskTemplate: { ContainerSpec: { Env?: string[] } } };
  Endpoint: { Ports?: Array<{ PublishedPort: number }>; VirtualIPs?: Array<{ NetworkID: string; Addr: string }> };
  UpdateStatus?: { State: string };
  ServiceStatus?: { RunningTasks: number; DesiredTasks: number };
}
interface Task {
  ID: string;
  Name?: string;
  Status: { State: string };
  DesiredState: string;
  NetworksAttachments?: Array<{ Network: { ID: string }; Addresses: string[] }>;
}

const q = (filters: object) => encodeURIComponent(JSON.stringify(filters));

describe('services, tasks and cluster networks on a one-node swarm', { timeout: 120_000 }, () => {
  const root = path.join(mkdtempSync(path.join(os.tmpdir(), 'berth-svc-')), 'c');
  let node: DevNode;
  const api = (method: string, p: string, body?: unknown) => nodeApi(node, method, p, body);

  before(async () => {
    const cluster = await up(root, 1);
    node = cluster.nodes[0]!;
    await seedImages(cluster);
    await formSwarm(cluster, { managers: 1 });
  });

  after(async () => {
    if (await readCluster(root)) await down(root);
    rmSync(path.dirname(root), { recursive: true, force: true });
  });

  test('a service with a network and a published port: VIPs, ports, task addresses, network rules, update, rollback, remove', async () => {
    const ingress = await eventually('the ingress network', async () => (await api('GET', '/networks')).json<Array<{ Name: string; Id: string; Scope: string }>>().find((n) => n.Name === 'ingress'));
    assert.equal(ingress.Scope, 'swarm');
    const created = await api('POST', '/networks/create', { Name: 'front', Driver: 'overlay', Attachable: true });
    assert.equal(created.status, 201, created.body);
    const frontId = created.json<{ Id: string }>().Id;

    const bad = await api('POST', '/services/create', { Name: 'web', TaskTemplate: { ContainerSpec: { Image: 5 } } });
    assert.equal(bad.status, 400);
    assert.match(bad.json<{ message: string }>().message, /^invalid JSON: json: cannot unmarshal number into Go struct field ContainerSpec/);

    const spec = {
      Name: 'web',
      TaskTemplate: { ContainerSpec: { Image: 'busybox:latest', Command: ['sh', '-c', 'exec httpd -f -p 80 -h /'] }, Networks: [{ Target: 'front' }] },
      EndpointSpec: { Ports: [{ TargetPort: 80 }] },
    };
    const res = await api('POST', '/services/create', spec);
    assert.equal(res.status, 201, res.body);
    const id = res.json<{ ID: string }>().ID;
    assert.equal((await api('GET', '/services')).json<Service[]>().length, 1, 'the refused create made nothing');

    const s = (await api('GET', `/services/${id}`)).json<Service>();
    assert.equal(s.Endpoint.Ports![0]!.PublishedPort, 30000);
    assert.deepEqual(s.Endpoint.VirtualIPs!.map((v) => v.NetworkID), [ingress.Id, frontId]);
    const vips = s.Endpoint.VirtualIPs!.map((v) => v.Addr);
    assert.deepEqual(vips, ['10.214.0.254/24', '10.214.1.254/24']);

    const task = await eventually('a running task', async () => {
      const tasks = (await api('GET', `/tasks?filters=${q({ service: ['web'], 'desired-state': ['running'] })}`)).json<Task[]>();
      return tasks.find((t) => t.Status.State === 'running');
    });
    assert.equal(task.Name, undefined, 'no Name in the API, as dockerd');
    const addrs = task.NetworksAttachments!.map((a) => a.Addresses[0]!);
    assert.equal(addrs.length, 2);
    assert.match(addrs[0]!, /^10\.214\.0\.\d+\/24$/);
    assert.match(addrs[1]!, /^10\.214\.1\.\d+\/24$/);
    for (const a of addrs) assert.ok(!vips.includes(a) && !a.startsWith('10.214.0.1/') && !a.startsWith('10.214.1.1/'), a);
    const listed = (await api('GET', '/services?status=true')).json<Service[]>()[0]!;
    assert.deepEqual(listed.ServiceStatus, { RunningTasks: 1, DesiredTasks: 1, CompletedTasks: 0 });

    const inUse = await api('DELETE', '/networks/front');
    assert.equal(inUse.status, 400);
    assert.equal(inUse.json<{ message: string }>().message, `rpc error: code = FailedPrecondition desc = network ${frontId} is in use by service ${id}`);

    const stale = await api('POST', `/services/${id}/update?version=${s.Version.Index - 1}`, spec);
    assert.equal(stale.status, 500);
    assert.equal(stale.json<{ message: string }>().message, 'rpc error: code = Unknown desc = update out of sequence');
    const updated = { ...spec, TaskTemplate: { ...spec.TaskTemplate, ContainerSpec: { ...spec.TaskTemplate.ContainerSpec, Env: ['V=2'] } } };
    // The orchestrator writes UpdateStatus into the service too: read the version right before each update.
    const update = (body: unknown, extra = '') =>
      eventually('an update at the current version', async () => {
        const version = (await api('GET', `/services/${id}`)).json<Service>().Version.Index;
        const r = await api('POST', `/services/${id}/update?version=${version}${extra}`, body);
        if (r.status === 500 && /out of sequence/.test(r.body)) return undefined;
        return r;
      });
    const ok = await update(updated);
    assert.equal(ok.status, 200, ok.body);
    const s2 = (await api('GET', `/services/${id}`)).json<Service>();
    assert.deepEqual(s2.Spec.TaskTemplate.ContainerSpec.Env, ['V=2']);
    assert.equal(s2.PreviousSpec!.TaskTemplate.ContainerSpec.Env, undefined);
    assert.deepEqual(s2.Endpoint.VirtualIPs!.map((v) => v.Addr), vips, 'VIPs kept across the update');
    assert.equal((await update(updated, '&rollback=previous')).status, 200);
    const s3 = (await api('GET', `/services/${id}`)).json<Service>();
    assert.equal(s3.Spec.TaskTemplate.ContainerSpec.Env, undefined);
    assert.equal(s3.UpdateStatus?.State !== undefined, true);

    assert.equal((await api('DELETE', '/services/web')).status, 200);
    assert.equal((await api('GET', `/services/${id}`)).status, 404);
    // The network goes once no task of the service is live any more.
    await eventually('the network removed', async () => (await api('DELETE', '/networks/front')).status === 204, 45_000);
    // The node's local twin of the network goes with the next view the node gets.
    await eventually('front gone from /networks', async () => !(await api('GET', '/networks')).json<Array<{ Name: string }>>().some((n) => n.Name === 'front'), 15_000);
  });

  test('the docker CLI: create without --detach follows the tasks to convergence (the _up-to-date filter), ls and ps', async () => {
    const env = { DOCKER_HOST: `unix://${node.socket}` };
    const created = await run(DOCKER, ['service', 'create', '--name', 'cli', '--replicas', '2', 'busybox', 'sleep', '100000'], env);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout + created.stderr, /verify: Service (cli|\w+) converged/);
    const ls = await run(DOCKER, ['service', 'ls', '--format', '{{.Name}} {{.Replicas}}'], env);
    assert.equal(ls.stdout.trim(), 'cli 2/2');
    const ps = await run(DOCKER, ['service', 'ps', 'cli', '--format', '{{.Name}} {{.CurrentState}}'], env);
    assert.deepEqual(ps.stdout.trim().split('\n').map((l) => l.split(' ').slice(0, 2).join(' ')).sort(), ['cli.1 Running', 'cli.2 Running']);
    assert.equal((await run(DOCKER, ['service', 'rm', 'cli'], env)).code, 0);
  });
});
