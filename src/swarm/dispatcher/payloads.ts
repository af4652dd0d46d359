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

export interface PayloadSources {
  secrets?: Secret[];
  configs?: Config[];
  services?: Service[];
}

/** The payloads of a node's tasks; undefined when they reference none and no service has labels. */
export function taskPayloads(tasks: Task[], s: PayloadSources, open: OpenSecret): TaskPayloads | undefined {
  const live = tasks.filter(taskIsLive);
  const secretIds = new Set(live.flatMap((t) => secretRefs(t).map((r) => r.SecretID ?? '')));
  const configIds = new Set(live.flatMap((t) => configRefs(t).map((r) => r.ConfigID ?? '')));
  const serviceIds = new Set(live.map((t) => t.ServiceID));
  const byId = <T extends { ID: string }>(a: T, b: T) => (a.ID < b.ID ? -1 : a.ID > b.ID ? 1 : 0);

  const secrets: TaskPayloads['secrets'] = [];
  for (const secret of [...(s.secrets ?? [])].filter((x) => secretIds.has(x.ID)).sort(byId)) {
    const data = open(secret);
    if (data === undefined) continue; // the agent fails the task: "secret ... not found"
    secrets.push({ ID: secret.ID, Name: secret.Spec.Name, Data: data, ...(secret.Spec.Templating ? { Templating: { Name: secret.Spec.Templating.Name } } : {}) });
  }
  const configs: TaskPayloads['configs'] = [...(s.configs ?? [])]
    .filter((c) => configIds.has(c.ID))
    .sort(byId)
    .map((c) => ({ ID: c.ID, Name: c.Spec.Name, Data: c.Spec.Data ?? '', ...(c.Spec.Templating ? { Templating: { Name: c.Spec.Templating.Name } } : {}) }));
  const serviceLabels: Record<string, Record<string, string>> = {};
  for (const svc of [...(s.services ?? [])].sort(byId)) {
    if (serviceIds.has(svc.ID) && svc.Spec.Labels && Object.keys(svc.Spec.Labels).length) serviceLabels[svc.ID] = { ...svc.Spec.Labels };
  }
  if (!secrets.length && !configs.length && !Object.keys(serviceLabels).length) return undefined;
  return { secrets, configs, ...(Object.keys(serviceLabels).length ? { serviceLabels } : {}) };
}

/**
 * The part of the view signature the payloads make: a digest, so the signature (kept per subscriber)
 * holds no secret data and still changes when any of it does.
 */
export function payloadSignature(p: TaskPayloads | undefined): string {
  return p ? createHash('sha256').update(JSON.stringify(p)).digest('hex') : '';
}
