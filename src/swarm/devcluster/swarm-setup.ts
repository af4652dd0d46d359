/**
 * Turns a devcluster's plain berthd nodes into a swarm, through the Engine API as a user would with
 * `swarm init` and `swarm join`: the first node initializes, the next `managers - 1` join with the manager
 * token, the rest as workers. Every node gets the busybox image first (nodes have their own image stores
 * and there is no registry to pull from).
 */
import http from 'node:http';
import { makeBusyboxImage } from '../../tools/make-busybox-image.js';
import type { DevCluster, DevNode } from './devcluster.js';

/** The control-plane port inside each node's namespace (nothing else listens there). */
export const SWARM_PORT = 2377;
/** Cluster networks come from here: the nodes' namespaces route nothing else in 10.0.0.0/8. */
export const DEVCLUSTER_ADDR_POOL = '10.214.0.0/16';

export interface ApiAnswer {
  status: number;
  body: string;
  json<T = unknown>(): T;
}

/** One Engine API call on a node's unix socket. */
export function nodeApi(node: Pick<DevNode, 'socket'>, method: string, path: string, body?: unknown, timeoutMs = 60_000): Promise<ApiAnswer> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = http.request(
      { socketPath: node.socket, method, path, timeout: timeoutMs, headers: data ? { 'Content-Type': 'application/json', 'Content-Length': data.length } : {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, body: text, json: <T>() => JSON.parse(text) as T });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(data);
  });
}

async function expectOk(node: DevNode, what: string, answer: Promise<ApiAnswer>): Promise<ApiAnswer> {
  const a = await answer;
  if (a.status >= 300) throw new Error(`${node.name}: ${what} failed (${a.status}): ${a.body.trim()}`);
  return a;
}

export async function seedImages(c: DevCluster): Promise<void> {
  await Promise.all(c.nodes.map((n) => makeBusyboxImage(`unix://${n.socket}`, '/bin/busybox', 'busybox:latest')));
}

export interface SwarmLayout {
  managers: number;
}

/** init on node1, then joins in order; returns the node IDs by node name. */
export async function formSwarm(c: DevCluster, layout: SwarmLayout, log: (line: string) => void = () => undefined): Promise<Record<string, string>> {
  const managers = Math.max(1, Math.min(layout.managers, c.nodes.length));
  const [first, ...rest] = c.nodes;
  if (!first) throw new Error('the cluster has no nodes');
  const ids: Record<string, string> = {};
  const init = await expectOk(first, 'swarm init', nodeApi(first, 'POST', '/swarm/init', {
    ListenAddr: `${first.address}:${SWARM_PORT}`,
    AdvertiseAddr: first.address,
    DefaultAddrPool: [DEVCLUSTER_ADDR_POOL],
    SubnetSize: 24,
  }));
  ids[first.name] = init.json<string>();
  log(`${first.name}: swarm initialized, node ${ids[first.name]}`);
  const tokens = (await expectOk(first, 'swarm inspect', nodeApi(first, 'GET', '/swarm'))).json<{ JoinTokens: { Worker: string; Manager: string } }>().JoinTokens;
  for (const [i, n] of rest.entries()) {
    const role = i + 1 < managers ? 'manager' : 'worker';
    await expectOk(n, 'swarm join', nodeApi(n, 'POST', '/swarm/join', {
      ListenAddr: `${n.address}:${SWARM_PORT}`,
      AdvertiseAddr: n.address,
      RemoteAddrs: [`${first.address}:${SWARM_PORT}`],
      JoinToken: role === 'manager' ? tokens.Manager : tokens.Worker,
    }));
    const info = (await expectOk(n, 'info', nodeApi(n, 'GET', '/info'))).json<{ Swarm: { NodeID: string } }>();
    ids[n.name] = info.Swarm.NodeID;
    log(`${n.name}: joined as ${role}, node ${ids[n.name]}`);
  }
  return ids;
}
