/**
 * Read-modify-write that starts from a copy the caller already holds (a watched mirror's): usually
 * current, so the write needs no read of the store first; a conflict (the copy lagged) falls back to
 * Collection.modify, which reads the store.
 */
import { isKind } from '../../lib/errors.js';
import type { Collection } from '../contracts.js';
import type { StoredObject } from '../types.js';

export async function modifyHeld<T extends StoredObject>(
  collection: Collection<T>,
  id: string,
  held: T | undefined,
  change: (current: T) => T | undefined,
): Promise<T | undefined> {
  if (held) {
    const next = change(structuredClone(held));
    if (!next) return held;
    try {
      return await collection.update(next);
    } catch (err) {
      if (!isKind(err, 'Conflict')) throw err;
    }
  }
  return collection.modify(id, change);
}
