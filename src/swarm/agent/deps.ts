/**
 * What the node agent needs of the rest of the daemon, kept narrow so the agent can be tested with fakes
 * (test/unit/swarm-agent.test.ts) and wired to the real services by `localAgentDeps` (local.ts).
 */
import type { ClusterNetworking } from '../contracts.js';
import type { TaskFileStore } from './task-files.js';
import type { CreateRequest } from '../../containers/service.js';
import type { LogMessage } from '../../containers/logs.js';

/** What the agent knows of one of its task containers (a Container record, reduced). */
export interface TaskContainer {
  id: string;
  name: string;
  labels: Record<string, string>;
  /** created | running | paused | restarting | removing | exited | dead */
  status: string;
  running: boolean;
  pid: number;
  exitCode: number;
  /** The container's health status when it has a healthcheck. */
  health?: 'starting' | 'healthy' | 'unhealthy';
  /** Whether the container has a healthcheck that probes (not NONE). */
  hasHealthcheck: boolean;
  /** Host port bindings as started: `${port}/${proto}` -> host ports. */
  hostPorts?: Array<{ TargetPort: number; Protocol: 'tcp' | 'udp' | 'sctp'; PublishedPort: number }>;
}

export interface AgentContainers {
  /** Every container that carries the label com.docker.swarm.task.id (running or not). */
  listTaskContainers(): TaskContainer[];
  /** By id or name; undefined when there is none. */
  get(ref: string): TaskContainer | undefined;
  create(req: CreateRequest): Promise<{ Id: string }>;
  start(id: string): Promise<void>;
  /** Stops with the container's stop signal; `timeoutSeconds` overrides its stop timeout. */
  stop(id: string, timeoutSeconds?: number): Promise<void>;
  /** Forced, with its anonymous volumes (dockerd's task removal). */
  remove(id: string): Promise<void>;
}

export interface AgentImages {
  /** Whether the image (a reference as the spec names it) is in the local store. */
  exists(ref: string): boolean;
  /** Pulls it; rejects with the registry's error. `registryAuth`: an X-Registry-Auth value (the spec's PullOptions). */
  pull(ref: string, signal?: AbortSignal, registryAuth?: string): Promise<void>;
}

/** The container events the agent follows (die, destroy, health_status: ...), as the event bus publishes them. */
export interface AgentEvent {
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
}

export interface AgentEvents {
  subscribe(listener: (e: AgentEvent) => void): () => void;
}

/** Options of a task's log read, as GET /containers/{id}/logs takes them. */
export interface TaskLogOptions {
  stdout: boolean;
  stderr: boolean;
  follow: boolean;
  /** Nanoseconds since the epoch. */
  since?: number | bigint;
  until?: number | bigint;
  tail?: number | 'all';
  signal: AbortSignal;
}

export interface AgentLogs {
  /** The messages of a container's log (without timestamps in the line; `time` carries it). */
  read(containerId: string, opts: TaskLogOptions): AsyncIterable<LogMessage>;
  /** Whether the container has a TTY (its log is then sent raw). */
  tty(containerId: string): boolean;
}

/** This node as templates see it ({{.Node.Hostname}}, {{.Node.Platform.OS}}). */
export interface NodeInfo {
  Hostname: string;
  Platform?: { OS: string; Architecture: string };
}

export interface AgentDeps {
  containers: AgentContainers;
  images: AgentImages;
  events: AgentEvents;
  logs?: AgentLogs;
  /** The node's cluster networking, or a getter when the swarm part makes one per swarm it joins. */
  networking: ClusterNetworking | (() => ClusterNetworking);
  node: () => NodeInfo;
  /**
   * The local network (by name) a task on overlays also joins for its default route and host-mode
   * ports: the node's default bridge (Docker's docker_gwbridge); none when the node has none.
   */
  gatewayNetwork?: () => string | undefined;
  /**
   * Whether the agent syncs ClusterNetworking with each view and tears it down when leaving (default
   * true); false when the caller already does both (the manager part's channel wrapper).
   */
  manageNetworks?: boolean;
  /** How long to wait before resending reports the managers did not take (default 1000 ms). */
  reportRetryMs?: number;
  /** How long a state on the way to running may wait to be reported with a later one (default 100 ms). */
  reportHoldMs?: number;
  /**
   * Where tasks' secrets and configs are written (a tmpfs per task, task-files.ts); without it a task
   * that has any is rejected.
   */
  taskFiles?: TaskFileStore;
}
