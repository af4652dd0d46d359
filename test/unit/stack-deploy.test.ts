/**
 * `stack deploy`'s procedure (src/cli/commands/stack/deploy.ts) against a stub Engine API that stores
 * service specs as berthd does (its normalizeSpec, names -> network IDs): the order of creation, a
 * redeploy that updates only the changed service, checks that refuse before anything is made, and a
 * failure half-way that takes back what the run made.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { ApiClient, parseHost } from '../../src/cli/client.js';
import { deployStack } from '../../src/cli/commands/stack/deploy.js';
import { loadProject } from '../../src/compose/index.js';
import { convertStack } from '../../src/stack/index.js';
import { normalizeSpec } from '../../src/swarm/services/spec.js';
import type { ServiceSpec } from '../../src/swarm/types.js';

interface Obj {
  ID: string;
  Version: { Index: number };
  Spec: Record<string, unknown> & { Name: string; Labels?: Record<string, string> };
}

class StubDaemon {
  readonly calls: string[] = [];
  readonly networks: Array<{ Id: string; Name: string; Scope: string; Labels: Record<string, string> }> = [];
  readonly services: Obj[] = [];
  readonly secrets: Obj[] = [];
  readonly configs: Obj[] = [];
  /** Service names whose create fails as a published-port conflict would. */
  failCreate = new Set<string>();
  private seq = 0;

  private id(): string {
    return `id${++this.seq}`.padEnd(25, 'x');
  }

  handle(method: string, p: string, query: URLSearchParams, body: unknown): [number, unknown] {
    const label = (() => {
      const f = query.get('filters');
      if (!f) return undefined;
      return Object.keys((JSON.parse(f) as { label?: Record<string, boolean> }).label ?? {})[0];
    })();
    const matches = (labels: Record<string, string> | undefined) => {
      if (!label) return true;
      const [k, v] = label.split('=');
      return labels?.[k!] !== undefined && (v === undefined || labels[k!] === v);
    };
    if (method !== 'GET') this.calls.push(`${method} ${p}`);
    if (p === '/info') return [200, { Swarm: { ControlAvailable: true } }];
    if (p === '/networks' && method === 'GET') return [200, this.networks.filter((n) => matches(n.Labels))];
    if (p === '/networks/create') {
      const b = body as { Name: string; Labels: Record<string, string> };
      const n = { Id: this.id(), Name: b.Name, Scope: 'swarm', Labels: b.Labels };
      this.networks.push(n);
      return [201, { Id: n.Id }];
    }
    for (const kind of ['services', 'secrets', 'configs'] as const) {
      const list = this[kind];
      if (p === `/${kind}` && method === 'GET') return [200, list.filter((o) => matches(o.Spec.Labels))];
      if (p === `/${kind}/create`) {
        const spec = body as Obj['Spec'];
        if (kind === 'services' && this.failCreate.has(spec.Name)) return [400, { message: 'rpc error: code = InvalidArgument desc = port 8080 is already in use' }];
        const stored = kind === 'services' ? this.store(spec as unknown as ServiceSpec) : spec;
        const o = { ID: this.id(), Version: { Index: 1 }, Spec: stored };
        list.push(o);
        return [201, { ID: o.ID }];
      }
      const m = new RegExp(`^/${kind}/([^/]+)(/update)?$`).exec(p);
      if (m) {
        const o = list.find((x) => x.ID === m[1] || x.Spec.Name === m[1]);
        if (!o) return [404, { message: `${kind.slice(0, -1)} ${m[1]} not found` }];
        if (method === 'GET') return [200, o];
        if (method === 'DELETE') {
          list.splice(list.indexOf(o), 1);
          return [200, ''];
        }
        o.Spec = kind === 'services' ? this.store(body as ServiceSpec) : (body as Obj['Spec']);
        o.Version.Index++;
        return [200, { Warnings: null }];
      }
    }
    if (method === 'DELETE' && p.startsWith('/networks/')) {
      const i = this.networks.findIndex((n) => n.Id === p.slice(10));
      this.networks.splice(i, 1);
      return [200, ''];
    }
    const n = /^\/networks\/(.+)$/.exec(p);
    if (n) {
      const found = this.networks.find((x) => x.Name === n[1] || x.Id === n[1]);
      return found ? [200, found] : [404, { message: `network ${n[1]} not found` }];
    }
    return [404, { message: `page not found: ${method} ${p}` }];
  }

  /** As berthd stores a spec: its defaults filled in, network names as IDs. */
  private store(spec: ServiceSpec): Obj['Spec'] {
    const stored = normalizeSpec(structuredClone(spec) as never, () => 'x');
    for (const a of stored.TaskTemplate.Networks ?? []) a.Target = this.networks.find((n) => n.Name === a.Target)?.Id ?? a.Target;
    return stored as unknown as Obj['Spec'];
  }
}

function sink() {
  const chunks: string[] = [];
  return { write: (s: string | Uint8Array) => chunks.push(typeof s === 'string' ? s : Buffer.from(s).toString()), text: () => chunks.join('') };
}

