import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { TestDaemon, BERTH } from './harness.js';
import { ApiClient, parseHost } from '../../src/cli/client.js';
import { loadProject } from '../../src/compose/index.js';
import { startDependencies } from '../../src/compose/engine/index.js';
import { quietProgress } from '../../src/compose/engine/progress.js';

/** Stops at once on SIGTERM (a shell as PID 1 ignores it otherwise), so stops take no 10 s. */
const SLEEPER = `["sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"]`;

describe('compose up, down and convergence', () => {
  const d = new TestDaemon();
  const dirs: string[] = [];
  before(async () => {
    await d.start();
    await d.seedBusybox();
  });
  after(async () => {
    await d.stop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  /** Writes compose.yaml for project `name`; returns a function running `berth compose -p name -f file ...`. */
  function projectFile(name: string, yaml: string) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-compose-up-'));
    dirs.push(dir);
    const file = path.join(dir, 'compose.yaml');
    writeFileSync(file, yaml);
    return {
      file,
      write: (text: string) => writeFileSync(file, text),
      compose: (...args: string[]) => d.berth(['compose', '-p', name, '-f', file, '--progress', 'plain', ...args]),
    };
  }

  async function containers(project: string) {
    const res = await d.request('GET', `/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ label: [`com.docker.compose.project=${project}`] }))}`);
    return (res.json() as Array<{ Id: string; Names: string[]; State: string; Labels: Record<string, string> }>).map((c) => ({
      id: c.Id,
      name: c.Names[0]!.slice(1),
      state: c.State,
      labels: c.Labels,
    }));
  }

  test('web + db: service_healthy waits for the real health status; network and labels', async () => {
    const p = projectFile(
      'cuhealth',
      `services:
  db:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 1 && touch /tmp/ready; sleep 1000 & wait"]
    healthcheck: {test: ["CMD", "test", "-f", "/tmp/ready"], interval: 1s, retries: 10}
  web:
    image: busybox
    command: ${SLEEPER}
    depends_on:
      db: {condition: service_healthy}
`,
    );
    const up = await p.compose('up', '-d');
    assert.equal(up.code, 0, up.stderr);
    const lines = up.stderr.split('\n');
    const healthy = lines.indexOf(' Container cuhealth-db-1  Healthy');
    const webStarted = lines.indexOf(' Container cuhealth-web-1  Started');
    assert.ok(healthy >= 0 && webStarted > healthy, up.stderr);
    assert.ok(lines.includes(' Network cuhealth_default  Created'), up.stderr);
    const list = await containers('cuhealth');
    assert.deepEqual(list.map((c) => `${c.name} ${c.state}`).sort(), ['cuhealth-db-1 running', 'cuhealth-web-1 running']);
    const web = list.find((c) => c.name === 'cuhealth-web-1')!;
    assert.equal(web.labels['com.docker.compose.service'], 'web');
    assert.equal(web.labels['com.docker.compose.container-number'], '1');
    assert.equal(web.labels['com.docker.compose.oneoff'], 'False');
    const inspect = (await d.request('GET', `/containers/${web.id}/json`)).json();
    assert.ok(Object.keys(inspect.NetworkSettings.Networks).includes('cuhealth_default'));

    // stop: dependents first; start: dependencies first, their conditions awaited again.
    const stop = await p.compose('stop');
    assert.equal(stop.code, 0, stop.stderr);
    assert.ok(stop.stderr.indexOf('cuhealth-web-1  Stopped') < stop.stderr.indexOf('cuhealth-db-1  Stopping'), stop.stderr);
    assert.ok((await containers('cuhealth')).every((c) => c.state === 'exited'));
    const start = await p.compose('start');
    assert.equal(start.code, 0, start.stderr);
    assert.match(start.stderr, / Container cuhealth-db-1 {2}Healthy\n(.*\n)* Container cuhealth-web-1 {2}Started/);
    assert.ok((await containers('cuhealth')).every((c) => c.state === 'running'));
    const down = await p.compose('down');
    assert.equal(down.code, 0, down.stderr);
  });

  test('an unhealthy dependency fails up with docker compose words; the dependent is never started', async () => {
    const p = projectFile(
      'cusick',
      `services:
  db:
    image: busybox
    command: ${SLEEPER}
    healthcheck: {test: ["CMD", "false"], interval: 1s, retries: 1}
  web:
    image: busybox
    command: ${SLEEPER}
    depends_on:
      db: {condition: service_healthy}
`,
    );
    const up = await p.compose('up', '-d');
    assert.equal(up.code, 1);
    assert.match(up.stderr, /dependency failed to start: container cusick-db-1 is unhealthy/);
    const web = (await containers('cusick')).find((c) => c.name === 'cusick-web-1');
    assert.notEqual(web?.state, 'running');
    assert.equal((await p.compose('down', '-t', '0')).code, 0);
  });

  test('scale, recreation of changed services only, restart: true dependents, down -v leaves nothing', async () => {
    const yaml = (dbCmd: string, otherCmd: string) => `services:
  db:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep ${dbCmd} & wait"]
    volumes: [data:/data, /anon]
  web:
    image: busybox
    command: ${SLEEPER}
    depends_on:
      db: {condition: service_started, restart: true}
  other:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep ${otherCmd} & wait"]
    depends_on: [db]
volumes:
  data: {}
`;
    const p = projectFile('cuconv', yaml('1000', '1000'));
    let r = await p.compose('up', '-d', '--scale', 'web=3');
    assert.equal(r.code, 0, r.stderr);
    const first = await containers('cuconv');
    assert.deepEqual(first.map((c) => c.name).sort(), ['cuconv-db-1', 'cuconv-other-1', 'cuconv-web-1', 'cuconv-web-2', 'cuconv-web-3']);
    const ids = (list: typeof first) => Object.fromEntries(list.map((c) => [c.name, c.id]));
    const before1 = ids(first);

    // Back to the file's scale: web-2 and web-3 go, nothing else changes.
    r = await p.compose('up', '-d');
    assert.equal(r.code, 0, r.stderr);
    const second = ids(await containers('cuconv'));
    assert.deepEqual(Object.keys(second).sort(), ['cuconv-db-1', 'cuconv-other-1', 'cuconv-web-1']);
    for (const n of Object.keys(second)) assert.equal(second[n], before1[n], `${n} was recreated`);

    // Only `other` changed: only it is recreated.
    p.write(yaml('1000', '1001'));
    r = await p.compose('up', '-d');
    assert.equal(r.code, 0, r.stderr);
    const third = ids(await containers('cuconv'));
    assert.notEqual(third['cuconv-other-1'], second['cuconv-other-1']);
    assert.equal(third['cuconv-db-1'], second['cuconv-db-1']);
    assert.equal(third['cuconv-web-1'], second['cuconv-web-1']);
    assert.match(r.stderr, / Container cuconv-other-1  Recreated/);

    const anonOf = async (id: string) =>
      ((await d.request('GET', `/containers/${id}/json`)).json().Mounts as Array<{ Name?: string; Destination: string }>).find((m) => m.Destination === '/anon')?.Name;
    const anonBefore = await anonOf(third['cuconv-db-1']!);
    assert.ok(anonBefore);

    // db changed: web (restart: true) follows, other (no restart) stays.
    p.write(yaml('1002', '1001'));
    r = await p.compose('up', '-d');
    assert.equal(r.code, 0, r.stderr);
    const fourth = await containers('cuconv');
    const fourthIds = ids(fourth);
    assert.notEqual(fourthIds['cuconv-db-1'], third['cuconv-db-1']);
    assert.notEqual(fourthIds['cuconv-web-1'], third['cuconv-web-1']);
    assert.equal(fourthIds['cuconv-other-1'], third['cuconv-other-1']);
    assert.ok(fourth.every((c) => c.state === 'running'), JSON.stringify(fourth));
    // The recreated container replaced the old one: no `<id>_name` leftovers.
    assert.equal(fourth.length, 3);
    // ... and took over its anonymous volume, as docker compose does.
    assert.equal(await anonOf(fourthIds['cuconv-db-1']!), anonBefore);

    const volumesBefore = (await d.request('GET', '/volumes')).json().Volumes.length;
    assert.ok(volumesBefore >= 2); // cuconv_data and db's anonymous volume
    r = await p.compose('down', '-v');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await containers('cuconv'), []);
    const nets = (await d.request('GET', '/networks')).json() as Array<{ Name: string }>;
    assert.ok(!nets.some((n) => n.Name.startsWith('cuconv')), JSON.stringify(nets.map((n) => n.Name)));
    const vols = (await d.request('GET', '/volumes')).json().Volumes as Array<{ Name: string }> | null;
    assert.deepEqual(vols ?? [], []);
  });

  test('a port already taken: a clear error and no container of that service left behind', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const p = projectFile(
        'cuport',
        `services:
  web:
    image: busybox
    command: ${SLEEPER}
    ports: ["127.0.0.1:${port}:80"]
`,
      );
      const up = await p.compose('up', '-d');
      assert.equal(up.code, 1, up.stderr);
      assert.match(up.stderr, new RegExp(`${port}`));
      assert.match(up.stderr, /address already in use|port is already allocated/);
      assert.deepEqual(await containers('cuport'), []);
      assert.equal((await p.compose('down')).code, 0);
    } finally {
      server.close();
    }
  });

  test('bad input: a missing image and an external network that does not exist', async () => {
    const p = projectFile(
      'cubad',
      `services:
  web:
    image: no-such-image-here:1
`,
    );
    const r = await p.compose('up', '-d');
    assert.notEqual(r.code, 0);
    assert.deepEqual(await containers('cubad'), []);
    p.write(`services:
  web:
    image: busybox
    networks: [outside]
networks:
  outside: {external: true, name: cubad-none}
`);
    const r2 = await p.compose('up', '-d');
    assert.equal(r2.code, 1);
    assert.match(r2.stderr, /network cubad-none declared as external, but could not be found/);
    assert.deepEqual(await containers('cubad'), []);
  });

  test('attached up prints prefixed logs and returns --exit-code-from', async () => {
    const p = projectFile(
      'cuattach',
      `services:
  job:
    image: busybox
    command: ["sh", "-c", "echo working; sleep 1; exit 3"]
  side:
    image: busybox
    command: ${SLEEPER}
`,
    );
    const r = await p.compose('up', '--exit-code-from', 'job', '-t', '1');
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stdout, /^Attaching to job-1, side-1$/m);
    assert.match(r.stdout, /^job-1 +\| working$/m);
    assert.match(r.stdout, /^job-1 exited with code 3$/m);
    assert.match(r.stdout, /^Aborting on container exit\.\.\.$/m);
    const list = await containers('cuattach');
    assert.ok(list.every((c) => c.state !== 'running'), JSON.stringify(list));

    // Ctrl-C: docker compose's graceful stop, exit 130.
    const child = spawn(BERTH, ['compose', '-p', 'cuattach', '-f', p.file, '--progress', 'plain', 'up', '--no-attach', 'job'], {
      env: { ...process.env, BERTH_HOST: d.host, DOCKER_HOST: '' },
    });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    for (let i = 0; i < 200 && !out.includes('Attaching to'); i++) await new Promise((r) => setTimeout(r, 100));
    child.kill('SIGINT');
    assert.equal(await exited, 130, out);
    assert.match(out, /Gracefully stopping\.\.\. \(press Ctrl\+C again to force\)/);
    assert.match(out, /^side-1 exited with code 0$/m);
    assert.ok((await containers('cuattach')).every((c) => c.state !== 'running'));
    assert.equal((await p.compose('down')).code, 0);
  });

  test('startDependencies (for run): dependencies converged, started, their conditions met; the service itself untouched', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-compose-up-'));
    dirs.push(dir);
    writeFileSync(
      path.join(dir, 'compose.yaml'),
      `services:
  init:
    image: busybox
    command: ["sh", "-c", "sleep 1; exit 0"]
  db:
    image: busybox
    command: ${SLEEPER}
    healthcheck: {test: ["CMD", "true"], interval: 1s}
  app:
    image: busybox
    depends_on:
      init: {condition: service_completed_successfully}
      db: {condition: service_healthy}
`,
    );
    const project = loadProject({ workingDir: dir, projectName: 'curun', env: {}, warn: () => undefined });
    const client = new ApiClient(parseHost(d.host));
    const warnings: string[] = [];
    try {
      await startDependencies({ client, progress: quietProgress(), warn: (m) => warnings.push(m) }, project, 'app');
    } finally {
      client.close();
    }
    const list = await containers('curun');
    assert.deepEqual(list.map((c) => `${c.name} ${c.state}`).sort(), ['curun-db-1 running', 'curun-init-1 exited']);
    const db = (await d.request('GET', `/containers/${list.find((c) => c.name === 'curun-db-1')!.id}/json`)).json();
    assert.equal(db.State.Health.Status, 'healthy');
    const init = (await d.request('GET', `/containers/${list.find((c) => c.name === 'curun-init-1')!.id}/json`)).json();
    assert.equal(init.State.ExitCode, 0);
    assert.deepEqual(warnings, []);
    assert.equal((await d.berth(['compose', '-p', 'curun', 'down', '-t', '0'])).code, 0);
    assert.deepEqual(await containers('curun'), []);
  });
});
