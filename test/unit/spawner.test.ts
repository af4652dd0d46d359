import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileText, ExecFileError } from '../../src/lib/exec-file.js';
import { enableSpawner } from '../../src/lib/spawner.js';

enableSpawner(true);
after(() => enableSpawner(false));

test('programs run from the spawner process, not this one', async () => {
  const parent = (await execFileText('/bin/sh', ['-c', 'echo $PPID'])).trim();
  assert.notEqual(Number(parent), process.pid);
});

test('stdout, input and environment go through; a failure keeps exit code and stderr', async () => {
  assert.equal(await execFileText('/bin/cat', [], { input: Buffer.from('bytes in\n') }), 'bytes in\n');
  assert.equal(await execFileText('/bin/sh', ['-c', 'echo $X'], { env: { X: 'from-env' } }), 'from-env\n');
  await assert.rejects(execFileText('/bin/sh', ['-c', 'echo out; echo why >&2; exit 3']), (err: unknown) => {
    assert.ok(err instanceof ExecFileError);
    assert.equal(err.exitCode, 3);
    assert.equal(err.stdout, 'out\n');
    assert.equal(err.detail, 'why');
    return true;
  });
});

test('a missing program and a timeout are worded as in-process runs are', async () => {
  await assert.rejects(execFileText('/nonexistent/prog', []), /prog: \/nonexistent\/prog: executable file not found/);
  await assert.rejects(execFileText('/bin/sleep', ['5'], { timeoutMs: 100 }), /timed out after 100 ms/);
});

test('many programs at once all answer', async () => {
  const outs = await Promise.all(Array.from({ length: 40 }, (_, i) => execFileText('/bin/echo', [String(i)])));
  assert.deepEqual(outs, Array.from({ length: 40 }, (_, i) => `${i}\n`));
});
