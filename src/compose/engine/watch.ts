/**
 * `compose watch` and `up --watch`: develop.watch rules as docker compose applies them. Files under a
 * rule's path are watched (fs.watch, recursive); changes are batched until 500 ms pass quietly, then
 * each batch is matched against the rules: `sync` copies the changed files into the service's running
 * containers (PUT /containers/{id}/archive; deleted ones removed with `rm -rf`), `sync+restart` then
 * restarts them, `sync+exec` runs the rule's command, `restart` restarts, `rebuild` builds the image
 * and has the service's containers recreated.
 */
import { promises as fs, watch as fsWatch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import type { ComposeProject, ServiceConfig } from '../types.js';
import type { ComposeContext } from './types.js';
import { ComposeError } from '../errors.js';
import { IgnoreMatcher } from '../../build/dockerignore.js';
import { loadIgnoreRules } from '../../cli/build-ignore.js';
import type { IgnoreRules } from '../../cli/build-context.js';
import { packEntries } from '../../cli/build-context.js';
import { LABEL } from './labels.js';
import { buildServiceImage, type BuildOptions } from './build.js';
import { converge, startServices } from './converge.js';

/** docker compose's debounce quiet period. */
export const QUIET_PERIOD_MS = 500;

export type WatchAction = 'sync' | 'rebuild' | 'restart' | 'sync+restart' | 'sync+exec';

export interface WatchRule {
  service: string;
  action: WatchAction;
  /** Absolute host path watched. */
  path: string;
  /** Where `path` lands in the container (sync actions). */
  target?: string;
  ignore: IgnoreRules;
  include?: IgnoreRules;
  initialSync: boolean;
  exec?: { command: string[]; user?: string; working_dir?: string; privileged?: boolean; environment?: Record<string, string | null> };
}

export interface WatchOptions {
  /** Where watch's own lines go ("Watch enabled", "Syncing service ..."); default ctx.progress.log. */
  log?: (line: string) => void;
  /** Build options for `rebuild`. */
  build?: BuildOptions;
  /** `up --watch --no-build`: a `rebuild` rule is refused. */
  noBuild?: boolean;
  /**
   * Recreates `services`' containers after a rebuild; default: converge with forced recreation of
   * those services (not their dependencies), then the start phase, as docker compose's rebuild.
   */
  recreate?: (services: string[]) => Promise<void>;
  /** `--prune` (docker compose's default): remove the project's dangling images after a rebuild. */
  prune?: boolean;
  /** For tests: the quiet period. */
  quietPeriodMs?: number;
}

/** Editors' temporary files (docker compose's EphemeralPathMatcher), never worth a sync. */
const EPHEMERAL = new IgnoreMatcher([
  '**/*___jb_old___',
  '**/*___jb_tmp___',
  '**/.idea/**',
  '**/.#*',
  '**/#*#',
  '**/4913',
  '**/*~',
  '**/.*.swp',
  '**/.*.swx',
  '**/.*.swo',
  '**/.*.swn',
  '**/.*.kate-swp',
  '**/*-go-tmp-umask',
]);

const ANY: IgnoreRules = { matches: () => false, mayReinclude: () => false };

/** Go's %q of a []string: ["a" "b"]. */
function quoteList(names: string[]): string {
  return `[${names.map((n) => JSON.stringify(n)).join(' ')}]`;
}

function isChild(parent: string, p: string): boolean {
  const rel = path.relative(parent, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/** The service's develop.watch rules, validated and with absolute paths. */
export async function serviceWatchRules(project: ComposeProject, service: ServiceConfig): Promise<WatchRule[]> {
  const develop = (service.develop ?? service['x-develop']) as { watch?: Array<Record<string, unknown>> } | undefined;
  if (!develop?.watch) return [];
  const contextIgnore = service.build ? await loadIgnoreRules(service.build.context, service.build.dockerfile ?? 'Dockerfile').catch(() => undefined) : undefined;
  const rules: WatchRule[] = [];
  for (const raw of develop.watch) {
    const action = String(raw.action) as WatchAction;
    if (!['sync', 'rebuild', 'restart', 'sync+restart', 'sync+exec'].includes(action)) {
      throw new ComposeError(`service "${service.name}": unknown watch action ${JSON.stringify(raw.action)}`);
    }
    if (typeof raw.path !== 'string' || raw.path === '') throw new ComposeError('watch rules MUST define a path');
    const abs = path.resolve(project.workingDir, raw.path);
    if (action === 'rebuild' && !service.build) throw new ComposeError(`can't watch service "${service.name}" with action rebuild without a build context`);
    if (action.startsWith('sync') && typeof raw.target !== 'string') throw new ComposeError(`service "${service.name}": watch action ${action} needs a target`);
    const exec = raw.exec as WatchRule['exec'] | undefined;
    if (action === 'sync+exec' && !exec?.command?.length) throw new ComposeError(`can't watch with action "sync+exec" on service ${service.name} without a command`);
    const own = new IgnoreMatcher(((raw.ignore as string[] | undefined) ?? []).map(String));
    const include = Array.isArray(raw.include) && raw.include.length ? new IgnoreMatcher(raw.include.map(String)) : undefined;
    const ignore: IgnoreRules = {
      matches: (rel) => {
        const p = path.join(abs, rel);
        if (rel.split('/').includes('.git') || EPHEMERAL.matches(rel) || own.matches(rel)) return true;
        if (contextIgnore && service.build && isChild(service.build.context, p)) return contextIgnore.matches(path.relative(service.build.context, p).split(path.sep).join('/'));
        return false;
      },
      mayReinclude: () => true,
    };
    rules.push({
      service: service.name,
      action,
      path: abs,
      target: typeof raw.target === 'string' ? raw.target : undefined,
      ignore,
      include,
      initialSync: raw.initial_sync === true || raw['x-initialSync'] === true,
      exec: exec ? { ...exec, command: Array.isArray(exec.command) ? exec.command.map(String) : ['/bin/sh', '-c', String(exec.command)] } : undefined,
    });
  }
  return rules;
}

/** Where a changed host path goes for a rule, or undefined when the rule does not take it. */
export function matchRule(rule: WatchRule, hostPath: string): { hostPath: string; containerPath?: string } | undefined {
  if (!isChild(rule.path, hostPath)) return undefined;
  const rel = path.relative(rule.path, hostPath).split(path.sep).join('/');
  if (rel !== '') {
    if (rule.include && !rule.include.matches(rel)) return undefined;
    if (rule.ignore.matches(rel)) return undefined;
  } else if (rule.ignore.matches(path.basename(hostPath))) {
    return undefined;
  }
  const containerPath = rule.target === undefined ? undefined : rel === '' ? rule.target : path.posix.join(rule.target, rel);
  return { hostPath, containerPath };
}

/** A sync rule's path that a bind mount of the service already shares: nothing to copy. */
function boundByVolume(service: ServiceConfig, p: string): boolean {
  return service.volumes.some((v) => v.type === 'bind' && v.source !== undefined && isChild(v.source, p));
}

interface ServiceContainer {
  Id: string;
}

async function serviceContainers(ctx: ComposeContext, project: ComposeProject, service: string): Promise<ServiceContainer[]> {
  const filters = JSON.stringify({ label: [`${LABEL.project}=${project.name}`, `${LABEL.service}=${service}`, `${LABEL.oneoff}=False`] });
  return ctx.client.json<ServiceContainer[]>('GET', '/containers/json', { query: { filters } });
}

type TarEntry = { header: Record<string, unknown> & { name: string }; file?: string };

/** A tar of host files under their container paths (relative to /), directories' files included. */
async function* syncEntries(mappings: Array<{ hostPath: string; containerPath: string }>): AsyncGenerator<TarEntry> {
  const seen = new Set<string>();
  async function* one(host: string, target: string): AsyncGenerator<TarEntry> {
    const st = await fs.lstat(host).catch(() => undefined);
    if (!st) return;
    const name = target.replace(/^\/+/, '');
    if (seen.has(name)) return;
    seen.add(name);
    const header = { name, mode: st.mode & 0o7777, mtime: st.mtime, uid: st.uid, gid: st.gid };
    if (st.isDirectory()) {
      yield { header: { ...header, name: name + '/', type: 'directory' as const } };
      for (const child of (await fs.readdir(host)).sort()) yield* one(path.join(host, child), path.posix.join(target, child));
    } else if (st.isFile()) {
      yield { header: { ...header, type: 'file' as const, size: st.size }, file: host };
    } else if (st.isSymbolicLink()) {
      yield { header: { ...header, type: 'symlink' as const, linkname: await fs.readlink(host) } };
    }
  }
  for (const m of mappings) yield* one(m.hostPath, m.containerPath);
}

/** Runs `cmd` in a container and waits for it (output to `log`); throws on a non-zero exit. */
async function execIn(ctx: ComposeContext, containerId: string, cmd: string[], extra: Partial<NonNullable<WatchRule['exec']>> = {}, log?: (line: string) => void): Promise<void> {
  const env = Object.entries(extra.environment ?? {}).map(([k, v]) => (v === null ? k : `${k}=${v}`));
  const created = await ctx.client.json<{ Id: string }>('POST', `/containers/${containerId}/exec`, {
    json: { Cmd: cmd, AttachStdout: true, AttachStderr: true, User: extra.user, WorkingDir: extra.working_dir, Privileged: extra.privileged, Env: env.length ? env : undefined },
  });
  const res = await ctx.client.request('POST', `/exec/${created.Id}/start`, { json: { Detach: false, Tty: false } });
  // The multiplexed stream: 8-byte headers then payload.
  let buf = Buffer.alloc(0);
  let text = '';
  for await (const chunk of res) {
    buf = Buffer.concat([buf, chunk as Buffer]);
    while (buf.length >= 8) {
      const size = buf.readUInt32BE(4);
      if (buf.length < 8 + size) break;
      text += buf.subarray(8, 8 + size).toString();
      buf = buf.subarray(8 + size);
    }
  }
  if (log) for (const line of text.split('\n').filter(Boolean)) log(line);
  const info = await ctx.client.json<{ ExitCode: number | null; Running: boolean }>('GET', `/exec/${created.Id}/json`);
  if (info.Running) throw new Error('process still running');
  if (info.ExitCode !== 0) throw new Error(`exit code ${info.ExitCode}`);
}

/** Copies the mapped files into every container of the service; deleted files are removed there. */
export async function syncService(ctx: ComposeContext, project: ComposeProject, service: string, mappings: Array<{ hostPath: string; containerPath: string }>): Promise<void> {
  const present: typeof mappings = [];
  const deleted: string[] = [];
  for (const m of mappings) {
    if (await fs.lstat(m.hostPath).then(() => true, () => false)) present.push(m);
    else deleted.push(m.containerPath);
  }
  const errors: string[] = [];
  for (const c of await serviceContainers(ctx, project, service)) {
    try {
      if (deleted.length) await execIn(ctx, c.Id, ['rm', '-rf', ...deleted]);
      if (present.length) {
        const res = await ctx.client.request('PUT', `/containers/${c.Id}/archive`, {
          query: { path: '/', copyUIDGID: '1' },
          body: packEntries(syncEntries(present)),
          headers: { 'Content-Type': 'application/x-tar' },
        });
        res.resume();
      }
    } catch (err) {
      errors.push(`copying files to ${c.Id}: ${(err as Error).message}`);
    }
  }
  if (errors.length) throw new Error(errors.join('\n'));
}

async function restartService(ctx: ComposeContext, project: ComposeProject, service: string): Promise<void> {
  await Promise.all((await serviceContainers(ctx, project, service)).map(async (c) => (await ctx.client.request('POST', `/containers/${c.Id}/restart`)).resume()));
}

/** Every file under `root` (or root itself), for initial_sync. */
async function walkFiles(root: string, rule: WatchRule): Promise<string[]> {
  const st = await fs.stat(root).catch(() => undefined);
  if (!st) return [];
  if (!st.isDirectory()) return [root];
  const out: string[] = [];
  for (const name of (await fs.readdir(root)).sort()) {
    const full = path.join(root, name);
    if (!matchRule(rule, full)) continue;
    out.push(...(await walkFiles(full, rule)));
  }
  return out;
}

/**
 * Watches the selected services' develop.watch paths until `signal` aborts (then resolves). Throws at
 * once when none of them has watch rules, as docker compose.
 */
export async function watchProject(ctx: ComposeContext, project: ComposeProject, services: string[], signal: AbortSignal, opts: WatchOptions = {}): Promise<void> {
  const log = opts.log ?? ((line: string) => ctx.progress.log(line));
  const names = services.length ? services : Object.keys(project.services);
  const rules: WatchRule[] = [];
  for (const name of names) {
    const svc = project.services[name];
    if (!svc) throw new ComposeError(`no such service: ${name}`);
    for (const rule of await serviceWatchRules(project, svc)) {
      if (rule.action === 'rebuild' && opts.noBuild) throw new ComposeError(`--no-build is incompatible with watch action rebuild in service ${name}`);
      if (rule.action.startsWith('sync') && boundByVolume(svc, rule.path)) {
        ctx.warn(`path '${rule.path}' also declared by a bind mount volume, this path won't be monitored!`);
        continue;
      }
      rules.push(rule);
    }
  }
  if (rules.length === 0) throw new ComposeError("none of the selected services is configured for watch, consider setting a 'develop' section");

  for (const rule of rules.filter((r) => r.initialSync && r.action.startsWith('sync'))) {
    const files = await walkFiles(rule.path, rule);
    const mappings = files.map((f) => matchRule(rule, f)).filter((m): m is { hostPath: string; containerPath: string } => !!m?.containerPath);
    if (mappings.length) await syncService(ctx, project, rule.service, mappings);
  }

  const pending = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const flush = () => {
    timer = undefined;
    const batch = [...pending];
    pending.clear();
    running = running.then(() => handleBatch(ctx, project, rules, batch, log, opts)).catch((err) => ctx.warn(`Error handling changed files: ${(err as Error).message}`));
  };
  const onChange = (p: string) => {
    pending.add(p);
    if (timer) clearTimeout(timer);
    timer = setTimeout(flush, opts.quietPeriodMs ?? QUIET_PERIOD_MS);
  };

  const watchers: FSWatcher[] = [];
  const roots = [...new Set(rules.map((r) => r.path))];
  try {
    for (const root of roots) {
      const st = await fs.stat(root).catch(() => undefined);
      if (!st) throw new ComposeError(`unable to watch ${root}: no such file or directory`);
      const dir = st.isDirectory() ? root : path.dirname(root);
      const w = fsWatch(dir, { recursive: st.isDirectory() }, (_event, filename) => {
        if (filename === null) return;
        const full = path.join(dir, filename.toString());
        if (st.isDirectory() || full === root) onChange(full);
      });
      w.on('error', (err) => ctx.warn(`Watch disabled with errors: ${err.message}`));
      watchers.push(w);
    }
    log('Watch enabled');
    if (!signal.aborted) await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  } finally {
    for (const w of watchers) w.close();
    if (timer) clearTimeout(timer);
    await running;
  }
  log('Watch disabled');
}

/** Recreates the services' containers on their (just built) images and starts them. */
export async function recreateServices(ctx: ComposeContext, project: ComposeProject, services: string[]): Promise<void> {
  const { graph, created } = await converge(ctx, project, { services, noDeps: true, recreate: 'force', ignoreOrphans: true, images: { noBuild: true } });
  await startServices(ctx, project, graph, { created });
}

/** The project's dangling images other than those just built go (docker compose's pruneDanglingImagesOnRebuild). */
async function pruneDanglingImages(ctx: ComposeContext, project: ComposeProject, keep: Set<string>): Promise<void> {
  try {
    const filters = JSON.stringify({ dangling: ['true'], label: [`${LABEL.project}=${project.name}`] });
    const images = await ctx.client.json<Array<{ Id: string }>>('GET', '/images/json', { query: { filters } });
    for (const img of images) {
      if (!keep.has(img.Id)) await ctx.client.json('DELETE', `/images/${img.Id}`).catch(() => undefined);
    }
  } catch {
    // Best effort, as docker compose: a failure only means old images stay.
  }
}

async function handleBatch(ctx: ComposeContext, project: ComposeProject, rules: WatchRule[], batch: string[], log: (line: string) => void, opts: WatchOptions): Promise<void> {
  const rebuild = new Set<string>();
  const restart = new Set<string>();
  const sync = new Map<string, Array<{ hostPath: string; containerPath: string }>>();
  const exec = new Map<string, WatchRule[]>();
  for (const file of batch) {
    for (const rule of rules) {
      const m = matchRule(rule, file);
      if (!m) continue;
      if (rule.action === 'rebuild') rebuild.add(rule.service);
      if (rule.action === 'restart' || rule.action === 'sync+restart') restart.add(rule.service);
      if (rule.action.startsWith('sync') && m.containerPath !== undefined) {
        const list = sync.get(rule.service) ?? [];
        if (!list.some((x) => x.hostPath === m.hostPath && x.containerPath === m.containerPath)) list.push({ hostPath: m.hostPath, containerPath: m.containerPath });
        sync.set(rule.service, list);
      }
      if (rule.action === 'sync+exec') {
        const list = exec.get(rule.service) ?? [];
        if (!list.includes(rule)) list.push(rule);
        exec.set(rule.service, list);
      }
    }
  }
  if (rebuild.size) {
    const services = [...rebuild].sort();
    log(`Rebuilding service(s) ${quoteList(services)} after changes were detected...`);
    const built = new Set<string>();
    try {
      for (const s of services) built.add(await buildServiceImage(ctx, project, s, { ...opts.build, log }));
    } catch (err) {
      log(`Build failed. Error: ${(err as Error).message}`);
      throw err;
    }
    if (opts.prune) await pruneDanglingImages(ctx, project, built);
    log(`service(s) ${quoteList(services)} successfully built`);
    try {
      await (opts.recreate ?? ((names: string[]) => recreateServices(ctx, project, names)))(services);
    } catch (err) {
      log(`Failed to recreate services after update. Error: ${(err as Error).message}`);
      throw err;
    }
  }
  for (const [service, mappings] of sync) {
    log(`Syncing service "${service}" after ${mappings.length} changes were detected`);
    await syncService(ctx, project, service, mappings);
  }
  if (restart.size) {
    const services = [...restart].sort();
    for (const s of services) await restartService(ctx, project, s);
    log(`service(s) ${quoteList(services)} restarted`);
  }
  for (const [service, list] of exec) {
    for (const rule of list) {
      for (const c of await serviceContainers(ctx, project, service)) await execIn(ctx, c.Id, rule.exec!.command, rule.exec, log);
    }
  }
}
