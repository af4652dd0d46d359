/**
 * Services and tasks as the Engine API shows them: stored objects without Berth's internal fields
 * (top-level `Berth*` keys, and `BerthRegistryAuth` inside container specs), keys in dockerd's order.
 */
import type { ContainerSpec, Service, ServiceSpec, Task, TaskSpec } from '../types.js';

export interface ServiceStatus {
  RunningTasks: number;
  DesiredTasks: number;
  CompletedTasks: number;
}

/** The spec's container part without the registry credentials dockerd keeps hidden (PullOptions). */
function publicTaskSpec(t: TaskSpec): TaskSpec {
  if (!t.ContainerSpec || !('BerthRegistryAuth' in t.ContainerSpec)) return t;
  const { BerthRegistryAuth: _auth, ...container } = t.ContainerSpec as ContainerSpec & { BerthRegistryAuth?: string };
  return { ...t, ContainerSpec: container as ContainerSpec };
}

export function publicSpec(s: ServiceSpec): ServiceSpec {
  return { ...s, TaskTemplate: publicTaskSpec(s.TaskTemplate) };
}

export function serviceView(s: Service, status?: ServiceStatus): Record<string, unknown> {
  const out: Record<string, unknown> = {
    ID: s.ID,
    Version: s.Version,
    CreatedAt: s.CreatedAt,
    UpdatedAt: s.UpdatedAt,
    Spec: publicSpec(s.Spec),
  };
  if (s.PreviousSpec) out.PreviousSpec = publicSpec(s.PreviousSpec);
  out.Endpoint = s.Endpoint ?? { Spec: {} };
  if (s.UpdateStatus) out.UpdateStatus = s.UpdateStatus;
  if (status) out.ServiceStatus = status;
  if (s.JobStatus) out.JobStatus = s.JobStatus;
  return out;
}

/**
 * dockerd's task JSON: no Name (the docker CLI makes `<service>.<slot>` itself), Labels always a map,
 * Status.PortStatus always present.
 */
export function taskView(t: Task): Record<string, unknown> {
  const out: Record<string, unknown> = {
    ID: t.ID,
    Version: t.Version,
    CreatedAt: t.CreatedAt,
    UpdatedAt: t.UpdatedAt,
    Labels: t.Labels ?? {},
    Spec: publicTaskSpec(t.Spec),
    ServiceID: t.ServiceID,
  };
  if (t.Slot) out.Slot = t.Slot;
  if (t.NodeID) out.NodeID = t.NodeID;
  const { PortStatus, ...status } = t.Status;
  out.Status = { ...status, PortStatus: PortStatus ?? {} };
  out.DesiredState = t.DesiredState;
  if (t.NetworksAttachments?.length) out.NetworksAttachments = t.NetworksAttachments;
  if (t.JobIteration) out.JobIteration = t.JobIteration;
  return out;
}

/** swarmkit's naming.Task: the task's own name, else `<service>.<slot or node>.<id>`. */
export function taskName(t: Task, serviceName: string | undefined): string {
  if (t.Name) return t.Name;
  return `${serviceName ?? t.BerthService?.Name ?? ''}.${t.Slot ? t.Slot : (t.NodeID ?? '')}.${t.ID}`;
}
