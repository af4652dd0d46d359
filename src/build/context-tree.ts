/**
 * A build context held in memory as it streams in: what unpacking it would make (context.ts's rules,
 * with the same errors), so a fully cached build never writes it to disk. It answers the Dockerfile's text
 * and, for COPY's cache key, a digest of the files a source names; anything it cannot answer exactly
 * (links on the way, `..`) it leaves to the unpacked directory (`undefined` / `'disk'`).
 */
import { createHash } from 'node:crypto';
import type tar from 'tar-stream';
import { invalidArgument } from '../lib/errors.js';
import { cleanSourcePath, containsWildcards } from './copy-paths.js';

interface TreeNode {
  type: 'directory' | 'file' | 'symlink';
  mode: number;
  uid: number;
  gid: number;
  linkname?: string;
  data?: Buffer;
  /** sha256 of data, made when first asked. */
  digest?: string;
}

/** Answers that need the unpacked directory. */
export type DiskNeeded = 'disk';

export class ContextTree {
  private readonly nodes = new Map<string, TreeNode>();
  /** Content bytes held. */
  bytes = 0;

  constructor() {
    // mkdtemp makes the root 0700; an entry for `.` makes it 0755 (context.ts).
    this.nodes.set('', { type: 'directory', mode: 0o700, uid: 0, gid: 0 });
  }

  /**
   * One tar entry, checked as context.ts's unpackEntry checks it. `key` is its contextName. Returns false
   * for what the tree does not model (hard links): the caller unpacks to disk from there on.
   */
  add(key: string, header: tar.Header, data: Buffer): boolean {
    const type = header.type ?? 'file';
    const mode = (header.mode ?? 0o644) & 0o7777;
    if (type === 'link') return false;
    if (key === '') {
      if (type !== 'directory') throw invalidArgument(`invalid build context: entry ${JSON.stringify(header.name)} has no name`);
      this.nodes.get('')!.mode = 0o755;
      return true;
    }
    this.makeParents(key);
    const existing = this.nodes.get(key);
    const owner = { uid: header.uid ?? 0, gid: header.gid ?? 0 };
    switch (type) {
      case 'directory':
        if (existing?.type === 'directory') existing.mode = mode;
        else this.nodes.set(key, { type: 'directory', mode, ...owner });
        return true;
      case 'file':
      case 'contiguous-file':
        if (existing?.type === 'directory') throw invalidArgument(`invalid build context: ${JSON.stringify(header.name)} replaces a directory`);
        this.bytes += data.length;
        this.nodes.set(key, { type: 'file', mode, ...owner, data });
        return true;
      case 'symlink': {
        const target = header.linkname ?? '';
        if (!target || target.includes('\0')) throw invalidArgument(`invalid build context: symlink ${JSON.stringify(header.name)} has no target`);
        if (existing?.type === 'directory') throw invalidArgument(`invalid build context: ${JSON.stringify(header.name)} replaces a directory`);
        this.nodes.set(key, { type: 'symlink', mode, ...owner, linkname: target });
        return true;
      }
      default:
        // Devices, fifos and unknown types are skipped; their parents were made, as when unpacking.
        return true;
    }
  }

  private makeParents(key: string): void {
    const parts = key.split('/');
    for (let i = 1; i < parts.length; i++) {
      const prefix = parts.slice(0, i).join('/');
      const st = this.nodes.get(prefix);
      if (st?.type === 'directory') continue;
      if (st) throw invalidArgument(`invalid build context: ${JSON.stringify(key)} is below ${st.type === 'symlink' ? 'a symlink' : 'a file'} (${prefix})`);
      this.nodes.set(prefix, { type: 'directory', mode: 0o755, uid: 0, gid: 0 });
    }
  }

