/**
 * `berth swarm ...` and `berth node ...` run in-process against a stub daemon serving answers
 * shaped like dockerd's: the requests they make and what they print (docker CLI's golden texts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';

process.env.TZ = 'UTC';
const { resolve } = await import('../../src/cli/args.js');
const { ApiClient, parseHost } = await import('../../src/cli/client.js');
const { rootCommand } = await import('../../src/cli/commands/index.js');
const { CliError } = await import('../../src/cli/errors.js');
const { parseNodeAddr, parseExternalCA, rotationProgress } = await import('../../src/cli/commands/swarm.js');
type Cli = import('../../src/cli/streams.js').Cli;

const NOW = Date.UTC(2026, 11, 3, 16, 0, 0);
const TRUST_ROOT = '-----BEGIN CERTIFICATE-----\nMIIBajCCARCgAwIBAgIUROOT\n-----END CERTIFICATE-----\n';
const TLS = { TrustRoot: TRUST_ROOT, CertIssuerSubject: 'MBMxETAPBgNVBAMTCHN3YXJtLWNh', CertIssuerPublicKey: 'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE' };

function swarmFixture(over: Record<string, unknown> = {}) {
  return {
    ID: 'clusterid0000000000000000',
    Version: { Index: 10 },
    CreatedAt: '2026-12-03T15:00:00.123456789Z',
    UpdatedAt: '2026-12-03T15:00:00.123456789Z',
    Spec: {
      Name: 'default', Labels: {}, Orchestration: { TaskHistoryRetentionLimit: 5 },
      Raft: { SnapshotInterval: 10000, KeepOldSnapshots: 0, LogEntriesForSlowFollowers: 500, ElectionTick: 10, HeartbeatTick: 1 },
      Dispatcher: { HeartbeatPeriod: 5000000000 }, CAConfig: { NodeCertExpiry: 7776000000000000 }, TaskDefaults: {}, EncryptionConfig: { AutoLockManagers: false },
    },
    TLSInfo: TLS,
    RootRotationInProgress: false,
    DataPathPort: 4789,
    DefaultAddrPool: ['10.0.0.0/8'],
    SubnetSize: 24,
    JoinTokens: { Worker: 'worker-join-token', Manager: 'manager-join-token' },
    ...over,
  };
}

function nodeFixture(id: string, over: Record<string, any> = {}) {
  return {
    ID: id,
    Version: { Index: 20 },
    CreatedAt: '2009-11-10T23:00:00Z',
    UpdatedAt: '2009-11-10T23:00:00Z',
    Spec: { Name: 'defaultNodeName', Labels: {}, Role: 'manager', Availability: 'active', ...over.Spec },
    Description: {
      Hostname: 'defaultNodeHostname',
      Platform: { Architecture: 'x86_64', OS: 'linux' },
      Resources: { NanoCPUs: 0, MemoryBytes: 20 * 1024 * 1024 },
      Engine: { EngineVersion: '1.13.0', Labels: { engine: 'label' }, Plugins: [{ Type: 'Network', Name: 'bridge' }, { Type: 'Network', Name: 'overlay' }, { Type: 'Volume', Name: 'local' }] },
      ...over.Description,
    },
    Status: { State: 'ready', Addr: '127.0.0.1', ...over.Status },
    ...(over.ManagerStatus === null ? {} : { ManagerStatus: { Addr: '127.0.0.1:2377', Reachability: 'reachable', Leader: false, ...over.ManagerStatus } }),
  };
}

interface Req {
  method: string;
  path: string;
  query: URLSearchParams;
  body: string;
}
type Route = (req: Req) => { status?: number; json?: unknown } | undefined;

interface Result {
  out: string;
  err: string;
  code: number;
}

type Run = (argv: string[], stdin?: string, extra?: Partial<Cli>) => Promise<Result>;

async function withDaemon(route: Route, fn: (run: Run, seen: Req[]) => Promise<void>) {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-cli-swarm-'));
  const socket = path.join(dir, 'd.sock');
  const seen: Req[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.setHeader('Api-Version', '1.50');
      if (req.url === '/_ping') return res.end();
      const url = new URL(req.url!, 'http://d');
      const r: Req = { method: req.method!, path: url.pathname.replace(/^\/v[\d.]+/, ''), query: url.searchParams, body: Buffer.concat(chunks).toString() };
      seen.push(r);
      const answer = route(r) ?? { status: 404, json: { message: `no route for ${r.method} ${r.path}` } };
      res.writeHead(answer.status ?? 200, { 'Content-Type': 'application/json' });
      res.end(answer.json === undefined ? '' : JSON.stringify(answer.json));
    });
  });
  await new Promise<void>((r) => server.listen(socket, r));
  const run: Run = async (argv, stdin = '', extra = {}) => {
    const r = resolve(rootCommand, argv);
    if (r.kind === 'error') return { out: '', err: r.message, code: r.exitCode };
    if (r.kind !== 'run') throw new Error(`not runnable: ${argv.join(' ')}`);
    const out: string[] = [];
    const err: string[] = [];
    const client = new ApiClient(parseHost(`unix://${socket}`));
    const cli: Cli = {
      out: { write: (s) => out.push(String(s)) },
      err: { write: (s) => err.push(String(s)) },
      in: Readable.from([stdin]),
      rawOut: new PassThrough(),
      client: () => client,
      debug: false,
      env: {},
      now: () => NOW,
      ...extra,
    };
    let code = 0;
    try {
      code = (await r.command.run!({ args: r.args, flags: r.flags, path: '' }, cli)) ?? 0;
    } catch (e) {
      if (!(e instanceof CliError)) throw e;
      err.push(e.message + '\n');
      code = e.exitCode;
    } finally {
      client.close();
    }
    return { out: out.join(''), err: err.join(''), code };
  };
  try {
    await fn(run, seen);
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A daemon that is a swarm manager with the fixtures above. */
function managerRoutes(o: { swarm?: Record<string, unknown>; unlockKey?: string; state?: string; initError?: string } = {}): Route {
  return (r) => {
    if (r.method === 'POST' && r.path === '/swarm/init') return o.initError ? { status: 400, json: { message: o.initError } } : { json: 'nodeID' };
    if (r.method === 'GET' && r.path === '/swarm') return { json: swarmFixture(o.swarm) };
    if (r.method === 'GET' && r.path === '/swarm/unlockkey') return { json: { UnlockKey: o.unlockKey ?? 'unlock-key' } };
    if (r.method === 'POST' && ['/swarm/update', '/swarm/join', '/swarm/leave', '/swarm/unlock'].includes(r.path)) return { status: 200 };
    if (r.method === 'GET' && r.path === '/info') {
      return { json: { Swarm: { NodeID: 'nodeID', LocalNodeState: o.state ?? 'active', ControlAvailable: (o.state ?? 'active') === 'active', Cluster: { TLSInfo: TLS } } } };
    }
    if (r.method === 'GET' && r.path === '/nodes/nodeID') return { json: nodeFixture('nodeID', { ManagerStatus: { Addr: '127.0.0.1' } }) };
    return undefined;
  };
}

