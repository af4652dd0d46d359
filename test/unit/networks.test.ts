import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import * as dnsPacket from 'dns-packet';
import { existsSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Ipam, parseCidr, pickSubnet, poolFrom, formatIPv4, parseIPv4, overlaps } from '../../src/networks/ipam.js';
import { render, chainNames } from '../../src/networks/firewall.js';
import { portRequests, portsView, portsSummary } from '../../src/networks/ports.js';
import { DnsServer } from '../../src/networks/dns.js';
import { splitRule } from '../../src/networks/iptables.js';
import { macFor, isOurNetns, netnsName } from '../../src/networks/sandbox.js';
import { etcFilesFor, ipv6InContainer } from '../../src/containers/etc-files.js';
import { loadConfig } from '../../src/daemon/config.js';

test('ipam: subnets from Docker’s pools around what is taken; first free address; static addresses', () => {
  assert.equal(formatIPv4(parseIPv4('172.18.0.1')!), '172.18.0.1');
  const taken = [parseCidr('172.17.0.0/16')!, parseCidr('172.18.5.0/24')!, parseCidr('192.0.2.0/24')!];
  assert.deepEqual(pickSubnet(taken), parseCidr('172.19.0.0/16'));
  assert.ok(overlaps(parseCidr('172.18.0.0/16')!, parseCidr('172.18.5.0/24')!));

  const ipam = new Ipam();
  const pool = poolFrom({ Subnet: '10.10.0.0/24', IPRange: '10.10.0.128/25' }, () => undefined);
  ipam.addNetwork('n', pool);
  assert.equal(formatIPv4(ipam.allocate('n')), '10.10.0.128');
  assert.equal(formatIPv4(ipam.allocate('n')), '10.10.0.129');
  assert.equal(formatIPv4(ipam.allocate('n', parseIPv4('10.10.0.5'))), '10.10.0.5');
  assert.throws(() => ipam.allocate('n', parseIPv4('10.10.0.5')), /Address already in use/);
  assert.throws(() => ipam.allocate('n', parseIPv4('10.10.0.1')), /Address already in use/);
  assert.throws(() => ipam.allocate('n', parseIPv4('10.11.0.5')), /no configured subnet or ip-range contain the IP address 10.11.0.5/);
  ipam.release('n', parseIPv4('10.10.0.128')!);
  assert.equal(formatIPv4(ipam.allocate('n')), '10.10.0.128');

  assert.throws(() => poolFrom({ Subnet: '10.0.0.1/24' }, () => undefined), /invalid subnet 10.0.0.1\/24: it should be 10.0.0.0\/24/);
  assert.throws(() => poolFrom({ Subnet: 'nope' }, () => undefined), /invalid CIDR block notation/);
  assert.throws(() => poolFrom({ Subnet: '10.0.0.0/24', Gateway: '10.1.0.1' }, () => undefined), /parent subnet 10.0.0.0\/24 doesn't contain this address/);
  const small = new Ipam();
  small.addNetwork('s', poolFrom({ Subnet: '10.0.0.0/30' }, () => undefined));
  assert.equal(formatIPv4(small.allocate('s')), '10.0.0.2');
  assert.throws(() => small.allocate('s'), /no available addresses on this pool/);
});

test('firewall: the daemon’s chains, named after its tag, hold NAT, ports, isolation and internal networks', () => {
  assert.deepEqual(chainNames('berth0'), { dnat: 'BERTH', post: 'BERTH-POST', fwd: 'BERTH-FWD' });
  assert.deepEqual(chainNames('bt1'), { dnat: 'BERTH-bt1', post: 'BERTH-POST-bt1', fwd: 'BERTH-FWD-bt1' });
  const text = render(
    'bt1',
    {
      networks: [
        { bridge: 'bt1', subnet: '172.20.0.0/24', internal: false, masquerade: true, icc: true },
        { bridge: 'br-x', subnet: '172.21.0.0/24', internal: true, masquerade: true, icc: true },
      ],
      ports: [
        { proto: 'tcp', hostIp: '127.0.0.1', hostPort: 8080, containerIp: '172.20.0.2', containerPort: 80, bridge: 'bt1' },
        { proto: 'udp', hostIp: '0.0.0.0', hostPort: 5353, containerIp: '172.20.0.2', containerPort: 53, bridge: 'bt1' },
      ],
    },
    { userlandProxy: true },
  );
  const lines = text.split('\n');
  assert.ok(lines.includes('-A BERTH-POST-bt1 -s 172.20.0.0/24 ! -o bt1 -j MASQUERADE'));
  assert.ok(!lines.some((l) => l.includes('-s 172.21.0.0/24')), 'no masquerade for an internal network');
  assert.ok(lines.includes('-A BERTH-bt1 ! -i bt1 -p udp -m udp --dport 5353 -j DNAT --to-destination 172.20.0.2:53'));
  // As Docker: a loopback address gets its DNAT rule too (the host's own loopback traffic still meets the
  // proxy, since OUTPUT does not jump to the chain for 127.0.0.0/8 while the proxy is on).
  assert.ok(lines.includes('-A BERTH-bt1 -d 127.0.0.1/32 ! -i bt1 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.20.0.2:80'));
  assert.ok(lines.includes('-A BERTH-POST-bt1 -s 172.20.0.2/32 -d 172.20.0.2/32 -p tcp -m tcp --dport 80 -j MASQUERADE'));
  assert.ok(lines.includes('-A BERTH-FWD-bt1 -i bt1 -o br-x -j DROP'));
  assert.ok(lines.includes('-A BERTH-FWD-bt1 -i br-x ! -o br-x -j DROP'));
  assert.ok(lines.includes('-A BERTH-FWD-bt1 -d 172.20.0.2/32 ! -i bt1 -o bt1 -p tcp -m tcp --dport 80 -j ACCEPT'));
  assert.ok(!lines.includes('-A BERTH-FWD-bt1 -i br-x ! -o br-x -j ACCEPT'));
  const noProxy = render('bt1', { networks: [], ports: [{ proto: 'tcp', hostIp: '127.0.0.1', hostPort: 8080, containerIp: '172.20.0.2', containerPort: 80, bridge: 'bt1' }] }, { userlandProxy: false });
  assert.ok(noProxy.includes('-A BERTH-bt1 -d 127.0.0.1/32 ! -i bt1 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.20.0.2:80'));
  assert.deepEqual(splitRule('-A X -m comment --comment "a b" -j Y'), ['-A', 'X', '-m', 'comment', '--comment', 'a b', '-j', 'Y']);
});

test('ports: bindings, ranges, -P, and Docker’s two shapes', () => {
  const reqs = portRequests(
    { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '8080' }, { HostIp: '', HostPort: '' }], '53/udp': [{ HostPort: '5000-5010' }] },
    true,
    { '80/tcp': {}, '443/tcp': {} },
  );
  assert.deepEqual(reqs, [
    { proto: 'udp', containerPort: 53, hostIp: '0.0.0.0', hostPortStart: 5000, hostPortEnd: 5010 },
    { proto: 'tcp', containerPort: 80, hostIp: '127.0.0.1', hostPortStart: 8080, hostPortEnd: 8080 },
    { proto: 'tcp', containerPort: 80, hostIp: '0.0.0.0', hostPortStart: 0, hostPortEnd: 0 },
    { proto: 'tcp', containerPort: 443, hostIp: '0.0.0.0', hostPortStart: 0, hostPortEnd: 0 },
  ]);
  assert.throws(() => portRequests({ '80/sctp': [] }, false, {}), /sctp/);
  assert.throws(() => portRequests({ '80/tcp': [{ HostPort: 'x' }] }, false, {}), /^InvalidArgument: invalid port specification: "x"$/);
  assert.throws(() => portRequests({ '80/tcp': [{ HostPort: '99999' }] }, false, {}), /invalid port specification: "99999"/);
  const mappings = [{ proto: 'tcp' as const, containerPort: 80, hostIp: '127.0.0.1', hostPort: 8080 }];
  assert.deepEqual(portsView({ '80/tcp': {}, '81/tcp': {} }, mappings), { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '8080' }], '81/tcp': null });
  assert.deepEqual(portsSummary({ '81/tcp': {} }, mappings), [
    { IP: '127.0.0.1', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' },
    { PrivatePort: 81, Type: 'tcp' },
  ]);
});

