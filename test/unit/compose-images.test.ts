import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { project, load } from './compose-helpers.js';
import { serviceImageName, ensureImages, pullProject, pushProject } from '../../src/compose/engine/images.js';
import { assertBuildSupported, buildQuery, resolveBuildArgs, buildLabels } from '../../src/compose/engine/build.js';
import { effectivePolicy, isLatestTag, mustBuild, mustPull, parsePullPolicy, shouldPullOnCommand } from '../../src/compose/engine/pull-policy.js';
import { matchRule, serviceWatchRules } from '../../src/compose/engine/watch.js';
import type { ComposeContext, ProgressEvent } from '../../src/compose/engine/types.js';
import { DaemonError } from '../../src/cli/errors.js';

const DOCKERFILE = 'FROM busybox\n';

test('image names: image: as given, else <project>-<service> (docker compose v2)', () => {
  const { project: p } = load(
    project({ 'compose.yaml': 'services:\n  web:\n    build: .\n  db:\n    image: busybox:1\n  both:\n    image: me/app:2\n    build: .\n', Dockerfile: DOCKERFILE }, 'demo'),
  );
  assert.equal(serviceImageName(p, 'web'), 'demo-web');
  assert.equal(serviceImageName(p, 'db'), 'busybox:1');
  assert.equal(serviceImageName(p, 'both'), 'me/app:2');
});

test('pull_policy values, and refused ones', () => {
  assert.deepEqual(parsePullPolicy(undefined), { kind: 'missing' });
  assert.deepEqual(parsePullPolicy('if_not_present'), { kind: 'missing' });
  assert.deepEqual(parsePullPolicy('always'), { kind: 'always' });
  assert.deepEqual(parsePullPolicy('never'), { kind: 'never' });
  assert.deepEqual(parsePullPolicy('build'), { kind: 'build' });
  assert.deepEqual(parsePullPolicy('daily'), { kind: 'refresh', intervalMs: 86400000 });
  assert.deepEqual(parsePullPolicy('weekly'), { kind: 'refresh', intervalMs: 7 * 86400000 });
  assert.deepEqual(parsePullPolicy('every_12h'), { kind: 'refresh', intervalMs: 12 * 3600000 });
  assert.deepEqual(parsePullPolicy('every_2d'), { kind: 'refresh', intervalMs: 2 * 86400000 });
  assert.throws(() => parsePullPolicy('sometimes'), /invalid pull_policy "sometimes"/);
  assert.throws(() => parsePullPolicy('every_soon'), /invalid pull_policy "every_soon"/);
});

test('up decisions: --pull overrides, --build makes buildable services build, refresh windows', () => {
  const svc = { name: 'web', image: 'busybox', pull_policy: 'never' } as never;
  const buildable = { name: 'app', image: 'me/app', build: { context: '/x' } } as never;
  const buildOnly = { name: 'b', build: { context: '/x' } } as never;
  assert.equal(effectivePolicy(svc, {}).kind, 'never');
  assert.equal(effectivePolicy(svc, { pull: 'always' }).kind, 'always');
  assert.equal(effectivePolicy(svc, { pull: 'policy' }).kind, 'never');
  assert.throws(() => effectivePolicy(svc, { pull: 'daily' }), /invalid --pull option "daily"/);
  assert.equal(effectivePolicy(buildable, { build: true }).kind, 'build');
  assert.equal(effectivePolicy(svc, { build: true }).kind, 'never');

  const present = { id: 'sha256:1', taggedAt: 1_000 };
  assert.equal(mustPull(svc, { kind: 'missing' }, undefined), true);
  assert.equal(mustPull(svc, { kind: 'missing' }, present), false);
  assert.equal(mustPull(svc, { kind: 'always' }, present), true);
  assert.equal(mustPull(svc, { kind: 'never' }, undefined), false);
  assert.equal(mustPull(svc, { kind: 'refresh', intervalMs: 500 }, present, 1_400), false);
  assert.equal(mustPull(svc, { kind: 'refresh', intervalMs: 500 }, present, 1_600), true);
  assert.equal(mustPull(buildOnly, { kind: 'always' }, undefined), false, 'no image: -> nothing to pull');

  assert.equal(mustBuild(buildOnly, { kind: 'missing' }, false), true);
  assert.equal(mustBuild(buildOnly, { kind: 'missing' }, true), false);
  assert.equal(mustBuild(buildable, { kind: 'build' }, true), true);
  assert.equal(mustBuild(buildable, { kind: 'missing' }, false, true), false, '--no-build');
  assert.equal(mustBuild(svc, { kind: 'build' }, false), false, 'no build section');
});

