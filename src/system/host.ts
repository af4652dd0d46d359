import os from 'node:os';
import { readFileSync } from 'node:fs';
import { hostCgroupVersion } from '../runtime/cgroups.js';

/** Facts about the host that /info and /version report; read once, they do not change while we run. */
export interface HostFacts {
  kernelVersion: string;
  operatingSystem: string;
  osVersion: string;
  architecture: string;
  ncpu: number;
  memTotal: number;
  hostname: string;
  cgroupVersion: '1' | '2';
}

export function readHostFacts(): HostFacts {
  const osRelease = parseOsRelease();
  return {
    kernelVersion: os.release(),
    operatingSystem: osRelease.PRETTY_NAME ?? 'Linux',
    osVersion: osRelease.VERSION_ID ?? '',
    architecture: os.machine(),
    ncpu: os.cpus().length,
    memTotal: os.totalmem(),
    hostname: os.hostname(),
    cgroupVersion: hostCgroupVersion() === 2 ? '2' : '1',
  };
}

function parseOsRelease(): Record<string, string> {
  try {
    const out: Record<string, string> = {};
    for (const line of readFileSync('/etc/os-release', 'utf8').split('\n')) {
      const m = /^([A-Z_]+)=(.*)$/.exec(line);
      if (m) out[m[1]!] = m[2]!.replace(/^"(.*)"$/, '$1');
    }
    return out;
  } catch {
    return {}; // no /etc/os-release: unknown OS
  }
}

/** Go's GOARCH name for the machine, as image configs and /version use it. */
export function goArch(machine = os.machine()): string {
  return ({ x86_64: 'amd64', aarch64: 'arm64', armv7l: 'arm', i686: '386', ppc64le: 'ppc64le', s390x: 's390x' } as Record<string, string>)[machine] ?? machine;
}
