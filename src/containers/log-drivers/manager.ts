/**
 * A container's logging as its driver says (HostConfig.LogConfig, config.ts): where conmon writes,
 * the copier that turns conmon's k8s-file into the driver's file (copier.ts), and what `docker logs`
 * reads. Files, under <data-root>/containers/<id>/:
 *   container.log        conmon's k8s-file (not for clients; capped, see stagingCap)
 *   log-cursor.json      how far container.log has been copied
 *   <id>-json.log[.N]    json-file: Docker's JSON lines, rotated as dockerd does (LogPath)
 *   local-logs/container.log[.N[.gz]]  local: the same JSON lines (dockerd uses protobuf frames
 *                        there; the format of that file is not an API, and LogPath is empty)
 * With the none driver conmon keeps no log at all.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Container } from '../model.js';
import { DEFAULT_LOG_DRIVER, logFileSettings, type LogConfig, type LogFileSettings } from './config.js';
import { LogCopier } from './copier.js';
import { RotatingLogFile } from './rotating-file.js';
import { extraAttributes, renderAttrs } from './json-line.js';
import type { LogSource } from '../logs.js';
import { notImplemented, messageOf } from '../../lib/errors.js';
import { log } from '../../lib/log.js';

const MiB = 1024 * 1024;
const ZERO_TIME = '0001-01-01T00:00:00Z';

/** How conmon logs a run: its k8s-file at path (capped at sizeMax bytes), or nothing. */
export interface ConmonLogOptions {
  driver: 'k8s-file' | 'none';
  path: string;
  sizeMax?: number;
}

export interface LogFiles {
  conmon: string;
  cursor: string;
  json: string;
  local: string;
}

export function logFilesOf(containersDir: string, id: string): LogFiles {
  const dir = path.join(containersDir, id);
  return {
    conmon: path.join(dir, 'container.log'),
    cursor: path.join(dir, 'log-cursor.json'),
    json: path.join(dir, `${id}-json.log`),
    local: path.join(dir, 'local-logs', 'container.log'),
  };
}

/** The driver settings of a container (records from before drivers existed said k8s-file). */
export function settingsOf(c: Container): LogFileSettings {
  const cfg = c.hostConfig.LogConfig;
  if (!cfg?.Type || cfg.Type === 'k8s-file') return logFileSettings({ Type: DEFAULT_LOG_DRIVER, Config: {} });
  try {
    return logFileSettings({ Type: cfg.Type, Config: cfg.Config ?? {} });
  } catch {
    return logFileSettings({ Type: DEFAULT_LOG_DRIVER, Config: {} }); // invalid stored options: the default driver's
  }
}

/** inspect's LogPath: the json-file path once the container has started, as dockerd sets it; else ''. */
export function logPathOf(c: Container, containersDir: string): string {
  if (settingsOf(c).driver !== 'json-file') return '';
  if (!c.state.StartedAt || c.state.StartedAt === ZERO_TIME) return '';
  return logFilesOf(containersDir, c.id).json;
}

/**
 * How big conmon's file may grow before it starts a new one: at least what the driver keeps, so a
 * daemon that is down loses nothing the driver would have kept; 64 MiB for an unbounded json-file.
 */
export function stagingCap(s: LogFileSettings): number {
  if (s.maxSize === undefined) return 64 * MiB;
  return Math.min(1024 * MiB, Math.max(8 * MiB, s.maxSize * s.maxFile));
}

export class ContainerLogs {
  private readonly copiers = new Map<string, LogCopier>();
  private readonly containersDir: string;
  constructor(
    dataRoot: string,
    /** The daemon's --log-driver/--log-opt (daemon.json log-driver/log-opts). */
    readonly daemonDefault: LogConfig = { Type: DEFAULT_LOG_DRIVER, Config: {} },
  ) {
    this.containersDir = path.join(dataRoot, 'containers');
  }

  files(id: string): LogFiles {
    return logFilesOf(this.containersDir, id);
  }

  /** What conmon is told for a run of c. */
  conmonOptions(c: Container): ConmonLogOptions {
    const s = settingsOf(c);
    const f = this.files(c.id);
    return s.driver === 'none' ? { driver: 'none', path: f.conmon } : { driver: 'k8s-file', path: f.conmon, sizeMax: stagingCap(s) };
  }

  /** What `docker logs` reads; Docker's 501 for a driver that keeps nothing to read. */
  source(c: Container): LogSource {
    const s = settingsOf(c);
    if (s.driver === 'none') throw notImplemented('configured logging driver does not support reading');
    return { format: 'json', path: this.driverFile(c.id, s) };
  }

  /**
   * Copies what the container has written up to now into the driver's file, so a reader sees output
   * that came just before its request (the copy otherwise follows conmon's file a moment behind).
   */
  async catchUp(id: string): Promise<void> {
    await this.copiers.get(id)?.catchUp().catch((err) => log.warn('log copy failed', { id, error: messageOf(err) }));
  }

  /** Before a run: the previous run's copy is done; conmon starts a fresh file. */
  async beforeStart(c: Container): Promise<void> {
    await this.copiers.get(c.id)?.finish();
    this.copiers.delete(c.id);
    const f = this.files(c.id);
    await fsp.rm(f.conmon, { force: true });
    await fsp.rm(f.cursor, { force: true });
  }

  /** After conmon started (or when adopting a running container): copy as it writes. */
  async follow(c: Container): Promise<void> {
    if (this.copiers.has(c.id)) return;
    const copier = await this.copierFor(c);
    if (!copier) return;
    this.copiers.set(c.id, copier);
    await copier.start().catch((err) => log.warn('log copier did not start', { id: c.id, error: messageOf(err) }));
  }

  /** The container exited (conmon's file is complete): copy the rest, before the exit is recorded. */
  async exited(c: Container): Promise<void> {
    let copier = this.copiers.get(c.id);
    this.copiers.delete(c.id);
    // A daemon that was down at the exit: catch up from the cursor.
    copier ??= await this.copierFor(c);
    await copier?.finish().catch((err) => log.warn('log copy at exit failed', { id: c.id, error: messageOf(err) }));
  }

  async removed(id: string): Promise<void> {
    await this.copiers.get(id)?.stop();
    this.copiers.delete(id);
  }

  /** At daemon shutdown: stop following (conmon keeps writing; the next daemon catches up). */
  async shutdown(): Promise<void> {
    await Promise.all([...this.copiers.values()].map((cp) => cp.stop()));
    this.copiers.clear();
  }

  private driverFile(id: string, s: LogFileSettings): string {
    const f = this.files(id);
    return s.driver === 'local' ? f.local : f.json;
  }

  private async copierFor(c: Container): Promise<LogCopier | undefined> {
    const s = settingsOf(c);
    if (s.driver === 'none') return undefined;
    const file = this.driverFile(c.id, s);
    await fsp.mkdir(path.dirname(file), { recursive: true });
    const target = new RotatingLogFile(file, { maxSize: s.maxSize, maxFile: s.maxFile, compress: s.compress });
    const attrs = renderAttrs(
      extraAttributes(s.attrOpts, { id: c.id, name: c.name, imageId: c.imageId, image: c.image, labels: c.config.Labels ?? {}, env: c.config.Env ?? [] }),
    );
    const f = this.files(c.id);
    return new LogCopier(f.conmon, f.cursor, target, attrs);
  }
}
