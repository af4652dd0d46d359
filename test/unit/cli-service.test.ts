// `berth service`: flags -> ServiceSpec (create and update), the ls and ps tables.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFlags } from '../../src/cli/args.js';
import { applyUpdateFlags, createOnlyFlags, parsePublish, serviceFlags, specFromCreateFlags, updateOnlyFlags } from '../../src/cli/commands/service/spec-flags.js';
import { formatServiceList } from '../../src/cli/commands/service/index.js';
import { formatTasks } from '../../src/cli/commands/tasks-table.js';
import type { Service, Task } from '../../src/swarm/types.js';

const createFlags = (argv: string[]) => parseFlags([...serviceFlags(), ...createOnlyFlags()], argv, false);
const updateFlags = (argv: string[]) => parseFlags([...serviceFlags(), ...updateOnlyFlags()], argv, true);

test('create: the common flags become the spec docker sends', () => {
  const p = createFlags(['--name', 'web', '--replicas', '3', '-p', '8080:80', '-e', 'A=1', '--constraint', 'node.role==worker', '--update-parallelism', '2', '--update-order', 'start-first', '--restart-condition', 'on-failure', '--restart-delay', '2s', '--limit-memory', '64m', '--reserve-cpu', '0.5', '--network', 'net1', '--endpoint-mode', 'dnsrr', '--hostname', '{{.Service.Name}}-{{.Task.Slot}}', 'busybox', 'httpd', '-f']);
  const spec = specFromCreateFlags(p.flags, 'busybox', ['httpd', '-f'], '/');
  assert.equal(spec.Name, 'web');
  assert.deepEqual(spec.Mode, { Replicated: { Replicas: 3 } });
  assert.deepEqual(spec.EndpointSpec, { Mode: 'dnsrr', Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' }] });
  const cs = spec.TaskTemplate.ContainerSpec!;
  assert.equal(cs.Image, 'busybox');
  assert.deepEqual(cs.Args, ['httpd', '-f']);
  assert.deepEqual(cs.Env, ['A=1']);
  assert.equal(cs.Hostname, '{{.Service.Name}}-{{.Task.Slot}}');
  assert.deepEqual(spec.TaskTemplate.Placement?.Constraints, ['node.role==worker']);
  assert.deepEqual(spec.TaskTemplate.RestartPolicy, { Condition: 'on-failure', Delay: 2e9 });
  assert.equal(spec.TaskTemplate.Resources?.Limits?.MemoryBytes, 64 * 2 ** 20);
  assert.equal(spec.TaskTemplate.Resources?.Reservations?.NanoCPUs, 5e8);
  assert.deepEqual(spec.TaskTemplate.Networks, [{ Target: 'net1' }]);
  assert.deepEqual(spec.UpdateConfig, { Parallelism: 2, Order: 'start-first' });
});

test('create: global mode refuses --replicas; bad values are refused with docker-like errors', () => {
  assert.throws(() => specFromCreateFlags(createFlags(['--mode', 'global', '--replicas', '2']).flags, 'busybox', [], '/'), /replicas can only be used with replicated/);
  assert.throws(() => specFromCreateFlags(createFlags(['--replicas', 'x']).flags, 'busybox', [], '/'), /invalid argument "x" for "--replicas"/);
  assert.throws(() => parsePublish('published=80,mode=x,target=1'), /invalid publish mode/);
  assert.deepEqual(parsePublish('published=8080,target=80,mode=host,protocol=udp'), { Protocol: 'udp', PublishMode: 'host', PublishedPort: 8080, TargetPort: 80 });
  assert.deepEqual(parsePublish('53/udp'), { Protocol: 'udp', TargetPort: 53, PublishedPort: undefined, PublishMode: 'ingress' });
});

test('update: only the flags given change the spec; --force bumps ForceUpdate', () => {
  const base = specFromCreateFlags(createFlags(['-e', 'A=1', '-e', 'B=2', '-p', '8080:80', '--replicas', '2']).flags, 'busybox', ['sleep', '1'], '/');
  const next = applyUpdateFlags(base, updateFlags(['--env-add', 'A=9', '--env-rm', 'B', '--publish-rm', '80', '--publish-add', '9090:90', '--force', '--image', 'busybox:2']).flags, '/');
  assert.deepEqual(next.TaskTemplate.ContainerSpec!.Env, ['A=9']);
  assert.deepEqual(next.EndpointSpec?.Ports, [{ Protocol: 'tcp', TargetPort: 90, PublishedPort: 9090, PublishMode: 'ingress' }]);
  assert.equal(next.TaskTemplate.ForceUpdate, 1);
  assert.equal(next.TaskTemplate.ContainerSpec!.Image, 'busybox:2');
  assert.deepEqual(next.Mode, { Replicated: { Replicas: 2 } });
  assert.deepEqual(base.TaskTemplate.ContainerSpec!.Env, ['A=1', 'B=2'], 'the current spec is left alone');
});

const svc = (over: Partial<Service> & { ServiceStatus?: unknown }): Service =>
  ({ ID: 'abcdefghijklmnopqrstuvwxy', Version: { Index: 1 }, CreatedAt: '', UpdatedAt: '', Endpoint: { Spec: {} }, Spec: { Name: 'web', TaskTemplate: { ContainerSpec: { Image: 'busybox:latest@sha256:1234' } }, Mode: { Replicated: { Replicas: 3 } } }, ...over }) as Service;

test('service ls: docker columns, replicas as running/desired, ingress ports only', () => {
  const out = formatServiceList([
    { ...svc({ Endpoint: { Spec: {}, Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' }, { Protocol: 'tcp', TargetPort: 81, PublishedPort: 81, PublishMode: 'host' }] } }), ServiceStatus: { RunningTasks: 2, DesiredTasks: 3 } },
    { ...svc({ ID: 'zzzzzzzzzzzzzzzzzzzzzzzzz', Spec: { Name: 'agent', TaskTemplate: { ContainerSpec: { Image: 'busybox' } }, Mode: { Global: {} } } }), ServiceStatus: { RunningTasks: 4, DesiredTasks: 4 } },
  ], { format: '', quiet: false, trunc: true });
  const lines = out.split('\n');
  assert.match(lines[0]!, /^ID\s+NAME\s+MODE\s+REPLICAS\s+IMAGE\s+PORTS$/);
  assert.match(lines[1]!, /^zzzzzzzzzzzz\s+agent\s+global\s+4\/4\s+busybox\s*$/);
  assert.match(lines[2]!, /^abcdefghijkl\s+web\s+replicated\s+2\/3\s+busybox:latest\s+\*:8080->80\/tcp$/);
});

test('service ps: names by slot, history indented under the newest, states in words', () => {
  const now = Date.parse('2026-12-03T12:00:10Z');
  const task = (id: string, slot: number, state: string, created: string, err = ''): Task => ({
    ID: id, Version: { Index: 1 }, CreatedAt: created, UpdatedAt: created, ServiceID: 's1', Slot: slot, NodeID: 'n1', DesiredState: state === 'running' ? 'running' : 'shutdown',
    Spec: { ContainerSpec: { Image: 'busybox:latest@sha256:1' } }, Status: { Timestamp: '2026-12-03T12:00:05Z', State: state as Task['Status']['State'], Message: '', Err: err || undefined },
  });
  const out = formatTasks([task('t2aaaaaaaaaaaaaa', 1, 'failed', '2026-12-03T12:00:00Z', 'task: non-zero exit (1): a long message that goes on'), task('t3aaaaaaaaaaaaaa', 1, 'running', '2026-12-03T12:00:04Z'), task('t1aaaaaaaaaaaaaa', 2, 'running', '2026-12-03T12:00:01Z')],
    { service: () => 'web', node: () => 'node1' }, { format: '', quiet: false, trunc: true, nowMs: now });
  const lines = out.trimEnd().split('\n');
  assert.match(lines[0]!, /^ID\s+NAME\s+IMAGE\s+NODE\s+DESIRED STATE\s+CURRENT STATE\s+ERROR\s+PORTS$/);
  assert.match(lines[1]!, /^t3aaaaaaaaaa\s+web\.1\s+busybox:latest\s+node1\s+Running\s+Running 5 seconds ago\s*$/);
  assert.match(lines[2]!, /^t2aaaaaaaaaa\s+ \\_ web\.1\s+busybox:latest\s+node1\s+Shutdown\s+Failed 5 seconds ago\s+"task: non-zero exit \(1\): a lo…"\s*$/);
  assert.match(lines[3]!, /^t1aaaaaaaaaa\s+web\.2\s/);
});
