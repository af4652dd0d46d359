import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import http from 'node:http';
import { spawnSync } from 'node:child_process';
import { TestDaemon, freeSubnet24, hasDocker } from './harness.js';

/**
 * Networks as a user meets them, through the official docker CLI against a daemon of the test's own
 * (its own default bridge name, chains and subnet). Traffic goes only to loopback and to addresses on
 * the bridges these tests make; containers that look up a name that may not exist use --dns 127.0.0.1,
 * so that a forwarded query goes to the host's loopback and nowhere else.
 */

function freeSubnets(n: number): string[] {
  const out: string[] = [];
  while (out.length < n) {
    const s = freeSubnet24();
    if (!out.includes(s)) out.push(s);
  }
  return out;
}

const base = (subnet: string) => subnet.replace(/\.0\/24$/, '');

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

function httpGet(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

async function eventually<T>(fn: () => Promise<T>, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** What of a daemon's tag is on the host: its links, namespaces and iptables lines. */
function hostState(tag: string, bridges: string[]): { links: string[]; netns: string[]; rules: string[] } {
  const links = (JSON.parse(spawnSync('ip', ['-j', 'link', 'show'], { encoding: 'utf8' }).stdout || '[]') as Array<{ ifname: string; ifalias?: string; master?: string }>)
    .filter((l) => l.ifalias === `berth:${tag}` || bridges.includes(l.ifname) || (l.master !== undefined && bridges.includes(l.master)))
    .map((l) => l.ifname);
  const netns = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .stdout.split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter((n) => n.startsWith(`${tag}-`));
  const rules = spawnSync('iptables-save', [], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter((l) => l.includes(tag) || bridges.some((b) => l.includes(b)));
  return { links, netns, rules };
}

const HTTPD = (text: string) => ['sh', '-c', `echo ${text} > /tmp/index.html; exec httpd -f -h /tmp`];

describe('networks', { skip: !hasDocker && 'the docker CLI is not installed' }, () => {
  const bip = freeSubnets(1)[0]!;
  const [subA, subB, subI] = freeSubnets(4).filter((s) => s !== bip);
  const d = new TestDaemon(['--bip', `${base(bip)}.1/24`]);
  const tag = d.bridge;
  const madeBridges: string[] = [];
  const docker = async (...args: string[]) => {
    const r = await d.docker(args);
    assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  };
  const inspect = async (name: string) => JSON.parse(await docker('inspect', name))[0];
  const createNet = async (...args: string[]) => {
    const id = await docker('network', 'create', ...args);
    madeBridges.push(`br-${id.slice(0, 12)}`);
    return id;
  };

  before(async () => {
    await d.start();
    await d.seedBusybox();
  });

  after(async () => {
    try {
      for (const c of (await d.request('GET', '/containers/json?all=1')).json()) await d.request('DELETE', `/containers/${c.Id}?force=1`);
      await d.request('POST', '/networks/prune');
      // The daemon's own shutdown must leave nothing of its own on the host.
      await d.kill();
      const left = hostState(tag, [tag, ...madeBridges]);
      assert.deepEqual(left, { links: [], netns: [], rules: [] }, `left on the host: ${JSON.stringify(left)}`);
    } finally {
      await d.stop();
    }
  });

  test('the default bridge: a veth with an address from the bip subnet, a default route, NAT; no names', async () => {
    await docker('run', '-d', '--name', 'b1', 'busybox', ...HTTPD('hello-b1'));
    const b1 = await inspect('b1');
    const ip = b1.NetworkSettings.IPAddress as string;
    assert.match(ip, new RegExp(`^${base(bip).replace(/\./g, '\\.')}\\.\\d+$`));
    assert.equal(b1.NetworkSettings.Gateway, `${base(bip)}.1`);
    assert.equal(b1.NetworkSettings.IPPrefixLen, 24);
    assert.equal(b1.NetworkSettings.Networks.bridge.IPAddress, ip);
    assert.match(b1.NetworkSettings.Networks.bridge.MacAddress, /^02:42:/);
    assert.match(b1.NetworkSettings.SandboxKey, new RegExp(`/run/netns/${tag}-`));
    const bridgeNet = JSON.parse(await docker('network', 'inspect', 'bridge'))[0];
    assert.equal(bridgeNet.Options['com.docker.network.bridge.name'], tag);
    assert.equal(bridgeNet.IPAM.Config[0].Subnet, bip);
    assert.equal(bridgeNet.Containers[b1.Id].IPv4Address, `${ip}/24`);

    const out = await docker(
      'run', '--rm', '--dns', '127.0.0.1', 'busybox', 'sh', '-c',
      `ip route; cat /etc/resolv.conf; wget -qO- http://${ip}/; timeout 3 wget -qO- http://b1/ 2>/dev/null || echo no-name`,
    );
    assert.match(out, new RegExp(`default via ${base(bip).replace(/\./g, '\\.')}\\.1 dev eth0`));
    assert.match(out, /nameserver 127\.0\.0\.1\n/);
    assert.doesNotMatch(out, /127\.0\.0\.11/);
    assert.match(out, /hello-b1/);
    assert.match(out, /no-name/);
    const nat = spawnSync('iptables-save', ['-t', 'nat'], { encoding: 'utf8' }).stdout;
    assert.ok(nat.includes(`-A BERTH-POST-${tag} -s ${bip} ! -o ${tag} -j MASQUERADE`), nat);
  });

  test('a user-defined network: containers reach each other by name, alias and short id', async () => {
    const id = await createNet('--subnet', subA!, '--label', 'team=net', 'neta');
    const dup = await d.docker(['network', 'create', 'neta']);
    assert.notEqual(dup.code, 0);
    assert.match(dup.stderr, /network with name neta already exists/);

    const web = await docker('run', '-d', '--name', 'web', '--network', 'neta', '--network-alias', 'www', 'busybox', ...HTTPD('hello-web'));
    const out = await docker(
      'run', '--rm', '--network', 'neta', 'busybox', 'sh', '-c',
      `cat /etc/resolv.conf; ping -c1 -W2 web >/dev/null && echo ping-ok; wget -qO- http://web/; wget -qO- http://www/; wget -qO- http://${web.slice(0, 12)}/; nslookup web.neta 127.0.0.11`,
    );
    assert.match(out, /nameserver 127\.0\.0\.11\n/);
    assert.match(out, /options ndots:0/);
    assert.match(out, /ping-ok/);
    assert.equal(out.match(/hello-web/g)?.length, 3, out);
    const webIp = (await inspect('web')).NetworkSettings.Networks.neta.IPAddress as string;
    assert.ok(out.includes(`Address: ${webIp}`), out);

    const w = await inspect('web');
    assert.equal(w.NetworkSettings.IPAddress, '', 'the legacy fields are for the default bridge only');
    const ep = w.NetworkSettings.Networks.neta;
    assert.equal(ep.NetworkID, id);
    assert.deepEqual(ep.Aliases, ['www']);
    assert.deepEqual(ep.DNSNames, ['web', 'www', web.slice(0, 12)]);
    assert.equal(ep.Gateway, `${base(subA!)}.1`);

    const n = JSON.parse(await docker('network', 'inspect', 'neta'))[0];
    assert.equal(n.Name, 'neta');
    assert.equal(n.Scope, 'local');
    assert.equal(n.Driver, 'bridge');
    assert.deepEqual(n.IPAM.Config, [{ Subnet: subA, Gateway: `${base(subA!)}.1` }]);
    assert.deepEqual(n.Labels, { team: 'net' });
    assert.equal(n.Containers[web].Name, 'web');
    assert.equal(n.Containers[web].IPv4Address, `${webIp}/24`);

    assert.equal(await docker('network', 'ls', '--filter', 'label=team=net', '--format', '{{.Name}}'), 'neta');
    assert.equal(await docker('network', 'ls', '--filter', 'type=custom', '--format', '{{.Name}} {{.Driver}} {{.Scope}}'), 'neta bridge local');
    assert.deepEqual((await docker('network', 'ls', '--filter', 'type=builtin', '--format', '{{.Name}}')).split('\n').sort(), ['bridge', 'host', 'none']);
    assert.equal(await docker('network', 'ls', '-q', '--filter', 'name=neta'), id.slice(0, 12));
    assert.equal(await docker('ps', '--filter', 'network=neta', '--format', '{{.Names}} {{.Networks}}'), 'web neta');
  });

  test('a port published on 127.0.0.1 answers from the host, docker port shows it, stop takes it away', async () => {
    const port = await freePort();
    await docker('run', '-d', '--name', 'pubweb', '-p', `127.0.0.1:${port}:80`, '-p', '127.0.0.1::80', 'busybox', ...HTTPD('hello-published'));
    assert.equal(await eventually(() => httpGet(port)), 'hello-published\n');
    const wget = spawnSync('busybox', ['wget', '-qO-', `http://127.0.0.1:${port}/`], { encoding: 'utf8' });
    assert.equal(wget.stdout, 'hello-published\n');

    const lines = (await docker('port', 'pubweb')).split('\n');
    assert.ok(lines.includes(`80/tcp -> 127.0.0.1:${port}`), lines.join('\n'));
    const other = lines.find((l) => l !== `80/tcp -> 127.0.0.1:${port}`)!;
    const ephemeral = Number(other.split(':').at(-1));
    const [low, high] = spawnSync('cat', ['/proc/sys/net/ipv4/ip_local_port_range'], { encoding: 'utf8' }).stdout.trim().split(/\s+/).map(Number);
    assert.ok(ephemeral >= low! && ephemeral <= high!, `${ephemeral} in ${low}-${high}`);
    assert.equal(await eventually(() => httpGet(ephemeral)), 'hello-published\n');

    const ps = await docker('ps', '--filter', 'name=pubweb', '--format', '{{.Ports}}');
    assert.ok(ps.includes(`127.0.0.1:${port}->80/tcp`), ps);
    const rows = (await d.request('GET', '/containers/json?filters=' + encodeURIComponent(JSON.stringify({ name: ['pubweb'] })))).json();
    assert.deepEqual(
      rows[0].Ports.find((p: { PublicPort: number }) => p.PublicPort === port),
      { IP: '127.0.0.1', PrivatePort: 80, PublicPort: port, Type: 'tcp' },
    );

    const ip = (await inspect('pubweb')).NetworkSettings.IPAddress as string;
    assert.ok(spawnSync('iptables-save', ['-t', 'nat'], { encoding: 'utf8' }).stdout.includes(`-s ${ip}/32 -d ${ip}/32`));
    await docker('stop', '-t', '1', 'pubweb');
    await assert.rejects(httpGet(port));
    const after = hostState(tag, []);
    assert.equal(after.rules.filter((r) => r.includes(`${ip}/32`)).length, 0, after.rules.join('\n'));
    assert.equal((await inspect('pubweb')).NetworkSettings.IPAddress, '');

    // -P: every exposed port on a port the kernel picks, on all addresses (the proxy answers on loopback).
    await docker('run', '-d', '--name', 'allports', '--expose', '80', '-P', 'busybox', ...HTTPD('hello-all'));
    const all = await docker('port', 'allports', '80');
    // As Docker 28 on a host with IPv6: the same port on [::] too.
    assert.match(all, /^0\.0\.0\.0:(\d+)(\n\[::\]:\1)?$/);
    assert.equal(await eventually(() => httpGet(Number(all.split('\n')[0]!.split(':')[1]))), 'hello-all\n');
    await docker('rm', '-f', 'allports');

    // Started again: attached again, with the same published port.
    await docker('start', 'pubweb');
    assert.equal(await eventually(() => httpGet(port)), 'hello-published\n');
    await docker('rm', '-f', 'pubweb');
    await assert.rejects(httpGet(port));
  });

  test('a port in use: Docker’s errors, and the container is not left half-wired', async () => {
    const port = await freePort();
    await docker('run', '-d', '--name', 'holder', '-p', `127.0.0.1:${port}:80`, 'busybox', ...HTTPD('holder'));
    const before = hostState(tag, []).netns.length;
    const taken = await d.docker(['run', '-d', '--name', 'second', '-p', `127.0.0.1:${port}:80`, 'busybox', 'sleep', '100']);
    assert.equal(taken.code, 125);
    assert.match(taken.stderr, new RegExp(`driver failed programming external connectivity on endpoint second \\([0-9a-f]{64}\\): Bind for 127\\.0\\.0\\.1:${port} failed: port is already allocated`));
    assert.equal((await inspect('second')).State.Status, 'created');
    assert.equal(hostState(tag, []).netns.length, before);

    const foreign = net.createServer();
    const fport = await new Promise<number>((r) => foreign.listen(0, '127.0.0.1', () => r((foreign.address() as net.AddressInfo).port)));
    try {
      const busy = await d.docker(['run', '-d', '--name', 'third', '-p', `127.0.0.1:${fport}:80`, 'busybox', 'sleep', '100']);
      assert.equal(busy.code, 125);
      assert.match(busy.stderr, new RegExp(`failed to bind host port for 127\\.0\\.0\\.1:${fport}:[0-9.]+:80/tcp: address already in use`));
      assert.equal(hostState(tag, []).netns.length, before);
    } finally {
      foreign.close();
    }
    assert.equal(await httpGet(port), 'holder\n');
    await docker('rm', '-f', 'holder', 'second', 'third');
  });

  test('an internal network has no way out', async () => {
    await createNet('--internal', '--subnet', subI!, 'neti');
    await docker('run', '-d', '--name', 'outside', 'busybox', ...HTTPD('outside'));
    const outsideIp = (await inspect('outside')).NetworkSettings.IPAddress as string;
    const out = await docker(
      'run', '--rm', '--network', 'neti', '--dns', '127.0.0.1', 'busybox', 'sh', '-c',
      `ip route; timeout 3 wget -qO- http://${outsideIp}/ 2>&1 || echo no-way-out`,
    );
    assert.doesNotMatch(out, /default/);
    assert.match(out, /no-way-out/);
    assert.doesNotMatch(out, /^outside$/m);
    assert.equal(JSON.parse(await docker('network', 'inspect', 'neti'))[0].Internal, true);
    const nat = spawnSync('iptables-save', ['-t', 'nat'], { encoding: 'utf8' }).stdout;
    assert.ok(!nat.includes(`-s ${subI} `), 'no masquerade for an internal network');
    await docker('rm', '-f', 'outside');
  });

  test('connect and disconnect change a running container’s networks at once', async () => {
    await createNet('--subnet', subB!, 'netb');
    const fixed = `${base(subA!)}.100`;
    await docker('run', '-d', '--name', 'roamer', '--network', 'neta', '--ip', fixed, 'busybox', ...HTTPD('roamer'));
    assert.equal((await inspect('roamer')).NetworkSettings.Networks.neta.IPAddress, fixed);
    const fromB = () => d.docker(['run', '--rm', '--network', 'netb', '--dns', '127.0.0.1', 'busybox', 'sh', '-c', 'timeout 3 wget -qO- http://roamer/ 2>/dev/null || echo unreachable']);
    assert.match((await fromB()).stdout, /unreachable/);

    await docker('network', 'connect', '--alias', 'wanderer', 'netb', 'roamer');
    const connected = await docker('run', '--rm', '--network', 'netb', 'busybox', 'sh', '-c', 'wget -qO- http://roamer/; wget -qO- http://wanderer/');
    assert.equal(connected, 'roamer\nroamer');
    const again = await d.docker(['network', 'connect', 'netb', 'roamer']);
    assert.match(again.stderr, /endpoint with name roamer already exists in network netb/);

    await docker('network', 'disconnect', 'neta', 'roamer');
    const cut = await docker(
      'run', '--rm', '--network', 'neta', '--dns', '127.0.0.1', 'busybox', 'sh', '-c',
      `timeout 3 wget -qO- http://roamer/ 2>/dev/null || echo no-name; timeout 3 wget -qO- http://${fixed}/ 2>/dev/null || echo no-address`,
    );
    assert.equal(cut, 'no-name\nno-address');
    const nets = Object.keys((await inspect('roamer')).NetworkSettings.Networks);
    assert.deepEqual(nets, ['netb']);
    assert.equal((await fromB()).stdout.trim(), 'roamer');
    await docker('rm', '-f', 'roamer');
  });

  test('removing networks: pre-defined ones and ones in use are refused with Docker’s errors; prune', async () => {
    const bridge = await d.request('DELETE', '/networks/bridge');
    assert.equal(bridge.status, 403);
    assert.equal(bridge.json().message, 'bridge is a pre-defined network and cannot be removed');
    const inUse = await d.request('DELETE', '/networks/neta');
    assert.equal(inUse.status, 403);
    const webEp = (await inspect('web')).NetworkSettings.Networks.neta.EndpointID as string;
    assert.equal(inUse.json().message, `error while removing network: network neta has active endpoints (name:"web" id:"${webEp.slice(0, 12)}")`);
    assert.equal((await d.request('GET', '/networks/nope')).status, 404);

    await createNet('--subnet', freeSubnets(1)[0]!, 'unused');
    const pruned = (await d.request('POST', '/networks/prune')).json();
    assert.ok(pruned.NetworksDeleted.includes('unused'));
    assert.ok(!pruned.NetworksDeleted.includes('neta'));
    assert.ok(!pruned.NetworksDeleted.includes('bridge'));
    assert.equal((await d.request('GET', '/networks/unused')).status, 404);
  });

  test('/etc/hosts and resolv.conf: --hostname, --add-host host-gateway, --dns-search, --dns-option', async () => {
    const out = await docker(
      'run', '--rm', '--network', 'neta', '--hostname', 'myhost', '--add-host', 'hg:host-gateway', '--add-host', 'fixed:10.9.8.7',
      '--dns-search', 'example.test', '--dns-option', 'timeout:1', 'busybox', 'sh', '-c', 'cat /etc/hosts /etc/resolv.conf; hostname',
    );
    assert.match(out, new RegExp(`^${base(bip).replace(/\./g, '\\.')}\\.1\thg$`, 'm'));
    assert.match(out, /^10\.9\.8\.7\tfixed$/m);
    assert.match(out, new RegExp(`^${base(subA!).replace(/\./g, '\\.')}\\.\\d+\tmyhost$`, 'm'));
    assert.match(out, /^nameserver 127\.0\.0\.11$/m);
    assert.match(out, /^search example\.test$/m);
    assert.match(out, /^options timeout:1 ndots:0$/m);
    assert.match(out, /^myhost$/m);
  });

  test('host and none networks, and --network container:<name>', async () => {
    const none = await docker('run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'ip -o link | wc -l; ip route | wc -l');
    assert.equal(none, '1\n0');
    await docker('run', '-d', '--name', 'nsowner', '--network', 'neta', 'busybox', 'sleep', '1000');
    const ownerIp = (await inspect('nsowner')).NetworkSettings.Networks.neta.IPAddress as string;
    const joined = await docker('run', '--rm', '--network', 'container:nsowner', 'busybox', 'ip', '-4', '-o', 'addr', 'show', 'eth0');
    assert.ok(joined.includes(`inet ${ownerIp}/24`), joined);
    const host = await docker('run', '--rm', '--network', 'host', 'busybox', 'sh', '-c', 'ip -o link');
    assert.ok(host.includes(tag), 'the host namespace shows the daemon’s bridge');
    // The CLI refuses this itself; the API answers as dockerd does.
    const hostEp = await d.request('POST', '/containers/create', {
      Image: 'busybox',
      Cmd: ['true'],
      HostConfig: { NetworkMode: 'bridge' },
      NetworkingConfig: { EndpointsConfig: { bridge: { Aliases: ['x'], IPAMConfig: { IPv4Address: `${base(bip)}.77` } } } },
    });
    assert.equal(hostEp.status, 400);
    assert.equal(
      hostEp.json().message,
      'invalid config for network bridge: invalid endpoint settings:\nuser specified IP address is supported on user defined networks only\nnetwork-scoped alias is supported only for containers in user defined networks',
    );
    // As dockerd: a missing network is no error at create, only at start.
    const missing = await d.docker(['run', '--name', 'lost', '--network', 'nosuchnet', 'busybox', 'true']);
    assert.equal(missing.code, 125);
    assert.match(missing.stderr, /failed to set up container networking: network nosuchnet not found/);
    await docker('rm', 'lost');
    await docker('rm', '-f', 'nsowner');
  });

  test('a daemon killed with -9 comes back with the ports and names of the containers still running', async () => {
    const port = await freePort();
    await docker('run', '-d', '--name', 'survivor', '--network', 'neta', '-p', `127.0.0.1:${port}:80`, 'busybox', ...HTTPD('survivor'));
    assert.equal(await eventually(() => httpGet(port)), 'survivor\n');
    await d.kill('SIGKILL');
    await d.start();
    assert.equal(await eventually(() => httpGet(port)), 'survivor\n');
    const out = await docker('run', '--rm', '--network', 'neta', 'busybox', 'wget', '-qO-', 'http://survivor/');
    assert.equal(out, 'survivor');
    await docker('rm', '-f', 'survivor');
    await assert.rejects(httpGet(port));
  });
});
