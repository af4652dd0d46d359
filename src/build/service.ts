/**
 * The builder: a Dockerfile and a context to an image, as Docker's classic builder does it (an image
 * config and a history entry per step, `#(nop)` entries for config-only steps, a layer per RUN/COPY),
 * with BuildKit's stage graph: only the stages the target needs are built, independent ones in parallel.
 * Each step's result is looked up in and written to the build cache (cache.ts) by a key over what it
 * depended on; an unchanged rebuild runs no container and writes no layer.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { ImageService } from '../images/service.js';
import type { ContainerService } from '../containers/service.js';
import type { Image, ImageConfigJson } from '../images/model.js';
import type { ImageRunConfig } from '../images/changes.js';
import type { LayerStore } from '../layers/store.js';
import type { ProgressSink } from '../distribution/progress.js';
import type { Credentials } from '../distribution/auth.js';
import type { BuildBackendService, BuildCacheRecord, BuildEvent, BuildRequest, BuildResult, StepRef } from './types.js';
import type { Dockerfile, Instruction, RunInstruction, CopyInstruction, Stage, LabelInstruction } from './dockerfile/types.js';
import { BuildCache, cacheKey, configId, type CacheEntry } from './cache.js';
import { BuildArgsRoot, type StageArgs } from './args.js';
import { applyMetadata, commandArgs, DEFAULT_PATH, DEFAULT_SHELL, setEnv, type Expander } from './metadata.js';
import { neededStages, stageDeps, stageIndexOf } from './graph.js';
import { runStep, BUILD_CONTAINER_LABEL } from './run-step.js';
import { workdirLayer } from './workdir.js';
import { parseReference, familiarString, withDefaultTag } from '../images/reference.js';
import { BerthError, invalidArgument, messageOf, notFound } from '../lib/errors.js';
import { KeyedMutex } from '../lib/mutex.js';
import { sha256Hex } from '../lib/ids.js';
import { log } from '../lib/log.js';
import type { CopyRoots, CopySpec, PreparedCopy } from './copy.js';

/** expand.ts's ShellLex, as the builder uses it. */
export interface WordLexer {
  processWord(word: string, env: (name: string) => string | undefined): string;
  processWords(word: string, env: (name: string) => string | undefined): string[];
}

/** prepareCopy (copy.ts) and mountImageRootfs (rootfs.ts), given by the daemon. */
export interface CopyHelpers {
  prepareCopy(spec: CopySpec, roots: CopyRoots): Promise<PreparedCopy>;
  mountImageRootfs(layers: LayerStore, topChainId: string | null, scratchDir: string): Promise<{ path: string; release(): Promise<void> }>;
}
export interface BuildServiceDeps {
  images: ImageService;
  containers: ContainerService;
  distribution: { pull(o: { name: string; tag?: string; platform?: string; creds: Credentials; signal?: AbortSignal }, out: ProgressSink): Promise<void> };
  cache: BuildCache;
  dataRoot: string;
  parse(text: string, file: string): Dockerfile;
  lexer(escape: '\\' | '`'): WordLexer;
  /** A COPY/ADD heredoc body's expansion (quotes kept, as buildkit does); default: the lexer's word expansion. */
  expandHeredoc?(content: string, env: (name: string) => string | undefined): string;
  copy?: CopyHelpers;
}

/** A stage's state between steps: the image so far and the cache key that names it. */
interface StepState {
  config: ImageConfigJson;
  /** The exact bytes whose digest is the step's image id. */
  configText: string;
  topChainId: string | null;
  key: string;
}

interface StageRun {
  stage: Stage;
  args: StageArgs;
  cmdSet: boolean;
  state: StepState;
}

export class BuildService implements BuildBackendService {
  private readonly cacheMountLocks = new KeyedMutex();

  constructor(private readonly d: BuildServiceDeps) {}

  /** Removes step containers a daemon crash left behind. */
  async init(): Promise<void> {
    for (const c of this.d.containers.store.all()) {
      if (c.config.Labels?.[BUILD_CONTAINER_LABEL]) {
        await this.d.containers.remove(c.id, { force: true, volumes: true }).catch((err) => log.warn('build: removing a left-over step container failed', { id: c.id, error: messageOf(err) }));
      }
    }
  }

