import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDb, type Db } from '../../src/store/db.js';
import { EventBus } from '../../src/events/bus.js';
import { VolumeService } from '../../src/volumes/service.js';
import { persistedVolumeUsers } from '../../src/containers/store.js';

describe('volume users come from the persisted container records', () => {
  let root: string;
  let db: Db;
  beforeEach(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-wiring-test-'));
    db = openDb(path.join(root, 'berth.db'));
  });
  afterEach(async () => {
    db.close();
    await fs.rm(root, { recursive: true, force: true });
  });

  const record = (id: string, name: string, mountPoints: unknown[] | undefined) =>
    db.prepare('INSERT INTO containers (id, name, data) VALUES (?, ?, ?)').run(id, name, JSON.stringify({ id, name, mountPoints }));

  it('names each container whose record mounts the volume, once', () => {
    record('a1', 'one', [{ Type: 'volume', Name: 'data', Destination: '/d' }, { Type: 'volume', Name: 'data', Destination: '/e' }]);
    record('b2', 'two', [{ Type: 'bind', Name: 'data', Source: '/x', Destination: '/d' }, { Type: 'volume', Name: 'other', Destination: '/o' }]);
    record('c3', 'three', undefined);
    const users = persistedVolumeUsers(db);
    assert.deepEqual(users.containersUsing('data'), ['a1']);
    assert.deepEqual(users.containersUsing('other'), ['b2']);
    assert.deepEqual(users.containersUsing('none'), []);
  });

  it('a volume service built before any container service already refuses to remove a volume in use', async () => {
    const volumes = new VolumeService(db, new EventBus(), root, persistedVolumeUsers(db));
    await volumes.init();
    await volumes.create({ name: 'data' });
    record('a1', 'one', [{ Type: 'volume', Name: 'data', Destination: '/d' }]);
    await assert.rejects(volumes.remove('data'), /remove data: volume is in use - \[a1\]/);
    db.prepare('DELETE FROM containers').run();
    await volumes.remove('data');
  });
});
