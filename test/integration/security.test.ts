import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TestDaemon, demux, hasDocker } from './harness.js';
import { DEFAULT_CAPABILITIES, KNOWN_CAPABILITIES } from '../../src/runtime/spec/index.js';

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Creates, starts and waits for a busybox `sh -c cmd` (no network), returns its exit and output, removes it. */
async function runIn(d: TestDaemon, cmd: string, hostConfig: object = {}): Promise<Ran> {
  const created = await d.request('POST', '/containers/create', { Image: 'busybox', Cmd: ['sh', '-c', cmd], HostConfig: { NetworkMode: 'none', ...hostConfig } });
  assert.equal(created.status, 201, created.text);
  const id = created.json().Id as string;
  try {
    const started = await d.request('POST', `/containers/${id}/start`);
    assert.equal(started.status, 204, started.text);
    const code = (await d.request('POST', `/containers/${id}/wait`)).json().StatusCode as number;
    const out = demux((await d.request('GET', `/containers/${id}/logs?stdout=1&stderr=1`)).body);
    return { code, ...out };
  } finally {
    await d.request('DELETE', `/containers/${id}?force=1`);
  }
}

/** `key=value` lines a script printed. */
function vars(out: string): Record<string, string> {
  const v: Record<string, string> = {};
  for (const line of out.split('\n')) {
    const m = /^([\w.-]+)=(.*)$/.exec(line);
    if (m) v[m[1]!] = m[2]!;
  }
  return v;
}

const capHex = (caps: readonly string[]) => caps.reduce((n, c) => n | (1n << BigInt(KNOWN_CAPABILITIES.indexOf(c))), 0n).toString(16).padStart(16, '0');
const ownCapEff = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]!;

/** Files Docker masks that this kernel has (/proc/kcore needs CONFIG_PROC_KCORE). */
const MASKED = ['/proc/kcore', '/proc/keys', '/proc/timer_list', '/proc/sched_debug'].filter((p) => existsSync(p));

/** A script printing what a container may do; nothing it tries can change the host (see each line). */
const PROBE = [
  `grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status | sed 's/:\\s*/=/'`,
  // A user namespace: unshare(CLONE_NEWUSER), gated by seccomp.
  'unshare -r true; echo unshare=$?',
  // A tmpfs on a private mount point, gone with the container.
  'mkdir -p /probe-mnt; mount -t tmpfs none /probe-mnt; echo mount=$?',
  // Reading the clock's state needs nothing; setting the tick to the value it has needs CAP_SYS_TIME (a no-op).
  'adjtimex >/dev/null; echo adjread=$?',
  `adjtimex -t "$(adjtimex | awk '/tick:/{print $3}')" >/dev/null; echo adjtick=$?`,
  // Setting the clock to what it says now: refused without CAP_SYS_TIME (only run where it is refused).
  `[ -n "$TRY_DATE" ] && { date -s "$(date '+%Y-%m-%d %H:%M:%S')" >/dev/null; echo date=$?; }`,
  // init_module with a file that is no module: refused with EPERM, or rejected by the kernel as no module.
  'insmod /bin/busybox 2>/tmp/insmod.err; echo insmod=$?; echo "insmoderr=$(cat /tmp/insmod.err)"',
  ...MASKED.map((p) => `echo "masked${p.replaceAll('/', '_')}=$(stat -c '%t:%T' ${p})"`),
  `echo "sysmount=$(grep ' /sys ' /proc/mounts | cut -d' ' -f4 | cut -d, -f1)"`,
  `echo "devices=$(ls /dev | tr '\\n' ' ')"`,
].join('\n');