  async build(req: BuildRequest, onEvent: (e: BuildEvent) => void): Promise<BuildResult> {
    for (const t of req.tags) parseReference(t);
    const text = req.dockerfileText ?? (await this.readDockerfile(req));
    const df = this.d.parse(text, req.dockerfilePath || 'Dockerfile');
    req.trace?.mark('parse');
    for (const w of df.warnings) onEvent({ type: 'message', text: `[WARNING]: ${w.message} (${w.loc.file}:${w.loc.startLine})` });
    const lex = this.d.lexer(df.directives.escape);
    const args = new BuildArgsRoot(req.buildArgs);
    for (const a of df.metaArgs) for (const { key, value } of a.args) args.declareMeta(key, value === undefined ? undefined : lex.processWord(value, (n) => args.metaLookup(n)));
    const expandFrom = (w: string) => lex.processWord(w, (n) => args.metaLookup(n));

    if (!df.stages.length) throw invalidArgument('the Dockerfile (' + (req.dockerfilePath || 'Dockerfile') + ') cannot be empty');
    let target = df.stages.length - 1;
    if (req.target) {
      const i = df.stages.findIndex((s) => s.from.stageName === req.target!.toLowerCase());
      if (i < 0) throw invalidArgument(`failed to reach build target ${req.target} in Dockerfile`);
      target = i;
    }
    const depsOf = new Map<number, number[]>();
    const deps = (i: number) => {
      if (!depsOf.has(i)) depsOf.set(i, stageDeps(df, df.stages[i]!, expandFrom));
      return depsOf.get(i)!;
    };
    const needed = neededStages(df, target, deps);
    const extra = labelInstruction(req.labels, df.stages[target]!);
    const instructionsOf = (i: number) => (i === target && extra ? [...df.stages[i]!.instructions, extra] : df.stages[i]!.instructions);
    const globalCount = needed.reduce((n, i) => n + 1 + instructionsOf(i).length, 0);
    let next = 1;
    const firstGlobal = new Map<number, number>();
    for (const i of needed) {
      firstGlobal.set(i, next);
      next += 1 + instructionsOf(i).length;
    }

    const ctrl = new AbortController();
    const onAbort = () => ctrl.abort(req.signal.reason);
    req.signal.addEventListener('abort', onAbort, { once: true });
    const started = new Map<number, Promise<StepState>>();
    // A stage starts once the stages it needs are done (the graph has no cycles: neededStages checked).
    const stageResult = (i: number): Promise<StepState> => {
      let p = started.get(i);
      if (!p) {
        p = Promise.all(deps(i).map(stageResult)).then(() => this.buildStage(ctx, i));
        p.catch(() => ctrl.abort(new Error('another stage failed')));
        started.set(i, p);
      }
      return p;
    };
    // The temp dir is made by whatever first uses it (rootfs views, copies); a cached build never does.
    const scratchDir = path.join(this.d.dataRoot, 'tmp', `build-${randomBytes(8).toString('hex')}`);
    let scratchUsed = false;
    const ctx: BuildContext = {
      req, df, lex, args, onEvent, signal: ctrl.signal, globalCount, firstGlobal, instructionsOf, stageResult, expandFrom,
      get scratchDir() {
        scratchUsed = true;
        return scratchDir;
      },
    };
    try {
      for (const i of needed) stageResult(i);
      const settled = await Promise.allSettled([...started.values()]);
      const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected' && !isAbortOf(s.reason, ctrl.signal));
      if (failed) throw failed.reason;
      const anyFailed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
      if (anyFailed) throw anyFailed.reason;
      const final = await stageResult(target);
      req.trace?.mark('stages');
      const unconsumed = args.unconsumed();
      if (unconsumed.length) onEvent({ type: 'message', text: `[Warning] One or more build-args [${unconsumed.join(' ')}] were not consumed` });
      // A target that is its base image unchanged is that image (its exact config bytes), as in Docker.
      const base = final.key.startsWith('sha256:') ? this.d.images.store.get(final.key) : undefined;
      // An unchanged rebuild's image is there already (its config bytes, so its id, are the cached ones).
      const finalId = configId(final.configText);
      const known = this.d.images.store.get(finalId) ? finalId : undefined;
      const imageId = base && JSON.stringify(base.config) === final.configText ? base.id : known ?? (await this.d.images.writing(() => this.d.images.register(Buffer.from(final.configText))));
      const tags: string[] = [];
      for (const t of req.tags) {
        this.d.images.tag(imageId, t);
        tags.push(familiarString(withDefaultTag(parseReference(t))));
      }
      req.trace?.mark('image');
      return { imageId, tags };
    } finally {
      req.signal.removeEventListener('abort', onAbort);
      if (scratchUsed) await fs.rm(scratchDir, { recursive: true, force: true }).catch((err) => log.warn('build: removing its temp dir failed', { error: messageOf(err) }));
    }
  }

  async prune(opts: { all: boolean; filters: Record<string, string[]>; keepStorage?: number }): Promise<{ CachesDeleted: string[]; SpaceReclaimed: number }> {
    const { ids, size } = this.d.cache.prune(opts);
    if (ids.length) await this.d.images.collectGarbage();
    if (opts.all && !Object.keys(opts.filters).length) await fs.rm(this.cacheMountRoot(), { recursive: true, force: true });
    return { CachesDeleted: ids, SpaceReclaimed: size };
  }

  async diskUsage(): Promise<BuildCacheRecord[]> {
    return this.d.cache.records();
  }

  // ---- stages -------------------------------------------------------------------------------

