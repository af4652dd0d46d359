/**
 * The cluster's secrets key on a manager (docs/swarm.md "Secrets and configs"): made at `swarm init`,
 * given to a manager that joins (the join answer) or fetched by a promoted node from another manager
 * once its certificate says manager (GET /manager/secrets-key, mutual TLS). Kept on disk under
 * certificates/ (state.ts), encrypted with the unlock key while autolock is on; held in memory only
 * while the node runs unlocked. Workers never hold it.
 */
import { unavailable } from '../../lib/errors.js';
import { log } from '../../lib/log.js';
import type { SecretSealer, SwarmStore } from '../contracts.js';
import { createSealer, SECRETS_KEY_BYTES } from '../secrets/sealer.js';
import type { ControlClient, ControlServer } from './seams.js';
import type { SwarmStateDir } from './state.js';

export const SECRETS_KEY_PATH = '/manager/secrets-key';
const RETRY_MS = 3_000;

export class ManagerSecretsKey {
  private key: Buffer | undefined;
  private sealerOf: SecretSealer | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private warned = false;

  constructor(private readonly dir: SwarmStateDir) {}

  /** Takes a key (init, join answer) and stores it as autolock wants it. */
  async adopt(key: Buffer, unlockKey: string | undefined): Promise<void> {
    if (key.length !== SECRETS_KEY_BYTES) throw new Error('invalid secrets key');
    await this.dir.saveSecretsKey(key, unlockKey);
    this.use(key);
  }

  /**
   * At a manager's start: the key on disk. Without one (a promoted node), in the background so the
   * node's start never waits on other managers: the key from another manager, retried until one
   * answers; or, when this is the only manager and nothing is sealed, a new one (a swarm made before
   * secrets). `onAdopt` is told when such a key arrives.
   */
  async load(o: {
    /** The unlock key the stored copy is under (the one the node was started or unlocked with). */
    unlockKey: string | undefined;
    /** The one autolock has now (a key fetched later is stored under it). */
    currentUnlockKey?: () => string | undefined;
    peers: () => Pick<ControlClient, 'call' | 'close'> | undefined;
    mayMakeKey: () => Promise<boolean>;
    makeKey: () => Buffer;
    onAdopt?: () => void;
  }): Promise<void> {
    const wrapWith = () => (o.currentUnlockKey ? o.currentUnlockKey() : o.unlockKey);
    // A copy that cannot be read (stored under another unlock key) is fetched again like a missing one.
    const stored = await this.dir.loadSecretsKey(o.unlockKey).catch((err: Error) => {
      log.warn('swarm: the stored secrets key cannot be read', { error: err.message });
      return undefined;
    });
    if (stored) return this.use(stored);
    const attempt = async (): Promise<boolean> => {
      const client = o.peers();
      if (!client) {
        if (!(await o.mayMakeKey())) return false;
        if (!this.stopped) await this.adopt(o.makeKey(), wrapWith());
        return true;
      }
      try {
        const answer = await client.call<{ key?: string }>('GET', SECRETS_KEY_PATH);
        const key = Buffer.from(String(answer?.key ?? ''), 'base64');
        if (key.length !== SECRETS_KEY_BYTES) return false;
        if (!this.stopped) await this.adopt(key, wrapWith());
        log.info('swarm: got the secrets key from another manager');
        return true;
      } catch (err) {
        // Said once; the retries every few seconds would flood the log.
        if (!this.warned) log.warn('swarm: could not get the secrets key from another manager (retrying)', { error: (err as Error).message });
        this.warned = true;
        return false;
      } finally {
        client.close();
      }
    };
    const next = async (): Promise<void> => {
      this.timer = undefined;
      if (this.stopped || this.key) return;
      const done = await attempt().catch((err: Error) => {
        log.warn('swarm: getting the secrets key failed', { error: err.message });
        return false;
      });
      if (done && this.key && !this.stopped) o.onAdopt?.();
      else if (!this.stopped) {
        this.timer = setTimeout(() => void next(), RETRY_MS);
        this.timer.unref();
      }
    };
    void next();
  }

  /** Autolock turned on or off, or the unlock key rotated: the key at rest follows. */
  async rewrap(unlockKey: string | undefined): Promise<void> {
    if (this.key) await this.dir.saveSecretsKey(this.key, unlockKey);
  }

  /** The key, base64, for a manager that asks (undefined while this one has none). */
  exported(): string | undefined {
    return this.key?.toString('base64');
  }

  /** A sealer that uses the key once there is one; 503 before. */
  sealer(): SecretSealer {
    return {
      seal: (clear) => this.current().seal(clear),
      open: (sealed) => this.current().open(sealed),
    };
  }

  get available(): boolean {
    return Boolean(this.sealerOf);
  }

  /** The node stops (or stops being a manager): the key leaves memory. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.key?.fill(0);
    this.key = undefined;
    this.sealerOf = undefined;
  }

  /** Serves GET /manager/secrets-key to managers whose node is a manager in the store too. */
  serve(control: ControlServer, store: () => SwarmStore): void {
    control.handle('GET', SECRETS_KEY_PATH, async (req) => {
      const node = await store().nodes.get(req.peer!.nodeId);
      if (node?.Spec.Role !== 'manager') throw unavailable('only managers hold the secrets key');
      const key = this.exported();
      if (!key) throw unavailable('this manager does not hold the secrets key yet');
      return { key };
    }, { roles: ['manager'] });
  }

  private use(key: Buffer): void {
    this.key = Buffer.from(key);
    this.sealerOf = createSealer(this.key);
  }

  private current(): SecretSealer {
    if (!this.sealerOf) throw unavailable('the swarm\'s secrets key is not available on this manager yet');
    return this.sealerOf;
  }
}
