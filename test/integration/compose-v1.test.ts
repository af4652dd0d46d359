import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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

  const compose = (args: string[]): Promise<RunResult> =>
    run('sh', ['-c', `cd "${dir}" && exec ${COMPOSE_V1} -p ${PROJECT} --ansi never "$@"`, 'compose', ...args], { DOCKER_HOST: daemon.host });

  const ok = async (args: string[]): Promise<RunResult> => {
    const r = await compose(args);
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
    await ok(['exec', '-T', 'web', 'sh', '-c', 'echo served > /www/index.html']);
    const exec = await compose(['exec', '-T', 'db', 'sh', '-c', 'echo $((6*7)); exit 3']);
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

  test('a sidecar in the web container\'s network namespace resolves the other services', async () => {
    const r = await ok(['exec', '-T', 'sidecar', 'sh', '-c', 'cat /etc/hostname; nslookup db 127.0.0.11 >/dev/null && echo resolved']);
    const web = (await ok(['exec', '-T', 'web', 'cat', '/etc/hostname'])).stdout;
    assert.equal(r.stdout, `${web}resolved\n`);
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
});
