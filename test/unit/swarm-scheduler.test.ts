import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConstraints, nodeMatches } from '../../src/swarm/orchestrator/constraints.js';
import { schedule } from '../../src/swarm/orchestrator/scheduler.js';
import { isTaskDirty } from '../../src/swarm/orchestrator/spec-diff.js';
import { makeTask } from '../../src/swarm/orchestrator/task-model.js';
import type { NodeState, Service, SwarmNode, Task, TaskSpec } from '../../src/swarm/types.js';

function node(id: string, o: { labels?: Record<string, string>; role?: 'manager' | 'worker'; availability?: 'active' | 'pause' | 'drain'; cpus?: number; memory?: number; engine?: Record<string, string> } = {}): SwarmNode {
  return {
    ID: id, Version: { Index: 1 }, CreatedAt: '', UpdatedAt: '',
    Spec: { Role: o.role ?? 'worker', Availability: o.availability ?? 'active', Labels: o.labels ?? {} },
    Description: {
      Hostname: `h-${id}`, Platform: { Architecture: 'x86_64', OS: 'linux' },
      Resources: { NanoCPUs: o.cpus ?? 2e9, MemoryBytes: o.memory ?? 2 ** 30 },
      Engine: { EngineVersion: '1', Labels: o.engine ?? {} }, TLSInfo: { TrustRoot: '', CertIssuerSubject: '', CertIssuerPublicKey: '' },
    },
    Status: { State: 'ready', Addr: '10.0.0.1' },
  };
}

let seq = 0;
function task(service: string, spec: TaskSpec = {}, o: { nodeId?: string; state?: Task['Status']['State']; slot?: number } = {}): Task {
  seq++;
  return {
    ID: `t${seq}`, Version: { Index: seq }, CreatedAt: '', UpdatedAt: '', Spec: spec, ServiceID: service, Slot: o.slot ?? seq,
    NodeID: o.nodeId, Status: { State: o.state ?? 'pending', Message: '', Timestamp: '' }, DesiredState: 'running', BerthSpecVersion: 1,
  };
}

const run = (pending: Task[], nodes: SwarmNode[], existing: Task[] = [], live: Record<string, NodeState> = {}) =>
  schedule({ pending, nodes, tasks: [...existing, ...pending], liveness: (n) => live[n.ID] ?? 'ready' });

describe('constraints', () => {
  it('parses as swarmkit and reports dockerd\'s errors', () => {
    assert.deepEqual(parseConstraints(['node.role == manager', 'node.labels.zone!=east']), [
      { key: 'node.role', op: '==', value: 'manager' },
      { key: 'node.labels.zone', op: '!=', value: 'east' },
    ]);
    assert.throws(() => parseConstraints(['node.role=manager']), /constraint expected one operator from ==, !=/);
    assert.throws(() => parseConstraints(['no de==x']), /key 'no de' is invalid/);
    assert.throws(() => parseConstraints(['node.id==a,b']), /value 'a,b' is invalid/);
  });

  it('matches node fields case-insensitively; a missing label is the empty string', () => {
    const n = node('abc', { labels: { zone: 'East' }, role: 'manager', engine: { disk: 'ssd' } });
    const m = (e: string) => nodeMatches(parseConstraints([e]), n);
    assert.ok(m('node.id==abc'));
    assert.ok(m('node.hostname==h-abc'));
    assert.ok(m('node.role==MANAGER'));
    assert.ok(m('node.platform.os==linux'));
    assert.ok(m('node.platform.arch==x86_64'));
    assert.ok(m('node.labels.zone==east'));
    assert.ok(m('node.labels.rack!=r1'));
    assert.ok(!m('node.labels.rack==r1'));
    assert.ok(m('engine.labels.disk==ssd'));
    assert.ok(!m('node.unknown==x'));
  });
});

