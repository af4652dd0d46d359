/**
 * `.env` and `--env-file` / `env_file` files as docker compose reads them: `KEY=VALUE`, `export KEY=...`,
 * `#` comments, single quotes literal, double quotes with escapes and interpolation, unquoted values
 * interpolated with inline ` #` comments cut, and `KEY` alone taken from the lookup when set.
 */
import { readFileSync } from 'node:fs';
import { ComposeError, type WarnFn } from './errors.js';
import { interpolateString, type Lookup } from './interpolate.js';

const KEY = /^[A-Za-z_][A-Za-z0-9_.\-[\]]*$/;

export function parseEnvFile(text: string, file: string, lookup: Lookup, warn: WarnFn = () => {}): Record<string, string> {
  const out: Record<string, string> = {};
  const scoped: Lookup = (name) => (name in out ? out[name] : lookup(name));
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  for (let n = 0; n < lines.length; n++) {
    let line = lines[n].trim();
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('export ')) line = line.slice(7).trimStart();
    const eq = line.indexOf('=');
    const key = (eq < 0 ? line : line.slice(0, eq)).trim();
    if (!KEY.test(key)) {
      throw new ComposeError(`failed to read ${file}: line ${n + 1}: unexpected character "${key[0] ?? '='}" in variable name "${line}"`);
    }
    if (eq < 0) {
      const fromEnv = lookup(key);
      if (fromEnv !== undefined) out[key] = fromEnv;
      continue;
    }
    let rest = line.slice(eq + 1).trimStart();
    const quote = rest[0];
    if (quote === "'" || quote === '"') {
      // A quoted value may run over several lines until its closing quote.
      let body = rest.slice(1);
      let close = findClose(body, quote);
      while (close < 0 && n + 1 < lines.length) {
        body += '\n' + lines[++n];
        close = findClose(body, quote);
      }
      if (close < 0) throw new ComposeError(`failed to read ${file}: line ${n + 1}: unterminated quoted value`);
      const raw = body.slice(0, close);
      out[key] = quote === "'" ? raw : interpolateString(unescapeDouble(raw), scoped, key, warn);
      continue;
    }
    const comment = rest.search(/\s#/);
    if (comment >= 0) rest = rest.slice(0, comment);
    out[key] = interpolateString(rest.trimEnd(), scoped, key, warn);
  }
  return out;
}

function findClose(body: string, quote: string): number {
  for (let i = 0; i < body.length; i++) {
    if (body[i] === '\\' && quote === '"') i++;
    else if (body[i] === quote) return i;
  }
  return -1;
}

function unescapeDouble(raw: string): string {
  return raw.replace(/\\(.)/g, (_m, c: string) => ({ n: '\n', r: '\r', t: '\t' })[c] ?? c);
}

/** `env_file: {format: raw}`: `KEY=VALUE` lines taken as written (no quotes, escapes or interpolation). */
export function parseRawEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    const at = line.indexOf('=');
    if (at < 0) continue;
    out[line.slice(0, at).trim()] = line.slice(at + 1);
  }
  return out;
}

/** Reads an env file; a missing file is an error unless `required` is false. */
export function readEnvFile(file: string, lookup: Lookup, required = true, warn?: WarnFn, format?: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (!required && (err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new ComposeError(`env file ${file} not found: stat ${file}: no such file or directory`);
    throw new ComposeError(`failed to read ${file}: ${(err as Error).message}`);
  }
  if (format === 'raw') return parseRawEnvFile(text);
  if (format !== undefined && format !== '') throw new ComposeError(`unsupported env_file format ${JSON.stringify(format)}`);
  return parseEnvFile(text, file, lookup, warn);
}