test('compose pull decisions: unset policy always pulls; missing refreshes latest only', () => {
  const svc = (image: string) => ({ name: 's', image }) as never;
  const present = { id: 'sha256:1' };
  assert.deepEqual(shouldPullOnCommand(svc('busybox:1'), undefined, present), { pull: true });
  assert.deepEqual(shouldPullOnCommand(svc('busybox:1'), 'missing', present), { pull: false, reason: 'Image is already present locally' });
  assert.deepEqual(shouldPullOnCommand(svc('busybox'), 'missing', present), { pull: true });
  assert.deepEqual(shouldPullOnCommand(svc('busybox:1'), 'never', undefined), { pull: false });
  assert.deepEqual(shouldPullOnCommand(svc('busybox:1'), 'weekly', present), { pull: true });
  assert.deepEqual(shouldPullOnCommand({ name: 'b', build: { context: '.' } } as never, undefined, undefined), { pull: false, reason: 'No image to be pulled' });
  assert.equal(isLatestTag('localhost:5000/app'), true);
  assert.equal(isLatestTag('localhost:5000/app:1'), false);
  assert.equal(isLatestTag('app@sha256:abc'), false);
});

test('build request: the build section as /build query parameters', () => {
  const dir = project(
    {
      'compose.yaml': [
        'services:',
        '  web:',
        '    build:',
        '      context: ./app',
        '      dockerfile: web.Dockerfile',
        '      args:',
        '        A: "1"',
        '        FROM_ENV:',
        '        UNSET:',
        '      target: final',
        '      cache_from: [busybox]',
        '      labels: { org.example: yes }',
        '      network: host',
        '      extra_hosts: ["db=10.0.0.2", "cache:10.0.0.3"]',
        '      shm_size: 64m',
        '      tags: ["me/web:dev"]',
        '      no_cache: true',
        '',
      ].join('\n'),
      'app/web.Dockerfile': DOCKERFILE,
    },
    'demo',
  );
  const { project: p } = load(dir, { env: { FROM_ENV: 'env-value' } });
  const q = buildQuery(p, p.services.web!, 'web.Dockerfile', { buildArgs: { A: 'cli' }, pull: true });
  assert.deepEqual(q.t, ['demo-web', 'me/web:dev']);
  assert.equal(q.dockerfile, 'web.Dockerfile');
  assert.deepEqual(JSON.parse(q.buildargs as string), { A: 'cli', FROM_ENV: 'env-value', UNSET: null });
  assert.equal(q.target, 'final');
  assert.equal(q.cachefrom, '["busybox"]');
  assert.equal(q.networkmode, 'host');
  assert.deepEqual(q.extrahosts, ['db:10.0.0.2', 'cache:10.0.0.3']);
  assert.equal(q.shmsize, 64 * 1024 * 1024);
  assert.equal(q.nocache, true);
  assert.equal(q.pull, true);
  assert.equal(q.forcerm, '1');
  const labels = JSON.parse(q.labels as string);
  assert.equal(labels['org.example'], 'yes');
  assert.equal(labels['com.docker.compose.project'], 'demo');
  assert.equal(labels['com.docker.compose.service'], 'web');
  assert.deepEqual(buildLabels(p, p.services.web!), labels);
  assert.deepEqual(resolveBuildArgs(p, p.services.web!.build!), { A: '1', FROM_ENV: 'env-value', UNSET: null });
});