const UNLOCK_TEXT = `To unlock a swarm manager after it restarts, run the \`berth swarm unlock\`
command and provide the following key:

    unlock-key

Remember to store this key in a password manager, since without it you
will not be able to restart the manager.
`;

test('swarm init: docker\'s text with berth in the commands to copy, and the request docker sends', async () => {
  await withDaemon(managerRoutes(), async (run, seen) => {
    const r = await run(['swarm', 'init']);
    assert.equal(r.code, 0, r.err);
    assert.equal(
      r.out,
      `Swarm initialized: current node (nodeID) is now a manager.

To add a worker to this swarm, run the following command:

    berth swarm join --token worker-join-token 127.0.0.1

To add a manager to this swarm, run 'berth swarm join-token manager' and follow the instructions.
`,
    );
    const init = JSON.parse(seen.find((s) => s.path === '/swarm/init')!.body);
    assert.deepEqual(init, {
      ListenAddr: '0.0.0.0:2377', AdvertiseAddr: '', DataPathAddr: '', DataPathPort: 0, ForceNewCluster: false,
      Spec: { Labels: null, Orchestration: {}, Raft: { ElectionTick: 0, HeartbeatTick: 0 }, Dispatcher: {}, CAConfig: {}, TaskDefaults: {}, EncryptionConfig: { AutoLockManagers: false } },
      AutoLockManagers: false, Availability: '', DefaultAddrPool: null, SubnetSize: 24,
    });

    const locked = await run(['swarm', 'init', '--autolock', '--listen-addr', '127.0.0.5', '--advertise-addr', '127.0.0.5', '--availability', 'DRAIN',
      '--default-addr-pool', '10.20.0.0/16,10.30.0.0/16', '--default-addr-pool-mask-length', '26', '--task-history-limit', '3', '--dispatcher-heartbeat', '2s', '--cert-expiry', '48h']);
    assert.equal(locked.code, 0, locked.err);
    assert.ok(locked.out.endsWith(`and follow the instructions.\n${UNLOCK_TEXT}`), locked.out);
    const body = JSON.parse(seen.filter((s) => s.path === '/swarm/init').at(-1)!.body);
    assert.equal(body.ListenAddr, '127.0.0.5:2377');
    assert.equal(body.AdvertiseAddr, '127.0.0.5');
    assert.equal(body.Availability, 'drain');
    assert.equal(body.AutoLockManagers, true);
    assert.deepEqual(body.DefaultAddrPool, ['10.20.0.0/16', '10.30.0.0/16']);
    assert.equal(body.SubnetSize, 26);
    assert.deepEqual(body.Spec.Orchestration, { TaskHistoryRetentionLimit: 3 });
    assert.deepEqual(body.Spec.Dispatcher, { HeartbeatPeriod: 2e9 });
    assert.deepEqual(body.Spec.CAConfig, { NodeCertExpiry: 48 * 3600e9 });
    assert.deepEqual(body.Spec.EncryptionConfig, { AutoLockManagers: true });

    const bad = await run(['swarm', 'init', '--availability', 'sleepy']);
    assert.equal(bad.code, 1);
    assert.equal(bad.err, 'invalid availability "sleepy", only active, pause and drain are supported\n');
    const badAddr = await run(['swarm', 'init', '--listen-addr', 'udp://x']);
    assert.equal(badAddr.code, 125);
    assert.match(badAddr.err, /invalid argument "udp:\/\/x" for "--listen-addr" flag: invalid proto, expected tcp: udp:\/\/x/);
    const badPool = await run(['swarm', 'init', '--default-addr-pool', '10.0.0.0/33']);
    assert.match(badPool.err, /invalid string being converted to CIDR: 10\.0\.0\.0\/33/);
  });
  await withDaemon(managerRoutes({ initError: 'could not choose an IP address to advertise since this system has multiple addresses on different interfaces (10.0.0.1 on eth0 and 10.1.0.1 on eth1)' }), async (run) => {
    const r = await run(['swarm', 'init']);
    assert.equal(r.code, 1);
    assert.equal(r.err, 'Error response from daemon: could not choose an IP address to advertise since this system has multiple addresses on different interfaces (10.0.0.1 on eth0 and 10.1.0.1 on eth1) - specify one with --advertise-addr\n');
  });
});

