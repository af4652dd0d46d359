import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ipam6, defaultUlaPool, formatCidr6, formatIPv6, parseCidr6, parseIPv6, pickSubnet6, pool6From } from '../../src/networks/ipv6.js';
import { render } from '../../src/networks/firewall.js';
import { portRequests } from '../../src/networks/ports.js';

test('ipv6: parsing and RFC 5952 text as Go prints it', () => {
  const round = (s: string) => formatIPv6(parseIPv6(s)!);
  assert.equal(round('FD00:0:0:0:0:0:0:1'), 'fd00::1');
  assert.equal(round('2001:db8:0:0:1:0:0:1'), '2001:db8::1:0:0:1');
  assert.equal(round('2001:db8::'), '2001:db8::');
  assert.equal(round('::'), '::');
  assert.equal(round('::1'), '::1');
  assert.equal(round('fd12:3:4:5:6:7:8:9'), 'fd12:3:4:5:6:7:8:9');
  assert.equal(round('2001:db8:0:1:1:1:1:1'), '2001:db8:0:1:1:1:1:1');
  assert.equal(round('::ffff:c000:201'), '::ffff:192.0.2.1');
  for (const bad of ['fd00::zz', '1::2::3', '1:2:3:4:5:6:7:8:9', '[::1]', '10.0.0.1', '', 'fd00:::1']) assert.equal(parseIPv6(bad), undefined, bad);
  const c = parseCidr6('fd00:1::5/64')!;
  assert.equal(formatCidr6(c.cidr), 'fd00:1::/64');
  assert.equal(formatIPv6(c.ip), 'fd00:1::5');
  assert.equal(parseCidr6('fd00::/129'), undefined);
});

