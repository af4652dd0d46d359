import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasDockerRegistry, startDistribution } from './registry-peers.js';

// The fixture itself: a real docker-registry answers, with auth and TLS as asked.
test('docker-registry peer starts plain, with htpasswd and with TLS', { skip: !hasDockerRegistry && 'docker-registry not installed' }, async () => {
  const plain = await startDistribution();
  const secured = await startDistribution({ users: { alice: 's3cret' }, tls: true });
  try {
    assert.equal((await fetch(`${plain.url}/v2/`)).status, 200);
    assert.ok(secured.url.startsWith('https://'));
    assert.ok(secured.ca?.includes('BEGIN CERTIFICATE'));
    // fetch cannot take a CA: the https check is done by the tests that use it; here only the auth answer.
    const { default: https } = await import('node:https');
    const status = await new Promise<number>((resolve, reject) => {
      https.get(`${secured.url}/v2/`, { ca: secured.ca }, (res) => (res.resume(), resolve(res.statusCode ?? 0))).on('error', reject);
    });
    assert.equal(status, 401);
  } finally {
    await plain.stop();
    await secured.stop();
  }
});
