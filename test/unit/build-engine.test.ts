import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { openDb } from '../../src/store/db.js';
import { BuildCache, cacheKey } from '../../src/build/cache.js';
import { BuildArgsRoot } from '../../src/build/args.js';
import { applyMetadata, goDuration, type Expander } from '../../src/build/metadata.js';
import { neededStages, stageDeps } from '../../src/build/graph.js';
import type { Dockerfile, FromInstruction, Instruction, Stage } from '../../src/build/dockerfile/types.js';
import type { ImageRunConfig } from '../../src/images/changes.js';

const loc = { file: 'Dockerfile', startLine: 1, endLine: 1 };
const plain: Expander = { word: (w) => w, words: (w) => w.split(/\s+/) };

function stage(index: number, image: string, name: string | undefined, instructions: Instruction[] = []): Stage {
  const from: FromInstruction = { kind: 'FROM', image, stageName: name, loc, original: `FROM ${image}` };
  return { index, from, instructions };
}
function copyFrom(from: string): Instruction {
  return { kind: 'COPY', sources: ['/x'], heredocs: [], dest: '/x', from, link: false, exclude: [], parents: false, loc, original: `COPY --from=${from} /x /x` };
}
function df(stages: Stage[]): Dockerfile {
  return { directives: { escape: '\\' }, metaArgs: [], stages, warnings: [] };
}

describe('stage graph', () => {
  test('only the stages the target needs, through FROM and COPY --from', () => {
    const d = df([stage(0, 'busybox', 'a'), stage(1, 'busybox', 'unused'), stage(2, 'a', 'b', [copyFrom('0')]), stage(3, 'busybox', undefined, [copyFrom('b')])]);
    const deps = (i: number) => stageDeps(d, d.stages[i]!, (w) => w);
    assert.deepEqual(deps(2), [0]);
    assert.deepEqual(neededStages(d, 3, deps), [0, 2, 3]);
    assert.deepEqual(neededStages(d, 1, deps), [1]);
  });

  test('a cycle between stages is refused with the stages named', () => {
    const d = df([stage(0, 'busybox', 'a', [copyFrom('b')]), stage(1, 'busybox', 'b', [copyFrom('a')])]);
    const deps = (i: number) => stageDeps(d, d.stages[i]!, (w) => w);
    assert.throws(() => neededStages(d, 1, deps), /circular dependency detected on stage: b -> a -> b/);
  });

  test('a stage index out of range is an error, an unknown name is an image', () => {
    const d = df([stage(0, 'busybox', 'a', [copyFrom('7')])]);
    assert.throws(() => stageDeps(d, d.stages[0]!, (w) => w), /does not exist/);
    const e = df([stage(0, 'busybox', 'a', [copyFrom('alpine:3')])]);
    assert.deepEqual(stageDeps(e, e.stages[0]!, (w) => w), []);
  });
});

describe('build args', () => {
  test('given args override defaults; ARG without a default takes the meta arg; undeclared ones are reported', () => {
    const root = new BuildArgsRoot({ V: 'given', META: 'm2', EXTRA: 'x', HTTP_PROXY: 'http://p', NULLED: null });
    root.declareMeta('META', 'm1');
    const s = root.stage();
    s.declare('V', 'default');
    s.declare('META', undefined);
    s.declare('D', 'd');
    assert.deepEqual(Object.fromEntries(s.runEnv([])), { V: 'given', META: 'm2', D: 'd', HTTP_PROXY: 'http://p' });
    // ENV shadows an ARG of the same name; proxy args stay out of the history.
    assert.deepEqual(s.historyArgs(['D=env']), ['META=m2', 'V=given']);
    assert.equal(s.lookup(['D=env'])('D'), 'env');
    assert.deepEqual(root.unconsumed(), ['EXTRA']);
  });
});

