import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { BERTH, DOCKER, TestDaemon, hasDocker, run, type RunResult } from './harness.js';

/**
 * Whole compose projects of several kinds driven through `berth compose -H <test daemon>` (and, for
 * web + db, through the docker CLI's `docker compose` plugin): health-ordered start-up and the embedded
 * DNS, a build, scale and profiles, extends and include, secrets and configs; and bad input that must
 * fail clearly and leave nothing half-made. Every project has a name of its own and is removed even
 * when its test fails.
 */

/** Stops at once on SIGTERM (a shell as PID 1 ignores it otherwise), so stops take no 10 s. */
const SLEEPER = `["sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"]`;
const PLUGIN = path.join(path.dirname(BERTH), 'docker-compose');

interface Leftovers {
  containers: Array<{ name: string; state: string }>;
  networks: string[];
  volumes: string[];
}

describe('compose projects', () => {
  const d = new TestDaemon();
  const root = mkdtempSync(path.join(os.tmpdir(), 'berth-compose-projects-'));
  let dockerConfig = '';

  before(async () => {
    await d.start();
    await d.seedBusybox();
    // A docker config directory of the test's own whose only plugin is this tree's bin/docker-compose.
    dockerConfig = path.join(root, 'docker-config');
    mkdirSync(path.join(dockerConfig, 'cli-plugins'), { recursive: true });
    symlinkSync(PLUGIN, path.join(dockerConfig, 'cli-plugins', 'docker-compose'));
  });
  after(async () => {
    await d.stop();
    rmSync(root, { recursive: true, force: true });
  });

  /** A project directory with `files` written into it; `compose` runs `berth -H ... compose -p name ...` there. */
  function project(name: string, files: Record<string, string>) {
    const dir = path.join(root, name);
    for (const [rel, text] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
      writeFileSync(path.join(dir, rel), text);
    }
    const compose = (...args: string[]): Promise<RunResult> =>
      run('sh', ['-c', `cd "${dir}" && exec "$@"`, 'berth', BERTH, '-H', d.host, 'compose', '-p', name, '--progress', 'plain', ...args], {});
    const dockerCompose = (...args: string[]): Promise<RunResult> =>
      run('sh', ['-c', `cd "${dir}" && exec "$@"`, 'docker', DOCKER, 'compose', '-p', name, '--progress', 'plain', ...args], {
        DOCKER_HOST: d.host,
        DOCKER_CONFIG: dockerConfig,
      });
    return { dir, compose, dockerCompose };
  }

  const labelFilter = (project: string) => encodeURIComponent(JSON.stringify({ label: [`com.docker.compose.project=${project}`] }));

  async function leftovers(project: string): Promise<Leftovers> {
    const containers = (await d.request('GET', `/containers/json?all=1&filters=${labelFilter(project)}`)).json() as Array<{ Names: string[]; State: string }>;
    const networks = (await d.request('GET', `/networks?filters=${labelFilter(project)}`)).json() as Array<{ Name: string }>;
    const volumes = (await d.request('GET', `/volumes?filters=${labelFilter(project)}`)).json() as { Volumes: Array<{ Name: string }> | null };
    return {
      containers: containers.map((c) => ({ name: c.Names[0]!.slice(1), state: c.State })).sort((a, b) => a.name.localeCompare(b.name)),
      networks: networks.map((n) => n.Name).sort(),
      volumes: (volumes.Volumes ?? []).map((v) => v.Name).sort(),
    };
  }

  const nothingLeft: Leftovers = { containers: [], networks: [], volumes: [] };

  /** Removes through the API whatever carries the project's label, whatever state a failed test left. */
  async function purge(project: string): Promise<void> {
    const left = await leftovers(project);
    for (const c of left.containers) await d.request('DELETE', `/containers/${c.name}?force=1&v=1`);
    for (const n of left.networks) await d.request('DELETE', `/networks/${n}`);
    for (const v of left.volumes) await d.request('DELETE', `/volumes/${v}?force=1`);
  }

  /**
   * Runs `body`, then `down` (which must leave nothing with the project label); a failed body still gets
   * its `down`, and a purge follows in every case.
   */
  async function withProject(name: string, down: () => Promise<RunResult>, body: () => Promise<void>): Promise<void> {
    try {
      await body();
    } catch (err) {
      await down();
      await purge(name);
      throw err;
    }
    try {
      const res = await down();
      assert.equal(res.code, 0, res.stderr);
      assert.deepEqual(await leftovers(name), nothingLeft);
    } finally {
      await purge(name);
    }
  }

  async function health(container: string): Promise<string | undefined> {
    return (await d.request('GET', `/containers/${container}/json`)).json().State?.Health?.Status;
  }

  const webDb = (name: string) =>
    project(name, {
      'compose.yaml': `services:
  db:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; echo db-says-hello > /www/index.html; httpd -f -p 80 -h /www & wait"]
    volumes: [dbdata:/www]
    healthcheck: {test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1/"], interval: 1s, retries: 20}
  web:
    image: busybox
    command: ${SLEEPER}
    healthcheck: {test: ["CMD", "true"], interval: 1s, retries: 20}
    depends_on:
      db: {condition: service_healthy}
volumes:
  dbdata: {}
`,
    });

  /** web + db through either front end: `up -d --wait`, both healthy, DNS by service name, ps, down -v. */
  async function webDbScenario(name: string, compose: (...args: string[]) => Promise<RunResult>): Promise<void> {
    await withProject(name, () => compose('down', '-v'), async () => {
      const up = await compose('up', '-d', '--wait');
      assert.equal(up.code, 0, up.stderr);
      assert.equal(await health(`${name}-db-1`), 'healthy');
      assert.equal(await health(`${name}-web-1`), 'healthy');
      const lookup = await compose('exec', '-T', 'web', 'nslookup', 'db');
      assert.equal(lookup.code, 0, lookup.stdout + lookup.stderr);
      const dbIp = (await d.request('GET', `/containers/${name}-db-1/json`)).json().NetworkSettings.Networks[`${name}_default`].IPAddress;
      assert.ok(lookup.stdout.includes(dbIp), `nslookup db gave ${lookup.stdout}, db is ${dbIp}`);
      const get = await compose('exec', '-T', 'web', 'wget', '-q', '-O', '-', 'http://db/');
      assert.equal(get.code, 0, get.stderr);
      assert.equal(get.stdout, 'db-says-hello\n');
      const ps = await compose('ps');
      assert.equal(ps.code, 0, ps.stderr);
      assert.match(ps.stdout, new RegExp(`^${name}-db-1 .*\\(healthy\\)`, 'm'));
      assert.match(ps.stdout, new RegExp(`^${name}-web-1 .*\\(healthy\\)`, 'm'));
      assert.deepEqual((await leftovers(name)).volumes, [`${name}_dbdata`]);
    });
  }

  test('web + db: service_healthy, up -d --wait, DNS by service name, ps, down -v leaves nothing', async () => {
    const p = webDb('cpwebdb');
    await webDbScenario('cpwebdb', p.compose);
  });

  test('web + db through `docker compose` (the plugin)', { skip: !hasDocker && `no docker CLI at ${DOCKER}` }, async () => {
    const p = webDb('cpdocker');
    await webDbScenario('cpdocker', p.dockerCompose);
  });

  test('a build with build args, brought up with up -d --build', async () => {
    const p = project('cpbuild', {
      'app/Dockerfile': `FROM busybox\nARG GREETING=unset\nRUN echo "$GREETING" > /greeting\nCMD ${SLEEPER}\n`,
      'compose.yaml': `services:
  app:
    build:
      context: ./app
      args:
        GREETING: built-with-an-arg
`,
    });
    await withProject('cpbuild', () => p.compose('down', '-v', '--rmi', 'local'), async () => {
      const up = await p.compose('up', '-d', '--build');
      assert.equal(up.code, 0, up.stderr);
      const cat = await p.compose('exec', '-T', 'app', 'cat', '/greeting');
      assert.equal(cat.stdout, 'built-with-an-arg\n', cat.stderr);
      const image = (await d.request('GET', '/containers/cpbuild-app-1/json')).json().Config.Image;
      assert.equal(image, 'cpbuild-app');
    });
  });

  test('scale (--scale and deploy.replicas) and profiles', async () => {
    const p = project('cpscale', {
      'compose.yaml': `services:
  web:
    image: busybox
    command: ${SLEEPER}
  worker:
    image: busybox
    command: ${SLEEPER}
    deploy: {replicas: 2}
  debug:
    image: busybox
    command: ${SLEEPER}
    profiles: [debug]
`,
    });
    await withProject('cpscale', () => p.compose('--profile', 'debug', 'down', '-v'), async () => {
      const up = await p.compose('up', '-d', '--scale', 'web=3');
      assert.equal(up.code, 0, up.stderr);
      const names = (await leftovers('cpscale')).containers.map((c) => `${c.name} ${c.state}`);
      assert.deepEqual(names, ['cpscale-web-1 running', 'cpscale-web-2 running', 'cpscale-web-3 running', 'cpscale-worker-1 running', 'cpscale-worker-2 running']);
      const withProfile = await p.compose('--profile', 'debug', 'up', '-d', '--scale', 'web=3');
      assert.equal(withProfile.code, 0, withProfile.stderr);
      const after = (await leftovers('cpscale')).containers.map((c) => c.name);
      assert.ok(after.includes('cpscale-debug-1'), after.join(' '));
      assert.equal(after.length, 6, after.join(' '));
    });
  });

  test('config --services leaves a profiled service out unless --profile', async () => {
    const p = project('cpprofiles', {
      'compose.yaml': `services:\n  web:\n    image: busybox\n  debug:\n    image: busybox\n    profiles: [debug]\n`,
    });
    const plain = await p.compose('config', '--services');
    assert.equal(plain.code, 0, plain.stderr);
    assert.deepEqual(plain.stdout.trim().split('\n').sort(), ['web']);
    const profiled = await p.compose('--profile', 'debug', 'config', '--services');
    assert.deepEqual(profiled.stdout.trim().split('\n').sort(), ['debug', 'web']);
  });

  test('extends and include: config shows the resolved model, up -d runs it', async () => {
    const p = project('cpextinc', {
      'base.yaml': `services:
  base:
    image: busybox
    command: ${SLEEPER}
    environment:
      FROM_BASE: base-value
      OVERRIDDEN: base
`,
      'side/side.yaml': `services:
  side:
    image: busybox
    command: ${SLEEPER}
    environment:
      SIDE_FILE: \${PWD_HINT:-default-hint}
`,
      'compose.yaml': `include:
  - side/side.yaml
services:
  app:
    extends: {file: base.yaml, service: base}
    environment:
      OVERRIDDEN: app
    depends_on: [side]
`,
    });
    await withProject('cpextinc', () => p.compose('down', '-v'), async () => {
      const config = await p.compose('config', '--format', 'json');
      assert.equal(config.code, 0, config.stderr);
      const model = JSON.parse(config.stdout);
      assert.deepEqual(Object.keys(model.services).sort(), ['app', 'side']);
      assert.deepEqual(model.services.app.environment, { FROM_BASE: 'base-value', OVERRIDDEN: 'app' });
      assert.equal(model.services.app.image, 'busybox');
      assert.equal(model.services.app.extends, undefined);
      assert.deepEqual(model.services.side.environment, { SIDE_FILE: 'default-hint' });
      const yaml = await p.compose('config');
      assert.match(yaml.stdout, /^ {2}app:$/m);
      assert.match(yaml.stdout, /^ {2}side:$/m);
      const up = await p.compose('up', '-d');
      assert.equal(up.code, 0, up.stderr);
      const env = await p.compose('exec', '-T', 'app', 'env');
      assert.match(env.stdout, /^FROM_BASE=base-value$/m);
      assert.match(env.stdout, /^OVERRIDDEN=app$/m);
      const sideEnv = await p.compose('exec', '-T', 'side', 'env');
      assert.match(sideEnv.stdout, /^SIDE_FILE=default-hint$/m);
    });
  });

  test('secrets and configs from files, read inside the container', async () => {
    const p = project('cpsecrets', {
      'token.txt': 's3cret-token\n',
      'app.conf': 'setting=on\n',
      'compose.yaml': `services:
  app:
    image: busybox
    command: ${SLEEPER}
    secrets:
      - token
      - source: token
        target: renamed
    configs:
      - appconf
      - source: appconf
        target: /etc/app/custom.conf
secrets:
  token: {file: ./token.txt}
configs:
  appconf: {file: ./app.conf}
`,
    });
    await withProject('cpsecrets', () => p.compose('down', '-v'), async () => {
      const up = await p.compose('up', '-d');
      assert.equal(up.code, 0, up.stderr);
      // One exec for all four (each CLI run costs a second or two here); head names each file it prints.
      const files = '/run/secrets/token /run/secrets/renamed /appconf /etc/app/custom.conf';
      const read = await p.compose('exec', '-T', 'app', 'sh', '-c', `head -n 5 ${files} && if touch /run/secrets/token 2>/dev/null; then echo writable; else echo read-only; fi`);
      assert.equal(read.code, 0, read.stdout + read.stderr);
      assert.equal(
        read.stdout,
        '==> /run/secrets/token <==\ns3cret-token\n\n==> /run/secrets/renamed <==\ns3cret-token\n\n==> /appconf <==\nsetting=on\n\n==> /etc/app/custom.conf <==\nsetting=on\nread-only\n',
      );
    });
  });

  describe('bad input: a clear error and nothing half-made', () => {
    const cases: Array<{ name: string; what: string; yaml: string; error: RegExp; todo?: string }> = [
      {
        name: 'cpbadschema',
        what: 'a schema error',
        yaml: `services:\n  web:\n    image: busybox\n    command: ${SLEEPER}\n    ports: "8080:80"\n`,
        error: /^validating \/.*\/compose\.yaml: services\.web\.ports must be a list$/m,
      },
      {
        name: 'cpbadkey',
        what: 'an unknown key',
        yaml: `services:\n  web:\n    image: busybox\n    command: ${SLEEPER}\n    imagee: busybox\n`,
        error: /^validating \/.*\/compose\.yaml: services\.web Additional property imagee is not allowed$/m,
      },
      {
        name: 'cpbadcycle',
        what: 'a dependency cycle',
        yaml: `services:\n  a:\n    image: busybox\n    command: ${SLEEPER}\n    depends_on: [b]\n  b:\n    image: busybox\n    command: ${SLEEPER}\n    depends_on: [c]\n  c:\n    image: busybox\n    command: ${SLEEPER}\n    depends_on: [a]\n`,
        error: /^dependency cycle detected: ([abc]) -> [abc] -> [abc] -> \1$/m,
      },
      {
        name: 'cpbadenv',
        what: 'a missing ${X:?...} variable',
        yaml: `services:\n  web:\n    image: busybox\n    command: ${SLEEPER}\n    environment:\n      TOKEN: \${CP_UNSET_TOKEN:?must be set}\n`,
        error: /required variable CP_UNSET_TOKEN is missing a value: must be set/,
      },
      {
        name: 'cpbaddep',
        what: 'an undefined dependency',
        yaml: `services:\n  web:\n    image: busybox\n    depends_on: [nope]\n`,
        error: /service "web" depends on undefined service "nope": invalid compose project/,
      },
      {
        name: 'cpbadsecret',
        what: 'an undefined secret',
        yaml: `services:\n  web:\n    image: busybox\n    secrets: [token]\n`,
        error: /service "web" refers to undefined secret token: invalid compose project/,
      },
      // docker compose's create makes sure of the images before it makes networks and volumes.
      {
        name: 'cpbadimage',
        what: 'a missing image (pull_policy: never)',
        yaml: `services:\n  web:\n    image: berth-nonexistent:1\n    pull_policy: never\n`,
        error: /berth-nonexistent:1/,
      },
      {
        name: 'cpbadbuild',
        what: 'a build context that does not exist',
        yaml: `services:\n  web:\n    build: ./no-such-dir\n`,
        error: /unable to prepare context: path ".*no-such-dir" not found/,
      },
    ];
    for (const c of cases) {
      test(c.what, { todo: c.todo }, async () => {
        const p = project(c.name, { 'compose.yaml': c.yaml });
        try {
          const up = await p.compose('up', '-d');
          assert.notEqual(up.code, 0);
          assert.match(up.stderr, c.error);
          assert.doesNotMatch(up.stderr, /\n\s+at /, 'no stack trace');
          assert.deepEqual(await leftovers(c.name), nothingLeft);
        } finally {
          await purge(c.name);
        }
      });
    }

    test('a port already taken: the daemon error, no container left', async () => {
      const server = net.createServer();
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const port = (server.address() as net.AddressInfo).port;
      const p = project('cpbadport', {
        'compose.yaml': `services:\n  web:\n    image: busybox\n    command: ${SLEEPER}\n    ports: ["127.0.0.1:${port}:80"]\n`,
      });
      try {
        await withProject('cpbadport', () => p.compose('down', '-v'), async () => {
          const up = await p.compose('up', '-d');
          assert.notEqual(up.code, 0);
          assert.match(up.stderr, new RegExp(`Error response from daemon: failed to set up container networking: driver failed programming external connectivity on endpoint cpbadport-web-1 \\([0-9a-f]{64}\\): failed to bind host port for 127\\.0\\.0\\.1:${port}:[0-9.]+:80/tcp: address already in use`));
          assert.doesNotMatch(up.stderr, /\n\s+at /, 'no stack trace');
          const left = await leftovers('cpbadport');
          assert.deepEqual(left.containers, []);
        });
      } finally {
        server.close();
      }
    });
  });
});
