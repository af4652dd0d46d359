/**
 * Compose speed (issue 14): `up -d` and `down` of a 10-service project (busybox services on a user
 * network), timed end to end as a user runs them:
 *   berth compose    -> berthd   (Berth's own compose; when the `compose up` command is there)
 *   docker-compose   -> berthd   (Debian's docker-compose 1.29: the daemons under the same client)
 *   docker-compose   -> dockerd  (the reference)
 * Run: `make bench-compose` (as root). Berth: BERTH_HOST, else a berthd the bench starts itself. Reference:
 * REF_DOCKER_HOST, else a dockerd the bench starts itself (busybox loaded into it; nothing is pulled).
 * BENCH_RUNS (default 3): medians are printed, the pairs alternate first place run by run.
 * The goal: Berth's `up -d` at most half of docker-compose + dockerd's time.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BERTH, TestDaemon, run } from '../test/integration/harness.js';
import { referenceAvailable, startReferenceEngine, type ReferenceEngine } from '../test/integration/reference-dockerd.js';
import { makeBusyboxImage } from '../src/tools/make-busybox-image.js';
import { composeCommand } from '../src/cli/commands/compose/index.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const SERVICES = 10;
const COMPOSE_V1 = '/usr/bin/docker-compose';

/** Ten services that stop at once on SIGTERM (a shell trap), so `down` measures the engine, not a timeout. */
function composeFile(): string {
  const lines = ['version: "3.8"', 'services:'];
  for (let i = 1; i <= SERVICES; i++) {
    lines.push(`  s${i}:`, '    image: busybox', `    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"]`, '    networks: [app]');
  }
  lines.push('networks:', '  app: {}', '');
  return lines.join('\n');
}

interface Pair {
  name: string;
  /** Runs one compose command (`up -d`, `down`) for the project. */
  compose(args: string[]): Promise<void>;
}

function pair(name: string, cmd: string, prefix: string[], env: Record<string, string>, dir: string, project: string): Pair {
  return {
    name,
    compose: async (args) => {
      const r = await run('sh', ['-c', `cd "${dir}" && exec "$@"`, 'compose', cmd, ...prefix, '-p', project, ...args], env);
      if (r.code !== 0) throw new Error(`${name} ${args.join(' ')}: exit ${r.code}: ${r.stderr.slice(-500)}`);
    },
  };
}

async function timed(f: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await f();
  return performance.now() - t0;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  let berth: TestDaemon | undefined;
  let ref: ReferenceEngine | undefined;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-bench-compose-'));
  try {
    writeFileSync(path.join(dir, 'docker-compose.yml'), composeFile());
    let berthHost = process.env.BERTH_HOST;
    if (!berthHost) {
      berth = new TestDaemon();
      await berth.start();
      await berth.seedBusybox();
      berthHost = berth.host;
    }
    const project = `bench${process.pid}`;
    const pairs: Pair[] = [];
    // Berth's compose takes part once its `up` is there (issue 14's engine).
    if (composeCommand.subcommands?.some((c) => c.name === 'up')) {
      pairs.push(pair('berth compose -> berthd', BERTH, ['compose', '--progress', 'plain'], { BERTH_HOST: berthHost }, dir, project));
    }
    if (existsSync(COMPOSE_V1)) {
      pairs.push(pair('docker-compose 1.29 -> berthd', COMPOSE_V1, ['--ansi', 'never'], { DOCKER_HOST: berthHost }, dir, project));
      if (!process.env.BENCH_NO_REF && referenceAvailable) {
        ref = await startReferenceEngine();
        await makeBusyboxImage(ref.host);
        pairs.push(pair('docker-compose 1.29 -> dockerd', COMPOSE_V1, ['--ansi', 'never'], { DOCKER_HOST: ref.host }, dir, project));
      }
    }
    if (!pairs.length) throw new Error(`nothing to measure: no \`berth compose up\` and no ${COMPOSE_V1}`);

    const samples = new Map<string, { up: number[]; down: number[] }>(pairs.map((p) => [p.name, { up: [], down: [] }]));
    for (let i = 0; i < RUNS; i++) {
      const order = i % 2 ? [...pairs].reverse() : pairs;
      for (const p of order) {
        const s = samples.get(p.name)!;
        s.up.push(await timed(() => p.compose(['up', '-d'])));
        s.down.push(await timed(() => p.compose(['down'])));
      }
    }

    console.log(`compose bench: ${SERVICES} services on a user network, ${RUNS} runs, medians (ms)`);
    console.log(`${'client -> engine'.padEnd(32)} ${'up -d'.padStart(8)} ${'down'.padStart(8)}`);
    const rows = pairs.map((p) => {
      const s = samples.get(p.name)!;
      const row = { name: p.name, up: median(s.up), down: median(s.down) };
      console.log(`${p.name.padEnd(32)} ${row.up.toFixed(0).padStart(8)} ${row.down.toFixed(0).padStart(8)}`);
      return row;
    });
    const reference = rows.find((r) => r.name.endsWith('-> dockerd'));
    if (reference) {
      for (const r of rows.filter((x) => x !== reference)) {
        const goal = r.name.startsWith('berth compose') ? ' (goal <= 0.5)' : '';
        console.log(`${r.name} / ${reference.name}: up -d ${(r.up / reference.up).toFixed(2)}${goal}, down ${(r.down / reference.down).toFixed(2)}`);
      }
    }
  } finally {
    await berth?.stop();
    await ref?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
