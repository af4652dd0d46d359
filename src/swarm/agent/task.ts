/**
 * One task on this node: swarmkit's exec.Do state machine (agent/exec/controller.go) driven by the
 * view's DesiredState and by the task container's events. The states and messages are swarmkit's:
 * accepted "accepted" -> preparing "preparing" -> ready "prepared" -> starting "starting" ->
 * running "started" -> complete "finished"; a failure before starting rejects the task, a later one
 * fails it, with the error in Err ("task: non-zero exit (1)"); a desired state of shutdown or beyond
 * stops the container and reports shutdown "shutdown". Steps never wait on the container's life: exits
 * and health changes arrive as events and run the machine again (`kick`).
 */
import type { TaskPayloads } from '../contracts.js';
import { TASK_STATE_ORDER, type Mount, type Task, type TaskState, type TaskStatus } from '../types.js';
import type { AgentDeps, TaskContainer } from './deps.js';
import { containerCreateRequest, hostPorts, taskImage, taskName } from './spec.js';
import { hasTaskFiles, planTaskFiles, taskFileMounts } from './payload-files.js';
import { rfc3339Nano } from '../../lib/timestamps.js';
import { isKind, messageOf } from '../../lib/errors.js';
import { log } from '../../lib/log.js';

export const stateIndex = (s: TaskState): number => TASK_STATE_ORDER.indexOf(s);
const at = (s: TaskState, than: TaskState) => stateIndex(s) >= stateIndex(than);

/** What a task needs from its agent. */
export interface TaskHost {
  deps: AgentDeps;
  report(taskId: string, status: TaskStatus): void;
  /** Settles once the cluster networks are in line with the latest view. */
  networksSettled(): Promise<void>;
  /** Runs container creates and starts a few at a time (the node's CPUs, not its task count, set the pace). */
  throttle<T>(work: () => Promise<T>): Promise<T>;
  /** The secrets and configs of the latest view (NodeView.payloads). */
  payloads(): TaskPayloads | undefined;
}

/** An error that ends the task, with the exit code when the container exited. */
class TaskError extends Error {
  constructor(
    message: string,
    readonly exitCode?: number,
  ) {
    super(message);
  }
}

/** The work of a step was called off by a newer desired state. */
class Superseded extends Error {}

/** swarmkit's exitError wording. */
export function exitMessage(code: number, cause?: string): string {
  return cause ? `task: non-zero exit (${code}): ${cause}` : `task: non-zero exit (${code})`;
}

export const UNHEALTHY = 'dockerexec: unhealthy container';

export class TaskRunner {
  private status: TaskStatus;
  private containerId?: string;
  private running?: Promise<void>;
  private again = false;
  private closed = false;
  private pull?: AbortController;
  /** Set when the container was stopped for failing its healthcheck: the cause of its exit. */
  private unhealthy = false;
  /** The last run ended in an unexpected error (a stop that failed, say). */
  private stepFailed = false;

  constructor(
    private readonly host: TaskHost,
    private task: Task,
    existing?: TaskContainer,
  ) {
    this.status = task.Status;
    this.containerId = existing?.id;
  }

  get id(): string {
    return this.task.ID;
  }

  get state(): TaskState {
    return this.status.State;
  }

  /** A newer version of the task from the view; the view's status counts when it is further on than ours. */
  update(task: Task): void {
    const desiredChanged = task.DesiredState !== this.task.DesiredState;
    this.task = task;
    let moved = false;
    if (stateIndex(task.Status.State) > stateIndex(this.status.State)) {
      this.status = task.Status;
      moved = true;
    }
    // A pull under way is of no use to a task that is to stop.
    if (at(task.DesiredState, 'shutdown')) this.pull?.abort();
    // Views come often (every task change on the node): only what can change the next step runs the machine.
    if (desiredChanged || moved || this.stepFailed) this.kick();
  }

