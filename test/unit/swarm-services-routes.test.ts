/**
 * The /services, /tasks and /networks (cluster side) routes over a real API server on a loopback port,
 * with the services on the in-memory store; the local network part is a small stand-in holding one
 * bridge network, since only the routing between local and cluster networks is under test here.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Router } from '../../src/api/router.js';
import { createApiServer } from '../../src/api/server.js';
import { serviceRoutes } from '../../src/api/routes/services.js';
import { taskRoutes } from '../../src/api/routes/tasks.js';
import { networkRoutes } from '../../src/api/routes/networks.js';
import type { NetworkBackend } from '../../src/api/backends.js';
import { notFound } from '../../src/lib/errors.js';
import { memorySwarmStore } from '../../src/swarm/store/memory.js';
import { ClusterNetworkApi, ServiceApi, TaskApi, ensureIngressNetwork } from '../../src/swarm/services/index.js';

const store = memorySwarmStore();
let manager = true;
let server: http.Server;
let port = 0;
const localCreates: unknown[] = [];

const bridge = { Name: 'bridge', Id: 'b'.repeat(64), Scope: 'local', Driver: 'bridge' };
const localNetworks = {
  list: () => [bridge],
  inspect: (ref: string) => {
    if (ref === 'bridge' || ref === bridge.Id) return bridge;
    throw notFound(`network ${ref} not found`);
  },
  create: async (req: unknown) => {
    localCreates.push(req);
    return { Id: 'local1', Warning: '' };
  },
  remove: async () => {},
  prune: async () => ({ NetworksDeleted: ['local-idle'] }),
} as unknown as NetworkBackend['networks'];

before(async () => {
  await ensureIngressNetwork(store);
  const router = new Router();
  serviceRoutes(router, { services: new ServiceApi({ store: () => store }) });
  taskRoutes(router, { tasks: new TaskApi(() => store) });
  const cluster = new ClusterNetworkApi(() => store);
  networkRoutes(router, { networks: localNetworks, containers: {} as NetworkBackend['containers'], cluster: { manager: () => (manager ? cluster : undefined) } });
  server = createApiServer(router);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

after(() => new Promise<void>((resolve) => server.close(() => resolve())));

function request(method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers: { 'Content-Type': 'application/json', ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        resolve({ status: res.statusCode!, json: text ? JSON.parse(text) : undefined });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('bad JSON and wrong types on /services/create answer 400 with Go words and make nothing', async () => {
  const cases: Array<[string, RegExp | string]> = [
    ['{"Name": "x",', /^invalid JSON: /],
    ['{"Name": 5}', 'invalid JSON: json: cannot unmarshal number into Go struct field ServiceSpec.Name of type string'],
    ['{"Name":"x","TaskTemplate":{"ContainerSpec":{"Image":5}}}', 'invalid JSON: json: cannot unmarshal number into Go struct field ContainerSpec.TaskTemplate.ContainerSpec.Image of type string'],
    ['{"Name":"x","TaskTemplate":{"ContainerSpec":{"Image":"nginx"}},"Mode":{"Replicated":{"Replicas":-1}}}', 'invalid JSON: json: cannot unmarshal number -1 into Go struct field ReplicatedService.Mode.Replicated.Replicas of type uint64'],
    ['{"Name":"x","TaskTemplate":{"ContainerSpec":{"Image":"nginx","Env":"A=1"}}}', /Go struct field ContainerSpec\.TaskTemplate\.ContainerSpec\.Env of type \[\]string/],
    ['{"Name":"x","EndpointSpec":{"Ports":[{"TargetPort":"80"}]}}', /Go struct field PortConfig\.EndpointSpec\.Ports\.TargetPort of type uint32/],
    ['[1,2]', /cannot unmarshal array into Go value of type swarm.ServiceSpec/],
  ];
  for (const [body, message] of cases) {
    const r = await request('POST', '/v1.47/services/create', body);
    assert.equal(r.status, 400, body);
    if (typeof message === 'string') assert.equal(r.json.message, message);
    else assert.match(r.json.message, message, body);
  }
  assert.equal((await store.services.list()).length, 0);
});

test('create, inspect, list, update and remove over HTTP', async () => {
  const created = await request('POST', '/services/create', JSON.stringify({ Name: 'web', Bogus: 1, TaskTemplate: { ContainerSpec: { Image: 'nginx', BerthRegistryAuth: 'forged', Extra: true }, Placement: { Constraints: ['node.role==manager'], Whatever: 2 } } }), { 'X-Registry-Auth': 'e30=' });
  assert.equal(created.status, 201);
  assert.deepEqual(Object.keys(created.json), ['ID', 'Warnings']);
  assert.equal(created.json.Warnings, null, 'dockerd answers "Warnings": null when there are none');
  const id = created.json.ID as string;
  const got = await request('GET', `/services/${id}?insertDefaults=true`);
  assert.equal(got.status, 200);
  assert.equal(got.json.Spec.UpdateConfig.FailureAction, 'pause');
  const stored = (await store.services.get(id))!;
  assert.deepEqual(stored.Spec.TaskTemplate.ContainerSpec, { Image: 'nginx', Isolation: 'default', BerthRegistryAuth: 'e30=' }, 'unknown fields dropped as Go drops them; the header credentials kept');
  assert.deepEqual(stored.Spec.TaskTemplate.Placement, { Constraints: ['node.role==manager'] });
  assert.equal('Bogus' in stored.Spec, false);
  assert.equal((await request('GET', '/services/web?insertDefaults=maybe')).status, 400);
  const listed = await request('GET', '/services?status=true');
  assert.deepEqual(listed.json[0].ServiceStatus, { RunningTasks: 0, DesiredTasks: 1, CompletedTasks: 0 });
  assert.equal((await request('GET', '/services?filters=' + encodeURIComponent('{"nope":["x"]}'))).status, 400);

  const version = got.json.Version.Index as number;
  const spec = JSON.stringify({ Name: 'web', TaskTemplate: { ContainerSpec: { Image: 'nginx:2' } } });
  const noVersion = await request('POST', `/services/${id}/update`, spec);
  assert.equal(noVersion.status, 400);
  assert.equal(noVersion.json.message, `invalid service version '': strconv.ParseUint: parsing "": invalid syntax`);
  const badBody = await request('POST', `/services/${id}/update?version=${version}`, '{"TaskTemplate": {"ContainerSpec": {"Image": ["x"]}}}');
  assert.equal(badBody.status, 400);
  assert.match(badBody.json.message, /^invalid JSON: json: cannot unmarshal array into Go struct field ContainerSpec/);
  assert.equal((await request('POST', `/services/${id}/update?version=${version}`, '{"Name":')).status, 400);
  assert.equal((await store.services.get(id))!.Version.Index, version, 'refused updates changed nothing');
  const stale = await request('POST', `/services/${id}/update?version=${version - 1}`, spec);
  assert.equal(stale.status, 500);
  assert.equal(stale.json.message, 'rpc error: code = Unknown desc = update out of sequence');
  const updated = await request('POST', `/services/${id}/update?version=${version}`, spec);
  assert.equal(updated.status, 200);
  assert.deepEqual(updated.json, { Warnings: null }, 'dockerd answers "Warnings": null, never {}');

  const conflict = await request('POST', '/services/create', JSON.stringify({ Name: 'web', TaskTemplate: { ContainerSpec: { Image: 'nginx' } } }));
  assert.equal(conflict.status, 409);

  assert.equal((await request('GET', '/tasks')).status, 200);
  assert.equal((await request('GET', '/tasks/none')).status, 404);
  const removed = await request('DELETE', '/services/web');
  assert.equal(removed.status, 200);
  assert.equal((await request('GET', `/services/${id}`)).status, 404);
});

test('/networks on a manager: cluster networks listed with the local ones, overlay create goes to the cluster', async () => {
  manager = true;
  const created = await request('POST', '/networks/create', JSON.stringify({ Name: 'front', Driver: 'overlay', Attachable: true }));
  assert.equal(created.status, 201);
  assert.deepEqual(Object.keys(created.json), ['Id', 'Warning']);
  assert.equal(localCreates.length, 0);
  const list = await request('GET', '/networks');
  assert.deepEqual(list.json.map((n: { Name: string }) => n.Name), ['front', 'ingress', 'bridge']);
  const inspected = await request('GET', '/networks/front');
  assert.equal(inspected.json.Scope, 'swarm');
  assert.equal((await request('GET', '/networks/front?scope=swarm')).json.Name, 'front');
  assert.equal((await request('GET', '/networks/bridge?scope=swarm')).status, 404, 'scope=swarm: cluster networks only');
  assert.equal((await request('POST', '/networks/create', JSON.stringify({ Name: 'front', Driver: 'overlay' }))).status, 409);
  assert.equal((await request('POST', '/networks/create', JSON.stringify({ Name: 'bridge', Driver: 'overlay' }))).status, 409, 'a local name is taken too');
  assert.equal((await request('POST', '/networks/create', JSON.stringify({ Name: 'front', Driver: 'bridge' }))).status, 409, 'a cluster name is taken for local networks');
  assert.equal((await request('DELETE', '/networks/front')).status, 204);
  assert.equal((await store.networks.list()).length, 1);
  assert.equal((await request('POST', '/networks/create', JSON.stringify({ Name: 'idle', Driver: 'overlay' }))).status, 201);
  const pruned = await request('POST', '/networks/prune');
  assert.deepEqual(pruned.json, { NetworksDeleted: ['idle', 'local-idle'] }, 'cluster networks first, never ingress');
  assert.deepEqual((await store.networks.list()).map((n) => n.Spec.Name), ['ingress']);
});

test('/networks on a node that is no manager: overlay create is refused as dockerd refuses it', async () => {
  manager = false;
  try {
    const r = await request('POST', '/networks/create', JSON.stringify({ Name: 'x', Driver: 'overlay' }));
    assert.equal(r.status, 403);
    assert.match(r.json.message, /^This node is not a swarm manager/);
    assert.deepEqual((await request('GET', '/networks')).json.map((n: { Name: string }) => n.Name), ['bridge']);
    assert.equal((await request('POST', '/networks/create', JSON.stringify({ Name: 'y' }))).status, 201);
    assert.equal(localCreates.length, 1);
  } finally {
    manager = true;
  }
});
