/**
 * A task as a container create request, as dockerd's cluster executor makes it
 * (daemon/cluster/executor/container/container.go): the container's name and labels, the spec's
 * templates expanded ({{.Service.Name}}, {{.Task.Slot}}, {{.Node.Hostname}}, ...), Command/Args mapped
 * onto Entrypoint/Cmd, HostConfig from the spec's options and resource limits, host-mode published
 * ports as port bindings, one endpoint per network attachment with the task's address, and the node's
 * default bridge for outbound traffic and host-mode ports (docker_gwbridge's part).
 */
import type { CreateRequest } from '../../containers/service.js';
import type { ContainerConfig, HostConfig } from '../../runtime/spec/index.js';
import type { EndpointConfig } from '../../networks/model.js';
import { parseTemplate } from '../../cli/template/index.js';
import { parseReference, familiarString, withDefaultTag } from '../../images/reference.js';
import type { ContainerSpec, Mount, PortConfig, Task } from '../types.js';
import type { NodeInfo } from './deps.js';

export const LABEL_PREFIX = 'com.docker.swarm';
export const TASK_ID_LABEL = `${LABEL_PREFIX}.task.id`;

/** The service's name as the task carries it. */
export function serviceNameOf(task: Task): string {
  return task.BerthService?.Name ?? task.ServiceID;
}

/** swarmkit's naming.Task: `<service>.<slot>.<task id>`, the node id in place of the slot for global tasks. */
export function taskName(task: Task): string {
  if (task.Name) return task.Name;
  const slot = task.Slot ? String(task.Slot) : (task.NodeID ?? '');
  return `${serviceNameOf(task)}.${slot}.${task.ID}`;
}

/** The spec's image as dockerd names it to the engine: familiar and with a tag (`busybox` -> `busybox:latest`). */
export function taskImage(spec: ContainerSpec): string {
  try {
    return familiarString(withDefaultTag(parseReference(spec.Image)));
  } catch {
    return spec.Image;
  }
}

/** Spec labels, then the task's own, then the system labels, which win (container.go labels()). */
export function taskLabels(task: Task): Record<string, string> {
  return {
    ...(task.Spec.ContainerSpec?.Labels ?? {}),
    ...(task.Labels ?? {}),
    [`${LABEL_PREFIX}.task`]: '',
    [`${LABEL_PREFIX}.task.id`]: task.ID,
    [`${LABEL_PREFIX}.task.name`]: taskName(task),
    [`${LABEL_PREFIX}.node.id`]: task.NodeID ?? '',
    [`${LABEL_PREFIX}.service.id`]: task.ServiceID,
    [`${LABEL_PREFIX}.service.name`]: serviceNameOf(task),
  };
}

/** swarmkit's template.Context; `serviceLabels` from the view (NodeView.payloads.serviceLabels). */
export function templateContext(task: Task, node: NodeInfo, serviceLabels: Record<string, string> = {}): Record<string, unknown> {
  return {
    Service: { ID: task.ServiceID, Name: serviceNameOf(task), Labels: serviceLabels },
    Node: { ID: task.NodeID ?? '', Hostname: node.Hostname, Platform: { OS: node.Platform?.OS ?? '', Architecture: node.Platform?.Architecture ?? '' } },
    Task: { ID: task.ID, Name: taskName(task), Slot: task.Slot ? String(task.Slot) : (task.NodeID ?? '') },
  };
}

/** Expands one template string; errors keep swarmkit's wording ("expanding hostname failed: ..."). */
export function expand(text: string, ctx: Record<string, unknown>, what: string): string {
  if (!text.includes('{{')) return text;
  try {
    return parseTemplate(text).execute(ctx);
  } catch (err) {
    throw new Error(`${what}: ${swarmTemplateError(err)}`);
  }
}

/** A template error as Go words it for swarmkit's templates, which are all named "expansion". */
export function swarmTemplateError(err: unknown): string {
  return (err as Error).message.replace(/^template: :/, 'template: expansion:').replace(/executing "" at/, 'executing "expansion" at');
}

/** swarmkit's ExpandContainerSpec: Env values, mount sources and targets, the hostname. */
export function expandSpec(spec: ContainerSpec, ctx: Record<string, unknown>): ContainerSpec {
  const env = (spec.Env ?? []).map((e) => {
    const i = e.indexOf('=');
    return i < 0 ? e : `${e.slice(0, i)}=${expand(e.slice(i + 1), ctx, 'expanding env failed')}`;
  });
  const mounts = (spec.Mounts ?? []).map((m): Mount => ({
    ...m,
    ...(m.Source !== undefined ? { Source: expand(m.Source, ctx, `expanding mounts failed: expanding mount source "${m.Source}"`) } : {}),
    ...(m.Target !== undefined ? { Target: expand(m.Target, ctx, `expanding mounts failed: expanding mount target "${m.Target}"`) } : {}),
  }));
  return { ...spec, Env: env, Mounts: mounts, Hostname: expand(spec.Hostname ?? '', ctx, 'expanding hostname failed') };
}

