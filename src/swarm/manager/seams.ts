/**
 * The other parts the manager is built on, in one place so that switching a stand-in for the real
 * part is one line. TODO(integration): ca/ and control/ from helper ca-control.
 */
export * from './standin/ca.js';
export * from './standin/control.js';
