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

/**
 * One change line. As in a Dockerfile (dockerd's BuildFromConfig), ENV, LABEL, EXPOSE, VOLUME, USER,
 * WORKDIR and STOPSIGNAL expand $VAR / ${VAR} / ${VAR:-x} / ${VAR:+x} against the config's Env as it is
 * before the line (so `ENV PATH=$PATH:/x` appends to the container's PATH); CMD and ENTRYPOINT do not.
 */
function applyOne(config: ImageRunConfig, instruction: string, rest: string): void {
  const env = envMap(config.Env ?? []);
  const keyValues = (text: string, what: string) => keyValuesOf(text, what, env);
  const words = (text: string) => shellTokens(text, env);
  switch (instruction) {
    case 'CMD':
      config.Cmd = commandForm(rest);
      return;
    case 'ENTRYPOINT':
      config.Entrypoint = commandForm(rest);
      return;
    case 'ENV':
      for (const [k, v] of keyValues(rest, 'ENV')) {
        // Replaced in place, else appended, as dockerd's ENV.
        const list = config.Env ?? [];
        const at = list.findIndex((e) => e.split('=')[0] === k);
        config.Env = at >= 0 ? list.map((e, i) => (i === at ? `${k}=${v}` : e)) : [...list, `${k}=${v}`];
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
      const paths = rest.startsWith('[') ? jsonArray(rest).map((p) => expandWord(p, env)) : words(rest);
      for (const p of paths) config.Volumes = { ...(config.Volumes ?? {}), [p]: {} };
      return;
    }
    case 'USER':
      config.User = expandWord(rest, env);
      return;
    case 'WORKDIR': {
      const dir = expandWord(rest, env);
      config.WorkingDir = dir.startsWith('/') ? dir : `/${dir}`;
      return;
    }
    case 'STOPSIGNAL':
      config.StopSignal = expandWord(rest, env);
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

function envMap(env: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of env) {
    const i = e.indexOf('=');
    if (i > 0) out.set(e.slice(0, i), e.slice(i + 1));
  }
  return out;
}

/** A whole argument as one word (USER, WORKDIR, STOPSIGNAL): quotes removed, variables expanded. */
function expandWord(text: string, env: Map<string, string>): string {
  return shellTokens(text, env, true).join('');
}

/** `A=b C="d e"` pairs, or the legacy `A b c` single pair form. */
function keyValuesOf(rest: string, instruction: string, env: Map<string, string>): Array<[string, string]> {
  if (!rest) throw invalidArgument(`${instruction} requires at least one argument`);
  const tokens = shellTokens(rest, env);
  if (!tokens[0]!.includes('=')) {
    const m = /^(\S+)\s*([\s\S]*)$/.exec(rest)!;
    return [[expandWord(m[1]!, env), expandWord(m[2]!, env)]];
  }
  return tokens.map((t) => {
    const i = t.indexOf('=');
    if (i <= 0) throw invalidArgument(`${instruction} names can not be blank`);
    return [t.slice(0, i), t.slice(i + 1)];
  });
}

/**
 * Splits on spaces (unless `keepSpaces`), honouring double and single quotes and backslash escapes,
 * and expands variables outside single quotes as the Dockerfile does.
 */
function shellTokens(s: string, env: Map<string, string>, keepSpaces = false): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: string | null = null;
  let started = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '$' && quote !== "'") {
      const v = variableAt(s, i, env);
      if (v) {
        cur += v.value;
        i = v.end - 1;
        started = true;
        continue;
      }
    }
    if (quote) {
      if (c === quote) quote = null;
      else if (c === '\\' && quote === '"' && i + 1 < s.length) cur += s[++i];
      else cur += c;
    } else if (keepSpaces && /\s/.test(c)) {
      cur += c;
      started = true;
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

/** `$NAME`, `${NAME}`, `${NAME:-word}` or `${NAME:+word}` at s[i]; undefined when `$` is a plain dollar. */
function variableAt(s: string, i: number, env: Map<string, string>): { value: string; end: number } | undefined {
  const plain = /^\$([A-Za-z_][A-Za-z0-9_]*)/.exec(s.slice(i));
  if (plain) return { value: env.get(plain[1]!) ?? '', end: i + plain[0].length };
  if (s[i + 1] !== '{') return undefined;
  const close = s.indexOf('}', i + 2);
  if (close < 0) throw invalidArgument(`missing '}' in ${s}`);
  const body = s.slice(i + 2, close);
  const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:[-+])([\s\S]*))?$/.exec(body);
  if (!m) throw invalidArgument(`bad substitution: \${${body}}`);
  const value = env.get(m[1]!);
  const word = m[3] !== undefined ? expandWord(m[3], env) : '';
  if (m[2] === ':-') return { value: value ? value : word, end: close + 1 };
  if (m[2] === ':+') return { value: value ? word : '', end: close + 1 };
  return { value: value ?? '', end: close + 1 };
}
