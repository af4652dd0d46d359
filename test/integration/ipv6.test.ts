import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { TestDaemon, freeSubnet24, hasDocker } from './harness.js';

/**
 * IPv6 through the official docker CLI against daemons of the test's own: dual-stack networks, static
 * IPv6 addresses, IPv6 published ports, the ip6tables chains, the default bridge with --ipv6, and
 * Docker's errors. Subnets are random ULA /64s (fdXX:...) that no host route overlaps; traffic goes only
 * to [::1] and to addresses on the bridges these tests make.
 */

/** Why IPv6 cannot be tested here, or '' if it can. */
function noIPv6Reason(): string {
  const disabled = readFileSync('/proc/sys/net/ipv6/conf/all/disable_ipv6', 'utf8').trim();
  if (disabled !== '0') return 'IPv6 is disabled on this host (net.ipv6.conf.all.disable_ipv6=1)';
  const lo = spawnSync('ip', ['-6', 'addr', 'show', 'dev', 'lo'], { encoding: 'utf8' }).stdout;
  if (!lo.includes('::1/128')) return 'the loopback interface has no ::1';
  if (spawnSync('ip6tables', ['-w', '-t', 'nat', '-S'], { stdio: 'ignore' }).status !== 0) return 'ip6tables (nat table) does not work here';
  return '';
}

/** A random ULA /64 that overlaps no IPv6 route of the host ("fdab:cdef:1234:5678::/64"). */
function freeUla64(): string {
  const routes = spawnSync('ip', ['-6', 'route', 'show'], { encoding: 'utf8' }).stdout;
  for (;;) {
    const h = randomBytes(7).toString('hex');
    const prefix = `fd${h.slice(0, 2)}:${h.slice(2, 6)}:${h.slice(6, 10)}:${h.slice(10, 14)}`.replace(/:0+(?=[0-9a-f])/g, ':');
    if (!routes.includes(prefix.slice(0, 9))) return `${prefix}::/64`;
  }
}

const v6base = (subnet: string) => subnet.replace(/::\/64$/, '');

