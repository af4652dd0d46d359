/** Pieces several commands share: filters, platforms, --format handling, prompts. */
import { CliError } from '../errors.js';
import { TemplateError, formatRows, parseTemplate, type HeaderTitle, type Template } from '../template/index.js';
import { goJson } from '../jsonfmt.js';
import type { Cli } from '../streams.js';
import type { FlagDef } from '../args.js';
import { FORMAT_HELP, INSPECT_FORMAT_HELP } from '../help.js';

export const formatFlag = (short?: string): FlagDef => ({ name: 'format', ...(short && { short }), type: 'string', usage: FORMAT_HELP });
export const inspectFormatFlag = (short?: string): FlagDef => ({ name: 'format', ...(short && { short }), type: 'string', usage: INSPECT_FORMAT_HELP });
export const filterFlag = (usage = 'Filter output based on conditions provided', short: string | null = 'f'): FlagDef => ({
  name: 'filter',
  ...(short && { short }),
  type: 'filter',
  usage,
});

/**
 * The `filters` query parameter as docker's client sends it: JSON of map[string]map[string]bool
 * with keys sorted (Go sorts map keys when marshalling). Undefined when there are none.
 */
export function filtersParam(pairs: string[], extra: Array<[string, string]> = []): string | undefined {
  const map = new Map<string, Set<string>>();
  for (const [name, value] of [...pairs.map(splitPair), ...extra]) {
    if (!map.has(name)) map.set(name, new Set());
    map.get(name)!.add(value);
  }
  if (map.size === 0) return undefined;
  // Built by hand: JSON.stringify would move integer-like keys ("10") ahead of the others.
  const q = (s: string) => JSON.stringify(s);
  const entries = [...map.keys()].sort().map((name) => `${q(name)}:{${[...map.get(name)!].sort().map((v) => `${q(v)}:true`).join(',')}}`);
  return `{${entries.join(',')}}`;
}

function splitPair(pair: string): [string, string] {
  const eq = pair.indexOf('=');
  return [pair.slice(0, eq), pair.slice(eq + 1)];
}

const KNOWN_OS = ['aix', 'android', 'darwin', 'dragonfly', 'freebsd', 'illumos', 'ios', 'js', 'linux', 'netbsd', 'openbsd', 'plan9', 'solaris', 'windows'];