test('unsupported build keys are refused, naming the service', () => {
  const base = { name: 'web', volumes: [] } as never as Record<string, unknown>;
  const svc = (build: Record<string, unknown>) => ({ ...base, build: { context: '/x', ...build } }) as never;
  assert.doesNotThrow(() => assertBuildSupported(svc({ target: 'a', platforms: ['linux/amd64'] })));
  assert.throws(() => assertBuildSupported(svc({ ssh: ['default'] })), /service "web": berth's builder doesn't support SSH keys \(build.ssh\)/);
  assert.throws(() => assertBuildSupported(svc({ secrets: ['s'] })), /doesn't support secrets/);
  assert.throws(() => assertBuildSupported(svc({ additional_contexts: { a: 'docker-image://busybox' } })), /additional contexts/);
  assert.throws(() => assertBuildSupported(svc({ platforms: ['linux/amd64', 'linux/arm64'] })), /multi-arch/);
  assert.throws(() => assertBuildSupported(svc({ frobnicate: 1 })), /build.frobnicate is not supported/);
  assert.throws(() => assertBuildSupported(({ ...base, build: { context: 'https://github.com/x/y.git' } }) as never), /remote build contexts/);
});

/** A daemon stand-in for the engine: images it has, and the requests made. */
function fakeContext(images: Record<string, string>, failPulls: string[] = []) {
  const calls: string[] = [];
  const events: ProgressEvent[] = [];
  const warnings: string[] = [];
  const client = {
    json: async (method: string, path: string) => {
      calls.push(`${method} ${path}`);
      const m = /^\/images\/(.+)\/json$/.exec(path);
      if (m && images[m[1]!]) return { Id: images[m[1]!] };
      throw new DaemonError(404, `No such image: ${m?.[1]}`);
    },
    request: async (method: string, path: string, opts: { query?: Record<string, unknown> } = {}) => {
      calls.push(`${method} ${path} ${JSON.stringify(opts.query ?? {})}`);
      const body = new PassThrough();
      const ref = `${opts.query?.fromImage}:${opts.query?.tag}`;
      if (failPulls.includes(ref)) body.end(JSON.stringify({ errorDetail: { message: `pull access denied for ${ref}` }, error: `pull access denied for ${ref}` }));
      else {
        const short = String(opts.query?.fromImage).replace('docker.io/library/', '');
        images[short] = images[`${short}:${opts.query?.tag}`] = 'sha256:pulled';
        body.end(JSON.stringify({ status: 'Pulling fs layer', id: 'abc', progressDetail: {} }) + JSON.stringify({ status: 'Pull complete', id: 'abc' }));
      }
      return body;
    },
  };
  const ctx: ComposeContext = {
    client: client as never,
    progress: { event: (e) => events.push(e), log: () => undefined, close: () => undefined },
    warn: (m) => warnings.push(m),
  };
  return { ctx, calls, events, warnings };
}

test('ensureImages pulls only what its policy asks for, in docker compose progress ids', async () => {
  const { project: p } = load(project({ 'compose.yaml': 'services:\n  a:\n    image: busybox\n  b:\n    image: alpine:3\n  c:\n    image: busybox\n    pull_policy: never\n' }, 'demo'));
  const f = fakeContext({ busybox: 'sha256:bb' });
  const ids = await ensureImages(f.ctx, p, ['a', 'b', 'c']);
  assert.equal(ids.get('a'), 'sha256:bb');
  assert.equal(ids.get('b'), 'sha256:pulled');
  const pulls = f.calls.filter((c) => c.startsWith('POST /images/create'));
  assert.equal(pulls.length, 1);
  assert.match(pulls[0]!, /"fromImage":"docker.io\/library\/alpine","tag":"3"/);
  assert.deepEqual(
    f.events.filter((e) => !e.parentId).map((e) => `${e.id} ${e.status}`),
    ['Image alpine:3 Pulling', 'Image alpine:3 Pulled'],
  );
  assert.deepEqual(f.events.filter((e) => e.parentId).map((e) => `${e.parentId}/${e.id} ${e.status}`), ['Image alpine:3/abc Pulling fs layer', 'Image alpine:3/abc Pull complete']);
});

test('ensureImages: a failed pull fails, never-policy and --no-build say why the image is missing', async () => {
  const { project: p } = load(project({ 'compose.yaml': 'services:\n  a:\n    image: nothere:1\n  n:\n    image: gone:1\n    pull_policy: never\n  b:\n    build: .\n', Dockerfile: DOCKERFILE }, 'demo'));
  const f = fakeContext({}, ['docker.io/library/nothere:1']);
  await assert.rejects(ensureImages(f.ctx, p, ['a']), /pull access denied for docker.io\/library\/nothere:1/);
  assert.deepEqual(f.events.at(-1), { id: 'Image nothere:1', status: 'Error', text: 'pull access denied for docker.io/library/nothere:1', error: true });
  await assert.rejects(ensureImages(fakeContext({}).ctx, p, ['n']), /image "gone:1" of service "n" is missing and its pull policy is "never"/);
  await assert.rejects(ensureImages(fakeContext({}).ctx, p, ['b'], { noBuild: true }), /image "demo-b" of service "b" is missing and --no-build prevents building it/);
  await assert.rejects(ensureImages(fakeContext({}).ctx, p, ['b'], { build: true, noBuild: true }), /--build and --no-build are incompatible/);
});

test('compose pull skips build-only services; push skips services without build+image', async () => {
  const { project: p } = load(project({ 'compose.yaml': 'services:\n  a:\n    image: busybox:1\n  b:\n    build: .\n', Dockerfile: DOCKERFILE }, 'demo'));
  const f = fakeContext({});
  await pullProject(f.ctx, p, []);
  assert.deepEqual(
    f.events.filter((e) => !e.parentId).map((e) => `${e.id} ${e.status}${e.text ? ' ' + e.text : ''}`),
    ['b Skipped No image to be pulled', 'Image busybox:1 Pulling', 'Image busybox:1 Pulled'],
  );
  const g = fakeContext({});
  await pushProject(g.ctx, p, []);
  assert.deepEqual(g.events.map((e) => `${e.id} ${e.status}`), ['a Skipped', 'b Skipped']);
  assert.equal(g.calls.length, 0);
});

test('watch rules: paths from the project dir, ignore and include patterns, targets', async () => {
  const dir = project(
    {
      'compose.yaml': [
        'services:',
        '  web:',
        '    image: busybox',
        '    develop:',
        '      watch:',
        '        - action: sync',
        '          path: ./src',
        '          target: /app/src',
        '          ignore: ["node_modules/", "*.tmp"]',
        '        - action: sync+restart',
        '          path: ./conf',
        '          target: /etc/app',
        '          include: ["*.conf"]',
        '',
      ].join('\n'),
    },
    'demo',
  );
  const { project: p } = load(dir);
  const [sync, restart] = await serviceWatchRules(p, p.services.web!);
  assert.equal(sync!.path, `${dir}/src`);
  assert.deepEqual(matchRule(sync!, `${dir}/src/a/b.js`), { hostPath: `${dir}/src/a/b.js`, containerPath: '/app/src/a/b.js' });
  assert.equal(matchRule(sync!, `${dir}/src/x.tmp`), undefined);
  assert.equal(matchRule(sync!, `${dir}/src/node_modules/m/index.js`), undefined);
  assert.equal(matchRule(sync!, `${dir}/src/.git/HEAD`), undefined);
  assert.equal(matchRule(sync!, `${dir}/src/.main.js.swp`), undefined, 'editor files');
  assert.equal(matchRule(sync!, `${dir}/other/a.js`), undefined);
  assert.deepEqual(matchRule(restart!, `${dir}/conf/app.conf`), { hostPath: `${dir}/conf/app.conf`, containerPath: '/etc/app/app.conf' });
  assert.equal(matchRule(restart!, `${dir}/conf/readme.md`), undefined);
});

test('watch rules refused: rebuild without build, sync+exec without a command', async () => {
  const { project: p } = load(
    project({ 'compose.yaml': 'services:\n  web:\n    image: busybox\n    develop:\n      watch:\n        - action: rebuild\n          path: .\n' }, 'demo'),
  );
  await assert.rejects(serviceWatchRules(p, p.services.web!), /can't watch service "web" with action rebuild without a build context/);
});

async function tarNames(body: NodeJS.ReadableStream): Promise<Map<string, string>> {
  const tar = (await import('tar-stream')).default;
  const extract = tar.extract();
  const out = new Map<string, string>();
  extract.on('entry', (header, stream, next) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: unknown) => chunks.push(c as Buffer));
    stream.on('end', () => {
      out.set(header.name, Buffer.concat(chunks).toString());
      next();
    });
  });
  await new Promise<void>((resolve, reject) => {
    extract.on('finish', resolve);
    extract.on('error', reject);
    body.pipe(extract as never);
  });
  return out;
}