test('ipv6: Docker’s IPAM checks, the ULA default pool, first free address, static addresses', () => {
  assert.throws(() => pool6From({ Subnet: 'fd00:zz::/64' }, () => undefined), /invalid subnet fd00:zz::\/64: invalid CIDR block notation/);
  assert.throws(() => pool6From({ Subnet: 'fd00:1::1/64' }, () => undefined), /invalid subnet fd00:1::1\/64: it should be fd00:1::\/64/);
  assert.throws(() => pool6From({ Subnet: 'fd00:1::/64', Gateway: 'fd00:2::1' }, () => undefined), /parent subnet fd00:1::\/64 doesn't contain this address/);
  assert.throws(() => pool6From({ Subnet: 'fd00:1::/64', IPRange: 'fd00:1::/48' }, () => undefined), /CIDR block is bigger than its parent subnet/);
  const pool = pool6From({ Subnet: 'fd00:1::/64', IPRange: 'fd00:1::100/120' }, () => undefined);
  assert.equal(formatIPv6(pool.gateway), 'fd00:1::1');

  const ula = defaultUlaPool('some-id');
  assert.equal(ula.prefix, 48);
  assert.match(formatCidr6(ula), /^fd[0-9a-f]{2}:[0-9a-f]{1,4}:[0-9a-f]{1,4}::\/48$/);
  assert.deepEqual(defaultUlaPool('some-id'), ula, 'stable for one identity');
  assert.notDeepEqual(defaultUlaPool('other-id'), ula);
  const first = pickSubnet6('some-id', [])!;
  assert.equal(first.prefix, 64);
  assert.equal(first.addr, ula.addr);
  const second = pickSubnet6('some-id', [first])!;
  assert.equal(second.addr, ula.addr | (1n << 64n));

  const ipam = new Ipam6();
  ipam.addNetwork('n', pool);
  assert.equal(formatIPv6(ipam.allocate('n')), 'fd00:1::100');
  assert.equal(formatIPv6(ipam.allocate('n')), 'fd00:1::101');
  assert.equal(formatIPv6(ipam.allocate('n', parseIPv6('fd00:1::beef'))), 'fd00:1::beef');
  assert.throws(() => ipam.allocate('n', parseIPv6('fd00:1::beef')), /Address already in use/);
  assert.throws(() => ipam.allocate('n', parseIPv6('fd00:1::1')), /Address already in use/);
  assert.throws(() => ipam.allocate('n', parseIPv6('fd00:2::5')), /no configured subnet or ip-range contain the IP address fd00:2::5/);
  ipam.release('n', parseIPv6('fd00:1::100')!);
  assert.equal(formatIPv6(ipam.allocate('n')), 'fd00:1::100');
});

test('ip6tables: the same chains, IPv6 masquerade, DNAT to [address]:port, loopback left to the proxy', () => {
  const text = render(
    'bt1',
    {
      networks: [{ bridge: 'br-x', subnet: 'fd00:1::/64', internal: false, masquerade: true, icc: true }],
      ports: [
        { proto: 'tcp', hostIp: '::', hostPort: 8080, containerIp: 'fd00:1::2', containerPort: 80, bridge: 'br-x' },
        { proto: 'tcp', hostIp: '::1', hostPort: 8081, containerIp: 'fd00:1::2', containerPort: 81, bridge: 'br-x' },
      ],
    },
    { userlandProxy: true, family: 6 },
  );
  const lines = text.split('\n');
  assert.ok(lines.includes('-A BERTH-POST-bt1 -s fd00:1::/64 ! -o br-x -j MASQUERADE'), text);
  assert.ok(lines.includes('-A BERTH-bt1 ! -i br-x -p tcp -m tcp --dport 8080 -j DNAT --to-destination [fd00:1::2]:80'), text);
  assert.ok(lines.includes('-A BERTH-FWD-bt1 -d fd00:1::2/128 ! -i br-x -o br-x -p tcp -m tcp --dport 80 -j ACCEPT'), text);
  assert.ok(!text.includes('--dport 8081 -j DNAT'), 'a port on ::1 goes through the proxy');
});

test('ports: [::1] and other IPv6 host addresses; a binding without an address on 0.0.0.0 and [::] with one port', () => {
  assert.deepEqual(portRequests({ '80/tcp': [{ HostIp: '[::1]', HostPort: '8080' }, { HostIp: '0:0::1', HostPort: '8081' }] }, false, {}), [
    { proto: 'tcp', containerPort: 80, hostIp: '::1', hostPortStart: 8080, hostPortEnd: 8080 },
    { proto: 'tcp', containerPort: 80, hostIp: '::1', hostPortStart: 8081, hostPortEnd: 8081 },
  ]);
  assert.deepEqual(portRequests({ '80/tcp': [{ HostIp: '', HostPort: '8080' }, { HostIp: '127.0.0.1', HostPort: '8081' }] }, false, {}, '0.0.0.0', true), [
    { proto: 'tcp', containerPort: 80, hostIp: '0.0.0.0', hostPortStart: 8080, hostPortEnd: 8080 },
    { proto: 'tcp', containerPort: 80, hostIp: '::', hostPortStart: 8080, hostPortEnd: 8080, twin: true },
    { proto: 'tcp', containerPort: 80, hostIp: '127.0.0.1', hostPortStart: 8081, hostPortEnd: 8081 },
  ]);
  // A network's host_binding_ipv4 replaces the default: no [::] then.
  assert.deepEqual(portRequests({ '80/tcp': [{ HostPort: '8080' }] }, false, {}, '127.0.0.1', true).length, 1);
  assert.throws(() => portRequests({ '80/tcp': [{ HostIp: 'fd00::zz', HostPort: '1' }] }, false, {}), /invalid host IP address: fd00::zz/);
});

test('daemon flags and daemon.json keys for IPv6 on the default bridge', async () => {
  const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const { loadConfig } = await import('../../src/daemon/config.js');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-cfg6-'));
  try {
    writeFileSync(path.join(dir, 'daemon.json'), '{"ipv6": true, "fixed-cidr-v6": "fd00:1:2:3::/64"}');
    const fromFile = loadConfig(['--config-file', path.join(dir, 'daemon.json')]);
    assert.ok(typeof fromFile === 'object');
    assert.equal(fromFile.ipv6, true);
    assert.equal(fromFile.fixedCidrV6, 'fd00:1:2:3::/64');
    writeFileSync(path.join(dir, 'daemon.json'), '{}');
    const fromFlags = loadConfig(['--ipv6', '--fixed-cidr-v6', 'fd00:9::/64', '--config-file', path.join(dir, 'daemon.json')]);
    assert.ok(typeof fromFlags === 'object');
    assert.equal(fromFlags.ipv6, true);
    assert.equal(fromFlags.fixedCidrV6, 'fd00:9::/64');
    const off = loadConfig(['--config-file', path.join(dir, 'daemon.json')]);
    assert.ok(typeof off === 'object');
    assert.equal(off.ipv6, false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