test('swarm join-token: worker, manager, quiet, rotate (docker\'s goldens), unknown role', async () => {
  await withDaemon(managerRoutes(), async (run, seen) => {
    assert.equal((await run(['swarm', 'join-token', 'worker'])).out, 'To add a worker to this swarm, run the following command:\n\n    berth swarm join --token worker-join-token 127.0.0.1\n\n');
    assert.equal((await run(['swarm', 'join-token', 'manager'])).out, 'To add a manager to this swarm, run the following command:\n\n    berth swarm join --token manager-join-token 127.0.0.1\n\n');
    assert.equal((await run(['swarm', 'join-token', '-q', 'worker'])).out, 'worker-join-token\n');
    assert.equal((await run(['swarm', 'join-token', '--quiet', 'manager'])).out, 'manager-join-token\n');
    const rot = await run(['swarm', 'join-token', '--rotate', 'manager']);
    assert.equal(rot.out, 'Successfully rotated manager join token.\n\nTo add a manager to this swarm, run the following command:\n\n    berth swarm join --token manager-join-token 127.0.0.1\n\n');
    const upd = seen.find((s) => s.path === '/swarm/update')!;
    assert.equal(upd.query.toString(), 'rotateManagerToken=true&rotateManagerUnlockKey=false&rotateWorkerToken=false&version=10', 'sorted, as Go encodes url.Values');
    assert.deepEqual(JSON.parse(upd.body), swarmFixture().Spec);
    const bad = await run(['swarm', 'join-token', 'boss']);
    assert.equal(bad.code, 1);
    assert.equal(bad.err, 'unknown role boss\n');
    assert.equal((await run(['swarm', 'join-token'])).code, 1);
  });
});

test('swarm join and leave', async () => {
  await withDaemon(managerRoutes({ state: 'pending' }), async (run, seen) => {
    const r = await run(['swarm', 'join', '--token', 'SWMTKN-1-abc', '--listen-addr', ':4500', '10.0.0.1:2377']);
    assert.equal(r.out, 'This node joined a swarm as a worker.\n');
    assert.deepEqual(JSON.parse(seen.find((s) => s.path === '/swarm/join')!.body), {
      ListenAddr: '0.0.0.0:4500', AdvertiseAddr: '', DataPathAddr: '', RemoteAddrs: ['10.0.0.1:2377'], JoinToken: 'SWMTKN-1-abc', Availability: '',
    });
    const leave = await run(['swarm', 'leave', '--force']);
    assert.equal(leave.out, 'Node left the swarm.\n');
    assert.equal(seen.find((s) => s.path === '/swarm/leave')!.query.get('force'), '1');
  });
  await withDaemon(managerRoutes(), async (run) => {
    assert.equal((await run(['swarm', 'join', '--token', 't', '10.0.0.1:2377'])).out, 'This node joined a swarm as a manager.\n');
  });
});

