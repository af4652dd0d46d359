/**
 * What a node keeps of its swarm membership under <data-root>/swarm/ (CONTRACTS.md "Ports and
 * addresses"): state.json, certificates/ (ca.crt, node.crt, and node.key or, with autolock,
 * node.key.enc; on managers the cluster's secrets key, secrets.key or secrets.key.enc likewise),
 * etcd/ (the member's data). Written atomically; wiped on leave.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../../lib/atomic.js';
import { decryptKey, encryptKey } from './seams.js';
import type { NodeRole } from '../types.js';

export interface PersistedSwarmState {
  nodeId: string;
  clusterId: string;
  role: NodeRole;
  /** host:port the control server listens on. */
  listenAddr: string;
  /** host:port other nodes reach this one at. */
  advertiseAddr: string;
  dataPathAddr: string;
  /** Last known managers (control addresses), for workers and for RemoteManagers. */
  managers: Array<{ NodeID: string; Addr: string }>;
  /** Whether node.key is stored encrypted with the unlock key. */
  autolock: boolean;
}

export interface NodeCerts {
  ca: string;
  cert: string;
  key: string;
}

export class SwarmStateDir {
  readonly root: string;
  readonly certDir: string;
  readonly etcdDir: string;

  /** `runDir` holds the decrypted node key while the node runs with autolock (etcd reads key files). */
  constructor(dataRoot: string, readonly runDir: string) {
    this.root = path.join(dataRoot, 'swarm');
    this.certDir = path.join(this.root, 'certificates');
    this.etcdDir = path.join(this.root, 'etcd');
  }

  private get stateFile(): string {
    return path.join(this.root, 'state.json');
  }

  async load(): Promise<PersistedSwarmState | undefined> {
    try {
      return JSON.parse(await fs.readFile(this.stateFile, 'utf8')) as PersistedSwarmState;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async save(s: PersistedSwarmState): Promise<void> {
    await fs.mkdir(this.root, { recursive: true, mode: 0o700 });
    await writeFileAtomic(this.stateFile, JSON.stringify(s, null, 2) + '\n', 0o600);
  }

  /** Stores the certificates; the key as given (plain PEM, or the encrypted blob when `encrypted`). */
  async saveCerts(c: { ca: string; cert: string; key: string }, encrypted: boolean): Promise<void> {
    await fs.mkdir(this.certDir, { recursive: true, mode: 0o700 });
    await writeFileAtomic(path.join(this.certDir, 'ca.crt'), c.ca, 0o644);
    await writeFileAtomic(path.join(this.certDir, 'node.crt'), c.cert, 0o644);
    await writeFileAtomic(path.join(this.certDir, encrypted ? 'node.key.enc' : 'node.key'), c.key, 0o600);
    await fs.rm(path.join(this.certDir, encrypted ? 'node.key' : 'node.key.enc'), { force: true });
  }

  /** The certificates; `key` is the stored form (see `keyEncrypted`). */
  async loadCerts(): Promise<{ ca: string; cert: string; key: string; keyEncrypted: boolean }> {
    const read = (f: string) => fs.readFile(path.join(this.certDir, f), 'utf8');
    const ca = await read('ca.crt');
    const cert = await read('node.crt');
    try {
      return { ca, cert, key: await read('node.key'), keyEncrypted: false };
    } catch {
      return { ca, cert, key: await read('node.key.enc'), keyEncrypted: true };
    }
  }

  /**
   * The cluster's secrets key (managers only), as base64; encrypted with the unlock key, as node.key
   * is, when `unlockKey` is given.
   */
  async saveSecretsKey(key: Buffer, unlockKey: string | undefined): Promise<void> {
    await fs.mkdir(this.certDir, { recursive: true, mode: 0o700 });
    const text = key.toString('base64');
    await writeFileAtomic(path.join(this.certDir, unlockKey ? 'secrets.key.enc' : 'secrets.key'), unlockKey ? encryptKey(text, unlockKey) : text, 0o600);
    await fs.rm(path.join(this.certDir, unlockKey ? 'secrets.key' : 'secrets.key.enc'), { force: true });
  }

  /** The secrets key, undefined when this node holds none; an encrypted one needs `unlockKey` (decryptKey's error otherwise). */
  async loadSecretsKey(unlockKey: string | undefined): Promise<Buffer | undefined> {
    const read = (f: string) => fs.readFile(path.join(this.certDir, f), 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    const plain = await read('secrets.key');
    if (plain !== undefined) return Buffer.from(plain.trim(), 'base64');
    const sealed = await read('secrets.key.enc');
    if (sealed === undefined) return undefined;
    return Buffer.from(decryptKey(sealed, unlockKey ?? '').trim(), 'base64');
  }

  /** A worker never keeps it (demotion). */
  async removeSecretsKey(): Promise<void> {
    await fs.rm(path.join(this.certDir, 'secrets.key'), { force: true });
    await fs.rm(path.join(this.certDir, 'secrets.key.enc'), { force: true });
  }

  /**
   * PEM files for etcd and its client. The key is always the run dir's copy, so that what is stored
   * at rest (plain or encrypted, which autolock changes at run time) never matters to a running etcd.
   */
  async tlsFiles(c: NodeCerts): Promise<{ caFile: string; certFile: string; keyFile: string }> {
    await fs.mkdir(this.runDir, { recursive: true, mode: 0o700 });
    const keyFile = path.join(this.runDir, 'node.key');
    await writeFileAtomic(keyFile, c.key, 0o600);
    return { caFile: path.join(this.certDir, 'ca.crt'), certFile: path.join(this.certDir, 'node.crt'), keyFile };
  }

  async clearRun(): Promise<void> {
    await fs.rm(this.runDir, { recursive: true, force: true });
  }

  /** Leaving: everything of the swarm goes. */
  async wipe(): Promise<void> {
    await this.clearRun();
    await fs.rm(this.root, { recursive: true, force: true });
  }
}
