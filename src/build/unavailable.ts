import { notImplemented } from '../lib/errors.js';
import type { BuildBackendService } from './types.js';

/**
 * The builder until the engine (build/service.ts) is wired in daemon.ts: /build answers 501 after the
 * context was received and checked, so the route's own checks work without it.
 */
export const unavailableBuilder: BuildBackendService = {
  build: () => Promise.reject(notImplemented('the builder is not available in this daemon')),
  prune: () => Promise.resolve({ CachesDeleted: [], SpaceReclaimed: 0 }),
  diskUsage: () => Promise.resolve([]),
};
