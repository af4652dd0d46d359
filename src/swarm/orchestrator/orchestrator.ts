/**
 * The leader's loop: a reconcile pass after store changes (debounced), on a periodic sweep (timers,
 * node liveness), and once at start so a new leader picks up where the old one left. Passes never
 * overlap; a change during a pass asks for another.
 */
import { messageOf } from '../../lib/errors.js';
import { log } from '../../lib/log.js';
import type { LeaderContext } from '../contracts.js';
import { reconcileGlobal } from './global.js';
import { reconcileGlobalJob, reconcileReplicatedJob } from './jobs.js';
import { StoreMirror } from './mirror.js';
import { NodeWatch } from './nodes.js';
import { PassContext } from './pass-context.js';
import { reap } from './reaper.js';
import { reconcileReplicated } from './replicated.js';
import { RestartSupervisor } from './restart.js';
import { scheduleStep } from './schedule-step.js';
import { modeOf, stateRank } from './task-model.js';
import { Updater } from './updater.js';

export interface OrchestratorOptions {
  /** Quiet time after a store change before a pass (ms). */
  debounceMs?: number;
  /** Periodic pass (ms). */
  sweepMs?: number;
  /** How long a node stays down before its stopped tasks are marked orphaned (ms). */
  orphanAfterMs?: number;
  /** A full listing of the store this often, in case a watch missed something (ms). */
  resyncMs?: number;
}

export class Orchestrator {
  private readonly mirror: StoreMirror;
  private readonly restarts = new RestartSupervisor();
  private readonly updater = new Updater();
  private readonly nodeWatch: NodeWatch;
  private readonly debounceMs: number;
  private readonly sweepMs: number;
  private debounceTimer?: NodeJS.Timeout;
  private sweepTimer?: NodeJS.Timeout;
  private resyncTimer?: NodeJS.Timeout;
  private readonly resyncMs: number;
  private wakeTimer?: { at: number; timer: NodeJS.Timeout };
  private running?: Promise<void>;
  private again = false;
  private stopped = false;
  private knownServices = new Set<string>();

  constructor(private readonly ctx: LeaderContext, o: OrchestratorOptions = {}) {
    this.debounceMs = o.debounceMs ?? 50;
    this.sweepMs = o.sweepMs ?? 1000;
    this.resyncMs = o.resyncMs ?? 30_000;
    this.nodeWatch = new NodeWatch(o.orphanAfterMs ?? 30_000);
    this.mirror = new StoreMirror(ctx.store, () => this.trigger());
  }

  async start(): Promise<void> {
    await this.mirror.load();
    this.sweepTimer = setInterval(() => this.kick(), this.sweepMs);
    // Soon after start (the first watch may have begun a little after the listing), then now and then.
    this.scheduleResync(Math.min(2000, this.resyncMs));
    this.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.debounceTimer);
    clearInterval(this.sweepTimer);
    clearTimeout(this.resyncTimer);
    if (this.wakeTimer) clearTimeout(this.wakeTimer.timer);
    this.mirror.close();
    await this.running;
  }

  private scheduleResync(ms: number): void {
    this.resyncTimer = setTimeout(() => {
      if (this.stopped) return;
      this.mirror
        .resync()
        .then((changed) => {
          if (changed) {
            log.debug('orchestrator: the store listing had changes the watches had not delivered');
            this.trigger();
          }
        })
        .catch((err) => log.warn('orchestrator: store listing failed', { error: messageOf(err) }))
        .finally(() => {
          if (!this.stopped) this.scheduleResync(this.resyncMs);
        });
    }, ms);
  }

  private trigger(): void {
    if (this.stopped || this.debounceTimer) return;
    this.debounceTimer = setTimeout(() => {
      this.debounceTimer = undefined;
      this.kick();
    }, this.debounceMs);
  }

  private wake(at: number): void {
    if (this.stopped) return;
    if (this.wakeTimer && this.wakeTimer.at <= at) return;
    if (this.wakeTimer) clearTimeout(this.wakeTimer.timer);
    const timer = setTimeout(() => {
      this.wakeTimer = undefined;
      this.kick();
    }, Math.max(0, at - Date.now()) + 1);
    this.wakeTimer = { at, timer };
  }

  private kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.pass().catch((err) => log.error('orchestrator: reconcile pass failed', { error: messageOf(err) }));
      } while (this.again && !this.stopped);
    })().finally(() => {
      this.running = undefined;
    });
  }

  private async pass(): Promise<void> {
    const pc = new PassContext(this.ctx.store, this.ctx.allocator, this.mirror, this.ctx.nodeStates(), (at) => this.wake(at), () => this.stopped);
    const step = async (what: string, f: () => Promise<void>) => {
      if (this.stopped) return;
      try {
        await f();
      } catch (err) {
        log.error(`orchestrator: ${what} failed`, { error: messageOf(err) });
      }
    };
    await step('allocation', () => this.allocateNew(pc));
    await step('node reaction', () => this.nodeWatch.react(pc));
    await step('restart supervision', () => this.restarts.supervise(pc));
    const services = pc.services();
    const present = new Set(services.map((s) => s.ID));
    for (const id of this.knownServices) {
      if (!present.has(id)) {
        this.restarts.clearService(id);
        this.updater.forget(id);
      }
    }
    this.knownServices = present;
    for (const service of services) {
      await step(`reconcile of service ${service.ID}`, async () => {
        const current = pc.mirror.services.get(service.ID);
        if (!current) return;
        switch (modeOf(current)) {
          case 'replicated': return reconcileReplicated(pc, current, this.restarts, this.updater);
          case 'global': return reconcileGlobal(pc, current, this.restarts, this.updater);
          case 'replicated-job': return reconcileReplicatedJob(pc, current);
          case 'global-job': return reconcileGlobalJob(pc, current);
        }
      });
    }
    await step('delayed starts', () => this.restarts.promoteReady(pc));
    await step('scheduling', () => scheduleStep(pc));
    await step('task reaping', () => reap(pc));
    this.mirror.tasks.pruneTombstones(pc.now);
  }

  /** Tasks a previous leader stored as new: allocate them and make them pending. */
  private async allocateNew(pc: PassContext): Promise<void> {
    for (const t of pc.tasks()) {
      if (t.Status.State !== 'new' || stateRank(t.DesiredState) > stateRank('complete')) continue;
      if (pc.stopped()) return;
      const allocated = await this.ctx.allocator.allocateTask(t).catch((err) => {
        log.warn('orchestrator: task allocation failed', { task: t.ID, error: messageOf(err) });
        return undefined;
      });
      if (!allocated) continue;
      await pc.modifyTask(t.ID, (cur) =>
        cur.Status.State !== 'new'
          ? undefined
          : { ...cur, NetworksAttachments: allocated.NetworksAttachments, Status: { Timestamp: new Date().toISOString(), State: 'pending', Message: 'pending task scheduling' } },
      );
    }
  }
}