  private async readDockerfile(req: BuildRequest): Promise<string> {
    const contextDir = await req.context.directory();
    const file = path.resolve(contextDir, req.dockerfilePath || 'Dockerfile');
    if (!file.startsWith(path.resolve(contextDir) + path.sep)) throw invalidArgument(`Cannot locate specified Dockerfile: ${req.dockerfilePath}`);
    try {
      return await fs.readFile(file, 'utf8');
    } catch {
      throw invalidArgument(`Cannot locate specified Dockerfile: ${req.dockerfilePath || 'Dockerfile'}`);
    }
  }

  private async buildStage(ctx: BuildContext, index: number): Promise<StepState> {
    const stage = ctx.df.stages[index]!;
    const instructions = ctx.instructionsOf(index);
    const count = 1 + instructions.length;
    const stageName = stage.from.stageName ?? String(index);
    const ref = (i: number, text: string): StepRef => ({
      id: `${index}.${i}`,
      stage: index,
      stageName,
      index: i + 1,
      count,
      globalIndex: ctx.firstGlobal.get(index)! + i,
      globalCount: ctx.globalCount,
      text,
    });
    const run: StageRun = { stage, args: ctx.args.stage(), cmdSet: false, state: undefined as unknown as StepState };
    const fromRef = ref(0, stage.from.original);
    run.state = await this.step(ctx, fromRef, () => this.from(ctx, run, fromRef));
    // ONBUILD triggers of the base image run first, then the image forgets them.
    const triggers = run.state.config.config?.OnBuild ?? [];
    let queue: Instruction[] = instructions;
    if (triggers.length) {
      ctx.onEvent({ type: 'message', text: `# Executing ${triggers.length} build trigger${triggers.length > 1 ? 's' : ''}` });
      const parsed = ctx.df.stages.length ? this.d.parse(`FROM scratch\n${triggers.join('\n')}\n`, 'ONBUILD').stages[0]!.instructions : [];
      const cfg = structuredClone(run.state.config);
      cfg.config = { ...(cfg.config ?? {}), OnBuild: null };
      run.state = { ...run.state, config: cfg, configText: JSON.stringify(cfg), key: cacheKey([run.state.key, 'onbuild-reset']) };
      for (const t of parsed) await this.dispatch(ctx, run, t, ref(0, t.original), true);
    }
    for (let i = 0; i < queue.length; i++) {
      const ins = queue[i]!;
      await this.dispatch(ctx, run, ins, ref(i + 1, ins.original), false);
    }
    queue = [];
    return run.state;
  }

  /** One step with its events; the step's result becomes the stage's state. */
  private async step(ctx: BuildContext, step: StepRef, body: () => Promise<StepState>): Promise<StepState> {
    ctx.signal.throwIfAborted();
    ctx.onEvent({ type: 'step-start', step, time: Date.now() });
    const since = performance.now();
    try {
      const state = await body();
      ctx.onEvent({ type: 'step-done', step, imageId: configId(state.configText), time: Date.now() });
      ctx.req.trace?.span(`step${step.globalIndex}`, since);
      return state;
    } catch (err) {
      ctx.onEvent({ type: 'step-done', step, error: messageOf(err), time: Date.now() });
      throw err;
    }
  }

  private async dispatch(ctx: BuildContext, run: StageRun, ins: Instruction, step: StepRef, trigger: boolean): Promise<void> {
    if (trigger && (ins.kind === 'ONBUILD' || ins.kind === 'FROM' || ins.kind === 'MAINTAINER')) throw invalidArgument(`${ins.kind} isn't allowed as an ONBUILD trigger`);
    run.state = await this.step(ctx, step, async () => {
      const cfg = structuredClone(run.state.config.config ?? {}) as ImageRunConfig;
      const env = () => cfg.Env ?? [];
      const x: Expander = {
        word: (w) => ctx.lex.processWord(w, run.args.lookup(env())),
        words: (w) => ctx.lex.processWords(w, run.args.lookup(env())),
      };
      switch (ins.kind) {
        case 'RUN':
          return this.runInstruction(ctx, run, ins, step, cfg);
        case 'COPY':
        case 'ADD':
          return this.copyInstruction(ctx, run, ins, step, cfg, x);
        case 'ARG': {
          const parts: string[] = [];
          for (const a of ins.args) {
            const value = a.value === undefined ? undefined : x.word(a.value);
            run.args.declare(a.key, value);
            parts.push(value === undefined ? a.key : `${a.key}=${value}`);
          }
          return this.configStep(ctx, run, step, cfg, `ARG ${parts.join(' ')}`);
        }
        case 'FROM':
          throw invalidArgument('FROM in the middle of a stage');
        default: {
          const r = applyMetadata(ins, cfg, x, run);
          if (ins.kind === 'WORKDIR') return this.workdirStep(ctx, run, step, cfg, r.comment);
          return this.configStep(ctx, run, step, cfg, r.comment, r.author);
        }
      }
    });
  }

  // ---- FROM ---------------------------------------------------------------------------------

