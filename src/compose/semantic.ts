/**
 * Checks the schema cannot make: references to services, networks, volumes, secrets and configs that
 * are not defined, and dependency cycles. Wording as docker compose's.
 */
import { ComposeError } from './errors.js';
import type { ServiceConfig } from './types.js';

interface Defined {
  services: Record<string, ServiceConfig>;
  networks: Record<string, unknown>;
  volumes: Record<string, unknown>;
  secrets: Record<string, unknown>;
  configs: Record<string, unknown>;
}

const invalid = (message: string) => new ComposeError(`${message}: invalid compose project`);

export function checkReferences(project: Defined): void {
  for (const [name, svc] of Object.entries(project.services)) {
    for (const dep of Object.keys(svc.depends_on)) {
      if (!project.services[dep]) throw invalid(`service "${name}" depends on undefined service "${dep}"`);
    }
    for (const link of svc.links ?? []) {
      const target = link.split(':')[0];
      if (!project.services[target]) throw invalid(`service "${name}" links to undefined service "${target}"`);
    }
    for (const key of ['network_mode', 'ipc', 'pid'] as const) {
      const mode = svc[key];
      if (typeof mode === 'string' && mode.startsWith('service:') && !project.services[mode.slice(8)]) {
        throw invalid(`service "${name}" depends on undefined service "${mode.slice(8)}"`);
      }
    }
    for (const from of (svc.volumes_from as string[] | undefined) ?? []) {
      const target = from.split(':')[0];
      if (!target.startsWith('container') && !project.services[target]) throw invalid(`service "${name}" depends on undefined service "${target}"`);
    }
    for (const net of Object.keys(svc.networks)) {
      if (!(net in project.networks)) throw invalid(`service "${name}" refers to undefined network ${net}`);
    }
    for (const mount of svc.volumes) {
      if (mount.type === 'volume' && mount.source && !(mount.source in project.volumes)) {
        throw invalid(`service "${name}" refers to undefined volume ${mount.source}`);
      }
    }
    for (const kind of ['secrets', 'configs'] as const) {
      for (const ref of svc[kind] ?? []) {
        if (!(ref.source in project[kind])) throw invalid(`service "${name}" refers to undefined ${kind.slice(0, -1)} ${ref.source}`);
      }
    }
  }
  checkCycles(project.services);
}

/** Depth-first search over depends_on, links and service: modes; the first cycle found is reported. */
export function checkCycles(services: Record<string, ServiceConfig>): void {
  const state = new Map<string, 'visiting' | 'done'>();
  const edges = (svc: ServiceConfig): string[] => {
    const out = Object.keys(svc.depends_on);
    for (const link of svc.links ?? []) out.push(link.split(':')[0]);
    for (const key of ['network_mode', 'ipc', 'pid']) {
      const mode = svc[key];
      if (typeof mode === 'string' && mode.startsWith('service:')) out.push(mode.slice(8));
    }
    return out.filter((n) => services[n]);
  };
  const visit = (name: string, stack: string[]) => {
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') {
      const cycle = [...stack.slice(stack.indexOf(name)), name];
      throw new ComposeError(`dependency cycle detected: ${cycle.join(' -> ')}`);
    }
    state.set(name, 'visiting');
    for (const dep of edges(services[name])) visit(dep, [...stack, name]);
    state.set(name, 'done');
  };
  for (const name of Object.keys(services).sort()) visit(name, []);
}