  /** The node at a plain path whose parents are all directories; 'disk' when a link or `..` is on the way. */
  private plain(name: string): TreeNode | undefined | DiskNeeded {
    const parts = name.split('/').filter((p) => p !== '' && p !== '.');
    if (parts.includes('..')) return 'disk';
    for (let i = 0; i < parts.length; i++) {
      const node = this.nodes.get(parts.slice(0, i + 1).join('/'));
      if (!node) return undefined;
      if (node.type === 'symlink') return 'disk';
      if (node.type === 'file' && i < parts.length - 1) return 'disk';
    }
    return this.nodes.get(parts.join('/'));
  }

  /** The Dockerfile as context.ts's readDockerfile finds it, or 'disk' when links are involved. */
  dockerfile(name: string, fallback: string | undefined, fullPath: (rel: string) => string): { path: string; text: string } | DiskNeeded {
    const node = this.plain(name);
    if (node === 'disk') return 'disk';
    if (!node) {
      if (fallback !== undefined) {
        const lower = this.plain(fallback);
        if (lower === 'disk') return 'disk';
        if (lower?.type === 'file') return this.dockerfile(fallback, undefined, fullPath);
      }
      throw invalidArgument(`Cannot locate specified Dockerfile: ${name}`);
    }
    if (node.type !== 'file') throw invalidArgument(`unexpected error reading Dockerfile: read ${fullPath(name.split('/').filter((p) => p !== '' && p !== '.').join('/'))}: is a directory`);
    const text = node.data!.toString('utf8');
    if (text.length === 0) throw invalidArgument(`the Dockerfile (${name}) cannot be empty`);
    return { path: name, text };
  }

  /** .dockerignore's text ('' when there is none or it is not a file), or 'disk' when it is a link. */
  dockerignore(): string | undefined | DiskNeeded {
    const node = this.plain('.dockerignore');
    if (node === 'disk') return 'disk';
    return node?.type === 'file' ? node.data!.toString('utf8') : undefined;
  }

  /** Removes `rel` and what is below it (rm -rf); 'disk' when a link is on its way. */
  remove(rel: string): void | DiskNeeded {
    const parts = rel.split('/').filter((p) => p !== '' && p !== '.');
    if (parts.includes('..') || !parts.length) return 'disk';
    for (let i = 0; i < parts.length - 1; i++) {
      const node = this.nodes.get(parts.slice(0, i + 1).join('/'));
      if (!node) return;
      if (node.type !== 'directory') return 'disk';
    }
    const key = parts.join('/');
    this.nodes.delete(key);
    for (const k of [...this.nodes.keys()]) if (k.startsWith(`${key}/`)) this.nodes.delete(k);
  }

  /**
   * A digest of everything COPY's `sources` name (each a file or a directory tree: names, types, modes,
   * owners, link targets, contents; not times), or undefined when a source is not a plain existing path
   * (wildcards, links on the way, `..`): then only the unpacked context can say.
   */
  digestOf(sources: string[]): string | undefined {
    const hash = createHash('sha256');
    for (const source of sources) {
      if (containsWildcards(source)) return undefined;
      const cleaned = cleanSourcePath(source);
      const node = this.plain(cleaned);
      if (!node || node === 'disk' || node.type === 'symlink') return undefined;
      if (cleaned.endsWith('/') && node.type !== 'directory') return undefined;
      const key = cleaned.split('/').filter((p) => p !== '' && p !== '.').join('/');
      hash.update(JSON.stringify(['source', source]));
      hash.update(this.line('', node));
      if (node.type !== 'directory') continue;
      const prefix = key === '' ? '' : `${key}/`;
      const below = [...this.nodes.keys()].filter((k) => k !== '' && k.startsWith(prefix)).sort();
      for (const k of below) hash.update(this.line(k.slice(prefix.length), this.nodes.get(k)!));
    }
    return `sha256:${hash.digest('hex')}`;
  }

  private line(rel: string, n: TreeNode): string {
    if (n.type === 'file' && n.digest === undefined) n.digest = createHash('sha256').update(n.data!).digest('hex');
    return JSON.stringify([rel, n.type, n.mode, n.uid, n.gid, n.linkname ?? '', n.digest ?? '']) + '\n';
  }
}
