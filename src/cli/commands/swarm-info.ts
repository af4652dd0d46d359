/** The Swarm part of `info`'s Server block, as docker's printSwarmInfo writes it. */
import { humanDuration } from '../units.js';

const str = (v: unknown) => (v === undefined || v === null ? '' : String(v));

/** Lines after " Swarm: <state>" (none for an inactive or locked node). */
export function swarmInfoLines(swarm: Record<string, any>): string[] {
  const lines: string[] = [];
  const line = (...parts: unknown[]) => lines.push(parts.map(str).join(' '));
  const state = swarm.LocalNodeState;
  if (!state || state === 'inactive' || state === 'locked') return lines;
  line('  NodeID:', swarm.NodeID);
  if (swarm.Error) line('  Error:', swarm.Error);
  line('  Is Manager:', !!swarm.ControlAvailable);
  const c = swarm.Cluster;
  if (c && swarm.ControlAvailable && !swarm.Error && state !== 'error') {
    const spec = c.Spec ?? {};
    line('  ClusterID:', c.ID);
    line('  Managers:', swarm.Managers ?? 0);
    line('  Nodes:', swarm.Nodes ?? 0);
    if (Array.isArray(c.DefaultAddrPool)) {
      line('  Default Address Pool:', c.DefaultAddrPool.map((p: string) => `${p}  `).join(''));
      line('  SubnetSize:', c.SubnetSize ?? 0);
    }
    if (c.DataPathPort > 0) line('  Data Path Port:', c.DataPathPort);
    line('  Orchestration:');
    line('   Task History Retention Limit:', spec.Orchestration?.TaskHistoryRetentionLimit ?? 0);
    line('  Raft:');
    line('   Snapshot Interval:', spec.Raft?.SnapshotInterval ?? 0);
    if (spec.Raft?.KeepOldSnapshots !== undefined && spec.Raft?.KeepOldSnapshots !== null) line('   Number of Old Snapshots to Retain:', spec.Raft.KeepOldSnapshots);
    line('   Heartbeat Tick:', spec.Raft?.HeartbeatTick ?? 0);
    line('   Election Tick:', spec.Raft?.ElectionTick ?? 0);
    line('  Dispatcher:');
    line('   Heartbeat Period:', humanDuration((spec.Dispatcher?.HeartbeatPeriod ?? 0) / 1e6));
    line('  CA Configuration:');
    line('   Expiry Duration:', humanDuration((spec.CAConfig?.NodeCertExpiry ?? 0) / 1e6));
    line('   Force Rotate:', spec.CAConfig?.ForceRotate ?? 0);
    const signing = str(spec.CAConfig?.SigningCACert).trim();
    if (signing) lines.push(`   Signing CA Certificate: \n${signing}\n`);
    const external = (spec.CAConfig?.ExternalCAs ?? []) as Array<{ Protocol?: string; URL?: string }>;
    if (external.length) {
      line('   External CAs:');
      for (const e of external) lines.push(`     ${str(e.Protocol)}: ${str(e.URL)}`);
    }
    line('  Autolock Managers:', !!spec.EncryptionConfig?.AutoLockManagers);
    line('  Root Rotation In Progress:', !!c.RootRotationInProgress);
  }
  line('  Node Address:', swarm.NodeAddr);
  const managers = ((swarm.RemoteManagers ?? []) as Array<{ Addr?: string }>).map((m) => str(m.Addr)).sort();
  if (managers.length) {
    line('  Manager Addresses:');
    for (const m of managers) lines.push(`   ${m}`);
  }
  return lines;
}