describe('metadata instructions', () => {
  test('ENTRYPOINT resets an inherited CMD but not one set in the stage; history texts as the classic builder', () => {
    const cfg: ImageRunConfig = { Cmd: ['sh'] };
    const st = { cmdSet: false };
    const r = applyMetadata({ kind: 'ENTRYPOINT', command: { form: 'exec', args: ['/bin/app'] }, loc, original: '' }, cfg, plain, st);
    assert.equal(cfg.Cmd, null);
    assert.equal(r.comment, 'ENTRYPOINT ["/bin/app"]');
    applyMetadata({ kind: 'CMD', command: { form: 'shell', text: 'run it' }, loc, original: '' }, cfg, plain, st);
    assert.deepEqual(cfg.Cmd, ['/bin/sh', '-c', 'run it']);
    applyMetadata({ kind: 'ENTRYPOINT', command: { form: 'exec', args: ['/bin/other'] }, loc, original: '' }, cfg, plain, st);
    assert.deepEqual(cfg.Cmd, ['/bin/sh', '-c', 'run it']);
  });

  test('ENV replaces in place, WORKDIR is relative to the last one, EXPOSE takes ranges', () => {
    const cfg: ImageRunConfig = { Env: ['PATH=/bin', 'A=1'] };
    const st = { cmdSet: false };
    const r = applyMetadata({ kind: 'ENV', pairs: [{ key: 'PATH', value: '/x' }, { key: 'B', value: '2' }], loc, original: '' }, cfg, plain, st);
    assert.deepEqual(cfg.Env, ['PATH=/x', 'A=1', 'B=2']);
    assert.equal(r.comment, 'ENV PATH=/x B=2');
    applyMetadata({ kind: 'WORKDIR', value: '/app', loc, original: '' }, cfg, plain, st);
    applyMetadata({ kind: 'WORKDIR', value: 'sub/', loc, original: '' }, cfg, plain, st);
    assert.equal(cfg.WorkingDir, '/app/sub');
    applyMetadata({ kind: 'EXPOSE', values: ['80', '53/udp', '8000-8001'], loc, original: '' }, cfg, plain, st);
    assert.deepEqual(Object.keys(cfg.ExposedPorts!), ['80/tcp', '53/udp', '8000/tcp', '8001/tcp']);
    assert.throws(() => applyMetadata({ kind: 'EXPOSE', values: ['eighty'], loc, original: '' }, cfg, plain, st), /Invalid containerPort: eighty/);
  });

  test('HEALTHCHECK records the config and the Go-formatted history text', () => {
    const cfg: ImageRunConfig = {};
    const r = applyMetadata({ kind: 'HEALTHCHECK', test: ['CMD-SHELL', 'true'], interval: 30e9, retries: 3, loc, original: '' }, cfg, plain, { cmdSet: false });
    assert.deepEqual(cfg.Healthcheck, { Test: ['CMD-SHELL', 'true'], Interval: 30e9, Retries: 3 });
    assert.equal(r.comment, `HEALTHCHECK &{["CMD-SHELL" "true"] "30s" "0s" "0s" '\\x03'}`);
    assert.equal(goDuration(90e9), '1m30s');
    assert.equal(goDuration(1.5e9), '1.5s');
    assert.equal(goDuration(5e8), '500ms');
  });
});

describe('build cache store', () => {
  test('rows survive reopening, keep their layers in use, and prune by keep-storage', () => {
    const db = openDb(':memory:');
    const cache = new BuildCache(db);
    const k1 = cacheKey(['sha256:base', 'RUN a']);
    const k2 = cacheKey([k1, 'RUN b']);
    assert.notEqual(k1, cacheKey(['sha256:base', 'RUN a', 'ARG=1']));
    cache.store({ key: k1, parentKey: 'sha256:base', description: 'RUN a', config: '{}', topChainId: 'sha256:l1', size: 100 });
    cache.store({ key: k2, parentKey: k1, description: 'RUN b', config: '{}', topChainId: 'sha256:l2', size: 50 });
    assert.deepEqual(cache.layerUses().map((u) => u.topChainId).sort(), ['sha256:l1', 'sha256:l2']);
    assert.equal(cache.lookup(k1, () => true)?.description, 'RUN a');
    // A row whose layer went away is not a hit, and goes.
    assert.equal(cache.lookup(k2, (c) => c !== 'sha256:l2'), undefined);
    assert.equal(cache.records().length, 1);
    cache.store({ key: k2, parentKey: k1, description: 'RUN b', config: '{}', topChainId: 'sha256:l2', size: 50 });
    const rec = cache.records().find((r) => r.Description === 'RUN b')!;
    assert.deepEqual(rec.Parents, [k1.slice(7, 32)]);
    const pruned = cache.prune({ all: false, filters: {}, keepStorage: 60 });
    assert.equal(pruned.size, 100);
    assert.equal(cache.records().length, 1);
    assert.equal(cache.prune({ all: true, filters: {} }).ids.length, 1);
  });
});
