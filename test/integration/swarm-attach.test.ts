// Tasks' way out and plain containers on attachable overlays, on a 2-node devcluster (a manager, a worker),
// through the docker CLI: a task reaches the host side of the cluster bridge and the other node through the
// node's default bridge (Docker's docker_gwbridge), a host-mode published port answers on the node's address,
// and `docker run --network <attachable overlay>` on the worker gets its address from the managers, reaches a
// service task on the manager by address and by name, and gives the address back on `rm -f`.
import { test, after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { down, readCluster, up, type DevCluster, type DevNode } from '../../src/swarm/devcluster/devcluster.js';
import { formSwarm, seedImages } from '../../src/swarm/devcluster/swarm-setup.js';
import { dk, dkCode, eventually, httpGet, WEB } from './swarm-helpers.js';

const HOST_PORT = 8081;

describe('swarm: task egress, host-mode ports, attachable overlays', { timeout: 300_000 }, () => {
  const root = path.join(mkdtempSync(path.join(os.tmpdir(), 'berth-attach-')), 'c');
  let cluster: DevCluster;
  let m1: DevNode, w1: DevNode;
  let managerHost = '';
  let webTask = '';
  let webAddr = '';

  before(async () => {
    cluster = await up(root, 2);
    [m1, w1] = cluster.nodes as [DevNode, DevNode];
    await seedImages(cluster);
    await formSwarm(cluster, { managers: 1 });
    managerHost = (await dk(m1, ['info', '--format', '{{.Name}}'])).trim();
  });

  after(async () => {
    if (await readCluster(root)) await down(root);
    rmSync(path.dirname(root), { recursive: true, force: true });
  });

  test('a task on an overlay reaches the host and the other node, and its host-mode port answers on the node', async () => {
    await dk(m1, ['network', 'create', '-d', 'overlay', '--attachable', 'appnet']);
    await dk(m1, ['service', 'create', '--detach', '--name', 'web', '--network', 'appnet', '--constraint', `node.hostname==${managerHost}`,
      '--publish', `mode=host,published=${HOST_PORT},target=80`, 'busybox', ...WEB]);
    webTask = await eventually('the web task runs on the manager', async () => (await dk(m1, ['ps', '-q', '--filter', 'label=com.docker.swarm.service.name=web'])).trim() || undefined, 60_000);
    const nets = JSON.parse(await dk(m1, ['inspect', webTask, '--format', '{{json .NetworkSettings.Networks}}'])) as Record<string, { IPAddress: string }>;
    assert.deepEqual(Object.keys(nets).sort(), ['appnet', 'bridge']);
    webAddr = nets.appnet!.IPAddress;
    const hostSide = cluster.subnet.replace(/\.0\/\d+$/, '.1');
    await dk(m1, ['exec', webTask, 'ping', '-c', '1', '-W', '3', hostSide]);
    await dk(m1, ['exec', webTask, 'ping', '-c', '1', '-W', '3', w1.address]);
    const hostname = (await dk(m1, ['exec', webTask, 'hostname'])).trim();
    assert.equal(await eventually('the host-mode port answers', () => httpGet(m1.address, HOST_PORT)), hostname);
    // Docker shows the port as the task's published port.
    assert.match(await dk(m1, ['service', 'ps', 'web', '--format', '{{.Ports}}']), new RegExp(`\\*:${HOST_PORT}->80/tcp`));
  });

  test('a task on internal overlays only stays off the bridge', async () => {
    await dk(m1, ['network', 'create', '-d', 'overlay', '--internal', 'closed']);
    await dk(m1, ['service', 'create', '--detach', '--name', 'shut', '--network', 'closed', '--constraint', `node.hostname==${managerHost}`, 'busybox', 'sleep', '100000']);
    const id = await eventually('the shut task runs', async () => (await dk(m1, ['ps', '-q', '--filter', 'label=com.docker.swarm.service.name=shut'])).trim() || undefined, 60_000);
    const nets = JSON.parse(await dk(m1, ['inspect', id, '--format', '{{json .NetworkSettings.Networks}}'])) as Record<string, unknown>;
    assert.deepEqual(Object.keys(nets), ['closed']);
    await dk(m1, ['service', 'rm', 'shut']);
  });

  test('a plain container on the worker joins the attachable overlay with an address from the managers', async () => {
    await dk(w1, ['run', '-d', '--name', 'plain', '--network', 'appnet', 'busybox', 'sleep', '100000']);
    const addr = (await dk(w1, ['inspect', 'plain', '--format', '{{.NetworkSettings.Networks.appnet.IPAddress}}'])).trim();
    assert.match(addr, /^10\.214\.\d+\.\d+$/);
    assert.notEqual(addr, webAddr);
    await eventually('the task answers ping by address', async () => (await dkCode(w1, ['exec', 'plain', 'ping', '-c', '1', '-W', '2', webAddr])).code === 0);
    await dk(w1, ['exec', 'plain', 'ping', '-c', '1', '-W', '3', 'tasks.web']);
    const body = await eventually('the service answers by name', async () =>
      (await dk(w1, ['exec', 'plain', 'sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 web 80 | tail -n 1`])).trim() || undefined);
    assert.equal(body, (await dk(m1, ['exec', webTask, 'hostname'])).trim());
    // The task reaches the plain container too (its node learns where the address is).
    await dk(m1, ['exec', webTask, 'ping', '-c', '1', '-W', '3', addr]);
    // And it has a way out, as a task (a hidden interface on the default bridge).
    await dk(w1, ['exec', 'plain', 'ping', '-c', '1', '-W', '3', cluster.subnet.replace(/\.0\/\d+$/, '.1')]);
    assert.deepEqual(Object.keys(JSON.parse(await dk(w1, ['inspect', 'plain', '--format', '{{json .NetworkSettings.Networks}}'])) as object), ['appnet']);
    assert.equal((await dk(w1, ['inspect', 'plain', '--format', '{{.NetworkSettings.IPAddress}}'])).trim(), '');

    // A second one holds another address; after rm -f the first address is given out again.
    await dk(w1, ['run', '-d', '--name', 'plain2', '--network', 'appnet', 'busybox', 'sleep', '100000']);
    const addr2 = (await dk(w1, ['inspect', 'plain2', '--format', '{{.NetworkSettings.Networks.appnet.IPAddress}}'])).trim();
    assert.notEqual(addr2, addr);
    await dk(w1, ['rm', '-f', 'plain', 'plain2']);
    await dk(w1, ['run', '-d', '--name', 'plain3', '--network', 'appnet', 'busybox', 'sleep', '100000']);
    assert.equal((await dk(w1, ['inspect', 'plain3', '--format', '{{.NetworkSettings.Networks.appnet.IPAddress}}'])).trim(), addr);
    await dk(w1, ['rm', '-f', 'plain3']);

    // network connect asks too, and disconnect gives the address back.
    await dk(w1, ['run', '-d', '--name', 'joiner', 'busybox', 'sleep', '100000']);
    await dk(w1, ['network', 'connect', 'appnet', 'joiner']);
    assert.equal((await dk(w1, ['inspect', 'joiner', '--format', '{{.NetworkSettings.Networks.appnet.IPAddress}}'])).trim(), addr);
    await dk(w1, ['exec', 'joiner', 'ping', '-c', '1', '-W', '3', webAddr]);
    await dk(w1, ['network', 'disconnect', 'appnet', 'joiner']);
    await dk(w1, ['run', '-d', '--name', 'plain4', '--network', 'appnet', 'busybox', 'sleep', '100000']);
    assert.equal((await dk(w1, ['inspect', 'plain4', '--format', '{{.NetworkSettings.Networks.appnet.IPAddress}}'])).trim(), addr);
    await dk(w1, ['rm', '-f', 'plain4', 'joiner']);
  });

  test('on the manager too; a non-attachable overlay is refused as dockerd does', async () => {
    await dk(m1, ['run', '-d', '--name', 'onmgr', '--network', 'appnet', 'busybox', 'sleep', '100000']);
    await dk(m1, ['exec', 'onmgr', 'ping', '-c', '1', '-W', '3', webAddr]);
    await dk(m1, ['rm', '-f', 'onmgr']);
    await dk(m1, ['network', 'create', '-d', 'overlay', 'private']);
    await eventually('the worker knows the network', async () => (await dk(w1, ['network', 'ls', '--format', '{{.Name}}'])).includes('private'));
    const r = await dkCode(w1, ['run', '-d', '--name', 'refused', '--network', 'private', 'busybox', 'true']);
    assert.notEqual(r.code, 0);
    assert.match(r.out, /not manually attachable/);
    await dkCode(w1, ['rm', '-f', 'refused']);
    await dk(m1, ['service', 'rm', 'web']);
  });
});
