import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { pack } from 'tar-stream';
import type { Readable } from 'node:stream';
import { TestDaemon, hasDocker, type RunResult } from './harness.js';
import { busyboxRootfsTar } from '../../src/tools/busybox-rootfs.js';

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** A tiny image layer whose /data has owners, modes, a symlink and a hard link to copy up. */
async function ownedDataTar(): Promise<Buffer> {
  const p = pack();
  const mtime = new Date('2020-01-02T03:04:05Z');
  p.entry({ name: 'data/', type: 'directory', mode: 0o750, uid: 1000, gid: 1001, mtime });
  p.entry({ name: 'data/hello', mode: 0o640, uid: 33, gid: 33, mtime }, 'hello\n');
  p.entry({ name: 'data/hard', type: 'link', linkname: 'data/hello', mode: 0o640, uid: 33, gid: 33, mtime });
  p.entry({ name: 'data/link', type: 'symlink', linkname: 'hello', mode: 0o777, mtime });
  p.entry({ name: 'data/sub/', type: 'directory', mode: 0o1777, uid: 0, gid: 0, mtime });
  p.finalize();
  return collect(p as unknown as Readable);
}

function mountsUnder(root: string): string[] {
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1] ?? '')
    .filter((m) => m.startsWith(root + '/'));
}

