import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TestDaemon, hasDocker, type RunResult } from './harness.js';

/**
 * exec, diff, commit, export, stats (and cp) typed into the berth CLI and into the official
 * docker CLI against the same berthd: both must behave alike.
 */
describe('interactive container commands through berth and docker', () => {
  const d = new TestDaemon();
  before(async () => {
    await d.start();
    await d.seedBusybox();
  });
  after(async () => {
    const ids = (await d.berth(['ps', '-aq'])).stdout.split('\n').filter(Boolean);
    if (ids.length) await d.berth(['rm', '-f', ...ids]);
    await d.stop();
  });

  const clients = hasDocker ? (['berth', 'docker'] as const) : (['berth'] as const);
  for (const name of clients) {
    const cli = (args: string[], input?: string | Buffer): Promise<RunResult> => (name === 'berth' ? d.berth(args, input) : d.docker(args, input));
    const ctr = `inter-${name}`;

    describe(name, () => {
      before(async () => {
        const r = await cli(['run', '-d', '--name', ctr, '--hostname', 'hosty', 'busybox', 'sleep', '300']);
        assert.equal(r.code, 0, r.stderr);
      });

      test('exec: exit status, output, piped stdin', async () => {
        const four = await cli(['exec', ctr, 'sh', '-c', 'exit 4']);
        assert.deepEqual([four.code, four.stdout, four.stderr], [4, '', '']);
        const host = await cli(['exec', ctr, 'cat', '/etc/hostname']);
        assert.deepEqual([host.code, host.stdout], [0, 'hosty\n']);
        const piped = await cli(['exec', '-i', ctr, 'cat'], 'hi\n');
        assert.deepEqual([piped.code, piped.stdout, piped.stderr], [0, 'hi\n', '']);
        const errs = await cli(['exec', '-e', 'A=b', '-w', '/tmp', ctr, 'sh', '-c', 'echo $A $PWD; echo e >&2']);
        assert.deepEqual([errs.code, errs.stdout, errs.stderr], [0, 'b /tmp\n', 'e\n']);
        const missing = await cli(['exec', `${ctr}-nope`, 'true']);
        assert.equal(missing.code, 1);
        assert.match(missing.stderr, /No such container/);
      });

      test('diff after a change', async () => {
        assert.equal((await cli(['exec', ctr, 'sh', '-c', 'echo x > /made-here'])).code, 0);
        const r = await cli(['diff', ctr]);
        assert.equal(r.code, 0, r.stderr);
        assert.ok(r.stdout.split('\n').includes('A /made-here'), r.stdout);
      });

      test('commit, then run the committed image', async () => {
        const r = await cli(['commit', '-m', 'msg', ctr, `committed-${name}:v1`]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /^sha256:[0-9a-f]{64}\n$/);
        const ran = await cli(['run', '--rm', `committed-${name}:v1`, 'cat', '/made-here']);
        assert.deepEqual([ran.code, ran.stdout], [0, 'x\n']);
      });

      test('export | import', async () => {
        const ex = await cli(['export', ctr]);
        assert.equal(ex.code, 0, ex.stderr);
        assert.ok(ex.stdoutBytes.length > 1024);
        const im = await cli(['import', '-', `imported-${name}`], ex.stdoutBytes);
        assert.equal(im.code, 0, im.stderr);
        const ran = await cli(['run', '--rm', `imported-${name}`, 'cat', '/made-here']);
        assert.deepEqual([ran.code, ran.stdout], [0, 'x\n']);
      });

      test('stats --no-stream', async () => {
        const r = await cli(['stats', '--no-stream', ctr]);
        assert.equal(r.code, 0, r.stderr);
        const lines = r.stdout.split('\n').filter(Boolean);
        assert.equal(lines.length, 2, r.stdout);
        assert.match(lines[0]!, /^CONTAINER ID +NAME +CPU % +MEM USAGE \/ LIMIT +MEM % +NET I\/O +BLOCK I\/O +PIDS$/);
        assert.match(lines[1]!, new RegExp(`^[0-9a-f]{12} +${ctr} +\\d+\\.\\d\\d% +\\S+ / \\S+ +\\d+\\.\\d\\d% `));
        const f = await cli(['stats', '--no-stream', '--format', '{{.Name}} {{.Container}}', ctr]);
        assert.equal(f.stdout, `${ctr} ${ctr}\n`);
      });

      test('cp both ways: files, directories, new names, /. and tar on stdout', async () => {
        const local = mkdtempSync(path.join(tmpdir(), `berth-cp-${name}-`));
        try {
          mkdirSync(path.join(local, 'src/sub'), { recursive: true });
          writeFileSync(path.join(local, 'src/sub/f'), 'f\n');
          writeFileSync(path.join(local, 'one'), '1\n');
          assert.equal((await cli(['exec', ctr, 'sh', '-c', 'mkdir -p /cp/in && echo a > /cp/in/a && echo h > /cp/h'])).code, 0);

          const file = await cli(['cp', `${ctr}:/cp/h`, path.join(local, 'renamed')]);
          assert.deepEqual([file.code, file.stderr], [0, '']);
          assert.equal(readFileSync(path.join(local, 'renamed'), 'utf8'), 'h\n');
          assert.equal((await cli(['cp', `${ctr}:/cp`, path.join(local, 'newdir')])).code, 0);
          assert.equal(readFileSync(path.join(local, 'newdir/in/a'), 'utf8'), 'a\n');
          assert.equal((await cli(['cp', `${ctr}:/cp/in/.`, path.join(local, 'src')])).code, 0);
          assert.equal(readFileSync(path.join(local, 'src/a'), 'utf8'), 'a\n');
          const missing = await cli(['cp', `${ctr}:/cp/h`, path.join(local, 'nope/')]);
          assert.deepEqual([missing.code, missing.stderr], [1, 'no such directory\n']);

          assert.equal((await cli(['cp', path.join(local, 'src'), `${ctr}:/cp/copied`])).code, 0);
          assert.equal((await cli(['cp', path.join(local, 'one'), `${ctr}:/cp/in`])).code, 0);
          const seen = await cli(['exec', ctr, 'cat', '/cp/copied/sub/f', '/cp/copied/a', '/cp/in/one']);
          assert.deepEqual([seen.code, seen.stdout], [0, 'f\na\n1\n']);

          const tarOut = await cli(['cp', `${ctr}:/cp/in`, '-']);
          assert.equal(tarOut.code, 0);
          assert.ok(tarOut.stdoutBytes.includes(Buffer.from('in/one')));
          const tarIn = await cli(['cp', '-', `${ctr}:/tmp`], tarOut.stdoutBytes);
          assert.equal(tarIn.code, 0, tarIn.stderr);
          assert.equal((await cli(['exec', ctr, 'cat', '/tmp/in/a'])).stdout, 'a\n');
        } finally {
          rmSync(local, { recursive: true, force: true });
        }
      });
    });
  }
});
