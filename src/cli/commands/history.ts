/** `image history`: GET /images/{name}/history. */
import type { CommandDef } from '../args.js';
import { pathName } from '../client.js';
import { formatRFC3339, unixLocal } from '../gotime.js';
import { ellipsis, truncateId } from '../text.js';
import { humanSizeWithPrecision, timeAgo } from '../units.js';
import { formatFlag, isDefaultTable, platformParam, renderRows } from './common.js';

export interface HistoryItem {
  Id: string;
  Created: number;
  CreatedBy: string;
  Tags?: string[] | null;
  Size: number;
  Comment: string;
}

/** docker's historyContext fields, keys in JSON (sorted) order. */
export interface HistoryRow {
  Comment: string;
  CreatedAt: string;
  CreatedBy: string;
  CreatedSince: string;
  ID: string;
  Size: string;
}

export const HISTORY_HEADERS: Record<string, string> = {
  ID: 'IMAGE',
  CreatedSince: 'CREATED',
  CreatedAt: 'CREATED AT',
  CreatedBy: 'CREATED BY',
  Size: 'SIZE',
  Comment: 'COMMENT',
};

/** Layers dated before 2000 (reproducible builds use 0 or 1980) show no age. */
const EPOCH_2000 = Date.UTC(2000, 0, 1) / 1000;

export function historyRows(items: HistoryItem[], opts: { trunc: boolean; human: boolean; now: number }): HistoryRow[] {
  return items.map((h) => {
    const createdAt = formatRFC3339(unixLocal(h.Created));
    const createdBy = h.CreatedBy.replace(/\t/g, ' ');
    let since: string;
    if (!opts.human) since = createdAt;
    else since = h.Created <= EPOCH_2000 ? '' : timeAgo(h.Created * 1000, opts.now);
    return {
      Comment: h.Comment,
      CreatedAt: createdAt,
      CreatedBy: opts.trunc ? ellipsis(createdBy, 45) : createdBy,
      CreatedSince: since,
      ID: opts.trunc ? truncateId(h.Id) : h.Id,
      Size: opts.human ? humanSizeWithPrecision(h.Size, 3) : String(h.Size),
    };
  });
}

export function historyFormat(format: string, quiet: boolean, human: boolean): string {
  if (!isDefaultTable(format)) return format;
  if (quiet) return '{{.ID}}';
  return human
    ? 'table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}'
    : 'table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}';
}

export function formatHistory(items: HistoryItem[], opts: { format: string; quiet: boolean; human: boolean; noTrunc: boolean; now: number }): string {
  const rows = historyRows(items, { trunc: !opts.noTrunc, human: opts.human, now: opts.now });
  return renderRows(historyFormat(opts.format, opts.quiet, opts.human), rows, HISTORY_HEADERS);
}

export function historyCommand(name: string): CommandDef {
  return {
    name,
    usage: '[OPTIONS] IMAGE',
    short: 'Show the history of an image',
    aliasPaths: ['image history', 'history'],
    args: { min: 1, max: 1 },
    flags: [
      formatFlag(),
      { name: 'human', short: 'H', type: 'bool', default: true, usage: 'Print sizes and dates in human readable format' },
      { name: 'no-trunc', type: 'bool', usage: "Don't truncate output" },
      {
        name: 'platform',
        type: 'string',
        usage: 'Show history for the given platform. Formatted as "os[/arch[/variant]]" (e.g., "linux/amd64")',
      },
      { name: 'quiet', short: 'q', type: 'bool', usage: 'Only show image IDs' },
    ],
    run: async (inv, cli) => {
      const f = inv.flags;
      const items = await cli.client().json<HistoryItem[]>('GET', `/images/${pathName(inv.args[0]!)}/history`, {
        query: { platform: platformParam(f.string('platform')) },
      });
      cli.out.write(
        formatHistory(items ?? [], {
          format: f.string('format'),
          quiet: f.bool('quiet'),
          human: f.bool('human'),
          noTrunc: f.bool('no-trunc'),
          now: cli.now(),
        }),
      );
    },
  };
}