/** Volumes and mounts, as a Docker user types them with the official docker CLI. */
describe('volumes and mounts', { skip: !hasDocker && 'no docker CLI on this machine' }, () => {
  const d = new TestDaemon();
  let site = '';
  const docker = (...args: string[]) => d.docker(args);
  const ok = (r: RunResult, what = '') => {
    assert.equal(r.code, 0, `${what} exited ${r.code}: ${r.stderr}`);
    return r.stdout;
  };
  const volumeNames = async () => ok(await docker('volume', 'ls', '-q')).split('\n').filter(Boolean);

  before(async () => {
    await d.start();
    await d.seedBusybox();
    site = path.join(d.root, 'site');
    mkdirSync(site);
    writeFileSync(path.join(site, 'index.html'), '<h1>hello from berth</h1>\n');
  });

  after(async () => {
    for (const c of (await d.request('GET', '/containers/json?all=1')).json()) await d.request('DELETE', `/containers/${c.Id}?force=1&v=1`);
    // The daemon's own cleanup (exits, rm, shutdown) must leave no mount of ours behind.
    await d.kill();
    const left = mountsUnder(d.root);
    await d.stop();
    assert.deepEqual(left, [], `mounts left behind: ${left.join(', ')}`);
  });

  test('docker run -d -v <dir>:/var/www/html:ro serves the files and refuses writes', async () => {
    ok(await docker('run', '-d', '-v', `${site}:/var/www/html:ro`, '--name', 'web', 'busybox', 'httpd', '-f', '-h', '/var/www/html'), 'run web');
    const page = await docker('run', '--rm', '--network', 'container:web', 'busybox', 'wget', '-qO-', 'http://127.0.0.1/index.html');
    assert.equal(ok(page, 'wget'), '<h1>hello from berth</h1>\n');
    const inspect = JSON.parse(ok(await docker('inspect', 'web')))[0];
    assert.deepEqual(inspect.Mounts, [{ Type: 'bind', Source: site, Destination: '/var/www/html', Mode: 'ro', RW: false, Propagation: 'rprivate' }]);
    assert.deepEqual(inspect.HostConfig.Binds, [`${site}:/var/www/html:ro`]);
    const write = await docker('run', '--rm', '--volumes-from', 'web', 'busybox', 'touch', '/var/www/html/new');
    assert.notEqual(write.code, 0);
    assert.match(write.stderr, /Read-only file system/);
    const direct = await docker('run', '--rm', '-v', `${site}:/w:ro`, 'busybox', 'sh', '-c', 'echo x > /w/f');
    assert.notEqual(direct.code, 0);
    assert.match(direct.stderr, /Read-only file system/);
    assert.equal(existsSync(path.join(site, 'f')), false);
    ok(await docker('rm', '-f', 'web'));
  });

  test('a named volume is shared between containers and outlives them', async () => {
    ok(await docker('run', '--name', 'writer', '-v', 'shared:/data', 'busybox', 'sh', '-c', 'echo written-once > /data/file'), 'writer');
    assert.equal(ok(await docker('run', '--rm', '-v', 'shared:/data:ro', 'busybox', 'cat', '/data/file')), 'written-once\n');
    const inspect = JSON.parse(ok(await docker('inspect', 'writer')))[0];
    assert.deepEqual(inspect.Mounts, [
      { Type: 'volume', Name: 'shared', Source: path.join(d.dataRoot, 'volumes/shared/_data'), Destination: '/data', Driver: 'local', Mode: 'z', RW: true, Propagation: '' },
    ]);
    // In use by a stopped container: refused, by the API and the CLI.
    const del = await d.request('DELETE', '/volumes/shared');
    assert.equal(del.status, 409);
    assert.equal(del.json().message, `remove shared: volume is in use - [${inspect.Id}]`);
    const rm = await docker('volume', 'rm', 'shared');
    assert.notEqual(rm.code, 0);
    assert.match(rm.stderr, /volume is in use/);
    ok(await docker('rm', '-v', 'writer'));
    assert.ok((await volumeNames()).includes('shared'), 'rm -v keeps named volumes');
    assert.equal(ok(await docker('run', '--rm', '-v', 'shared:/data', 'busybox', 'cat', '/data/file')), 'written-once\n');
    ok(await docker('volume', 'rm', 'shared'));
    assert.ok(!(await volumeNames()).includes('shared'));
    assert.equal(existsSync(path.join(d.dataRoot, 'volumes/shared')), false);
  });

  test('an empty named volume is filled from the image (copy-up), unless volume-nocopy', async () => {
    const passwd = ok(await docker('run', '--rm', '-v', 'etcvol:/etc', 'busybox', 'cat', '/etc/passwd'));
    assert.match(passwd, /^root:x:0:0:root/);
    assert.equal(ok(await docker('run', '--rm', '-v', 'tmpvol:/tmp', 'busybox', 'stat', '-c', '%a', '/tmp')).trim(), '1777');
    // Not empty any more: a second image path is not copied over it.
    assert.equal(ok(await docker('run', '--rm', '-v', 'etcvol:/bin/x', 'busybox', 'ls', '/bin/x/passwd')).trim(), '/bin/x/passwd');
    const nocopy = await docker('run', '--rm', '--mount', 'type=volume,src=nocopy,dst=/usr,volume-nocopy', 'busybox', 'ls', '-A', '/usr');
    assert.equal(ok(nocopy).trim(), '');
    // Owners, modes, symlinks and hard links survive the copy.
    ok(await d.docker(['import', '-c', 'CMD ["true"]', '-', 'owned:1'], await ownedDataTar()));
    ok(await docker('create', '--name', 'owner', '-v', 'owned:/data', 'owned:1'));
    const st = ok(await docker('run', '--rm', '-v', 'owned:/data', 'busybox', 'sh', '-c', 'stat -c "%u:%g %a %h %n" /data /data/hello /data/sub; readlink /data/link'));
    assert.deepEqual(st.trim().split('\n'), ['1000:1001 750 3 /data', '33:33 640 2 /data/hello', '0:0 1777 2 /data/sub', 'hello']);
    ok(await docker('rm', 'owner'));
    ok(await docker('volume', 'rm', 'etcvol', 'tmpvol', 'nocopy', 'owned'));
  });

  test('image VOLUMEs and -v /path make anonymous volumes; rm -v and prune remove only those', async () => {
    const rootfs = await collect(busyboxRootfsTar('/bin/busybox'));
    ok(await d.docker(['import', '-c', 'VOLUME /etc', '-c', 'CMD ["sh"]', '-', 'withvol:1'], rootfs));
    ok(await docker('run', '--name', 'img-vol', 'withvol:1', 'cat', '/etc/group'), 'run image with VOLUME');
    const m = JSON.parse(ok(await docker('inspect', '-f', '{{json .Mounts}}', 'img-vol')));
    assert.equal(m.length, 1);
    assert.match(m[0].Name, /^[0-9a-f]{64}$/);
    assert.deepEqual({ ...m[0], Name: '', Source: '' }, { Type: 'volume', Name: '', Source: '', Destination: '/etc', Driver: 'local', Mode: '', RW: true, Propagation: '' });
    assert.equal(readFileSync(path.join(d.dataRoot, 'volumes', m[0].Name, '_data/passwd'), 'utf8').split('\n')[0], 'root:x:0:0:root:/root:/bin/sh');
    const labels = JSON.parse(ok(await docker('volume', 'inspect', '-f', '{{json .Labels}}', m[0].Name)));
    assert.deepEqual(labels, { 'com.docker.volume.anonymous': '' });

    ok(await docker('run', '--name', 'mixed', '-v', '/anon', '-v', 'keepme:/named', 'busybox', 'true'));
    const mixed = JSON.parse(ok(await docker('inspect', '-f', '{{json .Mounts}}', 'mixed')));
    const anon = mixed.find((x: any) => x.Destination === '/anon').Name;
    ok(await docker('rm', '-v', 'mixed'));
    // --rm takes the anonymous volumes with the container, never named ones.
    ok(await docker('run', '--rm', '-v', '/gone', '-v', 'keepme:/named', 'busybox', 'true'));
    let names = await volumeNames();
    assert.ok(!names.includes(anon), 'rm -v removed the anonymous volume');
    assert.ok(names.includes('keepme'), 'rm -v kept the named volume');
    assert.ok(names.includes(m[0].Name), 'other containers keep theirs');

    // Without -v the anonymous volume stays, dangling; prune takes it (and no named one) by default.
    ok(await docker('rm', 'img-vol'));
    const dangling = ok(await docker('volume', 'ls', '-q', '-f', 'dangling=true')).split('\n').filter(Boolean);
    assert.ok(dangling.includes(m[0].Name) && dangling.includes('keepme'));
    const pruned = ok(await docker('volume', 'prune', '-f'));
    assert.match(pruned, new RegExp(`Deleted Volumes:\\n${m[0].Name}\\n`));
    names = await volumeNames();
    assert.ok(!names.includes(m[0].Name));
    assert.ok(names.includes('keepme'));
    // --all takes unused named volumes too, never used ones.
    ok(await docker('run', '-d', '--name', 'holder', '-v', 'busy:/x', 'busybox', 'sleep', '300'));
    const all = ok(await docker('volume', 'prune', '-a', '-f'));
    assert.match(all, /keepme/);
    assert.doesNotMatch(all, /busy/);
    assert.deepEqual(await volumeNames(), ['busy']);
    ok(await docker('rm', '-f', '-v', 'holder'));
    assert.deepEqual(await volumeNames(), ['busy'], 'rm -v keeps named volumes');
    ok(await docker('volume', 'rm', 'busy'));
  });

  test('--mount type=bind with a missing source is refused and leaves nothing behind', async () => {
    const before = ok(await docker('ps', '-aq'));
    const volsBefore = await volumeNames();
    const r = await docker('run', '--rm', '--mount', 'type=bind,source=/x-berth-missing,target=/x', 'busybox', 'true');
    assert.equal(r.code, 125);
    assert.match(r.stderr, /Error response from daemon: invalid mount config for type "bind": bind source path does not exist: \/x-berth-missing/);
    const api = await d.request('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: { Mounts: [{ Type: 'bind', Source: '/x', Target: '/y' }] } });
    assert.equal(api.status, 400);
    assert.equal(api.json().message, 'invalid mount config for type "bind": bind source path does not exist: /x');
    // A failure after a volume was made for the container takes that volume away again.
    const late = await docker('create', '-v', 'fresh-vol:/a', '--mount', 'type=volume,src=bad/name,dst=/b', 'busybox', 'true');
    assert.notEqual(late.code, 0);
    assert.match(late.stderr, /create bad\/name: "bad\/name" includes invalid characters for a local volume name/);
    assert.deepEqual(await volumeNames(), volsBefore);
    assert.equal(ok(await docker('ps', '-aq')), before);
  });

  test('-v with a missing host path creates it as a directory', async () => {
    const host = path.join(d.root, 'made', 'by', 'run');
    ok(await docker('run', '--rm', '-v', `${host}:/m`, 'busybox', 'sh', '-c', 'echo here > /m/f'));
    assert.ok(statSync(host).isDirectory());
    assert.equal(readFileSync(path.join(host, 'f'), 'utf8'), 'here\n');
  });

  test('--volumes-from shares the mounts, read-only with :ro', async () => {
    ok(await docker('create', '--name', 'datactr', '-v', '/shared-anon', '-v', 'fromvol:/named', '-v', `${site}:/site`, 'busybox', 'true'));
    ok(await docker('run', '--rm', '--volumes-from', 'datactr', 'busybox', 'sh', '-c', 'echo a > /shared-anon/a && echo n > /named/n && cat /site/index.html'));
    assert.equal(ok(await docker('run', '--rm', '--volumes-from', 'datactr:ro', 'busybox', 'cat', '/shared-anon/a', '/named/n')), 'a\nn\n');
    const ro = await docker('run', '--rm', '--volumes-from', 'datactr:ro', 'busybox', 'touch', '/named/x');
    assert.notEqual(ro.code, 0);
    assert.match(ro.stderr, /Read-only file system/);
    const bad = await docker('run', '--rm', '--volumes-from', 'datactr:shared', 'busybox', 'true');
    assert.match(bad.stderr, /invalid mode: shared/);
    ok(await docker('rm', '-v', 'datactr'));
    ok(await docker('volume', 'rm', 'fromvol'));
  });

  test('--read-only root filesystem, with writable volumes and tmpfs', async () => {
    const r = await docker('run', '--rm', '--read-only', 'busybox', 'touch', '/x');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Read-only file system/);
    ok(await docker('run', '--rm', '--read-only', '-v', 'rwvol:/data', '--tmpfs', '/tmp', 'busybox', 'sh', '-c', 'touch /data/x /tmp/y'));
    const id = ok(await docker('create', '--read-only', 'busybox')).trim();
    assert.equal(ok(await docker('inspect', '-f', '{{.HostConfig.ReadonlyRootfs}}', id)).trim(), 'true');
    ok(await docker('rm', id));
    ok(await docker('volume', 'rm', 'rwvol'));
  });

  test('--tmpfs /run:size=1m and --mount type=tmpfs', async () => {
    const line = ok(await docker('run', '--rm', '--tmpfs', '/run:size=1m', 'busybox', 'grep', ' /run ', '/proc/mounts'));
    assert.match(line, /^tmpfs \/run tmpfs rw,nosuid,nodev,noexec,relatime,size=1024k/);
    const m = ok(await docker('run', '--rm', '--mount', 'type=tmpfs,target=/t,tmpfs-size=2097152,tmpfs-mode=1770', 'busybox', 'grep', ' /t ', '/proc/mounts'));
    assert.match(m, /size=2048k,mode=1770/);
  });

  test('volume create, inspect, ls with filters and --format, rm', async () => {
    ok(await docker('volume', 'create', '--label', 'team=a', '--label', 'tier=db', 'va'));
    ok(await docker('volume', 'create', '--label', 'team=b', 'vb'));
    const generated = ok(await docker('volume', 'create')).trim();
    assert.match(generated, /^[0-9a-f]{64}$/);
    const [va] = JSON.parse(ok(await docker('volume', 'inspect', 'va')));
    assert.deepEqual(Object.keys(va).sort(), ['CreatedAt', 'Driver', 'Labels', 'Mountpoint', 'Name', 'Options', 'Scope']);
    assert.equal(va.Driver, 'local');
    assert.equal(va.Scope, 'local');
    assert.equal(va.Mountpoint, path.join(d.dataRoot, 'volumes/va/_data'));
    assert.deepEqual(va.Labels, { team: 'a', tier: 'db' });
    assert.match(va.CreatedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$/);
    // Creating an existing name gives back the existing volume.
    const again = await d.request('POST', '/volumes/create', { Name: 'va', Labels: { other: '1' } });
    assert.equal(again.status, 201);
    assert.deepEqual(again.json().Labels, { team: 'a', tier: 'db' });

    assert.equal(ok(await docker('volume', 'ls', '-q', '-f', 'label=team=a')).trim(), 'va');
    assert.equal(ok(await docker('volume', 'ls', '-q', '-f', 'label=team')).trim(), 'va\nvb');
    assert.equal(ok(await docker('volume', 'ls', '-q', '-f', 'name=v[ab]', '-f', 'driver=local')).trim(), 'va\nvb');
    assert.equal(ok(await docker('volume', 'ls', '--format', '{{.Name}}|{{.Driver}}|{{.Label "team"}}', '-f', 'name=vb')).trim(), 'vb|local|b');
    const table = ok(await docker('volume', 'ls', '-f', 'name=va'));
    assert.match(table, /^DRIVER\s+VOLUME NAME\nlocal\s+va\n$/);
    const bad = await docker('volume', 'ls', '-f', 'colour=red');
    assert.match(bad.stderr, /invalid filter 'colour'/);

    const list = (await d.request('GET', '/volumes')).json();
    assert.equal(list.Warnings, null);
    assert.ok(list.Volumes.some((v: any) => v.Name === generated && v.Labels['com.docker.volume.anonymous'] === ''));

    assert.equal((await d.request('GET', '/volumes/nope')).json().message, 'get nope: no such volume');
    assert.equal((await d.request('DELETE', '/volumes/nope')).status, 404);
    assert.equal((await d.request('DELETE', '/volumes/nope?force=1')).status, 204);
    const invalid = await d.request('POST', '/volumes/create', { Name: 'x/y' });
    assert.equal(invalid.status, 400);
    const badOpt = await d.request('POST', '/volumes/create', { Name: 'vopt', DriverOpts: { colour: 'red' } });
    assert.equal(badOpt.json().message, 'create vopt: invalid option: "colour"');
    const plugin = await d.request('POST', '/volumes/create', { Name: 'vp', Driver: 'flocker' });
    assert.equal(plugin.status, 404);

    ok(await docker('volume', 'rm', 'va', 'vb', generated));
    assert.deepEqual(await volumeNames(), []);
  });

  test('prune over the API: anonymous only, all=true, label filters, old API versions prune all', async () => {
    for (const body of [{ Name: 'p-named', Labels: { keep: 'no' } }, { Name: 'p-kept', Labels: { keep: 'yes' } }, {}]) {
      assert.equal((await d.request('POST', '/volumes/create', body)).status, 201);
    }
    const anon = (await d.request('POST', '/volumes/prune')).json();
    assert.equal(anon.VolumesDeleted.length, 1);
    assert.match(anon.VolumesDeleted[0], /^[0-9a-f]{64}$/);
    const filtered = (await d.request('POST', `/volumes/prune?filters=${encodeURIComponent(JSON.stringify({ all: ['true'], 'label!': ['keep=yes'] }))}`)).json();
    assert.deepEqual(filtered, { VolumesDeleted: ['p-named'], SpaceReclaimed: 0 });
    const badAll = await d.request('POST', `/volumes/prune?filters=${encodeURIComponent(JSON.stringify({ all: ['maybe'] }))}`);
    assert.equal(badAll.status, 400);
    const old = (await d.request('POST', '/v1.41/volumes/prune')).json();
    assert.deepEqual(old.VolumesDeleted, ['p-kept']);
  });

  test('volume events: create, mount, unmount, destroy', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    ok(await docker('run', '--name', 'ev', '-v', 'evvol:/e', 'busybox', 'true'));
    ok(await docker('rm', 'ev'));
    ok(await docker('volume', 'rm', 'evvol'));
    const r = await docker('events', '--since', String(since), '--until', String(Math.ceil(Date.now() / 1000) + 1), '--filter', 'type=volume', '--filter', 'volume=evvol', '--format', '{{.Action}} {{json .Actor.Attributes}}');
    const events = ok(r)
      .trim()
      .split('\n')
      .map((l) => [l.split(' ')[0], JSON.parse(l.slice(l.indexOf(' ') + 1))]);
    const id = events[1]![1].container;
    assert.deepEqual(events, [
      ['create', { driver: 'local' }],
      ['mount', { driver: 'local', container: id, destination: '/e', 'read/write': 'true', propagation: '' }],
      ['unmount', { driver: 'local', container: id }],
      ['destroy', { driver: 'local' }],
    ]);
  });

  test('system df shows volumes with their size and links', async () => {
    ok(await docker('run', '--name', 'dfctr', '-v', 'dfvol:/d', 'busybox', 'sh', '-c', 'head -c 5000 /dev/zero > /d/blob'));
    ok(await docker('volume', 'create', 'dfidle'));
    const df = (await d.request('GET', '/system/df')).json();
    const dfvol = df.Volumes.find((v: any) => v.Name === 'dfvol');
    assert.deepEqual(dfvol.UsageData, { Size: 5000, RefCount: 1 });
    assert.deepEqual(df.Volumes.find((v: any) => v.Name === 'dfidle').UsageData, { Size: 0, RefCount: 0 });
    const summary = ok(await docker('system', 'df'));
    assert.match(summary, /Local Volumes\s+2\s+1\s+5kB\s+0B \(0%\)/);
    const verbose = ok(await docker('system', 'df', '-v'));
    assert.match(verbose, /Local Volumes space usage:\n\nVOLUME NAME\s+LINKS\s+SIZE\n/);
    assert.match(verbose, /dfvol\s+1\s+5kB/);
    assert.match(verbose, /dfidle\s+0\s+0B/);
    ok(await docker('rm', 'dfctr'));
    ok(await docker('volume', 'rm', 'dfvol', 'dfidle'));
  });

  test('local driver options: a tmpfs volume is mounted while used and unmounted after', async () => {
    ok(await docker('volume', 'create', '-d', 'local', '-o', 'type=tmpfs', '-o', 'device=tmpfs', '-o', 'o=size=4m,mode=0755', 'tmpvolume'));
    const data = path.join(d.dataRoot, 'volumes/tmpvolume/_data');
    assert.ok(!mountsUnder(d.root).includes(data), 'not mounted before first use');
    ok(await docker('run', '-d', '--name', 'tv1', '-v', 'tmpvolume:/t', 'busybox', 'sh', '-c', 'echo in-tmpfs > /t/f; sleep 300'));
    assert.ok(mountsUnder(d.root).includes(data), 'mounted while a container uses it');
    const seen = ok(await docker('run', '--rm', '-v', 'tmpvolume:/t', 'busybox', 'sh', '-c', 'sleep 0.2; cat /t/f; grep " /t " /proc/mounts'));
    assert.match(seen, /^in-tmpfs\ntmpfs \/t tmpfs .*size=4096k/);
    assert.ok(mountsUnder(d.root).includes(data), 'still mounted: tv1 holds it');
    ok(await docker('rm', '-f', 'tv1'));
    assert.ok(!mountsUnder(d.root).includes(data), 'unmounted after the last user');
    const bad = await docker('volume', 'create', '-o', 'type=tmpfs', 'nodevice');
    assert.match(bad.stderr, /create nodevice: missing required option: "device"/);
    const broken = await docker('volume', 'create', '-o', 'type=none', '-o', 'o=bind', '-o', 'device=/nonexistent-berth-dir', 'broken');
    ok(broken);
    const use = await docker('run', '--rm', '-v', 'broken:/b', 'busybox', 'true');
    assert.notEqual(use.code, 0);
    assert.match(use.stderr, /error while mounting volume '.*broken\/_data': failed to mount local volume/);
    ok(await docker('volume', 'rm', 'tmpvolume', 'broken'));
  });

  test('start-up removes volume directories without a record and keeps recorded ones', async () => {
    ok(await docker('volume', 'create', 'survivor'));
    await d.kill();
    mkdirSync(path.join(d.dataRoot, 'volumes/orphan/_data'), { recursive: true });
    writeFileSync(path.join(d.dataRoot, 'volumes/orphan/_data/f'), 'x');
    await d.start();
    assert.equal(existsSync(path.join(d.dataRoot, 'volumes/orphan')), false);
    assert.ok(existsSync(path.join(d.dataRoot, 'volumes/survivor/_data')));
    assert.deepEqual(await volumeNames(), ['survivor']);
    ok(await docker('volume', 'rm', 'survivor'));
  });
});
