import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { TestDaemon, hasDocker, type RunResult } from './harness.js';

/**
 * The everyday container idioms, typed into the berth CLI and into the official docker CLI
 * against the same berthd: both must behave alike (exit statuses, what goes to stdout and to
 * stderr, columns).
 */
describe('container commands through berth and docker', () => {
  const d = new TestDaemon();
  before(async () => {
    await d.start();
    await d.seedBusybox();
  });
  after(async () => {
    await d.berth(['rm', '-f', ...(await d.berth(['ps', '-aq'])).stdout.split('\n').filter(Boolean)]);
    await d.stop();
  });

  const clients = hasDocker ? (['berth', 'docker'] as const) : (['berth'] as const);
  for (const name of clients) {
    const cli = (args: string[], input?: string): Promise<RunResult> => (name === 'berth' ? d.berth(args, input) : d.docker(args, input));
    const lines = (s: string) => s.split('\n').filter(Boolean);

    describe(name, () => {
      test('run --rm exits with the container status; output on the right stream', async () => {
        const three = await cli(['run', '--rm', 'busybox', 'sh', '-c', 'exit 3']);
        assert.equal(three.code, 3, three.stderr);
        const hi = await cli(['run', '--rm', 'busybox', 'echo', 'hi']);
        assert.deepEqual([hi.code, hi.stdout, hi.stderr], [0, 'hi\n', '']);
        const both = await cli(['run', '--rm', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 1']);
        assert.deepEqual([both.code, both.stdout, both.stderr], [1, 'out\n', 'err\n']);
      });

      test('run of a missing executable exits 127 with the daemon error', async () => {
        const r = await cli(['run', '--rm', 'busybox', 'nope']);
        assert.equal(r.code, 127);
        assert.equal(r.stdout, '');
        assert.match(r.stderr, new RegExp(`^${name}: Error response from daemon: .*executable file not found`));
        assert.ok(r.stderr.endsWith(`\n\nRun '${name} run --help' for more information\n`), r.stderr);
      });

      test('run -d --name --hostname, then inspect, ps, top, logs', async () => {
        const ctr = `my-nginx-${name}`;
        const r = await cli(['run', '-d', '--name', ctr, '--hostname', 'my-nginx', 'busybox', 'httpd', '-f']);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /^[0-9a-f]{64}\n$/);
        const id = r.stdout.trim();
        const host = await cli(['inspect', '-f', '{{.Config.Hostname}}', ctr]);
        assert.deepEqual([host.code, host.stdout], [0, 'my-nginx\n']);
        const ci = await cli(['container', 'inspect', '-f', '{{.State.Running}} {{.Name}}', ctr]);
        assert.equal(ci.stdout, `true /${ctr}\n`);

        const ps = await cli(['ps']);
        assert.equal(ps.code, 0, ps.stderr);
        const [header, ...rows] = lines(ps.stdout);
        assert.match(header!, /^CONTAINER ID   IMAGE +COMMAND +CREATED +STATUS +PORTS +NAMES$/);
        const row = rows.find((l) => l.endsWith(` ${ctr}`));
        assert.ok(row, ps.stdout);
        assert.match(row!, new RegExp(`^${id.slice(0, 12)}   busybox +"httpd -f" +.* ago +Up .* +${ctr}$`));
        // Column starts line up with the header's.
        for (const col of ['IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'NAMES']) {
          const at = header!.indexOf(col);
          assert.notEqual(row![at - 1], undefined);
          assert.equal(row![at - 1], ' ', `${col} column in ${JSON.stringify(row)}`);
        }

        const top = await cli(['top', ctr]);
        assert.equal(top.code, 0, top.stderr);
        assert.match(lines(top.stdout)[0]!, /^UID +PID +PPID +C +STIME +TTY +TIME +CMD$/);
        assert.match(top.stdout, /httpd -f/);
        const topo = await cli(['container', 'top', ctr, '-o', 'pid,comm']);
        assert.match(lines(topo.stdout)[0]!, /^PID +COMMAND$/);
      });

      test('berth and docker list the same containers the same way', async () => {
        const format = '{{.ID}}|{{.Image}}|{{.Command}}|{{.Names}}|{{.State}}|{{.Ports}}';
        const mine = await cli(['ps', '-a', '--no-trunc', '--format', format]);
        const theirs = hasDocker ? await d.docker(['ps', '-a', '--no-trunc', '--format', format]) : mine;
        assert.equal(mine.code, 0, mine.stderr);
        assert.equal(mine.stdout, theirs.stdout);
        const q = await cli(['container', 'ls', '-aq']);
        assert.equal(q.stdout, lines(mine.stdout).map((l) => l.slice(0, 12) + '\n').join(''));
      });

      test('logs keep stdout and stderr apart', async () => {
        const ctr = `logs-${name}`;
        const r = await cli(['run', '--name', ctr, 'busybox', 'sh', '-c', 'echo out; echo err >&2']);
        assert.equal(r.code, 0, r.stderr);
        const logs = await cli(['logs', ctr]);
        assert.deepEqual([logs.code, logs.stdout, logs.stderr], [0, 'out\n', 'err\n']);
        const tail = await cli(['container', 'logs', '-n', '1', '-t', ctr]);
        assert.match(tail.stdout + tail.stderr, /^\d{4}-\d\d-\d\dT[\d:.]+Z (out|err)\n$/);
      });

      test('create, start -a, wait, rename, restart, pause', async () => {
        const ctr = `created-${name}`;
        const c = await cli(['create', '--name', ctr, 'busybox', 'sh', '-c', 'echo started; exit 4']);
        assert.equal(c.code, 0, c.stderr);
        const s = await cli(['start', '-a', ctr]);
        assert.deepEqual([s.code, s.stdout], [4, 'started\n']);
        const w = await cli(['wait', ctr]);
        assert.deepEqual([w.code, w.stdout], [0, '4\n']);
        const mv = await cli(['rename', ctr, `${ctr}-2`]);
        assert.deepEqual([mv.code, mv.stdout], [0, '']);
        const sleeper = `sleeper-${name}`;
        assert.equal((await cli(['run', '-d', '--name', sleeper, 'busybox', 'sleep', '1000'])).code, 0);
        assert.equal((await cli(['pause', sleeper])).stdout, `${sleeper}\n`);
        assert.equal((await cli(['inspect', '-f', '{{.State.Status}}', sleeper])).stdout, 'paused\n');
        assert.equal((await cli(['unpause', sleeper])).stdout, `${sleeper}\n`);
        const upd = await cli(['update', '-m', '64m', '--restart', 'on-failure:2', sleeper]);
        assert.deepEqual([upd.code, upd.stdout], [0, `${sleeper}\n`], upd.stderr);
        assert.equal((await cli(['inspect', '-f', '{{.HostConfig.Memory}} {{.HostConfig.RestartPolicy.Name}}', sleeper])).stdout, '67108864 on-failure\n');
        const rs = await cli(['restart', '-t', '0', sleeper]);
        assert.deepEqual([rs.code, rs.stdout], [0, `${sleeper}\n`]);
      });

      test('stop $(ls -q), rm -f $(ls -aq), and the empty forms', async () => {
        const running = lines((await cli(['container', 'ls', '-q'])).stdout);
        assert.ok(running.length > 0);
        const stop = await cli(['container', 'stop', '-t', '1', ...running]);
        assert.equal(stop.code, 0, stop.stderr);
        assert.deepEqual(lines(stop.stdout), running);
        assert.equal((await cli(['container', 'ls', '-q'])).stdout, '');

        const empty = await cli(['container', 'stop']);
        assert.equal(empty.code, 1);
        assert.equal(
          empty.stderr,
          `${name}: '${name} container stop' requires at least 1 argument\n\nUsage:  ${name} container stop [OPTIONS] CONTAINER [CONTAINER...]\n\nSee '${name} container stop --help' for more information\n`,
        );

        const all = lines((await cli(['container', 'ls', '-aq'])).stdout);
        const rm = await cli(['container', 'rm', '-f', ...all]);
        assert.equal(rm.code, 0, rm.stderr);
        assert.deepEqual(lines(rm.stdout), all);
        assert.equal((await cli(['container', 'ls', '-aq'])).stdout, '');

        const missing = await cli(['rm', 'no-such-container']);
        assert.equal(missing.code, 1);
        assert.match(missing.stderr, /^Error response from daemon: No such container: no-such-container\n$/);
      });

      test('container prune', async () => {
        assert.equal((await cli(['run', '--name', `pruned-${name}`, 'busybox', 'true'])).code, 0);
        const no = await cli(['container', 'prune'], 'n\n');
        assert.equal(no.stdout, 'WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ');
        const yes = await cli(['container', 'prune', '-f']);
        assert.equal(yes.code, 0, yes.stderr);
        assert.match(yes.stdout, /^Deleted Containers:\n[0-9a-f]{64}\n\nTotal reclaimed space: .*B\n$/);
      });
    });
  }
});
