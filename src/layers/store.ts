import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Readable, Transform } from 'node:stream';
import zlib from 'node:zlib';
import { randomBytes } from 'node:crypto';
import type { Db } from '../store/db.js';
import type { ContentStore, TarSource } from '../content/store.js';
import { sha256Digest } from '../lib/ids.js';
import { decompressed } from '../lib/compression.js';
import { applyLayer } from './apply.js';
import { log } from '../lib/log.js';

export interface Layer {
  chainId: string;
  diffId: string;
  parent: string | null;
  /** Bytes of the unpacked content, as Docker reports a layer's size. */
  size: number;
}

/** The chain id of a layer stack, as the image spec defines it: each layer's id depends on all below it. */
export function chainIdOf(parent: string | null, diffId: string): string {
  return parent === null ? diffId : sha256Digest(`${parent} ${diffId}`);
}

/**
 * Read-only image layers. Each layer is unpacked once into layers/<chain hex>/diff (an overlay lower dir)
 * and its uncompressed tar is kept in the content store under its diffID, so `save` reproduces the exact
 * bytes; a pulled layer keeps instead the compressed blob it came as (its decompression is that tar,
 * verified at the pull), which `save` decompresses. A layer is visible (in the database) only after it is whole; the image service removes layers no
 * image uses any more.
 */
export class LayerStore {
  private readonly dir: string;

  constructor(
    root: string,
    private readonly db: Db,
    private readonly content: ContentStore,
    /** Runs on each freshly unpacked layer before it becomes visible (--userns-remap shifts its owners). */
    private readonly afterUnpack?: (diffDir: string) => Promise<void>,
  ) {
    this.dir = path.join(root, 'layers');
  }

