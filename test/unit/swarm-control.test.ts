import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { createKeyAndCsr, createRootCA, crossSignRoot, issueNodeCert, makeJoinToken, type RootCA } from '../../src/swarm/ca/index.js';
import { ControlClient, ControlServer, requestJoin, requestJoinPinned, type ControlTls, type Peer } from '../../src/swarm/control/index.js';
import { BerthError, notFound } from '../../src/lib/errors.js';

let ca: RootCA;
let otherCa: RootCA;
let manager: ControlTls;
let worker: ControlTls;
let foreignCluster: ControlTls; // same CA, another cluster ID
let foreignCa: ControlTls; // another CA
let server: ControlServer;
let addr: string;
const seen: Array<Peer | undefined> = [];
let joins = 0;
let streamAborted: Promise<void>;
let signalStreamAborted: () => void;

async function node(root: RootCA, nodeId: string, role: 'manager' | 'worker', clusterId = 'cluster1'): Promise<ControlTls> {
  const { key, csr } = await createKeyAndCsr(nodeId);
  const cert = await issueNodeCert(root, csr, { nodeId, role, clusterId, ips: ['127.0.0.1'] });
  return { ca: root.cert, cert, key };
}

/** A port nothing listens on (bound once, then freed). */
async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const isBerth = (kind: string, message?: RegExp) => (e: unknown) => {
  assert.ok(e instanceof BerthError, `not a BerthError: ${String(e)}`);
  assert.equal(e.kind, kind, e.message);
  if (message) assert.match(e.message, message);
  return true;
};

before(async () => {
  [ca, otherCa] = await Promise.all([createRootCA(), createRootCA()]);
  [manager, worker, foreignCluster, foreignCa] = await Promise.all([
    node(ca, 'manager1', 'manager'), node(ca, 'worker1', 'worker'), node(ca, 'stranger', 'manager', 'cluster2'), node(otherCa, 'impostor', 'manager'),
  ]);
  server = new ControlServer({ host: '127.0.0.1', port: 0, tls: manager });
  server.handle('GET', '/whoami', async (req) => {
    seen.push(req.peer);
    return { peer: req.peer ?? null };
  });
  server.handle('POST', '/echo/{name}', async (req) => ({ name: req.params.name, q: req.query.get('q'), body: req.body }));
  server.handle('POST', '/managers-only', async () => ({ ok: true }), { roles: ['manager'] });
  server.handle('DELETE', '/things/{id}', async (req) => {
    throw notFound(`no such thing: ${req.params.id}`);
  });
  server.handle('GET', '/crash', async () => {
    throw new Error('boom');
  });
  server.handle('GET', '/nothing', async () => undefined);
  server.handle('POST', '/join', async (req) => {
    joins++;
    return { peer: req.peer ?? null, token: (req.body as { token?: string }).token };
  }, { public: true });
  streamAborted = new Promise((r) => (signalStreamAborted = r));
  server.stream('/watch', async (req, send, signal) => {
    for (let i = 0; i < 3; i++) send({ i, node: req.peer?.nodeId });
    await new Promise<void>((r) => signal.addEventListener('abort', () => r()));
    signalStreamAborted();
  });
  server.stream('/short', async (_req, send) => {
    send('a');
    send('b');
  });
  server.stream('/fails', async (_req, send) => {
    send('first');
    throw new BerthError('Conflict', 'went wrong midway');
  });
  server.raw('/logs/{id}', async (req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
    res.end(Buffer.from(`bytes of ${req.params.id}\x00\x01`));
  });
  await server.listen();
  assert.ok(server.port > 0);
  addr = `127.0.0.1:${server.port}`;
});

after(async () => {
  await server?.close();
});

test('mutual TLS: the peer identity comes from the client certificate', async () => {
  const c = new ControlClient({ addrs: [addr], tls: worker });
  try {
    assert.deepEqual(await c.call('GET', '/whoami'), { peer: { nodeId: 'worker1', role: 'worker', clusterId: 'cluster1' } });
    assert.deepEqual(await c.call('POST', '/echo/a%20b?q=1', { x: [1, 2] }), { name: 'a b', q: '1', body: { x: [1, 2] } });
    assert.equal(await c.call('GET', '/nothing'), undefined);
  } finally {
    c.close();
  }
});

test('role checks: 403 for a worker on a manager-only route; errors carry kind and message', async () => {
  const w = new ControlClient({ addrs: [addr], tls: worker });
  const m = new ControlClient({ addrs: [addr], tls: manager });
  try {
    await assert.rejects(w.call('POST', '/managers-only'), isBerth('Forbidden', /^Permission denied: unauthorized peer role: rpc access denied for role swarm-worker$/));
    assert.deepEqual(await m.call('POST', '/managers-only'), { ok: true });
    await assert.rejects(m.call('DELETE', '/things/x1'), isBerth('NotFound', /^no such thing: x1$/));
    await assert.rejects(m.call('GET', '/crash'), isBerth('Internal', /^boom$/));
    await assert.rejects(m.call('GET', '/no/such/route'), isBerth('NotFound', /page not found/));
    await assert.rejects(m.call('GET', '/managers-only'), isBerth('InvalidArgument', /method GET not allowed/));
  } finally {
    w.close();
    m.close();
  }
});

