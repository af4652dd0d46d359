import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TestDaemon, run, type RunResult } from './harness.js';

/**
 * Debian's docker-compose 1.29 (Python, docker-py 5) against berthd: a web + db project with a
 * healthcheck, a named volume, a published port and a sidecar in the web container's network namespace,
 * through up -d, ps, logs, exec -T, run --rm, a recreate after a change, and down -v, which leaves nothing
 * behind. docker-compose 1.29 negotiates the daemon's newest API version and sends docker-py's requests.
 */
const COMPOSE_V1 = '/usr/bin/docker-compose';
const PROJECT = `v1${process.pid}`;

const composeFile = (dbHost: string) => `version: "3.8"
services:
  web:
    image: busybox
    command: sh -c 'echo web started; exec httpd -f -p 8080 -h /www'
    stop_grace_period: 1s
    ports:
      - "127.0.0.1::8080"
    depends_on:
      - db
    environment:
      DB_HOST: ${dbHost}
    volumes:
      - data:/www
  sidecar:
    image: busybox
    command: sleep 1000
    network_mode: "service:web"
    stop_grace_period: 1s
  db:
    image: busybox
    command: sh -c 'echo db ready; exec sleep 1000'
    stop_grace_period: 1s
    healthcheck:
      test: ["CMD", "true"]
      interval: 1s
volumes:
  data:
`;

