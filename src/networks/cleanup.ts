/**
 * Removes everything on the host that belongs to the daemon with a given tag (its default bridge
 * name), whatever state a crash left it in: its network namespaces, its bridges (recognised by their
 * alias) with any veth still on them, and its iptables chains and the jumps into them. Nothing of
 * anyone else's is touched, and nothing at all while a live daemon holds the tag. Used by test
 * harnesses after a daemon is gone; the daemon itself removes leftovers more selectively at start
 * (NetworkService.init).
 */
import { promises as fs } from 'node:fs';
import * as ip from './ip.js';
import { isOurNetns } from './sandbox.js';
import { bridgeAlias } from './bridge.js';
import { removeFirewallLeftovers } from './firewall.js';
import { processAlive } from '../lib/process.js';
import { debugIgnored } from '../lib/log.js';

export async function removeNetworkLeftovers(tag: string): Promise<void> {
  const claim = `/run/berth-network/${tag}.pid`;
  const pid = Number((await fs.readFile(claim, 'utf8').catch(() => '')).trim());
  if (pid && pid !== process.pid && processAlive(pid)) return;
  const namespaces = (await ip.netnsList().catch(() => [])).filter((n) => isOurNetns(tag, n)); // no netns support or none yet: nothing to delete
  if (namespaces.length) await ip.batch(namespaces.map((n) => `netns del ${n}`), { force: true }).catch(debugIgnored('deleting leftover network namespaces failed'));
  const all = await ip.links().catch(debugIgnored('listing links for leftovers failed', []));
  const bridges = all.filter((l) => l.ifalias === bridgeAlias(tag)).map((l) => l.ifname);
  const veths = all.filter((l) => l.master && bridges.includes(l.master)).map((l) => l.ifname);
  const cmds = [...veths, ...bridges].map((n) => `link del ${n}`);
  if (cmds.length) await ip.batch(cmds, { force: true }).catch(debugIgnored('deleting leftover links failed'));
  await removeFirewallLeftovers(tag);
  await removeFirewallLeftovers(tag, 6);
  await fs.rm(claim, { force: true });
}
