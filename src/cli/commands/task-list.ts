/**
 * docker's task list (cli/command/task): what `node ps` (and `service ps`) print. Tasks are named
 * <service>.<slot> or <service>.<node ID>, sorted by name and newest first within a slot, earlier
 * tasks of a slot indented with " \_ " in tables.
 */
import { parseRFC3339 } from '../gotime.js';
import { familiarName, parseNormalizedNamed } from '../reference.js';
import { ellipsis, truncateId } from '../text.js';
import { humanDuration } from '../units.js';
import type { HeaderTitle } from '../template/index.js';
import { isDefaultTable, renderRows } from './common.js';
import { naturalLess, prettyPrint } from './node-format.js';

/** A task as GET /tasks returns it (the fields read here). */
export interface TaskSummary {
  ID: string;
  CreatedAt?: string;
  ServiceID: string;
  NodeID?: string;
  Slot?: number;
  DesiredState?: string;
  Spec?: { ContainerSpec?: { Image?: string } };
  Status?: { State?: string; Timestamp?: string; Err?: string; PortStatus?: { Ports?: Array<{ PublishedPort?: number; TargetPort?: number; Protocol?: string }> } };
}

export const TASK_HEADERS: Record<string, HeaderTitle> = {
  ID: 'ID',
  Name: 'NAME',
  Image: 'IMAGE',
  Node: 'NODE',
  DesiredState: 'DESIRED STATE',
  CurrentState: 'CURRENT STATE',
  Error: 'ERROR',
  Ports: 'PORTS',
};

const DEFAULT_FORMAT = 'table {{.ID}}\t{{.Name}}\t{{.Image}}\t{{.Node}}\t{{.DesiredState}}\t{{.CurrentState}}\t{{.Error}}\t{{.Ports}}';
const RAW_FORMAT = 'id: {{.ID}}\\nname: {{.Name}}\\nimage: {{.Image}}\\nnode: {{.Node}}\\ndesired_state: {{.DesiredState}}\\ncurrent_state: {{.CurrentState}}\\nerror: {{.Error}}\\nports: {{.Ports}}\\n';

/** Milliseconds of an RFC 3339 time (0 when absent). */
function timeMs(s: string | undefined): number {
  const t = s ? parseRFC3339(s) : undefined;
  return t ? t.sec * 1000 + Math.floor(t.nsec / 1e6) : 0;
}

function image(spec: string, trunc: boolean): string {
  if (!trunc) return spec;
  try {
    const ref = parseNormalizedNamed(spec);
    if (ref.tag) return `${familiarName(ref)}:${ref.tag}`;
  } catch {
    // shown as given
  }
  return spec;
}

export interface TaskListOptions {
  format: string;
  quiet: boolean;
  trunc: boolean;
  nowMs: number;
  /** Service and node names by ID (the resolver's answers); IDs themselves with --no-resolve. */
  serviceName(id: string): string;
  nodeName(id: string): string;
}

export function formatTaskList(tasks: TaskSummary[], o: TaskListOptions): string {
  const format = isDefaultTable(o.format) ? (o.quiet ? '{{.ID}}' : DEFAULT_FORMAT) : o.format === 'raw' ? (o.quiet ? 'id: {{.ID}}' : RAW_FORMAT) : o.format;
  const named = tasks.map((t) => ({ t, name: `${o.serviceName(t.ServiceID)}.${t.Slot ? t.Slot : t.NodeID ?? ''}` }));
  const sorted = named
    .map((x, i) => ({ ...x, i }))
    .sort((a, b) => {
      if (a.name !== b.name) return naturalLess(a.name, b.name) ? -1 : naturalLess(b.name, a.name) ? 1 : a.i - b.i;
      const d = timeMs(b.t.CreatedAt) - timeMs(a.t.CreatedAt);
      return d !== 0 ? d : a.i - b.i;
    });
  const table = format.startsWith('table');
  let prev = '';
  const rows = sorted.map(({ t, name }) => {
    const shown = table && name === prev ? ` \\_ ${name}` : name;
    prev = name;
    let err = t.Status?.Err ?? '';
    if (o.trunc) err = ellipsis(err, 30);
    const ports = (t.Status?.PortStatus?.Ports ?? []).map((p) => `*:${p.PublishedPort ?? 0}->${p.TargetPort ?? 0}/${p.Protocol ?? ''}`).join(',');
    // Keys in JSON (sorted) order, as docker's context marshals itself.
    return {
      CurrentState: `${prettyPrint(t.Status?.State ?? '')} ${humanDuration(o.nowMs - timeMs(t.Status?.Timestamp)).toLowerCase()} ago`,
      DesiredState: prettyPrint(t.DesiredState ?? ''),
      Error: err ? `"${err}"` : '',
      ID: o.trunc ? truncateId(t.ID) : t.ID,
      Image: image(t.Spec?.ContainerSpec?.Image ?? '', o.trunc),
      Name: shown,
      Node: o.nodeName(t.NodeID ?? ''),
      Ports: ports,
    };
  });
  return renderRows(format, rows, TASK_HEADERS);
}
