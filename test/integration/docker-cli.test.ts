import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { TestDaemon, hasDocker } from './harness.js';

/** The official docker CLI against berthd: what a Docker user would type first. */
describe('official docker CLI against berthd', { skip: !hasDocker && 'no docker CLI on this machine' }, () => {
  const d = new TestDaemon();
  let busyboxId = '';
  before(async () => {
    await d.start();
    busyboxId = await d.seedBusybox();
  });
  after(() => d.stop());

  test('docker version shows the server', async () => {
    const r = await d.docker(['version', '--format', '{{.Server.APIVersion}} {{.Server.Os}}']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), '1.50 linux');
  });

  test('docker info runs', async () => {
    const r = await d.docker(['info', '--format', '{{.Driver}} {{.DockerRootDir}}']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), `overlay2 ${d.dataRoot}`);
  });

  test('docker image ls lists busybox', async () => {
    const r = await d.docker(['image', 'ls']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[0]!, /^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$/);
    assert.match(r.stdout, new RegExp(`busybox\\s+latest\\s+${busyboxId.slice(7, 19)}`));
  });

  test('docker image inspect busybox', async () => {
    const r = await d.docker(['image', 'inspect', 'busybox']);
    assert.equal(r.code, 0, r.stderr);
    const [img] = JSON.parse(r.stdout);
    assert.equal(img.Id, busyboxId);
    assert.deepEqual(img.Config.Cmd, ['sh']);
    const f = await d.docker(['inspect', '-f', '{{.Architecture}} {{.Os}}', 'busybox']);
    assert.equal(f.stdout.trim(), 'amd64 linux');
  });

  test('docker save busybox | docker load round-trips', async () => {
    const saved = await d.docker(['save', 'busybox']);
    assert.equal(saved.code, 0, saved.stderr);
    assert.ok(saved.stdoutBytes.length > 1_000_000);
    assert.equal((await d.docker(['rmi', 'busybox'])).code, 0);
    const loaded = await d.docker(['load'], saved.stdoutBytes);
    assert.equal(loaded.code, 0, loaded.stderr);
    assert.match(loaded.stdout, /Loaded image: busybox:latest/);
    const again = await d.docker(['image', 'inspect', '-f', '{{.Id}}', 'busybox']);
    assert.equal(again.stdout.trim(), busyboxId);
  });

  test('docker tag, history and rmi', async () => {
    assert.equal((await d.docker(['tag', 'busybox', 'localhost:5000/team/app:1.0'])).code, 0);
    const h = await d.docker(['history', 'localhost:5000/team/app:1.0']);
    assert.equal(h.code, 0, h.stderr);
    assert.match(h.stdout, /^IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT/);
    const rm = await d.docker(['rmi', 'localhost:5000/team/app:1.0']);
    assert.equal(rm.code, 0, rm.stderr);
    assert.equal(rm.stdout.trim(), 'Untagged: localhost:5000/team/app:1.0');
    const missing = await d.docker(['rmi', 'nope']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /Error response from daemon: No such image: nope:latest/);
  });

  test('docker import with changes, and system df', async () => {
    const tar = (await d.docker(['save', 'busybox'])).stdoutBytes; // any tar will do as a rootfs
    const r = await d.docker(['import', '-c', 'ENV X=1', '-', 'imported:1'], tar);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout.trim(), /^sha256:[a-f0-9]{64}$/);
    const env = await d.docker(['image', 'inspect', '-f', '{{json .Config.Env}}', 'imported:1']);
    assert.equal(env.stdout.trim(), '["X=1"]');
    const df = await d.docker(['system', 'df']);
    assert.equal(df.code, 0, df.stderr);
    assert.match(df.stdout, /^TYPE\s+TOTAL\s+ACTIVE\s+SIZE\s+RECLAIMABLE/);
    assert.match(df.stdout, /Images\s+2\s+0/);
  });

  test('docker events replays image events', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    await d.docker(['tag', 'busybox', 'evented']);
    const r = await d.docker(['events', '--since', String(since), '--until', String(Math.ceil(Date.now() / 1000) + 1), '--filter', 'event=tag', '--format', '{{.Type}} {{.Action}} {{.Actor.Attributes.name}}']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /image tag evented:latest/);
  });
});
