/**
 * `stack deploy`: the plan src/stack/ made from the compose files, applied through the Engine API as
 * the docker CLI's deploy_composefile.go applies it (networks, secrets, configs, then services), with
 * three differences. Everything that can be checked first is checked before anything is made (external
 * networks, secrets and configs, names other objects hold), and what this run made is removed again if a
 * later step fails, so bad input leaves nothing half-deployed. Services are made in depends_on order.
 * A service whose converted spec equals the stored one is left alone, so its tasks keep running.
 */
import type { Cli } from '../../streams.js';
import { PROGRAM } from '../../args.js';
import { CliError, DaemonError } from '../../errors.js';
import { pathName } from '../../client.js';
import { filtersParam } from '../common.js';
import { parseNormalizedNamed, familiarName } from '../../reference.js';
import { registryAuthHeader } from '../registry-auth.js';
import { LABEL_IMAGE, LABEL_NAMESPACE, sameServiceSpec, type StackPlan } from '../../../stack/index.js';
import type { FileReference } from '../../../stack/index.js';
import type { Config, Secret, Service, ServiceSpec } from '../../../swarm/types.js';

export type ResolveImage = 'always' | 'changed' | 'never';

export interface DeployOptions {
  prune: boolean;
  withRegistryAuth: boolean;
  resolveImage: ResolveImage;
}

interface NetworkSummary {
  Id: string;
  Name: string;
  Scope: string;
  Labels?: Record<string, string>;
}

/** What this run made, to take back if a later step fails. */
interface Made {
  services: string[];
  configs: string[];
  secrets: string[];
  networks: string[];
}

export const stackFilter = (stack: string) => filtersParam([], [['label', `${LABEL_NAMESPACE}=${stack}`]]);

const PREDEFINED = new Set(['bridge', 'host', 'none', 'default']);

/** docker's checkDaemonIsSwarmManager. */
export async function requireManager(cli: Cli): Promise<void> {
  const info = await cli.client().json<{ Swarm?: { ControlAvailable?: boolean } }>('GET', '/info');
  if (!info?.Swarm?.ControlAvailable) {
    throw new CliError(`this node is not a swarm manager. Use "${PROGRAM} swarm init" or "${PROGRAM} swarm join" to connect this node to swarm and try again`);
  }
}

async function lookup<T>(cli: Cli, path: string): Promise<T | undefined> {
  try {
    return await cli.client().json<T>('GET', path);
  } catch (err) {
    if (err instanceof DaemonError && err.status === 404) return undefined;
    throw err;
  }
}

export async function listStackObjects<T>(cli: Cli, kind: 'services' | 'networks' | 'secrets' | 'configs' | 'tasks', stack: string): Promise<T[]> {
  return (await cli.client().json<T[]>('GET', `/${kind}`, { query: { filters: stackFilter(stack) } })) ?? [];
}

