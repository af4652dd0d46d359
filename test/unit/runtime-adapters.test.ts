/**
 * Tests for the runtime adapters (runc, conmon, cgroups, exec-file) and the conmon log reader.
 * The parts that need root, runc and conmon (a real container, a real cgroup) skip themselves
 * when those are missing.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

import { dockerTimestamp, formatTimestampLine, readLogs, type LogMessage, type ReadLogsOptions } from '../../src/containers/logs.js';
import { frameMultiplexed } from '../../src/api/streams/framing.js';
import { ExecFileError, execFileText } from '../../src/lib/exec-file.js';
import { parseRuncStderr, Runc, RuncError } from '../../src/runtime/runc.js';
import { ConmonError, readExitCode, removeConmonFiles, startConmon, watchExits } from '../../src/runtime/conmon.js';
import { cgroupPaths, cgroupVersion, readMemoryEvents, readStats, removeCgroup } from '../../src/runtime/cgroups.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function tmpdir(prefix = 'berth-rt-'): Promise<string> {
  return fsp.mkdtemp(path.join(os.tmpdir(), prefix));
}

/** One k8s-file record line as conmon writes it. */
function rec(sec: number, stream: 'stdout' | 'stderr', tag: 'F' | 'P', text: string, nsec = 0): string {
  const t = new Date(sec * 1000).toISOString().slice(0, 19);
  return `${t}.${String(nsec).padStart(9, '0')}+00:00 ${stream} ${tag} ${text}\n`;
}

const BASE = 1_700_000_000; // a time in seconds, in the past

function opts(over: Partial<ReadLogsOptions> = {}): ReadLogsOptions {
  return {
    stdout: true,
    stderr: true,
    timestamps: false,
    follow: false,
    isRunning: () => false,
    signal: new AbortController().signal,
    ...over,
  };
}

async function collect(it: AsyncIterable<LogMessage>): Promise<LogMessage[]> {
  const out: LogMessage[] = [];
  for await (const m of it) out.push(m);
  return out;
}

const text = (ms: LogMessage[]) => ms.map((m) => `${m.stream}:${m.line.toString()}`);