  private async from(ctx: BuildContext, run: StageRun, step: StepRef): Promise<StepState> {
    const name = ctx.expandFrom(run.stage.from.image);
    if (!name) throw invalidArgument('base name (' + run.stage.from.image + ') should not be blank');
    const stageIndex = stageIndexOf(ctx.df, name, false);
    let state: StepState;
    if (stageIndex !== undefined && stageIndex < run.stage.index) {
      state = await ctx.stageResult(stageIndex);
      ctx.onEvent({ type: 'step-image', step, imageId: configId(state.configText) });
    } else if (name.toLowerCase() === 'scratch') {
      const config: ImageConfigJson = { architecture: 'amd64', config: {}, os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, history: [] };
      state = { config, configText: JSON.stringify(config), topChainId: null, key: 'scratch' };
    } else {
      const platform = run.stage.from.platform ? ctx.expandFrom(run.stage.from.platform) : ctx.req.platform;
      const image = await this.baseImage(ctx, name, platform, step);
      ctx.onEvent({ type: 'step-image', step, imageId: image.id });
      const configText = JSON.stringify(image.config);
      state = { config: structuredClone(image.config), configText, topChainId: image.topChainId, key: image.id };
    }
    // Docker adds the default PATH to a base without one.
    const env = state.config.config?.Env ?? [];
    if (!env.some((e) => e.startsWith('PATH='))) {
      const config = structuredClone(state.config);
      config.config = { ...(config.config ?? {}), Env: setEnv(env, 'PATH', DEFAULT_PATH) };
      state = { ...state, config, configText: JSON.stringify(config) };
    }
    return state;
  }

  private async baseImage(ctx: BuildContext, name: string, platform: string | undefined, step: StepRef): Promise<Image> {
    const local = ctx.req.pull ? undefined : this.d.images.tryResolve(name);
    if (local) return local;
    const ref = withDefaultTag(parseReference(name));
    await this.d.distribution.pull(
      { name: familiarString({ domain: ref.domain, path: ref.path }), tag: ref.digest ?? ref.tag, platform, creds: credentialsFor(ctx.req.authConfigs, ref.domain), signal: ctx.signal },
      (message) => ctx.onEvent({ type: 'pull-progress', step, message: message as Record<string, unknown> }),
    );
    const image = this.d.images.tryResolve(name);
    if (!image) throw notFound(`pull access denied for ${name}, repository does not exist or may require 'docker login'`);
    return image;
  }

  // ---- config-only steps -----------------------------------------------------------------------

  /** A `#(nop)` step: new config, an empty-layer history entry, cached like any other step. */
  private configStep(ctx: BuildContext, run: StageRun, step: StepRef, cfg: ImageRunConfig, comment: string, author?: string): StepState {
    // The classic builder's commit() joins `#(nop) ` and the comment as two words: two spaces.
    // The text is made after the step's config change, so SHELL's own entry already runs under the new shell.
    const createdBy = nop({ config: cfg }, ` ${comment}`);
    const key = cacheKey([run.state.key, createdBy, JSON.stringify(cfg)]);
    const hit = this.lookup(ctx, key, step, run, createdBy, cfg);
    if (hit) return hit;
    const config = childConfig(run.state.config, cfg, { created_by: createdBy, empty_layer: true }, null, author);
    return this.record(run, key, config, run.state.topChainId, 0, createdBy);
  }

  private async workdirStep(ctx: BuildContext, run: StageRun, step: StepRef, cfg: ImageRunConfig, comment: string): Promise<StepState> {
    const createdBy = nop({ config: cfg }, comment);
    const key = cacheKey([run.state.key, createdBy, JSON.stringify(cfg)]);
    const hit = this.lookup(ctx, key, step, run, createdBy, cfg);
    if (hit) return hit;
    return this.d.images.writing(async () => {
      const layer = await workdirLayer(this.d.images.layers, run.state.topChainId, cfg.WorkingDir ?? '/');
      const config = childConfig(run.state.config, cfg, { created_by: createdBy, ...(layer ? {} : { empty_layer: true }) }, layer?.diffId ?? null);
      return this.record(run, key, config, layer?.chainId ?? run.state.topChainId, layer?.size ?? 0, createdBy);
    });
  }

  // ---- RUN ----------------------------------------------------------------------------------

