import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { TestDaemon, freeSubnet24, hasDocker } from './harness.js';

/**
 * Network features as in dockerd: legacy links, MAC addresses, forced disconnects, network names,
 * connecting a running container, loopback DNAT, and a default bridge the administrator made (-b).
 * Traffic goes only to loopback and to addresses on the bridges these tests make.
 */

const base = (subnet: string) => subnet.replace(/\.0\/24$/, '');

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** Host ends of veths on these bridges (other daemons on the machine have their own). */
function hostVeths(bridges: string[]): string[] {
  const links = JSON.parse(spawnSync('ip', ['-j', '-d', 'link', 'show'], { encoding: 'utf8' }).stdout || '[]') as Array<{ ifname: string; master?: string; linkinfo?: { info_kind?: string } }>;
  return links.filter((l) => l.linkinfo?.info_kind === 'veth' && l.master && bridges.includes(l.master)).map((l) => l.ifname).sort();
}

describe('network features', { skip: !hasDocker && 'the docker CLI is not installed' }, () => {
  const d = new TestDaemon();
  const docker = async (...args: string[]) => {
    const r = await d.docker(args);
    assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  };
  const inspect = async (name: string) => JSON.parse(await docker('inspect', name))[0];

  before(async () => {
    await d.start();
    await d.seedBusybox();
  });

  after(async () => {
    try {
      for (const c of (await d.request('GET', '/containers/json?all=1')).json()) await d.request('DELETE', `/containers/${c.Id}?force=1`);
      await d.request('POST', '/networks/prune');
    } finally {
      await d.stop();
    }
  });

  test('network names: spaces and unicode as Docker accepts them; white space only is refused', async () => {
    const sub = freeSubnet24();
    const id = await docker('network', 'create', '--subnet', sub, 'my net');
    assert.equal((await d.request('GET', `/networks/${encodeURIComponent('my net')}`)).json().Id, id);
    const uni = await d.request('POST', '/networks/create', { Name: 'réseau-ü' });
    assert.equal(uni.status, 201, uni.text);
    await docker('run', '-d', '--name', 'spaced', '--network', 'my net', 'busybox', 'sleep', '300');
    assert.equal((await inspect('spaced')).NetworkSettings.Networks['my net'].NetworkID, id);
    for (const name of ['', '   ']) {
      const r = await d.request('POST', '/networks/create', { Name: name });
      assert.equal(r.status, 400, r.text);
      assert.equal(r.json().message, 'invalid name: name is empty');
    }
    await docker('rm', '-f', 'spaced');
    await docker('network', 'rm', 'my net', 'réseau-ü');
  });

  test('-p 127.0.0.1:HOST:CT installs the DNAT rule Docker installs for that address', async () => {
    const port = await freePort();
    await docker('run', '-d', '--name', 'lodnat', '-p', `127.0.0.1:${port}:80`, 'busybox', 'sleep', '300');
    const ip = (await inspect('lodnat')).NetworkSettings.IPAddress as string;
    const nat = spawnSync('iptables-save', ['-t', 'nat'], { encoding: 'utf8' }).stdout;
    const rule = `-d 127.0.0.1/32 ! -i ${d.bridge} -p tcp -m tcp --dport ${port} -j DNAT --to-destination ${ip}:80`;
    assert.ok(nat.split('\n').some((l) => l.endsWith(rule)), `no "${rule}" in:\n${nat}`);
    await docker('rm', '-f', 'lodnat');
    assert.ok(!spawnSync('iptables-save', ['-t', 'nat'], { encoding: 'utf8' }).stdout.includes(`--dport ${port} `));
  });

  test('disconnect: a stopped container, a container not connected, and Force as dockerd', async () => {
    await docker('network', 'create', '--subnet', freeSubnet24(), 'fdnet');
    await docker('create', '--name', 'fdstopped', '--network', 'fdnet', 'busybox', 'true');
    const stopped = await inspect('fdstopped');
    await docker('network', 'disconnect', 'fdnet', 'fdstopped');
    for (const force of [false, true]) {
      const r = await d.request('POST', '/networks/fdnet/disconnect', { Container: 'fdstopped', Force: force });
      assert.equal(r.status, 500, r.text);
      assert.equal(r.json().message, `container ${stopped.Id} is not connected to the network fdnet`);
    }
    await docker('run', '-d', '--name', 'fdrun', 'busybox', 'sleep', '300');
    const running = await inspect('fdrun');
    const r = await d.request('POST', '/networks/fdnet/disconnect', { Container: 'fdrun', Force: true });
    assert.equal(r.status, 500, r.text);
    assert.equal(r.json().message, `container ${running.Id} is not connected to network fdnet`);
    const gone = await d.request('POST', '/networks/nosuchnet/disconnect', { Container: 'fdrun' });
    assert.equal(gone.status, 404, gone.text);
    assert.equal(gone.json().message, 'network nosuchnet not found');
    const noCtr = await d.request('POST', '/networks/fdnet/disconnect', { Container: 'ghost' });
    assert.equal(noCtr.status, 404);
    assert.equal(noCtr.json().message, 'No such container: ghost');
    const noEp = await d.request('POST', '/networks/fdnet/disconnect', { Container: 'ghost', Force: true });
    assert.equal(noEp.status, 404, noEp.text);
    assert.equal(noEp.json().message, 'endpoint ghost not found');
    await docker('rm', '-f', 'fdrun', 'fdstopped');
  });

  test('legacy links on the default bridge: environment, /etc/hosts, Names, inspect, rename, rm --link', async () => {
    await docker('run', '-d', '--name', 'lnkchild', '--hostname', 'childhost', '-e', 'SECRET=s3', '--expose', '80', '--expose', '53/udp', 'busybox', 'sleep', '300');
    const child = await inspect('lnkchild');
    const ip = child.NetworkSettings.IPAddress as string;
    await docker('run', '-d', '--name', 'lnkme', '--link', 'lnkchild:db', 'busybox', 'sleep', '300');
    const env = (await docker('exec', 'lnkme', 'sh', '-c', "tr '\\0' '\\n' < /proc/1/environ")).split('\n');
    for (const want of [
      'DB_NAME=/lnkme/db',
      `DB_PORT=tcp://${ip}:80`,
      `DB_PORT_80_TCP=tcp://${ip}:80`,
      `DB_PORT_80_TCP_ADDR=${ip}`,
      'DB_PORT_80_TCP_PORT=80',
      'DB_PORT_80_TCP_PROTO=tcp',
      `DB_PORT_53_UDP=udp://${ip}:53`,
      'DB_ENV_SECRET=s3',
    ]) assert.ok(env.includes(want), `${want} not in:\n${env.join('\n')}`);
    assert.ok(!env.some((e) => e.startsWith('DB_ENV_PATH=')), env.join('\n'));
    const hosts = await docker('exec', 'lnkme', 'cat', '/etc/hosts');
    assert.ok(hosts.split('\n').includes(`${ip}\tdb childhost lnkchild`), hosts);
    assert.equal(await docker('exec', 'lnkme', 'sh', '-c', 'ping -c1 -W2 db >/dev/null && echo ok'), 'ok');

    const me = await inspect('lnkme');
    assert.deepEqual(me.HostConfig.Links, ['/lnkchild:/lnkme/db']);
    const names = () => d.request('GET', '/containers/json?filters=' + encodeURIComponent(JSON.stringify({ id: [child.Id] }))).then((r) => r.json()[0].Names);
    assert.deepEqual(await names(), ['/lnkchild', '/lnkme/db']);
    assert.equal(await docker('ps', '--filter', `id=${child.Id}`, '--format', '{{.Names}}'), 'lnkchild');

    await docker('rename', 'lnkchild', 'lnkchild2');
    await docker('rename', 'lnkme', 'lnkme2');
    assert.deepEqual((await inspect('lnkme2')).HostConfig.Links, ['/lnkchild2:/lnkme2/db']);
    assert.deepEqual(await names(), ['/lnkchild2', '/lnkme2/db']);

    await docker('rm', '--link', '/lnkme2/db');
    assert.equal((await inspect('lnkme2')).HostConfig.Links, null);
    assert.deepEqual(await names(), ['/lnkchild2']);
    const def = await d.request('DELETE', `/containers/${encodeURIComponent('/lnkchild2')}?link=1`);
    assert.equal(def.status, 500, def.text);
    assert.equal(def.json().message, 'Conflict, cannot remove the default link name of the container');
    const none = await d.request('DELETE', `/containers/${encodeURIComponent('/lnkme2/nosuch')}?link=1`);
    assert.equal(none.status, 404, none.text);

    const missing = await d.docker(['create', '--link', 'nosuch:x', 'busybox', 'true']);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /could not get container for nosuch: No such container: nosuch/);
    const api = await d.request('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: { Links: ['nosuch:x'] } });
    assert.equal(api.status, 400, api.text);
    assert.equal(api.json().message, 'could not get container for nosuch: No such container: nosuch');
    await docker('rm', '-f', 'lnkme2', 'lnkchild2');
  });

  test('links on a user-defined network are names for the linking container only; connect aliases and links resolve', async () => {
    await docker('network', 'create', '--subnet', freeSubnet24(), 'lnet');
    await docker('run', '-d', '--name', 'ltarget', '--network', 'lnet', 'busybox', 'sleep', '300');
    const tip = (await inspect('ltarget')).NetworkSettings.Networks.lnet.IPAddress as string;
    await docker('run', '-d', '--name', 'llinker', '--network', 'lnet', '--link', 'ltarget:tgt', 'busybox', 'sleep', '300');
    await docker('run', '-d', '--name', 'lother', '--network', 'lnet', 'busybox', 'sleep', '300');
    assert.match(await docker('exec', 'llinker', 'nslookup', 'tgt', '127.0.0.11'), new RegExp(`Address: ${tip.replace(/\./g, '\\.')}`));
    const other = await d.docker(['exec', 'lother', 'nslookup', 'tgt', '127.0.0.11']);
    assert.ok(!other.stdout.includes(tip), other.stdout);

    await docker('run', '-d', '--name', 'lconn', '--dns', '127.0.0.1', 'busybox', 'sleep', '300');
    await docker('network', 'connect', '--alias', 'connalias', '--link', 'ltarget:viaconnect', 'lnet', 'lconn');
    const cip = (await inspect('lconn')).NetworkSettings.Networks.lnet.IPAddress as string;
    assert.match(await docker('exec', 'lother', 'nslookup', 'connalias', '127.0.0.11'), new RegExp(`Address: ${cip.replace(/\./g, '\\.')}`));
    assert.match(await docker('exec', 'lconn', 'nslookup', 'viaconnect', '127.0.0.11'), new RegExp(`Address: ${tip.replace(/\./g, '\\.')}`));
    // Connected while running from the default bridge: its resolver is now the embedded DNS.
    const resolv = await docker('exec', 'lconn', 'cat', '/etc/resolv.conf');
    assert.match(resolv, /^nameserver 127\.0\.0\.11$/m);
    assert.equal(await docker('exec', 'lconn', 'sh', '-c', 'ping -c1 -W2 ltarget >/dev/null && echo ok'), 'ok');
    await docker('rm', '-f', 'ltarget', 'llinker', 'lother', 'lconn');
    await docker('network', 'rm', 'lnet');
  });

  test('--mac-address on run and on network connect; inspect shows it; an invalid one is refused', async () => {
    await docker('network', 'create', '--subnet', freeSubnet24(), 'macnet');
    await docker('run', '-d', '--name', 'macc', '--mac-address', '92:d0:c6:0a:29:33', 'busybox', 'sleep', '300');
    const c = await inspect('macc');
    assert.equal(c.NetworkSettings.MacAddress, '92:d0:c6:0a:29:33');
    assert.equal(c.NetworkSettings.Networks.bridge.MacAddress, '92:d0:c6:0a:29:33');
    assert.match(await docker('exec', 'macc', 'cat', '/sys/class/net/eth0/address'), /^92:d0:c6:0a:29:33$/);
    const conn = await d.request('POST', '/networks/macnet/connect', { Container: 'macc', EndpointConfig: { MacAddress: '92-D0-C6-0A-29-44' } });
    assert.equal(conn.status, 200, conn.text);
    assert.equal((await inspect('macc')).NetworkSettings.Networks.macnet.MacAddress, '92:d0:c6:0a:29:44');
    assert.match(await docker('exec', 'macc', 'cat', '/sys/class/net/eth1/address'), /^92:d0:c6:0a:29:44$/);
    // The container-wide field of API < 1.44 goes to the main network's endpoint.
    const old = await d.request('POST', '/v1.43/containers/create?name=macold', { Image: 'busybox', Cmd: ['true'], MacAddress: '92:d0:c6:0a:29:55' });
    assert.equal(old.status, 201, old.text);
    assert.equal((await inspect('macold')).NetworkSettings.Networks.bridge.MacAddress, '92:d0:c6:0a:29:55');
    const bad = await d.docker(['run', '--rm', '--mac-address', '92:d0:c6:0a:29', 'busybox', 'true']);
    assert.notEqual(bad.code, 0);
    const badApi = await d.request('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], NetworkingConfig: { EndpointsConfig: { bridge: { MacAddress: 'zz:zz' } } } });
    assert.equal(badApi.status, 400, badApi.text);
    assert.match(badApi.json().message, /invalid MAC address zz:zz/);
    const badConn = await d.request('POST', '/networks/macnet/connect', { Container: 'macold', EndpointConfig: { MacAddress: 'nope' } });
    assert.equal(badConn.status, 400, badConn.text);
    assert.match(badConn.json().message, /invalid MAC address nope/);
    await docker('rm', '-f', 'macc', 'macold');
    await docker('network', 'rm', 'macnet');
  });

  test('veth pairs never outlive their containers: connect, disconnect, rm -f, failed start', async () => {
    const netId = await docker('network', 'create', '--subnet', freeSubnet24(), 'vethnet');
    const ours = () => hostVeths([d.bridge, `br-${netId.slice(0, 12)}`]);
    const before = ours();
    await docker('run', '-d', '--name', 'v1', 'busybox', 'sleep', '300');
    await docker('network', 'connect', 'vethnet', 'v1');
    assert.equal(ours().length, before.length + 2);
    await docker('network', 'disconnect', 'vethnet', 'v1');
    assert.equal(ours().length, before.length + 1);
    await docker('network', 'connect', 'vethnet', 'v1');
    await docker('rm', '-f', 'v1');
    assert.deepEqual(ours(), before);
    const failed = await d.docker(['run', '--name', 'v2', '--network', 'vethnet', 'busybox', '/no/such/binary']);
    assert.notEqual(failed.code, 0);
    assert.deepEqual(ours(), before);
    await docker('create', '--name', 'v3', '--link', 'v2:x', 'busybox', 'true');
    const linkFail = await d.docker(['start', 'v3']);
    assert.notEqual(linkFail.code, 0);
    assert.match(linkFail.stderr, /Cannot link to a non running container: \/v2 AS \/v3\/x/);
    assert.deepEqual(ours(), before);
    await docker('rm', '-f', 'v2', 'v3');
    await docker('network', 'rm', 'vethnet');
  });

  test('force disconnect removes the endpoint of a container that no longer exists', async () => {
    const netId = await docker('network', 'create', '--subnet', freeSubnet24(), 'stalenet');
    // A crash between a container's removal and its network cleanup leaves such an endpoint.
    await d.kill();
    const ghostId = randomBytes(32).toString('hex');
    const db = new Database(path.join(d.dataRoot, 'berth.db'));
    const rec = { containerId: ghostId, containerName: 'ghost', networkId: netId, networkName: 'stalenet', config: {} };
    db.prepare('INSERT INTO network_endpoints (container_id, network_id, data) VALUES (?, ?, ?)').run(ghostId, netId, JSON.stringify(rec));
    db.close();
    await d.start();
    const r = await d.request('POST', '/networks/stalenet/disconnect', { Container: 'ghost', Force: true });
    assert.equal(r.status, 200, r.text);
    const again = await d.request('POST', '/networks/stalenet/disconnect', { Container: 'ghost', Force: true });
    assert.equal(again.status, 404, again.text);
    assert.equal(again.json().message, 'endpoint ghost not found');

    // A renamed container's endpoint goes by its new name, once a crash after its record's removal left it.
    const id = await docker('create', '--name', 'before-rename', '--network', 'stalenet', 'busybox', 'true');
    await docker('rename', 'before-rename', 'after-rename');
    await d.kill();
    const db2 = new Database(path.join(d.dataRoot, 'berth.db'));
    db2.prepare('DELETE FROM containers WHERE id = ?').run(id);
    db2.close();
    await d.start();
    const renamed = await d.request('POST', '/networks/stalenet/disconnect', { Container: 'after-rename', Force: true });
    assert.equal(renamed.status, 200, renamed.text);
    await docker('network', 'rm', 'stalenet');
  });
});

describe('--bridge: a bridge the administrator made', { skip: !hasDocker && 'the docker CLI is not installed' }, () => {
  test('the default network uses it and its subnet; the daemon leaves it in place', async () => {
    const name = `bx${randomBytes(3).toString('hex')}`;
    const sub = freeSubnet24();
    const made = spawnSync('sh', ['-c', `ip link add ${name} type bridge && ip addr add ${base(sub)}.1/24 dev ${name}`], { encoding: 'utf8' });
    assert.equal(made.status, 0, made.stderr);
    const d = new TestDaemon(['--bridge', name]);
    try {
      await d.start();
      await d.seedBusybox();
      const bridgeNet = (await d.request('GET', '/networks/bridge')).json();
      assert.deepEqual(bridgeNet.IPAM.Config, [{ Subnet: sub, Gateway: `${base(sub)}.1` }]);
      const r = await d.docker(['run', '--rm', 'busybox', 'sh', '-c', `ip -4 addr show eth0; ping -c1 -W2 ${base(sub)}.1 >/dev/null && echo gw-ok`]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`inet ${base(sub).replace(/\./g, '\\.')}\\.\\d+/24`));
      assert.match(r.stdout, /gw-ok/);
      await d.kill();
      const after = JSON.parse(spawnSync('ip', ['-j', '-4', 'addr', 'show', 'dev', name], { encoding: 'utf8' }).stdout || '[]');
      assert.equal(after[0]?.ifname, name, 'the bridge is still there');
      assert.equal(after[0]?.addr_info?.[0]?.local, `${base(sub)}.1`, 'with its address');
      assert.deepEqual(spawnSync('ip', ['-j', 'link', 'show', 'master', name], { encoding: 'utf8' }).stdout.trim() || '[]', '[]', 'no veth left on it');
    } finally {
      await d.stop();
      spawnSync('ip', ['link', 'del', name]);
    }
  });
});