describe('scheduler', () => {
  it('spreads by the fewest tasks of the service, then the fewest tasks overall', () => {
    const nodes = [node('a'), node('b'), node('c')];
    const busy = [task('other', {}, { nodeId: 'a', state: 'running' }), task('other', {}, { nodeId: 'a', state: 'running' })];
    const d = run([task('s'), task('s'), task('s'), task('s')], nodes, busy);
    assert.deepEqual(d.map((x) => x.nodeId), ['b', 'c', 'a', 'b']);
  });

  it('never places on nodes that are down, paused or drained, and says so', () => {
    const d = run([task('s')], [node('a', { availability: 'pause' }), node('b', { availability: 'drain' }), node('c')], [], { c: 'down' });
    assert.equal(d[0]!.nodeId, undefined);
    assert.equal(d[0]!.err, 'no suitable node (3 nodes not available for new tasks)');
  });

  it('filters by constraints and explains by the most frequent failure first', () => {
    const nodes = [node('a'), node('b'), node('c', { labels: { zone: 'east' } }), node('d', { labels: { zone: 'east' } })];
    const spec = { Placement: { Constraints: ['node.labels.zone==east'] } };
    assert.deepEqual(run([task('s', spec), task('s', spec)], nodes).map((x) => x.nodeId), ['c', 'd']);
    const d = run([task('s', spec)], nodes, [], { d: 'down' });
    assert.equal(d[0]!.nodeId, 'c');
    const none = run([task('s', { Placement: { Constraints: ['node.labels.zone==west'] } })], nodes, [], { d: 'down' });
    assert.equal(none[0]!.err, 'no suitable node (scheduling constraints not satisfied on 3 nodes; 1 node not available for new tasks)');
  });

  it('counts reservations of the tasks already on a node against its resources', () => {
    const spec = { Resources: { Reservations: { NanoCPUs: 1e9 } } };
    const nodes = [node('a', { cpus: 2e9 }), node('b', { cpus: 1e9 })];
    const d = run([task('s', spec), task('s', spec), task('s', spec), task('s', spec)], nodes);
    assert.deepEqual(d.map((x) => x.nodeId), ['a', 'b', 'a', undefined]);
    assert.equal(d[3]!.err, 'no suitable node (insufficient resources on 2 nodes)');
  });

  it('keeps MaxReplicas per node', () => {
    const spec = { Placement: { MaxReplicas: 1 } };
    const d = run([task('s', spec), task('s', spec), task('s', spec)], [node('a'), node('b')]);
    assert.deepEqual(d.map((x) => x.nodeId), ['a', 'b', undefined]);
    assert.equal(d[2]!.err, 'no suitable node (max replicas per node limit exceed)');
  });

  it('spreads over the values of a placement preference label, nodes without it counting as one more value', () => {
    const nodes = [node('a1', { labels: { dc: 'a' } }), node('a2', { labels: { dc: 'a' } }), node('b1', { labels: { dc: 'b' } })];
    const spec = { Placement: { Preferences: [{ Spread: { SpreadDescriptor: 'node.labels.dc' } }] } };
    const d = run([task('s', spec), task('s', spec), task('s', spec), task('s', spec)], nodes);
    const dcOf = (id?: string) => (id?.startsWith('a') ? 'a' : 'b');
    assert.equal(d.filter((x) => dcOf(x.nodeId) === 'a').length, 2);
    assert.equal(d.filter((x) => dcOf(x.nodeId) === 'b').length, 2);
    assert.equal(d.filter((x) => x.nodeId === 'b1').length, 2);
  });

  it('confirms a preassigned node (global) or says why not', () => {
    const ok = run([task('g', {}, { nodeId: 'a' })], [node('a')]);
    assert.deepEqual([ok[0]!.nodeId, ok[0]!.preassigned], ['a', true]);
    const paused = run([task('g', {}, { nodeId: 'a' })], [node('a', { availability: 'pause' })]);
    assert.equal(paused[0]!.err, 'no suitable node (1 node not available for new tasks)');
  });

  it('keeps host-mode published ports apart', () => {
    const t1 = task('s');
    t1.BerthService = { Name: 's', EndpointMode: 'vip', Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'host' }] };
    const t2 = structuredClone(t1);
    t2.ID = 'other';
    const d = run([t1, t2], [node('a')]);
    assert.equal(d[0]!.nodeId, 'a');
    assert.equal(d[1]!.err, 'no suitable node (host-mode port already in use on 1 node)');
  });
});

describe('dirty tasks', () => {
  const svc = (over: Partial<Service> = {}): Service => ({
    ID: 's', Version: { Index: 10 }, CreatedAt: '', UpdatedAt: '',
    Spec: { Name: 'web', TaskTemplate: { ContainerSpec: { Image: 'v1', Env: ['A=1'] } }, Mode: { Replicated: { Replicas: 1 } }, EndpointSpec: { Mode: 'vip', Ports: [{ Protocol: 'tcp', TargetPort: 80 }, { Protocol: 'udp', TargetPort: 53, PublishedPort: 53 }] } },
    Endpoint: { Spec: {}, Ports: [{ Protocol: 'udp', TargetPort: 53, PublishedPort: 53, PublishMode: 'ingress' }, { Protocol: 'tcp', TargetPort: 80, PublishedPort: 30001, PublishMode: 'ingress' }] },
    ...over,
  });

  it('a task made from the current spec is clean, whatever later writes did to the service version', () => {
    const service = svc();
    const t = makeTask(service, { slot: 1 });
    assert.equal(isTaskDirty({ ...service, Version: { Index: 99 } }, t), false);
  });

  it('a changed template, ForceUpdate, endpoint mode or port makes it dirty; a placement its node still satisfies does not', () => {
    const service = svc();
    const t = makeTask(service, { slot: 1 });
    const later = (f: (s: Service) => void) => {
      const s = structuredClone(service);
      s.Version = { Index: 11 };
      f(s);
      return isTaskDirty(s, t, node('a', { labels: { zone: 'x' } }));
    };
    assert.equal(later((s) => (s.Spec.TaskTemplate.ContainerSpec!.Image = 'v2')), true);
    assert.equal(later((s) => (s.Spec.TaskTemplate.ForceUpdate = 1)), true);
    assert.equal(later((s) => (s.Spec.EndpointSpec!.Mode = 'dnsrr')), true);
    assert.equal(later((s) => s.Spec.EndpointSpec!.Ports!.push({ TargetPort: 443 })), true);
    assert.equal(later((s) => (s.Spec.TaskTemplate.Placement = { Constraints: ['node.labels.zone==x'] })), false);
    assert.equal(later((s) => (s.Spec.TaskTemplate.Placement = { Constraints: ['node.labels.zone==y'] })), true);
  });
});
