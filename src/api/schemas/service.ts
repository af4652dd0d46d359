/**
 * The body of POST /services/create and /services/{id}/update: moby's swarm.ServiceSpec (with the
 * legacy top-level Networks), with the Go names its decode errors use. Rarely used nested parts
 * (mounts, privileges, secrets, configs, generic resources, plugin specs) pass through as they are.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { goAny, goBool, goDuration, goInt, goList, goMap, goString, goStruct } from './decode.js';
import { healthConfig } from './container.js';

const strings = () => goList(goString());
const stringMap = () => goMap(goString());
const goFloat32 = () => Type.Number({ goType: 'float32' });

const networkAttachmentConfig = goStruct(
  'NetworkAttachmentConfig',
  { Target: goString(), Aliases: strings(), DriverOpts: stringMap() },
  'swarm.NetworkAttachmentConfig',
);

const containerSpec = goStruct(
  'ContainerSpec',
  {
    Image: goString(),
    Labels: stringMap(),
    Command: strings(),
    Args: strings(),
    Hostname: goString(),
    Env: strings(),
    Dir: goString(),
    User: goString(),
    Groups: strings(),
    Privileges: goAny(),
    Init: goBool(),
    StopSignal: goString(),
    TTY: goBool(),
    OpenStdin: goBool(),
    ReadOnly: goBool(),
    Mounts: goList(goAny(), '[]mount.Mount'),
    StopGracePeriod: goDuration(),
    Healthcheck: healthConfig,
    Hosts: strings(),
    DNSConfig: goStruct('DNSConfig', { Nameservers: strings(), Search: strings(), Options: strings() }, 'swarm.DNSConfig'),
    Secrets: goList(goAny(), '[]*swarm.SecretReference'),
    Configs: goList(goAny(), '[]*swarm.ConfigReference'),
    Isolation: goString(),
    Sysctls: stringMap(),
    CapabilityAdd: strings(),
    CapabilityDrop: strings(),
    Ulimits: goList(goStruct('Ulimit', { Name: goString(), Hard: goInt('int64'), Soft: goInt('int64') }, '*container.Ulimit'), '[]*container.Ulimit'),
    OomScoreAdj: goInt('int64'),
  },
  'swarm.ContainerSpec',
);

const limit = goStruct('Limit', { NanoCPUs: goInt('int64'), MemoryBytes: goInt('int64'), Pids: goInt('int64') }, 'swarm.Limit');
const resources = goStruct(
  'Resources',
  { NanoCPUs: goInt('int64'), MemoryBytes: goInt('int64'), GenericResources: goList(goAny(), '[]swarm.GenericResource') },
  'swarm.Resources',
);

const taskSpec = goStruct(
  'TaskSpec',
  {
    ContainerSpec: containerSpec,
    PluginSpec: goAny(),
    NetworkAttachmentSpec: goAny(),
    Resources: goStruct(
      'ResourceRequirements',
      { Limits: limit, Reservations: resources, SwapBytes: goInt('int64'), MemorySwappiness: goInt('int64') },
      'swarm.ResourceRequirements',
    ),
    RestartPolicy: goStruct(
      'RestartPolicy',
      { Condition: goString(), Delay: goDuration(), MaxAttempts: goInt('uint64'), Window: goDuration() },
      'swarm.RestartPolicy',
    ),
    Placement: goStruct(
      'Placement',
      {
        Constraints: strings(),
        Preferences: goList(goStruct('PlacementPreference', { Spread: goStruct('SpreadOver', { SpreadDescriptor: goString() }, 'swarm.SpreadOver') }, 'swarm.PlacementPreference'), '[]swarm.PlacementPreference'),
        MaxReplicas: goInt('uint64'),
        Platforms: goList(goStruct('Platform', { Architecture: goString(), OS: goString() }, 'swarm.Platform'), '[]swarm.Platform'),
      },
      'swarm.Placement',
    ),
    Networks: goList(networkAttachmentConfig, '[]swarm.NetworkAttachmentConfig'),
    LogDriver: goStruct('Driver', { Name: goString(), Options: stringMap() }, 'swarm.Driver'),
    ForceUpdate: goInt('uint64'),
    Runtime: goString(),
  },
  'swarm.TaskSpec',
);

const updateConfig = goStruct(
  'UpdateConfig',
  {
    Parallelism: goInt('uint64'),
    Delay: goDuration(),
    FailureAction: goString(),
    Monitor: goDuration(),
    MaxFailureRatio: goFloat32(),
    Order: goString(),
  },
  'swarm.UpdateConfig',
);

const emptyStruct = (name: string, goType: string) => goStruct(name, {}, goType);

/** swarm.ServiceSpec as the router reads it (serviceWithLegacy: the deprecated top-level Networks too). */
export const serviceSpecSchema = goStruct(
  'ServiceSpec',
  {
    Name: goString(),
    Labels: stringMap(),
    TaskTemplate: taskSpec,
    Mode: goStruct(
      'ServiceMode',
      {
        Replicated: goStruct('ReplicatedService', { Replicas: goInt('uint64') }, 'swarm.ReplicatedService'),
        Global: emptyStruct('GlobalService', 'swarm.GlobalService'),
        ReplicatedJob: goStruct('ReplicatedJob', { MaxConcurrent: goInt('uint64'), TotalCompletions: goInt('uint64') }, 'swarm.ReplicatedJob'),
        GlobalJob: emptyStruct('GlobalJob', 'swarm.GlobalJob'),
      },
      'swarm.ServiceMode',
    ),
    UpdateConfig: updateConfig,
    RollbackConfig: updateConfig,
    Networks: goList(networkAttachmentConfig, '[]swarm.NetworkAttachmentConfig'),
    EndpointSpec: goStruct(
      'EndpointSpec',
      {
        Mode: goString(),
        Ports: goList(
          goStruct(
            'PortConfig',
            { Name: goString(), Protocol: goString(), TargetPort: goInt('uint32'), PublishedPort: goInt('uint32'), PublishMode: goString() },
            'swarm.PortConfig',
          ),
          '[]swarm.PortConfig',
        ),
      },
      'swarm.EndpointSpec',
    ),
  },
  'swarm.ServiceSpec',
);

/** Drops the fields Go's decoder would not keep (unknown to swarm.ServiceSpec), so nothing else is stored. */
export function knownServiceFields(spec: Static<typeof serviceSpecSchema>): Static<typeof serviceSpecSchema> {
  return Value.Clean(serviceSpecSchema, spec) as Static<typeof serviceSpecSchema>;
}