test('swarm update: merged spec, the unlock key when autolock turns on, help without flags', async () => {
  await withDaemon(managerRoutes(), async (run, seen) => {
    const r = await run(['swarm', 'update', '--autolock', '--snapshot-interval', '500', '--max-snapshots', '2']);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, `Swarm updated.\n${UNLOCK_TEXT}`);
    const spec = JSON.parse(seen.find((s) => s.path === '/swarm/update')!.body);
    assert.deepEqual(spec, { ...swarmFixture().Spec, Raft: { ...swarmFixture().Spec.Raft, SnapshotInterval: 500, KeepOldSnapshots: 2 }, EncryptionConfig: { AutoLockManagers: true } });
    assert.equal((await run(['swarm', 'update', '--task-history-limit', '2'])).out, 'Swarm updated.\n');
    const help = await run(['swarm', 'update']);
    assert.equal(help.code, 0);
    assert.match(help.out, /^Usage:  berth swarm update \[OPTIONS\]\n\nUpdate the swarm\n/);
    assert.equal(seen.filter((s) => s.path === '/swarm/update').length, 2, 'no update without flags');
    const bad = await run(['swarm', 'update', '--cert-expiry', 'soon']);
    assert.equal(bad.code, 125);
    assert.match(bad.err, /invalid argument "soon" for "--cert-expiry" flag: time: invalid duration "soon"/);
  });
});

test('swarm ca: the trust root, flags that need --rotate, a forced rotation and its progress', async () => {
  await withDaemon((r) => {
    if (r.method === 'GET' && r.path === '/nodes') return { json: [nodeFixture('a', { Description: { TLSInfo: TLS } }), nodeFixture('b', { Description: { TLSInfo: TLS } })] };
    return managerRoutes()(r);
  }, async (run, seen) => {
    assert.equal((await run(['swarm', 'ca'])).out, TRUST_ROOT);
    const needs = await run(['swarm', 'ca', '--cert-expiry', '1h']);
    assert.equal(needs.err, '`--cert-expiry` flag requires the `--rotate` flag to update the CA\n');
    const detached = await run(['swarm', 'ca', '--rotate', '-d']);
    assert.equal(detached.out, '');
    assert.equal(JSON.parse(seen.find((s) => s.path === '/swarm/update')!.body).CAConfig.ForceRotate, 1);
    const quiet = await run(['swarm', 'ca', '--rotate', '-q']);
    assert.equal(quiet.code, 0, quiet.err);
    assert.equal(quiet.out, '');
    const shown = await run(['swarm', 'ca', '--rotate']);
    assert.equal(shown.code, 0, shown.err);
    assert.ok(shown.out.startsWith('desired root digest: \n'), shown.out);
    assert.ok(shown.out.endsWith(TRUST_ROOT), shown.out);
    const notPem = await run(['swarm', 'ca', '--rotate', '--ca-cert', '/nonexistent/ca.pem']);
    assert.match(notPem.err, /invalid argument "\/nonexistent\/ca.pem" for "--ca-cert" flag: open \/nonexistent\/ca.pem: no such file or directory/);
  });
  // Convergence: certificates first, then trust roots.
  const sw = swarmFixture({ RootRotationInProgress: true }) as any;
  const old = { ...TLS, CertIssuerPublicKey: 'OLD' };
  let p = rotationProgress(sw, [{ ID: 'a', Description: { TLSInfo: TLS } }, { ID: 'b', Description: { TLSInfo: old } }]);
  assert.equal(p.done, false);
  assert.deepEqual(p.messages[1]!.progressDetail, { current: 1, total: 2, units: 'nodes' });
  assert.deepEqual(p.messages[2]!.progressDetail, { current: 0, total: 2, units: 'nodes' });
  p = rotationProgress({ ...sw, RootRotationInProgress: false }, [{ ID: 'a', Description: { TLSInfo: TLS } }]);
  assert.equal(p.done, true);
});