describe('docker-compose 1.29 against berthd', { skip: !existsSync(COMPOSE_V1) && `no ${COMPOSE_V1} (Debian's docker-compose) on this machine` }, () => {
  const daemon = new TestDaemon();
  let dir: string;

  const compose = (args: string[], where = { dir, project: PROJECT }): Promise<RunResult> =>
    run('sh', ['-c', `cd "${where.dir}" && exec ${COMPOSE_V1} -p ${where.project} --ansi never "$@"`, 'compose', ...args], { DOCKER_HOST: daemon.host });

  const ok = async (args: string[], where = { dir, project: PROJECT }): Promise<RunResult> => {
    const r = await compose(args, where);
    assert.equal(r.code, 0, `docker-compose ${args.join(' ')}: ${r.stderr}${r.stdout}`);
    return r;
  };

  before(async () => {
    await daemon.start();
    await daemon.seedBusybox();
    dir = mkdtempSync(path.join(os.tmpdir(), 'berth-compose-v1-'));
    writeFileSync(path.join(dir, 'docker-compose.yml'), composeFile('db'));
  });

  after(async () => {
    if (dir) await compose(['down', '-v', '-t', '0']).catch(() => undefined);
    await daemon.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('up -d makes the network, the volume and the containers; ps and logs show them', async () => {
    const up = await ok(['up', '-d']);
    assert.match(up.stderr, new RegExp(`Creating network "${PROJECT}_default" with the default driver`));
    assert.match(up.stderr, new RegExp(`Creating volume "${PROJECT}_data" with default driver`));

    const ps = await ok(['ps']);
    for (const svc of ['web', 'db', 'sidecar']) assert.match(ps.stdout, new RegExp(`${PROJECT}_${svc}_1 .* Up`), ps.stdout);
    assert.match(ps.stdout, /127\.0\.0\.1:\d+->8080\/tcp/);

    const logs = await ok(['logs', 'db', 'web']);
    assert.match(logs.stdout, /db_1 +\| db ready/);
    assert.match(logs.stdout, /web_1 +\| web started/);
  });

  test('exec -T gives the exit status; run --rm leaves no container; the published port answers', async () => {
    const exec = await compose(['exec', '-T', 'web', 'sh', '-c', 'echo served > /www/index.html; echo $((6*7)); exit 3']);
    assert.equal(exec.code, 3);
    assert.equal(exec.stdout, '42\n');

    const once = await ok(['run', '--rm', '-T', 'db', 'echo', 'one-off']);
    assert.match(once.stdout, /one-off/);
    const all = (await daemon.request('GET', '/containers/json?all=1')).json<Array<{ Names: string[] }>>();
    assert.equal(all.length, 3, JSON.stringify(all.map((c) => c.Names)));

    const port = (await ok(['port', 'web', '8080'])).stdout.trim();
    const res = await fetch(`http://${port}/index.html`);
    assert.equal(await res.text(), 'served\n');
  });

  test('image inspect keeps the fields dockerd dropped at API 1.44/1.45 for older clients and for docker-compose 1.x', async () => {
    type Inspect = { Size: number; VirtualSize?: number; Container?: string; ContainerConfig?: { Volumes: unknown } };
    const old = (await daemon.request('GET', '/v1.41/images/busybox/json')).json<Inspect>();
    assert.equal(old.Container, '');
    assert.equal(old.ContainerConfig?.Volumes, null);
    assert.equal(old.VirtualSize, old.Size);
    const current = (await daemon.request('GET', '/v1.50/images/busybox/json')).json<Inspect>();
    assert.ok(!('ContainerConfig' in current) && !('VirtualSize' in current) && !('Container' in current));
    const composeV1 = (await daemon.request('GET', '/v1.50/images/busybox/json', undefined, { 'User-Agent': 'docker-compose/1.29.2 docker-py/5.0.3 Linux/6.1' })).json<Inspect>();
    assert.ok('ContainerConfig' in composeV1 && !('VirtualSize' in composeV1));
    const list = (await daemon.request('GET', '/v1.43/images/json')).json<Array<{ Size: number; VirtualSize?: number }>>();
    assert.equal(list[0]!.VirtualSize, list[0]!.Size);
    assert.ok(!('VirtualSize' in (await daemon.request('GET', '/v1.44/images/json')).json<object[]>()[0]!));
  });

  test('a sidecar in the web container\'s network namespace resolves the other services', async () => {
    const r = await ok(['exec', '-T', 'sidecar', 'sh', '-c', 'cat /etc/hostname; nslookup db 127.0.0.11 >/dev/null && echo resolved']);
    const web = (await daemon.request('GET', `/containers/${PROJECT}_web_1/json`)).json<{ Config: { Hostname: string } }>();
    assert.equal(r.stdout, `${web.Config.Hostname}\nresolved\n`);
  });

  test('a changed service is recreated (docker-compose reads ContainerConfig from image inspect)', async () => {
    writeFileSync(path.join(dir, 'docker-compose.yml'), composeFile('db2'));
    const up = await ok(['up', '-d']);
    assert.match(up.stderr, new RegExp(`Recreating ${PROJECT}_web_1 `));
    assert.doesNotMatch(up.stderr, /Traceback|KeyError/);
    const env = await ok(['exec', '-T', 'web', 'sh', '-c', 'echo $DB_HOST; cat /www/index.html']);
    assert.equal(env.stdout, 'db2\nserved\n');
  });

  test('down -v leaves no container, network or volume behind', async () => {
    const down = await ok(['down', '-v', '-t', '1']);
    assert.match(down.stderr, new RegExp(`Removing network ${PROJECT}_default`));
    assert.match(down.stderr, new RegExp(`Removing volume ${PROJECT}_data`));
    assert.deepEqual((await daemon.request('GET', '/containers/json?all=1')).json(), []);
    const nets = (await daemon.request('GET', '/networks')).json<Array<{ Name: string }>>().map((n) => n.Name).sort();
    assert.deepEqual(nets, ['bridge', 'host', 'none']);
    assert.deepEqual((await daemon.request('GET', '/volumes')).json<{ Volumes: unknown[] }>().Volumes, []);
  });

  test('a v2.4 file: up -d --build with an argument and --scale, exec --index, down -v --rmi local removes what it built', async () => {
    const where = { dir: path.join(dir, 'v2'), project: `${PROJECT}b` };
    mkdirSync(path.join(where.dir, 'app'), { recursive: true });
    writeFileSync(path.join(where.dir, 'app', 'Dockerfile'), 'FROM busybox\nARG GREETING=hello\nRUN echo "$GREETING from the build" > /greeting\n');
    writeFileSync(
      path.join(where.dir, 'docker-compose.yml'),
      `version: "2.4"
services:
  app:
    build:
      context: ./app
      args:
        GREETING: hi
    command: sh -c 'cat /greeting; exec sleep 1000'
    stop_grace_period: 1s
`,
    );
    const up = await ok(['up', '-d', '--build', '--scale', 'app=2'], where);
    assert.match(up.stdout, new RegExp(`Successfully tagged ${where.project}_app:latest`));
    const running = (await daemon.request('GET', '/containers/json')).json<Array<{ Names: string[] }>>().map((c) => c.Names[0]).sort();
    assert.deepEqual(running, [`/${where.project}_app_1`, `/${where.project}_app_2`]);
    assert.equal((await ok(['exec', '-T', '--index=2', 'app', 'cat', '/greeting'], where)).stdout, 'hi from the build\n');
    const down = await ok(['down', '-v', '--rmi', 'local', '-t', '1'], where);
    assert.match(down.stderr, new RegExp(`Removing image ${where.project}_app`));
    assert.deepEqual((await daemon.request('GET', '/containers/json?all=1')).json(), []);
    const tags = (await daemon.request('GET', '/images/json')).json<Array<{ RepoTags: string[] }>>().flatMap((i) => i.RepoTags);
    assert.deepEqual(tags, ['busybox:latest']);
  });
});
