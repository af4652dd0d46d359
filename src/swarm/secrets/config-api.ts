/**
 * The /configs API on the cluster store, as dockerd (daemon/cluster/configs.go) and swarmkit's
 * controlapi/config.go answer it. Configs are not secret: their data is stored and shown as it is.
 */
import { isKind } from '../../lib/errors.js';
import { KeyedMutex } from '../../lib/mutex.js';
import type { SwarmStore } from '../contracts.js';
import type { Config } from '../types.js';
import { newSwarmId } from '../ids.js';
import { resolveIn } from '../services/service-api.js';
import { rpcError } from '../services/rpc-errors.js';
import { decodeData, inUseError, listFilter, objectView, servicesUsing, specView, validateName, validatePayload } from './common.js';
import { namedDriver, type DriverInput } from './common.js';

/** swarm.ConfigSpec as the routes decode it. */
export interface ConfigSpecInput {
  Name?: string;
  Labels?: Record<string, string>;
  Data?: string;
  Templating?: DriverInput;
}

export class ConfigApi {
  private readonly lock = new KeyedMutex();

  /** `store`: the cluster store (503s on a node that is no manager, or locked). */
  constructor(private readonly store: () => SwarmStore) {}

  async create(input: ConfigSpecInput): Promise<{ ID: string }> {
    const data = decodeData(input.Data);
    const store = this.store();
    const name = input.Name ?? '';
    validateName(name);
    validatePayload('config', data);
    return this.lock.run('configs', async () => {
      if ((await store.configs.list()).some((c) => c.Spec.Name.toLowerCase() === name.toLowerCase())) {
        throw rpcError('AlreadyExists', `config ${name} already exists`);
      }
      const config: Config = {
        ID: newSwarmId(), Version: { Index: 0 }, CreatedAt: '', UpdatedAt: '',
        // Stored in the canonical base64 Go would produce from the decoded bytes.
        Spec: { Name: name, Labels: input.Labels ?? {}, Data: data.toString('base64'), ...(input.Templating ? { Templating: namedDriver(input.Templating) } : {}) },
      };
      return { ID: (await store.configs.create(config)).ID };
    });
  }

  /** By full ID, full name, then unique ID prefix (dockerd's getConfig). */
  async resolve(ref: string): Promise<Config> {
    return resolveIn(await this.store().configs.list(), ref, 'config', (c) => c.Spec.Name);
  }

  async inspect(ref: string): Promise<Record<string, unknown>> {
    return configView(await this.resolve(ref));
  }

  async list(filtersRaw?: string | null): Promise<Array<Record<string, unknown>>> {
    const keep = listFilter('config', filtersRaw);
    const configs = (await this.store().configs.list()).filter(keep);
    return configs.sort((a, b) => (a.ID < b.ID ? -1 : 1)).map(configView);
  }

  /** Only the labels may change (swarmkit's UpdateConfig). */
  async update(ref: string, version: number, input: ConfigSpecInput): Promise<void> {
    const data = decodeData(input.Data);
    const store = this.store();
    const current = await this.resolve(ref);
    if ((input.Name ?? '') !== current.Spec.Name || (input.Data !== undefined && !data.equals(Buffer.from(current.Spec.Data ?? '', 'base64')))) {
      throw rpcError('InvalidArgument', 'only updates to Labels are allowed');
    }
    const next: Config = { ...current, Version: { Index: version }, Spec: { ...current.Spec, Labels: input.Labels ?? {} } };
    try {
      await store.configs.update(next);
    } catch (err) {
      if (isKind(err, 'Conflict')) throw rpcError('Unknown', 'update out of sequence');
      if (isKind(err, 'NotFound')) throw rpcError('NotFound', `config ${current.ID} not found`);
      throw err;
    }
  }

  /** Refused while a service references it (swarmkit's RemoveConfig). */
  async remove(ref: string): Promise<void> {
    const store = this.store();
    const config = await this.resolve(ref);
    const users = servicesUsing('config', config.ID, await store.services.list());
    if (users.length) throw inUseError('config', config.Spec.Name, users);
    try {
      await store.configs.delete(config.ID);
    } catch (err) {
      if (isKind(err, 'NotFound')) throw rpcError('NotFound', `config ${config.ID} not found`);
      throw err;
    }
  }
}

export function configView(c: Config): Record<string, unknown> {
  return objectView(c, specView(c.Spec));
}