function hostArch(): string {
  const map: Record<string, string> = { x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
  return map[process.arch] ?? process.arch;
}

/** containerd's normalization of an architecture (and its variant). */
function normalizeArch(arch: string, variant: string): [string, string] {
  switch (arch.toLowerCase()) {
    case 'i386':
      return ['386', ''];
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      return ['amd64', variant === 'v1' ? '' : variant];
    case 'aarch64':
    case 'arm64':
      return ['arm64', variant === '8' || variant === 'v8' ? '' : variant];
    case 'armhf':
      return ['arm', 'v7'];
    case 'armel':
      return ['arm', 'v6'];
    case 'arm':
      return ['arm', /^\d+$/.test(variant) ? `v${variant}` : variant];
    default:
      return [arch.toLowerCase(), variant];
  }
}

/**
 * A --platform value ("os[/arch[/variant]]") as the JSON OCI platform docker's client puts
 * in `platform` query parameters. Undefined for an empty value.
 */
export function platformParam(spec: string): string | undefined {
  if (spec === '') return undefined;
  const invalid = () => new CliError(`invalid platform: ${JSON.stringify(spec)}: cannot parse platform specifier: invalid argument`);
  const parts = spec.split('/');
  if (parts.length > 3 || parts.some((p) => !/^[A-Za-z0-9_.-]+$/.test(p))) throw invalid();
  let os: string;
  let arch: string;
  let variant = '';
  if (parts.length === 1) {
    const only = parts[0]!.toLowerCase();
    if (KNOWN_OS.includes(only === 'macos' ? 'darwin' : only)) {
      os = only === 'macos' ? 'darwin' : only;
      arch = hostArch();
    } else {
      os = 'linux';
      [arch, variant] = normalizeArch(only, '');
    }
  } else {
    os = parts[0]!.toLowerCase();
    if (os === 'macos') os = 'darwin';
    [arch, variant] = normalizeArch(parts[1]!, parts[2] ?? '');
  }
  return JSON.stringify({ architecture: arch, os, ...(variant && { variant }) });
}

/** How a command reports template errors: docker words and numbers them differently per command. */
export interface TemplateErrors {
  /** Prefix and exit status for a template that does not parse. */
  parse: { prefix: string; exitCode: number };
  /** Prefix and exit status for a template that fails while running. */
  exec: { prefix: string; exitCode: number };
  /** The name docker gives the template ("version"); shows up in messages. */
  name?: string;
}

export const LIST_ERRORS: TemplateErrors = {
  parse: { prefix: 'template parsing error: ', exitCode: 1 },
  exec: { prefix: 'template parsing error: ', exitCode: 1 },
};

function templateError(err: unknown, how: { prefix: string; exitCode: number }, name?: string): never {
  if (!(err instanceof TemplateError)) throw err;
  let message = err.message;
  if (name) message = message.replace(/^template: :/, `template: ${name}:`).replace(/executing ""/, `executing "${name}"`);
  throw new CliError(how.prefix + message, how.exitCode);
}

/** Parses a user template, failing as `errors` says. */
export function compileFormat(src: string, errors: TemplateErrors): Template {
  try {
    return parseTemplate(src);
  } catch (err) {
    templateError(err, errors.parse, errors.name);
  }
}

/** Runs a parsed template, failing as `errors` says. */
export function executeFormat(tmpl: Template, data: unknown, errors: TemplateErrors): string {
  try {
    return tmpl.execute(data);
  } catch (err) {
    templateError(err, errors.exec, errors.name);
  }
}

/**
 * Output of a single-object --format (version, info): "json" is the object as JSON in the
 * order its fields were built (Go marshals structs in field order, not sorted).
 */
export function renderSingle(format: string, data: unknown, errors: TemplateErrors): string {
  if (format === 'json') return JSON.stringify(data) + '\n';
  return executeFormat(compileFormat(format, errors), data, errors) + '\n';
}

/**
 * A list in the user's format (formatRows does tables and headers). "json" is handled here:
 * docker's row contexts marshal themselves with encoding/json, which escapes <, > and &.
 */
export function renderRows(format: string, rows: object[], headers: Record<string, HeaderTitle>): string {
  if (format === 'json') return rows.map((r) => goJson(r) + '\n').join('');
  try {
    return formatRows(format, rows, headers);
  } catch (err) {
    templateError(err, LIST_ERRORS.exec);
  }
}

/** Docker's "table" keyword: the command's default columns. */
export function isDefaultTable(format: string): boolean {
  return format === '' || format === 'table';
}

/**
 * Asks a yes/no question on stdout and reads the answer from stdin, as docker's
 * PromptForConfirmation does; anything but "y"/"yes" (or end of input) is a no.
 */
export async function confirm(cli: Cli, message: string): Promise<boolean> {
  cli.out.write(`${message}\nAre you sure you want to continue? [y/N] `);
  const answer = await readLine(cli.in);
  const a = answer.trim().toLowerCase();
  return a === 'y' || a === 'yes';
}

async function readLine(input: Cli['in']): Promise<string> {
  return new Promise((resolve) => {
    let buf = '';
    const done = (s: string) => {
      input.off('data', onData);
      input.off('end', onEnd);
      input.off('error', onEnd);
      input.pause();
      resolve(s);
    };
    const onData = (chunk: Buffer | string) => {
      buf += chunk.toString();
      const nl = buf.indexOf('\n');
      if (nl !== -1) done(buf.slice(0, nl));
    };
    const onEnd = () => done(buf);
    input.on('data', onData);
    input.on('end', onEnd);
    input.on('error', onEnd);
    input.resume();
  });
}

/** "k=v" values of --label/--opt-like flags into a map (a value may itself contain "="; a bare key maps to ""). */
export function keyValuePairs(list: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of list) {
    const i = p.indexOf('=');
    if (i < 0) out[p] = '';
    else out[p.slice(0, i)] = p.slice(i + 1);
  }
  return out;
}
