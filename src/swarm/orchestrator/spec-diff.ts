/** Whether a task was made from the service's current spec (swarmkit's IsTaskDirty), which rolling updates act on. */
import type { PortConfig, Service, SwarmNode, Task } from '../types.js';
import { nodeMatches, tryParseConstraints } from './constraints.js';
import { jsonEqual } from './task-model.js';

const portKey = (p: PortConfig, withPublished: boolean) =>
  `${p.Protocol ?? 'tcp'}/${p.TargetPort ?? 0}/${p.PublishMode ?? 'ingress'}/${withPublished ? p.PublishedPort ?? 0 : ''}`;

function endpointChanged(service: Service, task: Task): boolean {
  const mode = service.Spec.EndpointSpec?.Mode ?? 'vip';
  if ((task.BerthService?.EndpointMode ?? 'vip') !== mode) return true;
  const want = service.Spec.EndpointSpec?.Ports ?? [];
  const have = [...(task.BerthService?.Ports ?? [])];
  if (want.length !== have.length) return true;
  // Order aside; a published port the spec leaves at 0 is chosen by the allocator: any value is fine.
  for (const p of want) {
    const i = have.findIndex((h) => portKey(h, !!p.PublishedPort) === portKey(p, !!p.PublishedPort));
    if (i < 0) return true;
    have.splice(i, 1);
  }
  return false;
}

export function isTaskDirty(service: Service, task: Task, node?: SwarmNode): boolean {
  if (task.BerthSpecVersion !== undefined && task.BerthSpecVersion === service.Version.Index) return false;
  if (endpointChanged(service, task)) return true;
  const template = service.Spec.TaskTemplate;
  if (jsonEqual(template, task.Spec)) return false;
  // Only the placement changed and the task's node still satisfies it: leave it running.
  if (node && jsonEqual({ ...template, Placement: task.Spec.Placement }, task.Spec)) {
    const constraints = tryParseConstraints(template.Placement?.Constraints);
    if (constraints && nodeMatches(constraints, node)) return false;
  }
  return true;
}
