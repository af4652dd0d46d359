/**
 * Loads a project the way docker compose does: find the files, build the interpolation environment,
 * read each file (YAML, interpolation, schema, includes, extends, canonical form), merge them in `-f`
 * order, name the project, apply profiles, normalise into the typed model and check its references.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { findDefaultFiles } from './discover.js';
import { projectEnvironment } from './environment.js';
import { ComposeError, type WarnFn } from './errors.js';
import { resolveExtends } from './extends.js';
import { addIncluded, includeSpecs } from './include.js';
import { interpolateTree, isMapping, Tagged } from './interpolate.js';
import { canonicalFile } from './canonical.js';
import { castTypes } from './cast.js';
import { mergeFiles } from './merge.js';
import { normalizeFileObjects, normalizeNetworks, normalizeService, normalizeVolumes } from './normalize.js';
import { activeProfiles, splitByProfiles } from './profiles.js';
import { resolveProjectName } from './project-name.js';
import { checkReferences } from './semantic.js';
import type { ComposeProject, ServiceConfig } from './types.js';
import { validateAgainstSchema } from './validate.js';
import { parseComposeYaml } from './yaml.js';

type Dict = Record<string, unknown>;

export interface LoadOptions {
  /** Where the command runs; default file lookup starts here. */
  workingDir: string;
  /** `-f` files, in order; none means docker compose's default names. */
  files?: string[];
  /** `-p` */
  projectName?: string;
  /** `--project-directory`; default: the first file's directory. */
  projectDirectory?: string;
  /** `--env-file`, replacing the project directory's `.env`. */
  envFiles?: string[];
  /** `--profile` */
  profiles?: string[];
  /** Services named on the command line: enabled whatever their profiles. */
  services?: string[];
  /** The process environment (default process.env). */
  env?: Record<string, string | undefined>;
  warn?: WarnFn;
  /** The text of `-f -` (default: read from the process's standard input). */
  stdin?: string;
  /** `compose config --no-interpolate`: `${VAR}` left as written. */
  interpolate?: boolean;
  /** `compose config --no-normalize`: no default network, Dockerfile name or resource names added. */
  normalize?: boolean;
  /** `compose config --no-path-resolution`: relative paths left as written. */
  resolvePaths?: boolean;
  /** `compose config --no-consistency`: references and dependency cycles not checked. */
  consistency?: boolean;
}

/** `-f -`: the file read from standard input. */
export const STDIN_FILE = '-';

/** What the reading of a set of files produces before naming and normalising: merged canonical data. */
interface FileSetContext {
  projectDir: string;
  env: Record<string, string>;
  warn: WarnFn;
  /** Files being read by an include above us, to refuse include cycles. */
  including: string[];
  options: LoadOptions;
}

function readFileData(file: string, ctx: FileSetContext): Dict {
  let text: string;
  try {
    text = file === STDIN_FILE ? (ctx.options.stdin ?? readFileSync(0, 'utf8')) : readFileSync(file, 'utf8');
  } catch {
    throw new ComposeError(`open ${file}: no such file or directory`);
  }
  const parsed = parseComposeYaml(text, file);
  // Interpolated values are strings: cast back where the schema wants a boolean or a number, then validate.
  const data = (ctx.options.interpolate === false ? parsed : castTypes(interpolateTree(parsed, (name) => ctx.env[name], ctx.warn))) as Dict;
  validateAgainstSchema(untagged(data), file);
  return data;
}

/** What the schema sees: `!reset`/`!override` values as the plain values they carry. */
function untagged(node: unknown): unknown {
  if (node instanceof Tagged) return untagged(node.value);
  if (Array.isArray(node)) return node.map(untagged);
  if (isMapping(node)) return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, untagged(v)]));
  return node;
}

