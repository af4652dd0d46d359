import { promises as fs } from 'node:fs';
import path from 'node:path';
import type http from 'node:http';
import { randomUUID } from 'node:crypto';
import type { DaemonConfig } from './config.js';
import { openDb, type Db } from '../store/db.js';
import { ContentStore } from '../content/store.js';
import { LayerStore } from '../layers/store.js';
import { ImageService } from '../images/service.js';
import { EventBus } from '../events/bus.js';
import { SystemService } from '../system/service.js';
import { Router } from '../api/router.js';
import { createApiServer } from '../api/server.js';
import { API_VERSION, BERTH_VERSION, MIN_API_VERSION } from '../api/version.js';
import { systemRoutes } from '../api/routes/system.js';
import { imageRoutes } from '../api/routes/images.js';
import { containerRoutes } from '../api/routes/containers.js';
import { execRoutes } from '../api/routes/exec.js';
import { containerFileRoutes } from '../api/routes/container-files.js';
import { ContainerService } from '../containers/service.js';
import { persistedImageUsers, persistedVolumeUsers } from '../containers/store.js';
import { VolumeService } from '../volumes/service.js';
import { volumeRoutes } from '../api/routes/volumes.js';
import { pluginRoutes } from '../api/routes/plugins.js';
import { NetworkService } from '../networks/service.js';
import type { ContainerStore } from '../containers/store.js';
import { networkRoutes } from '../api/routes/networks.js';
import { unavailable } from '../lib/errors.js';
import { distributionRoutes } from '../api/routes/distribution.js';
import { buildRoutes } from '../api/routes/build.js';
import { BuildService } from '../build/service.js';
import { parseDockerfile, ShellLex, expandHeredocBody } from '../build/dockerfile/index.js';
import { IgnoreMatcher, readDockerignore } from '../build/dockerignore.js';
import { prepareCopy } from '../build/copy.js';
import { mountImageRootfs } from '../build/rootfs.js';
import { DistributionService } from '../distribution/service.js';
import { BuildCache } from '../build/cache.js';
import { listen, takePidfile } from './listeners.js';
import { swarmRoutes } from '../api/routes/swarm.js';
import { createSwarmParts } from './swarm.js';
import type { SwarmService } from '../swarm/manager/service.js';
import { log, setLogLevel, debugIgnored } from '../lib/log.js';
import { LocalPluginRegistry } from '../plugins/registry.js';
import { AuthzChain } from '../plugins/authz.js';
import type { PluginRegistry } from '../plugins/contracts.js';
import { prepareRemappedRoots, resolveUsernsRemap, rootPair, shiftOwnership } from '../runtime/userns.js';

/**
 * The composition root. `start` takes the pidfile, opens state, reconciles it with disk, and only
 * then opens the API; `stop` undoes it in reverse order.
 */
export class Daemon {
  private db?: Db;
  private server?: http.Server;
  private cleanups: Array<() => Promise<void>> = [];
  private containers?: ContainerService;
  private networks?: NetworkService;
  private swarm?: SwarmService;
  /** --data-root as given (config.dataRoot becomes the remapped root under --userns-remap). */
  private baseDataRoot?: string;

  /**
   * Legacy plugins (plugins/registry.ts), one registry per daemon: the volume and network services
   * get it through their constructors; the API server's authorization plugins use it too.
   */
  readonly plugins: PluginRegistry;

  constructor(readonly config: DaemonConfig) {
    this.plugins = new LocalPluginRegistry({ dirs: config.pluginDirs });
  }

