import { invalidArgument } from '../lib/errors.js';

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
    const m = /^(\S+)\s*([\s\S]*)$/.exec(line)!;
    const instruction = m[1]!.toUpperCase();
    const rest = m[2]!.trim();
    if (!ALLOWED.has(instruction)) throw invalidArgument(`${m[1]!.toLowerCase()} is not a valid change command`);
    applyOne(config, instruction, rest);
  }
  return config;
}

function applyOne(config: ImageRunConfig, instruction: string, rest: string): void {
  switch (instruction) {
    case 'CMD':
      config.Cmd = commandForm(rest);
      return;
    case 'ENTRYPOINT':
      config.Entrypoint = commandForm(rest);
      return;
    case 'ENV':
      for (const [k, v] of keyValues(rest, 'ENV')) {
        config.Env = (config.Env ?? []).filter((e) => e.split('=')[0] !== k).concat(`${k}=${v}`);
      }
      return;
    case 'LABEL':
      for (const [k, v] of keyValues(rest, 'LABEL')) config.Labels = { ...(config.Labels ?? {}), [k]: v };
      return;
    case 'EXPOSE':
      for (const port of words(rest)) {
        const spec = port.includes('/') ? port.toLowerCase() : `${port}/tcp`;
        if (!/^\d+(-\d+)?\/(tcp|udp|sctp)$/.test(spec)) throw invalidArgument(`invalid containerPort: ${port}`);
        config.ExposedPorts = { ...(config.ExposedPorts ?? {}), [spec]: {} };
      }
      return;
    case 'VOLUME': {
      const paths = rest.startsWith('[') ? jsonArray(rest) : words(rest);
      for (const p of paths) config.Volumes = { ...(config.Volumes ?? {}), [p]: {} };
      return;
    }
    case 'USER':
      config.User = rest;
      return;
    case 'WORKDIR':
      config.WorkingDir = rest.startsWith('/') ? rest : `/${rest}`;
      return;
    case 'STOPSIGNAL':
      config.StopSignal = rest;
      return;
    case 'ONBUILD':
      config.OnBuild = [...(config.OnBuild ?? []), rest];
      return;
  }
}

/** Exec form (a JSON array) or shell form (wrapped in /bin/sh -c), as the Dockerfile defines them. */
function commandForm(rest: string): string[] {
  if (rest.startsWith('[')) {
    try {
      return jsonArray(rest);
    } catch {
      // Not valid JSON: Docker falls back to the shell form.
    }
  }
  return ['/bin/sh', '-c', rest];
}

function jsonArray(rest: string): string[] {
  const parsed: unknown = JSON.parse(rest);
  if (!Array.isArray(parsed) || !parsed.every((x) => typeof x === 'string')) {
    throw invalidArgument(`not a JSON array of strings: ${rest}`);
  }
  return parsed;
}

function words(rest: string): string[] {
  return rest.split(/\s+/).filter(Boolean);
}

/** `A=b C="d e"` pairs, or the legacy `A b c` single pair form. */
function keyValues(rest: string, instruction: string): Array<[string, string]> {
  if (!rest) throw invalidArgument(`${instruction} requires at least one argument`);
  const tokens = shellTokens(rest);
  if (!tokens[0]!.includes('=')) {
    const [key, ...value] = rest.split(/\s+/);
    return [[key!, value.join(' ')]];
  }
  return tokens.map((t) => {
    const i = t.indexOf('=');
    if (i <= 0) throw invalidArgument(`${instruction} names can not be blank`);
    return [t.slice(0, i), t.slice(i + 1)];
  });
}

/** Splits on spaces, honouring double and single quotes and backslash escapes. */
function shellTokens(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: string | null = null;
  let started = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quote) {
      if (c === quote) quote = null;
      else if (c === '\\' && quote === '"' && i + 1 < s.length) cur += s[++i];
      else cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      started = true;
    } else if (c === '\\' && i + 1 < s.length) {
      cur += s[++i];
      started = true;
    } else if (/\s/.test(c)) {
      if (started) out.push(cur);
      cur = '';
      started = false;
    } else {
      cur += c;
      started = true;
    }
  }
  if (started) out.push(cur);
  return out;
}
