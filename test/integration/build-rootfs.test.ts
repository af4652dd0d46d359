import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, linkSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { prepareCopy, type CopySpec } from '../../src/build/copy.js';
import { mountImageRootfs } from '../../src/build/rootfs.js';
import { ContentStore } from '../../src/content/store.js';
import { isMounted } from '../../src/layers/mount.js';
import { LayerStore } from '../../src/layers/store.js';
import { openDb, type Db } from '../../src/store/db.js';

/** Real overlay mounts of real layers (made by COPY itself): needs root. */
describe('build rootfs: read-only views of images', { skip: process.getuid?.() !== 0 ? 'needs root' : false }, () => {
  let base = '';
  let db: Db;
  let layers: LayerStore;
  let ctx = '';
  let scratch = '';

  before(async () => {
    base = mkdtempSync(path.join(os.tmpdir(), 'berth-rootfs-test-'));
    db = openDb(path.join(base, 'berth.db'));
    const content = new ContentStore(path.join(base, 'content'));
    await content.init();
    layers = new LayerStore(base, db, content);
    await layers.init();
    ctx = path.join(base, 'ctx');
    scratch = path.join(base, 'scratch');
    mkdirSync(ctx);
    writeFileSync(path.join(ctx, 'one'), 'first');
    writeFileSync(path.join(ctx, 'two'), 'second');
  });

  after(() => {
    db.close();
    rmSync(base, { recursive: true, force: true });
  });

  /** A layer made by COPY on top of `parent`, viewed through a mount of `parent` as the target root. */
  async function copyLayer(parent: string | null, source: string, dest: string): Promise<string> {
    const view = await mountImageRootfs(layers, parent, scratch);
    try {
      const spec: CopySpec = { add: false, sources: [source], heredocs: [], dest, workdir: '', exclude: [], parents: false, link: false };
      const prepared = await prepareCopy(spec, { sourceRoot: ctx, fromContext: true, targetRoot: view.path, signal: new AbortController().signal });
      const layer = await layers.register(prepared.layer(), parent);
      await prepared.dispose();
      return layer.chainId;
    } finally {
      await view.release();
    }
  }

  it('shows scratch as an empty directory, one layer, and a stack of layers; read-only; released cleanly', async () => {
    const empty = await mountImageRootfs(layers, null, scratch);
    assert.deepEqual(readdirSync(empty.path), []);
    await empty.release();
    assert.ok(!existsSync(empty.path));

    const first = await copyLayer(null, 'one', '/data/');
    const single = await mountImageRootfs(layers, first, scratch);
    try {
      assert.ok(isMounted(single.path));
      assert.equal(readFileSync(path.join(single.path, 'data/one'), 'utf8'), 'first');
      assert.throws(() => writeFileSync(path.join(single.path, 'data/new'), 'x'), /EROFS/);
    } finally {
      await single.release();
    }
    assert.ok(!isMounted(single.path));
    assert.ok(!existsSync(path.dirname(single.path)));

    const second = await copyLayer(first, 'two', '/data/');
    const stack = await mountImageRootfs(layers, second, scratch);
    try {
      assert.deepEqual(readdirSync(path.join(stack.path, 'data')).sort(), ['one', 'two']);
      assert.equal(statSync(path.join(stack.path, 'data')).mode & 0o7777, 0o755);
    } finally {
      await stack.release();
      await stack.release(); // twice is harmless
    }
    assert.deepEqual(readdirSync(scratch), []);
  });

  it('applies a copied tree with hard links as hard links', async () => {
    mkdirSync(path.join(ctx, 'tree'));
    writeFileSync(path.join(ctx, 'tree/bin'), 'binary');
    linkSync(path.join(ctx, 'tree/bin'), path.join(ctx, 'tree/alias'));
    const top = await copyLayer(null, 'tree', '/t');
    const view = await mountImageRootfs(layers, top, scratch);
    try {
      assert.equal(statSync(path.join(view.path, 't/alias')).ino, statSync(path.join(view.path, 't/bin')).ino);
      assert.equal(readFileSync(path.join(view.path, 't/alias'), 'utf8'), 'binary');
    } finally {
      await view.release();
    }
  });

  it('leaves nothing behind when the image is unknown', async () => {
    await assert.rejects(mountImageRootfs(layers, `sha256:${'0'.repeat(64)}`, scratch), /not in the layer store/);
    assert.deepEqual(readdirSync(scratch), []);
  });
});