test('swarm unlock and unlock-key', async () => {
  await withDaemon(managerRoutes({ state: 'locked' }), async (run, seen) => {
    const r = await run(['swarm', 'unlock'], 'SWMKEY-1-secret\n');
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(JSON.parse(seen.find((s) => s.path === '/swarm/unlock')!.body), { UnlockKey: 'SWMKEY-1-secret' });
  });
  await withDaemon(managerRoutes({ state: 'inactive' }), async (run) => {
    assert.equal((await run(['swarm', 'unlock'])).err, 'error: this node is not part of a swarm\n');
  });
  await withDaemon(managerRoutes(), async (run, seen) => {
    assert.equal((await run(['swarm', 'unlock'])).err, 'error: swarm is not locked\n');
    assert.equal((await run(['swarm', 'unlock-key'])).out, UNLOCK_TEXT);
    assert.equal((await run(['swarm', 'unlock-key', '-q'])).out, 'unlock-key\n');
    assert.equal((await run(['swarm', 'unlock-key', '--rotate'])).err, 'cannot rotate because autolock is not turned on\n');
    assert.equal(seen.filter((s) => s.path === '/swarm/update').length, 0);
  });
  await withDaemon(managerRoutes({ swarm: { Spec: { ...swarmFixture().Spec, EncryptionConfig: { AutoLockManagers: true } } } }), async (run, seen) => {
    assert.equal((await run(['swarm', 'unlock-key', '--rotate'])).out, `Successfully rotated manager unlock key.\n${UNLOCK_TEXT}`);
    assert.equal(seen.find((s) => s.path === '/swarm/update')!.query.get('rotateManagerUnlockKey'), 'true');
    assert.equal((await run(['swarm', 'unlock-key', '--rotate', '-q'])).out, 'unlock-key\n');
  });
  await withDaemon(managerRoutes({ unlockKey: '' }), async (run) => {
    assert.equal((await run(['swarm', 'unlock-key'])).err, 'no unlock key is set\n');
  });
});

const NODES = [
  nodeFixture('nodeID1', { Description: { Hostname: 'node-2-foo', Engine: { EngineVersion: '.' } }, ManagerStatus: { Leader: true } }),
  nodeFixture('nodeID2', { Description: { Hostname: 'node-10-foo', Engine: { EngineVersion: '18.03.0-ce' } } }),
  nodeFixture('nodeID3', { Description: { Hostname: 'node-1-foo', Engine: { EngineVersion: '1.13.0' } }, ManagerStatus: null, Spec: { Role: 'worker' } }),
];

test('node ls: docker\'s columns, natural order by hostname, self marked; quiet and formats', async () => {
  await withDaemon((r) => {
    if (r.method === 'GET' && r.path === '/nodes') return { json: NODES };
    if (r.method === 'GET' && r.path === '/info') return { json: { Swarm: { NodeID: 'nodeID1', Cluster: { TLSInfo: TLS } } } };
    return undefined;
  }, async (run, seen) => {
    // docker's node-list-sort.golden
    assert.equal(
      (await run(['node', 'ls'])).out,
      `ID          HOSTNAME      STATUS    AVAILABILITY   MANAGER STATUS   ENGINE VERSION
nodeID3     node-1-foo    Ready     Active                          1.13.0
nodeID1 *   node-2-foo    Ready     Active         Leader           .
nodeID2     node-10-foo   Ready     Active         Reachable        18.03.0-ce
`,
    );
    // docker's node-list-format-flag.golden
    assert.equal((await run(['node', 'ls', '--format', '{{.Hostname}}: {{.ManagerStatus}}', '-f', 'role=manager'])).out.split('\n').filter((l) => /Leader|Reachable/.test(l)).join('\n'), 'node-2-foo: Leader\nnode-10-foo: Reachable');
    assert.equal(seen.filter((s) => s.path === '/nodes').at(-1)!.query.get('filters'), '{"role":{"manager":true}}');
    const infoCalls = seen.filter((s) => s.path === '/info').length;
    assert.equal((await run(['node', 'ls', '-q'])).out, 'nodeID3\nnodeID1\nnodeID2\n');
    assert.equal(seen.filter((s) => s.path === '/info').length, infoCalls, 'no /info call when quiet');
    const json = (await run(['node', 'ls', '--format', 'json'])).out.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(json[1], { Availability: 'Active', EngineVersion: '.', Hostname: 'node-2-foo', ID: 'nodeID1', ManagerStatus: 'Leader', Self: true, Status: 'Ready', TLSStatus: 'Unknown' });
    assert.equal((await run(['node', 'ls', '--format', '{{.ID}} {{.TLSStatus}}'])).out.split('\n')[0], 'nodeID3 Unknown');
  });
});

