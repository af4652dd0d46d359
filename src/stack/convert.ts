/**
 * A compose project as the objects of a stack (docker/cli compose/convert): the overlay networks to
 * create (and the external ones to look up), the secrets and configs to create from their files (and the
 * external ones to look up), and a service spec per service, in depends_on order. Pure, apart from
 * reading the files of file-based secrets and configs through `readFile`.
 */
import { readFileSync } from 'node:fs';
import type { ComposeProject, FileObjectConfig } from '../compose/index.js';
import { parseReference } from '../images/reference.js';
import { servicesInDependencyOrder } from '../compose/index.js';
import type { ConfigSpec, SecretSpec, ServiceSpec } from '../swarm/types.js';
import { convertService, serviceNetworkKeys } from './convert-service.js';
import { StackError } from './errors.js';
import { StackNamespace } from './namespace.js';

/** What POST /networks/create gets for a stack network. */
export interface NetworkCreate {
  Name: string;
  Driver: string;
  Labels: Record<string, string>;
  Options?: Record<string, string>;
  Internal?: boolean;
  Attachable?: boolean;
  IPAM?: { Driver?: string; Config?: Array<{ Subnet: string }> };
}

export interface StackPlan {
  namespace: StackNamespace;
  /** Networks the stack makes, by name. */
  networks: NetworkCreate[];
  /** Networks declared external: they must exist, swarm-scoped. */
  externalNetworks: string[];
  secrets: SecretSpec[];
  externalSecrets: string[];
  configs: ConfigSpec[];
  externalConfigs: string[];
  /** Services in creation order: a service after those it depends on. */
  services: Array<{ key: string; spec: ServiceSpec }>;
}

export interface ConvertOptions {
  /** Reads a secret's or config's file (default: the file system). */
  readFile?: (path: string) => Buffer;
}

export function convertStack(project: ComposeProject, stack: string, opts: ConvertOptions = {}): StackPlan {
  const namespace = new StackNamespace(stack);
  const readFile = opts.readFile ?? ((p: string) => readFileSync(p));
  for (const [name, svc] of Object.entries(project.services)) {
    if (!svc.image) throw new StackError(`invalid image reference for service ${name}: no image specified`);
    try {
      parseReference(svc.image);
    } catch (err) {
      throw new StackError(`invalid image reference for service ${name}: ${(err as Error).message}`);
    }
  }
  const plan: StackPlan = { namespace, networks: [], externalNetworks: [], secrets: [], externalSecrets: [], configs: [], externalConfigs: [], services: [] };
  convertNetworks(project, namespace, plan);
  for (const [key, def] of sortedEntries(project.secrets)) {
    if (def.external) plan.externalSecrets.push(def.name ?? key);
    else plan.secrets.push(secretSpec(key, def, namespace, project, readFile));
  }
  for (const [key, def] of sortedEntries(project.configs)) {
    if (def.external) plan.externalConfigs.push(def.name ?? key);
    else plan.configs.push(configSpec(key, def, namespace, project, readFile));
  }
  for (const key of servicesInDependencyOrder(project)) {
    try {
      plan.services.push({ key, spec: convertService(namespace, project.services[key]!, project) });
    } catch (err) {
      if (err instanceof StackError && !err.message.startsWith(`service ${key}:`)) throw new StackError(`service ${key}: ${err.message}`);
      throw err;
    }
  }
  return plan;
}

function sortedEntries<T>(m: Record<string, T>): Array<[string, T]> {
  return Object.entries(m).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Only the networks some service joins, as docker's convert.Networks; `driver` defaults to overlay. */
function convertNetworks(project: ComposeProject, namespace: StackNamespace, plan: StackPlan): void {
  const used = new Set(Object.values(project.services).flatMap((s) => serviceNetworkKeys(s)));
  for (const key of [...used].sort()) {
    const def = (project.networks[key] ?? { name: namespace.scope(key) }) as Record<string, unknown> & { name: string; external?: boolean };
    if (def.external) {
      plan.externalNetworks.push(def.name ?? key);
      continue;
    }
    const create: NetworkCreate = {
      Name: def.name ?? namespace.scope(key),
      Driver: typeof def.driver === 'string' && def.driver ? def.driver : 'overlay',
      Labels: namespace.labels(def.labels as Record<string, string> | undefined),
    };
    if (def.driver_opts) create.Options = def.driver_opts as Record<string, string>;
    if (def.internal) create.Internal = true;
    if (def.attachable) create.Attachable = true;
    const ipam = def.ipam as { driver?: string; config?: Array<{ subnet?: string }> } | undefined;
    if (ipam && (ipam.driver || ipam.config?.length)) {
      create.IPAM = { ...(ipam.driver && { Driver: ipam.driver }), Config: (ipam.config ?? []).filter((c) => c.subnet).map((c) => ({ Subnet: c.subnet! })) };
    }
    plan.networks.push(create);
  }
}

/** The bytes of a file-based object: its file, an environment variable or inline content. */
function objectData(kind: string, key: string, def: FileObjectConfig, project: ComposeProject, readFile: (p: string) => Buffer): Buffer {
  if (def.file !== undefined) {
    try {
      return readFile(def.file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new StackError(`open ${def.file}: ${code === 'ENOENT' ? 'no such file or directory' : code === 'EACCES' ? 'permission denied' : (err as Error).message}`);
    }
  }
  if (def.environment !== undefined) {
    const value = project.environment[def.environment];
    if (value === undefined) throw new StackError(`environment variable ${JSON.stringify(def.environment)} for ${kind} ${JSON.stringify(key)} is not set`);
    return Buffer.from(value);
  }
  if (def.content !== undefined) return Buffer.from(def.content);
  throw new StackError(`${kind} ${JSON.stringify(key)}: file, environment or content is required`);
}

function secretSpec(key: string, def: FileObjectConfig, namespace: StackNamespace, project: ComposeProject, readFile: (p: string) => Buffer): SecretSpec {
  const spec: SecretSpec = { Name: def.name ?? namespace.scope(key), Labels: namespace.labels(def.labels as Record<string, string> | undefined) };
  const driver = def.driver as string | undefined;
  if (driver) {
    spec.Data = '';
    spec.Driver = { Name: driver, ...(def.driver_opts ? { Options: def.driver_opts as Record<string, string> } : {}) };
  } else {
    spec.Data = objectData('secret', key, def, project, readFile).toString('base64');
  }
  if (def.template_driver) spec.Templating = { Name: def.template_driver as string };
  return spec;
}

function configSpec(key: string, def: FileObjectConfig, namespace: StackNamespace, project: ComposeProject, readFile: (p: string) => Buffer): ConfigSpec {
  const spec: ConfigSpec = {
    Name: def.name ?? namespace.scope(key),
    Labels: namespace.labels(def.labels as Record<string, string> | undefined),
    Data: objectData('config', key, def, project, readFile).toString('base64'),
  };
  if (def.template_driver) spec.Templating = { Name: def.template_driver as string };
  return spec;
}
