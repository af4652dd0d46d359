/**
 * Which files a task's secrets and configs become, and where they are mounted in its container
 * (dockerd's setupSecretDir and SecretMounts/ConfigMounts; swarmkit's template package for templated
 * payloads). Pure: the data comes from the node's view (NodeView.payloads), the files are written by
 * TaskFileStore (task-files.ts) on a tmpfs of the task's own.
 */
import path from 'node:path';
import type { TaskPayloads } from '../contracts.js';
import { configRefs, secretRefs, type FileTarget, type Mount, type Task } from '../types.js';
import { parseTemplate } from '../../cli/template/index.js';
import type { NodeInfo } from './deps.js';
import { swarmTemplateError, templateContext } from './spec.js';

/** Where relative secret targets go (dockerd's containerSecretMountPath). */
export const SECRETS_MOUNT_PATH = '/run/secrets';
/** Where relative config targets go (containerConfigMountPath on Linux). */
export const CONFIGS_MOUNT_PATH = '/';
const DEFAULT_MODE = 0o444;

/** One file of a task's secret directory. */
export interface TaskFile {
  /** The file's name in the task's directory (unique per reference: two targets of one secret may differ in mode). */
  name: string;
  data: Buffer;
  uid: number;
  gid: number;
  mode: number;
  /** The absolute path in the container. */
  target: string;
}

/** A failure that ends the task, in dockerd's and swarmkit's words. */
export class TaskFilesError extends Error {}

export function hasTaskFiles(task: Task): boolean {
  return secretRefs(task).some((r) => r.File) || configRefs(task).some((r) => r.File);
}

/** swarmkit's PayloadContext: the template context plus secret, config and env lookups restricted to the task. */
export function renderPayload(text: string, task: Task, node: NodeInfo, payloads: TaskPayloads | undefined): string {
  const spec = task.Spec.ContainerSpec;
  const lookup = (kind: 'secret' | 'config', target: unknown): string => {
    const refs = kind === 'secret' ? secretRefs(task) : configRefs(task);
    for (const ref of refs) {
      if (!ref.File || ref.File.Name !== target) continue;
      const id = kind === 'secret' ? (ref as { SecretID?: string }).SecretID : (ref as { ConfigID?: string }).ConfigID;
      const found = (kind === 'secret' ? payloads?.secrets : payloads?.configs)?.find((p) => p.ID === id);
      if (!found) throw new Error(`${kind} ${id ?? ''} not found`);
      // The referenced payload as stored: templates are not expanded inside templates.
      return Buffer.from(found.Data, 'base64').toString('utf8');
    }
    throw new Error(`${kind} target ${String(target)} not found`);
  };
  const funcs = {
    secret: (target: unknown) => lookup('secret', target),
    config: (target: unknown) => lookup('config', target),
    env: (name: unknown) => {
      for (const e of spec?.Env ?? []) {
        const i = e.indexOf('=');
        if (i > 0 && e.slice(0, i) === name) return e.slice(i + 1);
      }
      return '';
    },
    // swarmkit's only extra function: join(sep, items...).
    join: (sep: unknown, ...items: unknown[]) => items.map(String).join(String(sep)),
  };
  return parseTemplate(text, funcs).execute(templateContext(task, node, payloads?.serviceLabels?.[task.ServiceID]));
}

/** The data of one payload for this task: rendered when it is a Go template, as stored otherwise. */
function payloadData(kind: 'secret' | 'config', p: { ID: string; Data: string; Templating?: { Name: string } }, task: Task, node: NodeInfo, payloads: TaskPayloads | undefined): Buffer {
  const raw = Buffer.from(p.Data, 'base64');
  if (!p.Templating) return raw;
  if (p.Templating.Name !== 'golang') throw new TaskFilesError(`failed to expand templated ${kind} ${p.ID}: unrecognized template type`);
  try {
    return Buffer.from(renderPayload(raw.toString('utf8'), task, node, payloads), 'utf8');
  } catch (err) {
    throw new TaskFilesError(`failed to expand templated ${kind} ${p.ID}: ${swarmTemplateError(err)}`);
  }
}

function ids(file: FileTarget, kind: 'secret' | 'config'): { uid: number; gid: number; mode: number } {
  const num = (v: string | undefined, what: string): number => {
    const text = v === undefined || v === '' ? '0' : v;
    if (!/^\d+$/.test(text)) throw new TaskFilesError(`strconv.Atoi: parsing "${text}": invalid syntax (${kind} ${what})`);
    return Number(text);
  };
  return { uid: num(file.UID, 'uid'), gid: num(file.GID, 'gid'), mode: (file.Mode ?? DEFAULT_MODE) & 0o7777 };
}

/** The files of a task's secrets and configs; throws TaskFilesError when one is missing or does not render. */
export function planTaskFiles(task: Task, node: NodeInfo, payloads: TaskPayloads | undefined): TaskFile[] {
  const files: TaskFile[] = [];
  secretRefs(task).forEach((ref, i) => {
    // Only file targets exist for secrets; dockerd skips anything else.
    if (!ref.File) return;
    const p = payloads?.secrets.find((s) => s.ID === ref.SecretID);
    if (!p) throw new TaskFilesError(`unable to get secret from secret store: secret ${ref.SecretID ?? ''} not found`);
    const name = ref.File.Name || p.Name;
    files.push({
      name: `secret-${i}-${p.ID}`,
      data: payloadData('secret', p, task, node, payloads),
      ...ids(ref.File, 'secret'),
      target: path.posix.isAbsolute(name) ? name : path.posix.join(SECRETS_MOUNT_PATH, name),
    });
  });
  configRefs(task).forEach((ref, i) => {
    // Runtime configs (credential specs) are not files.
    if (!ref.File) return;
    const p = payloads?.configs.find((c) => c.ID === ref.ConfigID);
    if (!p) throw new TaskFilesError(`unable to get config from config store: config ${ref.ConfigID ?? ''} not found`);
    const name = ref.File.Name || p.Name;
    files.push({
      name: `config-${i}-${p.ID}`,
      data: payloadData('config', p, task, node, payloads),
      ...ids(ref.File, 'config'),
      target: path.posix.isAbsolute(name) ? name : path.posix.join(CONFIGS_MOUNT_PATH, name),
    });
  });
  return files;
}

/** The read-only bind mounts of the task's files from its directory on the node. */
export function taskFileMounts(files: TaskFile[], dir: string): Mount[] {
  return files.map((f) => ({ Type: 'bind', Source: path.join(dir, f.name), Target: f.target, ReadOnly: true }));
}