  private async runInstruction(ctx: BuildContext, run: StageRun, ins: RunInstruction, step: StepRef, cfg: ImageRunConfig): Promise<StepState> {
    const cmd = runCommand(ins, cfg);
    const env = cfg.Env ?? [];
    const historyArgs = run.args.historyArgs(env);
    const saved = historyArgs.length ? [`|${historyArgs.length}`, ...historyArgs, ...cmd] : cmd;
    const createdBy = saved.join(' ');
    const mountKey = JSON.stringify(ins.mounts);
    const key = cacheKey([run.state.key, 'RUN', createdBy, mountKey, ins.network ?? '']);
    const hit = this.lookup(ctx, key, step, run, createdBy, cfg);
    if (hit) return hit;

    const runEnv = [...env, ...run.args.runEnv(env).map(([k, v]) => `${k}=${v}`)];
    const image: Image = { id: configId(run.state.configText), config: run.state.config, topChainId: run.state.topChainId, tags: [], digests: [], size: 0, lastTagTime: null };
    const mounts = await this.runMounts(ctx, ins, cfg);
    try {
      return await this.d.images.writing(async () => {
        const run1 = () =>
          runStep(this.d.containers, {
            image,
            cmd,
            env: runEnv,
            user: cfg.User,
            workingDir: cfg.WorkingDir,
            networkMode: networkModeOf(ins.network, ctx.req.networkMode),
            extraHosts: ctx.req.extraHosts,
            shmSize: ctx.req.shmSize,
            binds: mounts.binds,
            tmpfs: mounts.tmpfs,
            signal: ctx.signal,
            onContainer: (containerId) => ctx.onEvent({ type: 'step-container', step, containerId }),
            onOutput: (stream, data) => ctx.onEvent({ type: 'step-output', step, stream, data }),
            onRemoved: (containerId) => ctx.onEvent({ type: 'step-container-removed', step, containerId }),
          });
        const layer = mounts.locked ? await this.cacheMountLocks.run(mounts.locked, run1) : await run1();
        const config = childConfig(run.state.config, cfg, { created_by: createdBy, ...(layer ? {} : { empty_layer: true }) }, layer?.diffId ?? null);
        return this.record(run, key, config, layer?.chainId ?? run.state.topChainId, layer?.size ?? 0, createdBy);
      });
    } finally {
      await mounts.release();
    }
  }

  private cacheMountRoot(): string {
    return path.join(this.d.dataRoot, 'build', 'cache-mounts');
  }

  /** RUN --mount: binds and tmpfs for the step container, and what to release after it. */
  private async runMounts(ctx: BuildContext, ins: RunInstruction, cfg: ImageRunConfig): Promise<{ binds: string[]; tmpfs: Record<string, string>; locked?: string; release(): Promise<void> }> {
    const binds: string[] = [];
    const tmpfs: Record<string, string> = {};
    const releases: Array<() => Promise<void>> = [];
    let locked: string | undefined;
    const release = async () => {
      for (const r of releases.reverse()) await r().catch((err) => log.warn('build: releasing a RUN mount failed', { error: messageOf(err) }));
    };
    try {
      for (const m of ins.mounts) {
        const target = m.target ? path.posix.resolve('/', cfg.WorkingDir || '/', m.target) : undefined;
        switch (m.type) {
          case 'cache': {
            if (!target) throw invalidArgument('mount target must be specified for type=cache');
            const id = m.id || target;
            const dir = path.join(this.cacheMountRoot(), sha(id));
            const created = await fs.mkdir(dir, { recursive: true, mode: m.mode ?? 0o755 });
            if (created) await fs.chown(dir, m.uid ?? 0, m.gid ?? 0);
            if (m.sharing === 'locked' || m.sharing === 'private') locked = dir;
            binds.push(`${dir}:${target}`);
            break;
          }
          case 'tmpfs':
            if (!target) throw invalidArgument('mount target must be specified for type=tmpfs');
            tmpfs[target] = m.size ? `size=${m.size}` : '';
            break;
          case 'bind': {
            if (!target) throw invalidArgument('mount target must be specified for type=bind');
            let root = m.from ? '' : await ctx.req.context.directory();
            if (m.from) {
              const i = stageIndexOf(ctx.df, m.from, true);
              const state = i !== undefined ? await ctx.stageResult(i) : undefined;
              const top = state ? state.topChainId : (await this.baseImage(ctx, m.from, ctx.req.platform, undefined as unknown as StepRef)).topChainId;
              const mounted = await this.requireCopy().mountImageRootfs(this.d.images.layers, top, ctx.scratchDir);
              releases.push(() => mounted.release());
              root = mounted.path;
            }
            const source = path.resolve(root, (m.source ?? '.').replace(/^\/+/, ''));
            if (source !== root && !source.startsWith(root + path.sep)) throw invalidArgument(`invalid mount source: ${m.source}`);
            binds.push(`${source}:${target}${m.readonly || m.from ? ':ro' : ':ro'}`);
            break;
          }
          case 'secret':
          case 'ssh':
            // The classic API carries no secrets or SSH agents.
            if (m.required) throw invalidArgument(m.type === 'secret' ? `secret ${m.id ?? ''} not found` : 'no SSH key found');
            break;
        }
      }
    } catch (err) {
      await release();
      throw err;
    }
    return { binds, tmpfs, locked, release };
  }

  // ---- COPY / ADD ---------------------------------------------------------------------------

  private requireCopy(): CopyHelpers {
    if (!this.d.copy) throw new BerthError('NotImplemented', 'COPY and ADD are not available in this build of berthd');
    return this.d.copy;
  }


