import { test } from 'node:test';
import assert from 'node:assert/strict';
import { memorySwarmStore } from '../../src/swarm/store/memory.js';
import { ClusterNetworkApi, ensureIngressNetwork } from '../../src/swarm/services/networks.js';
import { ServiceApi } from '../../src/swarm/services/service-api.js';
import { TaskApi } from '../../src/swarm/services/task-api.js';
import type { SwarmStore } from '../../src/swarm/contracts.js';
import type { Service, SwarmNode, Task } from '../../src/swarm/types.js';

const S = 1e9;

const setup = async (withIngress = true) => {
  const store = memorySwarmStore();
  if (withIngress) await ensureIngressNetwork(store);
  return { store, api: new ServiceApi({ store: () => store, localNetworkName: (ref) => (ref === 'bridge' ? 'bridge' : undefined) }), nets: new ClusterNetworkApi(() => store), tasks: new TaskApi(() => store) };
};

const rejectsWith = (p: Promise<unknown>, kind: string, message: string | RegExp) =>
  assert.rejects(p, (e: { kind?: string; message?: string }) => {
    assert.equal(e.kind, kind, e.message);
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message ?? '', message);
    return true;
  });

const inspect = async (api: ServiceApi, ref: string, defaults = false) => (await api.inspect(ref, defaults)) as unknown as Service;

test('a minimal spec gets what dockerd adds, and ?insertDefaults swarmkit defaults', async () => {
  const { api } = await setup();
  const { ID, ...rest } = await api.create({ Name: 'web', TaskTemplate: { ContainerSpec: { Image: 'nginx' } } });
  assert.match(ID, /^[0-9a-z]{25}$/);
  assert.deepEqual(rest, {}, 'no Warnings key');
  const s = await inspect(api, 'web');
  assert.deepEqual(Object.keys(s), ['ID', 'Version', 'CreatedAt', 'UpdatedAt', 'Spec', 'Endpoint']);
  assert.deepEqual(s.Spec, {
    Name: 'web',
    Labels: {},
    TaskTemplate: { ContainerSpec: { Image: 'nginx', Isolation: 'default' }, Runtime: 'container', ForceUpdate: 0 },
    Mode: { Replicated: { Replicas: 1 } },
  });
  assert.deepEqual(s.Endpoint, { Spec: {} });
  const d = await inspect(api, ID, true);
  assert.deepEqual(d.Spec.TaskTemplate, {
    ContainerSpec: { Image: 'nginx', Isolation: 'default', StopGracePeriod: 10 * S, DNSConfig: {} },
    Runtime: 'container',
    ForceUpdate: 0,
    Resources: {},
    RestartPolicy: { Condition: 'any', Delay: 5 * S, MaxAttempts: 0 },
    Placement: {},
  });
  const uc = { Parallelism: 1, FailureAction: 'pause', Monitor: 5 * S, MaxFailureRatio: 0, Order: 'stop-first' };
  assert.deepEqual(d.Spec.UpdateConfig, uc);
  assert.deepEqual(d.Spec.RollbackConfig, uc);
});

