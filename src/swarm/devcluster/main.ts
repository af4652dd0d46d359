/**
 * `scripts/cluster up N | down | ls [--root DIR]`: makes, removes and lists a local cluster of berthd
 * nodes (devcluster.ts). Needs root (namespaces, veths, a bridge).
 */
import { down, list, up } from './devcluster.js';
import { formSwarm, seedImages } from './swarm-setup.js';

const USAGE = 'usage: cluster [--root DIR] up N [--managers M] [--no-swarm] | down | ls   (default root /tmp/berth-devcluster)';

async function main(argv: string[]): Promise<number> {
  let root = process.env.BERTH_DEVCLUSTER_ROOT ?? '/tmp/berth-devcluster';
  const args: string[] = [];
  let managers: number | undefined;
  let swarm = true;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--root') root = argv[++i] ?? '';
    else if (argv[i] === '--managers') managers = Number(argv[++i]);
    else if (argv[i] === '--no-swarm') swarm = false;
    else args.push(argv[i]!);
  }
  const [command, count] = args;
  if (!root) {
    console.error(USAGE);
    return 2;
  }
  switch (command) {
    case 'up': {
      const n = Number(count);
      if (!count || !Number.isInteger(n)) {
        console.error(USAGE);
        return 2;
      }
      if (managers !== undefined && (!Number.isInteger(managers) || managers < 1 || managers > n)) {
        console.error(`--managers must be 1 to ${n}`);
        return 2;
      }
      const cluster = await up(root, n, (l) => console.error(l));
      await seedImages(cluster);
      // The default layout is a 3-manager swarm when there are enough nodes (Raft's smallest fault-tolerant size).
      if (swarm) {
        try {
          await formSwarm(cluster, { managers: managers ?? Math.min(3, n) }, (l) => console.error(l));
        } catch (err) {
          console.error(`cluster: ${(err as Error).message}; the nodes stay up ("cluster down" removes them)`);
          return 1;
        }
      }
      for (const line of await list(root)) console.log(line);
      return 0;
    }
    case 'down':
      await down(root, (l) => console.error(l));
      return 0;
    case 'ls':
      for (const line of await list(root)) console.log(line);
      return 0;
    default:
      console.error(USAGE);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(`cluster: ${err.message}`);
    process.exit(1);
  },
);
