/**
 * `compose events`: the daemon's container events for the project, in docker compose's text
 * form (`2026-12-03 13:00:00.000000 container start <id> (image=busybox, name=demo-web-1)`,
 * followed by the blank line its Println adds) or with --json one object per line.
 */
import type { CommandDef } from '../../args.js';
import { CliError } from '../../errors.js';
import { getTimestamp, unixLocal, type GoTime } from '../../gotime.js';
import { jsonValues } from '../../jsonstream.js';
import { filtersParam } from '../common.js';
import { eventTimeNs, type EventMessage } from '../events.js';
import { LABEL, projectFilter } from '../../../compose/engine/labels.js';
import { projectOrName } from './project-options.js';

export interface ComposeEvent {
  time: GoTime;
  service: string;
  container: string;
  action: string;
  attributes: Record<string, string>;
}

/** A daemon event as docker compose reports it, or undefined for one it skips (not a container, one-off, other service). */
export function composeEvent(raw: string, services: string[]): ComposeEvent | undefined {
  const ev = JSON.parse(raw) as EventMessage;
  if (ev.Type !== 'container') return undefined;
  const attrs = ev.Actor?.Attributes ?? {};
  if (attrs[LABEL.oneoff] === 'True') return undefined;
  const service = attrs[LABEL.service] ?? '';
  if (services.length && !services.includes(service)) return undefined;
  const attributes: Record<string, string> = {};
  for (const k of Object.keys(attrs).sort()) if (!k.startsWith('com.docker.compose.')) attributes[k] = attrs[k]!;
  const ns = eventTimeNs(raw, ev);
  const time = unixLocal(Number(ns / 1_000_000_000n), Number(ns % 1_000_000_000n));
  return { time, service, container: ev.Actor?.ID ?? '', action: ev.Action ?? '', attributes };
}

const p2 = (n: number) => String(n).padStart(2, '0');

function wallClock(t: GoTime): { date: string; clock: string } {
  const d = new Date((t.sec + t.offsetMin * 60) * 1000);
  return {
    date: `${d.getUTCFullYear()}-${p2(d.getUTCMonth() + 1)}-${p2(d.getUTCDate())}`,
    clock: `${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}`,
  };
}

/** Go's time.RFC3339Nano (fraction without trailing zeros), as encoding/json writes a time. */
export function rfc3339Nano(t: GoTime): string {
  const { date, clock } = wallClock(t);
  const frac = t.nsec ? '.' + String(t.nsec).padStart(9, '0').replace(/0+$/, '') : '';
  const abs = Math.abs(t.offsetMin);
  const zone = t.offsetMin === 0 ? 'Z' : `${t.offsetMin < 0 ? '-' : '+'}${p2(Math.floor(abs / 60))}:${p2(abs % 60)}`;
  return `${date}T${clock}${frac}${zone}`;
}

export function formatComposeEvent(e: ComposeEvent, json: boolean): string {
  if (json) {
    return JSON.stringify({ action: e.action, attributes: e.attributes, id: e.container, service: e.service, time: rfc3339Nano(e.time), type: 'container' }) + '\n';
  }
  const { date, clock } = wallClock(e.time);
  const micros = String(Math.floor(e.time.nsec / 1000)).padStart(6, '0');
  const attrs = Object.entries(e.attributes).map(([k, v]) => `${k}=${v}`);
  return `${date} ${clock}.${micros} container ${e.action} ${e.container} (${attrs.join(', ')})\n\n`;
}

export const eventsCommand: CommandDef = {
  name: 'events',
  usage: '[OPTIONS] [SERVICE...]',
  short: 'Receive real time events from containers',
  flags: [
    { name: 'json', type: 'bool', usage: 'Output events as a stream of json objects' },
    { name: 'since', type: 'string', usage: 'Show all events created since timestamp' },
    { name: 'until', type: 'string', usage: 'Stream events until this timestamp' },
  ],
  run: async (inv, cli) => {
    const services = inv.args;
    const { name } = projectOrName(inv, cli, services);
    const when = (flag: string) => {
      const v = inv.flags.string(flag);
      if (v === '') return undefined;
      try {
        return getTimestamp(v, cli.now());
      } catch (err) {
        throw new CliError((err as Error).message);
      }
    };
    const res = await cli.client().request('GET', '/events', {
      query: { filters: filtersParam([`label=${projectFilter(name)}`]), since: when('since'), until: when('until') },
    });
    let interrupted = false;
    const stop = () => {
      interrupted = true;
      res.destroy();
    };
    cli.signals?.on('SIGINT', stop);
    cli.signals?.on('SIGTERM', stop);
    try {
      for await (const raw of jsonValues(res)) {
        const e = composeEvent(raw, services);
        if (e) cli.out.write(formatComposeEvent(e, inv.flags.bool('json')));
      }
    } catch (err) {
      if (!res.destroyed) throw err;
    } finally {
      cli.signals?.off('SIGINT', stop);
      cli.signals?.off('SIGTERM', stop);
    }
    // Interrupted: docker compose exits 130.
    if (interrupted) return 130;
  },
};
