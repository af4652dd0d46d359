import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BERTH, DOCKER, TestDaemon, hasDocker, run, type RunResult } from './harness.js';
import { COMPOSE_VERSION } from '../../src/compose/engine/labels.js';

/**
 * Berth's compose as the official docker CLI's `docker compose` (bin/docker-compose): the docker CLI finds
 * it in its config directory's cli-plugins, reads its metadata, and runs it with its global flags. Each
 * run uses a docker config directory of the test's own, so the machine's plugins play no part.
 */
const PLUGIN = path.join(path.dirname(BERTH), 'docker-compose');
const PROJECT = `plug${process.pid}`;

describe('docker compose (the docker CLI plugin)', { skip: !hasDocker && 'no docker CLI on this machine' }, () => {
  const daemon = new TestDaemon();
  let dir: string;
  let configDir: string;

  /** `docker ARGS` in the project directory, with DOCKER_HOST at a socket nothing listens on unless given. */
  const docker = (args: string[], env: Record<string, string> = {}): Promise<RunResult> =>
    run('sh', ['-c', `cd "${dir}" && exec "$@"`, 'docker', DOCKER, ...args], { DOCKER_CONFIG: configDir, ...env });

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'berth-compose-plugin-'));
    configDir = path.join(dir, 'docker-config');
    mkdirSync(path.join(configDir, 'cli-plugins'), { recursive: true });
    symlinkSync(PLUGIN, path.join(configDir, 'cli-plugins', 'docker-compose'));
    writeFileSync(
      path.join(dir, 'compose.yaml'),
      `name: ${PROJECT}
services:
  web:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; echo web up; sleep 1000 & wait"]
  worker:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"]
    depends_on: [web]
`,
    );
    await daemon.start();
    await daemon.seedBusybox();
  });

  after(async () => {
    await daemon.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the docker CLI lists the plugin from its metadata', async () => {
    const meta = await run(PLUGIN, ['docker-cli-plugin-metadata'], {});
    assert.equal(meta.code, 0);
    assert.deepEqual(JSON.parse(meta.stdout), { SchemaVersion: '0.1.0', Vendor: 'Berth', Version: `v${COMPOSE_VERSION}`, ShortDescription: 'Docker Compose' });
    const help = await docker(['--help']);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /^ {2}compose\* +Docker Compose$/m);
  });

  test('docker compose --help is the compose command\'s help, named docker compose', async () => {
    const r = await docker(['compose', '--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Usage: {2}docker compose /);
    assert.match(r.stdout, /^ {2}config +/m);
    assert.match(r.stdout, /Run 'docker compose COMMAND --help' for more information on a command\./);
  });

  test('docker compose config prints the project the files describe', async () => {
    const r = await docker(['compose', 'config']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^name: ${PROJECT}\n`));
    assert.match(r.stdout, /^ {2}worker:\n {4}command:/m);
    const other = await docker(['compose', '-p', 'other', 'config', '--format', 'json']);
    assert.equal(JSON.parse(other.stdout).name, 'other');
  });

  test('docker compose version names Berth', async () => {
    const r = await docker(['compose', 'version']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `Docker Compose version v${COMPOSE_VERSION}\n`);
  });

  test('up -d, ps and down through the plugin, on the daemon -H names', async () => {
    // DOCKER_HOST points nowhere: the plugin must take the daemon from docker's -H, as the docker CLI does.
    const env = { DOCKER_HOST: `unix://${path.join(dir, 'nothing.sock')}` };
    const up = await docker(['-H', daemon.host, 'compose', 'up', '-d'], env);
    assert.equal(up.code, 0, up.stderr);
    const ps = await docker(['-H', daemon.host, 'compose', 'ps', '--format', '{{.Name}} {{.State}}'], env);
    assert.equal(ps.code, 0, ps.stderr);
    assert.equal(ps.stdout, `${PROJECT}-web-1 running\n${PROJECT}-worker-1 running\n`);
    // --context default is DOCKER_HOST's daemon, as for the docker CLI.
    const named = await docker(['--context', 'default', 'compose', 'ps', '-q'], { DOCKER_HOST: daemon.host });
    assert.equal(named.stdout.trim().split('\n').length, 2, named.stderr);
    const down = await docker(['compose', 'down'], { DOCKER_HOST: daemon.host });
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual((await daemon.request('GET', '/containers/json?all=1')).json(), []);
    const nets = (await daemon.request('GET', '/networks')).json<Array<{ Name: string }>>().map((n) => n.Name);
    assert.ok(!nets.includes(`${PROJECT}_default`), nets.join(' '));
  });

  test('a daemon that is not there is docker\'s connection error, exit 1', async () => {
    const r = await docker(['compose', 'ps'], { DOCKER_HOST: `unix://${path.join(dir, 'nothing.sock')}` });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Cannot connect to the Docker daemon at unix:\/\/.*nothing\.sock\. Is the docker daemon running\?/);
  });
});