test('sandbox names and MACs', () => {
  assert.equal(netnsName('bt1', 'abcdef0123456789'), 'bt1-abcdef012345');
  assert.ok(isOurNetns('bt1', 'bt1-abcdef012345'));
  assert.ok(!isOurNetns('bt1', 'bt12-abcdef012345'));
  assert.equal(macFor('172.17.0.2'), '02:42:ac:11:00:02');
});

test('embedded DNS: names of the container’s networks, NODATA for AAAA, PTR, forwarding to an upstream', async () => {
  const upstream = dgram.createSocket('udp4');
  await new Promise<void>((r) => upstream.bind(0, '127.0.0.1', () => r()));
  upstream.on('message', (msg, rinfo) => {
    const q = dnsPacket.decode(msg);
    upstream.send(
      dnsPacket.encode({ type: 'response', id: q.id, questions: q.questions, answers: [{ type: 'A', name: q.questions![0]!.name, ttl: 5, data: '10.1.2.3' }] }),
      rinfo.port,
      rinfo.address,
    );
  });
  const server = new DnsServer({
    lookup: (_id, name) => (name === 'web' || name === 'web.mynet' ? ['172.20.0.5'] : undefined),
    reverse: (_id, ip) => (ip === '172.20.0.5' ? 'web.mynet' : undefined),
    upstreams: (id) => (id === 'internal' ? [] : [`127.0.0.1:${upstream.address().port}`]),
  });
  const ask = async (id: string, name: string, type: 'A' | 'AAAA' | 'PTR') => {
    const reply = await server.answer(id, dnsPacket.encode({ type: 'query', id: 7, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name }] }), 'udp');
    return dnsPacket.decode(reply!) as dnsPacket.DecodedPacket & { rcode: string };
  };
  try {
    const a = await ask('c', 'web', 'A');
    assert.equal(a.id, 7);
    assert.equal(a.rcode, 'NOERROR');
    assert.deepEqual(a.answers!.map((x) => (x as { data: string }).data), ['172.20.0.5']);
    assert.equal((await ask('c', 'WEB.mynet', 'A')).answers!.length, 1);
    const aaaa = await ask('c', 'web', 'AAAA');
    assert.equal(aaaa.rcode, 'NOERROR');
    assert.equal(aaaa.answers!.length, 0);
    const ptr = await ask('c', '5.0.20.172.in-addr.arpa', 'PTR');
    assert.equal((ptr.answers![0] as { data: string }).data, 'web.mynet');
    const fwd = await ask('c', 'example.test', 'A');
    assert.equal((fwd.answers![0] as { data: string }).data, '10.1.2.3');
    assert.equal((await ask('internal', 'example.test', 'A')).rcode, 'SERVFAIL');
  } finally {
    upstream.close();
  }

  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-dns-'));
  try {
    writeFileSync(path.join(dir, 'resolv.conf'), 'nameserver 127.0.0.53\nnameserver 10.0.0.2\nsearch x\n');
    assert.deepEqual(new DnsServer({ lookup: () => undefined, reverse: () => undefined, upstreams: () => [] }, path.join(dir, 'resolv.conf')).hostUpstreams(), ['127.0.0.53', '10.0.0.2']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('etc files: the embedded resolver on user networks, host-gateway', () => {
  const files = etcFilesFor({
    hostname: 'h',
    networkMode: 'mynet',
    addresses: ['172.20.0.5'],
    internalResolver: true,
    dnsSearch: ['example.test'],
    dnsOptions: ['timeout:1'],
    extraHosts: ['gw:host-gateway'],
    hostGateway: '172.17.0.1',
    hostResolvConf: 'nameserver 10.0.0.2\n',
  });
  assert.equal(files.resolvConf, 'nameserver 127.0.0.11\nsearch example.test\noptions timeout:1 ndots:0\n');
  assert.match(files.hosts, /^172\.17\.0\.1\tgw$/m);
  assert.match(files.hosts, /^172\.20\.0\.5\th$/m);
});

test('etc files: /etc/hosts as Docker 28 writes it (IPv6 lines, every address, names with dots, IPv6 off)', () => {
  const hosts = etcFilesFor({ hostname: 'web.example', networkMode: 'n', extraHosts: ['db:10.1.2.3', 'v6:fd00::9'], addresses: ['172.20.0.5', 'fd12:3456::2', '172.21.0.7'] }).hosts;
  assert.equal(
    hosts,
    '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::\tip6-localnet\nff00::\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n' +
      '10.1.2.3\tdb\nfd00::9\tv6\n172.20.0.5\tweb.example web\nfd12:3456::2\tweb.example web\n172.21.0.7\tweb.example web\n',
  );
  const noV6 = etcFilesFor({ hostname: 'h', domainname: 'd.test', networkMode: 'n', extraHosts: ['v6:fd00::9'], addresses: ['172.20.0.5', 'fd12:3456::2'], ipv6: false }).hosts;
  assert.equal(noV6, '127.0.0.1\tlocalhost\n172.20.0.5\th.d.test h\n');
  assert.equal(ipv6InContainer({ 'net.ipv6.conf.all.disable_ipv6': '1' }), false);
  assert.equal(ipv6InContainer({ 'net.ipv6.conf.lo.disable_ipv6': '1' }), false);
  assert.equal(ipv6InContainer({ 'net.ipv6.conf.all.disable_ipv6': '0' }), existsSync('/proc/sys/net/ipv6'));
});

test('daemon flags for networking, with Go’s --flag=false', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-cfg-'));
  writeFileSync(path.join(dir, 'daemon.json'), '{"ip-forward": true}');
  const cfg = loadConfig(['--bridge', 'bt9', '--bip', '172.30.1.1/24', '--fixed-cidr', '172.30.1.128/25', '--iptables=false', '--userland-proxy=false', '--config-file', path.join(dir, 'daemon.json')]);
  rmSync(dir, { recursive: true, force: true });
  assert.ok(typeof cfg === 'object');
  assert.equal(cfg.bridge, 'bt9');
  assert.equal(cfg.bip, '172.30.1.1/24');
  assert.equal(cfg.fixedCidr, '172.30.1.128/25');
  assert.equal(cfg.iptables, false);
  assert.equal(cfg.userlandProxy, false);
  assert.equal(cfg.ipForward, true);
});

test('userland proxy: TCP and UDP forwarded to the target; the bound port is the reservation', async () => {
  const net = await import('node:net');
  const { PortProxy, BindError } = await import('../../src/networks/proxy.js');
  const tcpTarget = net.createServer((s) => s.end('tcp-ok'));
  await new Promise<void>((r) => tcpTarget.listen(0, '127.0.0.1', () => r()));
  const udpTarget = dgram.createSocket('udp4');
  udpTarget.on('message', (m, rinfo) => udpTarget.send(Buffer.concat([Buffer.from('echo:'), m]), rinfo.port, rinfo.address));
  await new Promise<void>((r) => udpTarget.bind(0, '127.0.0.1', () => r()));
  const tcp = await PortProxy.open({ proto: 'tcp', hostIp: '127.0.0.1', hostPort: 0, target: { ip: '127.0.0.1', port: (tcpTarget.address() as import('node:net').AddressInfo).port }, forward: true });
  const udp = await PortProxy.open({ proto: 'udp', hostIp: '127.0.0.1', hostPort: 0, target: { ip: '127.0.0.1', port: udpTarget.address().port }, forward: true });
  try {
    const text = await new Promise<string>((resolve, reject) => {
      const c = net.connect(tcp.hostPort, '127.0.0.1');
      let got = '';
      c.on('data', (d) => (got += d));
      c.on('end', () => resolve(got));
      c.on('error', reject);
    });
    assert.equal(text, 'tcp-ok');
    const client = dgram.createSocket('udp4');
    const reply = await new Promise<string>((resolve) => {
      client.on('message', (m) => resolve(m.toString()));
      client.send('hi', udp.hostPort, '127.0.0.1');
    });
    client.close();
    assert.equal(reply, 'echo:hi');
    await assert.rejects(
      PortProxy.open({ proto: 'tcp', hostIp: '127.0.0.1', hostPort: tcp.hostPort, target: { ip: '127.0.0.1', port: 1 }, forward: true }),
      (err: Error) => err instanceof BindError && err.message === 'address already in use',
    );
  } finally {
    await tcp.close();
    await udp.close();
    tcpTarget.close();
    udpTarget.close();
  }
});
