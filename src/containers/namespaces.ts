/**
 * Namespaces a container shares with another one or with the host at start: `--ipc container:X`
 * (X's IPC namespace and /dev/shm; X must be running and shareable), `--ipc host` (the host's /dev/shm),
 * `--pid container:X`, and, under --userns-remap, the user namespace of the container whose namespaces
 * are joined (only a user namespace that owns a namespace may mount its /proc, mqueue or sysfs).
 *
 * Lifecycle: a pure lookup at each start; the network namespace of `--network container:X` is found by
 * the service itself.
 */
import { existsSync } from 'node:fs';
import type { Container } from './model.js';
import { conflict, invalidArgument } from '../lib/errors.js';

export interface SharedNamespaces {
  ipcnsPath?: string;
  pidnsPath?: string;
  shmPath?: string;
  usernsPath?: string;
}

const containerOf = (mode: string | undefined): string | undefined => (mode?.startsWith('container:') ? mode.slice('container:'.length) : undefined);

/**
 * Paths of the namespaces `c` joins. `resolve` finds a container by reference (throws NotFound);
 * `shmPathOf` is where a shareable container's /dev/shm lives on the host.
 */
export function sharedNamespaces(
  c: Container,
  resolve: (ref: string) => Container,
  shmPathOf: (id: string) => string,
  usernsRemap: boolean,
): SharedNamespaces {
  const out: SharedNamespaces = {};
  const hc = c.hostConfig;
  const running = (ref: string): Container => {
    const other = resolve(ref);
    if (!other.state.Running || other.state.Restarting || !other.state.Pid) throw conflict(`container ${other.id} is not running`);
    return other;
  };
  const joined: Container[] = [];

  const ipcRef = containerOf(hc.IpcMode);
  if (ipcRef !== undefined) {
    const other = running(ipcRef);
    const mode = other.hostConfig.IpcMode ?? '';
    if (mode === 'host') out.shmPath = '/dev/shm';
    else if (mode === 'shareable' && existsSync(shmPathOf(other.id))) out.shmPath = shmPathOf(other.id);
    else throw invalidArgument(`container ${ipcRef}: non-shareable IPC (hint: use IpcMode:shareable for the donor container)`);
    out.ipcnsPath = `/proc/${other.state.Pid}/ns/ipc`;
    joined.push(other);
  } else if (hc.IpcMode === 'host') {
    if (existsSync('/dev/shm')) out.shmPath = '/dev/shm';
  }

  const pidRef = containerOf(hc.PidMode);
  if (pidRef !== undefined) {
    const other = running(pidRef);
    out.pidnsPath = `/proc/${other.state.Pid}/ns/pid`;
    joined.push(other);
  }

  const netRef = containerOf(hc.NetworkMode);
  if (netRef !== undefined) {
    const other = resolve(netRef);
    if (other.state.Running && other.state.Pid) joined.push(other);
  }

  const privateUserns = typeof hc.UsernsMode !== 'string' || hc.UsernsMode === '';
  if (usernsRemap && privateUserns) {
    const owner = joined.find((o) => typeof o.hostConfig.UsernsMode !== 'string' || o.hostConfig.UsernsMode === '');
    if (owner) out.usernsPath = `/proc/${owner.state.Pid}/ns/user`;
  }
  return out;
}