async function freePort6(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen({ port: 0, host: '::1', ipv6Only: true }, () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

function httpGet(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path: '/', timeout: 2000 }, (res) => {
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

function ip6tablesLines(tag: string, bridges: string[]): string[] {
  return spawnSync('ip6tables-save', [], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter((l) => l.includes(tag) || bridges.some((b) => l.includes(b)));
}

const HTTPD = (text: string) => ['sh', '-c', `echo ${text} > /tmp/index.html; exec httpd -f -h /tmp`];

const skip = !hasDocker ? 'the docker CLI is not installed' : noIPv6Reason();

describe('IPv6', { skip: skip || false }, () => {
  const d = new TestDaemon();
  const tag = d.bridge;
  const madeBridges: string[] = [];
  const sub6 = freeUla64();
  const sub4 = freeSubnet24();
  const docker = async (...args: string[]) => {
    const r = await d.docker(args);
    assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  };
  const fails = async (...args: string[]) => {
    const r = await d.docker(args);
    assert.notEqual(r.code, 0, `docker ${args.join(' ')} should fail: ${r.stdout}`);
    return r.stderr.trim();
  };
  const inspect = async (name: string) => JSON.parse(await docker('inspect', name))[0];

  before(async () => {
    await d.start();
    await d.seedBusybox();
    const id = await docker('network', 'create', '--ipv6', '--subnet', sub6, '--subnet', sub4, 'net6');
    madeBridges.push(`br-${id.slice(0, 12)}`);
  });

  after(async () => {
    try {
      for (const c of (await d.request('GET', '/containers/json?all=1')).json()) await d.request('DELETE', `/containers/${c.Id}?force=1`);
      await d.request('POST', '/networks/prune');
      await d.kill();
      assert.deepEqual(ip6tablesLines(tag, madeBridges), [], 'ip6tables rules left after the daemon stopped');
    } finally {
      await d.stop();
    }
  });

  test('a dual-stack network: both subnets with gateways, the IPv6 gateway on the bridge, forwarding, ip6tables NAT', async () => {
    const n = JSON.parse(await docker('network', 'inspect', 'net6'))[0];
    assert.equal(n.EnableIPv6, true);
    assert.deepEqual(n.IPAM.Config, [
      { Subnet: sub4, Gateway: sub4.replace(/\.0\/24$/, '.1') },
      { Subnet: sub6, Gateway: `${v6base(sub6)}::1` },
    ]);
    const bridge = madeBridges[0]!;
    const addrs = spawnSync('ip', ['-6', 'addr', 'show', 'dev', bridge], { encoding: 'utf8' }).stdout;
    assert.match(addrs, new RegExp(`inet6 ${v6base(sub6)}::1/64 scope global`));
    assert.equal(readFileSync('/proc/sys/net/ipv6/conf/all/forwarding', 'utf8').trim(), '1');
    const nat = spawnSync('ip6tables-save', ['-t', 'nat'], { encoding: 'utf8' }).stdout;
    assert.ok(nat.includes(`-A BERTH-POST-${tag} -s ${sub6} ! -o ${bridge} -j MASQUERADE`), nat);
    const filter = spawnSync('ip6tables-save', ['-t', 'filter'], { encoding: 'utf8' }).stdout;
    assert.ok(filter.includes(`-A FORWARD -j BERTH-FWD-${tag}`), filter);
  });

  test('containers get IPv6 addresses (dynamic and --ip6), a default IPv6 route, reach the gateway and each other, and AAAA names', async () => {
    await docker('run', '-d', '--name', 'a6', '--network', 'net6', 'busybox', 'sleep', '300');
    const staticIp = `${v6base(sub6)}::beef`;
    await docker('run', '-d', '--name', 'b6', '--network', 'net6', '--ip6', staticIp, 'busybox', ...HTTPD('hello-v6'));
    const a = await inspect('a6');
    const b = await inspect('b6');
    const ea = a.NetworkSettings.Networks.net6;
    const eb = b.NetworkSettings.Networks.net6;
    assert.equal(ea.GlobalIPv6Address, `${v6base(sub6)}::2`);
    assert.equal(ea.GlobalIPv6PrefixLen, 64);
    assert.equal(ea.IPv6Gateway, `${v6base(sub6)}::1`);
    assert.equal(eb.GlobalIPv6Address, staticIp);
    assert.equal(eb.IPAMConfig.IPv6Address, staticIp);
    const n = JSON.parse(await docker('network', 'inspect', 'net6'))[0];
    assert.equal(n.Containers[b.Id].IPv6Address, `${staticIp}/64`);

    const out = await docker(
      'exec', 'a6', 'sh', '-c',
      `ip -6 route; ping6 -c1 -W2 ${v6base(sub6)}::1 >/dev/null && echo gw-ok; ping6 -c1 -W2 ${staticIp} >/dev/null && echo peer-ok; wget -qO- http://[${staticIp}]/; nslookup -type=AAAA b6 127.0.0.11`,
    );
    assert.match(out, new RegExp(`default via ${v6base(sub6)}::1 dev eth0`));
    assert.match(out, /gw-ok/);
    assert.match(out, /peer-ok/);
    assert.match(out, /hello-v6/);
    assert.match(out, new RegExp(`Address: ${staticIp}`));
  });

  test('a port published on [::1] answers from the host, through the proxy to the container’s IPv6 address', async () => {
    const port = await freePort6();
    await docker('run', '-d', '--name', 'web6', '--network', 'net6', '-p', `[::1]:${port}:80`, 'busybox', ...HTTPD('hello-loopback6'));
    assert.match(await eventually(() => httpGet('::1', port)), /hello-loopback6/);
    const w = await inspect('web6');
    assert.deepEqual(w.NetworkSettings.Ports['80/tcp'], [{ HostIp: '::1', HostPort: String(port) }]);
    assert.match(await docker('port', 'web6'), new RegExp(`80/tcp -> \\[::1\\]:${port}`));
  });

  test('a container without IPv6 is reached from [::1] over IPv4 by the proxy', async () => {
    const port = await freePort6();
    await docker('run', '-d', '--name', 'web4', '-p', `[::1]:${port}:80`, 'busybox', ...HTTPD('hello-v4-only'));
    assert.match(await eventually(() => httpGet('::1', port)), /hello-v4-only/);
    assert.equal((await inspect('web4')).NetworkSettings.Networks.bridge.GlobalIPv6Address, '');
    // As dockerd: an IPv4-only network's interface has no IPv6 address at all, not even a link-local one.
    assert.doesNotMatch(await docker('exec', 'web4', 'ip', '-6', 'addr', 'show', 'dev', 'eth0'), /inet6/);
    assert.match(await docker('exec', 'a6', 'ip', '-6', 'addr', 'show', 'dev', 'eth0'), /inet6 fe80:/);
  });

  test('--ipv6 without an IPv6 subnet takes a /64 of the default ULA pool', async () => {
    const id = await docker('network', 'create', '--ipv6', '--subnet', freeSubnet24(), 'auto6');
    madeBridges.push(`br-${id.slice(0, 12)}`);
    const n = JSON.parse(await docker('network', 'inspect', 'auto6'))[0];
    assert.equal(n.EnableIPv6, true);
    const v6 = n.IPAM.Config.find((c: { Subnet: string }) => c.Subnet.includes(':'));
    assert.match(v6.Subnet, /^fd[0-9a-f]{2}:[0-9a-f]{1,4}:[0-9a-f]{1,4}:[0-9a-f]{0,4}:?:\/64$/);
    assert.notEqual(v6.Subnet, sub6);
    await docker('network', 'rm', 'auto6');
  });

  test('bad input: Docker’s errors, and nothing left behind', async () => {
    assert.match(await fails('network', 'create', '--ipv6', '--subnet', 'fd00:zz::/64', 'bad1'), /invalid subnet fd00:zz::\/64: invalid CIDR block notation/);
    assert.match(await fails('network', 'create', '--ipv6', '--subnet', `${v6base(sub6)}::1/64`, 'bad2'), new RegExp(`it should be ${v6base(sub6)}::/64`));
    assert.match(await fails('network', 'create', '--ipv6', '--subnet', sub6.replace('/64', '/80'), 'bad3'), /Pool overlaps with other one on this address space/);
    const names = (await docker('network', 'ls', '--format', '{{.Name}}')).split('\n');
    assert.ok(!names.some((x) => x.startsWith('bad')), names.join(','));
    const links = spawnSync('ip', ['-j', 'link', 'show'], { encoding: 'utf8' }).stdout;
    const ours = (JSON.parse(links) as Array<{ ifalias?: string }>).filter((l) => l.ifalias === `berth:${tag}`).length;
    assert.equal(ours, 2, 'only the default bridge and net6 exist');

    const outside = 'fd99:1:2:3::5';
    assert.match(await fails('run', '--rm', '--network', 'net6', '--ip6', outside, 'busybox', 'true'), new RegExp(`no configured subnet or ip-range contain the IP address ${outside}`));
    const plain = await docker('network', 'create', '--subnet', freeSubnet24(), 'plain4');
    madeBridges.push(`br-${plain.slice(0, 12)}`);
    assert.match(await fails('run', '--rm', '--network', 'plain4', '--ip6', `${v6base(sub6)}::9`, 'busybox', 'true'), /no configured subnet or ip-range contain the IP address/);
    assert.match(await fails('run', '--rm', '--network', 'net6', '--ip6', 'not-an-ip', 'busybox', 'true'), /invalid IPv6 address: not-an-ip/);
    const all = (await docker('ps', '-a', '--format', '{{.Names}}')).split('\n').filter(Boolean);
    assert.deepEqual(all.sort(), ['a6', 'b6', 'web4', 'web6']);
    await docker('network', 'rm', 'plain4');
  });

  test('after a daemon restart: the bridge’s IPv6 gateway, the ip6tables chains and the static IPv6 address come back', async () => {
    await d.kill();
    const bridge = madeBridges[0]!;
    assert.deepEqual(ip6tablesLines(tag, [bridge]), [], 'rules removed at shutdown');
    await d.start();
    const addrs = spawnSync('ip', ['-6', 'addr', 'show', 'dev', bridge], { encoding: 'utf8' }).stdout;
    assert.match(addrs, new RegExp(`inet6 ${v6base(sub6)}::1/64 scope global`));
    assert.ok(spawnSync('ip6tables-save', ['-t', 'nat'], { encoding: 'utf8' }).stdout.includes(`-s ${sub6} ! -o ${bridge} -j MASQUERADE`));
    await docker('start', 'b6', 'a6');
    const staticIp = `${v6base(sub6)}::beef`;
    assert.equal((await inspect('b6')).NetworkSettings.Networks.net6.GlobalIPv6Address, staticIp);
    assert.match(await docker('exec', 'a6', 'sh', '-c', `ping6 -c1 -W2 ${staticIp} >/dev/null && echo peer-ok`), /peer-ok/);
  });
});

describe('IPv6 on the default bridge (--ipv6, --fixed-cidr-v6)', { skip: skip || false }, () => {
  const sub6 = freeUla64();
  const d = new TestDaemon(['--ipv6', '--fixed-cidr-v6', sub6]);
  const docker = async (...args: string[]) => {
    const r = await d.docker(args);
    assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  };

  before(async () => {
    await d.start();
    await d.seedBusybox();
  });

  after(async () => {
    try {
      await d.kill();
      assert.deepEqual(ip6tablesLines(d.bridge, [d.bridge]), [], 'ip6tables rules left after the daemon stopped');
    } finally {
      await d.stop();
    }
  });

  test('default-bridge containers get an address of --fixed-cidr-v6 and the legacy NetworkSettings fields', async () => {
    const n = JSON.parse(await docker('network', 'inspect', 'bridge'))[0];
    assert.equal(n.EnableIPv6, true);
    assert.deepEqual(n.IPAM.Config[1], { Subnet: sub6, Gateway: `${v6base(sub6)}::1` });
    await docker('run', '-d', '--name', 'c6', 'busybox', 'sleep', '300');
    const c = JSON.parse(await docker('inspect', 'c6'))[0];
    assert.equal(c.NetworkSettings.GlobalIPv6Address, `${v6base(sub6)}::2`);
    assert.equal(c.NetworkSettings.GlobalIPv6PrefixLen, 64);
    assert.equal(c.NetworkSettings.IPv6Gateway, `${v6base(sub6)}::1`);
    const out = await docker('exec', 'c6', 'sh', '-c', `ping6 -c1 -W2 ${v6base(sub6)}::1 >/dev/null && echo gw-ok`);
    assert.match(out, /gw-ok/);
  });
});