test('build context: .dockerignore honoured, dockerfile_inline and a Dockerfile outside the context added under a random name', async () => {
  const { serviceBuildContext } = await import('../../src/compose/engine/build.js');
  const dir = project(
    {
      'compose.yaml': [
        'services:',
        '  plain:',
        '    build: ./ctx',
        '  inline:',
        '    build:',
        '      context: ./ctx',
        '      dockerfile_inline: "FROM busybox\\nRUN true\\n"',
        '  outside:',
        '    build:',
        '      context: ./ctx',
        '      dockerfile: ../other.Dockerfile',
        '',
      ].join('\n'),
      'ctx/Dockerfile': DOCKERFILE,
      'ctx/keep.txt': 'k',
      'ctx/secret.txt': 's',
      'ctx/.dockerignore': 'secret.txt\n',
      'other.Dockerfile': 'FROM busybox\nCMD ["other"]\n',
    },
    'demo',
  );
  const { project: p } = load(dir);
  const plain = await serviceBuildContext(p.services.plain!);
  assert.equal(plain.dockerfile, 'Dockerfile');
  assert.deepEqual([...(await tarNames(plain.body)).keys()].sort(), ['.dockerignore', 'Dockerfile', 'keep.txt']);
  const inline = await serviceBuildContext(p.services.inline!);
  assert.match(inline.dockerfile, /^\.dockerfile\.[0-9a-f]{20}$/);
  const inlineFiles = await tarNames(inline.body);
  assert.equal(inlineFiles.get(inline.dockerfile), 'FROM busybox\nRUN true\n');
  assert.equal(inlineFiles.has('secret.txt'), false);
  const outside = await serviceBuildContext(p.services.outside!);
  assert.equal((await tarNames(outside.body)).get(outside.dockerfile), 'FROM busybox\nCMD ["other"]\n');
  await assert.rejects(serviceBuildContext({ name: 'x', build: { context: `${dir}/nope` } } as never), /unable to prepare context: path ".*\/nope" not found/);
});

