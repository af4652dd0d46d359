import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EtcdClient, EtcdError, prefixEnd } from '../../src/swarm/etcd/client.js';
import { EtcdMember, EtcdMemberError, etcdEnvironment } from '../../src/swarm/etcd/member.js';

const fromB64 = (s: string) => Buffer.from(s, 'base64');

test('prefixEnd is the key just past every key with the prefix', () => {
  assert.equal(fromB64(prefixEnd('/a/')).toString(), '/a0');
  assert.equal(fromB64(prefixEnd('abc')).toString(), 'abd');
  // UTF-8: the last byte of 'é' (c3 a9) is incremented.
  assert.deepEqual(fromB64(prefixEnd('é')), Buffer.from([0xc3, 0xaa]));
  assert.deepEqual(fromB64(prefixEnd('')), Buffer.from([0]));
});

test('a client with no endpoint reachable fails with Unavailable naming the endpoints', async () => {
  const c = new EtcdClient({ endpoints: ['http://127.0.0.1:1', 'http://127.0.0.1:2'], timeoutMs: 2_000 });
  try {
    await assert.rejects(c.get('/x'), (e: unknown) => e instanceof EtcdError && e.code === 14 && /127\.0\.0\.1:1, http:\/\/127\.0\.0\.1:2/.test(e.message));
  } finally {
    c.close();
  }
});

test('member names and the command line', () => {
  assert.throws(() => new EtcdMember({ name: 'a,b=c', root: '/tmp/x', address: '127.0.0.1', peerPort: 1, clientPort: 2, initialCluster: [], clusterState: 'new' }), EtcdMemberError);
  const m = new EtcdMember({
    name: 'n1', root: '/tmp/x', address: '10.0.0.2', peerPort: 2380, clientPort: 2379, clusterState: 'existing',
    initialCluster: [{ name: 'n0', peerUrl: 'https://10.0.0.1:2380' }, { name: 'n1', peerUrl: 'https://10.0.0.2:2380' }],
    peerTls: { certFile: '/c', keyFile: '/k', caFile: '/ca' },
  });
  assert.equal(m.peerUrl, 'https://10.0.0.2:2380');
  assert.equal(m.clientUrl, 'http://10.0.0.2:2379');
  const args = m.args();
  assert.equal(args[args.indexOf('--initial-cluster') + 1], 'n0=https://10.0.0.1:2380,n1=https://10.0.0.2:2380');
  assert.equal(args[args.indexOf('--initial-cluster-state') + 1], 'existing');
  assert.equal(args[args.indexOf('--data-dir') + 1], '/tmp/x/n1');
  assert.ok(args.includes('--peer-client-cert-auth'));
  assert.ok(!args.includes('--client-cert-auth'), 'no client TLS given');
});

test('start without the etcd program says so and leaves nothing running', async () => {
  const root = `/tmp/berth-etcd-unit-${process.pid}`;
  const m = new EtcdMember({ name: 'n', root, address: '127.0.0.1', peerPort: 1, clientPort: 2, initialCluster: [], clusterState: 'new', binary: '/nonexistent/etcd' });
  try {
    await assert.rejects(m.start(), /ENOENT.*install etcd-server/);
    assert.equal(m.pid, undefined);
  } finally {
    const { rmSync } = await import('node:fs');
    rmSync(root, { recursive: true, force: true });
  }
});

test('etcd runs without berthd proxy settings (its own traffic must not go through them)', async () => {
  const { mkdirSync, writeFileSync, readFileSync, rmSync } = await import('node:fs');
  const root = `/tmp/berth-etcd-unit-env-${process.pid}`;
  mkdirSync(root, { recursive: true });
  const fake = `${root}/fake-etcd`;
  writeFileSync(fake, '#!/bin/sh\nenv\nexit 1\n', { mode: 0o755 }); // prints what it was given, to the member log
  const saved = { ...process.env };
  Object.assign(process.env, { HTTP_PROXY: 'http://127.0.0.1:9', https_proxy: 'http://127.0.0.1:9', NO_PROXY: 'x', All_Proxy: 'y', BERTH_KEEP_ME: '1' });
  const m = new EtcdMember({ name: 'n', root, address: '127.0.0.1', peerPort: 1, clientPort: 2, initialCluster: [], clusterState: 'new', binary: fake });
  try {
    await assert.rejects(m.start(), /exited before becoming healthy/);
    const env = readFileSync(`${root}/n.log`, 'utf8');
    assert.match(env, /^BERTH_KEEP_ME=1$/m, 'the rest of the environment is kept');
    assert.doesNotMatch(env, /proxy=/i);
  } finally {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    rmSync(root, { recursive: true, force: true });
  }
  assert.deepEqual(etcdEnvironment({ PATH: '/bin', http_proxy: 'a', FTP_PROXY: 'b' }), { PATH: '/bin', FTP_PROXY: 'b' });
});
