/**
 * `scripts/cluster up N | down | ls [--root DIR]`: makes, removes and lists a local cluster of berthd
 * nodes (devcluster.ts). Needs root (namespaces, veths, a bridge).
 */
import { down, list, up } from './devcluster.js';

const USAGE = 'usage: cluster [--root DIR] up N | down | ls   (default root /tmp/berth-devcluster)';

async function main(argv: string[]): Promise<number> {
  let root = process.env.BERTH_DEVCLUSTER_ROOT ?? '/tmp/berth-devcluster';
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--root') root = argv[++i] ?? '';
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
      await up(root, n, (l) => console.error(l));
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
