/**
 * The task table of `service ps` and `node ps` (docker's cli/command/task): names `<service>.<slot>` (or
 * `<service>.<node id>` for global tasks), a slot's older tasks indented under its newest with ` \_ `,
 * node hostnames, "Running 5 seconds ago", errors quoted and cut to 30 characters.
 */
import type { Task } from '../../swarm/types.js';
import { ellipsis, truncateId } from '../text.js';
import { humanDuration } from '../units.js';
import { isDefaultTable, renderRows } from './common.js';

export const TASK_HEADERS: Record<string, string> = {
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

const pretty = (s: string) => (s ? s[0]!.toUpperCase() + s.slice(1) : s);

/** The image as docker shows it: the digest dropped when truncating (`busybox:latest@sha256:...` -> `busybox:latest`). */
export function displayImage(image: string, trunc: boolean): string {
  if (!trunc) return image;
  const at = image.indexOf('@');
  return at < 0 ? image : image.slice(0, at);
}

export interface TaskNames {
  service(id: string): string;
  node(id: string): string;
}

export function formatTasks(tasks: Task[], names: TaskNames, opts: { format: string; quiet: boolean; trunc: boolean; nowMs: number }): string {
  const named = tasks.map((t) => ({ t, name: `${names.service(t.ServiceID)}.${t.Slot ? t.Slot : t.NodeID ?? ''}` }));
  // Natural order by name, then the newest first within a slot.
  named.sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }) || Date.parse(b.t.CreatedAt) - Date.parse(a.t.CreatedAt));
  const table = isDefaultTable(opts.format) || opts.format.startsWith('table');
  const format = isDefaultTable(opts.format) ? (opts.quiet ? '{{.ID}}' : DEFAULT_FORMAT) : opts.format;
  let prev = '';
  const rows = named.map(({ t, name }) => {
    const shown = table && name === prev ? ` \\_ ${name}` : name;
    prev = name;
    const err = t.Status?.Err ?? '';
    const cut = opts.trunc ? ellipsis(err, 30) : err;
    const ports = (t.Status?.PortStatus?.Ports ?? []).map((p) => `*:${p.PublishedPort}->${p.TargetPort}/${p.Protocol}`).join(',');
    return {
      CurrentState: `${pretty(t.Status?.State ?? '')} ${humanDuration(opts.nowMs - Date.parse(t.Status?.Timestamp ?? t.UpdatedAt)).toLowerCase()} ago`,
      DesiredState: pretty(t.DesiredState),
      Error: cut ? `"${cut}"` : '',
      ID: opts.trunc ? truncateId(t.ID) : t.ID,
      Image: displayImage(t.Spec?.ContainerSpec?.Image ?? '', opts.trunc),
      Name: shown,
      Node: t.NodeID ? names.node(t.NodeID) : '',
      Ports: ports,
    };
  });
  return renderRows(format, rows, TASK_HEADERS);
}