test('node inspect --pretty: docker\'s golden texts; self; raw JSON otherwise', async () => {
  const leader = nodeFixture('nodeID', { ManagerStatus: { Addr: '127.0.0.1', Leader: true } });
  const simple = nodeFixture('simple', { ManagerStatus: null, Spec: { Labels: { lbl1: 'value1' } } });
  simple.ID = 'nodeID';
  await withDaemon((r) => {
    if (r.path === '/nodes/leader' || r.path === '/nodes/nodeID') return { json: leader };
    if (r.path === '/nodes/simple') return { json: simple };
    if (r.path === '/info') return { json: { Swarm: { NodeID: 'nodeID' } } };
    if (r.path === '/nodes/gone') return { status: 404, json: { message: 'node gone not found' } };
    return undefined;
  }, async (run) => {
    assert.equal(
      (await run(['node', 'inspect', '--pretty', 'leader'])).out,
      `ID:\t\t\tnodeID
Name:\t\t\tdefaultNodeName
Hostname:              \tdefaultNodeHostname
Joined at:             \t2009-11-10 23:00:00 +0000 utc
Status:
 State:\t\t\tReady
 Availability:         \tActive
 Address:\t\t127.0.0.1
Manager Status:
 Address:\t\t127.0.0.1
 Raft Status:\t\tReachable
 Leader:\t\tYes
Platform:
 Operating System:\tlinux
 Architecture:\t\tx86_64
Resources:
 CPUs:\t\t\t0
 Memory:\t\t20MiB
Plugins:
 Network:\t\tbridge, overlay
 Volume:\t\tlocal
Engine Version:\t\t1.13.0
Engine Labels:
 - engine=label
`,
    );
    assert.equal(
      (await run(['node', 'inspect', '--pretty', 'simple'])).out,
      `ID:\t\t\tnodeID
Name:\t\t\tdefaultNodeName
Labels:
 - lbl1=value1
Hostname:              \tdefaultNodeHostname
Joined at:             \t2009-11-10 23:00:00 +0000 utc
Status:
 State:\t\t\tReady
 Availability:         \tActive
 Address:\t\t127.0.0.1
Platform:
 Operating System:\tlinux
 Architecture:\t\tx86_64
Resources:
 CPUs:\t\t\t0
 Memory:\t\t20MiB
Plugins:
 Network:\t\tbridge, overlay
 Volume:\t\tlocal
Engine Version:\t\t1.13.0
Engine Labels:
 - engine=label
`,
    );
    assert.equal((await run(['node', 'inspect', '--format', '{{.ID}} {{.Spec.Role}}', 'self'])).out, 'nodeID manager\n');
    assert.equal((await run(['node', 'inspect', '--format', 'pretty {{.ID}}', 'self'])).err, 'cannot supply extra formatting options to the pretty template\n');
    const mixed = await run(['node', 'inspect', 'self', 'gone']);
    assert.equal(mixed.code, 1);
    assert.equal(JSON.parse(mixed.out)[0].ID, 'nodeID');
    assert.equal(mixed.err, 'Error response from daemon: node gone not found\n');
  });
  // TLS info is shown when the node reports it.
  const withTls = nodeFixture('n', { Description: { TLSInfo: TLS } });
  await withDaemon((r) => (r.path === '/nodes/n' ? { json: withTls } : undefined), async (run) => {
    assert.ok((await run(['node', 'inspect', '--pretty', 'n'])).out.endsWith(`TLS Info:\n TrustRoot:\n${TRUST_ROOT}\n Issuer Subject:\t${TLS.CertIssuerSubject}\n Issuer Public Key:\t${TLS.CertIssuerPublicKey}\n`));
  });
});