test('what the docker CLI sends is kept, with enums defaulted as dockerd converts them', async () => {
  const { api } = await setup();
  await api.create({
    Name: 'cli',
    Labels: { a: 'b' },
    TaskTemplate: {
      ContainerSpec: { Image: 'nginx:1', StopGracePeriod: 10 * S, DNSConfig: {}, Init: false },
      Resources: { Limits: {}, Reservations: {} },
      RestartPolicy: { Condition: '' as 'any', Delay: 5 * S },
      Placement: {},
    },
    Mode: { Global: {} },
    UpdateConfig: { Parallelism: 1, FailureAction: '' as 'pause', Monitor: 5 * S, MaxFailureRatio: 0, Order: '' as 'stop-first' },
    EndpointSpec: { Mode: '' as 'vip', Ports: [{ Protocol: '' as 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: '' as 'ingress' }] },
  });
  const s = await inspect(api, 'cli');
  assert.deepEqual(s.Spec.TaskTemplate.RestartPolicy, { Condition: 'any', Delay: 5 * S, MaxAttempts: 0 });
  assert.deepEqual(s.Spec.TaskTemplate.Resources, { Limits: {}, Reservations: {} });
  assert.deepEqual(s.Spec.Mode, { Global: {} });
  assert.deepEqual(s.Spec.UpdateConfig, { Parallelism: 1, FailureAction: 'pause', Monitor: 5 * S, MaxFailureRatio: 0, Order: 'stop-first' });
  assert.deepEqual(s.Spec.EndpointSpec, { Mode: 'vip', Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' }] });
  assert.deepEqual(s.Endpoint.Ports, [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' }]);
  assert.equal(s.Endpoint.VirtualIPs?.length, 1, 'a VIP on the ingress network');
});

test('validation errors carry swarmkit/dockerd words and leave nothing behind', async () => {
  const { api, store } = await setup();
  const img = { ContainerSpec: { Image: 'nginx' } };
  await rejectsWith(api.create({ Name: 'x', TaskTemplate: { ContainerSpec: { Image: '' } } }), 'InvalidArgument', 'rpc error: code = InvalidArgument desc = ContainerSpec: image reference must be provided');
  await rejectsWith(api.create({ Name: 'x', TaskTemplate: { ContainerSpec: { Image: 'UPPER' } } }), 'InvalidArgument', 'rpc error: code = InvalidArgument desc = ContainerSpec: "UPPER" is not a valid repository/tag');
  await rejectsWith(api.create({ Name: 'x' }), 'InvalidArgument', 'mismatched Runtime and *Spec fields');
  await rejectsWith(api.create({ Name: 'bad name', TaskTemplate: img }), 'InvalidArgument', 'rpc error: code = InvalidArgument desc = name must be valid as a DNS name component');
  await rejectsWith(api.create({ Name: 'a'.repeat(64), TaskTemplate: img }), 'InvalidArgument', 'rpc error: code = InvalidArgument desc = name must be 63 characters or fewer');
  await rejectsWith(api.create({ Name: 'x', TaskTemplate: img, Mode: { Global: {}, Replicated: { Replicas: 2 } } }), 'InvalidArgument', 'must specify only one service mode');
  await rejectsWith(api.create({ Name: 'x', TaskTemplate: { ...img, RestartPolicy: { Delay: -1 } } }), 'InvalidArgument', 'rpc error: code = InvalidArgument desc = TaskSpec: restart-delay cannot be negative');
  await rejectsWith(api.create({ Name: 'x', TaskTemplate: { ...img, RestartPolicy: { Condition: 'sometimes' as 'any' } } }), 'InvalidArgument', 'invalid RestartCondition: "sometimes"');
  await rejectsWith(api.create({ Name: 'x', TaskTemplate: img, UpdateConfig: { Delay: -5 } }), 'InvalidArgument', 'rpc error: code = InvalidArgument desc = TaskSpec: update-delay cannot be negative');
  await rejectsWith(api.create({ Name: 'x', TaskTemplate: img, UpdateConfig: { MaxFailureRatio: 2 } }), 'InvalidArgument', /update-maxfailureratio cannot be less than 0 or bigger than 1/);
  await rejectsWith(api.create({ Name: 'x', TaskTemplate: img, UpdateConfig: { Order: 'sideways' as 'stop-first' } }), 'InvalidArgument', 'unrecognized update order sideways');
  await rejectsWith(api.create({ Name: 'x', TaskTemplate: img, Mode: { ReplicatedJob: {} }, UpdateConfig: {} }), 'InvalidArgument', 'rpc error: code = InvalidArgument desc = Jobs may not have an update config');
  await rejectsWith(api.create({ Name: 'x', TaskTemplate: { ...img, Placement: { Constraints: ['node.role=manager'] } } }), 'Internal', 'rpc error: code = Unknown desc = constraint expected one operator from ==, !=');
  await rejectsWith(api.create({ Name: 'x', TaskTemplate: { ...img, Resources: { Limits: { MemoryBytes: 1024 } } } }), 'InvalidArgument', 'rpc error: code = InvalidArgument desc = invalid memory value 1024: Must be at least 4MiB');
  await rejectsWith(api.create({ Name: 'x', TaskTemplate: { ContainerSpec: { Image: 'nginx', Mounts: [{ Target: '/a' }, { Target: '/a' }] } } }), 'InvalidArgument', /duplicate mount point: \/a/);
  const secret = (SecretID: string, SecretName: string, file?: string) => ({ SecretID, SecretName, ...(file !== undefined ? { File: { Name: file, UID: '0', GID: '0', Mode: 0o444 } } : {}) });
  const withSecrets = (...Secrets: unknown[]) => ({ Name: 'x', TaskTemplate: { ContainerSpec: { Image: 'nginx', Secrets } } });
  await rejectsWith(api.create(withSecrets(secret('', 'a', 'a'))), 'InvalidArgument', 'rpc error: code = InvalidArgument desc = malformed secret reference');
  await rejectsWith(api.create(withSecrets(secret('s1', 'a'))), 'InvalidArgument', 'rpc error: code = InvalidArgument desc = malformed secret reference, no target provided');
  await rejectsWith(api.create(withSecrets(secret('s1', 'a', 'f'), secret('s2', 'b', 'f'))), 'InvalidArgument', "rpc error: code = InvalidArgument desc = secret references 'a' and 'b' have a conflicting target: 'f'");
  const dupPorts = { Ports: [{ TargetPort: 80, PublishedPort: 8080 }, { TargetPort: 81, PublishedPort: 8080 }] };
  await rejectsWith(api.create({ Name: 'x', TaskTemplate: img, EndpointSpec: dupPorts }), 'InvalidArgument', 'rpc error: code = InvalidArgument desc = EndpointSpec: duplicate published ports provided');
  await rejectsWith(api.create({ Name: 'x', TaskTemplate: img, EndpointSpec: { Mode: 'dnsrr', Ports: [{ TargetPort: 80 }] } }), 'InvalidArgument', /port published with ingress mode can't be used with dnsrr mode/);
  await rejectsWith(api.create({ Name: 'x', TaskTemplate: img, EndpointSpec: { Mode: 'rr' as 'vip' } }), 'InvalidArgument', 'invalid resolution mode: "rr"');
  await rejectsWith(api.create({ Name: 'x', TaskTemplate: { ...img, Networks: [{ Target: 'nowhere' }] } }), 'NotFound', 'network nowhere not found');
  await rejectsWith(api.create({ Name: 'x', TaskTemplate: { ...img, Networks: [{ Target: 'bridge' }] } }), 'Forbidden', /The network bridge cannot be used with services/);
  await rejectsWith(api.create({ Name: 'x', TaskTemplate: { ...img, Networks: [{ Target: 'ingress' }] } }), 'InvalidArgument', 'rpc error: code = InvalidArgument desc = Service cannot be explicitly attached to the ingress network "ingress"');
  assert.equal((await store.services.list()).length, 0);
});

test('name conflicts, port conflicts, and a missing ingress network', async () => {
  const { api } = await setup();
  const img = { ContainerSpec: { Image: 'nginx' } };
  const a = await api.create({ Name: 'web', TaskTemplate: img, EndpointSpec: { Ports: [{ TargetPort: 80, PublishedPort: 8080 }] } });
  await rejectsWith(api.create({ Name: 'web', TaskTemplate: img }), 'Conflict', 'rpc error: code = AlreadyExists desc = name conflicts with an existing object: service web already exists');
  await rejectsWith(api.create({ Name: 'WEB', TaskTemplate: img }), 'Conflict', 'rpc error: code = AlreadyExists desc = name conflicts with an existing object: service WEB already exists');
  assert.equal((await inspect(api, 'Web')).ID, a.ID, 'names are found without regard to case');
  await rejectsWith(api.create({ Name: 'other', TaskTemplate: img, EndpointSpec: { Ports: [{ TargetPort: 81, PublishedPort: 8080 }] } }), 'InvalidArgument', `rpc error: code = InvalidArgument desc = port '8080' is already in use by service 'web' (${a.ID}) as an ingress port`);
  // Host mode next to an ingress port of the same number: swarmkit refuses it too.
  await rejectsWith(api.create({ Name: 'other', TaskTemplate: img, EndpointSpec: { Ports: [{ TargetPort: 81, PublishedPort: 8080, PublishMode: 'host' }] } }), 'InvalidArgument', /port '8080' is already in use by service 'web'/);
  // udp on the same number is another port.
  await api.create({ Name: 'dns', TaskTemplate: img, EndpointSpec: { Ports: [{ Protocol: 'udp', TargetPort: 53, PublishedPort: 8080 }] } });
  const noIngress = await setup(false);
  await rejectsWith(noIngress.api.create({ Name: 'web', TaskTemplate: img, EndpointSpec: { Ports: [{ TargetPort: 80 }] } }), 'InvalidArgument', 'rpc error: code = FailedPrecondition desc = service needs ingress network, but no ingress network is present');
  await noIngress.api.create({ Name: 'hostonly', TaskTemplate: img, EndpointSpec: { Ports: [{ TargetPort: 80, PublishedPort: 80, PublishMode: 'host' }] } });
});

test('a random name when none is given', async () => {
  const { api } = await setup();
  const { ID } = await api.create({ TaskTemplate: { ContainerSpec: { Image: 'nginx' } } });
  const s = await inspect(api, ID);
  assert.match(s.Spec.Name, /^[a-z]+_[a-z]+\d?$/);
});

test('networks by name become IDs (Spec.Networks folded in); VIPs per network and ingress; dynamic published ports', async () => {
  const { api, nets, store } = await setup();
  const front = await nets.create({ Name: 'front', Driver: 'overlay' });
  const ingress = (await store.networks.list()).find((n) => n.Spec.Ingress)!;
  await api.create({ Name: 'web', TaskTemplate: { ContainerSpec: { Image: 'nginx' } }, Networks: [{ Target: 'front', Aliases: ['w'] }], EndpointSpec: { Ports: [{ TargetPort: 80 }, { TargetPort: 443, PublishedPort: 30000 }] } });
  const s = await inspect(api, 'web');
  assert.deepEqual(s.Spec.TaskTemplate.Networks, [{ Target: front.ID, Aliases: ['w'] }]);
  assert.equal('Networks' in s.Spec, false);
  assert.deepEqual(s.Endpoint.VirtualIPs, [
    { NetworkID: ingress.ID, Addr: '10.0.0.254/24' },
    { NetworkID: front.ID, Addr: '10.0.1.254/24' },
  ]);
  assert.deepEqual(s.Endpoint.Ports!.map((p) => p.PublishedPort), [30001, 30000], 'the dynamic port skips one another port asked for');
  await api.create({ Name: 'api', TaskTemplate: { ContainerSpec: { Image: 'nginx' }, Networks: [{ Target: front.ID.slice(0, 8) }] }, EndpointSpec: { Ports: [{ TargetPort: 80 }] } });
  const t = await inspect(api, 'api');
  assert.deepEqual(t.Endpoint.VirtualIPs!.map((v) => v.Addr), ['10.0.0.253/24', '10.0.1.253/24'], 'VIPs from the top of the subnet (tasks take the bottom)');
  assert.equal(t.Endpoint.Ports![0]!.PublishedPort, 30002);
  await api.remove('web');
  await api.create({ Name: 'again', TaskTemplate: { ContainerSpec: { Image: 'nginx' } }, EndpointSpec: { Ports: [{ TargetPort: 80 }] } });
  const g = await inspect(api, 'again');
  assert.equal(g.Endpoint.Ports![0]!.PublishedPort, 30000, 'ports of a removed service are free again');
  assert.deepEqual(g.Endpoint.VirtualIPs!.map((v) => v.Addr), ['10.0.0.254/24'], 'so are its VIPs');
  await api.create({ Name: 'rr', TaskTemplate: { ContainerSpec: { Image: 'nginx' }, Networks: [{ Target: 'front' }] }, EndpointSpec: { Mode: 'dnsrr' } });
  assert.equal((await inspect(api, 'rr')).Endpoint.VirtualIPs, undefined, 'dnsrr has no VIP');
});

test('update: ?version, PreviousSpec, kept VIPs and ports, rollback, refused changes', async () => {
  const { api, nets } = await setup();
  await nets.create({ Name: 'front', Driver: 'overlay' });
  const spec = { Name: 'web', TaskTemplate: { ContainerSpec: { Image: 'nginx:1' }, Networks: [{ Target: 'front' }] }, EndpointSpec: { Ports: [{ TargetPort: 80 }] } };
  const { ID } = await api.create(spec, 'creds-1');
  const v1 = await inspect(api, ID);
  assert.equal(JSON.stringify(v1).includes('creds-1'), false, 'registry credentials are never shown');
  await rejectsWith(api.update(ID, { ...spec, TaskTemplate: { ...spec.TaskTemplate, ContainerSpec: { Image: 'nginx:2' } } }, { version: v1.Version.Index + 5 }), 'Internal', 'rpc error: code = Unknown desc = update out of sequence');
  const res = await api.update('web', { ...spec, TaskTemplate: { ...spec.TaskTemplate, ContainerSpec: { Image: 'nginx:2' } } }, { version: v1.Version.Index });
  assert.deepEqual(res, {});
  const v2 = await inspect(api, ID);
  assert.equal(v2.Spec.TaskTemplate.ContainerSpec!.Image, 'nginx:2');
  assert.equal(v2.PreviousSpec!.TaskTemplate.ContainerSpec!.Image, 'nginx:1');
  assert.ok(v2.Version.Index > v1.Version.Index);
  assert.deepEqual(v2.Endpoint, v1.Endpoint, 'the same VIPs and published port');
  await rejectsWith(api.update(ID, { ...spec, Mode: { Global: {} } }, { version: v2.Version.Index }), 'NotImplemented', 'rpc error: code = Unimplemented desc = service mode change is not allowed');
  await rejectsWith(api.update(ID, { ...spec, Name: 'web2' }, { version: v2.Version.Index }), 'NotImplemented', 'rpc error: code = Unimplemented desc = renaming services is not supported');
  await rejectsWith(api.update(ID, spec, { version: v2.Version.Index, rollback: 'later' }), 'InvalidArgument', 'unrecognized rollback option later');
  await rejectsWith(api.update('nope', spec, { version: 1 }), 'NotFound', 'service nope not found');
  await api.update(ID, spec, { version: v2.Version.Index, rollback: 'previous' });
  const v3 = await inspect(api, ID);
  assert.equal(v3.Spec.TaskTemplate.ContainerSpec!.Image, 'nginx:1');
  assert.equal(v3.PreviousSpec!.TaskTemplate.ContainerSpec!.Image, 'nginx:2');
  assert.equal(v3.UpdateStatus!.State, 'rollback_started');
  assert.equal(v3.UpdateStatus!.Message, 'manually requested rollback');
  const fresh = await setup();
  const f = await fresh.api.create({ Name: 'f', TaskTemplate: { ContainerSpec: { Image: 'nginx' } } });
  const fv = await inspect(fresh.api, f.ID);
  await rejectsWith(fresh.api.update(f.ID, { Name: 'f', TaskTemplate: { ContainerSpec: { Image: 'nginx' } } }, { version: fv.Version.Index, rollback: 'previous' }), 'InvalidArgument', `rpc error: code = FailedPrecondition desc = service ${f.ID} does not have a previous spec`);
});

test('update keeps the registry credentials unless new ones come; registryAuthFrom previous-spec', async () => {
  const { api, store } = await setup();
  const spec = (image: string) => ({ Name: 'web', TaskTemplate: { ContainerSpec: { Image: image } } });
  const { ID } = await api.create(spec('a'), 'creds-1');
  const auth = async () => ((await store.services.get(ID))!.Spec.TaskTemplate.ContainerSpec as { BerthRegistryAuth?: string }).BerthRegistryAuth;
  const version = async () => (await store.services.get(ID))!.Version.Index;
  await api.update(ID, spec('b'), { version: await version() });
  assert.equal(await auth(), 'creds-1');
  await api.update(ID, spec('c'), { version: await version(), registryAuth: 'creds-2' });
  assert.equal(await auth(), 'creds-2');
  await api.update(ID, spec('d'), { version: await version(), registryAuthFrom: 'previous-spec' });
  assert.equal(await auth(), 'creds-1', 'the previous spec (b) had creds-1');
  await rejectsWith(api.update(ID, spec('e'), { version: await version(), registryAuthFrom: 'elsewhere' }), 'InvalidArgument', "invalid registryAuthFrom 'elsewhere'");
});

test('inspect by id, name and unique prefix; list filters and ServiceStatus', async () => {
  const { api, store } = await setup();
  const a = await api.create({ Name: 'web', Labels: { tier: 'front' }, TaskTemplate: { ContainerSpec: { Image: 'nginx' } }, Mode: { Replicated: { Replicas: 3 } } });
  const b = await api.create({ Name: 'webhook', TaskTemplate: { ContainerSpec: { Image: 'nginx' } }, Mode: { Global: {} } });
  const c = await api.create({ Name: 'job', TaskTemplate: { ContainerSpec: { Image: 'busybox' } }, Mode: { ReplicatedJob: { MaxConcurrent: 2, TotalCompletions: 4 } } });
  assert.equal((await inspect(api, a.ID)).Spec.Name, 'web');
  assert.equal((await inspect(api, 'webhook')).ID, b.ID);
  let prefix = 1;
  while ([a.ID, b.ID, c.ID].filter((id) => id.startsWith(a.ID.slice(0, prefix))).length > 1) prefix++;
  assert.equal((await inspect(api, a.ID.slice(0, prefix))).ID, a.ID);
  await rejectsWith(api.inspect('zzzz-none'), 'NotFound', 'service zzzz-none not found');
  const names = async (filters?: object) => (await api.list(filters && JSON.stringify(filters))).map((s) => (s as unknown as Service).Spec.Name).sort();
  assert.deepEqual(await names(), ['job', 'web', 'webhook']);
  assert.deepEqual(await names({ name: ['web'] }), ['web', 'webhook'], 'name is a prefix');
  assert.deepEqual(await names({ label: ['tier=front'] }), ['web']);
  assert.deepEqual(await names({ label: ['tier'] }), ['web']);
  assert.deepEqual(await names({ mode: ['global'] }), ['webhook']);
  assert.deepEqual(await names({ mode: ['replicated-job'] }), ['job']);
  assert.deepEqual(await names({ id: [b.ID.slice(0, 10)] }), ['webhook']);
  await assert.rejects(api.list(JSON.stringify({ color: ['red'] })), /invalid filter 'color'/);
  const j = (await store.services.get(c.ID))!;
  assert.deepEqual(j.JobStatus!.JobIteration, { Index: 0 });

  // Nodes n1 (ready) and n2 (down); tasks in various states.
  const node = (ID: string, State: 'ready' | 'down') => ({ ID, Version: { Index: 0 }, CreatedAt: '', UpdatedAt: '', Spec: { Role: 'worker', Availability: 'active' }, Status: { State, Addr: '10.0.0.1' } }) as unknown as SwarmNode;
  await store.nodes.create(node('n1', 'ready'));
  await store.nodes.create(node('n2', 'down'));
  const task = (ID: string, ServiceID: string, state: Task['Status']['State'], desired: Task['DesiredState'], NodeID: string, extra: Partial<Task> = {}) =>
    store.tasks.create({ ID, Version: { Index: 0 }, CreatedAt: '', UpdatedAt: '', Spec: {}, ServiceID, NodeID, Status: { Timestamp: '', State: state, Message: '' }, DesiredState: desired, ...extra } as Task);
  await task('t1', a.ID, 'running', 'running', 'n1', { Slot: 1 });
  await task('t2', a.ID, 'running', 'running', 'n2', { Slot: 2 });
  await task('t3', a.ID, 'shutdown', 'shutdown', 'n1', { Slot: 1 });
  await task('t4', b.ID, 'running', 'running', 'n1');
  await task('t5', b.ID, 'pending', 'running', 'n2');
  await task('t6', c.ID, 'complete', 'complete', 'n1', { Slot: 1, JobIteration: { Index: 0 } });
  await task('t7', c.ID, 'running', 'complete', 'n1', { Slot: 2, JobIteration: { Index: 0 } });
  const statuses = Object.fromEntries((await api.list(undefined, true)).map((s) => [(s as unknown as Service).Spec.Name, (s as { ServiceStatus: unknown }).ServiceStatus]));
  assert.deepEqual(statuses.web, { RunningTasks: 1, DesiredTasks: 3, CompletedTasks: 0 }, 'a task on a down node is not running');
  assert.deepEqual(statuses.webhook, { RunningTasks: 1, DesiredTasks: 2, CompletedTasks: 0 });
  assert.deepEqual(statuses.job, { RunningTasks: 1, DesiredTasks: 2, CompletedTasks: 1 });
  assert.equal('ServiceStatus' in (await api.list())[0]!, false);
});

test('tasks: filters (service/node by name, name prefix, desired-state, label) and the dockerd view', async () => {
  const { api, tasks, store } = await setup();
  const web = await api.create({ Name: 'web', Labels: { app: 'x' }, TaskTemplate: { ContainerSpec: { Image: 'nginx' } } });
  const db = await api.create({ Name: 'db', TaskTemplate: { ContainerSpec: { Image: 'postgres' } }, Mode: { Global: {} } });
  await store.nodes.create({ ID: 'node1xyz', Version: { Index: 0 }, CreatedAt: '', UpdatedAt: '', Spec: { Role: 'manager', Availability: 'active' }, Description: { Hostname: 'host-one' }, Status: { State: 'ready', Addr: '' } } as unknown as SwarmNode);
  const mk = (ID: string, ServiceID: string, desired: Task['DesiredState'], extra: Partial<Task>) =>
    store.tasks.create({ ID, Version: { Index: 0 }, CreatedAt: '', UpdatedAt: '', Spec: { ContainerSpec: { Image: 'nginx', BerthRegistryAuth: 'secret' } }, ServiceID, Status: { Timestamp: '2026-01-01T00:00:00Z', State: 'running', Message: 'started' }, DesiredState: desired, ...extra } as Task);
  await mk('aaa1', web.ID, 'running', { Slot: 1, NodeID: 'node1xyz' });
  await mk('aaa2', web.ID, 'shutdown', { Slot: 10 });
  await mk('bbb1', db.ID, 'running', { NodeID: 'node1xyz' });
  const ids = async (filters: object) => (await tasks.list(JSON.stringify(filters))).map((t) => t.ID).sort();
  assert.deepEqual(await ids({ service: ['web'] }), ['aaa1', 'aaa2']);
  assert.deepEqual(await ids({ service: [db.ID] }), ['bbb1']);
  assert.deepEqual(await ids({ node: ['host-one'] }), ['aaa1', 'bbb1']);
  assert.deepEqual(await ids({ node: ['node1'] }), ['aaa1', 'bbb1'], 'a node by ID prefix');
  assert.deepEqual(await ids({ name: ['web.1'] }), ['aaa1', 'aaa2'], 'a prefix of <service>.<slot>.<id>, as swarmkit matches it');
  assert.deepEqual(await ids({ name: ['web.1.'] }), ['aaa1']);
  assert.deepEqual(await ids({ name: ['db.node1xyz'] }), ['bbb1']);
  assert.deepEqual(await ids({ 'desired-state': ['Running'] }), ['aaa1', 'bbb1']);
  assert.deepEqual(await ids({ label: ['app=x'] }), ['aaa1', 'aaa2']);
  assert.deepEqual(await ids({ id: ['bb'] }), ['bbb1']);
  // `_up-to-date`: tasks whose spec is the service's current task template (key order aside).
  await mk('ccc1', db.ID, 'running', { Spec: { Runtime: 'container', ForceUpdate: 0, ContainerSpec: { Isolation: 'default', Image: 'postgres' } } });
  assert.deepEqual(await ids({ service: ['db'], '_up-to-date': ['true'] }), ['ccc1']);
  await assert.rejects(tasks.list(JSON.stringify({ 'desired-state': ['sleeping'] })), /Invalid desired-state filter: 'sleeping'/);
  await assert.rejects(tasks.list(JSON.stringify({ service: ['nope'] })), /service nope not found/);
  const t = await tasks.inspect('aaa1');
  assert.deepEqual(Object.keys(t), ['ID', 'Version', 'CreatedAt', 'UpdatedAt', 'Labels', 'Spec', 'ServiceID', 'Slot', 'NodeID', 'Status', 'DesiredState']);
  assert.deepEqual(t.Status, { Timestamp: '2026-01-01T00:00:00Z', State: 'running', Message: 'started', PortStatus: {} });
  assert.deepEqual(t.Spec, { ContainerSpec: { Image: 'nginx' } }, 'no credentials, no Name');
  assert.equal((await tasks.inspect('web.1.aaa1')).ID, 'aaa1');
  await assert.rejects(tasks.inspect('zz'), /task zz not found/);
});

test('a store that throws (no manager) makes every call fail with its error', async () => {
  const noManager = (): SwarmStore => {
    throw Object.assign(new Error('This node is not a swarm manager.'), { kind: 'Unavailable' });
  };
  const api = new ServiceApi({ store: noManager });
  await assert.rejects(api.create({ Name: 'x' }), /not a swarm manager/);
  await assert.rejects(api.list(), /not a swarm manager/);
  await assert.rejects(new TaskApi(noManager).list(), /not a swarm manager/);
});

test('ports: zero values omitted as dockerd shows them, key order as Go writes them', async () => {
  const { api } = await setup();
  await api.create({ Name: 'p', TaskTemplate: { ContainerSpec: { Image: 'nginx' } }, EndpointSpec: { Ports: [{ PublishMode: 'host', TargetPort: 80, Name: 'web' }, { TargetPort: 81 }] } });
  const s = await inspect(api, 'p');
  assert.deepEqual(s.Spec.EndpointSpec!.Ports, [{ Name: 'web', Protocol: 'tcp', TargetPort: 80, PublishMode: 'host' }, { Protocol: 'tcp', TargetPort: 81, PublishMode: 'ingress' }]);
  assert.deepEqual(JSON.stringify(s.Endpoint.Ports), JSON.stringify([{ Name: 'web', Protocol: 'tcp', TargetPort: 80, PublishMode: 'host' }, { Protocol: 'tcp', TargetPort: 81, PublishedPort: 30000, PublishMode: 'ingress' }]));
});

test('two managers creating at once: the service with the higher ID gives up a dynamic port or VIP both chose', async () => {
  const { store, nets } = await setup();
  await nets.create({ Name: 'front', Driver: 'overlay' });
  // Two ServiceApi on one store stand for two managers (each serializes only its own requests).
  const m1 = new ServiceApi({ store: () => store });
  const m2 = new ServiceApi({ store: () => store });
  const spec = (Name: string) => ({ Name, TaskTemplate: { ContainerSpec: { Image: 'nginx' }, Networks: [{ Target: 'front' }] }, EndpointSpec: { Ports: [{ TargetPort: 80 }] } });
  await Promise.all([m1.create(spec('a')), m2.create(spec('b'))]);
  const [a, b] = [await inspect(m1, 'a'), await inspect(m1, 'b')];
  const [low, high] = a.ID < b.ID ? [a, b] : [b, a];
  assert.equal(low.Endpoint.Ports![0]!.PublishedPort, 30000, 'the lower ID keeps what it chose');
  assert.equal(high.Endpoint.Ports![0]!.PublishedPort, 30001);
  assert.deepEqual(low.Endpoint.VirtualIPs!.map((v) => v.Addr), ['10.0.0.254/24', '10.0.1.254/24']);
  assert.deepEqual(high.Endpoint.VirtualIPs!.map((v) => v.Addr), ['10.0.0.253/24', '10.0.1.253/24']);
});
