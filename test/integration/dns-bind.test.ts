import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { NATIVE_HELPER, bindInNetns } from '../../src/networks/dns.js';
import { enableSpawner } from '../../src/lib/spawner.js';

/**
 * The embedded DNS's helper (native/netns-dns-bind): it binds 127.0.0.11:53 inside a namespace and hands
 * the sockets over Node's IPC channel. A namespace of the test's own, removed in `after`.
 */
const ns = `bdnstest-${randomBytes(3).toString('hex')}`;

before(() => {
  assert.equal(spawnSync('ip', ['netns', 'add', ns]).status, 0);
  assert.equal(spawnSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']).status, 0);
});
after(() => {
  spawnSync('ip', ['netns', 'del', ns]);
});

test('make build compiles the C helper (Node would cost ~50 ms of CPU per container)', () => {
  assert.ok(existsSync(NATIVE_HELPER), `${NATIVE_HELPER} is missing: make build compiles native/netns-dns-bind.c`);
});

test('the sockets it hands over are bound to 127.0.0.11:53 in the namespace and answer there', async () => {
  const { udp, tcp } = await bindInNetns(ns);
  try {
    assert.deepEqual([udp.address().address, udp.address().port], ['127.0.0.11', 53]);
    assert.deepEqual([(tcp.address() as AddressInfo).address, (tcp.address() as AddressInfo).port], ['127.0.0.11', 53]);
    // A datagram sent from inside the namespace arrives on the socket the daemon now holds.
    const got = new Promise<string>((resolve) => udp.once('message', (m) => resolve(m.toString())));
    const sent = spawnSync('ip', ['netns', 'exec', ns, 'bash', '-c', 'printf hello > /dev/udp/127.0.0.11/53']);
    assert.equal(sent.status, 0, sent.stderr?.toString());
    assert.equal(await got, 'hello');
    // Bound once: a second helper in the same namespace reports the address in use.
    await assert.rejects(bindInNetns(ns), /embedded DNS: bind udp 127\.0\.0\.11:53: Address already in use/);
  } finally {
    udp.close();
    tcp.close();
  }
});

test('through the spawner process (as the daemon runs it), the sockets are passed on twice and still answer', async () => {
  enableSpawner();
  try {
    const { udp, tcp } = await bindInNetns(ns);
    try {
      assert.deepEqual([udp.address().address, udp.address().port], ['127.0.0.11', 53]);
      const got = new Promise<string>((resolve) => udp.once('message', (m) => resolve(m.toString())));
      const sent = spawnSync('ip', ['netns', 'exec', ns, 'bash', '-c', 'printf again > /dev/udp/127.0.0.11/53']);
      assert.equal(sent.status, 0, sent.stderr?.toString());
      assert.equal(await got, 'again');
      // The spawner let go of its copies: a TCP connection reaches the daemon's server.
      const accepted = new Promise<void>((resolve) => tcp.once('connection', (c) => (c.destroy(), resolve())));
      spawnSync('ip', ['netns', 'exec', ns, 'bash', '-c', 'exec 3<>/dev/tcp/127.0.0.11/53']);
      await accepted;
      await assert.rejects(bindInNetns(ns), /embedded DNS: bind udp 127\.0\.0\.11:53: Address already in use/);
    } finally {
      udp.close();
      tcp.close();
    }
    await assert.rejects(bindInNetns(`/run/netns/${ns}-missing`, 5_000), /embedded DNS: open netns: No such file or directory/);
  } finally {
    enableSpawner(false);
  }
});

test('a namespace that does not exist is a clear error, not a hang', async () => {
  await assert.rejects(bindInNetns(`/run/netns/${ns}-missing`, 5_000), /embedded DNS: open netns: No such file or directory/);
});
