import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FlagValues, parseFlags } from '../../src/cli/args.js';
import { GLOBAL_FLAGS } from '../../src/cli/commands/index.js';
import { contextName, dockerEndpoint } from '../../src/cli/docker-context.js';
import { CliError } from '../../src/cli/errors.js';

/** The plugin's global flags: docker's, with --context. */
const FLAGS = [...GLOBAL_FLAGS, { name: 'context', short: 'c', type: 'string' as const, usage: '' }];
const globals = (argv: string[]): FlagValues => parseFlags(FLAGS, argv, false).flags;

describe('the plugin chooses the daemon as the docker CLI does', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'berth-plugin-unit-'));
    const id = createHash('sha256').update('remote').digest('hex');
    mkdirSync(path.join(dir, 'contexts', 'meta', id), { recursive: true });
    writeFileSync(
      path.join(dir, 'contexts', 'meta', id, 'meta.json'),
      JSON.stringify({ Name: 'remote', Metadata: {}, Endpoints: { docker: { Host: 'unix:///run/remote.sock', SkipTLSVerify: false } } }),
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('context: --context, then default for -H or DOCKER_HOST, then DOCKER_CONTEXT, then currentContext', () => {
    assert.equal(contextName(globals(['--context', 'remote']), {}, dir), 'remote');
    assert.equal(contextName(globals(['-H', 'unix:///x.sock']), { DOCKER_CONTEXT: 'remote' }, dir), 'default');
    assert.equal(contextName(globals([]), { DOCKER_HOST: 'unix:///x.sock', DOCKER_CONTEXT: 'remote' }, dir), 'default');
    assert.equal(contextName(globals([]), { DOCKER_CONTEXT: 'remote' }, dir), 'remote');
    assert.equal(contextName(globals([]), {}, dir), 'default');
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ currentContext: 'remote' }));
    try {
      assert.equal(contextName(globals([]), {}, dir), 'remote');
    } finally {
      rmSync(path.join(dir, 'config.json'));
    }
    assert.throws(() => contextName(globals(['-c', 'remote', '-H', 'unix:///x.sock']), {}, dir), /conflicting options: cannot specify both --host and --context/);
  });

  test('the default context: -H, then DOCKER_HOST, then docker\'s socket (not Berth\'s)', () => {
    const env = { DOCKER_CONFIG: dir, BERTH_HOST: 'unix:///run/berth/berth.sock' };
    assert.equal(dockerEndpoint(globals(['-H', 'unix:///a.sock']), { ...env, DOCKER_HOST: 'unix:///b.sock' }).endpoint.display, 'unix:///a.sock');
    assert.equal(dockerEndpoint(globals([]), { ...env, DOCKER_HOST: 'unix:///b.sock' }).endpoint.display, 'unix:///b.sock');
    assert.equal(dockerEndpoint(globals(['--context=default']), env).endpoint.display, 'unix:///var/run/docker.sock');
    assert.equal(dockerEndpoint(globals(['-H', 'tcp://127.0.0.1:2375']), env).endpoint.display, 'tcp://127.0.0.1:2375');
  });

  test('a stored context gives its endpoint; an unknown one is docker\'s error', () => {
    const env = { DOCKER_CONFIG: dir };
    assert.equal(dockerEndpoint(globals(['--context', 'remote']), env).endpoint.display, 'unix:///run/remote.sock');
    assert.equal(dockerEndpoint(globals(['--config', dir]), { DOCKER_CONTEXT: 'remote' }).endpoint.display, 'unix:///run/remote.sock');
    assert.throws(
      () => dockerEndpoint(globals(['--context', 'nope']), env),
      (err: unknown) => err instanceof CliError && /^context "nope": context not found: open .*meta\.json: no such file or directory$/.test(err.message),
    );
  });
});