  private async copyInstruction(ctx: BuildContext, run: StageRun, ins: CopyInstruction, step: StepRef, cfg: ImageRunConfig, x: Expander): Promise<StepState> {
    const helpers = this.requireCopy();
    const releases: Array<() => Promise<void>> = [];
    let prepared: PreparedCopy | undefined;
    try {
      const spec = this.copySpec(run, ins, cfg, x);
      // Where the sources come from: the context, or a stage's or an image's filesystem.
      let source: { kind: 'context' } | { kind: 'layers'; top: string | null; identity: string } = { kind: 'context' };
      if (ins.from) {
        const from = x.word(ins.from);
        const i = stageIndexOf(ctx.df, from, true);
        if (i !== undefined) {
          const result = await ctx.stageResult(i);
          source = { kind: 'layers', top: result.topChainId, identity: `stage:${result.key}` };
        } else {
          const image = await this.baseImage(ctx, from, ctx.req.platform, step);
          source = { kind: 'layers', top: image.topChainId, identity: `image:${image.id}` };
        }
      }
      // The cache key needs no mount: the parent's key fixes the target filesystem (and so what --chown
      // names and the destination resolve to), a stage's key or an image's id fixes its files, and the
      // context's files are hashed as they are.
      const quickKey = await this.copyQuickKey(ctx, run, spec, source);
      const cached = quickKey ? this.lookup(ctx, quickKey, step, run, undefined, cfg) : undefined;
      if (cached) return cached;

      let sourceRoot = source.kind === 'context' ? await ctx.req.context.directory() : '';
      if (source.kind === 'layers') {
        const mounted = await helpers.mountImageRootfs(this.d.images.layers, source.top, ctx.scratchDir);
        releases.push(() => mounted.release());
        sourceRoot = mounted.path;
      }
      let targetRoot: string | null = null;
      if (run.state.topChainId) {
        const mounted = await helpers.mountImageRootfs(this.d.images.layers, run.state.topChainId, ctx.scratchDir);
        releases.push(() => mounted.release());
        targetRoot = mounted.path;
      }
      prepared = await helpers.prepareCopy(spec, { sourceRoot, fromContext: source.kind === 'context', targetRoot, signal: ctx.signal, tempDir: ctx.scratchDir });
      const what = await sourceKind(sourceRoot, spec.sources, ins.heredocs.length);
      // dockerd writes `--chown=u:g` straight before the source word, with no space (its history text).
      const chownWord = spec.chown ? `--chown=${spec.chown}` : '';
      const createdBy = nop(run.state.config, `${ins.kind} ${chownWord}${what}:${prepared.checksum.replace(/^sha256:/, '')} in ${spec.dest} `);
      const key = quickKey ?? cacheKey([run.state.key, createdBy, JSON.stringify(spec), prepared.checksum]);
      const hit = this.lookup(ctx, key, step, run, createdBy, cfg);
      if (hit) return hit;
      const p = prepared;
      return await this.d.images.writing(async () => {
        const tar = p.layer();
        const layer = await this.d.images.layers.register(tar, run.state.topChainId).finally(() => tar.destroy());
        const empty = layer.diffId === EMPTY_TAR;
        const config = childConfig(run.state.config, cfg, { created_by: createdBy, ...(empty ? { empty_layer: true } : {}) }, empty ? null : layer.diffId);
        return this.record(run, key, config, empty ? run.state.topChainId : layer.chainId, empty ? 0 : layer.size, createdBy);
      });
    } finally {
      await prepared?.dispose().catch(() => {});
      for (const r of releases.reverse()) await r().catch((err) => log.warn('build: releasing a rootfs mount failed', { error: messageOf(err) }));
    }
  }

  /** The COPY/ADD step's words expanded with the stage's environment. */
  private copySpec(run: StageRun, ins: CopyInstruction, cfg: ImageRunConfig, x: Expander): CopySpec {
    return {
      add: ins.kind === 'ADD',
      sources: ins.sources.map((s) => x.word(s)),
      heredocs: ins.heredocs.map((h) => ({ name: h.name, content: !h.expand ? h.content : this.d.expandHeredoc ? this.d.expandHeredoc(h.content, run.args.lookup(cfg.Env ?? [])) : x.word(h.content) })),
      dest: x.word(ins.dest),
      workdir: cfg.WorkingDir ?? '',
      ...(ins.chown ? { chown: x.word(ins.chown) } : {}),
      ...(ins.chmod ? { chmod: x.word(ins.chmod) } : {}),
      exclude: ins.exclude.map((e) => x.word(e)),
      parents: ins.parents,
      ...(ins.unpack !== undefined ? { unpack: ins.unpack } : {}),
      ...(ins.checksum ? { checksum: x.word(ins.checksum) } : {}),
      ...(ins.keepGitDir !== undefined ? { keepGitDir: ins.keepGitDir } : {}),
      link: ins.link,
    };
  }

