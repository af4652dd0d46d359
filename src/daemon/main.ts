import { loadConfig, reloadConfig, ConfigError, USAGE } from './config.js';
import { Daemon } from './daemon.js';
import { BERTH_VERSION } from '../api/version.js';
import { log, setLogLevel } from '../lib/log.js';
import { enableSpawner } from '../lib/spawner.js';

/** berthd's entry point: parse flags, start, and stop cleanly on SIGTERM/SIGINT. */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.argv.slice(2));
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`berthd: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  if (config === 'help') return void process.stdout.write(USAGE);
  if (config === 'version') return void process.stdout.write(`Berth version ${BERTH_VERSION}\n`);

  // External programs run from a small helper process: spawning from the daemon blocks its event loop
  // for the fork of its page tables (lib/spawner.ts). BERTH_SPAWNER=0 runs them in-process.
  enableSpawner(process.env.BERTH_SPAWNER !== '0');
  const daemon = new Daemon(config);
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`Processing signal '${signal}'`);
    daemon.stop().then(
      () => {
        log.info('Daemon shutdown complete');
        process.exit(0);
      },
      (err) => {
        log.error('shutdown failed', { error: String(err) });
        process.exit(1);
      },
    );
  };
  process.on('SIGHUP', () => {
    try {
      const changed = reloadConfig(config, process.argv.slice(2));
      setLogLevel(config.logLevel);
      log.info('Reloaded configuration', { changed: changed.join(',') || 'nothing', debug: config.debug, 'log-level': config.logLevel, 'live-restore': config.liveRestore });
    } catch (err) {
      log.error('Error reconfiguring the daemon', { error: (err as Error).message });
    }
  });
  // The last net: every request, stream and timer handles its own errors, so these should never be
  // reached; if one is, say so loudly and keep serving rather than take every container's API down.
  process.on('unhandledRejection', (reason) => {
    log.error('BUG: unhandled promise rejection', { error: describe(reason) });
  });
  process.on('uncaughtException', (err) => {
    log.error('BUG: uncaught exception', { error: describe(err) });
  });
  process.on('SIGTERM', () => shutdown('terminated'));
  process.on('SIGINT', () => shutdown('interrupt'));
  try {
    await daemon.start();
  } catch (err) {
    process.stderr.write(`berthd: failed to start daemon: ${(err as Error).message}\n`);
    await daemon.stop().catch(() => {}); // the start failure is already reported; stopping is best effort
    process.exit(1);
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? (err.stack ?? err.message) : String(err);
}

main().catch((err: unknown) => {
  process.stderr.write(`berthd: ${describe(err)}\n`);
  process.exit(1);
});
