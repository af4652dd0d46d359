/**
 * AgentDeps on the daemon's own services: the container service, the image store and registry client,
 * the event bus and the container log reader. The composition root (daemon/daemon.ts) makes it once.
 */
import type { ContainerService } from '../../containers/service.js';
import type { Container } from '../../containers/model.js';
import type { ImageService } from '../../images/service.js';
import type { DistributionService } from '../../distribution/service.js';
import type { EventBus } from '../../events/bus.js';
import { readLogs } from '../../containers/logs.js';
import { probeCommand, type HealthConfig } from '../../containers/health.js';
import { parseReference, withDefaultTag, familiarName } from '../../images/reference.js';
import { parseRegistryAuth } from '../../distribution/auth.js';
import type { AgentContainers, AgentDeps, AgentEvents, AgentImages, AgentLogs, TaskContainer } from './deps.js';
import { TASK_ID_LABEL } from './spec.js';

export interface LocalServices {
  containers: ContainerService;
  images: ImageService;
  distribution: DistributionService;
  events: EventBus;
  /** ps's Ports of a container (NetworkService.containerView), for the task's PortStatus. */
  ports?: (c: Container) => Array<Record<string, unknown>>;
}

export function localAgentDeps(s: LocalServices, rest: Pick<AgentDeps, 'networking' | 'node'>): AgentDeps {
  return { containers: localContainers(s), images: localImages(s), events: localEvents(s.events), logs: localLogs(s.containers), ...rest };
}

function view(c: Container, ports?: LocalServices['ports']): TaskContainer {
  const hc = c.config.Healthcheck as HealthConfig | undefined;
  const published = ports?.(c)
    .filter((p) => typeof p.PublicPort === 'number')
    .map((p) => ({ TargetPort: p.PrivatePort as number, Protocol: (p.Type as 'tcp' | 'udp' | 'sctp') ?? 'tcp', PublishedPort: p.PublicPort as number }));
  // One binding per port (IPv4 and IPv6 rows name the same port).
  const hostPorts = published?.filter((p, i) => published.findIndex((q) => q.TargetPort === p.TargetPort && q.Protocol === p.Protocol) === i);
  return {
    id: c.id,
    name: c.name,
    labels: c.config.Labels ?? {},
    status: c.state.Status,
    running: c.state.Running && !c.state.Restarting,
    pid: c.state.Pid,
    exitCode: c.state.ExitCode,
    health: c.state.Health?.Status as TaskContainer['health'],
    hasHealthcheck: Boolean(probeCommand(hc)),
    ...(hostPorts?.length ? { hostPorts } : {}),
  };
}

export function localContainers(s: Pick<LocalServices, 'containers' | 'ports'>): AgentContainers {
  const containers = s.containers;
  return {
    listTaskContainers: () => containers.store.all().filter((c) => c.config.Labels?.[TASK_ID_LABEL]).map((c) => view(c, s.ports)),
    get: (ref) => {
      const c = containers.store.get(ref) ?? containers.store.byName(ref);
      return c ? view(c, s.ports) : undefined;
    },
    create: (req) => containers.create(req),
    start: async (id) => {
      await containers.start(id);
    },
    stop: async (id, timeout) => {
      await containers.stop(id, { timeout, byUser: false });
    },
    remove: (id) => containers.remove(id, { force: true, volumes: true }),
  };
}

export function localImages(s: Pick<LocalServices, 'images' | 'distribution'>): AgentImages {
  return {
    exists: (ref) => Boolean(s.images.tryResolve(ref)),
    pull: async (ref, signal, registryAuth) => {
      const parsed = withDefaultTag(parseReference(ref));
      let error: string | undefined;
      await s.distribution.pull({ name: familiarName(parsed), tag: parsed.digest ?? parsed.tag, creds: parseRegistryAuth(registryAuth), signal }, (m) => {
        const msg = m as { error?: string; errorDetail?: { message?: string } };
        if (msg.error) error = msg.error;
      });
      if (error) throw new Error(error);
    },
  };
}

export function localEvents(bus: EventBus): AgentEvents {
  return { subscribe: (listener) => bus.subscribe(listener) };
}

export function localLogs(containers: ContainerService): AgentLogs {
  return {
    tty: (id) => Boolean(containers.store.get(id)?.config.Tty),
    read: (id, opts) => {
      const c = containers.resolve(id);
      const source = containers.logs.source(c);
      return (async function* () {
        await containers.logs.catchUp(c.id);
        yield* readLogs(source, { ...opts, timestamps: false, isRunning: () => Boolean(containers.store.get(c.id)?.state.Running) });
      })();
    },
  };
}