test('watch batches: sync+restart copies then restarts, sync+exec runs the command, each once per batch', async () => {
  const { writeFileSync } = await import('node:fs');
  const { watchProject } = await import('../../src/compose/engine/watch.js');
  const dir = project(
    {
      'compose.yaml': [
        'services:',
        '  web:',
        '    image: busybox',
        '    develop:',
        '      watch:',
        '        - action: sync+restart',
        '          path: ./conf',
        '          target: /etc/app',
        '        - action: sync+exec',
        '          path: ./src',
        '          target: /src',
        '          exec:',
        '            command: ["reload", "now"]',
        '',
      ].join('\n'),
      'conf/a.conf': '1',
      'src/main.js': '1',
    },
    'demo',
  );
  const { project: p } = load(dir);
  const calls: string[] = [];
  const client = {
    json: async (method: string, path: string, opts: { json?: { Cmd?: string[] } } = {}) => {
      calls.push(`${method} ${path}${opts.json?.Cmd ? ' ' + opts.json.Cmd.join(' ') : ''}`);
      if (path === '/containers/json') return [{ Id: 'c1' }];
      if (path.endsWith('/exec')) return { Id: 'e1' };
      if (path === '/exec/e1/json') return { ExitCode: 0, Running: false };
      return undefined;
    },
    request: async (method: string, path: string, opts: { query?: Record<string, unknown>; body?: NodeJS.ReadableStream } = {}) => {
      calls.push(`${method} ${path}`);
      if (opts.body) await tarNames(opts.body).then((names) => calls.push(`  tar: ${[...names.keys()].sort().join(',')}`));
      const res = new PassThrough();
      res.end();
      return res;
    },
  };
  const lines: string[] = [];
  const ctx: ComposeContext = { client: client as never, progress: { event: () => undefined, log: () => undefined, close: () => undefined }, warn: (m) => lines.push(`warn: ${m}`) };
  const controller = new AbortController();
  const done = watchProject(ctx, p, [], controller.signal, { log: (l) => lines.push(l), quietPeriodMs: 300 });
  while (!lines.includes('Watch enabled')) await new Promise((r) => setTimeout(r, 20));
  writeFileSync(`${dir}/conf/a.conf`, '2');
  writeFileSync(`${dir}/src/main.js`, '2');
  const deadline = Date.now() + 5000;
  while (!calls.some((c) => c.includes('/exec/e1/json')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  controller.abort();
  await done;
  assert.deepEqual(lines.slice(0, 3), ['Watch enabled', 'Syncing service "web" after 2 changes were detected', 'service(s) ["web"] restarted']);
  assert.equal(lines.at(-1), 'Watch disabled');
  assert.ok(calls.includes('PUT /containers/c1/archive'), calls.join('\n'));
  assert.ok(calls.includes('  tar: etc/app/a.conf,src/main.js'), calls.join('\n'));
  assert.ok(calls.includes('POST /containers/c1/restart'), calls.join('\n'));
  assert.ok(calls.includes('POST /containers/c1/exec reload now'), calls.join('\n'));
  assert.equal(calls.filter((c) => c.startsWith('POST /containers/c1/restart')).length, 1);
});

test('--include-deps / --with-dependencies: the named services and what they depend on, transitively', async () => {
  const { withDependencies } = await import('../../src/cli/commands/compose/image-commands.js');
  const { project: p } = load(
    project({ 'compose.yaml': 'services:\n  web:\n    image: busybox\n    depends_on: [api]\n  api:\n    image: busybox\n    depends_on: [db]\n  db:\n    image: busybox\n  other:\n    image: busybox\n' }, 'demo'),
  );
  assert.deepEqual(withDependencies(p, ['web']).sort(), ['api', 'db', 'web']);
  assert.deepEqual(withDependencies(p, ['db']), ['db']);
  assert.deepEqual(withDependencies(p, []), []);
});
