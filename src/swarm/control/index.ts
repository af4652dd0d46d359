/** The node-to-node control plane: HTTPS with mutual TLS (docs/swarm.md "The control plane"). */
export { ControlServer, MAX_BODY, CA_PATH, tlsClusterFromPem, type ControlRequest, type RouteOptions, type Method } from './server.js';
export { ControlClient, splitHostPort, type ControlClientOptions } from './client.js';
export { requestJoin, requestJoinPinned, pickPinnedRoot, JOIN_PATH } from './join.js';
export { peerFromCert, type ControlTls, type Peer, type Role, type WireError } from './wire.js';
