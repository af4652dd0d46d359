/** Schemas of the network and volume bodies dockerd reads (network.CreateRequest, volume.CreateOptions, ...). */
import { goAny, goBool, goList, goMap, goString, goStruct } from './decode.js';
import { endpointSettings } from './container.js';

const stringMap = () => goMap(goString());

const ipamConfig = goStruct(
  'IPAMConfig',
  { Subnet: goString(), IPRange: goString(), Gateway: goString(), AuxiliaryAddresses: stringMap() },
  'network.IPAMConfig',
);

/** POST /networks/create: network.CreateRequest, CreateOptions embedded. */
export const networkCreateRequest = goStruct(
  'CreateRequest',
  {
    Name: goString(),
    CheckDuplicate: goBool(),
    Driver: goString(),
    Scope: goString(),
    EnableIPv4: goBool(),
    EnableIPv6: goBool(),
    IPAM: goStruct('IPAM', { Driver: goString(), Options: stringMap(), Config: goList(ipamConfig, '[]network.IPAMConfig') }, 'network.IPAM'),
    Internal: goBool(),
    Attachable: goBool(),
    Ingress: goBool(),
    ConfigOnly: goBool(),
    ConfigFrom: goStruct('ConfigReference', { Network: goString() }, 'network.ConfigReference'),
    Options: stringMap(),
    Labels: stringMap(),
  },
  'network.CreateRequest',
);

/** POST /networks/{id}/connect: network.ConnectOptions. */
export const networkConnectOptions = goStruct('ConnectOptions', { Container: goString(), EndpointConfig: endpointSettings }, 'network.ConnectOptions');

/** POST /networks/{id}/disconnect: network.DisconnectOptions. */
export const networkDisconnectOptions = goStruct('DisconnectOptions', { Container: goString(), Force: goBool() }, 'network.DisconnectOptions');

/** POST /volumes/create: volume.CreateOptions. */
export const volumeCreateOptions = goStruct(
  'CreateOptions',
  { Name: goString(), Driver: goString(), DriverOpts: stringMap(), Labels: stringMap(), ClusterVolumeSpec: goAny() },
  'volume.CreateOptions',
);
