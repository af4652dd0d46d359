import type { RegistryStorage, StoredManifest } from './storage.js';
import type { BlobSource, PullThrough, Reference } from './service.js';
import { regError } from './errors.js';

export class ProxyCache implements PullThrough {
  constructor(
    private readonly storage: RegistryStorage,
    private readonly options: { remote: string; username?: string; password?: string; tagTtlMs?: number },
  ) {}
  async manifest(_name: string, _ref: Reference): Promise<StoredManifest> {
    void this.storage; void this.options;
    throw regError('UNSUPPORTED');
  }
  async blob(_name: string, _digest: string): Promise<BlobSource> {
    throw regError('UNSUPPORTED');
  }
}
