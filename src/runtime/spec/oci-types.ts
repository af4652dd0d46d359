/**
 * OCI runtime spec types: the subset of runc's config.json that Berth writes (runtime-spec 1.0.2).
 *
 * Lifecycle: types only.
 */
import type { IdMapping } from '../security.js';
import type { OciSeccomp } from '../seccomp.js';

export interface OciMount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}

export interface OciRlimit {
  type: string;
  /** bigint only for RLIM_INFINITY (2^64-1); write the spec with serializeSpec. */
  hard: number | bigint;
  soft: number | bigint;
}

export interface OciDeviceCgroup {
  allow: boolean;
  type?: string;
  major?: number;
  minor?: number;
  access?: string;
}

export interface OciDevice {
  type: string;
  path: string;
  major: number;
  minor: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
}

export interface OciThrottleDevice {
  major: number;
  minor: number;
  rate: number;
}

export interface OciSpec {
  ociVersion: string;
  process: {
    terminal?: boolean;
    consoleSize?: { height: number; width: number };
    user: { uid: number; gid: number; additionalGids?: number[] };
    args: string[];
    env: string[];
    cwd: string;
    capabilities?: { bounding?: string[]; effective?: string[]; inheritable?: string[]; permitted?: string[]; ambient?: string[] };
    rlimits?: OciRlimit[];
    noNewPrivileges?: boolean;
    oomScoreAdj?: number;
    apparmorProfile?: string;
    selinuxLabel?: string;
  };
  root: { path: string; readonly?: boolean };
  hostname?: string;
  mounts: OciMount[];
  annotations?: Record<string, string>;
  linux: {
    resources: {
      devices: OciDeviceCgroup[];
      memory?: {
        limit?: number;
        reservation?: number;
        swap?: number;
        swappiness?: number;
        disableOOMKiller?: boolean;
      };
      cpu?: {
        shares?: number;
        quota?: number;
        period?: number;
        realtimeRuntime?: number;
        realtimePeriod?: number;
        cpus?: string;
        mems?: string;
      };
      pids?: { limit: number };
      blockIO?: {
        weight?: number;
        weightDevice?: Array<{ major: number; minor: number; weight?: number }>;
        throttleReadBpsDevice?: OciThrottleDevice[];
        throttleWriteBpsDevice?: OciThrottleDevice[];
        throttleReadIOPSDevice?: OciThrottleDevice[];
        throttleWriteIOPSDevice?: OciThrottleDevice[];
      };
    };
    cgroupsPath: string;
    sysctl?: Record<string, string>;
    namespaces: Array<{ type: string; path?: string }>;
    devices?: OciDevice[];
    maskedPaths?: string[];
    readonlyPaths?: string[];
    seccomp?: OciSeccomp;
    uidMappings?: IdMapping[];
    gidMappings?: IdMapping[];
  };
}
