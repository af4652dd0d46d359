/**
 * src/stack/: a compose file as the stack's networks, secrets, configs and service specs (as docker
 * stack deploy converts them), the keys a swarm ignores, depends_on order, and the comparison that
 * keeps unchanged services untouched on a redeploy.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadProject } from '../../src/compose/index.js';
import { checkKeys, comparable, convertStack, sameServiceSpec, StackError } from '../../src/stack/index.js';
import { normalizeSpec } from '../../src/swarm/services/spec.js';
import type { ServiceSpec } from '../../src/swarm/types.js';

function load(yaml: string, files: Record<string, string> = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-stack-'));
  try {
    writeFileSync(path.join(dir, 'compose.yaml'), yaml);
    for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
    const project = loadProject({ workingDir: dir, files: ['compose.yaml'], projectName: 'app', normalize: false, env: { TAG: '1.2' }, warn: () => {} });
    return { project, plan: () => convertStack(project, 'app') };
  } finally {
    // Files are read by convertStack: callers convert before the directory goes (plan() below is called inside).
    setImmediate(() => rmSync(dir, { recursive: true, force: true }));
  }
}

const FULL = `
services:
  web:
    image: nginx:\${TAG}
    command: ["nginx", "-g", "daemon off;"]
    entrypoint: /docker-entrypoint.sh
    environment: { B: "2", A: "1", UNSET: null }
    labels: { tier: front }
    hostname: webhost
    user: "101:101"
    working_dir: /srv
    stop_grace_period: 1m30s
    stop_signal: SIGQUIT
    init: true
    tty: true
    read_only: true
    cap_add: [net_admin]
    cap_drop: [ALL]
    sysctls: { net.core.somaxconn: 1024 }
    ulimits: { nofile: { soft: 1024, hard: 2048 }, nproc: 65535 }
    dns: [10.0.0.2]
    extra_hosts: ["db.local:10.0.0.9", "v6.local=::1"]
    logging: { driver: json-file, options: { max-size: 10m } }
    healthcheck: { test: ["CMD", "true"], interval: 10s, retries: 3 }
    ports: ["8080:80", { target: 443, published: 8443, mode: host }]
    networks: { front: { aliases: [www] }, back: {} }
    volumes: [data:/data, /etc/hosts:/h:ro, { type: tmpfs, target: /t, tmpfs: { size: 1000 } }]
    secrets: [token]
    configs: [{ source: site, target: /etc/site.conf, uid: "103", mode: 0o440 }]
    deploy:
      mode: replicated
      replicas: 3
      endpoint_mode: vip
      labels: { com.example: x }
      placement: { constraints: [node.role==worker], preferences: [{ spread: node.labels.zone }], max_replicas_per_node: 2 }
      resources: { limits: { cpus: "0.5", memory: 64M, pids: 100 }, reservations: { memory: 32M } }
      update_config: { parallelism: 2, delay: 10s, order: start-first, failure_action: rollback }
      rollback_config: { monitor: 5s }
      restart_policy: { condition: on-failure, delay: 5s, max_attempts: 3, window: 2m }
networks:
  front: {}
  back: { driver_opts: { encrypted: "" }, attachable: true, labels: { a: b } }
volumes:
  data: { driver: local, labels: { v: "1" } }
secrets:
  token: { file: ./token.txt }
configs:
  site: { file: ./site.conf, template_driver: golang }
`;

test('a full service converts as docker stack deploy converts it', () => {
  const { plan } = load(FULL, { 'token.txt': 's3cret', 'site.conf': 'name={{.Service.Name}}' });
  const p = plan();
  assert.equal(p.services.length, 1);
  const spec = p.services[0]!.spec;
  assert.equal(spec.Name, 'app_web');
  assert.deepEqual(spec.Labels, { 'com.example': 'x', 'com.docker.stack.namespace': 'app', 'com.docker.stack.image': 'nginx:1.2' });
  const c = spec.TaskTemplate.ContainerSpec!;
  assert.equal(c.Image, 'nginx:1.2');
  assert.deepEqual(c.Command, ['/docker-entrypoint.sh']);
  assert.deepEqual(c.Args, ['nginx', '-g', 'daemon off;']);
  assert.deepEqual(c.Env, ['A=1', 'B=2', 'UNSET']);
  assert.deepEqual(c.Labels, { tier: 'front', 'com.docker.stack.namespace': 'app' });
  assert.equal(c.Hostname, 'webhost');
  assert.equal(c.User, '101:101');
  assert.equal(c.Dir, '/srv');
  assert.equal(c.StopGracePeriod, 90e9);
  assert.equal(c.StopSignal, 'SIGQUIT');
  assert.equal(c.Init, true);
  assert.equal(c.TTY, true);
  assert.equal(c.ReadOnly, true);
  assert.deepEqual(c.CapabilityAdd, ['CAP_NET_ADMIN']);
  assert.deepEqual(c.CapabilityDrop, ['ALL']);
  assert.deepEqual(c.Sysctls, { 'net.core.somaxconn': '1024' });
  assert.deepEqual(c.Ulimits, [{ Name: 'nofile', Soft: 1024, Hard: 2048 }, { Name: 'nproc', Soft: 65535, Hard: 65535 }]);
  assert.deepEqual(c.DNSConfig, { Nameservers: ['10.0.0.2'] });
  assert.deepEqual(c.Hosts, ['10.0.0.9 db.local', '::1 v6.local']);
  assert.deepEqual(c.Healthcheck, { Test: ['CMD', 'true'], Interval: 10e9, Retries: 3 });
  assert.deepEqual(c.Mounts, [
    { Type: 'volume', Target: '/data', Source: 'app_data', VolumeOptions: { Labels: { v: '1', 'com.docker.stack.namespace': 'app' }, DriverConfig: { Name: 'local' } } },
    { Type: 'bind', Target: '/h', Source: '/etc/hosts', ReadOnly: true },
    { Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 1000 } },
  ]);
  assert.deepEqual(c.Secrets, [{ File: { Name: 'token', UID: '0', GID: '0', Mode: 0o444 }, SecretID: '', SecretName: 'app_token' }]);
  assert.deepEqual(c.Configs, [{ File: { Name: '/etc/site.conf', UID: '103', GID: '0', Mode: 0o440 }, ConfigID: '', ConfigName: 'app_site' }]);
  const t = spec.TaskTemplate;
  assert.deepEqual(t.Networks, [{ Target: 'app_back', Aliases: ['web'] }, { Target: 'app_front', Aliases: ['www', 'web'] }]);
  assert.deepEqual(t.LogDriver, { Name: 'json-file', Options: { 'max-size': '10m' } });
  assert.deepEqual(t.Placement, { Constraints: ['node.role==worker'], Preferences: [{ Spread: { SpreadDescriptor: 'node.labels.zone' } }], MaxReplicas: 2 });
  assert.deepEqual(t.Resources, { Limits: { NanoCPUs: 5e8, MemoryBytes: 64 * 1024 * 1024, Pids: 100 }, Reservations: { MemoryBytes: 32 * 1024 * 1024 } });
  assert.deepEqual(t.RestartPolicy, { Condition: 'on-failure', Delay: 5e9, MaxAttempts: 3, Window: 120e9 });
  assert.deepEqual(spec.Mode, { Replicated: { Replicas: 3 } });
  assert.deepEqual(spec.UpdateConfig, { Parallelism: 2, Delay: 10e9, FailureAction: 'rollback', Order: 'start-first' });
  assert.deepEqual(spec.RollbackConfig, { Parallelism: 1, Monitor: 5e9 });
  assert.deepEqual(spec.EndpointSpec, {
    Mode: 'vip',
    Ports: [
      { Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' },
      { Protocol: 'tcp', TargetPort: 443, PublishedPort: 8443, PublishMode: 'host' },
    ],
  });
  // Networks: only those used, overlay by default, labelled.
  assert.deepEqual(p.networks, [
    { Name: 'app_back', Driver: 'overlay', Labels: { a: 'b', 'com.docker.stack.namespace': 'app' }, Options: { encrypted: '' }, Attachable: true },
    { Name: 'app_front', Driver: 'overlay', Labels: { 'com.docker.stack.namespace': 'app' } },
  ]);
  assert.deepEqual(p.secrets, [{ Name: 'app_token', Labels: { 'com.docker.stack.namespace': 'app' }, Data: Buffer.from('s3cret').toString('base64') }]);
  assert.deepEqual(p.configs, [{ Name: 'app_site', Labels: { 'com.docker.stack.namespace': 'app' }, Data: Buffer.from('name={{.Service.Name}}').toString('base64'), Templating: { Name: 'golang' } }]);
});

test('a service without networks joins the stack default network; external objects are looked up, not made', () => {
  const { plan } = load(`
services:
  a: { image: busybox, secrets: [ext], networks: [shared] }
  b: { image: busybox, deploy: { mode: global } }
networks:
  shared: { external: true, name: corp-net }
secrets:
  ext: { external: true }
`);
  const p = plan();
  assert.deepEqual(p.externalNetworks, ['corp-net']);
  assert.deepEqual(p.networks.map((n) => n.Name), ['app_default']);
  assert.deepEqual(p.externalSecrets, ['ext']);
  assert.deepEqual(p.secrets, []);
  const a = p.services.find((s) => s.key === 'a')!.spec;
  assert.deepEqual(a.TaskTemplate.Networks, [{ Target: 'corp-net', Aliases: ['a'] }]);
  assert.equal((a.TaskTemplate.ContainerSpec!.Secrets![0] as { SecretName: string }).SecretName, 'ext');
  const b = p.services.find((s) => s.key === 'b')!.spec;
  assert.deepEqual(b.Mode, { Global: {} });
  assert.deepEqual(b.TaskTemplate.Networks, [{ Target: 'app_default', Aliases: ['b'] }]);
});

test('depends_on (long form too) orders the services; build is skipped with a note', () => {
  const { project, plan } = load(`
services:
  web: { image: web, build: ., depends_on: { api: { condition: service_healthy } } }
  api: { image: api, depends_on: [db] }
  db: { image: postgres, container_name: pg, restart: always, privileged: true }
`);
  assert.deepEqual(plan().services.map((s) => s.key), ['db', 'api', 'web']);
  const { warnings } = checkKeys(project);
  assert.match(warnings, /^Ignoring unsupported options: privileged, restart\n\n/);
  assert.match(warnings, /Ignoring deprecated options:\n\ncontainer_name: Setting the container name is not supported.\n\n/);
  assert.match(warnings, /Skipping build for service web: stack deploy does not build images; the service runs image web\n/);
  // restart: still read when deploy.restart_policy is absent, as docker does.
  assert.deepEqual(plan().services[0]!.spec.TaskTemplate.RestartPolicy, { Condition: 'any' });
});

test('keys docker refuses, missing images, unknown modes and undefined volumes are errors', () => {
  assert.throws(() => checkKeys(load('services:\n  a: { image: busybox, mem_limit: 64m }\n').project), (e: Error) => e instanceof StackError && e.message === 'compose file contains unsupported options:\n\nmem_limit: Set resource limits using deploy.resources\n');
  assert.throws(() => load('services:\n  a: { build: . }\n').plan(), /invalid image reference for service a: no image specified/);
  assert.throws(() => load('services:\n  a: { image: busybox, deploy: { mode: global, replicas: 2 } }\n').plan(), /service a: replicas can only be used with replicated or replicated-job mode/);
  assert.throws(() => load('services:\n  a: { image: busybox, secrets: [s] }\nsecrets:\n  s: { file: ./missing }\n').plan(), /open .*missing: no such file or directory/);
});

function deployed(spec: ServiceSpec): ServiceSpec {
  // What the daemon stores: its defaults filled in, networks by ID.
  const stored = normalizeSpec(structuredClone(spec) as never, () => 'x');
  for (const n of stored.TaskTemplate.Networks ?? []) n.Target = `id-${n.Target}`;
  return stored;
}

test('unchanged detection: the stored form of the same spec is the same; any real change is not', () => {
  const { plan } = load(FULL, { 'token.txt': 's', 'site.conf': 'c' });
  const spec = plan().services[0]!.spec;
  const ids = (t: string) => (t.startsWith('id-') ? t : `id-${t}`);
  const stored = deployed(spec);
  assert.notDeepEqual(stored, spec, 'the daemon adds defaults, so a plain comparison would see a change');
  assert.equal(sameServiceSpec(structuredClone(spec), stored, ids), true);
  const changes: Array<(s: ServiceSpec) => void> = [
    (s) => (s.TaskTemplate.ContainerSpec!.Env = ['A=2']),
    (s) => (s.Mode = { Replicated: { Replicas: 4 } }),
    (s) => (s.TaskTemplate.ContainerSpec!.Image = 'nginx:1.3'),
    (s) => (s.TaskTemplate.Networks = s.TaskTemplate.Networks!.slice(1)),
    (s) => (s.EndpointSpec!.Ports = []),
    (s) => (s.TaskTemplate.Placement!.Constraints = []),
  ];
  for (const change of changes) {
    const wanted = structuredClone(spec);
    change(wanted);
    assert.equal(sameServiceSpec(wanted, stored, ids), false, change.toString());
  }
  // Global with no replicas and replicated 0 are not the same thing, though both are "empty".
  const global = { ...structuredClone(spec), Mode: { Global: {} } };
  const zero = { ...structuredClone(spec), Mode: { Replicated: { Replicas: 0 } } };
  assert.notDeepEqual(comparable(global), comparable(zero));
});

test('unchanged detection: a minimal service (no deploy keys) compares equal to its stored form', () => {
  const { plan } = load('services:\n  a: { image: busybox, command: sleep 1000 }\n');
  const spec = plan().services[0]!.spec;
  assert.equal(sameServiceSpec(spec, deployed(spec), (t) => (t.startsWith('id-') ? t : `id-${t}`)), true);
});
