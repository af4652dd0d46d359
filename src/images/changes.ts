import { BerthError, invalidArgument } from '../lib/errors.js';
import { parse } from '../build/dockerfile/parser.js';
import { parseInstruction } from '../build/dockerfile/instructions.js';
import { ShellLex, envLookupFromList } from '../build/dockerfile/expand.js';
import type { CommandLine, Instruction } from '../build/dockerfile/types.js';

/** The container-config part of an image config, with Docker's field names. */
export interface ImageRunConfig {
  User?: string;
  ExposedPorts?: Record<string, object>;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, object>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  OnBuild?: string[] | null;
  StopSignal?: string;
  Shell?: string[];
  ArgsEscaped?: boolean;
  Healthcheck?: unknown;
  [key: string]: unknown;
}

/** Instructions `docker import --change` and `docker commit --change` accept, as in dockerd. */
const ALLOWED = new Set(['CMD', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'LABEL', 'ONBUILD', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR']);

/** Applies Dockerfile-style change lines (`CMD ["sh"]`, `ENV A=b`, ...) to a config, returning a new one. */
export function applyChanges(base: ImageRunConfig, changes: string[]): ImageRunConfig {
  const config: ImageRunConfig = structuredClone(base);
  for (const raw of changes) {
    const line = raw.trim();
    if (!line) continue;
    const keyword = /^\S+/.exec(line)![0];
    if (!ALLOWED.has(keyword.toUpperCase())) throw invalidArgument(`${keyword.toLowerCase()} is not a valid change command`);
    const instruction = parseChange(line);
    if (instruction) applyOne(config, instruction);
  }
  return config;
}

/** One change line through the Dockerfile parser (dockerd's BuildFromConfig does the same); null for a comment. */
function parseChange(line: string): Instruction | null {
  try {
    const node = parse(line).nodes[0]!;
    return parseInstruction(node, '');
  } catch (err) {
    if (err instanceof BerthError) throw err;
    if (err instanceof Error && err.message === 'file with no instructions') return null;
    throw invalidArgument(err instanceof Error ? err.message : String(err));
  }
}

/**
 * One change. As in a Dockerfile (dockerd's BuildFromConfig), ENV, LABEL, EXPOSE, VOLUME, USER, WORKDIR
 * and STOPSIGNAL expand variables with the Dockerfile's rules (expand.ts) against the config's Env as it
 * is before the line (so `ENV PATH=$PATH:/x` appends to the container's PATH); CMD and ENTRYPOINT do not.
 */
function applyOne(config: ImageRunConfig, instruction: Instruction): void {
  const lex = new ShellLex('\\');
  const env = envLookupFromList(config.Env ?? []);
  const word = (text: string) => {
    try {
      return lex.processWord(text, env);
    } catch (err) {
      throw invalidArgument(err instanceof Error ? err.message : String(err));
    }
  };
  switch (instruction.kind) {
    case 'CMD':
      config.Cmd = commandForm(instruction.command);
      return;
    case 'ENTRYPOINT':
      config.Entrypoint = commandForm(instruction.command);
      return;
    case 'ENV':
      for (const pair of instruction.pairs) {
        const k = word(pair.key);
        const v = word(pair.value);
        // Replaced in place, else appended, as dockerd's ENV.
        const list = config.Env ?? [];
        const at = list.findIndex((e) => e.split('=')[0] === k);
        config.Env = at >= 0 ? list.map((e, i) => (i === at ? `${k}=${v}` : e)) : [...list, `${k}=${v}`];
      }
      return;
    case 'LABEL':
      for (const pair of instruction.pairs) config.Labels = { ...(config.Labels ?? {}), [word(pair.key)]: word(pair.value) };
      return;
    case 'EXPOSE':
      for (const port of instruction.values.map(word)) {
        const spec = port.includes('/') ? port.toLowerCase() : `${port}/tcp`;
        if (!/^\d+(-\d+)?\/(tcp|udp|sctp)$/.test(spec)) throw invalidArgument(`invalid containerPort: ${port}`);
        config.ExposedPorts = { ...(config.ExposedPorts ?? {}), [spec]: {} };
      }
      return;
    case 'VOLUME':
      for (const p of instruction.values.map(word)) config.Volumes = { ...(config.Volumes ?? {}), [p]: {} };
      return;
    case 'USER':
      config.User = word(instruction.value);
      return;
    case 'WORKDIR': {
      const dir = word(instruction.value);
      config.WorkingDir = dir.startsWith('/') ? dir : `/${dir}`;
      return;
    }
    case 'STOPSIGNAL':
      config.StopSignal = word(instruction.value);
      return;
    case 'ONBUILD':
      config.OnBuild = [...(config.OnBuild ?? []), instruction.expression];
      return;
    default:
      return;
  }
}

/** Exec form as given; shell form wrapped in /bin/sh -c, as the Dockerfile defines them. */
function commandForm(command: CommandLine): string[] {
  return command.form === 'exec' ? command.args : ['/bin/sh', '-c', command.text];
}
