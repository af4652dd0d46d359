import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { TestDaemon } from './harness.js';

const NOT_A_MANAGER = 'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.';

/** Berth has no swarm mode: it answers swarm endpoints as a dockerd that is in no swarm. */
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

  test('init and join say swarm mode is not supported', async () => {
    const r = await d.request('POST', '/swarm/init', { ListenAddr: '127.0.0.1' });
    assert.equal(r.status, 501);
    assert.match(r.json<{ message: string }>().message, /swarm mode is not supported/);
  });
});
