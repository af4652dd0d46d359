/**
 * A readers-writer lock within one process. Pushes that link blobs hold it shared; the garbage
 * collector's sweep holds it exclusively, so a manifest is never checked, then written, around a delete.
 * A waiting writer keeps new readers out, so a busy registry cannot starve the collector.
 */
export class RwLock {
  private readers = 0;
  private writer = false;
  private writersWaiting = 0;
  private waiters: Array<() => void> = [];

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private async acquire(exclusive: boolean): Promise<void> {
    if (exclusive) this.writersWaiting++;
    for (;;) {
      const free = exclusive ? !this.writer && this.readers === 0 : !this.writer && this.writersWaiting === 0;
      if (free) break;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    if (exclusive) {
      this.writersWaiting--;
      this.writer = true;
    } else {
      this.readers++;
    }
  }

  async shared<T>(fn: () => Promise<T>): Promise<T> {
    await this.acquire(false);
    try {
      return await fn();
    } finally {
      this.readers--;
      this.wake();
    }
  }

  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    await this.acquire(true);
    try {
      return await fn();
    } finally {
      this.writer = false;
      this.wake();
    }
  }
}