  async init(): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true });
    const known = new Set(this.all().map((l) => l.chainId.slice(7)));
    for (const name of await fs.readdir(this.dir)) {
      if (!known.has(name)) {
        // Left by an interrupted registration or removal: never visible, safe to drop.
        log.debug('removing unreferenced layer directory', { name });
        await fs.rm(path.join(this.dir, name), { recursive: true, force: true });
      }
    }
    for (const layer of this.all()) {
      const ok = await exists(this.diffDir(layer.chainId)) && (await this.hasTar(layer.diffId));
      if (!ok) {
        log.warn('layer is incomplete on disk, forgetting it', { chainId: layer.chainId });
        this.db.prepare('DELETE FROM layers WHERE chain_id = ?').run(layer.chainId);
      }
    }
  }

  get(chainId: string): Layer | undefined {
    const row = this.db.prepare('SELECT * FROM layers WHERE chain_id = ?').get(chainId) as LayerRow | undefined;
    return row && fromRow(row);
  }

  all(): Layer[] {
    return (this.db.prepare('SELECT * FROM layers').all() as LayerRow[]).map(fromRow);
  }

  diffDir(chainId: string): string {
    return path.join(this.dir, chainId.replace(/^sha256:/, ''), 'diff');
  }

  /** Overlay lower dirs for a layer stack, topmost first, as overlayfs's lowerdir= wants them. */
  lowerDirs(chainId: string): string[] {
    const dirs: string[] = [];
    for (let layer = this.get(chainId); layer; layer = layer.parent ? this.get(layer.parent) : undefined) {
      dirs.push(this.diffDir(layer.chainId));
    }
    return dirs;
  }

  /** Chain ids for a list of diff ids, bottom first. */
  chainIds(diffIds: string[]): string[] {
    const out: string[] = [];
    let parent: string | null = null;
    for (const diffId of diffIds) {
      parent = chainIdOf(parent, diffId);
      out.push(parent);
    }
    return out;
  }

  /** Whether the layer's tar can be had: stored itself, or as the compressed blob it was pulled as. */
  async hasTar(diffId: string): Promise<boolean> {
    return (await this.content.has(diffId)) || (await this.content.tarSource(diffId)) !== undefined;
  }

  /**
   * The uncompressed tar of a layer, byte for byte as it was registered: the stored tar, or the
   * decompression of the blob it was pulled as (verified against the diffID when it was pulled).
   */
  async tarStream(diffId: string): Promise<Readable> {
    const source = await this.content.tarSource(diffId);
    if (!source) return this.content.stream(diffId);
    return decompressedTar(this.content.stream(source.blob), source);
  }

  async tarSize(diffId: string): Promise<number> {
    const source = await this.content.tarSource(diffId);
    return source ? source.size : this.content.size(diffId);
  }

  /**
   * Opens the layer's tar for reading later: the file is open now, so it stays readable if the layer is
   * removed meanwhile (image save opens every layer before it writes).
   */
  async openTar(diffId: string): Promise<{ size: number; read: () => Readable | Promise<Readable>; close: () => Promise<void> }> {
    const source = await this.content.tarSource(diffId);
    const handle = await fs.open(this.content.pathOf(source ? source.blob : diffId), 'r');
    const size = source ? source.size : (await handle.stat()).size;
    const raw = () => handle.createReadStream({ start: 0, autoClose: false, highWaterMark: 1024 * 1024 });
    return {
      size,
      read: () => (source ? decompressedTar(raw(), source) : raw()),
      close: () => handle.close(),
    };
  }

  /**
   * Adds a layer on top of `parent` from a tar stream (plain or gzip). If the same chain is already
   * there the stored one is reused. `expectedDiffId`, when known, is verified.
   */
  async register(input: Readable, parent: string | null, expectedDiffId?: string): Promise<Layer> {
    // A tar already stored under its diffID (a pull stages it while other layers download) is not written twice.
    const staged = expectedDiffId !== undefined && (await this.hasTar(expectedDiffId));
    if (staged) input.destroy();
    const blob = staged ? { digest: expectedDiffId } : await this.content.putStream(await decompressed(input), expectedDiffId);
    const existing = this.get(chainIdOf(parent, blob.digest));
    if (existing) return existing;
    const unpacked = await this.unpack(blob.digest);
    try {
      return await this.commit(unpacked, parent);
    } finally {
      await unpacked.discard();
    }
  }

  /**
   * Unpacks a stored layer tar into a directory of its own, not yet visible. A layer's diff dir does not
   * depend on its parent (whiteouts are plain files in it), so layers can be unpacked in parallel and
   * committed in order afterwards. `tar`, when given, is the layer's tar as it is being stored (the
   * caller verifies it); otherwise the stored tar is read (verified when it was stored). Either way the
   * tar is not hashed again here.
   */
  async unpack(diffId: string, tar?: Readable): Promise<UnpackedLayer> {
    return this.unpackInto(diffId, tar ?? (await this.tarStream(diffId)), false);
  }

  /**
   * Unpacks a layer tar that is not stored anywhere yet (a pulled layer, being decompressed from its
   * blob), hashing it on the way: rejects, leaving nothing, unless it is the tar `diffId` names.
   * The result's tarSize is the tar's length, for LayerStore.recordSource.
   */
  async unpackVerified(diffId: string, tar: Readable): Promise<UnpackedLayer & { tarSize: number }> {
    return this.unpackInto(diffId, tar, true);
  }

  private async unpackInto(diffId: string, tar: Readable, verify: boolean): Promise<UnpackedLayer & { tarSize: number }> {
    const staging = path.join(this.dir, `tmp-${randomBytes(8).toString('hex')}`);
    const discard = () => fs.rm(staging, { recursive: true, force: true });
    try {
      await fs.mkdir(path.join(staging, 'diff'), { recursive: true, mode: 0o700 });
      const result = await applyLayer(tar, path.join(staging, 'diff'), { skipDigest: !verify });
      if (verify && result.diffId !== diffId) throw new Error(`digest mismatch: expected ${diffId}, got ${result.diffId}`);
      if (this.afterUnpack) await this.afterUnpack(path.join(staging, 'diff'));
      return { diffId, size: result.size, tarSize: result.tarSize, staging, discard };
    } catch (err) {
      await discard();
      throw err;
    }
  }

  /** Makes an unpacked layer visible on top of `parent` (or returns the one already there). */
  async commit(unpacked: UnpackedLayer, parent: string | null): Promise<Layer> {
    const chainId = chainIdOf(parent, unpacked.diffId);
    const existing = this.get(chainId);
    if (existing) return existing;
    try {
      await fs.rename(unpacked.staging, path.dirname(this.diffDir(chainId)));
    } catch (err) {
      // Another registration of the same chain won the race; use it.
      const winner = this.get(chainId);
      if (winner) return winner;
      throw err;
    }
    const layer: Layer = { chainId, diffId: unpacked.diffId, parent, size: unpacked.size };
    this.db
      .prepare('INSERT OR IGNORE INTO layers (chain_id, diff_id, parent, size, created_at) VALUES (?, ?, ?, ?, ?)')
      .run(chainId, unpacked.diffId, parent, unpacked.size, Date.now());
    return layer;
  }

  /** Removes a layer's row first (so it is never visible half-removed), then its directory. */
  async remove(chainId: string): Promise<void> {
    const layer = this.get(chainId);
    if (!layer) return;
    this.db.prepare('DELETE FROM layers WHERE chain_id = ?').run(chainId);
    await fs.rm(path.dirname(this.diffDir(chainId)), { recursive: true, force: true });
    const stillUsed = this.db.prepare('SELECT 1 FROM layers WHERE diff_id = ?').get(layer.diffId);
    if (!stillUsed) {
      // The compressed blob a pulled layer's tar is made from is left to the image service's garbage collection.
      await this.content.deleteTarSource(layer.diffId);
      await this.content.delete(layer.diffId);
    }
  }
}

/** The tar a compressed layer blob holds, decompressed (zstd where node:zlib has it). */
async function decompressedTar(blob: Readable, source: TarSource): Promise<Readable> {
  const out = await decompressedBlob(blob, source);
  // A reader that stops early (push samples the first MiB) closes the blob file too.
  out.once('close', () => blob.destroy());
  return out;
}

async function decompressedBlob(blob: Readable, source: TarSource): Promise<Readable> {
  if (source.compression === 'gzip') return decompressed(blob);
  const make = (zlib as unknown as { createZstdDecompress?: () => Transform }).createZstdDecompress;
  if (!make) {
    blob.destroy();
    throw new Error(`zstd-compressed layer ${source.blob} cannot be read: this Node.js ${process.version} has no zstd in node:zlib`);
  }
  const z = make();
  blob.on('error', (err) => z.destroy(err));
  // As the pull read it: what zstd gives is looked at again (a gzip inside is undone too).
  return decompressed(blob.pipe(z));
}

/** A layer unpacked by LayerStore.unpack, waiting to be committed; `discard` removes what is left of it. */
export interface UnpackedLayer {
  diffId: string;
  size: number;
  staging: string;
  discard: () => Promise<void>;
}

interface LayerRow {
  chain_id: string;
  diff_id: string;
  parent: string | null;
  size: number;
}

function fromRow(r: LayerRow): Layer {
  return { chainId: r.chain_id, diffId: r.diff_id, parent: r.parent, size: r.size };
}

async function exists(p: string): Promise<boolean> {
  return fs.access(p).then(
    () => true,
    () => false,
  );
}
