/** Which nodes a global service (or global job) runs on: not down, not drained, constraints satisfied. */
import type { Service, SwarmNode } from '../types.js';
import { nodeMatches, tryParseConstraints } from './constraints.js';
import type { PassContext } from './pass-context.js';

export function eligibleNodes(pc: PassContext, service: Service): Map<string, SwarmNode> {
  const constraints = tryParseConstraints(service.Spec.TaskTemplate.Placement?.Constraints);
  const out = new Map<string, SwarmNode>();
  if (!constraints) return out;
  for (const node of pc.nodes()) {
    if (pc.liveness(node.ID) === 'down' || node.Spec.Availability === 'drain') continue;
    if (!nodeMatches(constraints, node)) continue;
    out.set(node.ID, node);
  }
  return out;
}