  /** Runs the machine until it has nothing left to do; a kick during a run makes it go round once more. */
  kick(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          while (!this.closed && (await this.step())) {
            // each step moved the task on: look again
          }
        } while (this.again && !this.closed);
        this.stepFailed = false;
      } catch (err) {
        // Tried again a second later, or with the next view.
        this.stepFailed = true;
        log.warn('swarm task step failed', { task: this.task.ID, error: messageOf(err) });
        setTimeout(() => void this.kick(), 1000).unref();
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  /** The agent stops driving this task (leaving, daemon shutdown, task gone from the view). */
  async close(): Promise<void> {
    this.closed = true;
    this.pull?.abort();
    await this.running;
  }

  /** The task left the view: its container goes too. */
  async removeContainer(): Promise<void> {
    await this.close();
    const c = this.container();
    if (c) await this.host.deps.containers.remove(c.id).catch((err) => log.warn('removing a task container failed', { task: this.task.ID, error: messageOf(err) }));
    await this.removeFiles();
  }

  /** The task's secrets and configs go with its container. */
  private async removeFiles(): Promise<void> {
    await this.host.deps.taskFiles?.remove(this.task.ID).catch((err) => log.warn('removing a task secrets directory failed', { task: this.task.ID, error: messageOf(err) }));
  }

  /** Writes the task's secrets and configs on its tmpfs; the mounts for its container. */
  private async writeFiles(): Promise<Mount[] | undefined> {
    if (!hasTaskFiles(this.task)) return undefined;
    const store = this.host.deps.taskFiles;
    if (!store) throw new TaskError('secrets and configs are not supported on this node');
    let files;
    try {
      files = planTaskFiles(this.task, this.host.deps.node(), this.host.payloads());
    } catch (err) {
      throw new TaskError(messageOf(err));
    }
    const dir = await store.write(this.task.ID, files);
    return taskFileMounts(files, dir);
  }

  private container(): TaskContainer | undefined {
    const { containers } = this.host.deps;
    const c = (this.containerId && containers.get(this.containerId)) || containers.get(taskName(this.task));
    if (c && c.labels['com.docker.swarm.task.id'] !== this.task.ID) return undefined;
    if (c) this.containerId = c.id;
    return c;
  }

  /** One move of swarmkit's Do(); true when the state changed. */
  private async step(): Promise<boolean> {
    const current = this.status.State;
    const desired = this.task.DesiredState;
    if (at(desired, 'shutdown')) {
      if (at(current, 'complete')) return false;
      this.pull?.abort();
      const c = this.container();
      if (c?.running) {
        const grace = this.task.Spec.ContainerSpec?.StopGracePeriod;
        await this.host.deps.containers.stop(c.id, grace !== undefined ? Math.floor(grace / 1e9) : undefined);
      }
      return this.transition('shutdown', 'shutdown');
    }
    if (stateIndex(current) > stateIndex(desired)) return false;
    try {
      // These states go on past the desired state: their work decides the next one.
      switch (current) {
        case 'preparing':
          await this.prepare();
          return this.transition('ready', 'prepared');
        case 'starting':
          return await this.start();
        case 'running':
          return await this.checkExit();
        default:
      }
    } catch (err) {
      if (err instanceof Superseded) return true; // go round again: the shutdown branch takes it
      return this.fatal(err);
    }
    if (at(current, desired)) return false;
    switch (current) {
      case 'new':
      case 'allocated':
      case 'pending':
      case 'assigned':
        return this.transition('accepted', 'accepted');
      case 'accepted':
        return this.transition('preparing', 'preparing');
      case 'ready':
        return this.transition('starting', 'starting');
      default:
        return false;
    }
  }

  /** Pull when missing, then create the container (one made before, e.g. before a restart, is kept). */
  private async prepare(): Promise<void> {
    const { deps } = this.host;
    await this.host.networksSettled();
    if (this.container()) return;
    const spec = this.task.Spec.ContainerSpec;
    if (!spec?.Image) throw new TaskError('dockerexec: image required');
    const image = taskImage(spec);
    // Pulled only when missing: nodes often have no registry in reach, and a digest pins the image anyway.
    if (!isImageId(spec.Image) && !deps.images.exists(image)) {
      this.pull = new AbortController();
      try {
        const auth = (spec as { PullOptions?: { RegistryAuth?: string } }).PullOptions?.RegistryAuth;
        await deps.images.pull(image, this.pull.signal, auth);
      } catch (err) {
        if (this.closed) throw err;
        if (at(this.task.DesiredState, 'shutdown')) throw new Superseded();
        log.warn('pulling image failed', { task: this.task.ID, image, error: messageOf(err) });
        if (!deps.images.exists(image)) throw new TaskError(`No such image: ${image}`);
      } finally {
        this.pull = undefined;
      }
    }
    if (this.closed) throw new Error('agent stopped');
    const networking = typeof deps.networking === 'function' ? deps.networking() : deps.networking;
    const fileMounts = await this.writeFiles();
    try {
      const serviceLabels = this.host.payloads()?.serviceLabels?.[this.task.ServiceID];
      const req = containerCreateRequest(this.task, deps.node(), (id) => networking.localNetwork(id), deps.gatewayNetwork?.(), {
        ...(fileMounts ? { fileMounts } : {}),
        ...(serviceLabels ? { serviceLabels } : {}),
      });
      const { Id } = await this.host.throttle(() => deps.containers.create(req));
      this.containerId = Id;
    } catch (err) {
      // Made already (a report that did not get through): it is this task's container.
      if (isKind(err, 'Conflict') && this.container()) return;
      if (fileMounts) await this.removeFiles();
      throw err;
    }
  }

  /** Starts the container; the task runs once it started, or once it is healthy when it has a healthcheck. */
  private async start(): Promise<boolean> {
    let c = this.container();
    if (!c) throw new TaskError(`No such container: ${taskName(this.task)}`);
    if (c.status === 'created') {
      try {
        const id = c.id;
        await this.host.throttle(() => this.host.deps.containers.start(id));
      } catch (err) {
        throw new TaskError(`starting container failed: ${messageOf(err)}`);
      }
      c = this.container() ?? c;
    }
    if (!c.running) return this.exited(c);
    if (c.hasHealthcheck) {
      if (c.health === 'unhealthy') return this.stopUnhealthy(c);
      if (c.health !== 'healthy') return false; // the health_status event runs us again
    }
    return this.transition('running', 'started');
  }

  /** Running: nothing to do until the container exits (or turns unhealthy). */
  private async checkExit(): Promise<boolean> {
    const c = this.container();
    if (!c) throw new TaskError(`No such container: ${taskName(this.task)}`);
    if (c.running) {
      if (c.hasHealthcheck && c.health === 'unhealthy') return this.stopUnhealthy(c);
      return false;
    }
    return this.exited(c);
  }

  private async stopUnhealthy(c: TaskContainer): Promise<boolean> {
    if (this.unhealthy) return false;
    this.unhealthy = true;
    const grace = this.task.Spec.ContainerSpec?.StopGracePeriod;
    await this.host.deps.containers.stop(c.id, grace !== undefined ? Math.floor(grace / 1e9) : undefined);
    const after = this.container();
    return after && !after.running ? this.exited(after) : false;
  }

  private exited(c: TaskContainer): boolean {
    if (c.exitCode === 0 && !this.unhealthy) return this.transition('complete', 'finished');
    throw new TaskError(exitMessage(c.exitCode, this.unhealthy ? UNHEALTHY : undefined), c.exitCode);
  }

  /** swarmkit's fatal(): rejected before starting, failed from then on; the message stays, Err says why. */
  private fatal(err: unknown): boolean {
    if (this.closed) return false;
    const state: TaskState = stateIndex(this.status.State) < stateIndex('starting') ? 'rejected' : 'failed';
    const exitCode = err instanceof TaskError ? err.exitCode : undefined;
    return this.transition(state, this.status.Message, messageOf(err), exitCode);
  }

  private transition(state: TaskState, message: string, errText?: string, exitCode?: number): boolean {
    if (this.closed) return false;
    const status: TaskStatus = { Timestamp: rfc3339Nano(Date.now()), State: state, Message: message };
    if (errText) status.Err = errText;
    if (at(state, 'starting')) {
      const c = this.container();
      status.ContainerStatus = { ContainerID: c?.id ?? this.containerId ?? '', PID: c?.running ? c.pid : 0, ExitCode: exitCode ?? c?.exitCode ?? 0 };
      const ports = c?.hostPorts?.length ? c.hostPorts : hostPorts(this.task).filter((p) => p.PublishedPort);
      if (ports.length) status.PortStatus = { Ports: ports.map((p) => ({ Protocol: p.Protocol ?? 'tcp', TargetPort: p.TargetPort, PublishedPort: p.PublishedPort, PublishMode: 'host' as const })) };
    }
    this.status = status;
    this.host.report(this.task.ID, status);
    // As dockerd unmounts a container's secrets when it stops: an ended task's container never runs again.
    if (at(state, 'complete')) void this.removeFiles();
    return true;
  }
}

function isImageId(ref: string): boolean {
  return /^sha256:[a-f0-9]{64}$/.test(ref);
}
