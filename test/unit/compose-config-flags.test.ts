import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { project, load } from './compose-helpers.js';
import { configOptionsFromFlags, renderConfig } from '../../src/compose/index.js';
import { serviceConfigHash } from '../../src/compose/engine/create-request.js';

const FILE = [
  'services:',
  '  web: {image: "nginx:${TAG:-1}", depends_on: [db], environment: {PRICE: "$$5"}}',
  '  db: {image: postgres, volumes: [data:/var/lib/postgresql/data]}',
  '  tool: {build: ., profiles: [debug, ops]}',
  '  admin: {image: adm, profiles: [ops]}',
  'volumes:',
  '  data: {}',
  'networks:',
  '  back: {}',
].join('\n');

test('--services (dependencies first), --volumes, --networks, --profiles, --images', () => {
  const { project: p } = load(project({ 'compose.yaml': FILE }, 'app'), { profiles: ['debug'] });
  assert.equal(renderConfig(p, { services: true }), 'db\ntool\nweb\n');
  assert.equal(renderConfig(p, { volumes: true }), 'data\n');
  assert.equal(renderConfig(p, { networks: true }), 'back\ndefault\n');
  assert.equal(renderConfig(p, { profiles: true }), 'debug\nops\n');
  assert.equal(renderConfig(p, { images: true }), 'postgres\napp-tool\nnginx:1\n');
  assert.equal(renderConfig(p, { services: true, quiet: true }), '');
});

test('--hash: one service, a list, every service; an unknown one is an error', () => {
  const { project: p } = load(project({ 'compose.yaml': FILE }, 'app'));
  const web = serviceConfigHash(p.services.web);
  assert.equal(renderConfig(p, { hash: 'web' }), `web ${web}\n`);
  assert.equal(renderConfig(p, { hash: '*' }), `db ${serviceConfigHash(p.services.db)}\nweb ${web}\n`);
  assert.throws(() => renderConfig(p, { hash: 'web,nope' }), { message: 'no such service: nope' });
});

test('--format yaml|json, $ doubled in the interpolated model, -o writes the file, -q prints nothing', () => {
  const dir = project({ 'compose.yaml': FILE }, 'app');
  const { project: p } = load(dir);
  const yaml = renderConfig(p);
  assert.match(yaml, /^name: app\n/);
  assert.match(yaml, /PRICE: \$\$5/);
  const json = JSON.parse(renderConfig(p, { format: 'json' }));
  assert.equal(json.services.web.environment.PRICE, '$$5');
  assert.throws(() => renderConfig(p, { format: 'toml' }), { message: 'unsupported format "toml"' });
  const out = path.join(dir, 'out.yaml');
  assert.equal(renderConfig(p, { output: out }), '');
  assert.equal(readFileSync(out, 'utf8'), yaml);
  assert.equal(renderConfig(p, { quiet: true }), '');
  // The printed model loads again to the same model.
  const again = load(project({ 'compose.yaml': yaml }, 'app')).project;
  assert.equal(again.services.web.environment.PRICE, '$5');
});

test('-f - reads the file from stdin, the working directory standing for its directory', () => {
  const dir = project({ '.env': 'TAG=fromdotenv\n' }, 'stdinproj');
  const { project: p } = load(dir, { files: ['-'], stdin: 'services:\n  a: {image: "img:${TAG}", volumes: ["./d:/d"]}\n' });
  assert.equal(p.name, 'stdinproj');
  assert.equal(p.services.a.image, 'img:fromdotenv');
  assert.equal(p.services.a.volumes[0].source, path.join(dir, 'd'));
});

test('--no-interpolate, --no-path-resolution, --no-normalize, --no-consistency', () => {
  const dir = project({ 'compose.yaml': 'services:\n  a: {image: "img:${TAG:-x}", volumes: ["./d:/d"], build: ., networks: [n], depends_on: [ghost]}\nnetworks:\n  n: {}\n' }, 'flags');
  assert.throws(() => load(dir), /depends on undefined service "ghost"/);
  const { project: p } = load(dir, { interpolate: false, resolvePaths: false, normalize: false, consistency: false });
  assert.equal(p.services.a.image, 'img:${TAG:-x}');
  assert.equal(p.services.a.volumes[0].source, './d');
  assert.equal(p.services.a.build?.context, '.');
  assert.equal(p.services.a.build?.dockerfile, undefined);
  assert.equal(p.networks.n.name, undefined);
  assert.match(renderConfig(p, { interpolated: false }), /image: img:\$\{TAG:-x\}/);
  const normal = load(dir, { consistency: false }).project;
  assert.equal(normal.services.a.build?.dockerfile, 'Dockerfile');
  assert.equal(normal.networks.n.name, 'flags_n');
});

test('label_file labels under the service labels', () => {
  const dir = project({ 'compose.yaml': 'services:\n  a: {image: x, label_file: ./l.env, labels: {b: own}}\n', 'l.env': 'a=1\nb=file\n' });
  assert.deepEqual(load(dir).project.services.a.labels, { a: '1', b: 'own' });
});

test('interpolated booleans and numbers are cast where the schema types them; sizes and environment stay strings', () => {
  const dir = project({
    'compose.yaml': 'services:\n  b: {image: y}\n  a:\n    image: x\n    depends_on: {b: {condition: service_started, required: "${PRIV}"}}\n    ulimits: {nofile: {soft: "${SHARES}", hard: "${SHARES}"}}\n    privileged: ${PRIV}\n    read_only: "false"\n    cpu_shares: ${SHARES}\n    mem_limit: ${MEM}\n    environment: {V: "${VERSION}"}\n    healthcheck: {test: "true", retries: "${RETRIES}"}\n    ports: [{target: 80, published: "${PORT}"}]\n',
  });
  const a = load(dir, { env: { PRIV: 'false', SHARES: '512', MEM: '64m', VERSION: '1.0', RETRIES: '3', PORT: '8080' } }).project.services.a;
  assert.equal(a.privileged, false);
  assert.equal(a.depends_on.b.required, false);
  assert.deepEqual(a.ulimits, { nofile: { soft: 512, hard: 512 } });
  assert.equal(a.read_only, false);
  assert.equal(a.cpu_shares, 512);
  assert.equal(a.mem_limit, '67108864'); // a size: bytes in a string, as docker compose prints it
  assert.equal(a.environment.V, '1.0');
  assert.equal(a.healthcheck?.retries, 3);
  assert.equal(a.ports[0].published, '8080');
});

test('config flags map to loader and render options; --environment prints the interpolation environment', () => {
  const set = new Set(['no-interpolate', 'services', 'quiet']);
  const { load: loadOpts, render } = configOptionsFromFlags({ bool: (n) => set.has(n), string: (n) => (n === 'hash' ? '*' : '') });
  assert.deepEqual(loadOpts, { interpolate: false });
  assert.equal(render.services, true);
  assert.equal(render.quiet, true);
  assert.equal(render.hash, '*');
  assert.equal(render.interpolated, false);
  assert.equal(render.format, undefined);
  const { project: p } = load(project({ 'compose.yaml': 'services: {a: {image: x}}\n', '.env': 'B=2\nA=1\n' }));
  assert.equal(renderConfig(p, { environment: true }), 'A=1\nB=2\n');
});

test('env_file format raw: values as written', () => {
  const dir = project({ 'compose.yaml': 'services:\n  a: {image: x, env_file: [{path: ./r.env, format: raw}]}\n', 'r.env': 'A="quoted"\nB=$HOME\n# c\n' });
  assert.deepEqual(load(dir).project.services.a.environment, { A: '"quoted"', B: '$HOME' });
});
