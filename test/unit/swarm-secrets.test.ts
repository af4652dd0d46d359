/**
 * Secrets and configs (swarm/secrets/): the sealer, swarmkit's name and size rules, dockerd's lookups
 * and filters, labels-only updates, the in-use refusal on rm, the services' reference check, the key
 * at rest under certificates/, and the /secrets and /configs routes over a real API server.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { promises as fs } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { Router } from '../../src/api/router.js';
import { createApiServer } from '../../src/api/server.js';
import { secretRoutes } from '../../src/api/routes/secrets.js';
import { configRoutes } from '../../src/api/routes/configs.js';
import { memorySwarmStore } from '../../src/swarm/store/memory.js';
import { createSealer, newSecretsKey } from '../../src/swarm/secrets/sealer.js';
import { SecretApi } from '../../src/swarm/secrets/secret-api.js';
import { ConfigApi } from '../../src/swarm/secrets/config-api.js';
import { ServiceReferenceCheck } from '../../src/swarm/secrets/references.js';
import { ServiceApi } from '../../src/swarm/services/service-api.js';
import { SwarmStateDir } from '../../src/swarm/manager/state.js';
import { makeUnlockKey } from '../../src/swarm/ca/index.js';
import type { SwarmStore } from '../../src/swarm/contracts.js';

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');

const rejectsWith = (p: Promise<unknown>, kind: string, message: string | RegExp) =>
  assert.rejects(p, (e: { kind?: string; message?: string }) => {
    assert.equal(e.kind, kind, e.message);
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message ?? '', message);
    return true;
  });

function setup() {
  const store = memorySwarmStore();
  const sealer = createSealer(newSecretsKey());
  return { store, sealer, secrets: new SecretApi({ store: () => store, sealer: () => sealer }), configs: new ConfigApi(() => store) };
}

// ---------------------------------------------------------------- sealer

test('the sealer round-trips, uses a fresh nonce per seal, and refuses other keys and altered text', () => {
  const key = newSecretsKey();
  assert.equal(key.length, 32);
  const s = createSealer(key);
  const clear = Buffer.from('hunter2');
  const a = s.seal(clear);
  const b = s.seal(clear);
  assert.notEqual(a, b, 'a nonce per seal');
  assert.ok(!Buffer.from(a, 'base64').includes(clear), 'no clear text inside');
  assert.deepEqual(s.open(a), clear);
  assert.throws(() => createSealer(newSecretsKey()).open(a), /not made with this swarm's secrets key/);
  const raw = Buffer.from(a, 'base64');
  raw[raw.length - 1]! ^= 1;
  assert.throws(() => s.open(raw.toString('base64')), /altered/);
  assert.throws(() => s.open('AAAA'), /malformed/);
  assert.throws(() => createSealer(Buffer.alloc(16)), /32 bytes/);
  assert.deepEqual(s.open(s.seal(Buffer.alloc(0))), Buffer.alloc(0));
});

// ---------------------------------------------------------------- create

test('secret names and sizes follow swarmkit, name clashes answer AlreadyExists', async () => {
  const { secrets } = setup();
  await rejectsWith(secrets.create({ Data: b64('x') }), 'InvalidArgument', 'rpc error: code = InvalidArgument desc = name must be provided');
  const invalid = 'rpc error: code = InvalidArgument desc = invalid name, only 64 [a-zA-Z0-9-_.] characters allowed, and the start and end character must be [a-zA-Z0-9]';
  for (const name of ['-a', 'a-', 'a b', 'a/b', 'x'.repeat(65), '.a', 'é']) await rejectsWith(secrets.create({ Name: name, Data: b64('x') }), 'InvalidArgument', invalid);
  const size = 'rpc error: code = InvalidArgument desc = secret data must be larger than 0 and less than 512000 bytes';
  await rejectsWith(secrets.create({ Name: 'empty' }), 'InvalidArgument', size);
  await rejectsWith(secrets.create({ Name: 'big', Data: b64(Buffer.alloc(500 * 1024)) }), 'InvalidArgument', size);
  const { ID } = await secrets.create({ Name: 'a.b_c-1', Data: b64(Buffer.alloc(500 * 1024 - 1, 1)) });
  assert.match(ID, /^[0-9a-z]{25}$/);
  assert.ok((await secrets.create({ Name: 'x'.repeat(64), Data: b64('x') })).ID);
  await rejectsWith(secrets.create({ Name: 'A.B_C-1', Data: b64('x') }), 'Conflict', 'rpc error: code = AlreadyExists desc = secret A.B_C-1 already exists');
  await rejectsWith(secrets.create({ Name: 'bad64', Data: 'abc' }), 'InvalidArgument', 'invalid JSON: illegal base64 data at input byte 0');
  await rejectsWith(secrets.create({ Name: 'bad64', Data: 'ab!d' }), 'InvalidArgument', 'invalid JSON: illegal base64 data at input byte 2');
  await rejectsWith(secrets.create({ Name: 'drv', Driver: { Name: '' } }), 'InvalidArgument', 'rpc error: code = InvalidArgument desc = secret driver must have a name');
  await rejectsWith(secrets.create({ Name: 'drv', Driver: { Name: 'vault' } }), 'Internal', 'rpc error: code = Unknown desc = plugin "vault" not found');
});

test('config sizes: up to 1000 KB', async () => {
  const { configs } = setup();
  const size = 'rpc error: code = InvalidArgument desc = config data must be larger than 0 and less than 1024000 bytes';
  await rejectsWith(configs.create({ Name: 'c' }), 'InvalidArgument', size);
  await rejectsWith(configs.create({ Name: 'c', Data: b64(Buffer.alloc(1000 * 1024)) }), 'InvalidArgument', size);
  assert.ok((await configs.create({ Name: 'c', Data: b64(Buffer.alloc(600 * 1024)) })).ID);
  await rejectsWith(configs.create({ Name: 'C', Data: b64('x') }), 'Conflict', 'rpc error: code = AlreadyExists desc = config C already exists');
});

test('secret data is stored sealed only and never shown; config data is shown', async () => {
  const { store, sealer, secrets, configs } = setup();
  const { ID } = await secrets.create({ Name: 'pw', Labels: { a: '1' }, Data: b64('s3cr3t-value'), Templating: { Name: 'golang' } });
  const stored = (await store.secrets.get(ID))!;
  assert.equal(stored.Spec.Data, undefined);
  assert.ok(!JSON.stringify(stored).includes('s3cr3t') && !JSON.stringify(stored).includes(b64('s3cr3t-value')));
  assert.equal(sealer.open(stored.BerthSealed!).toString(), 's3cr3t-value');
  const view = await secrets.inspect('pw');
  assert.deepEqual(Object.keys(view), ['ID', 'Version', 'CreatedAt', 'UpdatedAt', 'Spec']);
  assert.deepEqual(view.Spec, { Name: 'pw', Labels: { a: '1' }, Templating: { Name: 'golang' } });
  assert.ok(!JSON.stringify(await secrets.list()).includes('Berth'));
  const c = await configs.create({ Name: 'cfg', Data: b64('port: 80') });
  assert.deepEqual((await configs.inspect(c.ID)).Spec, { Name: 'cfg', Labels: {}, Data: b64('port: 80') });
});

// ---------------------------------------------------------------- lookup, filters

test('inspect by ID, name, or unique ID prefix; dockerd\'s not found and ambiguous', async () => {
  const { secrets } = setup();
  const a = await secrets.create({ Name: 'one', Data: b64('1') });
  await secrets.create({ Name: 'two', Data: b64('2') });
  assert.equal((await secrets.inspect(a.ID)).ID, a.ID);
  assert.equal((await secrets.inspect('one')).ID, a.ID);
  assert.equal((await secrets.inspect(a.ID.slice(0, 6))).ID, a.ID);
  await rejectsWith(secrets.inspect('nope'), 'NotFound', 'secret nope not found');
});

test('list filters: names exact, name and id prefixes (a union), labels all; unknown filters refused', async () => {
  const { secrets, configs } = setup();
  const web = await secrets.create({ Name: 'web-cert', Labels: { tier: 'front', env: 'prod' }, Data: b64('1') });
  const webKey = await secrets.create({ Name: 'web-key', Labels: { tier: 'front' }, Data: b64('1') });
  const db = await secrets.create({ Name: 'db-pass', Labels: { tier: 'back' }, Data: b64('1') });
  const ids = async (f: Record<string, string[]>) => (await secrets.list(JSON.stringify(f))).map((s) => s.ID).sort();
  assert.deepEqual(await ids({}), [web.ID, webKey.ID, db.ID].sort());
  assert.deepEqual(await ids({ name: ['web'] }), [web.ID, webKey.ID].sort());
  assert.deepEqual(await ids({ names: ['web'] }), []);
  assert.deepEqual(await ids({ names: ['WEB-KEY'] }), [webKey.ID]);
  assert.deepEqual(await ids({ name: ['db'], id: [web.ID.slice(0, 8)] }), [web.ID, db.ID].sort());
  assert.deepEqual(await ids({ label: ['tier=front'] }), [web.ID, webKey.ID].sort());
  assert.deepEqual(await ids({ label: ['tier=front', 'env'] }), [web.ID]);
  assert.deepEqual(await ids({ name: ['web'], label: ['tier=back'] }), []);
  await rejectsWith(secrets.list(JSON.stringify({ driver: ['x'] })), 'InvalidArgument', "invalid filter 'driver'");
  await rejectsWith(configs.list(JSON.stringify({ names: ['x'] })), 'InvalidArgument', "invalid filter 'names'");
  await rejectsWith(secrets.list('{bad'), 'InvalidArgument', /^invalid filter/);
});

// ---------------------------------------------------------------- update, remove

test('update changes labels only, at the version read', async () => {
  const { secrets, configs } = setup();
  const { ID } = await secrets.create({ Name: 'pw', Labels: { a: '1' }, Data: b64('x') });
  const v = (await secrets.inspect(ID)).Version as { Index: number };
  const only = 'rpc error: code = InvalidArgument desc = only updates to Labels are allowed';
  await rejectsWith(secrets.update(ID, v.Index, { Name: 'other', Labels: {} }), 'InvalidArgument', only);
  await rejectsWith(secrets.update(ID, v.Index, { Name: 'pw', Data: b64('y') }), 'InvalidArgument', only);
  await rejectsWith(secrets.update(ID, v.Index + 100, { Name: 'pw', Labels: { b: '2' } }), 'Internal', 'rpc error: code = Unknown desc = update out of sequence');
  await secrets.update('pw', v.Index, { Name: 'pw', Labels: { b: '2' }, Data: b64('x') });
  assert.deepEqual((await secrets.inspect(ID)).Spec, { Name: 'pw', Labels: { b: '2' } });
  const c = await configs.create({ Name: 'c', Data: b64('x') });
  const cv = (await configs.inspect(c.ID)).Version as { Index: number };
  await rejectsWith(configs.update(c.ID, cv.Index, { Name: 'c', Data: b64('z') }), 'InvalidArgument', only);
  await configs.update(c.ID, cv.Index, { Name: 'c', Labels: { k: 'v' } });
  assert.deepEqual((await configs.inspect(c.ID)).Spec, { Name: 'c', Labels: { k: 'v' }, Data: b64('x') });
});

async function serviceUsing(store: SwarmStore, name: string, refs: { Secrets?: unknown[]; Configs?: unknown[] }) {
  const api = new ServiceApi({ store: () => store, references: new ServiceReferenceCheck(() => store) });
  return api.create({ Name: name, TaskTemplate: { ContainerSpec: { Image: 'busybox', ...refs } } } as never);
}

test('rm is refused while services reference the object, with swarmkit\'s words', async () => {
  const { store, secrets, configs } = setup();
  const s = await secrets.create({ Name: 'pw', Data: b64('x') });
  const c = await configs.create({ Name: 'conf', Data: b64('x') });
  const file = (n: string) => ({ Name: n, UID: '0', GID: '0', Mode: 0o444 });
  const one = await serviceUsing(store, 'web', { Secrets: [{ SecretID: s.ID, SecretName: 'pw', File: file('pw') }], Configs: [{ ConfigID: c.ID, ConfigName: 'conf', File: file('/conf') }] });
  await rejectsWith(secrets.remove('pw'), 'InvalidArgument', "rpc error: code = InvalidArgument desc = secret 'pw' is in use by the following service: web");
  await rejectsWith(configs.remove(c.ID), 'InvalidArgument', "rpc error: code = InvalidArgument desc = config 'conf' is in use by the following service: web");
  await serviceUsing(store, 'api', { Secrets: [{ SecretID: s.ID, SecretName: 'pw', File: file('pw') }] });
  await rejectsWith(secrets.remove('pw'), 'InvalidArgument', /in use by the following services: (web, api|api, web)$/);
  for (const svc of await store.services.list()) await store.services.delete(svc.ID);
  assert.ok(one.ID);
  await secrets.remove(s.ID.slice(0, 5));
  await configs.remove('conf');
  await rejectsWith(secrets.remove('pw'), 'NotFound', 'secret pw not found');
  assert.equal((await store.secrets.list()).length, 0);
});

test('service create and update refuse references to secrets and configs that do not exist', async () => {
  const { store, secrets, configs } = setup();
  const s = await secrets.create({ Name: 'pw', Data: b64('x') });
  const c = await configs.create({ Name: 'conf', Data: b64('x') });
  const file = (n: string) => ({ Name: n, UID: '0', GID: '0', Mode: 0o444 });
  await rejectsWith(serviceUsing(store, 'a', { Secrets: [{ SecretID: 'nope', SecretName: 'ghost', File: file('g') }] }), 'InvalidArgument', 'rpc error: code = InvalidArgument desc = secret not found: ghost');
  await rejectsWith(serviceUsing(store, 'a', { Secrets: [{ SecretID: s.ID, SecretName: 'renamed', File: file('g') }, { SecretID: 'x', SecretName: 'ghost', File: file('h') }] }), 'InvalidArgument', 'rpc error: code = InvalidArgument desc = secrets not found: renamed, ghost');
  await rejectsWith(serviceUsing(store, 'a', { Configs: [{ ConfigID: 'nope', ConfigName: 'ghost', File: file('/g') }] }), 'InvalidArgument', 'rpc error: code = InvalidArgument desc = config not found: ghost');
  assert.equal((await store.services.list()).length, 0, 'nothing made');
  const ok = await serviceUsing(store, 'a', { Secrets: [{ SecretID: s.ID, SecretName: 'pw', File: file('pw') }], Configs: [{ ConfigID: c.ID, ConfigName: 'conf', File: file('/c') }] });
  const api = new ServiceApi({ store: () => store, references: new ServiceReferenceCheck(() => store) });
  const svc = (await store.services.get(ok.ID))!;
  await rejectsWith(api.update(ok.ID, { ...svc.Spec, TaskTemplate: { ContainerSpec: { Image: 'busybox', Secrets: [{ SecretID: 'z', SecretName: 'gone', File: file('x') }] } } } as never, { version: svc.Version.Index }), 'InvalidArgument', 'rpc error: code = InvalidArgument desc = secret not found: gone');
});

// ---------------------------------------------------------------- key at rest

test('the secrets key at rest: plain, or encrypted with the unlock key; removable', async () => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-secrets-key-'));
  try {
    const dir = new SwarmStateDir(root, path.join(root, 'run'));
    assert.equal(await dir.loadSecretsKey(undefined), undefined);
    const key = newSecretsKey();
    await dir.saveSecretsKey(key, undefined);
    assert.deepEqual(await dir.loadSecretsKey(undefined), key);
    const unlock = makeUnlockKey();
    await dir.saveSecretsKey(key, unlock);
    const files = await fs.readdir(dir.certDir);
    assert.deepEqual(files.sort(), ['secrets.key.enc']);
    const text = await fs.readFile(path.join(dir.certDir, 'secrets.key.enc'), 'utf8');
    assert.ok(!text.includes(key.toString('base64')));
    assert.deepEqual(await dir.loadSecretsKey(unlock), key);
    await assert.rejects(dir.loadSecretsKey(makeUnlockKey()), /invalid key provided/);
    await assert.rejects(dir.loadSecretsKey(undefined), /invalid key provided/);
    await dir.removeSecretsKey();
    assert.deepEqual(await fs.readdir(dir.certDir), []);
  } finally {
    await fs.rm(root, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------- routes

let server: http.Server;
let port = 0;
const routed = setup();

before(async () => {
  const router = new Router();
  secretRoutes(router, { secrets: routed.secrets });
  configRoutes(router, { configs: routed.configs });
  server = createApiServer(router);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

after(() => new Promise<void>((resolve) => server.close(() => resolve())));

function request(method: string, p: string, body?: string): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: p, headers: { 'Content-Type': 'application/json' } }, (res) => {
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

test('routes: create 201 {ID}, inspect, list, update 200, rm 204; bad bodies 400 and nothing made', async () => {
  for (const kind of ['secrets', 'configs']) {
    const bad: Array<[string, RegExp | string]> = [
      ['{"Name": "x",', /^invalid JSON: /],
      ['{"Name": 5}', `invalid JSON: json: cannot unmarshal number into Go struct field ${kind === 'secrets' ? 'Secret' : 'Config'}Spec.Name of type string`],
      ['{"Name": "x", "Data": 7}', /cannot unmarshal number into Go struct field \w+Spec\.Data of type \[\]uint8/],
      ['{"Name": "x", "Labels": []}', /cannot unmarshal array into Go struct field \w+Spec\.Labels of type map\[string\]string/],
      ['{"Name": "x", "Data": "@@@@"}', 'invalid JSON: illegal base64 data at input byte 0'],
      ['[1]', /cannot unmarshal array into Go value of type swarm\.\w+Spec/],
      ['', /name must be provided/],
    ];
    for (const [body, message] of bad) {
      const r = await request('POST', `/${kind}/create`, body);
      assert.equal(r.status, 400, `${kind} ${body}: ${JSON.stringify(r.json)}`);
      if (typeof message === 'string') assert.equal(r.json.message, message);
      else assert.match(r.json.message, message);
    }
    assert.deepEqual((await request('GET', `/${kind}`)).json, []);
    const created = await request('POST', `/${kind}/create`, JSON.stringify({ Name: 'one', Labels: { a: 'b' }, Data: b64('hello') }));
    assert.equal(created.status, 201);
    assert.deepEqual(Object.keys(created.json), ['ID']);
    const clash = await request('POST', `/${kind}/create`, JSON.stringify({ Name: 'one', Data: b64('hello') }));
    assert.equal(clash.status, 409);
    assert.equal(clash.json.message, `rpc error: code = AlreadyExists desc = ${kind.slice(0, -1)} one already exists`);
    const got = await request('GET', `/${kind}/one`);
    assert.equal(got.status, 200);
    assert.equal(got.json.ID, created.json.ID);
    assert.equal(got.json.Spec.Data, kind === 'secrets' ? undefined : b64('hello'));
    assert.equal((await request('GET', `/${kind}/nope`)).status, 404);
    const listed = await request('GET', `/${kind}?filters=${encodeURIComponent('{"label":{"a=b":true}}')}`);
    assert.equal(listed.json.length, 1);
    assert.equal((await request('GET', `/${kind}?filters=${encodeURIComponent('{"bogus":{"x":true}}')}`)).status, 400);
    const badVersion = await request('POST', `/${kind}/one/update?version=abc`, JSON.stringify({ Name: 'one' }));
    assert.equal(badVersion.status, 400);
    assert.equal(badVersion.json.message, `invalid ${kind.slice(0, -1)} version`);
    const upd = await request('POST', `/${kind}/one/update?version=${got.json.Version.Index}`, JSON.stringify({ Name: 'one', Labels: { c: 'd' } }));
    assert.equal(upd.status, 200, JSON.stringify(upd.json));
    assert.deepEqual((await request('GET', `/${kind}/one`)).json.Spec.Labels, { c: 'd' });
    const rm = await request('DELETE', `/${kind}/one`);
    assert.equal(rm.status, 204);
    assert.equal((await request('DELETE', `/${kind}/one`)).status, 404);
  }
});

// ---------------------------------------------------------------- CLI formatting (docker/cli's golden texts)

test('CLI: secret and config ls tables, pretty inspect, labels flag check', async () => {
  const { formatObjectList, prettySecret, labelFlag } = await import('../../src/cli/commands/secrets.js');
  const { prettyConfig } = await import('../../src/cli/commands/configs.js');
  const now = Date.UTC(2026, 0, 1, 12, 0, 0);
  const at = (h: number) => new Date(now - h * 3600_000).toISOString();
  const items = [
    { ID: 'ID-10-foo', CreatedAt: at(2), UpdatedAt: at(1), Spec: { Name: '10-foo', Driver: { Name: 'driver' } } },
    { ID: 'ID-1-foo', CreatedAt: at(2), UpdatedAt: at(1), Spec: { Name: '1-foo' } },
    { ID: 'ID-2-foo', CreatedAt: at(2), UpdatedAt: at(1), Spec: { Name: '2-foo', Driver: { Name: 'driver' } } },
  ];
  assert.equal(formatObjectList(items, { format: '', quiet: false, nowMs: now, kind: 'secret' }), [
    'ID          NAME      DRIVER    CREATED       UPDATED',
    'ID-1-foo    1-foo               2 hours ago   About an hour ago',
    'ID-2-foo    2-foo     driver    2 hours ago   About an hour ago',
    'ID-10-foo   10-foo    driver    2 hours ago   About an hour ago',
    '',
  ].join('\n'));
  assert.equal(formatObjectList(items, { format: '', quiet: true, nowMs: now, kind: 'config' }), 'ID-1-foo\nID-2-foo\nID-10-foo\n');
  assert.match(formatObjectList(items, { format: '', quiet: false, nowMs: now, kind: 'config' }).split('\n')[0]!, /^ID\s+NAME\s+CREATED\s+UPDATED$/);
  const labelled = [{ ID: 'b', Spec: { Name: 'bar', Labels: { label: 'label-bar' } } }, { ID: 'f', Spec: { Name: 'foo' } }];
  assert.equal(formatObjectList(labelled, { format: '{{.Name}} {{.Labels}}', quiet: false, nowMs: now, kind: 'secret' }), 'bar label=label-bar\nfoo \n');
  assert.equal(formatObjectList(labelled, { format: '{{.Label "label"}}', quiet: false, nowMs: now, kind: 'secret' }), 'label-bar\n\n');

  const zero = '0001-01-01T00:00:00Z';
  assert.equal(prettySecret({ ID: 'secretID', CreatedAt: zero, UpdatedAt: zero, Spec: { Name: 'secretName', Labels: { lbl1: 'value1' }, Driver: { Name: 'driver' } } }),
    'ID:              secretID\nName:              secretName\nLabels:\n - lbl1=value1\nDriver:            driver\nCreated at:        0001-01-01 00:00:00 +0000 utc\nUpdated at:        0001-01-01 00:00:00 +0000 utc\n');
  assert.equal(prettyConfig({ ID: 'configID', CreatedAt: zero, UpdatedAt: zero, Spec: { Name: 'configName', Labels: { lbl1: 'value1' }, Data: b64('payload here') } }),
    'ID:\t\t\tconfigID\nName:\t\t\tconfigName\nLabels:\n - lbl1=value1\nCreated at:            \t0001-01-01 00:00:00 +0000 utc\nUpdated at:            \t0001-01-01 00:00:00 +0000 utc\nData:\npayload here\n');
  const check = labelFlag('x').check!;
  assert.equal(check('=v'), "invalid label '=v': empty name");
  assert.equal(check('k=v'), undefined);
});

test('routes: templating needs API 1.37', async () => {
  const r = await request('POST', '/v1.36/secrets/create', JSON.stringify({ Name: 'tpl', Data: b64('x'), Templating: { Name: 'golang' } }));
  assert.equal(r.status, 400);
  assert.equal(r.json.message, 'secret templating is not supported on the specified API version: 1.36');
});

// ---------------------------------------------------------------- a manager's copy of the key

test('ManagerSecretsKey: from disk, else from a peer, else made when allowed; rewrapped; unreadable copies fetched again', async () => {
  const { ManagerSecretsKey } = await import('../../src/swarm/manager/secrets-key.js');
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-secrets-holder-'));
  const holders: Array<{ stop(): void }> = [];
  try {
    const dir = new SwarmStateDir(root, path.join(root, 'run'));
    const key = newSecretsKey();
    const peerKey = newSecretsKey();
    const peer = (answer: () => Promise<unknown>) => () => ({ call: answer, close: () => undefined }) as never;
    const settled = async (h: { available: boolean }) => {
      for (let i = 0; i < 100 && !h.available; i++) await new Promise((r) => setTimeout(r, 50));
      return h.available;
    };
    const never = async () => false;
    const holder = () => {
      const h = new ManagerSecretsKey(dir);
      holders.push(h);
      return h;
    };

    // Nothing on disk, no peer, not allowed to make one: unavailable, and the sealer says why (503).
    const none = holder();
    await none.load({ unlockKey: undefined, peers: () => undefined, mayMakeKey: never, makeKey: () => key });
    assert.equal(none.available, false);
    assert.throws(() => none.sealer().seal(Buffer.from('x')), (e: { kind?: string }) => e.kind === 'Unavailable');
    none.stop();

    // A peer answers: the key is adopted and stored.
    const fetched = holder();
    let adopted = 0;
    await fetched.load({ unlockKey: undefined, peers: peer(async () => ({ key: peerKey.toString('base64') })), mayMakeKey: never, makeKey: () => key, onAdopt: () => adopted++ });
    assert.ok(await settled(fetched), 'fetched in the background');
    assert.equal(adopted, 1);
    assert.equal(fetched.exported(), peerKey.toString('base64'));
    assert.deepEqual(await dir.loadSecretsKey(undefined), peerKey);
    const sealed = fetched.sealer().seal(Buffer.from('hello'));

    // Next start: from disk, no peer asked; the same key opens what was sealed.
    const again = holder();
    await again.load({ unlockKey: undefined, peers: peer(async () => assert.fail('no peer call expected')), mayMakeKey: never, makeKey: () => key });
    assert.equal(again.sealer().open(sealed).toString(), 'hello');

    // Autolock on: stored encrypted; read back with the unlock key.
    const unlock = makeUnlockKey();
    await again.rewrap(unlock);
    assert.deepEqual((await fs.readdir(dir.certDir)).sort(), ['secrets.key.enc']);
    const locked = holder();
    await locked.load({ unlockKey: unlock, peers: () => undefined, mayMakeKey: never, makeKey: () => key });
    assert.ok(locked.available, 'read from disk before load returns');
    assert.equal(locked.exported(), peerKey.toString('base64'));

    // A copy under another unlock key is fetched again rather than replaced by a new key.
    const refetched = holder();
    await refetched.load({ unlockKey: makeUnlockKey(), peers: peer(async () => ({ key: peerKey.toString('base64') })), mayMakeKey: async () => true, makeKey: () => key });
    assert.ok(await settled(refetched));
    assert.equal(refetched.exported(), peerKey.toString('base64'));

    // A peer that fails, then answers: retried in the background.
    await dir.removeSecretsKey();
    let calls = 0;
    const retried = holder();
    await retried.load({
      unlockKey: undefined,
      peers: peer(async () => {
        if (++calls === 1) throw new Error('not yet');
        return { key: peerKey.toString('base64') };
      }),
      mayMakeKey: never, makeKey: () => key,
    });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(retried.available, false, 'the first try failed');
    for (let i = 0; i < 100 && !retried.available; i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(retried.available, 'adopted on a retry');
    assert.equal(calls, 2);

    // The only manager of a swarm with nothing sealed makes one.
    await dir.removeSecretsKey();
    const made = holder();
    await made.load({ unlockKey: undefined, peers: () => undefined, mayMakeKey: async () => true, makeKey: () => key });
    assert.ok(await settled(made));
    assert.equal(made.exported(), key.toString('base64'));
    made.stop();
    assert.equal(made.available, false, 'stop drops the key');
  } finally {
    for (const h of holders) h.stop();
    await fs.rm(root, { recursive: true, force: true });
  }
});