function rawRequest(o: { path: string; method?: string; body?: string; tls?: ControlTls }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1', port: server.port, path: o.path, method: o.method ?? 'GET', rejectUnauthorized: false,
      ...(o.tls ? { cert: o.tls.cert, key: o.tls.key } : {}),
    }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(o.body);
  });
}

test('callers without a valid certificate: only public routes; other swarms are strangers', async () => {
  const anon = await rawRequest({ path: '/whoami' });
  assert.equal(anon.status, 401);
  assert.equal(JSON.parse(anon.body).kind, 'Unauthorized');
  const pub = await rawRequest({ path: '/join', method: 'POST', body: '{"token":"t"}' });
  assert.equal(pub.status, 200);
  assert.deepEqual(JSON.parse(pub.body), { peer: null, token: 't' });
  // A certificate of another CA, and one of the same CA for another cluster, do not authenticate.
  assert.equal((await rawRequest({ path: '/whoami', tls: foreignCa })).status, 401);
  assert.equal((await rawRequest({ path: '/whoami', tls: foreignCluster })).status, 401);
});

test('bad input never takes the server down', async () => {
  const bad = await rawRequest({ path: '/echo/x', method: 'POST', body: '{"oops', tls: manager });
  assert.equal(bad.status, 400);
  assert.deepEqual(Object.keys(JSON.parse(bad.body)).sort(), ['kind', 'message']);
  assert.match(JSON.parse(bad.body).message, /^invalid JSON in request body: /);
  // Not TLS at all.
  await new Promise<void>((resolve) => {
    const s = net.connect(server.port, '127.0.0.1', () => s.end('GET / HTTP/1.1\r\n\r\n\x00\xff garbage'));
    s.on('error', () => resolve());
    s.on('close', () => resolve());
  });
  // TLS, then garbage instead of HTTP.
  await new Promise<void>((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port: server.port, rejectUnauthorized: false, cert: manager.cert, key: manager.key }, () => s.write('\x16\x03garbage\r\n\r\n'));
    s.on('error', () => resolve());
    s.on('close', () => resolve());
  });
  // A client that promises 1000 bytes, sends 10 and hangs up.
  await new Promise<void>((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port: server.port, rejectUnauthorized: false, cert: manager.cert, key: manager.key }, () => {
      s.write('POST /echo/x HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"a":12345');
      setTimeout(() => s.destroy(), 50);
    });
    s.on('error', () => resolve());
    s.on('close', () => resolve());
  });
  const c = new ControlClient({ addrs: [addr], tls: manager });
  try {
    assert.equal(((await c.call('GET', '/whoami')) as { peer: Peer }).peer.nodeId, 'manager1');
  } finally {
    c.close();
  }
});

test('JSON-lines streams: messages, the end, errors midway, and an abort when the caller goes', async () => {
  const c = new ControlClient({ addrs: [addr], tls: worker });
  try {
    const got: unknown[] = [];
    await new Promise<void>((resolve, reject) => {
      c.stream('/short', (m) => got.push(m), (err) => (err ? reject(err) : resolve()));
    });
    assert.deepEqual(got, ['a', 'b']);

    const failed: unknown[] = [];
    const err = await new Promise<Error | undefined>((resolve) => c.stream('/fails', (m) => failed.push(m), resolve));
    assert.deepEqual(failed, ['first']);
    assert.ok(err instanceof BerthError && err.kind === 'Conflict' && err.message === 'went wrong midway');

    const watched: unknown[] = [];
    let ended = false;
    let handle: { close(): void } | undefined;
    await new Promise<void>((resolve) => {
      handle = c.stream('/watch', (m) => {
        watched.push(m);
        if (watched.length === 3) resolve();
      }, () => (ended = true));
    });
    assert.deepEqual(watched, [{ i: 0, node: 'worker1' }, { i: 1, node: 'worker1' }, { i: 2, node: 'worker1' }]);
    handle!.close();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([streamAborted, new Promise((_, rej) => (timer = setTimeout(() => rej(new Error('server never saw the caller go')), 5000)))]);
    clearTimeout(timer);
    assert.equal(ended, false, 'no onEnd after close()');

    const denied = await new Promise<Error | undefined>((resolve) => new ControlClient({ addrs: [addr], tls: worker }).stream('/nope', () => undefined, resolve));
    assert.ok(denied instanceof BerthError && denied.kind === 'NotFound');
  } finally {
    c.close();
  }
});

test('raw byte streams', async () => {
  const c = new ControlClient({ addrs: [addr], tls: manager });
  try {
    const res = await c.raw('/logs/t1');
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    assert.deepEqual(Buffer.concat(chunks), Buffer.from('bytes of t1\x00\x01'));
    await assert.rejects(c.raw('/logs'), isBerth('NotFound'));
  } finally {
    c.close();
  }
});

