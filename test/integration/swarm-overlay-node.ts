/**
 * A stand-in node for the overlay test (swarm-overlay.test.ts): run inside a node's network namespace
 * (nsenter --net), it holds a real NetworkService (its own SQLite file and tag) and the overlay
 * ClusterNetworking over it, and takes commands as JSON lines on stdin, answering each on stdout:
 *   {op:'sync', view} | {op:'run', id, name, network, ip?, task?} | {op:'stop', id} | {op:'networks'}
 *   | {op:'localNetwork', id} | {op:'balanced'} | {op:'rm', id} | {op:'teardown'} | {op:'exit'}
 * A "container" is its network sandbox only (what runc would join): no process runs in it, the test
 * pings from its namespace with `ip netns exec`.
 */
import { createInterface } from 'node:readline';
import path from 'node:path';
import { openDb } from '../../src/store/db.js';
import { EventBus } from '../../src/events/bus.js';
import { NetworkService, type NetContainer } from '../../src/networks/service.js';
import { createClusterNetworking, type LocalEndpoint, type ServiceBalancer } from '../../src/networks/overlay/index.js';
import { messageOf } from '../../src/lib/errors.js';

const [dir, tag, port] = process.argv.slice(2) as [string, string, string];
const db = openDb(path.join(dir, `${tag}.db`));
const containers = new Map<string, NetContainer>();
const events = new EventBus();
const networks = new NetworkService(db, events, { bridge: tag, iptables: true, ipForward: true, userlandProxy: true }, { get: (id) => containers.get(id) });
await networks.init();
await networks.restore();
// A balancer that only records what it is given (lb/ has its own test).
const balanced: { syncs: number; local: LocalEndpoint[]; teardowns: number } = { syncs: 0, local: [], teardowns: 0 };
const balancer: ServiceBalancer = {
  sync: async (_view, local) => {
    balanced.syncs++;
    balanced.local = local;
  },
  teardown: async () => {
    balanced.teardowns++;
  },
};
const cluster = createClusterNetworking({ networks, dataPathPort: Number(port), balancer, events });

type Cmd = { op: string; view?: never; id?: string; name?: string; network?: string; ip?: string; task?: string };

async function handle(cmd: Cmd): Promise<unknown> {
  switch (cmd.op) {
    case 'sync':
      return cluster.sync(cmd.view!);
    case 'run': {
      const c: NetContainer = {
        id: cmd.id!,
        name: cmd.name!,
        config: { Labels: cmd.task ? { 'com.docker.swarm.task.id': cmd.task } : {} },
        hostConfig: { NetworkMode: cmd.network },
        state: { Running: false },
      };
      const networking = { EndpointsConfig: { [cmd.network!]: cmd.ip ? { IPAMConfig: { IPv4Address: cmd.ip } } : {} } };
      networks.validateCreate(c.config, c.hostConfig, networking);
      containers.set(c.id, c);
      networks.created(c, networking);
      try {
        const r = await networks.setUp(c);
        c.state.Running = true;
        return { netns: path.basename(r.netnsPath!), view: networks.containerView(c).networks };
      } catch (err) {
        await networks.removed(c.id);
        containers.delete(c.id);
        throw err;
      }
    }
    case 'stop':
      await networks.removed(cmd.id!);
      containers.delete(cmd.id!);
      return undefined;
    case 'networks':
      return networks.list();
    case 'inspect':
      return networks.inspect(cmd.id!);
    case 'rm':
      return networks.remove(cmd.id!);
    case 'balanced':
      return balanced;
    case 'localNetwork':
      return cluster.localNetwork(cmd.id!) ?? null;
    case 'teardown':
      return cluster.teardown();
    case 'exit':
      for (const id of containers.keys()) await networks.removed(id);
      await networks.shutdown({ liveRestore: false });
      db.close();
      setImmediate(() => process.exit(0));
      return undefined;
    default:
      throw new Error(`unknown op ${cmd.op}`);
  }
}

const lines = createInterface({ input: process.stdin });
let chain: Promise<void> = Promise.resolve();
lines.on('line', (line) => {
  chain = chain.then(async () => {
    try {
      process.stdout.write(JSON.stringify({ ok: true, result: (await handle(JSON.parse(line) as Cmd)) ?? null }) + '\n');
    } catch (err) {
      process.stdout.write(JSON.stringify({ ok: false, error: messageOf(err) }) + '\n');
    }
  });
});
// The test gone (stdin closed): undo everything as 'exit' does.
lines.on('close', () => void chain.then(() => handle({ op: 'exit' })).catch(() => process.exit(1)));
process.stdout.write(JSON.stringify({ ready: true }) + '\n');
