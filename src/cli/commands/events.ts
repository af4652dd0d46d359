/** `events` (and `system events`): the GET /events stream, one line per event. */
import type { CommandDef } from '../args.js';
import { CliError } from '../errors.js';
import { formatRFC3339NanoFixed, getTimestamp, localZone } from '../gotime.js';
import { jsonValues } from '../jsonstream.js';
import type { Template } from '../template/index.js';
import { compileFormat, executeFormat, filterFlag, filtersParam, inspectFormatFlag, type TemplateErrors } from './common.js';

const FORMAT_ERRORS: TemplateErrors = {
  parse: { prefix: 'Error parsing format: ', exitCode: 64 },
  exec: { prefix: 'Error parsing format: ', exitCode: 64 },
};

/** An event as the API sends it (JSON field names). */
export interface EventMessage {
  status?: string;
  id?: string;
  from?: string;
  Type?: string;
  Action?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> | null };
  scope?: string;
  time?: number;
  timeNano?: number;
}

/**
 * timeNano exceeds 2^53, so it is read from the raw text rather than from JSON.parse.
 * Falls back to `time` (seconds) as docker does.
 */
export function eventTimeNs(raw: string, ev: EventMessage): bigint {
  const m = /"timeNano"\s*:\s*(\d+)/.exec(raw);
  if (m && m[1] !== '0') return BigInt(m[1]!);
  return BigInt(Math.trunc(ev.time ?? 0)) * 1_000_000_000n;
}

/** docker's default event line: "<time> <type> <action> <id> (k=v, ...)" in local time. */
export function formatEventLine(raw: string): string {
  const ev = JSON.parse(raw) as EventMessage;
  const ns = eventTimeNs(raw, ev);
  let line = '';
  if (ns !== 0n) {
    const sec = Number(ns / 1_000_000_000n);
    const nsec = Number(ns % 1_000_000_000n);
    line += formatRFC3339NanoFixed({ sec, nsec, ...localZone(sec * 1000) }) + ' ';
  }
  line += `${ev.Type ?? ''} ${ev.Action ?? ''} ${ev.Actor?.ID ?? ''}`;
  const attrs = ev.Actor?.Attributes ?? {};
  const keys = Object.keys(attrs).sort();
  if (keys.length) line += ` (${keys.map((k) => `${k}=${attrs[k]}`).join(', ')})`;
  return line + '\n';
}

/**
 * What a --format template sees: Go's events.Message has field names (ID, Status, Scope,
 * TimeNano...) that differ from its JSON names, and {{json .}} must still print the JSON
 * names, so the JSON form is attached as toJSON.
 */
export function eventTemplateData(ev: EventMessage): Record<string, unknown> {
  const data: Record<string, unknown> = {
    Status: ev.status ?? '',
    ID: ev.id ?? '',
    From: ev.from ?? '',
    Type: ev.Type ?? '',
    Action: ev.Action ?? '',
    Actor: { ID: ev.Actor?.ID ?? '', Attributes: ev.Actor?.Attributes ?? {} },
    Scope: ev.scope ?? '',
    Time: ev.time ?? 0,
    TimeNano: ev.timeNano ?? 0,
  };
  Object.defineProperty(data, 'toJSON', { value: () => ev, enumerable: false });
  return data;
}

/**
 * An event as docker's `--format json` prints it: Go's events.Message marshalled, i.e. its
 * field order, empty status/id/from left out, attributes sorted, timeNano exact.
 */
export function eventJson(raw: string): string {
  const ev = JSON.parse(raw) as EventMessage;
  const parts: string[] = [];
  const str = (v: unknown) => JSON.stringify(v ?? '');
  if (ev.status) parts.push(`"status":${str(ev.status)}`);
  if (ev.id) parts.push(`"id":${str(ev.id)}`);
  if (ev.from) parts.push(`"from":${str(ev.from)}`);
  parts.push(`"Type":${str(ev.Type)}`, `"Action":${str(ev.Action)}`);
  const attrs = ev.Actor?.Attributes;
  const sorted = attrs
    ? `{${Object.keys(attrs)
        .sort()
        .map((k) => `${JSON.stringify(k)}:${str(attrs[k])}`)
        .join(',')}}`
    : 'null';
  parts.push(`"Actor":{"ID":${str(ev.Actor?.ID)},"Attributes":${sorted}}`);
  parts.push(`"scope":${str(ev.scope)}`, `"time":${Math.trunc(ev.time ?? 0)}`, `"timeNano":${eventTimeNs(raw, { ...ev, time: 0 })}`);
  return `{${parts.join(',')}}`;
}

/** Turns --format into a printer of events. */
export function eventFormatter(format: string): (raw: string) => string {
  if (format === '') return formatEventLine;
  if (format === 'json') return (raw) => eventJson(raw) + '\n';
  const tmpl: Template = compileFormat(format, FORMAT_ERRORS);
  return (raw) => executeFormat(tmpl, eventTemplateData(JSON.parse(raw) as EventMessage), FORMAT_ERRORS) + '\n';
}

export function eventsCommand(name: string): CommandDef {
  return {
    name,
    usage: '[OPTIONS]',
    short: 'Get real time events from the server',
    aliasPaths: ['system events', 'events'],
    args: { max: 0 },
    flags: [
      filterFlag(),
      inspectFormatFlag(),
      { name: 'since', type: 'string', usage: 'Show all events created since timestamp' },
      { name: 'until', type: 'string', usage: 'Stream events until this timestamp' },
    ],
    run: async (inv, cli) => {
      const f = inv.flags;
      const now = cli.now();
      const when = (v: string) => {
        if (v === '') return undefined;
        try {
          return getTimestamp(v, now);
        } catch (err) {
          throw new CliError((err as Error).message);
        }
      };
      const print = eventFormatter(f.string('format'));
      const res = await cli.client().request('GET', '/events', {
        query: { since: when(f.string('since')), until: when(f.string('until')), filters: filtersParam(f.list('filter')) },
      });
      for await (const raw of jsonValues(res)) cli.out.write(print(raw));
    },
  };
}
