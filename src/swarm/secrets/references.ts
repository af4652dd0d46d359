/**
 * A service spec's secret and config references must name objects that exist under that very name,
 * as swarmkit's controlapi checks on service create and update (checkSecretExistence,
 * checkConfigExistence). Their shape (IDs, names, targets) is validated with the rest of the spec
 * (services/spec.ts).
 */
import type { SwarmStore } from '../contracts.js';
import type { ServiceSpec } from '../types.js';
import { rpcError } from '../services/rpc-errors.js';

type Reference = Partial<Record<'SecretID' | 'SecretName' | 'ConfigID' | 'ConfigName', string>>;

const asRefs = (v: unknown): Reference[] => (Array.isArray(v) ? v.map((r) => (r && typeof r === 'object' ? r : {}) as Reference) : []);

/** What the ServiceApi is given (services/service-api.ts ServiceApiDeps.references). */
export class ServiceReferenceCheck {
  constructor(private readonly store: () => SwarmStore) {}

  async check(spec: ServiceSpec): Promise<void> {
    const container = spec.TaskTemplate?.ContainerSpec;
    if (!container) return;
    const secrets = asRefs(container.Secrets);
    if (secrets.length) {
      const known = new Map((await this.store().secrets.list()).map((s) => [s.ID, s.Spec.Name]));
      missing('secret', secrets.filter((r) => known.get(r.SecretID ?? '') !== r.SecretName).map((r) => r.SecretName ?? ''));
    }
    const configs = asRefs(container.Configs);
    if (configs.length) {
      const known = new Map((await this.store().configs.list()).map((c) => [c.ID, c.Spec.Name]));
      missing('config', configs.filter((r) => known.get(r.ConfigID ?? '') !== r.ConfigName).map((r) => r.ConfigName ?? ''));
    }
  }
}

function missing(kind: 'secret' | 'config', names: string[]): void {
  if (!names.length) return;
  throw rpcError('InvalidArgument', `${kind}${names.length === 1 ? '' : 's'} not found: ${names.join(', ')}`);
}
