/**
 * An overlay's devices on the node: its Linux bridge (made by bridge.ts, so it carries the daemon's
 * alias and goes with the other bridges at shutdown and in leftover cleanup) and its VXLAN device
 * enslaved to it, and the VXLAN device's forwarding entries (through the `bridge` adapter).
 *
 * Lifecycle: `ensureOverlay` on every sync (idempotent: what is right stays, what differs is redone);
 * `removeOverlay` when the cluster network is gone or the node leaves the swarm.
 */
import * as ip from '../ip.js';
import * as bridgeTool from '../iproute-bridge.js';
import { deleteBridge, ensureBridge } from '../bridge.js';
import { debugIgnored } from '../../lib/log.js';
import { OVERLAY_MTU } from './names.js';
import { fdbCommands, vxlanAddCommand, vxlanMatches, type OverlayPlan } from './plan.js';

export async function ensureOverlay(p: OverlayPlan, o: { tag: string; local: string; port: number }): Promise<void> {
  await ensureBridge({ name: p.bridge, address: p.bridgeAddress, tag: o.tag, mtu: OVERLAY_MTU });
  const want = { name: p.vxlan, vni: p.vni, port: o.port, local: o.local };
  let vx = await ip.linkExists(p.vxlan);
  if (vx && (vx.linkinfo?.info_kind !== 'vxlan' || !vxlanMatches(vx.linkinfo.info_data, want))) {
    await ip.batch([`link del ${p.vxlan}`]);
    vx = undefined;
  }
  if (!vx) {
    try {
      // No IPv6 address on the device (addrgenmode none): no link-local chatter to the peers.
      await ip.batch([vxlanAddCommand(want), `link set ${p.vxlan} addrgenmode none`, `link set ${p.vxlan} master ${p.bridge}`, `link set ${p.vxlan} up`]);
    } catch (err) {
      await ip.batch([`link del ${p.vxlan}`], { force: true }).catch(debugIgnored('removing a half-made VXLAN device failed'));
      throw err;
    }
  } else if (vx.master !== p.bridge || vx.operstate === 'DOWN') {
    await ip.batch([`link set ${p.vxlan} master ${p.bridge}`, `link set ${p.vxlan} up`]);
  }
  const cmds = fdbCommands(p.vxlan, await bridgeTool.fdbShow(p.vxlan), p.fdb);
  await bridgeTool.batch(cmds);
}

/** The VXLAN device (its forwarding entries go with it) and the bridge (with any port left on it). */
export async function removeOverlay(names: { bridge: string; vxlan?: string }, tag: string): Promise<void> {
  if (names.vxlan && (await ip.linkExists(names.vxlan))) await ip.batch([`link del ${names.vxlan}`], { force: true });
  await deleteBridge(names.bridge, tag);
}

/** Only the VXLAN device: the node is cut from the cluster, the local containers keep their bridge. */
export async function removeVxlan(vxlan: string): Promise<void> {
  if (await ip.linkExists(vxlan)) await ip.batch([`link del ${vxlan}`], { force: true });
}