test('node ps: docker\'s task table, names resolved, earlier tasks of a slot indented', async () => {
  const hoursAgo = (h: number) => new Date(NOW - h * 3600e3).toISOString();
  const task = (id: string, h: number) => ({
    ID: id, CreatedAt: hoursAgo(h), ServiceID: 'svc1', NodeID: 'nodeID', Slot: 1, DesiredState: 'ready',
    Spec: { ContainerSpec: { Image: 'myimage:mytag@sha256:' + 'a'.repeat(64) } },
    Status: { State: 'ready', Timestamp: hoursAgo(h), Err: 'a task error' },
  });
  await withDaemon((r) => {
    if (r.path === '/info') return { json: { Swarm: { NodeID: 'nodeID' } } };
    if (r.path === '/nodes/nodeID') return { json: nodeFixture('nodeID') };
    if (r.path === '/services/svc1') return { json: { ID: 'svc1', Spec: { Name: 'failure' } } };
    if (r.path === '/tasks') return { json: [task('taskID3', 4), task('taskID1', 2), task('taskID2', 3)] };
    return undefined;
  }, async (run, seen) => {
    // docker's node-ps.with-errors.golden
    assert.equal(
      (await run(['node', 'ps'])).out,
      `ID        NAME            IMAGE           NODE              DESIRED STATE   CURRENT STATE       ERROR            PORTS
taskID1   failure.1       myimage:mytag   defaultNodeName   Ready           Ready 2 hours ago   "a task error"   
taskID2    \\_ failure.1   myimage:mytag   defaultNodeName   Ready           Ready 3 hours ago   "a task error"   
taskID3    \\_ failure.1   myimage:mytag   defaultNodeName   Ready           Ready 4 hours ago   "a task error"   
`,
    );
    assert.equal(seen.find((s) => s.path === '/tasks')!.query.get('filters'), '{"node":{"nodeID":true}}');
    assert.equal((await run(['node', 'ps', '-q', 'nodeID'])).out, 'taskID1\ntaskID2\ntaskID3\n');
    const noResolve = (await run(['node', 'ps', '--no-resolve', '--format', '{{.Name}} {{.Node}}'])).out;
    assert.equal(noResolve, 'svc1.1 nodeID\nsvc1.1 nodeID\nsvc1.1 nodeID\n');
  });
});

test('node update, promote, demote, rm: requests and messages', async () => {
  const worker = nodeFixture('w1', { Spec: { Role: 'worker', Labels: { a: '1' } }, ManagerStatus: null });
  const manager = nodeFixture('m1');
  await withDaemon((r) => {
    if (r.method === 'GET' && r.path === '/nodes/w1') return { json: worker };
    if (r.method === 'GET' && r.path === '/nodes/m1') return { json: manager };
    if (r.method === 'POST' && r.path.endsWith('/update')) return { status: 200 };
    if (r.method === 'DELETE' && r.path === '/nodes/w1') return { status: 200 };
    if (r.method === 'DELETE') return { status: 400, json: { message: `rpc error: code = FailedPrecondition desc = node ${r.path.split('/')[2]} is a cluster manager and is a member of the raft cluster. It must be demoted to worker before removal` } };
    return undefined;
  }, async (run, seen) => {
    assert.equal((await run(['node', 'update', '--availability', 'drain', '--label-add', 'b=2', '--label-add', 'c', '--label-rm', 'a', 'w1'])).out, 'w1\n');
    const upd = seen.find((s) => s.path === '/nodes/w1/update')!;
    assert.equal(upd.query.get('version'), '20');
    assert.deepEqual(JSON.parse(upd.body), { Name: 'defaultNodeName', Labels: { b: '2', c: '' }, Role: 'worker', Availability: 'drain' });
    assert.equal((await run(['node', 'update', '--label-rm', 'zzz', 'w1'])).err, "key zzz doesn't exist in node's labels\n");
    assert.equal((await run(['node', 'promote', 'w1', 'm1'])).out, 'Node w1 promoted to a manager in the swarm.\nNode m1 is already a manager.\n');
    assert.equal(JSON.parse(seen.filter((s) => s.path === '/nodes/w1/update').at(-1)!.body).Role, 'manager');
    assert.equal((await run(['node', 'demote', 'm1'])).out, 'Manager m1 demoted in the swarm.\n');
    assert.equal((await run(['node', 'demote', 'w1'])).out, 'Node w1 is already a worker.\n');
    const rm = await run(['node', 'rm', 'm1', 'w1']);
    assert.equal(rm.out, 'w1\n');
    assert.equal(rm.err, 'Error response from daemon: rpc error: code = FailedPrecondition desc = node m1 is a cluster manager and is a member of the raft cluster. It must be demoted to worker before removal\n');
    await run(['node', 'rm', '-f', 'w1']);
    assert.equal(seen.filter((s) => s.method === 'DELETE').at(-1)!.query.get('force'), '1');
  });
});

