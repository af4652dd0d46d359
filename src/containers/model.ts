import type { ContainerConfig, HostConfig } from '../runtime/spec/index.js';
import type { MountPoint } from './mounts.js';
import type { Health } from './health.js';

export type ContainerStatus = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

/** The State object of container inspect, with Docker's field names. */
export interface ContainerState {
  Status: ContainerStatus;
  Running: boolean;
  Paused: boolean;
  Restarting: boolean;
  OOMKilled: boolean;
  Dead: boolean;
  Pid: number;
  ExitCode: number;
  Error: string;
  StartedAt: string;
  FinishedAt: string;
  /** Only when a healthcheck is configured (health.ts); kept after the container stops, as dockerd. */
  Health?: Health;
}

/** What Berth records about a container; persisted as JSON in the containers table. */
export interface Container {
  id: string;
  name: string;
  created: string;
  /** The image as the user named it, and the id it resolved to. */
  image: string;
  imageId: string;
  config: ContainerConfig;
  hostConfig: HostConfig;
  state: ContainerState;
  restartCount: number;
  /** Chain id of the image's top layer, kept so the rootfs outlives a forced image removal. */
  topChainId: string | null;
  /** Whether the user stopped it (for restart policies later). */
  stoppedByUser: boolean;
  /** Set by the runtime while it runs. */
  conmonPid?: number;
  /** Legacy links to other containers, by their id so a rename keeps them (networks/links.ts). */
  links?: Array<{ childId: string; alias: string }>;
  /** Binds, volumes and tmpfs mounts, resolved at create (containers/mounts.ts). */
  mountPoints?: MountPoint[];
}

export const ZERO_TIME = '0001-01-01T00:00:00Z';

export function initialState(): ContainerState {
  return {
    Status: 'created',
    Running: false,
    Paused: false,
    Restarting: false,
    OOMKilled: false,
    Dead: false,
    Pid: 0,
    ExitCode: 0,
    Error: '',
    StartedAt: ZERO_TIME,
    FinishedAt: ZERO_TIME,
  };
}
