/**
 * A RUN step: a container from the step's image (which is not in the image store) on Berth's own
 * runtime, its output streamed, its writable layer registered as a layer. The container is always
 * removed, on success, on failure and when the client goes away, so none is left in `docker ps -a`.
 * Containers of a build the daemon died in carry BUILD_CONTAINER_LABEL; BuildService.init removes them.
 */
import type { ContainerService } from '../containers/service.js';
import type { Image } from '../images/model.js';
import type { Layer } from '../layers/store.js';
import { registerContainerLayer, EMPTY_LAYER_DIFF_ID } from '../containers/commit.js';
import { BerthError, messageOf } from '../lib/errors.js';
import { log } from '../lib/log.js';

export const BUILD_CONTAINER_LABEL = 'com.berth.build.step';

export interface RunStepInput {
  image: Image;
  cmd: string[];
  env: string[];
  user?: string;
  workingDir?: string;
  networkMode?: string;
  extraHosts: string[];
  shmSize?: number;
  /** `src:dst[:ro]` binds (RUN --mount=type=bind|cache). */
  binds: string[];
  tmpfs: Record<string, string>;
  signal: AbortSignal;
  onContainer(id: string): void;
  onOutput(stream: 'stdout' | 'stderr', data: Buffer): void;
  onRemoved(id: string): void;
}

/** Runs the command; returns the layer it made, or null when it changed nothing (an empty layer). */
export async function runStep(containers: ContainerService, input: RunStepInput): Promise<Layer | null> {
  input.signal.throwIfAborted();
  const { Id: id } = await containers.create(
    {
      config: {
        Image: input.image.id,
        Cmd: input.cmd,
        Entrypoint: [],
        Env: input.env,
        User: input.user ?? '',
        WorkingDir: input.workingDir ?? '',
        Labels: { [BUILD_CONTAINER_LABEL]: '1' },
        // The image's HEALTHCHECK is for containers run from it, not for build steps.
        Healthcheck: { Test: ['NONE'] },
        AttachStdout: true,
        AttachStderr: true,
      },
      hostConfig: {
        NetworkMode: input.networkMode || 'default',
        ExtraHosts: input.extraHosts,
        ...(input.shmSize ? { ShmSize: input.shmSize } : {}),
        Binds: input.binds,
        Tmpfs: input.tmpfs,
      },
    },
    { image: input.image },
  );
  // The client went away: the step's process dies at once (SIGKILL to the container's init from here,
  // which does not wait on the runtime), then the wait below returns and the container is removed.
  const abort = () => {
    const pid = containers.tryResolve(id)?.state.Pid;
    if (pid) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    containers.kill(id, 'SIGKILL').catch(() => {});
  };
  input.signal.addEventListener('abort', abort, { once: true });
  try {
    input.onContainer(id);
    const c = containers.resolve(id);
    let outputEnded!: () => void;
    const ended = new Promise<void>((resolve) => (outputEnded = resolve));
    const attachment = containers.io.attach(c, { output: (stream, chunk) => input.onOutput(stream, chunk), end: () => outputEnded() });
    try {
      await containers.start(id);
      // An abort while the start was under way found nothing to kill yet.
      if (input.signal.aborted) abort();
      const { StatusCode } = await containers.wait(id, 'not-running');
      // The last output may trail the exit a little.
      await Promise.race([ended, new Promise((r) => setTimeout(r, 2000))]);
      input.signal.throwIfAborted();
      if (StatusCode !== 0) throw new RunStepFailed(`The command '${input.cmd.join(' ')}' returned a non-zero code: ${StatusCode}`, StatusCode);
    } finally {
      attachment.detach();
    }
    const layer = await registerContainerLayer(containers, containers.resolve(id));
    return layer.diffId === EMPTY_LAYER_DIFF_ID ? null : layer;
  } finally {
    input.signal.removeEventListener('abort', abort);
    await containers.remove(id, { force: true, volumes: true }).then(
      () => input.onRemoved(id),
      (err) => log.warn('build: removing a step container failed', { id, error: messageOf(err) }),
    );
  }
}

/** A RUN whose command exited non-zero: dockerd's stream carries the exit code as the error's `code`. */
export class RunStepFailed extends BerthError {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super('Internal', message);
  }
}
