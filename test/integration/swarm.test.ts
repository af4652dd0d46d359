import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { TestDaemon } from './harness.js';

const NOT_A_MANAGER = 'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.';

/** A node in no swarm answers swarm endpoints as a dockerd that is in no swarm. */
describe('swarm endpoints outside a swarm', () => {
  const d = new TestDaemon();
  before(() => d.start());
  after(() => d.stop());

  test('POST /swarm/leave answers 503 "not part of a swarm" (docker-py leave_swarm(force=True) ignores it)', async () => {
    for (const path of ['/v1.50/swarm/leave?force=True', '/swarm/leave']) {
      const r = await d.request('POST', path);
      assert.equal(r.status, 503, path);
      assert.deepEqual(r.json(), { message: 'This node is not part of a swarm' });
    }
  });

  test('manager-only endpoints answer 503 "not a swarm manager"', async () => {
    const calls: Array<[string, string]> = [
      ['GET', '/swarm'],
      ['GET', '/v1.41/swarm/unlockkey'],
      ['GET', '/nodes'],
      ['GET', '/services'],
      ['GET', '/services/web'],
      ['GET', '/services/web/logs'],
      ['POST', '/services/create'],
      ['DELETE', '/services/web'],
      ['GET', '/tasks'],
      ['GET', '/secrets'],
      ['POST', '/secrets/create'],
      ['GET', '/configs/abc'],
      ['POST', '/nodes/abc/update'],
    ];
    for (const [method, path] of calls) {
      const r = await d.request(method, path, method === 'POST' ? {} : undefined);
      assert.equal(r.status, 503, `${method} ${path}`);
      assert.deepEqual(r.json(), { message: NOT_A_MANAGER }, `${method} ${path}`);
    }
  });

  test('join without managers, unlock and update outside a swarm: dockerd\'s answers, nothing left behind', async () => {
    let r = await d.request('POST', '/swarm/join', { ListenAddr: '127.0.0.1:0', JoinToken: 'x' });
    assert.equal(r.status, 400);
    assert.deepEqual(r.json(), { message: 'at least 1 RemoteAddr is required to join' });
    r = await d.request('POST', '/swarm/join', { ListenAddr: '127.0.0.1:0', RemoteAddrs: ['127.0.0.1:1'], JoinToken: 'SWMTKN-1-bad' });
    assert.equal(r.status, 400);
    assert.deepEqual(r.json(), { message: 'invalid join token' });
    r = await d.request('POST', '/swarm/unlock', { UnlockKey: 'SWMKEY-1-x' });
    assert.equal(r.status, 503);
    assert.deepEqual(r.json(), { message: NOT_A_MANAGER });
    r = await d.request('POST', '/swarm/update?version=1', {});
    assert.equal(r.status, 503);
    r = await d.request('GET', '/info');
    assert.equal(r.json().Swarm.LocalNodeState, 'inactive');
    assert.equal(existsSync(path.join(d.dataRoot, 'swarm')), false);
  });
});