/** The task's host-mode published ports (ingress ports belong to the routing mesh). */
export function hostPorts(task: Task): PortConfig[] {
  return (task.BerthService?.Ports ?? []).filter((p) => p.PublishMode === 'host' && p.TargetPort && p.TargetPort <= 65535);
}

/** The local name of a cluster network, as ClusterNetworking made it on this node. */
export type LocalNetworkName = (clusterNetworkId: string) => string | undefined;

/** What the task's node adds to its container: its secrets' and configs' mounts, its service's labels for templates. */
export interface TaskExtras {
  /** Read-only binds of the task's secret and config files (payload-files.ts). */
  fileMounts?: Mount[];
  serviceLabels?: Record<string, string>;
}

/**
 * The create request for a task. Throws (the task is rejected) when a template does not expand or a
 * network the task is attached to is not known on this node.
 */
export function containerCreateRequest(task: Task, node: NodeInfo, localNetwork: LocalNetworkName, gatewayNetwork?: string, extras: TaskExtras = {}): CreateRequest {
  const raw = task.Spec.ContainerSpec;
  if (!raw || !raw.Image) throw new Error('dockerexec: image required');
  const expanded = expandSpec(raw, templateContext(task, node, extras.serviceLabels));
  const spec = extras.fileMounts?.length ? { ...expanded, Mounts: [...(expanded.Mounts ?? []), ...extras.fileMounts] } : expanded;
  const ports = hostPorts(task);

  const config: ContainerConfig = {
    Image: taskImage(spec),
    Labels: taskLabels(task),
    Env: spec.Env ?? [],
    Hostname: spec.Hostname || undefined,
    WorkingDir: spec.Dir || undefined,
    User: spec.User || undefined,
    Tty: spec.TTY ?? false,
    OpenStdin: spec.OpenStdin ?? false,
    StopSignal: spec.StopSignal || undefined,
  };
  if (ports.length) config.ExposedPorts = Object.fromEntries(ports.map((p) => [`${p.TargetPort}/${p.Protocol ?? 'tcp'}`, {}]));
  if (spec.Healthcheck) config.Healthcheck = spec.Healthcheck;
  // Command replaces the whole invocation (Args become its Cmd); Args alone are the image entrypoint's arguments.
  if (spec.Command?.length) {
    config.Entrypoint = [...spec.Command];
    config.Cmd = [...(spec.Args ?? [])];
  } else if (spec.Args?.length) {
    config.Cmd = [...spec.Args];
  }

  const limits = task.Spec.Resources?.Limits;
  const hostConfig: HostConfig = {
    // The orchestrator restarts tasks; the engine never does.
    RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
    GroupAdd: spec.Groups?.length ? spec.Groups : undefined,
    ReadonlyRootfs: spec.ReadOnly ?? false,
    Mounts: spec.Mounts?.length ? spec.Mounts : undefined,
    Init: spec.Init ?? undefined,
    Sysctls: spec.Sysctls && Object.keys(spec.Sysctls).length ? spec.Sysctls : undefined,
    CapAdd: spec.CapabilityAdd?.length ? spec.CapabilityAdd : undefined,
    CapDrop: spec.CapabilityDrop?.length ? spec.CapabilityDrop : undefined,
    Ulimits: spec.Ulimits?.length ? spec.Ulimits : undefined,
  };
  const pidsLimit = (spec as { PidsLimit?: number }).PidsLimit ?? limits?.Pids;
  if (pidsLimit && pidsLimit > 0) hostConfig.PidsLimit = pidsLimit;
  if (limits?.MemoryBytes && limits.MemoryBytes > 0) hostConfig.Memory = limits.MemoryBytes;
  if (limits?.NanoCPUs && limits.NanoCPUs > 0) hostConfig.NanoCpus = limits.NanoCPUs;
  if (spec.DNSConfig) {
    if (spec.DNSConfig.Nameservers?.length) hostConfig.Dns = spec.DNSConfig.Nameservers;
    if (spec.DNSConfig.Search?.length) hostConfig.DnsSearch = spec.DNSConfig.Search;
    if (spec.DNSConfig.Options?.length) hostConfig.DnsOptions = spec.DNSConfig.Options;
  }
  // Hosts come as hosts(5) lines ("IP name [aliases]"); ExtraHosts wants "name:IP" (aliases dropped, as dockerd).
  const extraHosts = (spec.Hosts ?? []).flatMap((line) => {
    const parts = line.trim().split(/\s+/);
    return parts.length > 1 ? [`${parts[1]}:${parts[0]}`] : [];
  });
  if (extraHosts.length) hostConfig.ExtraHosts = extraHosts;
  const oomScoreAdj = (spec as { OomScoreAdj?: number }).OomScoreAdj;
  if (oomScoreAdj) hostConfig.OomScoreAdj = oomScoreAdj;
  const securityOpt = privilegeOptions((spec as { Privileges?: Privileges }).Privileges);
  if (securityOpt.length) hostConfig.SecurityOpt = securityOpt;
  if (task.Spec.LogDriver?.Name) hostConfig.LogConfig = { Type: task.Spec.LogDriver.Name, Config: task.Spec.LogDriver.Options ?? {} };
  if (ports.length) {
    hostConfig.PortBindings = Object.fromEntries(
      ports.map((p) => [`${p.TargetPort}/${p.Protocol ?? 'tcp'}`, [{ HostIp: '', HostPort: p.PublishedPort ? String(p.PublishedPort) : '' }]]),
    );
  }

  // One endpoint per attachment: the address the allocator gave, the service name and aliases as DNS names.
  const endpoints: Record<string, EndpointConfig> = {};
  let first: string | undefined;
  for (const att of task.NetworksAttachments ?? []) {
    const local = localNetwork(att.Network.ID);
    if (!local) throw new Error(`network ${att.Network.Spec.Name} not found`);
    first ??= local;
    const ipv4 = att.Addresses.map((a) => a.split('/')[0]!).find((a) => a.includes('.'));
    const ipv6 = att.Addresses.map((a) => a.split('/')[0]!).find((a) => a.includes(':'));
    const aliases = task.Spec.Networks?.find((n) => n.Target === att.Network.ID || n.Target === att.Network.Spec.Name)?.Aliases ?? [];
    endpoints[local] = {
      IPAMConfig: { ...(ipv4 ? { IPv4Address: ipv4 } : {}), ...(ipv6 ? { IPv6Address: ipv6 } : {}) },
      Aliases: [...new Set([serviceNameOf(task), ...aliases])],
    };
  }
  // Overlays carry no default route (their gateway is on no node): like Docker's docker_gwbridge, the
  // node's default bridge gives the task outbound access and host-mode ports, unless every overlay is internal.
  const attachments = task.NetworksAttachments ?? [];
  if (first && gatewayNetwork && !endpoints[gatewayNetwork] && attachments.some((a) => !a.Network.Spec.Internal)) endpoints[gatewayNetwork] = {};
  if (first) hostConfig.NetworkMode = first;
  return { name: taskName(task), config, hostConfig, networkingConfig: first ? { EndpointsConfig: endpoints } : undefined };
}

