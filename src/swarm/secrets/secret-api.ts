/**
 * The /secrets API on the cluster store, as dockerd (daemon/cluster/secrets.go) and swarmkit's
 * controlapi/secret.go answer it. The data is sealed with the cluster's secrets key before it is
 * stored (Secret.BerthSealed) and is never stored clear nor shown: inspect and list leave it out.
 */
import { timingSafeEqual } from 'node:crypto';
import { isKind } from '../../lib/errors.js';
import { KeyedMutex } from '../../lib/mutex.js';
import type { SecretSealer, SwarmStore } from '../contracts.js';
import type { Secret } from '../types.js';
import { newSwarmId } from '../ids.js';
import { resolveIn } from '../services/service-api.js';
import { rpcError } from '../services/rpc-errors.js';
import { decodeData, inUseError, listFilter, objectView, servicesUsing, specView, validateName, validatePayload } from './common.js';
import { namedDriver, type DriverInput } from './common.js';

/** swarm.SecretSpec as the routes decode it. */
export interface SecretSpecInput {
  Name?: string;
  Labels?: Record<string, string>;
  Data?: string;
  Driver?: DriverInput;
  Templating?: DriverInput;
}

export interface SecretApiDeps {
  /** The cluster store (503s on a node that is no manager, or locked). */
  store: () => SwarmStore;
  /** The cluster's sealer (503 when this manager does not hold the secrets key). */
  sealer: () => SecretSealer;
}

export class SecretApi {
  /** Creates run one at a time in this process, so the name check holds. */
  private readonly lock = new KeyedMutex();

  constructor(private readonly deps: SecretApiDeps) {}

  async create(input: SecretSpecInput): Promise<{ ID: string }> {
    const data = decodeData(input.Data);
    const store = this.deps.store();
    const name = input.Name ?? '';
    validateName(name);
    if (input.Driver) {
      if (!input.Driver.Name) throw rpcError('InvalidArgument', 'secret driver must have a name');
      // Secret provider plugins are not supported: dockerd's plugin lookup finds none.
      throw rpcError('Unknown', `plugin ${JSON.stringify(input.Driver.Name)} not found`);
    }
    validatePayload('secret', data);
    const sealed = this.deps.sealer().seal(data);
    data.fill(0);
    return this.lock.run('secrets', async () => {
      // swarmkit indexes names in lower case.
      if ((await store.secrets.list()).some((s) => s.Spec.Name.toLowerCase() === name.toLowerCase())) {
        throw rpcError('AlreadyExists', `secret ${name} already exists`);
      }
      const secret: Secret = {
        ID: newSwarmId(), Version: { Index: 0 }, CreatedAt: '', UpdatedAt: '',
        Spec: { Name: name, Labels: input.Labels ?? {}, ...(input.Templating ? { Templating: namedDriver(input.Templating) } : {}) },
        BerthSealed: sealed,
      };
      return { ID: (await store.secrets.create(secret)).ID };
    });
  }

  /** By full ID, full name, then unique ID prefix (dockerd's getSecret). */
  async resolve(ref: string): Promise<Secret> {
    return resolveIn(await this.deps.store().secrets.list(), ref, 'secret', (s) => s.Spec.Name);
  }

  async inspect(ref: string): Promise<Record<string, unknown>> {
    return secretView(await this.resolve(ref));
  }

  async list(filtersRaw?: string | null): Promise<Array<Record<string, unknown>>> {
    const keep = listFilter('secret', filtersRaw);
    const secrets = (await this.deps.store().secrets.list()).filter(keep);
    return secrets.sort((a, b) => (a.ID < b.ID ? -1 : 1)).map(secretView);
  }

  /** Only the labels may change (swarmkit's UpdateSecret). */
  async update(ref: string, version: number, input: SecretSpecInput): Promise<void> {
    const data = decodeData(input.Data);
    const store = this.deps.store();
    const current = await this.resolve(ref);
    if ((input.Name ?? '') !== current.Spec.Name || (input.Data !== undefined && !sameData(this.deps.sealer(), current, data))) {
      throw rpcError('InvalidArgument', 'only updates to Labels are allowed');
    }
    const next: Secret = { ...current, Version: { Index: version }, Spec: { ...current.Spec, Labels: input.Labels ?? {} } };
    try {
      await store.secrets.update(next);
    } catch (err) {
      if (isKind(err, 'Conflict')) throw rpcError('Unknown', 'update out of sequence');
      if (isKind(err, 'NotFound')) throw rpcError('NotFound', `secret ${current.ID} not found`);
      throw err;
    }
  }

  /** Refused while a service references it (swarmkit's RemoveSecret). */
  async remove(ref: string): Promise<void> {
    const store = this.deps.store();
    const secret = await this.resolve(ref);
    const users = servicesUsing('secret', secret.ID, await store.services.list());
    if (users.length) throw inUseError('secret', secret.Spec.Name, users);
    try {
      await store.secrets.delete(secret.ID);
    } catch (err) {
      if (isKind(err, 'NotFound')) throw rpcError('NotFound', `secret ${secret.ID} not found`);
      throw err;
    }
  }
}

function sameData(sealer: SecretSealer, s: Secret, data: Buffer): boolean {
  if (!s.BerthSealed) return data.length === 0;
  const stored = sealer.open(s.BerthSealed);
  return stored.length === data.length && timingSafeEqual(stored, data);
}

/** What the API shows: never the data, never the sealed form. */
export function secretView(s: Secret): Record<string, unknown> {
  const { Data: _never, ...spec } = s.Spec;
  return objectView(s, specView(spec));
}
