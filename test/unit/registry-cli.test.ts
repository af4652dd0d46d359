import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from '../../src/cli/args.js';
import { rootCommand } from '../../src/cli/commands/index.js';
import { parseAddr, serveOptions } from '../../src/cli/commands/registry.js';

function flagsOf(argv: string[]) {
  const r = resolve(rootCommand, ['registry', 'serve', ...argv]);
  assert.equal(r.kind, 'run');
  if (r.kind !== 'run') throw new Error('unreachable');
  return r.flags;
}

test('--addr forms', () => {
  assert.deepEqual(parseAddr('127.0.0.1:5000'), { host: '127.0.0.1', port: 5000 });
  assert.deepEqual(parseAddr('[::1]:0'), { host: '::1', port: 0 });
  assert.deepEqual(parseAddr(':5000'), { host: '0.0.0.0', port: 5000 });
  for (const bad of ['5000', 'host', 'a:b', '1.2.3.4:70000', '']) assert.throws(() => parseAddr(bad), /invalid --addr/, bad);
});

test('registry serve flags become server options', () => {
  const o = serveOptions(
    flagsOf([
      '--addr', '127.0.0.1:0', '--root', '/srv/reg', '--upload-expiry', '2h', '--gc-interval', '30m', '--gc-grace', '90s',
      '--htpasswd', '/etc/htp', '--token-issue', '--token-service', 'svc',
      '--tls-cert', 'c.pem', '--tls-key', 'k.pem',
      '--proxy-remote', 'https://up.example', '--proxy-username', 'u', '--proxy-password', 'p', '--proxy-tag-ttl', '0',
    ]),
  );
  assert.deepEqual(o, {
    root: '/srv/reg', host: '127.0.0.1', port: 0, uploadExpiryMs: 7_200_000, gcIntervalMs: 1_800_000, gcGraceMs: 90_000,
    htpasswd: '/etc/htp', tokenIssue: true, tokenService: 'svc', tls: { cert: 'c.pem', key: 'k.pem' },
    proxy: { remote: 'https://up.example', tagTtlMs: 0, cacheTtlMs: 168 * 3_600_000, username: 'u', password: 'p' },
  });
  const d = serveOptions(flagsOf(['--root', 'x']));
  assert.equal(d.port, 5000);
  assert.equal(d.uploadExpiryMs, 24 * 3_600_000);
  assert.equal(d.gcGraceMs, 3_600_000);
  assert.equal(d.gcIntervalMs, 0);
  assert.equal(d.proxy, undefined);
  assert.equal(d.readOnly, undefined);
  assert.equal(serveOptions(flagsOf(['--root', 'x', '--read-only'])).readOnly, true);
  assert.throws(() => serveOptions(flagsOf([])), /--root is required/);
  assert.throws(() => serveOptions(flagsOf(['--root', 'x', '--tls-cert', 'c'])), /go together/);
  assert.throws(() => serveOptions(flagsOf(['--root', 'x', '--proxy-remote', 'ftp://x'])), /invalid --proxy-remote/);
  assert.throws(() => serveOptions(flagsOf(['--root', 'x', '--upload-expiry', 'forever'])), /invalid duration/);
});
