/** Log drivers: option checks, Docker's JSON lines, rotation, the copier from conmon's file, reading. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { gzipSync } from 'node:zlib';
import os from 'node:os';
import path from 'node:path';

import { logFileSettings, mergeLogConfig, parseHumanSize } from '../../src/containers/log-drivers/config.js';
import { encodeJsonLogLine, extraAttributes, goJsonString, goRfc3339Nano, renderAttrs } from '../../src/containers/log-drivers/json-line.js';
import { RotatingLogFile } from '../../src/containers/log-drivers/rotating-file.js';
import { LogCopier } from '../../src/containers/log-drivers/copier.js';
import { stagingCap } from '../../src/containers/log-drivers/manager.js';
import { readLogs, type LogMessage, type ReadLogsOptions } from '../../src/containers/logs.js';

const opts = (over: Partial<ReadLogsOptions> = {}): ReadLogsOptions => ({
  stdout: true,
  stderr: true,
  timestamps: false,
  follow: false,
  isRunning: () => false,
  signal: new AbortController().signal,
  ...over,
});
async function collect(it: AsyncIterable<LogMessage>): Promise<string[]> {
  const out: string[] = [];
  for await (const m of it) out.push(`${m.stream}:${m.line.toString()}`);
  return out;
}
const k8s = (sec: number, stream: string, tag: string, text: string, nsec = 0) =>
  `${new Date(sec * 1000).toISOString().slice(0, 19)}.${String(nsec).padStart(9, '0')}+00:00 ${stream} ${tag} ${text}\n`;
const entry = (sec: number, stream: 'stdout' | 'stderr', text: string) => encodeJsonLogLine({ stream, log: Buffer.from(text), sec, nsec: 0 });
const BASE = 1_700_000_000;

describe('log driver options', () => {
  it('parses sizes as go-units FromHumanSize (decimal)', () => {
    assert.equal(parseHumanSize('10m'), 10_000_000);
    assert.equal(parseHumanSize('10MB'), 10_000_000);
    assert.equal(parseHumanSize('1.5k'), 1500);
    assert.equal(parseHumanSize('123'), 123);
    assert.equal(parseHumanSize('abc'), undefined);
    assert.equal(parseHumanSize('-1m'), undefined);
  });

  it('fills in the daemon default and its options only for the same driver', () => {
    const daemon = { Type: 'json-file', Config: { 'max-size': '10m' } };
    assert.deepEqual(mergeLogConfig(undefined, daemon), { Type: 'json-file', Config: { 'max-size': '10m' } });
    assert.deepEqual(mergeLogConfig({ Type: '', Config: { 'max-file': '3' } }, daemon), { Type: 'json-file', Config: { 'max-file': '3', 'max-size': '10m' } });
    assert.deepEqual(mergeLogConfig({ Type: 'local' }, daemon), { Type: 'local', Config: {} });
    assert.deepEqual(mergeLogConfig({ Type: 'none', Config: { anything: 'x' } }, daemon), { Type: 'none', Config: { anything: 'x' } });
  });

  it('has dockerd defaults: json-file unbounded, local 20 MB x 5 compressed', () => {
    assert.deepEqual(logFileSettings({ Type: 'json-file', Config: {} }), { driver: 'json-file', maxSize: undefined, maxFile: 1, compress: false, attrOpts: {} });
    assert.deepEqual(logFileSettings({ Type: 'json-file', Config: { 'max-file': '3' } }).maxFile, 1, 'max-file without max-size has no effect');
    assert.deepEqual(logFileSettings({ Type: 'local', Config: {} }), { driver: 'local', maxSize: 20 * 1024 * 1024, maxFile: 5, compress: true, attrOpts: {} });
    assert.deepEqual(logFileSettings({ Type: 'json-file', Config: { 'max-size': '1k', 'max-file': '2', compress: 'true', mode: 'non-blocking', 'max-buffer-size': '4m' } }), {
      driver: 'json-file',
      maxSize: 1000,
      maxFile: 2,
      compress: true,
      attrOpts: {},
    });
  });

  it('refuses bad values with dockerd words', () => {
    const bad = (Type: string, Config: Record<string, string>, msg: string) => assert.throws(() => logFileSettings({ Type, Config }), (e: Error) => e.message === msg);
    bad('gelf', {}, "logger: no log driver named 'gelf' is registered");
    bad('json-file', { 'max-file': 'x' }, 'failed to initialize logging driver: strconv.Atoi: parsing "x": invalid syntax');
    bad('json-file', { compress: 'yes' }, 'failed to initialize logging driver: strconv.ParseBool: parsing "yes": invalid syntax');
    bad('json-file', { 'max-buffer-size': '1m' }, "logger: max-buffer-size option is only supported with 'mode=non-blocking'");
    bad('json-file', { 'labels-regex': '(' }, 'failed to initialize logging driver: error parsing regexp: Invalid regular expression: /(/: Unterminated group');
    bad('local', { 'max-size': 'x' }, "failed to initialize logging driver: invalid value for max-size: x: invalid size: 'x'");
  });

  it("caps conmon's file at no less than what the driver keeps", () => {
    assert.equal(stagingCap(logFileSettings({ Type: 'json-file', Config: {} })), 64 * 1024 * 1024);
    assert.equal(stagingCap(logFileSettings({ Type: 'json-file', Config: { 'max-size': '100m', 'max-file': '3' } })), 300_000_000);
    assert.equal(stagingCap(logFileSettings({ Type: 'json-file', Config: { 'max-size': '1k' } })), 8 * 1024 * 1024);
  });
});

describe("Docker's json-file lines", () => {
  it('formats times as Go RFC3339Nano in UTC (trailing zeros dropped)', () => {
    assert.equal(goRfc3339Nano(BASE, 123_450_000), '2023-11-14T22:13:20.12345Z');
    assert.equal(goRfc3339Nano(BASE, 0), '2023-11-14T22:13:20Z');
    assert.equal(goRfc3339Nano(BASE, 1), '2023-11-14T22:13:20.000000001Z');
  });

  it('escapes as Go: HTML characters, control bytes, U+2028', () => {
    assert.equal(goJsonString('a"b\\c\n\r\t<>&\x01\u2028é'), '"a\\"b\\\\c\\n\\r\\t\\u003c\\u003e\\u0026\\u0001\\u2028é"');
  });

  it('writes log, stream, attrs, time in that order; a partial line without \\n', () => {
    assert.equal(encodeJsonLogLine({ stream: 'stdout', log: Buffer.from('hi\n'), sec: BASE, nsec: 5 }), '{"log":"hi\\n","stream":"stdout","time":"2023-11-14T22:13:20.000000005Z"}\n');
    const attrs = renderAttrs(extraAttributes({ labels: 'a,missing', env: 'E', tag: '{{.Name}}/{{.ID}}' }, { id: 'abcdef0123456789', name: 'web', imageId: 'sha256:ff', image: 'busybox', labels: { a: '1', b: '2' }, env: ['E=x=y', 'F=1'] }));
    assert.equal(encodeJsonLogLine({ stream: 'stderr', log: Buffer.from('part'), sec: BASE, nsec: 0 }, attrs), '{"log":"part","stream":"stderr","attrs":{"E":"x=y","a":"1","tag":"web/abcdef012345"},"time":"2023-11-14T22:13:20Z"}\n');
  });
});

describe('rotation, reading and copying', () => {
  let dir: string;
  before(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-logdrv-'));
  });
  after(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it('rotates before the entry that finds the file full, keeps max-file files, gzips rotated ones', async () => {
    const file = path.join(dir, 'rot-json.log');
    const w = new RotatingLogFile(file, { maxSize: 100, maxFile: 3, compress: true });
    for (let i = 0; i < 10; i++) await w.write([entry(BASE + i, 'stdout', `line ${i}\n`)]);
    await w.close();
    const names = (await fsp.readdir(dir)).filter((n) => n.startsWith('rot-json.log')).sort();
    assert.deepEqual(names, ['rot-json.log', 'rot-json.log.1.gz', 'rot-json.log.2.gz']);
    // Each entry is ~75 bytes: two per file; the oldest six are gone.
    assert.deepEqual(await collect(readLogs({ format: 'json', path: file }, opts())), [4, 5, 6, 7, 8, 9].map((i) => `stdout:line ${i}\n`));
    assert.deepEqual(await collect(readLogs({ format: 'json', path: file }, opts({ tail: 3 }))), [7, 8, 9].map((i) => `stdout:line ${i}\n`));
    assert.deepEqual(await collect(readLogs({ format: 'json', path: file }, opts({ tail: 3, since: BigInt(BASE + 8) * 1_000_000_000n }))), [8, 9].map((i) => `stdout:line ${i}\n`));
  });

  it('max-file 1 starts the file afresh', async () => {
    const file = path.join(dir, 'one-json.log');
    const w = new RotatingLogFile(file, { maxSize: 100, maxFile: 1, compress: false });
    for (let i = 0; i < 5; i++) await w.write([entry(BASE + i, 'stdout', `line ${i}\n`)]);
    await w.close();
    assert.deepEqual((await fsp.readdir(dir)).filter((n) => n.startsWith('one-json.log')), ['one-json.log']);
    assert.deepEqual(await collect(readLogs({ format: 'json', path: file }, opts())), ['stdout:line 4\n']);
  });

  it('reads plain and gzipped rotated files oldest first, entries as written (partials without \\n)', async () => {
    const file = path.join(dir, 'mix-json.log');
    await fsp.writeFile(`${file}.2.gz`, gzipSync(entry(BASE, 'stdout', 'a\n')));
    await fsp.writeFile(`${file}.1`, entry(BASE + 1, 'stderr', 'b\n') + entry(BASE + 2, 'stdout', 'par'));
    await fsp.writeFile(file, entry(BASE + 3, 'stdout', 'tial\n'));
    assert.deepEqual(await collect(readLogs({ format: 'json', path: file }, opts())), ['stdout:a\n', 'stderr:b\n', 'stdout:par', 'stdout:tial\n']);
    assert.deepEqual(await collect(readLogs({ format: 'json', path: file }, opts({ stdout: false }))), ['stderr:b\n']);
  });

  it("copies conmon's records, resumes from its cursor, and follows conmon to a new file", async () => {
    const src = path.join(dir, 'conmon.log');
    const cursor = path.join(dir, 'cursor.json');
    const target = path.join(dir, 'copy-json.log');
    await fsp.writeFile(src, k8s(BASE, 'stdout', 'F', 'one') + k8s(BASE, 'stderr', 'P', 'half') + k8s(BASE, 'stderr', 'F', ' done'));
    let cp = new LogCopier(src, cursor, new RotatingLogFile(target, { maxFile: 1, compress: false }), '');
    await cp.finish();
    const lines = async () => (await fsp.readFile(target, 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l).log);
    assert.deepEqual(await lines(), ['one\n', 'half done\n'], "conmon's pieces of a line make one entry, as dockerd's lines");
    // A daemon that went away: what was written meanwhile is copied once, from the cursor on; an
    // unended piece waits in the cursor for the rest of its line.
    await fsp.appendFile(src, k8s(BASE + 1, 'stdout', 'P', 'tw'));
    cp = new LogCopier(src, cursor, new RotatingLogFile(target, { maxFile: 1, compress: false }), '');
    await cp.start();
    await cp.stop();
    assert.deepEqual(await lines(), ['one\n', 'half done\n']);
    await fsp.appendFile(src, k8s(BASE + 1, 'stdout', 'F', 'o'));
    cp = new LogCopier(src, cursor, new RotatingLogFile(target, { maxFile: 1, compress: false }), '');
    await cp.finish();
    assert.deepEqual(await lines(), ['one\n', 'half done\n', 'two\n']);
    // conmon replaced its file (its size cap) while nobody read: the new one is copied from its start.
    await fsp.writeFile(`${src}.tmp`, k8s(BASE + 2, 'stdout', 'F', 'three'));
    await fsp.rename(`${src}.tmp`, src);
    cp = new LogCopier(src, cursor, new RotatingLogFile(target, { maxFile: 1, compress: false }), '');
    await cp.finish();
    assert.deepEqual(await lines(), ['one\n', 'half done\n', 'two\n', 'three\n']);
    // While following: appended records arrive without a finish.
    cp = new LogCopier(src, cursor, new RotatingLogFile(target, { maxFile: 1, compress: false }), '');
    await cp.start();
    await fsp.appendFile(src, k8s(BASE + 3, 'stdout', 'F', 'four'));
    for (let i = 0; i < 40 && (await lines()).length < 6; i++) await new Promise((r) => setTimeout(r, 25));
    assert.deepEqual((await lines()).at(-1), 'four\n');
    await cp.finish();
    assert.equal((await lines()).length, 5);
  });

  it('a daemon killed between appending a batch and saving its cursor copies that batch once, not twice', async () => {
    const src = path.join(dir, 'again.log');
    const cursor = path.join(dir, 'again-cursor.json');
    const target = path.join(dir, 'again-json.log');
    await fsp.writeFile(src, k8s(BASE, 'stdout', 'F', 'first'));
    await new LogCopier(src, cursor, new RotatingLogFile(target, { maxFile: 1, compress: false }), '').finish();
    const saved = await fsp.readFile(cursor);
    await fsp.appendFile(src, k8s(BASE + 1, 'stdout', 'F', 'second'));
    await new LogCopier(src, cursor, new RotatingLogFile(target, { maxFile: 1, compress: false }), '').finish();
    // The kill: the batch with "second" was appended, but the cursor on disk is the one from before it.
    await fsp.writeFile(cursor, saved);
    await new LogCopier(src, cursor, new RotatingLogFile(target, { maxFile: 1, compress: false }), '').finish();
    const logs = (await fsp.readFile(target, 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l).log);
    assert.deepEqual(logs, ['first\n', 'second\n']);
  });

  it("a daemon killed after a run's first batch, before any cursor of that run was saved, copies it once", async () => {
    const src = path.join(dir, 'first.log');
    const cursor = path.join(dir, 'first-cursor.json');
    const target = path.join(dir, 'first-json.log');
    // A previous run's output stays in the target; the new run starts with a fresh conmon file and no cursor.
    await fsp.writeFile(src, k8s(BASE, 'stdout', 'F', 'old run'));
    await new LogCopier(src, cursor, new RotatingLogFile(target, { maxFile: 1, compress: false }), '').finish();
    await fsp.rm(src);
    await fsp.rm(cursor);
    await fsp.writeFile(src, k8s(BASE + 1, 'stdout', 'F', 'first'));
    // The kill: the batch is appended, and nothing after it happens.
    class KilledAfterAppend extends RotatingLogFile {
      override async write(entries: string[]): Promise<void> {
        await super.write(entries);
        throw new Error('killed');
      }
    }
    await new LogCopier(src, cursor, new KilledAfterAppend(target, { maxFile: 1, compress: false }), '').finish();
    await new LogCopier(src, cursor, new RotatingLogFile(target, { maxFile: 1, compress: false }), '').finish();
    const logs = (await fsp.readFile(target, 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l).log);
    assert.deepEqual(logs, ['old run\n', 'first\n']);
  });

  it('splits lines longer than 16 KiB into partial entries and writes an unended line without \\n', async () => {
    const src = path.join(dir, 'long.log');
    const target = path.join(dir, 'long-json.log');
    const piece = 'x'.repeat(8192);
    await fsp.writeFile(src, [0, 1, 2, 3, 4].map(() => k8s(BASE, 'stdout', 'P', piece)).join('') + k8s(BASE, 'stdout', 'F', 'end') + k8s(BASE, 'stderr', 'P', 'last words'));
    await new LogCopier(src, path.join(dir, 'long-cursor.json'), new RotatingLogFile(target, { maxFile: 1, compress: false }), '').finish();
    const logs = (await fsp.readFile(target, 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l).log as string);
    assert.deepEqual(logs.map((l) => l.length), [16384, 16384, 8192 + 3 + 1, 10]);
    assert.equal(logs[2]!.slice(-4), 'end\n');
    assert.equal(logs[3], 'last words');
  });
});

describe('daemon defaults: --log-driver, --log-opt, daemon.json', () => {
  it('reads the flags and daemon.json, refuses bad ones as dockerd', async () => {
    const { loadConfig, ConfigError } = await import('../../src/daemon/config.js');
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-logcfg-'));
    try {
      const file = path.join(dir, 'daemon.json');
      await fsp.writeFile(file, JSON.stringify({ 'log-driver': 'local', 'log-opts': { 'max-size': '1m', 'max-file': '3' } }));
      const fromFile = loadConfig(['--config-file', file]);
      assert.ok(typeof fromFile === 'object');
      assert.equal(fromFile.logDriver, 'local');
      assert.deepEqual(fromFile.logOpts, { 'max-size': '1m', 'max-file': '3' });
      await fsp.writeFile(file, '{}');
      const fromFlags = loadConfig(['--config-file', file, '--log-opt', 'max-size=5m', '--log-opt', 'labels=a,b']);
      assert.ok(typeof fromFlags === 'object');
      assert.equal(fromFlags.logDriver, 'json-file');
      assert.deepEqual(fromFlags.logOpts, { 'max-size': '5m', labels: 'a,b' });
      assert.throws(() => loadConfig(['--config-file', file, '--log-driver', 'splunk']), (e: Error) => e instanceof ConfigError && /failed to set log opts: logger: no log driver named 'splunk' is registered/.test(e.message));
      assert.throws(() => loadConfig(['--config-file', file, '--log-opt', 'max-size=big']), /invalid size: 'big'/);
      await fsp.writeFile(file, JSON.stringify({ 'log-opts': { 'max-file': 3 } }));
      assert.throws(() => loadConfig(['--config-file', file]), /must be strings/);
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });
});