export async function deployStack(cli: Cli, plan: StackPlan, opts: DeployOptions): Promise<void> {
  await requireManager(cli);
  const stack = plan.namespace.name;
  const out = cli.out;

  // ---- checks: nothing is made until every one has passed
  for (const name of plan.externalNetworks) {
    if (PREDEFINED.has(name)) continue;
    const n = await lookup<NetworkSummary>(cli, `/networks/${pathName(name)}`);
    if (!n) throw new CliError(`network ${JSON.stringify(name)} is declared as external, but could not be found. You need to create a swarm-scoped network before the stack is deployed`);
    if (n.Scope !== 'swarm') throw new CliError(`network ${JSON.stringify(name)} is declared as external, but it is not in the right scope: ${JSON.stringify(n.Scope)} instead of "swarm"`);
  }
  const allNetworks = (await cli.client().json<NetworkSummary[]>('GET', '/networks')) ?? [];
  for (const n of plan.networks) {
    const clash = allNetworks.find((x) => x.Name === n.Name && x.Labels?.[LABEL_NAMESPACE] !== stack);
    if (clash) throw new CliError(`failed to create network ${n.Name}: Error response from daemon: network with name ${n.Name} already exists`);
  }
  const allServices = (await cli.client().json<Service[]>('GET', '/services')) ?? [];
  const ours = new Map(allServices.filter((s) => s.Spec.Labels?.[LABEL_NAMESPACE] === stack).map((s) => [s.Spec.Name, s]));
  for (const { spec } of plan.services) {
    const clash = allServices.find((s) => s.Spec.Name.toLowerCase() === spec.Name.toLowerCase() && !ours.has(s.Spec.Name));
    if (clash) throw new CliError(`failed to create service ${spec.Name}: Error response from daemon: rpc error: code = AlreadyExists desc = name conflicts with an existing object: service ${spec.Name} already exists`);
  }
  // Secrets and configs the services use that the stack does not make must exist (docker's ParseSecrets).
  const madeSecrets = new Set(plan.secrets.map((s) => s.Name));
  const madeConfigs = new Set(plan.configs.map((c) => c.Name));
  const secretIds = new Map<string, string>();
  const configIds = new Map<string, string>();
  for (const { key, spec } of plan.services) {
    for (const ref of (spec.TaskTemplate.ContainerSpec?.Secrets ?? []) as FileReference[]) {
      const name = ref.SecretName!;
      if (madeSecrets.has(name) || secretIds.has(name)) continue;
      const found = await lookup<Secret>(cli, `/secrets/${pathName(name)}`);
      if (!found) throw new CliError(`service ${key}: secret not found: ${name}`);
      secretIds.set(name, found.ID);
    }
    for (const ref of (spec.TaskTemplate.ContainerSpec?.Configs ?? []) as FileReference[]) {
      const name = ref.ConfigName!;
      if (madeConfigs.has(name) || configIds.has(name)) continue;
      const found = await lookup<Config>(cli, `/configs/${pathName(name)}`);
      if (!found) throw new CliError(`service ${key}: config not found: ${name}`);
      configIds.set(name, found.ID);
    }
  }

  // ---- changes
  if (opts.prune) await pruneServices(cli, plan, [...ours.values()]);
  const made: Made = { services: [], configs: [], secrets: [], networks: [] };
  try {
    const existingNetworks = new Map((await listStackObjects<NetworkSummary>(cli, 'networks', stack)).map((n) => [n.Name, n]));
    const networkIds = new Map(allNetworks.map((n) => [n.Name, n.Id]));
    for (const n of plan.networks) {
      if (existingNetworks.has(n.Name)) continue;
      out.write(`Creating network ${n.Name}\n`);
      const res = await wrap(`failed to create network ${n.Name}`, () => cli.client().json<{ Id: string }>('POST', '/networks/create', { json: n }));
      made.networks.push(res.Id);
      networkIds.set(n.Name, res.Id);
    }
    for (const spec of plan.secrets) {
      const existing = await lookup<Secret>(cli, `/secrets/${pathName(spec.Name)}`);
      if (existing) {
        await wrap(`failed to update secret ${spec.Name}`, () => cli.client().request('POST', `/secrets/${existing.ID}/update`, { query: { version: existing.Version.Index }, json: spec }).then((r) => r.resume()));
        secretIds.set(spec.Name, existing.ID);
      } else {
        out.write(`Creating secret ${spec.Name}\n`);
        const res = await wrap(`failed to create secret ${spec.Name}`, () => cli.client().json<{ ID: string }>('POST', '/secrets/create', { json: spec }));
        made.secrets.push(res.ID);
        secretIds.set(spec.Name, res.ID);
      }
    }
    for (const spec of plan.configs) {
      const existing = await lookup<Config>(cli, `/configs/${pathName(spec.Name)}`);
      if (existing) {
        // Configs are served whole: one that is already as wanted is not touched.
        const same = existing.Spec.Data === spec.Data && JSON.stringify(existing.Spec.Labels ?? {}) === JSON.stringify(spec.Labels ?? {});
        if (!same) await wrap(`failed to update config ${spec.Name}`, () => cli.client().request('POST', `/configs/${existing.ID}/update`, { query: { version: existing.Version.Index }, json: spec }).then((r) => r.resume()));
        configIds.set(spec.Name, existing.ID);
      } else {
        out.write(`Creating config ${spec.Name}\n`);
        const res = await wrap(`failed to create config ${spec.Name}`, () => cli.client().json<{ ID: string }>('POST', '/configs/create', { json: spec }));
        made.configs.push(res.ID);
        configIds.set(spec.Name, res.ID);
      }
    }
    const toId = (target: string) => networkIds.get(target) ?? target;
    for (const { spec } of plan.services) {
      for (const ref of (spec.TaskTemplate.ContainerSpec?.Secrets ?? []) as FileReference[]) ref.SecretID = secretIds.get(ref.SecretName!) ?? '';
      for (const ref of (spec.TaskTemplate.ContainerSpec?.Configs ?? []) as FileReference[]) ref.ConfigID = configIds.get(ref.ConfigName!) ?? '';
      await deployService(cli, spec, ours.get(spec.Name), opts, toId, made);
    }
  } catch (err) {
    await undo(cli, made);
    throw err;
  }
}

async function wrap<T>(what: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (err) {
    if (err instanceof CliError) throw new CliError(`${what}: ${err.message}`);
    throw err;
  }
}

/** Takes back what a failed run made, newest first; what fails here is only reported. */
async function undo(cli: Cli, made: Made): Promise<void> {
  const steps: Array<[string, string[]]> = [['services', made.services], ['configs', made.configs], ['secrets', made.secrets], ['networks', made.networks]];
  for (const [kind, ids] of steps) {
    for (const id of [...ids].reverse()) {
      try {
        (await cli.client().request('DELETE', `/${kind}/${id}`)).resume();
      } catch (err) {
        cli.err.write(`Failed to remove ${kind.slice(0, -1)} ${id}: ${(err as Error).message}\n`);
      }
    }
  }
}