describe('logs: parsing conmon k8s-file records', () => {
  let dir: string;
  before(async () => {
    dir = await tmpdir();
  });
  after(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it('reads both streams, filters them and keeps the newline of F records', async () => {
    const file = path.join(dir, 'basic.log');
    await fsp.writeFile(file, rec(BASE, 'stdout', 'F', 'out', 123) + rec(BASE + 1, 'stderr', 'F', 'err') + rec(BASE + 2, 'stdout', 'F', ''));
    const all = await collect(readLogs(file, opts()));
    assert.deepEqual(text(all), ['stdout:out\n', 'stderr:err\n', 'stdout:\n']);
    assert.equal(all[0]!.time, `${new Date(BASE * 1000).toISOString().slice(0, 19)}.000000123Z`);
    assert.deepEqual(text(await collect(readLogs(file, opts({ stdout: false })))), ['stderr:err\n']);
    assert.deepEqual(text(await collect(readLogs(file, opts({ stderr: false })))), ['stdout:out\n', 'stdout:\n']);
  });

  it('joins P records with the F that ends them, per stream', async () => {
    const file = path.join(dir, 'partial.log');
    await fsp.writeFile(
      file,
      rec(BASE, 'stdout', 'P', 'hel') +
        rec(BASE, 'stderr', 'F', 'in between') +
        rec(BASE + 1, 'stdout', 'P', 'lo ') +
        rec(BASE + 2, 'stdout', 'F', 'world') +
        rec(BASE + 3, 'stdout', 'P', 'no end'),
    );
    const all = await collect(readLogs(file, opts()));
    assert.deepEqual(text(all), ['stderr:in between\n', 'stdout:hello world\n', 'stdout:no end']);
    // The joined line carries the time it began at.
    assert.equal(all[1]!.time, dockerTimestamp(new Date(BASE * 1000).toISOString()));
  });

  it('applies since and until (ns) and prefixes timestamps', async () => {
    const file = path.join(dir, 'times.log');
    await fsp.writeFile(file, [0, 1, 2, 3, 4].map((i) => rec(BASE + i, 'stdout', 'F', `l${i}`, 500)).join(''));
    const ns = (s: number) => s * 1e9;
    const exact = (s: number) => BigInt(s) * 1_000_000_000n;
    assert.deepEqual(text(await collect(readLogs(file, opts({ since: exact(BASE + 1) + 500n })))), ['stdout:l1\n', 'stdout:l2\n', 'stdout:l3\n', 'stdout:l4\n']);
    assert.deepEqual(text(await collect(readLogs(file, opts({ since: exact(BASE + 1) + 501n })))), ['stdout:l2\n', 'stdout:l3\n', 'stdout:l4\n']);
    assert.deepEqual(text(await collect(readLogs(file, opts({ since: ns(BASE + 3) })))), ['stdout:l3\n', 'stdout:l4\n']);
    assert.deepEqual(text(await collect(readLogs(file, opts({ since: ns(BASE + 1), until: ns(BASE + 3) })))), ['stdout:l1\n', 'stdout:l2\n']);
    const ts = await collect(readLogs(file, opts({ tail: 1, timestamps: true })));
    const iso = new Date((BASE + 4) * 1000).toISOString().slice(0, 19);
    assert.equal(ts[0]!.line.toString(), `${iso}.000000500Z l4\n`);
  });

  it('tail counts messages from the end, including joined partial lines across the cut', async () => {
    const file = path.join(dir, 'tail.log');
    await fsp.writeFile(
      file,
      rec(BASE, 'stdout', 'F', 'a') +
        rec(BASE, 'stdout', 'P', 'b1-') +
        rec(BASE, 'stderr', 'F', 'e1') +
        rec(BASE, 'stdout', 'P', 'b2-') +
        rec(BASE, 'stderr', 'F', 'e2') +
        rec(BASE, 'stdout', 'F', 'b3') +
        rec(BASE, 'stderr', 'F', 'e3'),
    );
    const tail = async (n: number | 'all') => text(await collect(readLogs(file, opts({ tail: n }))));
    assert.deepEqual(await tail(0), []);
    assert.deepEqual(await tail(1), ['stderr:e3\n']);
    assert.deepEqual(await tail(2), ['stdout:b1-b2-b3\n', 'stderr:e3\n']);
    assert.deepEqual(await tail(3), ['stderr:e2\n', 'stdout:b1-b2-b3\n', 'stderr:e3\n']);
    const all = ['stdout:a\n', 'stderr:e1\n', 'stderr:e2\n', 'stdout:b1-b2-b3\n', 'stderr:e3\n'];
    assert.deepEqual(await tail(100), all);
    assert.deepEqual(await tail('all'), all);
    assert.deepEqual(await tail(-1), all);
    // tail counts both streams before the stream choice, as dockerd does.
    assert.deepEqual(text(await collect(readLogs(file, opts({ tail: 2, stderr: false })))), ['stdout:b1-b2-b3\n']);
  });

  it('tail reads a large file backwards', async () => {
    const file = path.join(dir, 'large.log');
    const lines: string[] = [];
    for (let i = 0; i < 20000; i++) lines.push(rec(BASE + i, i % 3 ? 'stdout' : 'stderr', 'F', `line ${i} ${'x'.repeat(i % 50)}`));
    await fsp.writeFile(file, lines.join(''));
    const got = await collect(readLogs(file, opts({ tail: 3 })));
    assert.deepEqual(
      got.map((m) => m.line.toString().split(' ').slice(0, 2).join(' ')),
      ['line 19997', 'line 19998', 'line 19999'],
    );
    assert.equal((await collect(readLogs(file, opts({ tail: 5000 })))).length, 5000);
    assert.equal((await collect(readLogs(file, opts()))).length, 20000);
  });

  it('reads a missing file as empty', async () => {
    assert.deepEqual(await collect(readLogs(path.join(dir, 'missing.log'), opts())), []);
    assert.deepEqual(await collect(readLogs(path.join(dir, 'missing.log'), opts({ follow: true, tail: 2 }))), []);
  });

  it('follows appended data, joins partial lines written later, and ends when the container stops', async () => {
    const file = path.join(dir, 'follow.log');
    await fsp.writeFile(file, rec(BASE, 'stdout', 'F', 'old1') + rec(BASE, 'stdout', 'F', 'old2') + rec(BASE, 'stdout', 'P', 'par'));
    let running = true;
    const seen: string[] = [];
    const done = (async () => {
      for await (const m of readLogs(file, opts({ follow: true, tail: 2, isRunning: () => running }))) seen.push(`${m.stream}:${m.line}`);
    })();
    await sleep(100);
    assert.deepEqual(seen, ['stdout:old2\n']);
    await fsp.appendFile(file, rec(BASE + 1, 'stdout', 'F', 'tial') + rec(BASE + 1, 'stderr', 'F', 'new'));
    await sleep(100);
    assert.deepEqual(seen, ['stdout:old2\n', 'stdout:partial\n', 'stderr:new\n']);
    // A record appended in two writes is read once whole.
    const r = rec(BASE + 2, 'stdout', 'F', 'split write');
    await fsp.appendFile(file, r.slice(0, 20));
    await sleep(50);
    await fsp.appendFile(file, r.slice(20) + rec(BASE + 3, 'stdout', 'P', 'last words'));
    running = false;
    await done;
    assert.deepEqual(seen, ['stdout:old2\n', 'stdout:partial\n', 'stderr:new\n', 'stdout:split write\n', 'stdout:last words']);
  });

  it('follow survives the file being replaced or truncated, and stops on abort', async () => {
    const file = path.join(dir, 'rotate.log');
    await fsp.writeFile(file, rec(BASE, 'stdout', 'F', 'first'));
    const ac = new AbortController();
    const seen: string[] = [];
    const done = (async () => {
      for await (const m of readLogs(file, opts({ follow: true, isRunning: () => true, signal: ac.signal }))) seen.push(m.line.toString());
    })();
    await sleep(80);
    // conmon's --log-size-max: a new file renamed over the path.
    await fsp.appendFile(file, rec(BASE, 'stdout', 'F', 'last of old'));
    await fsp.writeFile(`${file}.tmp`, rec(BASE + 1, 'stdout', 'F', 'rotated'));
    await fsp.rename(`${file}.tmp`, file);
    await sleep(150);
    assert.deepEqual(seen, ['first\n', 'last of old\n', 'rotated\n']);
    // Truncated in place, then written again.
    await fsp.truncate(file, 0);
    await sleep(50);
    await fsp.appendFile(file, rec(BASE + 2, 'stdout', 'F', 'after truncate'));
    await sleep(400);
    assert.deepEqual(seen, ['first\n', 'last of old\n', 'rotated\n', 'after truncate\n']);
    ac.abort();
    await done;
  });

  it('follow with until in the past does not wait', async () => {
    const file = path.join(dir, 'until.log');
    await fsp.writeFile(file, rec(BASE, 'stdout', 'F', 'x'));
    const got = await collect(readLogs(file, opts({ follow: true, isRunning: () => true, until: (BASE + 10) * 1e9 })));
    assert.deepEqual(text(got), ['stdout:x\n']);
  });

  it('follow ends when until passes', async () => {
    const file = path.join(os.tmpdir(), `berth-until-${randomBytes(4).toString('hex')}.log`);
    await fsp.writeFile(file, rec(BASE, 'stdout', 'F', 'x'));
    const t0 = Date.now();
    const got = await collect(readLogs(file, opts({ follow: true, isRunning: () => true, until: BigInt(t0 + 300) * 1_000_000n })));
    assert.deepEqual(text(got), ['stdout:x\n']);
    assert.ok(Date.now() - t0 >= 250, `${Date.now() - t0} ms`);
    await fsp.rm(file);
  });
});

describe('logs: Docker framing and timestamps', () => {
  it('frames stdout and stderr with the 8-byte header', () => {
    assert.deepEqual([...frameMultiplexed('stdout', Buffer.from('hi\n'))], [1, 0, 0, 0, 0, 0, 0, 3, 0x68, 0x69, 0x0a]);
    const big = frameMultiplexed('stderr', Buffer.alloc(70000, 0x61));
    assert.equal(big[0], 2);
    assert.equal(big.readUInt32BE(4), 70000);
    assert.equal(big.length, 70008);
  });

  it('prints times as docker logs -t does: UTC, 9 digits, Z', () => {
    assert.equal(dockerTimestamp('2026-11-28T13:50:08.027479552+00:00'), '2026-11-28T13:50:08.027479552Z');
    assert.equal(dockerTimestamp('2026-11-28T14:50:08.0274+01:00'), '2026-11-28T13:50:08.027400000Z');
    assert.equal(dockerTimestamp('2026-11-28T13:50:08Z'), '2026-11-28T13:50:08.000000000Z');
    assert.equal(
      formatTimestampLine('2026-11-28T13:50:08.5Z', Buffer.from('hello\n')).toString(),
      '2026-11-28T13:50:08.500000000Z hello\n',
    );
  });
});

describe('exec-file and runc error messages', () => {
  it('puts the program, its arguments and its stderr in the error', async () => {
    assert.equal(await execFileText('sh', ['-c', 'cat'], { input: 'piped' }), 'piped');
    await assert.rejects(execFileText('sh', ['-c', 'echo boom >&2; exit 3']), (err: unknown) => {
      assert.ok(err instanceof ExecFileError);
      assert.match(err.message, /^sh -c "echo boom >&2; exit 3": boom$/);
      assert.equal(err.exitCode, 3);
      return true;
    });
    await assert.rejects(execFileText('/nonexistent/prog', ['x']), /prog x: .*executable file not found/);
  });

  it('reduces runc log lines to their message', () => {
    assert.equal(parseRuncStderr('time="2026-11-28T13:50:42Z" level=error msg="container does not exist"\n'), 'container does not exist');
    assert.equal(parseRuncStderr('{"level":"error","msg":"container not running","time":"2026-11-28T13:50:42Z"}\n'), 'container not running');
    assert.equal(
      parseRuncStderr(
        'time="2026-11-28T13:50:24Z" level=warning msg="something odd"\ntime="2026-11-28T13:50:24Z" level=error msg="runc create failed: unable to start container process: exec: \\"nope\\": executable file not found in $PATH"\n',
      ),
      'runc create failed: unable to start container process: exec: "nope": executable file not found in $PATH',
    );
    assert.equal(parseRuncStderr('Incorrect Usage.\n\nNAME:\n'), 'Incorrect Usage.\nNAME:');
  });
});

describe('conmon exit files', () => {
  let dir: string;
  before(async () => {
    dir = await tmpdir();
  });
  after(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it('readExitCode reads the code, undefined while missing or empty', async () => {
    await fsp.writeFile(path.join(dir, 'a'), '3');
    await fsp.writeFile(path.join(dir, 'b'), '');
    assert.equal(await readExitCode(dir, 'a'), 3);
    assert.equal(await readExitCode(dir, 'b'), undefined);
    assert.equal(await readExitCode(dir, 'c'), undefined);
  });

  it('watchExits reports each exit once, also when the file is created empty and written later', async () => {
    const exits = path.join(dir, 'exits');
    await fsp.mkdir(exits);
    await fsp.writeFile(path.join(exits, 'pre'), '0');
    const got: Array<[string, number]> = [];
    const w = watchExits(exits, (id, code) => got.push([id, code]));
    await w.ready;
    const fh = await fsp.open(path.join(exits, 'c1'), 'w');
    await sleep(30);
    await fh.write('137');
    await fh.close();
    await fsp.writeFile(path.join(exits, 'c2'), '0');
    for (let i = 0; i < 100 && got.length < 2; i++) await sleep(10);
    await sleep(50);
    assert.deepEqual(got.sort(), [
      ['c1', 137],
      ['c2', 0],
    ]);
    // Deleted by the daemon, then written again (a restart): reported again.
    await fsp.unlink(path.join(exits, 'c2'));
    await sleep(20);
    await fsp.writeFile(path.join(exits, 'c2'), '1');
    for (let i = 0; i < 100 && got.length < 3; i++) await sleep(10);
    assert.deepEqual(got[2], ['c2', 1]);
    w.close();

    const got2: Array<[string, number]> = [];
    const w2 = watchExits(exits, (id, code) => got2.push([id, code]), { includeExisting: true });
    await w2.ready;
    for (let i = 0; i < 100 && got2.length < 3; i++) await sleep(10);
    w2.close();
    assert.deepEqual(got2.sort(), [
      ['c1', 137],
      ['c2', 1],
      ['pre', 0],
    ]);
  });
});

// ---------------------------------------------------------------------------------------------
// Real cgroups and containers

function which(prog: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v ${prog}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

const isRoot = process.getuid?.() === 0;
const RUNC = which('runc');
const CONMON = which('conmon');
const BUSYBOX = existsSync('/bin/busybox') ? '/bin/busybox' : which('busybox');
const canRunContainers = isRoot && !!RUNC && !!CONMON && !!BUSYBOX;

describe('cgroups on this host', { skip: !isRoot && 'needs root' }, () => {
  it('finds, reads and removes a cgroup made by hand', async () => {
    const name = `/berth-test-${randomBytes(4).toString('hex')}`;
    const { version, paths } = await cgroupPaths(name);
    assert.equal(version, await cgroupVersion());
    const dirs = [...new Set(Object.values(paths))];
    assert.ok(dirs.length > 0);
    if (version === 1) assert.ok(paths.memory?.endsWith(`/memory${name}`), paths.memory);
    try {
      for (const d of dirs) await fsp.mkdir(d);
      // A process in it, for the pids counter.
      const child = (await import('node:child_process')).spawn('sleep', ['30'], { stdio: 'ignore' });
      try {
        const procsDir = version === 2 ? paths.unified! : paths.pids ?? paths.memory!;
        await fsp.writeFile(path.join(procsDir, 'cgroup.procs'), String(child.pid));
        if (version === 1 && paths.memory && paths.memory !== procsDir) await fsp.writeFile(path.join(paths.memory, 'cgroup.procs'), String(child.pid));
        const stats = await readStats(name);
        assert.equal(stats.pids_stats.current, 1);
        assert.ok(stats.memory_stats.limit! > 0);
        assert.ok(stats.cpu_stats.online_cpus >= 1);
        assert.ok(stats.cpu_stats.system_cpu_usage > 0);
        assert.equal(typeof stats.cpu_stats.cpu_usage.total_usage, 'number');
        assert.deepEqual(await readMemoryEvents(name), { oomKill: 0, oom: 0 });
        // Busy while the process is in it.
        await assert.rejects(removeCgroup(name), /removing cgroup/);
      } finally {
        child.kill('SIGKILL');
        await new Promise((r) => child.once('exit', r));
      }
      await removeCgroup(name);
      for (const d of dirs) assert.equal(existsSync(d), false, d);
      await removeCgroup(name); // already gone: fine
      await assert.rejects(readStats(name), /does not exist/);
      await assert.rejects(removeCgroup('/'), /root cgroup/);
    } finally {
      for (const d of dirs) await fsp.rmdir(d).catch(() => undefined);
    }
  });
});

describe('runc + conmon: a real container', { skip: !canRunContainers && 'needs root, runc, conmon and busybox' }, () => {
  let dir: string;
  let runc: Runc;
  const ids: string[] = [];
  const cgroupParent = `/berth-test-${randomBytes(4).toString('hex')}`;

  before(async () => {
    dir = await tmpdir('berth-ct-');
    runc = new Runc({ binary: RUNC, root: path.join(dir, 'runc') });
  });
  after(async () => {
    for (const id of ids) await runc.delete(id, true).catch(() => undefined);
    await removeCgroup(cgroupParent).catch(() => undefined);
    await fsp.rm(dir, { recursive: true, force: true });
  });

  /** A bundle with busybox as /bin/busybox and /bin/sh, made with `runc spec` and patched. */
  async function bundle(id: string, args: string[], patch?: (spec: Record<string, any>) => void): Promise<string> {
    const b = path.join(dir, 'bundles', id);
    await fsp.mkdir(path.join(b, 'rootfs', 'bin'), { recursive: true });
    await fsp.copyFile(BUSYBOX!, path.join(b, 'rootfs', 'bin', 'busybox'));
    await fsp.symlink('busybox', path.join(b, 'rootfs', 'bin', 'sh'));
    for (const d of ['proc', 'dev', 'sys', 'tmp']) await fsp.mkdir(path.join(b, 'rootfs', d), { recursive: true });
    execFileSync(RUNC!, ['spec', '--bundle', b]);
    const spec = JSON.parse(await fsp.readFile(path.join(b, 'config.json'), 'utf8')) as Record<string, any>;
    spec.process.args = args;
    spec.process.terminal = false;
    spec.process.env = ['PATH=/bin', 'TERM=xterm'];
    spec.root.readonly = false;
    spec.linux.namespaces = spec.linux.namespaces.filter((n: { type: string }) => n.type !== 'network');
    spec.linux.cgroupsPath = `${cgroupParent}/${id}`;
    patch?.(spec);
    await fsp.writeFile(path.join(b, 'config.json'), JSON.stringify(spec, null, 2));
    return b;
  }

  function newId(): string {
    const id = `berth-test-${randomBytes(6).toString('hex')}`;
    ids.push(id);
    return id;
  }

  function conmonOpts(id: string, b: string) {
    return {
      id,
      bundle: b,
      runtime: RUNC!,
      runtimeRoot: path.join(dir, 'runc'),
      logPath: path.join(dir, 'logs', `${id}.log`),
      exitDir: path.join(dir, 'exits'),
      socketDir: path.join(dir, 'sock'),
      pidFile: path.join(b, 'pid'),
      conmonPidFile: path.join(b, 'conmon.pid'),
      conmon: CONMON!,
    };
  }

  /** Resolves with the exit code watchExits reports for id. */
  function exitOf(id: string, timeoutMs = 10_000): { done: Promise<number>; exited: () => boolean } {
    let exited = false;
    let w: { close(): void } | undefined;
    const done = new Promise<number>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no exit for ${id}`)), timeoutMs);
      w = watchExits(path.join(dir, 'exits'), (got, code) => {
        if (got !== id) return;
        clearTimeout(t);
        exited = true;
        resolve(code);
      });
    }).finally(() => w?.close());
    return { done, exited: () => exited };
  }

  it('runs sh under conmon: exit code 3 through watchExits, both streams in the log', async () => {
    const id = newId();
    const b = await bundle(id, ['sh', '-c', 'echo out; echo err >&2; exit 3']);
    const o = conmonOpts(id, b);
    await fsp.mkdir(o.exitDir, { recursive: true });
    const exit = exitOf(id);
    const { pid, conmonPid } = await startConmon(o);
    assert.ok(pid > 0 && conmonPid > 0 && pid !== conmonPid);
    assert.equal(Number((await fsp.readFile(o.pidFile, 'utf8')).trim()), pid);
    assert.deepEqual(await runc.state(id), { status: 'created', pid });
    assert.ok((await runc.list()).some((c) => c.id === id && c.status === 'created'));
    // conmon's files: the attach socket through the socket-dir symlink, ctl and winsz FIFOs.
    assert.equal(await fsp.readlink(path.join(o.socketDir, id)), b);
    assert.ok((await fsp.stat(path.join(o.socketDir, id, 'attach'))).isSocket());
    assert.ok((await fsp.stat(path.join(b, 'ctl'))).isFIFO());
    assert.ok((await fsp.stat(path.join(b, 'winsz'))).isFIFO());
    await runc.start(id);
    assert.equal(await exit.done, 3);
    assert.equal(await readExitCode(o.exitDir, id), 3);
    assert.deepEqual((await runc.state(id))?.status, 'stopped');
    const logs = await collect(readLogs(o.logPath, opts()));
    assert.deepEqual(text(logs), ['stdout:out\n', 'stderr:err\n']);
    assert.match(logs[0]!.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
    await runc.delete(id);
    assert.equal(await runc.state(id), undefined);
    await runc.delete(id); // already gone: fine
    await removeConmonFiles({ socketDir: o.socketDir, uuid: id, exitDir: o.exitDir, id });
    assert.equal(existsSync(path.join(o.socketDir, id)), false);
  });

  it('reports runc create errors with runc message (missing executable)', async () => {
    const id = newId();
    const b = await bundle(id, ['nope']);
    const o = conmonOpts(id, b);
    await assert.rejects(startConmon(o), (err: unknown) => {
      assert.ok(err instanceof ConmonError);
      assert.match(err.message, /exec: "nope": executable file not found in \$PATH/);
      assert.doesNotMatch(err.message, /oom_score_adj|level=error/);
      return true;
    });
    assert.equal(existsSync(path.join(o.socketDir, id)), false);
    assert.equal(await readExitCode(o.exitDir, id), undefined);
    await runc.delete(id, true);
  });

  it('reports conmon own failures (missing bundle)', async () => {
    const id = newId();
    const o = conmonOpts(id, path.join(dir, 'no-such-bundle'));
    await assert.rejects(startConmon(o), (err: unknown) => err instanceof ConmonError && /no OCI bundle/.test(err.message));
    // conmon's own complaint (an argument it rejects) comes from its stderr.
    const b = await bundle(id, ['true']);
    await assert.rejects(startConmon({ ...conmonOpts(id, b), logSizeMax: undefined, conmon: '/bin/false' }), (err: unknown) => {
      assert.ok(err instanceof ConmonError);
      assert.match(err.message, /conmon exited with status 1 without reporting/);
      return true;
    });
    await assert.rejects(startConmon({ ...conmonOpts(id, b), conmon: '/nonexistent/conmon' }), /executable file not found/);
  });

  it('drives a long-running container: ps, pause/resume, update, stats, follow logs, kill', async () => {
    const id = newId();
    const b = await bundle(id, ['sh', '-c', 'echo started; i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.1; done']);
    const o = conmonOpts(id, b);
    const exit = exitOf(id);
    const { pid } = await startConmon(o);
    await runc.start(id);
    assert.deepEqual(await runc.state(id), { status: 'running', pid });
    const pids = await runc.ps(id);
    assert.ok(pids.includes(pid), `${pids} has ${pid}`);

    const ac = new AbortController();
    const followed: string[] = [];
    const follow = (async () => {
      for await (const m of readLogs(o.logPath, opts({ follow: true, isRunning: () => !exit.exited(), signal: ac.signal }))) followed.push(m.line.toString());
    })();

    await runc.pause(id);
    assert.equal((await runc.state(id))?.status, 'paused');
    await runc.resume(id);
    assert.equal((await runc.state(id))?.status, 'running');

    await runc.update(id, { memory: { limit: 64 * 1024 * 1024 }, pids: { limit: 50 } });
    const stats = await readStats(`${cgroupParent}/${id}`);
    assert.equal(stats.memory_stats.limit, 64 * 1024 * 1024);
    assert.equal(stats.pids_stats.limit, 50);
    assert.ok(stats.pids_stats.current! >= 1);
    assert.ok(stats.memory_stats.usage! > 0);
    assert.ok(stats.cpu_stats.cpu_usage.total_usage > 0);

    await sleep(400);
    await runc.kill(id, 9);
    assert.equal(await exit.done, 137);
    await follow; // ends by itself: the container stopped
    assert.equal(followed[0], 'started\n');
    assert.ok(followed.length >= 3 && followed.slice(1).every((l, i) => l === `tick ${i + 1}\n`), followed.join(''));

    await assert.rejects(runc.kill(id, 15), (err: unknown) => err instanceof RuncError && /container not running/.test(err.message));
    await assert.rejects(runc.start('no-such-container'), (err: unknown) => err instanceof RuncError && err.kind === 'NotFound');
    await runc.delete(id);
  });

  it('sees an OOM kill in the memory cgroup before runc delete', async () => {
    const id = newId();
    const limit = 24 * 1024 * 1024;
    const b = await bundle(id, ['sh', '-c', 'x=0123456789abcdef; while true; do x=$x$x; done'], (spec) => {
      spec.linux.resources = { ...(spec.linux.resources ?? {}), memory: { limit, swap: limit } };
    });
    const o = conmonOpts(id, b);
    const exit = exitOf(id, 30_000);
    await startConmon(o);
    await runc.start(id);
    assert.equal(await exit.done, 137);
    const ev = await readMemoryEvents(`${cgroupParent}/${id}`);
    assert.ok(ev.oomKill >= 1, JSON.stringify(ev));
    // conmon's own OOM note lands in its working directory, the bundle.
    assert.ok(existsSync(path.join(b, 'oom')));
    await runc.delete(id);
    await assert.rejects(readMemoryEvents(`${cgroupParent}/${id}`), /does not exist/);
  });
});
