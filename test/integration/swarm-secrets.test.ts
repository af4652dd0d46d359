// Secrets and configs on a real one-node swarm (a devcluster node in its own network namespace), driven
// by `berth` and by the official docker CLI: create/ls/inspect/rm, Docker's errors, the data sealed in
// etcd (config data, not secret, is found there as a control), the key at rest, and an autolocked
// manager that cannot open secrets after a restart until it is unlocked; a worker holds no key, and gets it
// from the manager once promoted (and loses it when demoted).
import { test, after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { mkdtempSync, promises as fs, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { down, readCluster, restartNode, up, type DevCluster, type DevNode } from '../../src/swarm/devcluster/devcluster.js';
import { DEVCLUSTER_ADDR_POOL, SWARM_PORT, nodeApi } from '../../src/swarm/devcluster/swarm-setup.js';
import { BERTH, DOCKER, hasDocker, run } from './harness.js';
import { eventually } from './swarm-helpers.js';

const berth = (n: DevNode, args: string[], input?: string) => run(BERTH, args, { BERTH_HOST: `unix://${n.socket}` }, input);
const docker = (n: DevNode, args: string[], input?: string) => run(DOCKER, args, { DOCKER_HOST: `unix://${n.socket}` }, input);

/** A POST with a body sent as it is (nodeApi sends JSON of a value). */
function rawPost(n: DevNode, p: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: n.socket, method: 'POST', path: p, headers: { 'Content-Type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Sends part of a body announced longer, then drops the connection. */
function hangUpMidBody(n: DevNode, p: string, part: string): Promise<void> {
  return new Promise((resolve) => {
    const req = http.request({ socketPath: n.socket, method: 'POST', path: p, headers: { 'Content-Type': 'application/json', 'Content-Length': String(part.length * 4) } });
    req.on('error', () => resolve());
    req.write(part, () => setTimeout(() => (req.destroy(), resolve()), 100));
  });
}

/** Every file under `dir` that contains `needle`. */
async function filesContaining(dir: string, needle: Buffer): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await fs.readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    if ((await fs.readFile(file)).includes(needle)) found.push(file);
  }
  return found;
}

describe('secrets and configs on a swarm (one manager, then a worker promoted)', { timeout: 120_000 }, () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'berth-secrets-'));
  const root = path.join(tmp, 'c');
  let cluster: DevCluster;
  let node: DevNode;
  const api = (method: string, p: string, body?: unknown) => nodeApi(node, method, p, body);
  const clear = `clear-${randomBytes(12).toString('hex')}`;
  const configText = `config-${randomBytes(12).toString('hex')}`;

  before(async () => {
    cluster = await up(root, 2);
    node = cluster.nodes[0]!;
    const init = await api('POST', '/swarm/init', { ListenAddr: `${node.address}:${SWARM_PORT}`, AdvertiseAddr: node.address, DefaultAddrPool: [DEVCLUSTER_ADDR_POOL], AutoLockManagers: true });
    assert.equal(init.status, 200, init.body);
  });

  after(async () => {
    if (await readCluster(root)) await down(root);
    rmSync(tmp, { recursive: true, force: true });
  });

  test('berth: create from a file and stdin, ls, inspect, rm; Docker\'s errors', async () => {
    const file = path.join(tmp, 'pw.txt');
    writeFileSync(file, clear);
    const created = await berth(node, ['secret', 'create', '--label', 'env=prod', 'db_pass', file]);
    assert.equal(created.code, 0, created.stderr);
    const id = created.stdout.trim();
    assert.match(id, /^[0-9a-z]{25}$/);
    const fromStdin = await berth(node, ['secret', 'create', 'api-key', '-'], 'from stdin');
    assert.equal(fromStdin.code, 0, fromStdin.stderr);

    const clash = await berth(node, ['secret', 'create', 'db_pass', file]);
    assert.equal(clash.code, 1);
    assert.equal(clash.stderr.trim(), 'Error response from daemon: rpc error: code = AlreadyExists desc = secret db_pass already exists');
    const big = path.join(tmp, 'big');
    writeFileSync(big, Buffer.alloc(500 * 1024, 0x61));
    const tooBig = await berth(node, ['secret', 'create', 'big', big]);
    assert.equal(tooBig.stderr.trim(), 'Error response from daemon: rpc error: code = InvalidArgument desc = secret data must be larger than 0 and less than 512000 bytes');
    const badName = await berth(node, ['secret', 'create', 'bad/name', '-'], 'x');
    assert.equal(badName.stderr.trim(), 'Error response from daemon: rpc error: code = InvalidArgument desc = invalid name, only 64 [a-zA-Z0-9-_.] characters allowed, and the start and end character must be [a-zA-Z0-9]');
    const missing = await berth(node, ['secret', 'create', 'nofile', path.join(tmp, 'absent')]);
    assert.equal(missing.stderr.trim(), `error reading from ${path.join(tmp, 'absent')}: open ${path.join(tmp, 'absent')}: no such file or directory`);

    // Bad bodies: 400 with Go's words, nothing made, the daemon still answers.
    for (const [kind, body] of [['secrets', '{"Name":'], ['secrets', '{"Name":"x","Data":5}'], ['configs', '{"Name":"x","Labels":[1]}'], ['configs', '{"Name":"x","Data":"%%%"}']] as const) {
      const r = await rawPost(node, `/${kind}/create`, body);
      assert.equal(r.status, 400, `${kind} ${body}: ${r.body}`);
      assert.match(JSON.parse(r.body).message, /^invalid JSON: /);
    }
    assert.equal((await api('GET', '/configs')).json<unknown[]>().length, 0);
    // A client that hangs up half-way through a body: nothing made, the daemon still answers.
    for (const kind of ['secrets', 'configs']) await hangUpMidBody(node, `/${kind}/create`, `{"Name":"half-${kind}","Data":"aGVs`);
    assert.equal((await api('GET', '/configs')).json<unknown[]>().length, 0);
    assert.ok(!(await api('GET', '/secrets')).json<Array<{ Spec: { Name: string } }>>().some((x) => x.Spec.Name.startsWith('half-')));

    const ls = await berth(node, ['secret', 'ls']);
    const lines = ls.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^ID\s+NAME\s+DRIVER\s+CREATED\s+UPDATED$/);
    assert.deepEqual(lines.slice(1).map((l) => l.split(/\s+/)[1]), ['api-key', 'db_pass']);
    assert.equal((await berth(node, ['secret', 'ls', '-q', '--filter', 'label=env=prod'])).stdout, `${id}\n`);

    const inspected = JSON.parse((await berth(node, ['secret', 'inspect', 'db_pass'])).stdout) as Array<{ ID: string; Spec: Record<string, unknown> }>;
    assert.equal(inspected[0]!.ID, id);
    assert.deepEqual(inspected[0]!.Spec, { Name: 'db_pass', Labels: { env: 'prod' } });
    const pretty = (await berth(node, ['secret', 'inspect', '--pretty', id.slice(0, 8)])).stdout;
    assert.match(pretty, new RegExp(`^ID:              ${id}\\nName:              db_pass\\nLabels:\\n - env=prod\\nDriver:            \\nCreated at:        \\d{4}-`));
    assert.equal((await berth(node, ['secret', 'inspect', '-f', '{{.Spec.Name}}', id])).stdout, 'db_pass\n');

    // A service that uses it: rm refused with swarmkit's words; a missing secret refused at create.
    const ref = (sid: string, name: string) => ({ SecretID: sid, SecretName: name, File: { Name: name, UID: '0', GID: '0', Mode: 0o444 } });
    const ghost = await api('POST', '/services/create', { Name: 'ghosty', TaskTemplate: { ContainerSpec: { Image: 'busybox:latest', Secrets: [ref('nope', 'ghost')] } }, Mode: { Replicated: { Replicas: 0 } } });
    assert.equal(ghost.status, 400);
    assert.equal(ghost.json<{ message: string }>().message, 'rpc error: code = InvalidArgument desc = secret not found: ghost');
    const svc = await api('POST', '/services/create', { Name: 'user', TaskTemplate: { ContainerSpec: { Image: 'busybox:latest', Secrets: [ref(id, 'db_pass')] } }, Mode: { Replicated: { Replicas: 0 } } });
    assert.equal(svc.status, 201, svc.body);
    const inUse = await berth(node, ['secret', 'rm', 'db_pass', 'api-key']);
    assert.equal(inUse.code, 1);
    assert.equal(inUse.stdout, 'api-key\n');
    assert.equal(inUse.stderr.trim(), "Error response from daemon: rpc error: code = InvalidArgument desc = secret 'db_pass' is in use by the following service: user");
    assert.equal((await api('DELETE', '/services/user')).status, 200);
  });

  test('the docker CLI: secret and config create/ls/inspect/rm against berthd', { skip: !hasDocker }, async () => {
    const made = await docker(node, ['secret', 'create', '-l', 'team=a', 'from-docker', '-'], 'docker secret');
    assert.equal(made.code, 0, made.stderr);
    const ls = await docker(node, ['secret', 'ls', '--format', '{{.Name}} {{.Driver}}|{{.Labels}}']);
    assert.equal(ls.code, 0, ls.stderr);
    assert.match(ls.stdout, /^from-docker \|team=a$/m);
    const inspect = await docker(node, ['secret', 'inspect', '--pretty', 'from-docker']);
    assert.equal(inspect.code, 0, inspect.stderr);
    assert.match(inspect.stdout, /^Name:\s+from-docker$/m);
    const dup = await docker(node, ['secret', 'create', 'from-docker', '-'], 'x');
    assert.equal(dup.code, 1);
    assert.match(dup.stderr, /secret from-docker already exists/);

    const cfgFile = path.join(tmp, 'app.conf');
    writeFileSync(cfgFile, configText);
    const cfg = await docker(node, ['config', 'create', '--template-driver', 'golang', 'app.conf', cfgFile]);
    assert.equal(cfg.code, 0, cfg.stderr);
    const cfgPretty = await docker(node, ['config', 'inspect', '--pretty', 'app.conf']);
    assert.match(cfgPretty.stdout, new RegExp(`\\nData:\\n${configText}\\n$`));
    const cfgJson = JSON.parse((await docker(node, ['config', 'inspect', 'app.conf'])).stdout) as Array<{ Spec: { Data: string; Templating?: { Name: string } } }>;
    assert.equal(Buffer.from(cfgJson[0]!.Spec.Data, 'base64').toString(), configText);
    assert.deepEqual(cfgJson[0]!.Spec.Templating, { Name: 'golang' });
    const bls = await berth(node, ['config', 'ls']);
    assert.match(bls.stdout.split('\n')[0]!, /^ID\s+NAME\s+CREATED\s+UPDATED$/);
    assert.match(bls.stdout, /app\.conf\s+\d+ seconds? ago|app\.conf\s+(Less than a second|About a minute) ago/);
    assert.equal((await berth(node, ['config', 'inspect', '-f', '{{.Spec.Templating.Name}}', 'app.conf'])).stdout, 'golang\n');
    assert.equal((await docker(node, ['secret', 'rm', 'from-docker'])).stdout, 'from-docker\n');
    const gone = await docker(node, ['secret', 'inspect', 'from-docker']);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /secret from-docker not found/);
  });

  test('secret data is sealed in etcd and the key at rest is wrapped by autolock; a restarted manager stays sealed until unlocked', async () => {
    const swarmDir = path.join(node.dir, 'data', 'swarm');
    // The control: config data (not secret) is found in etcd's files as the API stores it (base64 in JSON).
    await eventually('the config in etcd\'s files', async () => (await filesContaining(path.join(swarmDir, 'etcd'), Buffer.from(Buffer.from(configText).toString('base64')))).length > 0);
    assert.deepEqual(await filesContaining(path.join(swarmDir, 'etcd'), Buffer.from(clear)), [], 'no clear secret in etcd');
    assert.deepEqual(await filesContaining(path.join(swarmDir, 'etcd'), Buffer.from(Buffer.from(clear).toString('base64'))), [], 'no base64 secret in etcd');
    const certFiles = await fs.readdir(path.join(swarmDir, 'certificates'));
    assert.ok(certFiles.includes('secrets.key.enc') && !certFiles.includes('secrets.key'), certFiles.join(' '));

    const unlockKey = (await api('GET', '/swarm/unlockkey')).json<{ UnlockKey: string }>().UnlockKey;
    assert.match(unlockKey, /^SWMKEY-1-/);
    // What autolock protects the key with is not in etcd's data either (the cluster object keeps it sealed).
    assert.deepEqual(await filesContaining(path.join(swarmDir, 'etcd'), Buffer.from(unlockKey)), [], 'no unlock key in etcd');
    await restartNode(cluster, node.name);
    const info = await eventually('the node locked', async () => {
      const i = (await api('GET', '/info')).json<{ Swarm: { LocalNodeState: string } }>();
      return i.Swarm.LocalNodeState === 'locked' && i;
    });
    assert.ok(info);
    const locked = await api('GET', '/secrets');
    assert.equal(locked.status, 503);
    assert.match(locked.json<{ message: string }>().message, /Swarm is encrypted and needs to be unlocked/);
    const lockedCli = await berth(node, ['secret', 'create', 'later', '-'], 'x');
    assert.equal(lockedCli.code, 1);
    assert.match(lockedCli.stderr, /needs to be unlocked/);

    assert.equal((await api('POST', '/swarm/unlock', { UnlockKey: unlockKey })).status, 200);
    await eventually('secrets served again', async () => (await api('GET', '/secrets/db_pass')).status === 200);
    // The key came back from its encrypted copy: a new secret can be made and the old one is still usable by the manager.
    const after = await berth(node, ['secret', 'create', 'after-unlock', '-'], 'y');
    assert.equal(after.code, 0, after.stderr);
    // Autolock off: the key at rest is stored plain again.
    const sw = (await api('GET', '/swarm')).json<{ Version: { Index: number }; Spec: Record<string, unknown> }>();
    const upd = await api('POST', `/swarm/update?version=${sw.Version.Index}`, { ...sw.Spec, EncryptionConfig: { AutoLockManagers: false } });
    assert.equal(upd.status, 200, upd.body);
    await eventually('secrets.key stored plain', async () => {
      const files = await fs.readdir(path.join(swarmDir, 'certificates'));
      return files.includes('secrets.key') && !files.includes('secrets.key.enc');
    });
  });

  test('a worker holds no secrets key; promoted, it fetches the manager\'s; demoted, it drops it', async () => {
    const worker = cluster.nodes[1]!;
    const keyFile = (n: DevNode) => path.join(n.dir, 'data', 'swarm', 'certificates', 'secrets.key');
    const token = (await api('GET', '/swarm')).json<{ JoinTokens: { Worker: string } }>().JoinTokens.Worker;
    const join = await nodeApi(worker, 'POST', '/swarm/join', { ListenAddr: `${worker.address}:${SWARM_PORT}`, AdvertiseAddr: worker.address, RemoteAddrs: [`${node.address}:${SWARM_PORT}`], JoinToken: token });
    assert.equal(join.status, 200, join.body);
    const certs = await fs.readdir(path.dirname(keyFile(worker)));
    assert.ok(!certs.some((f) => f.startsWith('secrets.key')), certs.join(' '));
    const workerId = (await nodeApi(worker, 'GET', '/info')).json<{ Swarm: { NodeID: string } }>().Swarm.NodeID;
    assert.equal((await nodeApi(worker, 'GET', '/secrets')).status, 503);

    const n = (await api('GET', `/nodes/${workerId}`)).json<{ Version: { Index: number }; Spec: Record<string, unknown> }>();
    assert.equal((await api('POST', `/nodes/${workerId}/update?version=${n.Version.Index}`, { ...n.Spec, Role: 'manager' })).status, 200);
    const key = await eventually('the promoted node holding the key', () => fs.readFile(keyFile(worker)), 45_000);
    assert.deepEqual(key, await fs.readFile(keyFile(node)));
    const made = await eventually('a secret made on the promoted manager', async () => {
      const r = await nodeApi(worker, 'POST', '/secrets/create', { Name: 'from-promoted', Data: Buffer.from('p').toString('base64') });
      return r.status === 201 && r;
    }, 30_000);
    assert.ok(made);

    const m = (await api('GET', `/nodes/${workerId}`)).json<{ Version: { Index: number }; Spec: Record<string, unknown> }>();
    assert.equal((await api('POST', `/nodes/${workerId}/update?version=${m.Version.Index}`, { ...m.Spec, Role: 'worker' })).status, 200);
    await eventually('the demoted node without the key', async () => {
      const files = await fs.readdir(path.dirname(keyFile(worker)));
      return !files.some((f) => f.startsWith('secrets.key'));
    }, 45_000);
  });
});
