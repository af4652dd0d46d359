/** Service errors -> HTTP statuses: the table lives in lib/error-status.ts, shared with the swarm control plane. */
export { statusOf } from '../lib/error-status.js';
