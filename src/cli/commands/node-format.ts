/**
 * How docker prints swarm nodes (cli/command/node/formatter.go): the `node ls` columns and the
 * `node inspect --pretty` text, from the Engine API's node objects.
 */
import { formatGoString, parseRFC3339 } from '../gotime.js';
import type { HeaderTitle } from '../template/index.js';
import { bytesSize } from '../units.js';
import { isDefaultTable, renderRows } from './common.js';

interface TLSInfo {
  TrustRoot?: string;
  CertIssuerSubject?: string;
  CertIssuerPublicKey?: string;
}

/** A node as GET /nodes returns it (the fields read here). */
export interface NodeSummary {
  ID: string;
  CreatedAt?: string;
  Spec?: { Name?: string; Labels?: Record<string, string> | null; Role?: string; Availability?: string };
  Description?: {
    Hostname?: string;
    Platform?: { Architecture?: string; OS?: string };
    Resources?: { NanoCPUs?: number; MemoryBytes?: number };
    Engine?: { EngineVersion?: string; Labels?: Record<string, string> | null; Plugins?: Array<{ Type: string; Name: string }> | null };
    TLSInfo?: TLSInfo;
  };
  Status?: { State?: string; Message?: string; Addr?: string };
  ManagerStatus?: { Leader?: boolean; Reachability?: string; Addr?: string } | null;
}

/** Natural order ("a2" < "a10"), as sortorder.NaturalLess. */
export function naturalLess(a: string, b: string): boolean {
  const re = /(\d+|\D+)/g;
  const xa = a.match(re) ?? [];
  const xb = b.match(re) ?? [];
  for (let i = 0; i < Math.min(xa.length, xb.length); i++) {
    const p = xa[i]!;
    const q = xb[i]!;
    if (p === q) continue;
    const dp = /^\d/.test(p);
    const dq = /^\d/.test(q);
    if (dp && dq) {
      const np = BigInt(p);
      const nq = BigInt(q);
      if (np !== nq) return np < nq;
      return p.length < q.length;
    }
    return p < q;
  }
  return xa.length < xb.length;
}

/** docker's formatter.PrettyPrint: first letter upper case, the rest lower case. */
export function prettyPrint(s: string): string {
  if (s.length === 0) return s;
  if (s.length === 1) return s.toLowerCase();
  return s[0]!.toUpperCase() + s.slice(1).toLowerCase();
}

export const NODE_HEADERS: Record<string, HeaderTitle> = {
  ID: 'ID',
  Self: '',
  Hostname: 'HOSTNAME',
  Status: 'STATUS',
  Availability: 'AVAILABILITY',
  ManagerStatus: 'MANAGER STATUS',
  EngineVersion: 'ENGINE VERSION',
  TLSStatus: 'TLS STATUS',
};

const DEFAULT_FORMAT = 'table {{.ID}} {{if .Self}}*{{else}} {{ end }}\t{{.Hostname}}\t{{.Status}}\t{{.Availability}}\t{{.ManagerStatus}}\t{{.EngineVersion}}';
const RAW_FORMAT = 'node_id: {{.ID}}\\nhostname: {{.Hostname}}\\nstatus: {{.Status}}\\navailability: {{.Availability}}\\nmanager_status: {{.ManagerStatus}}\\n';

const emptyTls = (t: TLSInfo | undefined) => !t || (!t.TrustRoot && !t.CertIssuerSubject && !t.CertIssuerPublicKey);
const sameTls = (a: TLSInfo, b: TLSInfo) =>
  (a.TrustRoot ?? '') === (b.TrustRoot ?? '') && (a.CertIssuerSubject ?? '') === (b.CertIssuerSubject ?? '') && (a.CertIssuerPublicKey ?? '') === (b.CertIssuerPublicKey ?? '');

/** One `node ls` row: docker's nodeContext methods, keys in JSON (sorted) order. */
export function nodeRow(n: NodeSummary, selfId: string, clusterTls?: TLSInfo): Record<string, string | boolean> {
  const ms = n.ManagerStatus;
  const tls = n.Description?.TLSInfo;
  const tlsStatus = emptyTls(clusterTls) || emptyTls(tls) ? 'Unknown' : sameTls(tls!, clusterTls!) ? 'Ready' : 'Needs Rotation';
  return {
    Availability: prettyPrint(n.Spec?.Availability ?? ''),
    EngineVersion: n.Description?.Engine?.EngineVersion ?? '',
    Hostname: n.Description?.Hostname ?? '',
    ID: n.ID,
    ManagerStatus: prettyPrint(ms ? (ms.Leader ? 'Leader' : ms.Reachability ?? '') : ''),
    Self: n.ID === selfId,
    Status: prettyPrint(n.Status?.State ?? ''),
    TLSStatus: tlsStatus,
  };
}

