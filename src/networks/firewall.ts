/**
 * The daemon's packet filter and NAT rules: what they are (rendered from the networks and published
 * ports the network service holds) and putting them in place.
 *
 * All rules live in the daemon's own chains, named after its tag (the default bridge name) so that two
 * daemons on one host never touch each other's rules:
 *   nat    BERTH[-tag]       DNAT of published ports   (jumped to from PREROUTING and OUTPUT for local addresses)
 *   nat    BERTH-POST[-tag]  masquerade of outbound and hairpin traffic (from POSTROUTING)
 *   filter BERTH-FWD[-tag]   isolation between networks, internal networks, published ports,
 *                            established traffic back in, the rest dropped (from FORWARD)
 * The chains are rewritten whole by one iptables-restore each time the state changes, so a rule can
 * never be left behind by a partial update, and a crash leaves nothing that the next start does not
 * overwrite. Only the four jumps are added to built-in chains; `remove` takes them out again.
 *
 * IPv6 gets the same chains in ip6tables (a second Firewall with family 6): masquerade of IPv6 subnets,
 * isolation, and DNAT of published ports to containers' IPv6 addresses. It is set up only once an
 * IPv6 network exists, so hosts and daemons without IPv6 networks never run ip6tables.
 *
 * Lifecycle: `init` (chains and jumps) at daemon start, `apply` after each change, `remove` at shutdown.
 */
import * as iptables from './iptables.js';
import { log } from '../lib/log.js';
import { messageOf } from '../lib/errors.js';

export const DEFAULT_TAG = 'berth0';

export function chainNames(tag: string): { dnat: string; post: string; fwd: string } {
  const s = tag === DEFAULT_TAG ? '' : `-${tag}`;
  return { dnat: `BERTH${s}`, post: `BERTH-POST${s}`, fwd: `BERTH-FWD${s}` };
}

export interface FirewallNetwork {
  bridge: string;
  subnet: string;
  internal: boolean;
  masquerade: boolean;
  icc: boolean;
  /** The swarm's ingress network: connections the routing mesh DNATed to its tasks are let in. */
  ingress?: boolean;
}

export interface FirewallPort {
  proto: 'tcp' | 'udp';
  hostIp: string;
  hostPort: number;
  containerIp: string;
  containerPort: number;
  bridge: string;
}

export interface FirewallState {
  networks: FirewallNetwork[];
  ports: FirewallPort[];
}

function jumps(tag: string, userlandProxy: boolean, family: iptables.Family = 4): Array<{ table: iptables.Table; chain: string; rule: string[] }> {
  const c = chainNames(tag);
  return [
    { table: 'nat', chain: 'PREROUTING', rule: ['-m', 'addrtype', '--dst-type', 'LOCAL', '-j', c.dnat] },
    {
      table: 'nat',
      chain: 'OUTPUT',
      rule: [...(userlandProxy ? ['!', '-d', family === 6 ? '::1/128' : '127.0.0.0/8'] : []), '-m', 'addrtype', '--dst-type', 'LOCAL', '-j', c.dnat],
    },
    { table: 'nat', chain: 'POSTROUTING', rule: ['-j', c.post] },
    { table: 'filter', chain: 'FORWARD', rule: ['-j', c.fwd] },
  ];
}

/** The iptables-restore text for the daemon's chains. Pure, so it can be unit-tested. */
export function render(tag: string, state: FirewallState, opts: { userlandProxy: boolean; family?: iptables.Family }): string {
  const c = chainNames(tag);
  const nat: string[] = [`:${c.dnat} - [0:0]`, `:${c.post} - [0:0]`];
  const filter: string[] = [`:${c.fwd} - [0:0]`];
  const v6 = opts.family === 6;
  const loopback = (ip: string) => (v6 ? ip === '::1' : ip.startsWith('127.'));
  const host = v6 ? '/128' : '/32';
  const any = v6 ? '::' : '0.0.0.0';
  const to = (ip: string, port: number) => (v6 ? `[${ip}]:${port}` : `${ip}:${port}`);

  for (const n of state.networks) {
    if (!n.internal && n.masquerade) nat.push(`-A ${c.post} -s ${n.subnet} ! -o ${n.bridge} -j MASQUERADE`);
    // With the userland proxy, traffic from a bridge to a published port goes through the proxy.
    if (opts.userlandProxy) nat.push(`-A ${c.dnat} -i ${n.bridge} -j RETURN`);
  }
  for (const p of state.ports) {
    const match = `-p ${p.proto} -m ${p.proto} --dport`;
    nat.push(`-A ${c.post} -s ${p.containerIp}${host} -d ${p.containerIp}${host} ${match} ${p.containerPort} -j MASQUERADE`);
    // Docker installs the DNAT rule for a loopback address too; with the proxy on, OUTPUT does not jump
    // here for 127.0.0.0/8, so the host's own loopback traffic still goes through the proxy.
    // IPv6 has no route_localnet, so a DNAT from ::1 could never be delivered: [::1] stays the proxy's.
    if (v6 && opts.userlandProxy && loopback(p.hostIp)) continue;
    const dst = p.hostIp && p.hostIp !== any ? `-d ${p.hostIp}${host} ` : '';
    nat.push(`-A ${c.dnat} ${dst}! -i ${p.bridge} ${match} ${p.hostPort} -j DNAT --to-destination ${to(p.containerIp, p.containerPort)}`);
  }

  for (const a of state.networks) {
    for (const b of state.networks) if (a !== b) filter.push(`-A ${c.fwd} -i ${a.bridge} -o ${b.bridge} -j DROP`);
  }
  for (const n of state.networks.filter((x) => x.internal)) {
    filter.push(`-A ${c.fwd} -i ${n.bridge} ! -o ${n.bridge} -j DROP`);
    filter.push(`-A ${c.fwd} ! -i ${n.bridge} -o ${n.bridge} -j DROP`);
  }
  for (const p of state.ports) {
    filter.push(`-A ${c.fwd} -d ${p.containerIp}${host} ! -i ${p.bridge} -o ${p.bridge} -p ${p.proto} -m ${p.proto} --dport ${p.containerPort} -j ACCEPT`);
  }
  for (const n of state.networks) {
    filter.push(`-A ${c.fwd} -o ${n.bridge} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`);
    if (n.ingress) filter.push(`-A ${c.fwd} -o ${n.bridge} -m conntrack --ctstate DNAT -j ACCEPT`);
    if (!n.internal) filter.push(`-A ${c.fwd} -i ${n.bridge} ! -o ${n.bridge} -j ACCEPT`);
    filter.push(`-A ${c.fwd} -i ${n.bridge} -o ${n.bridge} -j ${n.icc ? 'ACCEPT' : 'DROP'}`);
    filter.push(`-A ${c.fwd} -o ${n.bridge} -j DROP`);
  }
  // A container port published twice (two host ports) needs its filter and masquerade rules once.
  return ['*nat', ...new Set(nat), 'COMMIT', '*filter', ...new Set(filter), 'COMMIT', ''].join('\n');
}