  /**
   * The COPY/ADD cache key computed without mounting anything; undefined when the sources cannot be
   * hashed on their own (then the full preparation decides, and its error is the user's).
   */
  private async copyQuickKey(ctx: BuildContext, run: StageRun, spec: CopySpec, source: { kind: 'context' } | { kind: 'layers'; identity: string }): Promise<string | undefined> {
    // Made with nocache too: the step is recorded under this key, which the next build looks up.
    let sources: string;
    if (source.kind === 'layers') sources = source.identity;
    else {
      // Plain COPY sources are digested from the context as it came, with nothing unpacked.
      const digest = !spec.add && !spec.parents && !spec.exclude.length ? ctx.req.context.digestOf(spec.sources) : undefined;
      if (digest) sources = `context:${digest}`;
      else {
        // The context's side alone: owners and the destination are fixed by the parent, which the key holds.
        const sourceRoot = await ctx.req.context.directory();
        const alone = await this.requireCopy()
          .prepareCopy({ ...spec, chown: undefined }, { sourceRoot, fromContext: true, targetRoot: null, signal: ctx.signal, tempDir: ctx.scratchDir })
          .catch(() => undefined);
        if (!alone) return undefined;
        sources = alone.checksum;
        await alone.dispose().catch(() => {});
      }
    }
    return cacheKey([run.state.key, 'copy', JSON.stringify(spec), sources]);
  }

  // ---- the cache ----------------------------------------------------------------------------

  private lookup(ctx: BuildContext, key: string, step: StepRef, run: StageRun, createdBy: string | undefined, cfg: ImageRunConfig): StepState | undefined {
    if (ctx.req.noCache) return undefined;
    // As dockerd's classic builder: with --cache-from only those images serve as cache, not the local cache.
    const hit = ctx.req.cacheFrom.length ? undefined : this.d.cache.lookup(key, (chainId) => Boolean(this.d.images.layers.get(chainId)));
    if (hit) {
      ctx.onEvent({ type: 'step-cached', step });
      return stateOf(hit);
    }
    if (createdBy === undefined) return undefined;
    const restored = this.fromCacheImages(ctx, run.state, createdBy, cfg);
    if (!restored) return undefined;
    ctx.onEvent({ type: 'step-cached', step });
    return this.record(run, key, restored.config, restored.topChainId, 0, createdBy);
  }

  /**
   * `--cache-from`: an image whose history continues this stage's with the same step serves as its
   * result (its layers up to that step, the step's config), as the classic builder restores it.
   */
  private fromCacheImages(ctx: BuildContext, parent: StepState, createdBy: string, cfg: ImageRunConfig): { config: ImageConfigJson; topChainId: string | null } | undefined {
    const h = parent.config.history ?? [];
    const d = parent.config.rootfs.diff_ids;
    for (const name of ctx.req.cacheFrom) {
      const img = this.d.images.tryResolve(name);
      if (!img) continue;
      const H = img.config.history ?? [];
      const D = img.config.rootfs.diff_ids;
      if (H.length <= h.length || D.length < d.length) continue;
      if (!h.every((e, i) => e.created_by === H[i]!.created_by && !!e.empty_layer === !!H[i]!.empty_layer)) continue;
      if (!d.every((x, i) => x === D[i])) continue;
      const next = H[h.length]!;
      if (next.created_by !== createdBy) continue;
      const diffIds = D.slice(0, d.length + (next.empty_layer ? 0 : 1));
      if (diffIds.length !== d.length + (next.empty_layer ? 0 : 1)) continue;
      const topChainId = diffIds.length ? this.d.images.layers.chainIds(diffIds).at(-1)! : null;
      if (topChainId && !this.d.images.layers.get(topChainId)) continue;
      const config: ImageConfigJson = {
        ...structuredClone(parent.config),
        config: JSON.parse(JSON.stringify(cfg)) as ImageRunConfig,
        created: next.created,
        history: [...h, next],
        rootfs: { type: 'layers', diff_ids: diffIds },
      };
      return { config, topChainId };
    }
    return undefined;
  }

  /** Records a step's result (its layer is registered already) and makes it the stage's state. */
  private record(run: StageRun, key: string, config: ImageConfigJson, topChainId: string | null, size: number, description: string): StepState {
    const configText = JSON.stringify(config);
    this.d.cache.store({ key, parentKey: run.state.key, description, config: configText, topChainId, size });
    return { config, configText, topChainId, key };
  }
}

interface BuildContext {
  req: BuildRequest;
  df: Dockerfile;
  lex: WordLexer;
  args: BuildArgsRoot;
  onEvent: (e: BuildEvent) => void;
  signal: AbortSignal;
  globalCount: number;
  firstGlobal: Map<number, number>;
  instructionsOf(i: number): Instruction[];
  stageResult(i: number): Promise<StepState>;
  expandFrom(w: string): string;
  /** This build's own temp dir (rootfs views, downloads), made by its first user, removed when the build ends. */
  readonly scratchDir: string;
}

