/**
 * The other parts the manager is built on, in one place so that switching a part is one line:
 * the swarm CA (ca/) and the node-to-node transport (control/).
 */
export * from '../ca/index.js';
export * from '../control/index.js';
