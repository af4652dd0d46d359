/**
 * The contract between the builder (service.ts and what it uses) and the two sides that talk to users:
 * the API route (/build, which renders events as Docker's classic JSON stream, or as Berth's structured
 * events when the berth CLI asks) and `builder prune` / `system df`.
 */
import type { BuildTrace } from './trace.js';

/** One build, as the /build query and the unpacked context give it. */
export interface BuildRequest {
  /** The context's files (owned by the caller, removed after the build). */
  context: BuildContextFiles;
  /** The Dockerfile's path inside the context (default `Dockerfile`), as the user named it. */
  dockerfilePath: string;
  /** The Dockerfile text when it came on its own (stdin, or a `-f` outside the context). */
  dockerfileText?: string;
  tags: string[];
  /** `--build-arg`: a null value means "take it from the environment", which only the client can do. */
  buildArgs: Record<string, string | null>;
  target?: string;
  noCache: boolean;
  pull: boolean;
  labels: Record<string, string>;
  /** `--network`: default (the daemon's bridge), none, host, or a network name. */
  networkMode?: string;
  /** `--add-host` entries, `name:ip`. */
  extraHosts: string[];
  /** Bytes; 0 or undefined: Docker's default 64 MiB. */
  shmSize?: number;
  /** Images whose layers may serve as cache (`--cache-from`). */
  cacheFrom: string[];
  platform?: string;
  /** Remove intermediate containers after a successful step (Docker's rm=1, the default), and on failure too (forcerm). */
  rm: boolean;
  forceRm: boolean;
  /** Registry auth for FROM pulls, keyed by registry host (the X-Registry-Config header). */
  authConfigs: Record<string, unknown>;
  /** Aborted when the client goes away: the build stops and cleans up. */
  signal: AbortSignal;
  /** BERTH_TRACE_BUILD: where the phases' times go. */
  trace?: BuildTrace;
}

/** The build context as the builder reads it: unpacked only when a step needs files on disk. */
export interface BuildContextFiles {
  /** The unpacked context directory, written on the first call. */
  directory(): Promise<string>;
  /**
   * A digest of what COPY's sources name in the context (names, types, modes, owners, link targets,
   * contents), known without unpacking it; undefined when only the unpacked directory can say.
   */
  digestOf(sources: string[]): string | undefined;
}

/** A step is one instruction of one stage. */
export interface StepRef {
  /** Stable within a build: `${stageIndex}.${instructionIndex}` (FROM is instruction 0). */
  id: string;
  stage: number;
  /** The stage's name, or its index as text. */
  stageName: string;
  /** 1-based within the stage, and the stage's count (for BuildKit's `[stage 2/5]`). */
  index: number;
  count: number;
  /** 1-based over the steps this build runs, and their count (for the classic `Step 3/10`). */
  globalIndex: number;
  globalCount: number;
  /** The instruction as written (`RUN echo hi`), for the step line. */
  text: string;
}

/** What a build reports as it goes; renderers turn these into the classic stream or BuildKit-like lines. */
export type BuildEvent =
  | { type: 'step-start'; step: StepRef; time: number }
  /** FROM resolved: the base image id (the classic ` ---> <id>` after FROM). */
  | { type: 'step-image'; step: StepRef; imageId: string }
  /** A RUN step's container was made (classic ` ---> Running in <id12>`). */
  | { type: 'step-container'; step: StepRef; containerId: string }
  | { type: 'step-output'; step: StepRef; stream: 'stdout' | 'stderr'; data: Buffer }
  /** The step's result came from the cache (classic ` ---> Using cache`). */
  | { type: 'step-cached'; step: StepRef }
  /** The step's container was removed (classic ` ---> Removed intermediate container <id12>`). */
  | { type: 'step-container-removed'; step: StepRef; containerId: string }
  /** The step ended: the image id after it (classic ` ---> <id12>`), or the error that ended the build. */
  | { type: 'step-done'; step: StepRef; imageId?: string; error?: string; time: number }
  /** A FROM pulled an image: the pull's JSON progress messages, passed through. */
  | { type: 'pull-progress'; step: StepRef; message: Record<string, unknown> }
  /** A line for the user that belongs to no step (warnings, `[Warning] One or more build-args ... were not consumed`). */
  | { type: 'message'; text: string };

export interface BuildResult {
  /** `sha256:...` of the final image. */
  imageId: string;
  /** The tags applied, familiar form (`app:latest`). */
  tags: string[];
}

/** What the API and the CLI-facing parts need from the builder. */
export interface BuildBackendService {
  build(req: BuildRequest, onEvent: (e: BuildEvent) => void): Promise<BuildResult>;
  /** `docker builder prune` / POST /build/prune: what was removed and the bytes freed. */
  prune(opts: { all: boolean; filters: Record<string, string[]>; keepStorage?: number }): Promise<{ CachesDeleted: string[]; SpaceReclaimed: number }>;
  /** The build cache records for /system/df's BuildCache. */
  diskUsage(): Promise<BuildCacheRecord[]>;
}

/** /system/df's BuildCache entry (the Engine API's BuildCache object). */
export interface BuildCacheRecord {
  ID: string;
  Parents: string[] | null;
  Type: 'regular' | 'internal' | 'frontend' | 'source.local' | 'source.git.checkout' | 'exec.cachemount';
  Description: string;
  InUse: boolean;
  Shared: boolean;
  Size: number;
  CreatedAt: string;
  LastUsedAt: string | null;
  UsageCount: number;
}