test('failover: addresses that cannot connect are skipped; none left is Unavailable', async () => {
  const dead = `127.0.0.1:${await deadPort()}`;
  const c = new ControlClient({ addrs: [dead, addr], tls: manager, timeoutMs: 3000 });
  try {
    assert.equal(((await c.call('GET', '/whoami')) as { peer: Peer }).peer.nodeId, 'manager1');
    c.setAddrs([dead]);
    await assert.rejects(c.call('GET', '/whoami'), isBerth('Unavailable', /could not reach any swarm node: 127\.0\.0\.1:\d+: .*ECONNREFUSED/));
  } finally {
    c.close();
  }
});

test('servers are trusted by the CA chain and their role/cluster, not by host name', async () => {
  const impostor = new ControlServer({ host: '127.0.0.1', port: 0, tls: foreignCa });
  const stranger = new ControlServer({ host: '127.0.0.1', port: 0, tls: foreignCluster });
  for (const s of [impostor, stranger]) s.handle('GET', '/whoami', async () => ({ hijacked: true }));
  await impostor.listen();
  await stranger.listen();
  try {
    for (const s of [impostor, stranger]) {
      const c = new ControlClient({ addrs: [`127.0.0.1:${s.port}`], tls: worker });
      await assert.rejects(c.call('GET', '/whoami'), isBerth('Unavailable'));
      c.close();
    }
    // The wrong server first, the right one next: the call lands on the right one.
    const c = new ControlClient({ addrs: [`127.0.0.1:${impostor.port}`, addr], tls: worker });
    assert.equal(((await c.call('GET', '/whoami')) as { peer: Peer }).peer.nodeId, 'worker1');
    c.close();
    // A client that wants a manager refuses a worker's server.
    const workerServer = new ControlServer({ host: '127.0.0.1', port: 0, tls: worker });
    workerServer.handle('GET', '/whoami', async () => ({}));
    await workerServer.listen();
    const m = new ControlClient({ addrs: [`127.0.0.1:${workerServer.port}`], tls: manager, serverRole: 'manager' });
    await assert.rejects(m.call('GET', '/whoami'), isBerth('Unavailable', /not a manager/));
    m.close();
    await workerServer.close();
  } finally {
    await impostor.close();
    await stranger.close();
  }
});

test('requestJoin pins the CA by the token and sends nothing to a server of another CA', async () => {
  const token = makeJoinToken(ca.cert);
  const dead = `127.0.0.1:${await deadPort()}`;
  const { answer, ca: pinned } = await requestJoinPinned([dead, addr], token, { token: 'secret' });
  assert.deepEqual(answer, { peer: null, token: 'secret' });
  assert.equal(pinned.trim(), ca.cert.trim());
  assert.deepEqual(await requestJoin([addr], token, { token: 'x' }), { peer: null, token: 'x' });

  const before = joins;
  const wrong = makeJoinToken(otherCa.cert);
  await assert.rejects(requestJoin([addr], wrong, { token: 'secret' }), isBerth('InvalidArgument', /^remote CA does not match fingerprint\. Expected: [0-9a-f]{64}$/));
  assert.equal(joins, before, 'the request was not sent');
  await assert.rejects(requestJoin([addr], 'SWMTKN-1-nope', {}), isBerth('InvalidArgument', /^invalid join token$/));
  await assert.rejects(requestJoin([dead], token, {}), isBerth('Unavailable', /could not reach any manager/));
  // A worker's server is not a manager: no join there.
  const ws = new ControlServer({ host: '127.0.0.1', port: 0, tls: worker });
  ws.handle('POST', '/join', async () => ({}), { public: true });
  await ws.listen();
  try {
    await assert.rejects(requestJoin([`127.0.0.1:${ws.port}`], token, {}), isBerth('InvalidArgument', /not a swarm manager/));
  } finally {
    await ws.close();
  }
});

test('setTls: a renewed certificate and a rotated root (cross-signed) are used for new connections', async () => {
  const newCa = await createRootCA();
  const cross = await crossSignRoot(ca, newCa);
  const renewed = await node(newCa, 'manager1', 'manager');
  // The manager now presents [cert by the new root, the new root cross-signed by the old one] and trusts both roots.
  server.setTls({ ca: ca.cert + newCa.cert, cert: renewed.cert + cross, key: renewed.key });
  try {
    // A worker still trusting only the old root accepts it, and is accepted.
    const w = new ControlClient({ addrs: [addr], tls: worker });
    assert.equal(((await w.call('GET', '/whoami')) as { peer: Peer }).peer.nodeId, 'worker1');
    w.close();
    // Joining with a token of the new root works too.
    assert.deepEqual(await requestJoin([addr], makeJoinToken(newCa.cert), { token: 'n' }), { peer: null, token: 'n' });
    // And with the old root's token (the old root is in the presented chain).
    assert.deepEqual(await requestJoin([addr], makeJoinToken(ca.cert), { token: 'o' }), { peer: null, token: 'o' });
  } finally {
    server.setTls(manager);
  }
});