  async start(): Promise<void> {
    const c = this.config;
    setLogLevel(c.logLevel);
    await fs.mkdir(c.dataRoot, { recursive: true, mode: 0o710 });
    await fs.mkdir(c.execRoot, { recursive: true, mode: 0o700 });
    this.cleanups.push(await takePidfile(c.pidfile));
    // --userns-remap: everything of the remapping lives in <data-root>/<uid>.<gid>, as with dockerd.
    const idMapping = c.usernsRemap ? await resolveUsernsRemap(c.usernsRemap) : undefined;
    this.baseDataRoot ??= c.dataRoot;
    if (idMapping) c.dataRoot = await prepareRemappedRoots(this.baseDataRoot, c.execRoot, idMapping);

    // Scratch space for archive loads; whatever is there was left by a crash.
    await fs.rm(path.join(c.dataRoot, 'tmp'), { recursive: true, force: true });
    this.db = openDb(path.join(c.dataRoot, 'berth.db'));
    const events = new EventBus();
    const content = new ContentStore(path.join(c.dataRoot, 'content'));
    await content.init();
    const layers = new LayerStore(c.dataRoot, this.db, content, idMapping && ((dir) => shiftOwnership(dir, idMapping)));
    // Images and layers in use come from the container records on disk, so the collection in
    // images.init (before the container service exists) keeps what any container needs.
    // The build cache's rows keep their layers alive too (build/cache.ts), so it exists before the images.
    const buildCache = new BuildCache(this.db);
    const containerImageUsers = persistedImageUsers(this.db);
    const images = new ImageService(content, layers, events, this.db, { imageUses: () => [...containerImageUsers.imageUses(), ...buildCache.layerUses()] });
    await images.init();
    // Under --userns-remap a volume's data belongs to the remapped root, as with dockerd.
    const volumes = new VolumeService(this.db, events, c.dataRoot, persistedVolumeUsers(this.db), idMapping && rootPair(idMapping), this.plugins);
    await volumes.init();
    // Networks come up before containers (whose start-up may start some) and adopt after them.
    // Networking finds containers in the container service's records (from containers.init on).
    let containerRecords: ContainerStore | undefined;
    const networks = new NetworkService(this.db, events, {
      bridge: c.bridge,
      bip: c.bip,
      fixedCidr: c.fixedCidr,
      ipv6: c.ipv6,
      fixedCidrV6: c.fixedCidrV6,
      iptables: c.iptables,
      ipForward: c.ipForward,
      userlandProxy: c.userlandProxy,
    }, { get: (id) => containerRecords?.get(id) }, this.plugins);
    await networks.init();
    this.networks = networks;
    const containers = new ContainerService({
      db: this.db,
      images,
      events,
      dataRoot: c.dataRoot,
      execRoot: c.execRoot,
      volumes,
      networking: networks,
      idMapping,
      logDefault: { Type: c.logDriver, Config: c.logOpts },
    });
    containerRecords = containers.store;
    await containers.init();
    await networks.restore();
    this.containers = containers;
    const distribution = new DistributionService(images, this.db, () => c, path.join(c.dataRoot, 'tmp'));
    const swarmParts = createSwarmParts(c, { containers, images, distribution, events, networks, ports: (x) => networks.containerView(x).ports });
    const swarm = swarmParts.swarm;
    this.swarm = swarm;
    const system = new SystemService(c, await this.engineId(), images, events, containers, { engine: BERTH_VERSION, api: API_VERSION, minApi: MIN_API_VERSION }, swarm);

    const router = new Router();
    // Each route module gets the narrow backend it declares (api/backends.ts).
    // Registry settings are read live from the config, which a SIGHUP reload updates in place.
    const builder = new BuildService({
      images, containers, distribution, cache: buildCache, dataRoot: c.dataRoot,
      parse: parseDockerfile, lexer: (escape) => new ShellLex(escape),
      expandHeredoc: (text, env) => expandHeredocBody(text, env).result,
      copy: { prepareCopy, mountImageRootfs },
    });
    await builder.init();
    systemRoutes(router, { system, events, buildCache: builder });
    imageRoutes(router, { images, distribution, scratchDir: path.join(c.dataRoot, 'tmp') });
    distributionRoutes(router, { distribution });
    buildRoutes(router, { build: builder, scratchDir: path.join(c.dataRoot, 'tmp'), dockerignore: (text, rel) => new IgnoreMatcher(readDockerignore(text)).matches(rel) });
    containerRoutes(router, { containers, images, networks });
    execRoutes(router, { execs: containers.execs });
    containerFileRoutes(router, { containers });
    volumeRoutes(router, { volumes });
    pluginRoutes(router);
    networkRoutes(router, { networks, containers, cluster: swarmParts.clusterNetworks });
    swarmParts.routes(router);
    // Last: the cluster kinds' parts register their routes before it, and it answers what none claimed.
    swarmRoutes(router, { swarm });
    this.server = createApiServer(router, { authz: new AuthzChain(this.plugins, () => c.authorizationPlugins, c.authorizationPluginTimeoutMs) });
    this.cleanups.push(...(await listen(this.server, c.hosts, c.tls)));
    log.info('API listen on ' + c.hosts.join(', '));
    swarm.resume();
  }

  async stop(): Promise<void> {
    if (this.server) {
      const server = this.server;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    }
    // Before containers: the agent must not react to their shutdown as task failures.
    await this.swarm?.stop().catch((err) => log.warn('swarm shutdown failed', { error: (err as Error).message }));
    await this.containers?.shutdown({ liveRestore: this.config.liveRestore });
    await this.networks?.shutdown({ liveRestore: this.config.liveRestore }).catch((err) => log.warn('network shutdown failed', { error: (err as Error).message }));
    for (const cleanup of this.cleanups.reverse()) await cleanup().catch(debugIgnored('a shutdown cleanup failed'));
    this.db?.close();
  }

  /** A stable id for this data root, as dockerd's engine-id file. */
  private async engineId(): Promise<string> {
    const file = path.join(this.config.dataRoot, 'engine-id');
    try {
      return (await fs.readFile(file, 'utf8')).trim();
    } catch {
      const id = randomUUID();
      await fs.writeFile(file, id);
      return id;
    }
  }
}