function loadFile(file: string, ctx: FileSetContext, baseDir: string): Dict {
  let data = readFileData(file, ctx);
  for (const spec of includeSpecs(data.include, file)) {
    for (const f of spec.files) {
      if (ctx.including.includes(f)) throw new ComposeError(`include cycle detected: ${[...ctx.including, f].join(' -> ')}`);
    }
    const env = projectEnvironment(spec.projectDirectory, ctx.env, spec.envFiles, ctx.warn);
    const included = loadFileSet(spec.files, { projectDir: spec.projectDirectory, env, warn: ctx.warn, including: [...ctx.including, file], options: ctx.options });
    data = addIncluded(data, included, spec.files[0]);
  }
  delete data.include;
  const canonicalOptions = { resolvePaths: ctx.options.resolvePaths };
  const canonical = canonicalFile(data, baseDir, canonicalOptions);
  if (isMapping(canonical.services)) {
    const cache = new Map<string, Dict>();
    const servicesOf = (other: string): Dict => {
      if (!cache.has(other)) {
        const otherData = canonicalFile(readFileData(other, ctx), path.dirname(other), canonicalOptions);
        cache.set(other, (isMapping(otherData.services) ? otherData.services : {}) as Dict);
      }
      return cache.get(other) as Dict;
    };
    canonical.services = resolveExtends(canonical.services, file, servicesOf);
  }
  return canonical;
}

function loadFileSet(files: string[], ctx: FileSetContext): Dict {
  return mergeFiles(files.map((file) => loadFile(file, ctx, ctx.projectDir)));
}

export function loadProject(options: LoadOptions): ComposeProject {
  const warn = options.warn ?? ((m: string) => process.stderr.write(`WARN[0000] ${m}\n`));
  const files =
    options.files && options.files.length > 0
      ? options.files.map((f) => (f === STDIN_FILE ? f : path.resolve(options.workingDir, f)))
      : findDefaultFiles(options.workingDir, warn);
  // A file from stdin has no directory of its own: the working directory stands for it.
  const firstDir = files[0] === STDIN_FILE ? path.resolve(options.workingDir) : path.dirname(files[0]);
  const projectDir = options.projectDirectory ? path.resolve(options.workingDir, options.projectDirectory) : firstDir;
  const env = projectEnvironment(projectDir, options.env ?? process.env, options.envFiles, warn);
  const merged = loadFileSet(files, { projectDir, env, warn, including: [], options });
  const normalize = options.normalize !== false;

  const name = resolveProjectName({
    flag: options.projectName,
    env: env.COMPOSE_PROJECT_NAME,
    file: typeof merged.name === 'string' ? merged.name : undefined,
    directory: path.basename(projectDir),
  });

  const rawServices = (isMapping(merged.services) ? merged.services : {}) as Record<string, Dict>;
  for (const named of options.services ?? []) {
    if (!rawServices[named]) throw new ComposeError(`no such service: ${named}`);
  }
  const { enabled, disabled } = splitByProfiles(rawServices, activeProfiles(options.profiles, env), options.services);
  const services: Record<string, ServiceConfig> = {};
  const disabledServices: Record<string, ServiceConfig> = {};
  for (const svcName of enabled) services[svcName] = normalizeService(svcName, rawServices[svcName], env, warn, { normalize, projectDir });
  for (const svcName of disabled) disabledServices[svcName] = normalizeService(svcName, rawServices[svcName], env, () => {}, { normalize, projectDir });
  // A dependency on a service switched off by profiles is dropped when it is optional.
  for (const svc of Object.values(services)) {
    for (const [dep, spec] of Object.entries(svc.depends_on)) {
      if (disabledServices[dep] && !spec.required) delete svc.depends_on[dep];
    }
  }

  const extensions = Object.fromEntries(Object.entries(merged).filter(([k]) => k.startsWith('x-')));
  const project: ComposeProject = {
    name,
    workingDir: projectDir,
    composeFiles: files,
    environment: env,
    services,
    disabledServices,
    networks: normalizeNetworks(name, merged.networks, Object.values(services), normalize),
    volumes: normalizeVolumes(name, merged.volumes, normalize),
    secrets: normalizeFileObjects(name, merged.secrets, normalize),
    configs: normalizeFileObjects(name, merged.configs, normalize),
    extensions,
  };
  if (options.consistency !== false) checkReferences(project);
  return project;
}
