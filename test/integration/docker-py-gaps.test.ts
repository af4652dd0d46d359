import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { TestDaemon, freeSubnet24, hasDocker } from './harness.js';

/**
 * Differences docker-py's integration suite found between berthd and dockerd (issue 20): network IPAM
 * options, removing a container waiting to restart, link variables in execs, /etc/hosts with IPv6.
 * Traffic stays on the test's own bridges.
 */

const ipv6Here = existsSync('/proc/sys/net/ipv6/conf/all/disable_ipv6') && readFileSync('/proc/sys/net/ipv6/conf/all/disable_ipv6', 'utf8').trim() === '0';

/** A random ULA /64 that overlaps no IPv6 route of the host. */
function freeUla64(): string {
  const routes = spawnSync('ip', ['-6', 'route', 'show'], { encoding: 'utf8' }).stdout;
  for (;;) {
    const h = randomBytes(7).toString('hex');
    const prefix = `fd${h.slice(0, 2)}:${h.slice(2, 6)}:${h.slice(6, 10)}:${h.slice(10, 14)}`.replace(/:0+(?=[0-9a-f])/g, ':');
    if (!routes.includes(prefix.slice(0, 9))) return `${prefix}::/64`;
  }
}

describe('docker-py gaps', { skip: !hasDocker && 'the docker CLI is not installed' }, () => {
  const d = new TestDaemon();
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
      for (const c of (await d.request('GET', '/containers/json?all=1')).json()) await d.request('DELETE', `/containers/${c.Id}?force=1`);
      await d.request('POST', '/networks/prune');
    } finally {
      await d.stop();
    }
  });

  test('IPAM.Options: null when the request gives none (docker-py sends null), as given otherwise', async () => {
    const none = await d.request('POST', '/networks/create', { Name: 'ipam-none', IPAM: { Driver: 'default', Config: [{ Subnet: freeSubnet24() }], Options: null } });
    assert.equal(none.status, 201, none.text);
    assert.equal((await d.request('GET', '/networks/ipam-none')).json().IPAM.Options, null);
    const bare = await d.request('POST', '/networks/create', { Name: 'ipam-bare' });
    assert.equal(bare.status, 201, bare.text);
    assert.equal((await d.request('GET', '/networks/ipam-bare')).json().IPAM.Options, null);
    const given = await d.request('POST', '/networks/create', { Name: 'ipam-given', IPAM: { Options: { foo: 'bar' } } });
    assert.equal(given.status, 201, given.text);
    assert.deepEqual((await d.request('GET', '/networks/ipam-given')).json().IPAM.Options, { foo: 'bar' });
  });

  test('IPAM AuxiliaryAddresses: kept in inspect, never given to containers, checked against the subnet', async () => {
    const sub = freeSubnet24();
    const b = sub.replace(/\.0\/24$/, '');
    const aux = { a: `${b}.2`, b: `${b}.3` };
    const r = await d.request('POST', '/networks/create', { Name: 'auxnet', IPAM: { Config: [{ Subnet: sub, IPRange: `${b}.0/28`, Gateway: `${b}.1`, AuxiliaryAddresses: aux }] } });
    assert.equal(r.status, 201, r.text);
    assert.deepEqual((await d.request('GET', '/networks/auxnet')).json().IPAM.Config, [{ Subnet: sub, IPRange: `${b}.0/28`, Gateway: `${b}.1`, AuxiliaryAddresses: aux }]);
    await docker('run', '-d', '--name', 'auxc', '--network', 'auxnet', 'busybox', 'sleep', '300');
    assert.equal(await docker('inspect', '-f', '{{.NetworkSettings.Networks.auxnet.IPAddress}}', 'auxc'), `${b}.4`);
    const taken = await d.docker(['run', '--rm', '--network', 'auxnet', '--ip', `${b}.3`, 'busybox', 'true']);
    assert.notEqual(taken.code, 0);
    assert.match(taken.stderr, /Address already in use/);
    const out = await d.request('POST', '/networks/create', { Name: 'auxbad', IPAM: { Config: [{ Subnet: freeSubnet24(), AuxiliaryAddresses: { x: '10.254.254.254' } }] } });
    assert.equal(out.status, 400, out.text);
    assert.match(out.json().message, /invalid auxiliary address 10\.254\.254\.254: parent subnet \S+ doesn't contain this address/);
  });

  test('a container waiting to restart counts as running: remove without force is 409, with force it goes', async () => {
    const id = await docker('create', '--restart', 'always', '--network', 'none', 'busybox', 'true');
    await docker('start', id);
    // `true` exits at once; the back-off grows, so the restarting state comes soon and lasts.
    let restarting = false;
    for (let i = 0; i < 200 && !restarting; i++) {
      restarting = (await d.request('GET', `/containers/${id}/json`)).json().State.Restarting === true;
      if (!restarting) await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(restarting, 'the container never showed as restarting');
    const rm = await d.request('DELETE', `/containers/${id}`);
    assert.equal(rm.status, 409, rm.text);
    assert.match(rm.json().message, /^cannot remove container "\/[^"]+": container is (restarting|running): stop the container before removing or force remove$/);
    assert.equal((await d.request('GET', `/containers/${id}/json`)).status, 200);
    assert.equal((await d.request('DELETE', `/containers/${id}?force=1`)).status, 204);
    assert.equal((await d.request('GET', `/containers/${id}/json`)).status, 404);
  });

  test('an exec in a container with links gets the link variables, as its process does', async () => {
    await docker('run', '-d', '--name', 'lchild', '-e', 'FOO=bar', '--expose', '8080', 'busybox', 'sleep', '300');
    await docker('run', '-d', '--name', 'lparent', '--link', 'lchild:al', 'busybox', 'sleep', '300');
    const childIp = (await docker('inspect', '-f', '{{.NetworkSettings.IPAddress}}', 'lchild')).trim();
    const env = (await docker('exec', '-e', 'MINE=1', 'lparent', 'env')).split('\n');
    for (const v of ['AL_NAME=/lparent/al', 'AL_ENV_FOO=bar', `AL_PORT=tcp://${childIp}:8080`, `AL_PORT_8080_TCP_ADDR=${childIp}`, 'MINE=1']) assert.ok(env.includes(v), `${v} missing from ${env.join(' ')}`);
    const main = (await docker('exec', 'lparent', 'sh', '-c', 'tr "\\0" "\\n" < /proc/1/environ')).split('\n');
    assert.ok(main.includes('AL_NAME=/lparent/al'), main.join(' '));
    // A linked container that is down: dockerd refuses the exec at create.
    await docker('stop', '-t', '0', 'lchild');
    const r = await d.request('POST', '/containers/lparent/exec', { Cmd: ['true'] });
    assert.equal(r.status, 500, r.text);
    assert.match(r.json().message, /Cannot link to a non running container: \/lchild AS \/lparent\/al/);
  });

  test('/etc/hosts: the IPv6 lines, then every address of the container, IPv4 and IPv6', { skip: !ipv6Here && 'IPv6 is off on this host' }, async () => {
    const sub4 = freeSubnet24();
    const sub6 = freeUla64();
    await docker('network', 'create', '--ipv6', '--subnet', sub6, '--subnet', sub4, 'hosts6');
    const hosts = await docker('run', '--rm', '--network', 'hosts6', '--hostname', 'web.example', '--add-host', 'v6only:fd00::9', 'busybox', 'sh', '-c', 'cat /etc/hosts; ip -o addr show eth0');
    const lines = hosts.split('\n');
    const v4 = /inet (\S+)\//.exec(hosts)![1]!;
    const v6 = /inet6 (fd\S+)\/64 scope global/.exec(hosts)![1]!;
    assert.deepEqual(lines.slice(0, 9), [
      '127.0.0.1\tlocalhost',
      '::1\tlocalhost ip6-localhost ip6-loopback',
      'fe00::\tip6-localnet',
      'ff00::\tip6-mcastprefix',
      'ff02::1\tip6-allnodes',
      'ff02::2\tip6-allrouters',
      'fd00::9\tv6only',
      `${v4}\tweb.example web`,
      `${v6}\tweb.example web`,
    ]);
    // IPv6 disabled in the container by sysctl: IPv4 lines only, as dockerd's BuildNoIPv6.
    const off = await docker('run', '--rm', '--network', 'hosts6', '--sysctl', 'net.ipv6.conf.all.disable_ipv6=1', '--add-host', 'v6only:fd00::9', 'busybox', 'cat', '/etc/hosts');
    assert.doesNotMatch(off, /:/);
    assert.match(off, /^127\.0\.0\.1\tlocalhost$/m);
  });
});