async function pruneServices(cli: Cli, plan: StackPlan, current: Service[]): Promise<void> {
  const wanted = new Set(plan.services.map((s) => s.spec.Name));
  const stale = current.filter((s) => !wanted.has(s.Spec.Name)).sort((a, b) => (a.Spec.Name < b.Spec.Name ? -1 : 1));
  await removeServices(cli, stale);
}

export async function removeServices(cli: Cli, services: Service[]): Promise<boolean> {
  let failed = false;
  for (const s of [...services].sort((a, b) => (a.Spec.Name < b.Spec.Name ? -1 : 1))) {
    cli.out.write(`Removing service ${s.Spec.Name}\n`);
    try {
      (await cli.client().request('DELETE', `/services/${s.ID}`)).resume();
    } catch (err) {
      failed = true;
      cli.err.write(`Failed to remove service ${s.ID}: ${(err as Error).message}`);
    }
  }
  return failed;
}

/** The image with `:latest` added when it names neither tag nor digest, as docker's API client sends it. */
function taggedImage(image: string): string {
  try {
    const ref = parseNormalizedNamed(image);
    if (ref.digest) return image;
    return `${familiarName(ref)}:${ref.tag ?? 'latest'}`;
  } catch {
    return image;
  }
}

/** The digest-pinned form of `image` (`busybox:latest@sha256:...`), or a warning when the registry cannot say. */
async function resolveDigest(cli: Cli, image: string, auth: string | undefined): Promise<{ image: string; warning?: string }> {
  try {
    const ref = parseNormalizedNamed(image);
    if (ref.digest) return { image };
    const res = await cli.client().json<{ Descriptor?: { digest?: string } }>('GET', `/distribution/${image}/json`, { headers: auth ? { 'X-Registry-Auth': auth } : {} });
    const digest = res?.Descriptor?.digest;
    if (!digest) throw new Error('no digest');
    return { image: `${familiarName(ref)}:${ref.tag ?? 'latest'}@${digest}` };
  } catch {
    return {
      image,
      warning: `image ${image} could not be accessed on a registry to record\nits digest. Each node will access ${image} independently,\npossibly leading to different nodes running different\nversions of the image.\n`,
    };
  }
}

async function deployService(cli: Cli, spec: ServiceSpec, existing: Service | undefined, opts: DeployOptions, networkId: (t: string) => string, made: Made): Promise<void> {
  const container = spec.TaskTemplate.ContainerSpec!;
  const image = taggedImage(container.Image);
  const written = spec.Labels?.[LABEL_IMAGE] ?? container.Image;
  container.Image = image;
  let auth: string | undefined;
  if (opts.withRegistryAuth) {
    try {
      auth = await registryAuthHeader(cli, parseNormalizedNamed(image));
    } catch {
      auth = undefined;
    }
  }
  const headers = auth ? { 'X-Registry-Auth': auth } : undefined;
  const warn = (w: string | undefined) => {
    if (w) cli.err.write(w.endsWith('\n') ? w : `${w}\n`);
  };
  if (!existing) {
    cli.out.write(`Creating service ${spec.Name}\n`);
    if (opts.resolveImage !== 'never') {
      const r = await resolveDigest(cli, image, auth);
      container.Image = r.image;
      warn(r.warning);
    }
    const res = await wrap(`failed to create service ${spec.Name}`, () => cli.client().json<{ ID: string; Warnings?: string[] | null }>('POST', '/services/create', { json: spec, headers }));
    made.services.push(res.ID);
    for (const w of res.Warnings ?? []) warn(w);
    return;
  }
  const imageChanged = written !== existing.Spec.Labels?.[LABEL_IMAGE];
  let resolveWarning: string | undefined;
  if (opts.resolveImage === 'always' || (opts.resolveImage === 'changed' && imageChanged)) {
    const r = await resolveDigest(cli, image, auth);
    container.Image = r.image;
    resolveWarning = r.warning;
  } else if (!imageChanged) {
    // The image the previous deploy pinned stays, or the comparison (and the tasks) would see a change.
    container.Image = existing.Spec.TaskTemplate.ContainerSpec?.Image ?? image;
  }
  // There is no --force: the stored ForceUpdate is kept so the tasks are not redeployed for it.
  spec.TaskTemplate.ForceUpdate = existing.Spec.TaskTemplate.ForceUpdate;
  if (sameServiceSpec(spec, existing.Spec, networkId)) return;
  warn(resolveWarning);
  cli.out.write(`Updating service ${spec.Name} (id: ${existing.ID})\n`);
  const res = await wrap(`failed to update service ${spec.Name}`, () =>
    cli.client().json<{ Warnings?: string[] | null }>('POST', `/services/${existing.ID}/update`, { query: { version: existing.Version.Index }, json: spec, headers }),
  );
  for (const w of res?.Warnings ?? []) warn(w);
}
