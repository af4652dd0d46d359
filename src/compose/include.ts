/**
 * `include`: each entry is a sub-project (its own files, project directory and env files) whose
 * resources join the including file's; a name defined on both sides is an error.
 */
import path from 'node:path';
import { ComposeError } from './errors.js';
import { isMapping } from './interpolate.js';

type Dict = Record<string, unknown>;

export interface IncludeSpec {
  files: string[];
  projectDirectory: string;
  envFiles?: string[];
}

const SECTIONS = ['services', 'networks', 'volumes', 'secrets', 'configs'];

/** The include entries of a file, paths made absolute against the including file's directory. */
export function includeSpecs(raw: unknown, file: string): IncludeSpec[] {
  if (!Array.isArray(raw)) return [];
  const dir = path.dirname(file);
  return raw.map((entry) => {
    const e: Dict = typeof entry === 'string' ? { path: entry } : (entry as Dict);
    const files = (Array.isArray(e.path) ? e.path : [e.path]).map((p) => path.resolve(dir, String(p)));
    const projectDirectory = typeof e.project_directory === 'string' ? path.resolve(dir, e.project_directory) : path.dirname(files[0]);
    const envFiles = e.env_file === undefined ? undefined : (Array.isArray(e.env_file) ? e.env_file : [e.env_file]).map((p) => path.resolve(dir, String(p)));
    return { files, projectDirectory, envFiles };
  });
}

/** Adds an included model's resources to a file's data. */
export function addIncluded(data: Dict, included: Dict, includedFile: string): Dict {
  const out: Dict = { ...data };
  for (const section of SECTIONS) {
    const theirs = included[section];
    if (!isMapping(theirs)) continue;
    const ours = { ...((isMapping(out[section]) ? out[section] : {}) as Dict) };
    for (const [name, def] of Object.entries(theirs)) {
      if (name in ours) throw new ComposeError(`${section}.${name} conflicts with imported resource from ${includedFile}`);
      ours[name] = def;
    }
    out[section] = ours;
  }
  return out;
}
