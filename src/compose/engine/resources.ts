/**
 * The project's networks and volumes: made when missing (with the compose labels), checked when
 * external, removed by `down`. Messages and warnings as docker compose's.
 */
import type { ComposeProject } from '../types.js';
import { ComposeError } from '../errors.js';
import { DaemonError } from '../../cli/errors.js';
import { pathName } from '../../cli/client.js';
import { LABEL } from './labels.js';
import { networkCreateRequest, volumeCreateRequest } from './create-request.js';
import type { ComposeContext } from './types.js';

interface NamedResource {
  Name: string;
  Id?: string;
  Labels?: Record<string, string> | null;
}

function isNotFound(err: unknown): boolean {
  return err instanceof DaemonError && err.status === 404;
}

async function inspectOrNull<T>(ctx: ComposeContext, path: string): Promise<T | null> {
  try {
    return await ctx.client.json<T>('GET', path);
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
}

/** The network keys the given services use (their `networks:`), in file order. */
export function usedNetworks(project: ComposeProject, services: string[]): string[] {
  const used = new Set<string>();
  for (const s of services) for (const key of Object.keys(project.services[s]?.networks ?? {})) used.add(key);
  return Object.keys(project.networks).filter((k) => used.has(k));
}

/** Creates the project's networks that do not exist; external ones must. */
export async function ensureNetworks(ctx: ComposeContext, project: ComposeProject, keys: string[] = Object.keys(project.networks)): Promise<void> {
  for (const key of keys) {
    const net = project.networks[key]!;
    const existing = await inspectOrNull<NamedResource>(ctx, `/networks/${pathName(net.name)}`);
    if (net.external) {
      if (!existing) throw new ComposeError(`network ${net.name} declared as external, but could not be found`);
      continue;
    }
    if (existing) {
      const labels = existing.Labels ?? {};
      if (labels[LABEL.project] !== project.name || labels[LABEL.network] !== key) {
        ctx.warn(`a network with name ${net.name} exists but was not created by compose.\nSet \`external: true\` to use an existing network`);
      }
      continue;
    }
    const id = `Network ${net.name}`;
    ctx.progress.event({ id, status: 'Creating' });
    try {
      await ctx.client.json('POST', '/networks/create', { json: networkCreateRequest(project, key) });
    } catch (err) {
      ctx.progress.event({ id, status: 'Error', text: errorText(err), error: true });
      throw new ComposeError(`failed to create network ${net.name}: ${errorText(err)}`);
    }
    ctx.progress.event({ id, status: 'Created', done: true });
  }
}

/** Creates the project's named volumes that do not exist; external ones must. */
export async function ensureVolumes(ctx: ComposeContext, project: ComposeProject): Promise<void> {
  for (const key of Object.keys(project.volumes)) {
    const vol = project.volumes[key]!;
    const existing = await inspectOrNull<NamedResource>(ctx, `/volumes/${pathName(vol.name)}`);
    if (vol.external) {
      if (!existing) throw new ComposeError(`external volume "${vol.name}" not found`);
      continue;
    }
    if (existing) {
      const owner = existing.Labels?.[LABEL.project];
      if (!owner) ctx.warn(`volume "${vol.name}" already exists but was not created by Docker Compose. Use \`external: true\` to use an existing volume`);
      else if (owner !== project.name)
        ctx.warn(`volume "${vol.name}" already exists but was created for project "${owner}" (expected "${project.name}"). Use \`external: true\` to use an existing volume`);
      continue;
    }
    const id = `Volume ${vol.name}`;
    ctx.progress.event({ id, status: 'Creating' });
    try {
      await ctx.client.json('POST', '/volumes/create', { json: volumeCreateRequest(project, key) });
    } catch (err) {
      ctx.progress.event({ id, status: 'Error', text: errorText(err), error: true });
      throw err;
    }
    ctx.progress.event({ id, status: 'Created', done: true });
  }
}

/** The project's networks as the daemon has them (by label), for `down`. */
export async function projectNetworks(ctx: ComposeContext, projectName: string): Promise<NamedResource[]> {
  const list = await ctx.client.json<NamedResource[]>('GET', '/networks', { query: { filters: JSON.stringify({ label: [`${LABEL.project}=${projectName}`] }) } });
  return list ?? [];
}

/** Removes a network; one still in use is left with docker compose's warning. */
export async function removeNetwork(ctx: ComposeContext, name: string): Promise<void> {
  const id = `Network ${name}`;
  ctx.progress.event({ id, status: 'Removing' });
  try {
    await ctx.client.request('DELETE', `/networks/${pathName(name)}`).then((r) => r.resume());
  } catch (err) {
    if (isNotFound(err)) {
      ctx.progress.event({ id, status: 'Warning', text: 'No resource found to remove', done: true });
      return;
    }
    if (err instanceof DaemonError && (err.status === 409 || err.status === 403 || /in use|active endpoints/i.test(err.daemonMessage))) {
      ctx.progress.event({ id, status: 'Resource is still in use', done: true });
      ctx.warn(`network ${name} is still in use and was left in place; remove it manually once no container is attached`);
      return;
    }
    ctx.progress.event({ id, status: 'Error', text: errorText(err), error: true });
    throw new ComposeError(`failed to remove network ${name}: ${errorText(err)}`);
  }
  ctx.progress.event({ id, status: 'Removed', done: true });
}

/** The project's named volumes as the daemon has them (by label), for `down -v`. */
export async function projectVolumes(ctx: ComposeContext, projectName: string): Promise<NamedResource[]> {
  const res = await ctx.client.json<{ Volumes: NamedResource[] | null }>('GET', '/volumes', { query: { filters: JSON.stringify({ label: [`${LABEL.project}=${projectName}`] }) } });
  return res?.Volumes ?? [];
}

export async function removeVolume(ctx: ComposeContext, name: string): Promise<void> {
  const id = `Volume ${name}`;
  ctx.progress.event({ id, status: 'Removing' });
  try {
    await ctx.client.request('DELETE', `/volumes/${pathName(name)}`).then((r) => r.resume());
  } catch (err) {
    if (isNotFound(err)) {
      ctx.progress.event({ id, status: 'Warning: No resource found to remove', done: true });
      return;
    }
    if (err instanceof DaemonError && err.status === 409) {
      ctx.progress.event({ id, status: 'Resource is still in use', done: true });
      return;
    }
    ctx.progress.event({ id, status: 'Error', text: errorText(err), error: true });
    throw err;
  }
  ctx.progress.event({ id, status: 'Removed', done: true });
}

/** A daemon error's own message (without docker's "Error response from daemon: "). */
export function errorText(err: unknown): string {
  if (err instanceof DaemonError) return err.daemonMessage;
  return err instanceof Error ? err.message : String(err);
}