export function formatNodeList(nodes: NodeSummary[], o: { format: string; quiet: boolean; selfId: string; clusterTls?: TLSInfo }): string {
  const format = isDefaultTable(o.format) ? (o.quiet ? '{{.ID}}' : DEFAULT_FORMAT) : o.format === 'raw' ? (o.quiet ? 'node_id: {{.ID}}' : RAW_FORMAT) : o.format;
  const host = (n: NodeSummary) => n.Description?.Hostname ?? '';
  const sorted = nodes
    .map((n, i) => ({ n, i }))
    .sort((a, b) => (naturalLess(host(a.n), host(b.n)) ? -1 : naturalLess(host(b.n), host(a.n)) ? 1 : a.i - b.i))
    .map((x) => x.n);
  return renderRows(format, sorted.map((n) => nodeRow(n, o.selfId, o.clusterTls)), NODE_HEADERS);
}

function labelLines(labels: Record<string, string> | null | undefined): string {
  return Object.keys(labels ?? {})
    .sort()
    .map((k) => `\n - ${k}${labels![k] ? `=${labels![k]}` : ''}`)
    .join('');
}

/** Go's time.Time.String() of an RFC 3339 time, as docker's PrettyPrint lower-cases it. */
function joinedAt(s: string | undefined): string {
  const t = s ? parseRFC3339(s) : undefined;
  return prettyPrint(t ? formatGoString(t) : '0001-01-01 00:00:00 +0000 UTC');
}

/** `node inspect --pretty` for one node (docker's nodeInspectPrettyTemplate), without the final newline. */
export function prettyNode(n: NodeSummary): string {
  const d = n.Description ?? {};
  const ms = n.ManagerStatus;
  let s = `ID:\t\t\t${n.ID}`;
  if (n.Spec?.Name) s += `\nName:\t\t\t${n.Spec.Name}`;
  if (n.Spec?.Labels && Object.keys(n.Spec.Labels).length) s += `\nLabels:${labelLines(n.Spec.Labels)}`;
  s += `\nHostname:              \t${d.Hostname ?? ''}`;
  s += `\nJoined at:             \t${joinedAt(n.CreatedAt)}`;
  s += `\nStatus:\n State:\t\t\t${prettyPrint(n.Status?.State ?? '')}`;
  if (n.Status?.Message) s += `\n Message:              \t${prettyPrint(n.Status.Message)}`;
  s += `\n Availability:         \t${prettyPrint(n.Spec?.Availability ?? '')}`;
  if (n.Status?.Addr) s += `\n Address:\t\t${n.Status.Addr}`;
  if (ms) {
    s += `\nManager Status:\n Address:\t\t${ms.Addr ?? ''}\n Raft Status:\t\t${prettyPrint(ms.Reachability ?? '')}`;
    s += ms.Leader ? '\n Leader:\t\tYes' : '\n Leader:\t\tNo';
  }
  s += `\nPlatform:\n Operating System:\t${d.Platform?.OS ?? ''}\n Architecture:\t\t${d.Platform?.Architecture ?? ''}`;
  const cpus = d.Resources?.NanoCPUs ? Math.trunc(d.Resources.NanoCPUs / 1e9) : 0;
  const mem = d.Resources?.MemoryBytes ? bytesSize(d.Resources.MemoryBytes) : '';
  s += `\nResources:\n CPUs:\t\t\t${cpus}\n Memory:\t\t${mem}`;
  const plugins = d.Engine?.Plugins ?? [];
  if (plugins.length) {
    const byType = new Map<string, string[]>();
    for (const p of plugins) byType.set(p.Type, [...(byType.get(p.Type) ?? []), p.Name]);
    s += '\nPlugins:';
    for (const type of [...byType.keys()].sort()) {
      const names = byType.get(type)!.join(', ');
      s += `\n ${type}:${names ? `\t\t${names}` : ''}`;
    }
  }
  s += `\nEngine Version:\t\t${d.Engine?.EngineVersion ?? ''}`;
  if (d.Engine?.Labels && Object.keys(d.Engine.Labels).length) s += `\nEngine Labels:${labelLines(d.Engine.Labels)}`;
  const tls = d.TLSInfo;
  if (!emptyTls(tls)) {
    s += `\nTLS Info:\n TrustRoot:\n${tls!.TrustRoot ?? ''}\n Issuer Subject:\t${tls!.CertIssuerSubject ?? ''}\n Issuer Public Key:\t${tls!.CertIssuerPublicKey ?? ''}`;
  }
  return s;
}
