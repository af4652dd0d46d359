/** dockerd's answers about the node's swarm membership (moby daemon/cluster/errors.go, cluster.go). */
import { BerthError, conflict, unavailable } from '../../lib/errors.js';

export const NO_SWARM = 'This node is not part of a swarm';
export const SWARM_EXISTS = 'This node is already part of a swarm. Use "docker swarm leave" to leave this swarm and join another one.';
export const SWARM_LOCKED = 'Swarm is encrypted and needs to be unlocked before it can be used. Please use "docker swarm unlock" to unlock it.';
export const NOT_A_MANAGER_INACTIVE = 'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.';
export const NOT_A_MANAGER_PENDING = 'This node is not a swarm manager. Manager is being prepared or has trouble connecting to the cluster.';
export const NOT_A_MANAGER_WORKER = "This node is not a swarm manager. Worker nodes can't be used to view or modify cluster state. Please run this command on a manager node or promote the current node to a manager.";
export const INVALID_JOIN_TOKEN = 'rpc error: code = InvalidArgument desc = A valid join token is necessary to join this cluster';
export const LEAVE_LOCKED = 'Swarm is encrypted and locked. Please unlock it first or use `--force` to ignore this message.';

export const noSwarm = () => unavailable(NO_SWARM);
export const swarmExists = () => unavailable(SWARM_EXISTS);
export const swarmLocked = () => unavailable(SWARM_LOCKED);
export const notLocked = () => conflict('swarm is not locked');
export const invalidUnlockKey = () => new BerthError('Unauthorized', 'swarm could not be unlocked: invalid key provided');

/** The refusal to leave without --force on a manager (moby's Cluster.Leave). */
export function managerLeaveRefusal(reachable: number, unreachable: number): BerthError {
  let msg = 'You are attempting to leave the swarm on a node that is participating as a manager. ';
  if (reachable - 2 <= unreachable) {
    if (reachable === 1 && unreachable === 0) {
      return unavailable(msg + 'Removing the last manager erases all current state of the swarm. Use `--force` to ignore this message. ');
    }
    msg += `Removing this node leaves ${reachable - 1} managers out of ${reachable + unreachable}. Without a Raft quorum your swarm will be inaccessible. `;
  }
  msg += 'The only way to restore a swarm that has lost consensus is to reinitialize it with `--force-new-cluster`. Use `--force` to suppress this message.';
  return unavailable(msg);
}
