import type { Router } from '../router.js';
import type { SystemBackend } from '../backends.js';
import { sendJson } from '../http.js';
import { Filters } from '../../lib/filters.js';
import { parseTimestampNs } from '../../lib/timestamps.js';
import type { EngineEvent } from '../../events/bus.js';
import { invalidArgument } from '../../lib/errors.js';

const EVENT_FILTERS = ['config', 'container', 'daemon', 'event', 'image', 'label', 'network', 'node', 'plugin', 'scope', 'secret', 'service', 'type', 'volume'];
const EVENT_TYPES = ['builder', 'config', 'container', 'daemon', 'image', 'network', 'node', 'plugin', 'secret', 'service', 'volume'];

export function systemRoutes(router: Router, s: SystemBackend): void {
  const ping = (method: string) => ({ res }: { res: import('node:http').ServerResponse }) => {
    res.writeHead(200, {
      'Content-Type': 'text/plain; charset=utf-8',
      'Cache-Control': 'no-cache, no-store, must-revalidate',
      Pragma: 'no-cache',
      // The classic builder: the docker CLI then builds through /build without BuildKit or buildx.
      'Builder-Version': '1',
      'Content-Length': method === 'HEAD' ? '0' : '2',
    });
    res.end(method === 'HEAD' ? undefined : 'OK');
  };
  router.get('/_ping', ping('GET'));
  router.head('/_ping', ping('HEAD'));
  router.get('/version', ({ res }) => sendJson(res, 200, s.system.version()));
  router.get('/info', ({ res }) => sendJson(res, 200, s.system.info()));
  router.get('/system/df', async ({ res, query }) => {
    const usage = await s.system.diskUsage(query.getAll('type'));
    if (usage.BuildCache !== undefined && s.buildCache) usage.BuildCache = await s.buildCache.diskUsage();
    sendJson(res, 200, usage);
  });
  router.get('/events', async ({ req, res, query }) => {
    const filters = Filters.parse(query.get('filters'), EVENT_FILTERS);
    for (const t of filters.get('type')) if (!EVENT_TYPES.includes(t)) throw invalidArgument(`invalid filter 'type=${t}'`);
    const now = Date.now() * 1e6;
    const since = query.get('since') ? parseTimestampNs(query.get('since')!) : undefined;
    const until = query.get('until') ? parseTimestampNs(query.get('until')!) : undefined;
    if (since !== undefined && until !== undefined && until < since) {
      throw invalidArgument('`since` time cannot be after `until` time');
    }
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.flushHeaders();
    const send = (e: EngineEvent) => {
      if (until !== undefined && e.timeNano > until) return;
      if (matchesEvent(filters, e)) res.write(JSON.stringify(e) + '\n');
    };
    // Subscribe before replaying so that nothing published in between is lost.
    const live: EngineEvent[] = [];
    let replaying = true;
    const unsubscribe = s.events.subscribe((e) => (replaying ? live.push(e) : send(e)));
    if (since !== undefined) for (const e of s.events.recent(since)) send(e);
    replaying = false;
    live.forEach(send);
    let timer: NodeJS.Timeout | undefined;
    let finish = (): void => {};
    await new Promise<void>((resolve) => {
      finish = () => resolve();
      req.socket.once('close', finish);
      res.once('close', finish);
      if (until !== undefined) timer = setTimeout(finish, Math.max(0, (until - now) / 1e6));
    });
    if (timer) clearTimeout(timer);
    // A kept-alive connection outlives this request: leave no listener per request on it.
    req.socket.off('close', finish);
    unsubscribe();
    if (!res.writableEnded) res.end();
  });
}

/** dockerd's event filter semantics: values within a key are ORed, keys are ANDed. */
function matchesEvent(f: Filters, e: EngineEvent): boolean {
  const any = (key: string, pred: (v: string) => boolean) => !f.has(key) || f.get(key).some(pred);
  const attrs = e.Actor.Attributes;
  const idMatches = (v: string) => e.Actor.ID === v || e.Actor.ID.replace(/^sha256:/, '').startsWith(v.replace(/^sha256:/, ''));
  const nameMatches = (v: string, name?: string) => name !== undefined && (name === v || name === `${v}:latest` || name.split(':')[0] === v);
  return (
    any('type', (v) => e.Type === v) &&
    any('event', (v) => e.Action === v || e.Action.startsWith(`${v}:`)) &&
    any('scope', (v) => e.scope === v) &&
    any('image', (v) => (e.Type === 'image' && (idMatches(v) || nameMatches(v, attrs.name))) || nameMatches(v, attrs.image)) &&
    any('container', (v) => e.Type === 'container' && (idMatches(v) || attrs.name === v)) &&
    any('network', (v) => e.Type === 'network' && (idMatches(v) || attrs.name === v)) &&
    any('volume', (v) => e.Type === 'volume' && idMatches(v)) &&
    any('daemon', (v) => e.Type === 'daemon' && (idMatches(v) || attrs.name === v)) &&
    f.matchLabels(attrs)
  );
}