test('node addresses and external CAs parse as docker\'s options do', () => {
  assert.equal(parseNodeAddr('127.0.0.1'), '127.0.0.1:2377');
  assert.equal(parseNodeAddr(':4000'), '0.0.0.0:4000');
  assert.equal(parseNodeAddr('eth0'), 'eth0:2377');
  assert.equal(parseNodeAddr('tcp://10.0.0.1:3000'), '10.0.0.1:3000');
  assert.equal(parseNodeAddr('::1'), '[::1]:2377');
  assert.equal(parseNodeAddr('[::1]:'), '[::1]:2377');
  assert.throws(() => parseNodeAddr('http://x'), /invalid proto, expected tcp: http:\/\/x/);
  assert.throws(() => parseNodeAddr('1.2.3.4:port'), /invalid bind address format: 1\.2\.3\.4:port/);
  assert.deepEqual(parseExternalCA('protocol=cfssl,url=https://ca.example.com,foo=bar'), { Protocol: 'cfssl', URL: 'https://ca.example.com', Options: { foo: 'bar' } });
  assert.throws(() => parseExternalCA('protocol=acme,url=x'), /unrecognized external CA protocol acme/);
  assert.throws(() => parseExternalCA('url=x'), /the external-ca option needs a protocol= parameter/);
  assert.throws(() => parseExternalCA('protocol=cfssl'), /the external-ca option needs a url= parameter/);
  assert.throws(() => parseExternalCA('protocol=cfssl,bogus'), /invalid field 'bogus' must be a key=value pair/);
});

test('info: the Swarm section as docker prints it for a manager, a worker and a locked node', async () => {
  const { swarmInfoLines } = await import('../../src/cli/commands/swarm-info.js');
  const manager = {
    NodeID: 'nodeid1', NodeAddr: '10.0.0.1', LocalNodeState: 'active', ControlAvailable: true, Error: '',
    RemoteManagers: [{ NodeID: 'b', Addr: '10.0.0.2:2377' }, { NodeID: 'nodeid1', Addr: '10.0.0.1:2377' }], Nodes: 3, Managers: 2,
    Cluster: swarmFixture(),
  };
  assert.equal(
    swarmInfoLines(manager).join('\n') + '\n',
    `  NodeID: nodeid1
  Is Manager: true
  ClusterID: clusterid0000000000000000
  Managers: 2
  Nodes: 3
  Default Address Pool: 10.0.0.0/8  
  SubnetSize: 24
  Data Path Port: 4789
  Orchestration:
   Task History Retention Limit: 5
  Raft:
   Snapshot Interval: 10000
   Number of Old Snapshots to Retain: 0
   Heartbeat Tick: 1
   Election Tick: 10
  Dispatcher:
   Heartbeat Period: 5 seconds
  CA Configuration:
   Expiry Duration: 3 months
   Force Rotate: 0
  Autolock Managers: false
  Root Rotation In Progress: false
  Node Address: 10.0.0.1
  Manager Addresses:
   10.0.0.1:2377
   10.0.0.2:2377
`,
  );
  const worker = { NodeID: 'w', NodeAddr: '10.0.0.3', LocalNodeState: 'active', ControlAvailable: false, Error: '', RemoteManagers: [{ NodeID: 'a', Addr: '10.0.0.1:2377' }] };
  assert.deepEqual(swarmInfoLines(worker), ['  NodeID: w', '  Is Manager: false', '  Node Address: 10.0.0.3', '  Manager Addresses:', '   10.0.0.1:2377']);
  assert.deepEqual(swarmInfoLines({ LocalNodeState: 'locked', NodeID: '' }), []);
  assert.deepEqual(swarmInfoLines({ LocalNodeState: 'inactive' }), []);
});

test('swarm ca --rotate: Ctrl-C stops watching a rotation that has not converged, with docker\'s note', async () => {
  const listeners = new Set<(s: NodeJS.Signals) => void>();
  const signals = { on: (_s: NodeJS.Signals, l: (s: NodeJS.Signals) => void) => listeners.add(l), off: (_s: NodeJS.Signals, l: (s: NodeJS.Signals) => void) => listeners.delete(l) };
  let polls = 0;
  await withDaemon((r) => {
    if (r.method === 'GET' && r.path === '/nodes') {
      if (++polls === 3) for (const l of listeners) l('SIGINT');
      return { json: [nodeFixture('a', { Description: { TLSInfo: { ...TLS, CertIssuerPublicKey: 'OLD' } } })] };
    }
    return managerRoutes({ swarm: { RootRotationInProgress: true } })(r);
  }, async (run) => {
    const r = await run(['swarm', 'ca', '--rotate'], '', { signals });
    assert.equal(r.code, 0, r.err);
    assert.equal(polls, 3);
    assert.ok(r.out.includes('Operation continuing in background.\nUse `swarmctl cluster inspect default` to check progress.\n'), r.out);
    assert.ok(r.out.endsWith(TRUST_ROOT));
    assert.equal(listeners.size, 0, 'the SIGINT listener is removed');
  });
});