const EMPTY_TAR = 'sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef';

function stateOf(e: CacheEntry): StepState {
  return { config: JSON.parse(e.config) as ImageConfigJson, configText: e.config, topChainId: e.topChainId, key: e.key };
}

/** The classic builder's history text for a config-only step (one space: WORKDIR, COPY, ADD). */
function nop(parent: ImageConfigJson | { config?: ImageRunConfig }, comment: string): string {
  const shell = parent.config?.Shell?.length ? parent.config.Shell : DEFAULT_SHELL;
  return [...shell, `#(nop) ${comment}`].join(' ');
}

/** The image config after a step, as the classic builder's commit makes it. */
function childConfig(parent: ImageConfigJson, cfg: ImageRunConfig, history: { created_by: string; empty_layer?: boolean }, diffId: string | null, author?: string): ImageConfigJson {
  const created = new Date().toISOString();
  const out: ImageConfigJson = {
    architecture: parent.architecture ?? 'amd64',
    ...(parent.variant ? { variant: parent.variant } : {}),
    ...(author ?? parent.author ? { author: author ?? parent.author } : {}),
    config: JSON.parse(JSON.stringify(cfg)) as ImageRunConfig,
    created,
    history: [...(parent.history ?? []), { created, created_by: history.created_by, ...(history.empty_layer ? { empty_layer: true } : {}) }],
    os: parent.os ?? 'linux',
    rootfs: { type: 'layers', diff_ids: [...parent.rootfs.diff_ids, ...(diffId ? [diffId] : [])] },
  };
  return out;
}

/** RUN's command: the shell or exec form; a heredoc RUN hands the shell its body. */
function runCommand(ins: RunInstruction, cfg: ImageRunConfig): string[] {
  const c = ins.command;
  if (c.form === 'shell' && c.heredocs?.length) {
    const shell = cfg.Shell?.length ? cfg.Shell : DEFAULT_SHELL;
    const only = /^<<-?["']?([A-Za-z0-9_]+)["']?\s*$/.exec(c.text.trim());
    if (only && c.heredocs.length === 1) return [...shell, c.heredocs[0]!.content];
    const bodies = c.heredocs.map((h) => `${h.content.endsWith('\n') || !h.content ? h.content : h.content + '\n'}${h.name}`).join('\n');
    return [...shell, `${c.text}\n${bodies}`];
  }
  return commandArgs(c, cfg);
}

function networkModeOf(flag: RunInstruction['network'], requested: string | undefined): string {
  if (flag === 'none') return 'none';
  if (flag === 'host') return 'host';
  return requested && requested !== 'default' ? requested : 'bridge';
}

/** The `file:`/`dir:`/`multi:` word of the classic COPY history. */
async function sourceKind(root: string, sources: string[], heredocs: number): Promise<string> {
  if (sources.length + heredocs !== 1 || /[*?[]/.test(sources[0] ?? '')) return 'multi';
  if (!sources.length) return 'file';
  if (/^https?:\/\//.test(sources[0]!)) return 'file';
  const st = await fs.stat(path.join(root, sources[0]!)).catch(() => undefined);
  return st?.isDirectory() ? 'dir' : 'file';
}

/** `--label` from the request: a LABEL step at the end of the target stage, as the classic builder adds it. */
function labelInstruction(labels: Record<string, string>, stage: Stage): LabelInstruction | undefined {
  const keys = Object.keys(labels).sort();
  if (!keys.length) return undefined;
  const quote = (s: string) => `"${s.replace(/[\\"$`]/g, (c) => `\\${c}`)}"`;
  const pairs = keys.map((k) => ({ key: quote(k), value: quote(labels[k]!) }));
  return {
    kind: 'LABEL',
    pairs,
    original: `LABEL ${keys.map((k) => `${quote(k)}=${quote(labels[k]!)}`).join(' ')}`,
    loc: { ...stage.from.loc },
  };
}

function credentialsFor(authConfigs: Record<string, unknown>, domain: string): Credentials {
  const keys = domain === 'docker.io' ? ['https://index.docker.io/v1/', 'docker.io', 'index.docker.io', 'registry-1.docker.io'] : [domain, `https://${domain}`, `http://${domain}`];
  for (const k of keys) {
    const a = authConfigs[k] as Record<string, string> | undefined;
    if (a && typeof a === 'object') {
      return {
        ...(a.username ? { username: a.username } : {}),
        ...(a.password ? { password: a.password } : {}),
        ...(a.identitytoken ? { identityToken: a.identitytoken } : {}),
        ...(a.registrytoken ? { registryToken: a.registrytoken } : {}),
      };
    }
  }
  return {};
}

function isAbortOf(err: unknown, signal: AbortSignal): boolean {
  return signal.aborted && (err === signal.reason || (err instanceof Error && err.name === 'AbortError'));
}

function sha(s: string): string {
  return sha256Hex(s);
}
