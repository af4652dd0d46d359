/**
 * The secrets and configs a node's tasks reference, with their data in clear, for the node's view
 * (issue 16). Only live tasks count (not yet past running, as swarmkit's dispatcher releases a task's
 * dependencies once it ended), and only what they name: a node never learns other tasks' secrets.
 */
import { createHash } from 'node:crypto';
import type { TaskPayloads } from '../contracts.js';
import type { Config, Secret, Service, Task } from '../types.js';
import { TASK_STATE_ORDER, configRefs, secretRefs } from '../types.js';

const RUNNING = TASK_STATE_ORDER.indexOf('running');

/** Opens a stored secret's sealed data (base64 in clear), or undefined when it cannot be opened. */
export type OpenSecret = (secret: Secret) => string | undefined;

/** Whether the task still needs its dependencies: it has not ended. */
export function taskIsLive(t: Task): boolean {
  return TASK_STATE_ORDER.indexOf(t.Status.State) <= RUNNING;
}

/** The objects payloads are made from, by ID (made once per snapshot: views are computed per node). */
export interface PayloadSources {
  secrets: Map<string, Secret>;
  configs: Map<string, Config>;
  services: Map<string, Service>;
}

export function payloadSources(s: { secrets?: Secret[]; configs?: Config[]; services?: Service[] }): PayloadSources {
  const byId = <T extends { ID: string }>(list: T[] = []) => new Map(list.map((o) => [o.ID, o]));
  return { secrets: byId(s.secrets), configs: byId(s.configs), services: byId(s.services) };
}

/** Sorted, without duplicates or empty IDs. */
const idSet = (ids: Array<string | undefined>): string[] => [...new Set(ids.filter((x): x is string => Boolean(x)))].sort();

/** The payloads of a node's tasks; undefined when they reference none and no service of theirs has labels. */
export function taskPayloads(tasks: Task[], s: PayloadSources, open: OpenSecret): TaskPayloads | undefined {
  const live = tasks.filter(taskIsLive);
  if (!live.length) return undefined;
  const secrets: TaskPayloads['secrets'] = [];
  for (const id of idSet(live.flatMap((t) => secretRefs(t).map((r) => r.SecretID)))) {
    const secret = s.secrets.get(id);
    const data = secret && open(secret);
    if (!secret || data === undefined) continue; // the agent fails the task: "secret ... not found"
    secrets.push({ ID: secret.ID, Name: secret.Spec.Name, Data: data, ...(secret.Spec.Templating ? { Templating: { Name: secret.Spec.Templating.Name } } : {}) });
  }
  const configs: TaskPayloads['configs'] = [];
  for (const id of idSet(live.flatMap((t) => configRefs(t).map((r) => r.ConfigID)))) {
    const c = s.configs.get(id);
    if (c) configs.push({ ID: c.ID, Name: c.Spec.Name, Data: c.Spec.Data ?? '', ...(c.Spec.Templating ? { Templating: { Name: c.Spec.Templating.Name } } : {}) });
  }
  const serviceLabels: Record<string, Record<string, string>> = {};
  for (const id of idSet(live.map((t) => t.ServiceID))) {
    const labels = s.services.get(id)?.Spec.Labels;
    if (labels && Object.keys(labels).length) serviceLabels[id] = { ...labels };
  }
  const hasLabels = Object.keys(serviceLabels).length > 0;
  if (!secrets.length && !configs.length && !hasLabels) return undefined;
  return { secrets, configs, ...(hasLabels ? { serviceLabels } : {}) };
}

/**
 * The part of the view signature the payloads make: a digest, so the signature (kept per subscriber)
 * holds no secret data and still changes when any of it does.
 */
export function payloadSignature(p: TaskPayloads | undefined): string {
  return p ? createHash('sha256').update(JSON.stringify(p)).digest('hex') : '';
}