describe('containers stay inside: seccomp, capabilities, privileged, security options', () => {
  const d = new TestDaemon();
  before(async () => {
    await d.start();
    await d.seedBusybox();
  });
  after(async () => {
    for (const c of (await d.request('GET', '/containers/json?all=1')).json()) await d.request('DELETE', `/containers/${c.Id}?force=1`);
    await d.stop();
  });

  test('a default container: Docker’s capabilities, seccomp filter, masked paths; no namespaces, mounts, clock or modules', async () => {
    const r = await runIn(d, `TRY_DATE=1\n${PROBE}`);
    const v = vars(r.stdout);
    assert.equal(v.CapEff, capHex(DEFAULT_CAPABILITIES));
    assert.equal(v.Seccomp, '2');
    assert.equal(v.NoNewPrivs, '0');
    assert.notEqual(v.unshare, '0');
    assert.match(r.stderr, /unshare: unshare\(0x10000000\): Operation not permitted/);
    assert.notEqual(v.mount, '0');
    assert.equal(v.adjread, '0');
    assert.notEqual(v.adjtick, '0');
    // busybox date reports the failure but exits 0.
    assert.match(r.stderr, /date: can't set date: Operation not permitted/);
    assert.notEqual(v.insmod, '0');
    assert.match(v.insmoderr!, /Operation not permitted/);
    for (const p of MASKED) assert.equal(v[`masked${p.replaceAll('/', '_')}`], '1:3', `${p} is /dev/null`);
    assert.equal(v.sysmount, 'ro');
    assert.ok(!/\bkvm\b|\bloop0\b/.test(v.devices!), v.devices);
  });

  test('--privileged: the daemon’s capabilities (no CAP_SYS_RESOURCE here), host devices, nothing masked, no seccomp', async () => {
    const r = await runIn(d, PROBE, { Privileged: true });
    const v = vars(r.stdout);
    assert.equal(v.CapEff, ownCapEff, 'every capability the daemon holds');
    assert.equal(v.Seccomp, '0');
    assert.equal(v.unshare, '0', r.stderr);
    assert.equal(v.mount, '0', r.stderr);
    assert.equal(v.adjtick, '0', r.stderr);
    // No longer refused by seccomp or capabilities: the kernel itself says this is no module.
    assert.doesNotMatch(v.insmoderr!, /Operation not permitted/);
    for (const p of MASKED) assert.notEqual(v[`masked${p.replaceAll('/', '_')}`], '1:3', `${p} is not masked`);
    assert.equal(v.sysmount, 'rw');
    for (const dev of ['kvm', 'loop0', 'fuse']) {
      if (existsSync(`/dev/${dev}`)) assert.match(v.devices!, new RegExp(`\\b${dev}\\b`));
    }
  });

  test('--cap-add SYS_ADMIN: the seccomp rules that need it follow (mount, unshare), the filter stays', async () => {
    const v = vars((await runIn(d, PROBE, { CapAdd: ['SYS_ADMIN'] })).stdout);
    assert.equal(v.Seccomp, '2');
    assert.equal(v.CapEff, capHex([...DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN']));
    assert.equal(v.mount, '0');
    assert.equal(v.unshare, '0');
    assert.notEqual(v.adjtick, '0', 'still no CAP_SYS_TIME');
    const dropped = vars((await runIn(d, PROBE, { CapDrop: ['ALL'], CapAdd: ['CHOWN'] })).stdout);
    assert.equal(dropped.CapEff, capHex(['CAP_CHOWN']));
  });

  test('--security-opt seccomp=unconfined and no-new-privileges', async () => {
    const r = await runIn(d, 'grep Seccomp: /proc/self/status; unshare -r id -u', { SecurityOpt: ['seccomp=unconfined'] });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Seccomp:\s+0$/m);
    assert.match(r.stdout, /^0$/m, 'unshare -r works without the filter');
    const n = await runIn(d, 'grep NoNewPrivs: /proc/self/status', { SecurityOpt: ['no-new-privileges'] });
    assert.match(n.stdout, /^NoNewPrivs:\s+1$/m);
    const f = await runIn(d, 'grep NoNewPrivs: /proc/self/status', { SecurityOpt: ['no-new-privileges=false'] });
    assert.match(f.stdout, /^NoNewPrivs:\s+0$/m);
  });

  test('a custom seccomp profile (Docker’s format) that denies mkdir', async () => {
    const profile = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO' }] };
    const r = await runIn(d, 'mkdir /x; echo mkdir=$?; touch /y; echo touch=$?', { SecurityOpt: [`seccomp=${JSON.stringify(profile)}`] });
    assert.deepEqual(vars(r.stdout), { mkdir: '1', touch: '0' });
    assert.match(r.stderr, /can't create directory '\/x': Operation not permitted/);

    // As a user types it: the client reads the file and sends its JSON.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-seccomp-'));
    try {
      const file = path.join(dir, 'no-mkdir.json');
      writeFileSync(file, JSON.stringify(profile, null, 2));
      const clients = [(args: string[]) => d.berth(args), ...(hasDocker ? [(args: string[]) => d.docker(args)] : [])];
      for (const cli of clients) {
        const c = await cli(['create', '--network', 'none', '--security-opt', `seccomp=${file}`, 'busybox', 'mkdir', '/x']);
        assert.equal(c.code, 0, c.stderr);
        const id = c.stdout.trim();
        const hc = (await d.request('GET', `/containers/${id}/json`)).json().HostConfig;
        assert.deepEqual(hc.SecurityOpt, [`seccomp=${JSON.stringify(profile)}`]);
        assert.equal((await d.request('POST', `/containers/${id}/start`)).status, 204);
        assert.equal((await d.request('POST', `/containers/${id}/wait`)).json().StatusCode, 1);
        await d.request('DELETE', `/containers/${id}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the flags as a user types them, with the berth and docker CLIs', async () => {
    const clients = [(args: string[]) => d.berth(args), ...(hasDocker ? [(args: string[]) => d.docker(args)] : [])];
    for (const cli of clients) {
      const c = await cli([
        'create', '--network', 'none', '--privileged', '--security-opt', 'no-new-privileges', '--security-opt', 'systempaths=unconfined',
        '--device', '/dev/null:/dev/mynull:r', '--userns', 'host', '--ipc', 'shareable', '--pid', 'host', '--uts', 'host',
        '--cap-add', 'NET_ADMIN', '--cap-drop', 'MKNOD', '--read-only', '--user', '0:0', '--group-add', '50',
        'busybox', 'sh', '-c', 'test -c /dev/mynull && grep -q "NoNewPrivs:\\s*1" /proc/self/status',
      ]);
      assert.equal(c.code, 0, c.stderr);
      const id = c.stdout.trim();
      const hc = (await d.request('GET', `/containers/${id}/json`)).json().HostConfig;
      assert.equal(hc.Privileged, true);
      assert.deepEqual(hc.SecurityOpt, ['no-new-privileges']);
      assert.deepEqual([hc.MaskedPaths, hc.ReadonlyPaths], [[], []]);
      assert.deepEqual(hc.Devices, [{ PathOnHost: '/dev/null', PathInContainer: '/dev/mynull', CgroupPermissions: 'r' }]);
      assert.deepEqual([hc.UsernsMode, hc.IpcMode, hc.PidMode, hc.UTSMode, hc.ReadonlyRootfs], ['host', 'shareable', 'host', 'host', true]);
      assert.deepEqual([hc.CapAdd, hc.CapDrop, hc.GroupAdd], [['CAP_NET_ADMIN'], ['CAP_MKNOD'], ['50']]);
      assert.equal((await d.request('POST', `/containers/${id}/start`)).status, 204);
      assert.equal((await d.request('POST', `/containers/${id}/wait`)).json().StatusCode, 0);
      await d.request('DELETE', `/containers/${id}`);
    }
    const bad = await d.berth(['create', '--device', '/dev/null:/dev/x:rwx', 'busybox']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /bad mode specified: rwx|invalid device/);
  });

  test('bad security options are refused at create with Docker’s words', async () => {
    const create = (SecurityOpt: string[]) => d.request('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: { SecurityOpt } });
    let r = await create(['nonsense']);
    assert.equal(r.status, 400);
    assert.equal(r.json().message, 'invalid --security-opt 1: "nonsense"');
    r = await create(['seccomp={not json']);
    assert.equal(r.status, 400);
    assert.match(r.json().message, /^Decoding seccomp profile failed: /);
    r = await d.request('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: { UsernsMode: 'private' } });
    assert.equal(r.status, 400);
    assert.equal(r.json().message, 'invalid USER mode: private');
  });

  test('--device with a new name and cgroup permissions, --read-only, --user and --group-add', async () => {
    if (existsSync('/dev/loop0')) {
      const r = await runIn(
        d,
        "stat -c '%F %t:%T' /dev/xloop; dd if=/dev/xloop of=/dev/null count=0 2>/dev/null && echo read=ok; dd if=/dev/zero of=/dev/xloop count=0 || echo write=denied",
        { Devices: [{ PathOnHost: '/dev/loop0', PathInContainer: '/dev/xloop', CgroupPermissions: 'r' }] },
      );
      assert.match(r.stdout, /^block special file 7:0$/m);
      assert.equal(vars(r.stdout).read, 'ok');
      assert.equal(vars(r.stdout).write, 'denied');
      assert.match(r.stderr, /can't open '\/dev\/xloop': Operation not permitted/);
    }
    const ro = await runIn(d, 'touch /x', { ReadonlyRootfs: true });
    assert.notEqual(ro.code, 0);
    assert.match(ro.stderr, /Read-only file system/);
    const created = await d.request('POST', '/containers/create', { Image: 'busybox', User: '1000:1000', Cmd: ['id'], HostConfig: { NetworkMode: 'none', GroupAdd: ['50', 'wheel'] } });
    const id = created.json().Id;
    await d.request('POST', `/containers/${id}/start`);
    await d.request('POST', `/containers/${id}/wait`);
    const out = demux((await d.request('GET', `/containers/${id}/logs?stdout=1`)).body).stdout;
    const m = /^uid=1000 gid=1000 groups=(.*)$/m.exec(out);
    assert.ok(m, out);
    assert.deepEqual(m[1]!.split(',').sort(), ['10(wheel)', '1000', '50(staff)']);
  });

  test('--ipc shareable / container:X / host / none, --pid container:X / host, --uts host', async () => {
    const make = async (name: string, cmd: string, hc: object) => {
      const r = await d.request('POST', `/containers/create?name=${name}`, { Image: 'busybox', Cmd: ['sh', '-c', cmd], HostConfig: { NetworkMode: 'none', ...hc } });
      assert.equal(r.status, 201, r.text);
      assert.equal((await d.request('POST', `/containers/${name}/start`)).status, 204);
    };
    await make('ipc-donor', 'echo shared > /dev/shm/note; exec sleep 1000', { IpcMode: 'shareable' });
    await make('ipc-private', 'exec sleep 1000', {});
    await new Promise((r) => setTimeout(r, 300));
    const donorPid = (await d.request('GET', '/containers/ipc-donor/json')).json().State.Pid;
    const ns = (pid: number | 'self', kind: string) => readlinkSync(`/proc/${pid}/ns/${kind}`);

    let r = await runIn(d, 'cat /dev/shm/note; readlink /proc/self/ns/ipc', { IpcMode: 'container:ipc-donor' });
    assert.deepEqual(r.stdout.trim().split('\n'), ['shared', ns(donorPid, 'ipc')]);
    r = await runIn(d, 'ps -o comm; readlink /proc/self/ns/pid', { PidMode: 'container:ipc-donor' });
    assert.match(r.stdout, /^sleep$/m);
    assert.match(r.stdout, new RegExp(`^${ns(donorPid, 'pid').replace(/[[\]]/g, '\\$&')}$`, 'm'));
    const refused = await d.request('POST', '/containers/create?name=ipc-joiner', { Image: 'busybox', Cmd: ['true'], HostConfig: { NetworkMode: 'none', IpcMode: 'container:ipc-private' } });
    assert.equal(refused.status, 201);
    const start = await d.request('POST', '/containers/ipc-joiner/start');
    assert.equal(start.status, 400);
    assert.match(start.json().message, /non-shareable IPC \(hint: use IpcMode:shareable for the donor container\)/);

    r = await runIn(d, 'readlink /proc/self/ns/ipc; readlink /proc/self/ns/pid; hostname', { IpcMode: 'host', PidMode: 'host', UTSMode: 'host' });
    assert.deepEqual(r.stdout.trim().split('\n'), [ns('self', 'ipc'), ns('self', 'pid'), os.hostname()]);
    r = await runIn(d, 'grep -c " /dev/shm " /proc/mounts', { IpcMode: 'none' });
    assert.equal(r.stdout.trim(), '0');
  });
});

describe('--userns-remap', () => {
  const d = new TestDaemon(['--userns-remap', 'default']);
  let first = { uid: 0, gid: 0 };
  before(async () => {
    // As with dockerd, the remapped root must be able to pass through the directories above the data root.
    chmodSync(d.root, 0o711);
    await d.start();
    await d.seedBusybox();
    const range = (file: string) => Number(/^berth:(\d+):/m.exec(readFileSync(file, 'utf8'))![1]);
    first = { uid: range('/etc/subuid'), gid: range('/etc/subgid') };
  });
  after(async () => {
    for (const c of (await d.request('GET', '/containers/json?all=1')).json()) await d.request('DELETE', `/containers/${c.Id}?force=1`);
    await d.stop();
  });

  test('the berth user with subordinate ranges; a data root of its own', async () => {
    assert.match(readFileSync('/etc/passwd', 'utf8'), /^berth:/m);
    const info = (await d.request('GET', '/info')).json();
    assert.ok(info.SecurityOptions.includes('name=userns'));
    assert.equal(info.DockerRootDir, path.join(d.dataRoot, `${first.uid}.${first.gid}`));
    // Image layers are unpacked with their owners moved into the range.
    const layers = path.join(info.DockerRootDir, 'layers');
    const busybox = path.join(layers, readdirSync(layers)[0]!, 'diff/bin/busybox');
    assert.equal(statSync(busybox).uid, first.uid);
  });

  test('container root is the first subordinate id on the host and root inside', async () => {
    const created = await d.request('POST', '/containers/create', {
      Image: 'busybox',
      Cmd: ['sh', '-c', "cat /proc/self/uid_map; id -u; stat -c '%u:%g' /bin/busybox /; touch /written-by-root; grep Seccomp: /proc/self/status"],
      HostConfig: { NetworkMode: 'none' },
    });
    assert.equal(created.status, 201, created.text);
    const id = created.json().Id;
    assert.equal((await d.request('POST', `/containers/${id}/start`)).status, 204);
    assert.equal((await d.request('POST', `/containers/${id}/wait`)).json().StatusCode, 0);
    const out = demux((await d.request('GET', `/containers/${id}/logs?stdout=1&stderr=1`)).body);
    const lines = out.stdout.trim().split('\n');
    assert.deepEqual(lines[0]!.trim().split(/\s+/), ['0', String(first.uid), '65536']);
    assert.deepEqual(lines.slice(1, 4), ['0', '0:0', '0:0']);
    assert.match(out.stdout, /^Seccomp:\s+2$/m);
    // The file container root wrote belongs to the mapped uid on the host.
    const info = (await d.request('GET', '/info')).json();
    const upper = path.join(info.DockerRootDir, 'containers', id, 'upper', 'written-by-root');
    assert.deepEqual([statSync(upper).uid, statSync(upper).gid], [first.uid, first.gid]);
    await d.request('DELETE', `/containers/${id}`);

    // And so does a file it writes on a bind mount (a directory others may write to).
    const shared = mkdtempSync(path.join(d.root, 'bind-'));
    chmodSync(shared, 0o777);
    const r = await runIn(d, 'touch /data/by-root; stat -c %u /data/by-root', { Binds: [`${shared}:/data`] });
    assert.equal(r.stdout.trim(), '0', r.stderr);
    assert.deepEqual([statSync(path.join(shared, 'by-root')).uid, statSync(path.join(shared, 'by-root')).gid], [first.uid, first.gid]);
  });

  test('on the default bridge network (a namespace the daemon made) the container runs, /sys bound read-only', async () => {
    const r = await runIn(d, "id -u; grep ' /sys ' /proc/mounts | cut -d' ' -f4 | cut -d, -f1; ip -o -4 addr show eth0 | grep -c inet", { NetworkMode: 'bridge' });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), ['0', 'ro', '1']);
  });

  test('--privileged, --network host and --pid host need --userns=host; with it, no user namespace', async () => {
    const create = (HostConfig: object) => d.request('POST', '/containers/create', { Image: 'busybox', Cmd: ['cat', '/proc/self/uid_map'], HostConfig });
    let r = await create({ Privileged: true });
    assert.equal(r.status, 400);
    assert.match(r.json().message, /^privileged mode is incompatible with user namespaces/);
    r = await create({ NetworkMode: 'host' });
    assert.equal(r.json().message, "cannot share the host's network namespace when user namespaces are enabled");
    r = await create({ PidMode: 'host' });
    assert.equal(r.json().message, 'cannot share the host PID namespace when user namespaces are enabled');
    const host = await runIn(d, 'cat /proc/self/uid_map; grep CapEff: /proc/self/status', { Privileged: true, UsernsMode: 'host' });
    assert.deepEqual(host.stdout.trim().split('\n')[0]!.trim().split(/\s+/), ['0', '0', '4294967295']);
    assert.match(host.stdout, new RegExp(`CapEff:\\s+${ownCapEff}`));
  });

  test('sharing IPC and PID namespaces joins the other container’s user namespace', async () => {
    const r = await d.request('POST', '/containers/create?name=remap-donor', {
      Image: 'busybox',
      Cmd: ['sh', '-c', 'echo shared > /dev/shm/note; exec sleep 1000'],
      HostConfig: { NetworkMode: 'none', IpcMode: 'shareable' },
    });
    assert.equal(r.status, 201, r.text);
    assert.equal((await d.request('POST', '/containers/remap-donor/start')).status, 204);
    await new Promise((res) => setTimeout(res, 300));
    const pid = (await d.request('GET', '/containers/remap-donor/json')).json().State.Pid;
    const joined = await runIn(d, 'cat /dev/shm/note; ps -o comm | grep -c sleep; readlink /proc/self/ns/user', {
      IpcMode: 'container:remap-donor',
      PidMode: 'container:remap-donor',
    });
    assert.deepEqual(joined.stdout.trim().split('\n'), ['shared', '1', readlinkSync(`/proc/${pid}/ns/user`)]);
  });

  test('a data root that the remapped root cannot pass through is refused at start, as dockerd does', async () => {
    const strict = new TestDaemon(['--userns-remap', 'default']);
    try {
      await assert.rejects(strict.start(), /berthd exited/);
      // berthd's last words may arrive after its exit is seen.
      for (let i = 0; i < 40 && !/restricts access/.test(strict.logs); i++) await new Promise((r) => setTimeout(r, 50));
      assert.match(strict.logs, /restricts access to the remapped root uid\/gid/);
    } finally {
      await strict.stop();
    }
  });
});