export class Firewall {
  private running?: Promise<void>;
  private pending?: Promise<void>;
  private initialized = false;

  constructor(
    readonly tag: string,
    private readonly opts: { enabled: boolean; userlandProxy: boolean; family?: iptables.Family },
    private readonly state: () => FirewallState,
  ) {}

  private get family(): iptables.Family {
    return this.opts.family ?? 4;
  }

  get enabled(): boolean {
    return this.opts.enabled;
  }

  /** Creates the chains (empty, or emptied if a crash left them) and the jumps into them. */
  async init(): Promise<void> {
    if (!this.opts.enabled) return;
    // IPv6 chains wait for the first IPv6 network (apply calls init then).
    if (this.family === 6 && !this.state().networks.length) return;
    await iptables.restore(render(this.tag, { networks: [], ports: [] }, this.opts), this.family);
    // A jump of the other proxy mode may be left from an earlier run with other settings.
    for (const j of jumps(this.tag, !this.opts.userlandProxy, this.family)) {
      if (j.chain === 'OUTPUT') await iptables.deleteRule(j.table, j.chain, j.rule, this.family);
    }
    for (const j of jumps(this.tag, this.opts.userlandProxy, this.family)) await iptables.ensureRule(j.table, j.chain, j.rule, 'first', this.family);
    this.initialized = true;
  }

  /**
   * Rewrites the chains from the current state. Calls made while one is running are folded into one
   * more run, which reads the state when it begins; every caller's change is in place on return.
   */
  apply(): Promise<void> {
    if (!this.opts.enabled) return Promise.resolve();
    if (this.pending) return this.pending;
    const before = this.running ?? Promise.resolve();
    const next = before
      .catch(() => {}) // the previous run's failure was reported by its own caller
      .then(async () => {
        this.pending = undefined;
        this.running = next;
        const state = this.state();
        if (!this.initialized) {
          if (this.family === 6 && !state.networks.length) return;
          await this.init();
        }
        await iptables.restore(render(this.tag, state, this.opts), this.family);
      });
    this.pending = next;
    void next.catch(() => {}).then(() => { // the failure goes to the caller that awaits next
      if (this.running === next) this.running = undefined;
    });
    return next;
  }

  /** Takes the jumps out and deletes the chains. */
  async remove(): Promise<void> {
    if (!this.opts.enabled) return;
    await this.running?.catch(() => {}); // the failure was reported by the caller that awaited it
    if (this.family === 6 && !this.initialized) return;
    await removeFirewallLeftovers(this.tag, this.family);
  }
}

/**
 * Removes every rule and chain of the daemon with this tag, whatever state they are in: jumps into its
 * chains from any chain, then the chains. Used at shutdown and by test harnesses after a crash.
 */
export async function removeFirewallLeftovers(tag: string, family: iptables.Family = 4): Promise<void> {
  const c = chainNames(tag);
  const ours = new Set([c.dnat, c.post, c.fwd]);
  for (const table of ['nat', 'filter'] as const) {
    let text: string;
    try {
      text = await iptables.save(table, family);
    } catch (err) {
      log.warn('iptables-save failed', { table, error: messageOf(err) });
      continue;
    }
    for (const line of text.split('\n')) {
      if (!line.startsWith('-A ')) continue;
      const words = iptables.splitRule(line);
      const chain = words[1]!;
      const j = words.indexOf('-j');
      if (ours.has(chain) || j < 0 || !ours.has(words[j + 1]!)) continue;
      await iptables.deleteRule(table, chain, words.slice(2), family).catch((err) => log.warn('could not delete rule', { rule: line, error: messageOf(err) }));
    }
    const declared = text.split('\n').filter((l) => l.startsWith(':')).map((l) => l.slice(1).split(' ')[0]!);
    for (const chain of declared.filter((n) => ours.has(n))) {
      await iptables.removeChain(table, chain, family).catch((err) => log.warn('could not delete chain', { chain, error: messageOf(err) }));
    }
  }
}
