// `berth swarm` and `berth node` on a 2-node devcluster (each berthd in its own network namespace):
// the join command `swarm init` prints is pasted into the second node as a user would, and what berth
// prints is compared with the docker CLI's output against the same daemons.
import { test, after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { down, readCluster, restartNode, up, type DevCluster, type DevNode } from '../../src/swarm/devcluster/devcluster.js';
import { DEVCLUSTER_ADDR_POOL } from '../../src/swarm/devcluster/swarm-setup.js';
import { BERTH, DOCKER, run } from './harness.js';
import { sleep } from '../../src/lib/sleep.js';

const berth = (n: DevNode, args: string[], input?: string) => run(BERTH, args, { BERTH_HOST: `unix://${n.socket}` }, input);
const docker = (n: DevNode, args: string[]) => run(DOCKER, args, { DOCKER_HOST: `unix://${n.socket}` });

/** berth's and docker's output for the same command, retried until they agree (the cluster may move in between). */
async function sameAsDocker(n: DevNode, args: string[], expectCode = 0): Promise<string> {
  let last = '';
  for (let i = 0; i < 20; i++) {
    const b = await berth(n, args);
    const d = await docker(n, args);
    assert.equal(b.code, expectCode, `berth ${args.join(' ')}: ${b.stderr}`);
    if (b.stdout === d.stdout.replaceAll('docker swarm', 'berth swarm')) return b.stdout;
    last = `berth:\n${b.stdout}\ndocker:\n${d.stdout}`;
    await sleep(250);
  }
  assert.fail(`berth ${args.join(' ')} differs from docker's:\n${last}`);
}

describe('berth swarm and node commands on a 2-node cluster', { timeout: 240_000 }, () => {
  const root = path.join(mkdtempSync(path.join(os.tmpdir(), 'berth-cli-swarm-')), 'c');
  let cluster: DevCluster;
  let n1: DevNode, n2: DevNode;

  before(async () => {
    cluster = await up(root, 2);
    [n1, n2] = cluster.nodes as [DevNode, DevNode];
  });

  after(async () => {
    if (await readCluster(root)) await down(root);
    rmSync(path.dirname(root), { recursive: true, force: true });
  });

  test('init prints the berth join command; pasted into another node, it joins', async () => {
    const init = await berth(n1, ['swarm', 'init', '--listen-addr', `${n1.address}:2377`, '--advertise-addr', n1.address, '--default-addr-pool', DEVCLUSTER_ADDR_POOL]);
    assert.equal(init.code, 0, init.stderr);
    const m = /^Swarm initialized: current node \(([a-z0-9]{25})\) is now a manager\.\n\nTo add a worker to this swarm, run the following command:\n\n {4}(berth swarm join --token (SWMTKN-1-[0-9a-z]{50}-[0-9a-z]{25}) (\S+))\n\nTo add a manager to this swarm, run 'berth swarm join-token manager' and follow the instructions\.\n$/.exec(init.stdout);
    assert.ok(m, init.stdout);
    const [, nodeId, , token, addr] = m;
    assert.equal(addr, `${n1.address}:2377`);

    assert.equal((await berth(n1, ['swarm', 'join-token', '-q', 'worker'])).stdout, `${token}\n`);
    await sameAsDocker(n1, ['swarm', 'join-token', 'worker']);
    await sameAsDocker(n1, ['swarm', 'join-token', 'manager']);
    await sameAsDocker(n1, ['swarm', 'ca']);

    // The printed command, with this node's own addresses added.
    const join = await berth(n2, ['swarm', 'join', '--token', token!, '--listen-addr', `${n2.address}:2377`, '--advertise-addr', n2.address, addr!]);
    assert.equal(join.code, 0, join.stderr);
    assert.equal(join.stdout, 'This node joined a swarm as a worker.\n');
    const again = await berth(n2, ['swarm', 'join', '--token', token!, addr!]);
    assert.equal(again.code, 1);
    assert.equal(again.stderr, 'Error response from daemon: This node is already part of a swarm. Use "docker swarm leave" to leave this swarm and join another one.\n');

    // node ls once both are ready, as docker prints it.
    let ls = '';
    for (let i = 0; i < 80 && !/Ready.*\n.*Ready/.test(ls); i++) {
      ls = await sameAsDocker(n1, ['node', 'ls']);
      await sleep(250);
    }
    assert.match(ls, new RegExp(`^ID +HOSTNAME +STATUS +AVAILABILITY +MANAGER STATUS +ENGINE VERSION\n`));
    assert.match(ls, new RegExp(`${nodeId} \\* .*Ready .*Leader`));
    await sameAsDocker(n1, ['node', 'inspect', '--pretty', 'self']);
    // info's Swarm section (the rest of info differs: client plugins, contexts).
    const swarmSection = (text: string) => text.slice(text.indexOf(' Swarm:'), text.search(/\n Runtimes:|\n Init Binary:/));
    for (const n of [n1, n2]) {
      let b = '';
      let d = '';
      for (let i = 0; i < 20; i++) {
        b = swarmSection((await berth(n, ['info'])).stdout);
        d = swarmSection((await docker(n, ['info'])).stdout);
        if (b === d) break;
        await sleep(250);
      }
      assert.equal(b, d);
      assert.match(b, /^ Swarm: active\n  NodeID: [a-z0-9]{25}\n  Is Manager: (true|false)\n/);
    }
    await sameAsDocker(n1, ['node', 'ls', '--format', '{{.ID}} {{.Hostname}} {{.Self}} {{.TLSStatus}}']);
    await sameAsDocker(n1, ['node', 'ps']);

    // A worker's view: not a manager, in dockerd's words.
    const fromWorker = await berth(n2, ['node', 'ls']);
    assert.equal(fromWorker.code, 1);
    assert.match(fromWorker.stderr, /^Error response from daemon: This node is not a swarm manager\./);

    const workerId = (await berth(n1, ['node', 'ls', '-q', '--filter', 'role=worker'])).stdout.trim();
    assert.match(workerId, /^[a-z0-9]{25}$/);
    assert.equal((await berth(n1, ['node', 'update', '--label-add', 'zone=a', workerId])).stdout, `${workerId}\n`);
    assert.equal((await docker(n1, ['node', 'inspect', '--format', '{{json .Spec.Labels}}', workerId])).stdout, '{"zone":"a"}\n');
    assert.equal((await berth(n1, ['node', 'demote', workerId])).stdout, `Node ${workerId} is already a worker.\n`);

    assert.equal((await berth(n2, ['swarm', 'leave'])).stdout, 'Node left the swarm.\n');
    const rm = await berth(n1, ['node', 'rm', '--force', workerId]);
    assert.equal(rm.code, 0, rm.stderr);
    assert.equal((await berth(n1, ['swarm', 'leave', '--force'])).stdout, 'Node left the swarm.\n');
    assert.equal((await berth(n1, ['swarm', 'unlock'])).stderr, 'error: this node is not part of a swarm\n');
  });

  test('autolock: init prints the unlock key; after a restart the manager is locked until berth swarm unlock', async () => {
    const init = await berth(n1, ['swarm', 'init', '--autolock', '--listen-addr', `${n1.address}:2377`, '--advertise-addr', n1.address, '--default-addr-pool', DEVCLUSTER_ADDR_POOL]);
    assert.equal(init.code, 0, init.stderr);
    const m = /and follow the instructions\.\nTo unlock a swarm manager after it restarts, run the `berth swarm unlock`\ncommand and provide the following key:\n\n {4}(SWMKEY-1-[A-Za-z0-9+/]{43})\n\nRemember to store this key in a password manager, since without it you\nwill not be able to restart the manager\.\n$/.exec(init.stdout);
    assert.ok(m, init.stdout);
    const key = m[1]!;
    assert.equal((await berth(n1, ['swarm', 'unlock-key', '-q'])).stdout, `${key}\n`);
    await sameAsDocker(n1, ['swarm', 'unlock-key']);

    await restartNode(cluster, n1.name);
    const info = async () => (await berth(n1, ['info', '--format', '{{.Swarm.LocalNodeState}}'])).stdout.trim();
    // A restarted node is 'pending' while it reads its state, then 'locked'.
    let state = await info();
    for (let i = 0; i < 120 && state === 'pending'; i++) {
      await sleep(250);
      state = await info();
    }
    assert.equal(state, 'locked');
    const ls = await berth(n1, ['node', 'ls']);
    assert.equal(ls.stderr, 'Error response from daemon: Swarm is encrypted and needs to be unlocked before it can be used. Please use "docker swarm unlock" to unlock it.\n');
    const wrong = await berth(n1, ['swarm', 'unlock'], 'SWMKEY-1-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n');
    assert.equal(wrong.code, 1);
    assert.equal(wrong.stderr, 'Error response from daemon: swarm could not be unlocked: invalid key provided\n');
    assert.equal(await info(), 'locked');
    const right = await berth(n1, ['swarm', 'unlock'], `${key}\n`);
    assert.equal(right.code, 0, right.stderr);
    assert.equal(await info(), 'active');
    assert.equal((await berth(n1, ['swarm', 'unlock'])).stderr, 'error: swarm is not locked\n');

    const rotated = await berth(n1, ['swarm', 'unlock-key', '--rotate']);
    assert.equal(rotated.code, 0, rotated.stderr);
    assert.match(rotated.stdout, /^Successfully rotated manager unlock key\.\nTo unlock a swarm manager after it restarts/);
    assert.ok(!rotated.stdout.includes(key), 'a new key');
    assert.equal((await berth(n1, ['swarm', 'leave', '--force'])).stdout, 'Node left the swarm.\n');
  });
});