/** ContainerSpec.Privileges as the Engine API shows it. */
interface Privileges {
  SELinuxContext?: { Disable?: boolean; User?: string; Role?: string; Type?: string; Level?: string };
  Seccomp?: { Mode?: 'default' | 'unconfined' | 'custom'; Profile?: string };
  AppArmor?: { Mode?: 'default' | 'disabled' };
  NoNewPrivileges?: boolean;
}

/** dockerd's applyPrivileges: the spec's privileges as security options (credential specs are Windows-only). */
function privilegeOptions(p: Privileges | undefined): string[] {
  if (!p) return [];
  const out: string[] = [];
  const se = p.SELinuxContext;
  if (se?.Disable) out.push('label=disable');
  if (se?.User) out.push(`label=user:${se.User}`);
  if (se?.Role) out.push(`label=role:${se.Role}`);
  if (se?.Level) out.push(`label=level:${se.Level}`);
  if (se?.Type) out.push(`label=type:${se.Type}`);
  if (p.Seccomp?.Mode === 'unconfined') out.push('seccomp=unconfined');
  else if (p.Seccomp?.Mode === 'custom' && p.Seccomp.Profile) out.push(`seccomp=${p.Seccomp.Profile}`);
  if (p.AppArmor?.Mode === 'disabled') out.push('apparmor=unconfined');
  if (p.NoNewPrivileges) out.push('no-new-privileges=true');
  return out;
}