async function withStub(fn: (stub: StubDaemon, deploy: (yaml: string, prune?: boolean) => Promise<{ out: string; err: string; error?: Error }>) => Promise<void>) {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-stackd-'));
  const socket = path.join(dir, 'd.sock');
  const stub = new StubDaemon();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.setHeader('Api-Version', '1.50');
      const url = new URL(req.url!, 'http://x');
      const p = decodeURIComponent(url.pathname.replace(/^\/v[\d.]+/, ''));
      if (p === '/_ping') return res.end('OK');
      const text = Buffer.concat(chunks).toString();
      const [status, body] = stub.handle(req.method!, p, url.searchParams, text ? JSON.parse(text) : undefined);
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(body === '' ? '' : JSON.stringify(body));
    });
  });
  await new Promise<void>((r) => server.listen(socket, r));
  const client = new ApiClient(parseHost(`unix://${socket}`));
  writeFileSync(path.join(dir, 'token.txt'), 'tok');
  const deploy = async (yaml: string, prune = false) => {
    writeFileSync(path.join(dir, 'stack.yaml'), yaml);
    const out = sink();
    const err = sink();
    const cli = { out, err, in: Readable.from(['']), rawOut: new PassThrough(), client: () => client, debug: false, env: {}, now: () => Date.now() };
    const project = loadProject({ workingDir: dir, files: ['stack.yaml'], projectName: 'app', normalize: false, env: {}, warn: () => {} });
    try {
      await deployStack(cli as never, convertStack(project, 'app'), { prune, withRegistryAuth: false, resolveImage: 'never' });
      return { out: out.text(), err: err.text() };
    } catch (error) {
      return { out: out.text(), err: err.text(), error: error as Error };
    }
  };
  try {
    await fn(stub, deploy);
  } finally {
    client.close();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const STACK = (env: string) => `
services:
  web: { image: busybox, command: sleep 1, networks: [front], depends_on: { api: { condition: service_started } }, deploy: { replicas: 2, update_config: { parallelism: 1 } } }
  api: { image: busybox, environment: { MODE: ${env} }, networks: [front, back], secrets: [token], ports: ["8080:80"] }
networks: { front: {}, back: {} }
secrets: { token: { file: ./token.txt } }
`;

test('first deploy makes networks, secret, then services in depends_on order; a redeploy updates only what changed', async () => {
  await withStub(async (stub, deploy) => {
    const first = await deploy(STACK('one'));
    assert.equal(first.error, undefined, first.err);
    assert.equal(first.out, 'Creating network app_back\nCreating network app_front\nCreating secret app_token\nCreating service app_api\nCreating service app_web\n');
    const api = stub.services.find((s) => s.Spec.Name === 'app_api')!;
    const secretRef = ((api.Spec.TaskTemplate as ServiceSpec['TaskTemplate']).ContainerSpec!.Secrets![0]) as { SecretID: string };
    assert.equal(secretRef.SecretID, stub.secrets[0]!.ID, 'the reference carries the created secret ID');

    stub.calls.length = 0;
    const again = await deploy(STACK('one'));
    assert.equal(again.error, undefined, again.err);
    assert.equal(again.out, '');
    // The secret is updated as docker updates it; no service is touched.
    assert.deepEqual(stub.calls, [`POST /secrets/${stub.secrets[0]!.ID}/update`]);

    stub.calls.length = 0;
    const changed = await deploy(STACK('two'));
    assert.equal(changed.out, `Updating service app_api (id: ${api.ID})\n`);
    assert.deepEqual(stub.calls.filter((c) => c.includes('/services/')), [`POST /services/${api.ID}/update`]);

    // --prune: the service gone from the file is removed; without it, it stays.
    const web = stub.services.find((s) => s.Spec.Name === 'app_web')!;
    const only = STACK('two').replace(/^  web: .*\n/m, '');
    assert.equal((await deploy(only)).out, '');
    assert.equal(stub.services.length, 2);
    assert.equal((await deploy(only, true)).out, 'Removing service app_web\n');
    assert.deepEqual(stub.services.map((s) => s.Spec.Name), ['app_api']);
    assert.ok(!stub.services.includes(web));
  });
});

test('a failure half-way removes what the run made; a missing external secret makes nothing', async () => {
  await withStub(async (stub, deploy) => {
    stub.failCreate.add('app_web');
    const r = await deploy(STACK('one'));
    assert.equal(r.error?.message, 'failed to create service app_web: Error response from daemon: rpc error: code = InvalidArgument desc = port 8080 is already in use');
    assert.deepEqual([stub.services.length, stub.secrets.length, stub.networks.length], [0, 0, 0], 'nothing left behind');

    stub.calls.length = 0;
    const missing = await deploy('services:\n  a: { image: busybox, secrets: [ext] }\nsecrets:\n  ext: { external: true, name: corp_key }\n');
    assert.equal(missing.error?.message, 'service a: secret not found: corp_key');
    assert.deepEqual(stub.calls, [], 'no request that changes anything');
  });
});
