/**
 * `berth compose` commands other than the lifecycle ones, against a real berthd: containers
 * labelled as docker compose labels them are made through the API, then ps, ls, logs, exec,
 * run, top, port, images, events, cp, pause, kill, rm and wait are typed into bin/berth.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BERTH, TestDaemon } from './harness.js';

const LOOP = 'trap "exit 0" TERM; while :; do sleep 1; done';

describe('compose commands', () => {
  const d = new TestDaemon();
  const p = `ccli${process.pid}`;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-ccli-'));
  const file = path.join(dir, 'compose.yaml');
  const ids: Record<string, string> = {};
  const compose = (args: string[], input?: string) => d.berth(['compose', '-p', p, ...args], input);
  const withFile = (args: string[], input?: string) => d.berth(['compose', '-p', p, '-f', file, ...args], input);

  /** A container labelled as docker compose labels a service replica. */
  async function make(service: string, n: number, cmd: string, extra: Record<string, unknown> = {}): Promise<string> {
    const labels = {
      'com.docker.compose.project': p,
      'com.docker.compose.service': service,
      'com.docker.compose.container-number': String(n),
      'com.docker.compose.oneoff': 'False',
      'com.docker.compose.config-hash': 'test',
      'com.docker.compose.project.config_files': file,
      'com.docker.compose.project.working_dir': dir,
    };
    const r = await d.request('POST', `/containers/create?name=${p}-${service}-${n}`, { Image: 'busybox', Cmd: ['sh', '-c', cmd], Labels: labels, ...extra });
    assert.equal(r.status, 201, r.text);
    const id = r.json<{ Id: string }>().Id;
    assert.equal((await d.request('POST', `/containers/${id}/start`)).status, 204);
    return id;
  }

  before(async () => {
    await d.start();
    await d.seedBusybox();
    writeFileSync(file, `services:\n  web:\n    image: busybox\n    command: ["sh", "-c", ${JSON.stringify(LOOP)}]\n  db:\n    image: busybox\n  job:\n    image: busybox\n  dep:\n    image: busybox\n    command: ["sh", "-c", ${JSON.stringify(LOOP)}]\n  needs:\n    image: busybox\n    depends_on: [dep]\n`);
    const web = {
      ExposedPorts: { '80/tcp': {} },
      HostConfig: { PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] } },
    };
    ids.web1 = await make('web', 1, `echo hello from web-1; echo warn from web-1 >&2; ${LOOP}`, web);
    ids.web2 = await make('web', 2, `echo hello from web-2; ${LOOP}`, web);
    ids.db1 = await make('db', 1, `echo db ready; ${LOOP}`, { Tty: true });
  });
  after(async () => {
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('ps: docker compose columns, -q, json; unknown service', async () => {
    // Read-only: all at once, to keep the file's time down on a busy machine.
    // Formatting details are the unit tests' (compose-cli.test.ts); here, what the daemon gives.
    const [ps, q, jsonOut, unknown] = await Promise.all([
      compose(['ps']),
      compose(['ps', '-q']),
      compose(['ps', '--format', 'json', 'web']),
      withFile(['ps', 'nope']),
    ]);
    assert.equal(ps.code, 0, ps.stderr);
    const [header, ...rows] = ps.stdout.trimEnd().split('\n');
    assert.match(header!, /^NAME +IMAGE +COMMAND +SERVICE +CREATED +STATUS +PORTS$/);
    assert.deepEqual(
      rows.map((r) => r.split(/ {2,}/)[0]),
      [`${p}-db-1`, `${p}-web-1`, `${p}-web-2`],
    );
    assert.match(rows[1]!, new RegExp(`^${p}-web-1 +busybox +"sh -c echo hello fr…" +web +.* ago +Up .* +127\\.0\\.0\\.1:\\d+->80/tcp$`));

    assert.deepEqual(q.stdout.trim().split('\n').sort(), [ids.db1, ids.web1, ids.web2].sort());

    const json = jsonOut.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(json.map((j) => [j.Name, j.Service, j.State, j.Project]), [
      [`${p}-web-1`, 'web', 'running', p],
      [`${p}-web-2`, 'web', 'running', p],
    ]);
    assert.equal(json[0].Publishers[0].TargetPort, 80);
    assert.equal(json[0].ID, ids.web1!.slice(0, 12));

    assert.deepEqual([unknown.code, unknown.stderr], [1, 'no such service: nope\n']);
  });

  test('ls: the project with its combined status and files; json with a name filter', async () => {
    const [ls, jsonOut] = await Promise.all([
      d.berth(['compose', 'ls']),
      d.berth(['compose', 'ls', '--format', 'json', '--filter', `name=${p}`]),
    ]);
    assert.equal(ls.code, 0, ls.stderr);
    assert.match(ls.stdout, /^NAME +STATUS +CONFIG FILES\n/);
    assert.match(ls.stdout, new RegExp(`\\n${p} +running\\(3\\) +${file.replace(/[.]/g, '\\.')}\\n`));
    const json = JSON.parse(jsonOut.stdout);
    assert.deepEqual(json, [{ Name: p, Status: 'running(3)', ConfigFiles: file }]);
  });

  test('logs: prefixes padded to the longest name, tty and multiplexed, -t, --tail, --index; no containers', async () => {
    const [logs, stamped, none] = await Promise.all([
      compose(['logs']),
      compose(['logs', '-t', '--tail', '1', '--index', '1', 'web']),
      d.berth(['compose', '-p', `${p}-empty`, 'logs']),
    ]);
    assert.equal(logs.code, 0, logs.stderr);
    // A TTY's lines end in \r\n (docker compose splits at \n and keeps the \r), when the
    // daemon's TTY had ONLCR set by the time the line was written.
    const lines = logs.stdout.trimEnd().split('\n').map((l) => l.replace(/\r$/, '')).sort();
    assert.deepEqual(lines, ['db-1   | db ready', 'web-1  | hello from web-1', 'web-1  | warn from web-1', 'web-2  | hello from web-2']);
    assert.match(stamped.stdout, /^web-1  \| \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z warn from web-1\n$/);
    assert.deepEqual([none.code, none.stdout], [0, '']);
  });

  test('exec: output, exit status of the command, --index, -e, -w; a service with no container', async () => {
    const [env, three, second, none] = await Promise.all([
      compose(['exec', '-T', '-e', 'FOO=bar', '-w', '/tmp', 'web', 'sh', '-c', 'echo $FOO $(pwd)']),
      compose(['exec', '-T', 'web', 'sh', '-c', 'exit 3']),
      compose(['exec', '-T', '--index', '2', 'web', 'hostname']),
      compose(['exec', '-T', 'nope', 'true']),
    ]);
    assert.deepEqual([env.code, env.stdout, env.stderr], [0, 'bar /tmp\n', '']);
    assert.deepEqual([three.code, three.stderr], [3, '']);
    assert.equal(second.stdout.trim(), ids.web2!.slice(0, 12));
    assert.deepEqual([none.code, none.stderr], [1, 'service "nope" is not running\n']);
  });

  test('run: one-off container named and labelled as docker compose does; --rm, -e, exit status, -d', async () => {
    // Attached: stdin goes in, the command's output and exit status come back.
    const four = await withFile(['run', '--rm', '-e', 'FOO=bar', 'job', 'sh', '-c', 'read a; echo $FOO $a; exit 4'], 'piped\n');
    assert.deepEqual([four.code, four.stdout], [4, 'bar piped\n'], four.stderr);
    const detached = await withFile(['run', '-d', 'web']);
    assert.equal(detached.code, 0, detached.stderr);
    assert.match(detached.stdout, /^[0-9a-f]{64}\n$/);
    const info = (await d.request('GET', `/containers/${detached.stdout.trim()}/json`)).json<any>();
    assert.match(info.Name, new RegExp(`^/${p}-web-run-[0-9a-f]{12}$`));
    assert.equal(info.Config.Labels['com.docker.compose.oneoff'], 'True');
    assert.equal(info.Config.Labels['com.docker.compose.slug'].slice(0, 12), info.Name.slice(-12));
    assert.equal(info.Config.Labels['com.docker.compose.container-number'], undefined);
    // One-off containers are not the service's: ps leaves them out unless -a.
    assert.equal((await compose(['ps', '-q', 'web'])).stdout.trim().split('\n').length, 2);
    assert.equal((await d.request('DELETE', `/containers/${info.Id}?force=1`)).status, 204);
    const gone = (await d.request('GET', '/containers/json?all=1')).json<any[]>().filter((c) => c.Names[0].includes('-job-run-'));
    assert.deepEqual(gone, [], 'run --rm left no container');
    // The engine starts what the service depends on first.
    const withDep = await withFile(['run', '--rm', 'needs', 'true']);
    assert.equal(withDep.code, 0, withDep.stderr);
    const dep = (await d.request('GET', `/containers/${p}-dep-1/json`)).json<any>();
    assert.deepEqual([dep.State.Running, dep.Config.Labels['com.docker.compose.oneoff']], [true, 'False']);

    const unknown = await withFile(['run', 'nope']);
    assert.deepEqual([unknown.code, unknown.stderr], [1, 'no such service: nope\n']);
  });

  test('top, port, images', async () => {
    const top = await compose(['top', 'db']);
    assert.equal(top.code, 0, top.stderr);
    const [header, ...rows] = top.stdout.trimEnd().split('\n');
    assert.match(header!, /^SERVICE +# +UID +PID +PPID +.*CMD$/);
    assert.ok(rows.every((r) => /^db +1 +/.test(r)) && rows.length >= 1, top.stdout);

    const port = await compose(['port', 'web', '80']);
    assert.match(port.stdout, /^127\.0\.0\.1:\d+\n$/);
    const missing = await compose(['port', 'web', '81']);
    assert.deepEqual([missing.code, missing.stderr], [1, `no port 81/tcp for container ${p}-web-1: 80/tcp\n`]);

    const images = await compose(['images', 'db']);
    assert.match(images.stdout, /^CONTAINER +REPOSITORY +TAG +PLATFORM +IMAGE ID +SIZE +CREATED\n/);
    assert.match(images.stdout, new RegExp(`\\n${p}-db-1 +busybox +latest +linux/\\w+ +[0-9a-f]{12} +[\\d.]+[kM]B +`));
  });

  test('events --json and pause/unpause; cp both ways', async () => {
    const events$ = spawnBerth(d.host, ['compose', '-p', p, 'events', '--json']);
    // Subscribed once berth has had time to start and connect.
    await new Promise((r) => setTimeout(r, 1000));
    const pause = await compose(['pause', 'db']);
    assert.equal(pause.code, 0, pause.stderr);
    assert.equal((await compose(['unpause', 'db'])).code, 0);
    await waitFor(() => events$.out.includes('"unpause"'), 'the unpause event');
    events$.child.kill();
    const events = events$.out.trim().split('\n').map((l) => JSON.parse(l));
    const pauseEvent = events.find((e) => e.action === 'pause');
    assert.deepEqual([pauseEvent.id, pauseEvent.service, pauseEvent.type], [ids.db1, 'db', 'container']);
    assert.equal(pauseEvent.attributes.name, `${p}-db-1`);
    assert.equal(pauseEvent.attributes['com.docker.compose.project'], undefined);

    const local = path.join(dir, 'note.txt');
    writeFileSync(local, 'noted\n');
    const to = await compose(['cp', local, 'web:/tmp/note.txt']);
    assert.equal(to.code, 0, to.stderr);
    assert.equal((await compose(['exec', '-T', '--index', '2', 'web', 'cat', '/tmp/note.txt'])).stdout, 'noted\n', 'copied to every replica');
    const back = path.join(dir, 'back.txt');
    const from = await compose(['cp', 'web:/tmp/note.txt', back]);
    assert.equal(from.code, 0, from.stderr);
    assert.equal(readFileSync(back, 'utf8'), 'noted\n');
  });

  test('logs -f follows until the containers exit; a client hanging up leaves the daemon serving', async () => {
    const follow = spawnBerth(d.host, ['compose', '-p', p, 'logs', '-f', 'web']);
    await waitFor(() => follow.out.includes('hello from web-2'), 'the first lines');
    const kill = await compose(['kill', 'web']);
    assert.equal(kill.code, 0, kill.stderr);
    const code = await follow.exited;
    assert.equal(code, 0, follow.err);
    assert.match(follow.out, /web-1 exited with code 137\n/);
    assert.match(follow.out, /web-2 exited with code 137\n/);

    const hangUp = spawnBerth(d.host, ['compose', '-p', p, 'logs', '-f', 'db']);
    await waitFor(() => hangUp.out.includes('db ready'), 'db logs');
    hangUp.child.kill('SIGKILL');
    await hangUp.exited;
    assert.equal((await d.request('GET', '/_ping')).status, 200);
    assert.match((await compose(['ps', 'db'])).stdout, /Up/);
  });

  test('wait, rm with nothing stopped, kill with nothing running, rm asks unless -f', async () => {
    // Long enough for `compose wait` to find it running on a loaded machine.
    const jobId = await make('job', 1, 'sleep 6; exit 5');
    const waiting = compose(['wait', 'job']);
    const [nothing, noKill] = await Promise.all([compose(['rm', '-f', 'job']), compose(['kill', 'nope'])]);
    assert.deepEqual([nothing.code, nothing.stderr], [0, 'No stopped containers\n']);
    assert.deepEqual([noKill.code, noKill.stderr], [0, 'no container to kill\n']);
    const wait = await waiting;
    assert.deepEqual([wait.code, wait.stdout], [5, `container "${jobId}" exited with status code 5\n`]);

    const declined = await compose(['rm', 'job'], 'n\n');
    assert.equal(declined.code, 0);
    assert.equal(declined.stdout, `Going to remove ${p}-job-1`);
    assert.equal((await d.request('GET', `/containers/${jobId}/json`)).status, 200, 'declined: kept');
    const forced = await compose(['rm', '-f', 'job']);
    assert.deepEqual([forced.code, forced.stdout], [0, `Going to remove ${p}-job-1\n`]);
    assert.equal((await d.request('GET', `/containers/${jobId}/json`)).status, 404);
  });
});

function spawnBerth(host: string, args: string[]): { child: ChildProcess; out: string; err: string; exited: Promise<number | null> } {
  const child = spawn(BERTH, args, { env: { ...process.env, BERTH_HOST: host } });
  const r = { child, out: '', err: '', exited: new Promise<number | null>((res) => child.on('exit', (code) => res(code))) };
  child.stdout!.on('data', (b: Buffer) => (r.out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (r.err += b.toString()));
  return r;
}

async function waitFor(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
