/**
 * The storage flags of `run`/`create`, parsed as the docker 28 CLI parses them before anything
 * reaches the daemon: `-v/--volume` (the compose loader's split into binds and anonymous
 * volumes), `--mount` (a CSV line read as Go's encoding/csv reads it), `--tmpfs` and
 * `--ulimit` (go-units ParseUlimit). Error texts are docker's.
 */
import path from 'node:path';
import { parseGoBool } from '../args.js';
import { ramInBytes } from '../units.js';

// ---- -v/--volume -------------------------------------------------------------------------

/** What the compose loader's ParseVolume makes of a spec; only what the CLI looks at. */
export interface VolumeSpec {
  source: string;
  target: string;
}

const isLetter = (c: string): boolean => /^\p{L}$/u.test(c);

/** A drive letter ("C:") being read: a lone letter in the buffer followed by a colon. */
function isWindowsDrive(buffer: string[], char: string): boolean {
  return char === ':' && buffer.length === 1 && isLetter(buffer[0]!);
}

/**
 * loader.ParseVolume: the spec split at colons (a drive letter's colon excepted) into source,
 * target and options; a single field is an anonymous volume's target.
 */
export function parseVolumeSpec(spec: string): VolumeSpec {
  const vol: VolumeSpec = { source: '', target: '' };
  const bytes = Buffer.byteLength(spec);
  if (bytes === 0) throw new Error('invalid empty volume spec');
  if (bytes <= 2) return { source: '', target: spec };
  const END = '\0end';
  let buffer: string[] = [];
  for (const char of [...spec, END]) {
    if (isWindowsDrive(buffer, char)) {
      buffer.push(char);
    } else if (char === ':' || char === END) {
      const field = buffer.join('');
      if (buffer.length === 0) throw new Error(`invalid spec: ${spec}: empty section between colons`);
      if (vol.source === '' && char === END) vol.target = field;
      else if (vol.source === '') vol.source = field;
      else if (vol.target === '') vol.target = field;
      else if (char === ':') throw new Error(`invalid spec: ${spec}: too many colons`);
      // else the mode field, which the CLI passes on as written
      buffer = [];
    } else {
      buffer.push(char);
    }
  }
  return vol;
}

/**
 * -v values into HostConfig.Binds (anything with a source; a relative host path made absolute)
 * and Config.Volumes (anonymous volumes), each spec once, as docker's map of them has it.
 */
export function splitVolumes(specs: readonly string[], cwd: string): { binds: string[] | null; volumes: Record<string, Record<string, never>> } {
  const binds: string[] = [];
  const anonymous = new Set<string>();
  for (const spec of new Set(specs)) {
    const parsed = parseVolumeSpec(spec);
    if (parsed.source === '') {
      anonymous.add(spec);
      continue;
    }
    let bind = spec;
    const colon = spec.indexOf(':');
    if (colon !== -1) {
      const host = spec.slice(0, colon);
      if (!path.isAbsolute(host) && host.startsWith('.')) bind = path.resolve(cwd, host) + spec.slice(colon);
    }
    binds.push(bind);
  }
  const volumes: Record<string, Record<string, never>> = {};
  for (const v of [...anonymous].sort()) volumes[v] = {};
  return { binds: binds.length ? binds : null, volumes };
}

// ---- --mount -----------------------------------------------------------------------------

class CsvError extends Error {}

/**
 * The first record of `input` as Go's encoding/csv Reader (default settings) reads it: blank
 * lines skipped, quoted fields with "" escapes (which may span lines), Go's error texts with
 * 1-based byte columns. "EOF" when there is no record.
 */
export function readCsvRecord(input: string): string[] {
  const raw: string[] = [];
  for (let rest = input; rest !== ''; ) {
    const nl = rest.indexOf('\n');
    raw.push(nl === -1 ? rest : rest.slice(0, nl + 1));
    rest = nl === -1 ? '' : rest.slice(nl + 1);
  }
  let next = 0;
  let numLine = 0;
  /** One line with its "\n" ("\r\n" made "\n"); undefined at the end of input. */
  const readLine = (): string | undefined => {
    if (next >= raw.length) return undefined;
    let line = raw[next++]!;
    numLine++;
    if (!line.endsWith('\n') && line.endsWith('\r')) line = line.slice(0, -1);
    if (line.endsWith('\r\n')) line = line.slice(0, -2) + '\n';
    return line;
  };
  const lengthNL = (s: string) => (s.endsWith('\n') ? 1 : 0);
  const bytes = (s: string) => Buffer.byteLength(s);

  let line: string | undefined;
  for (;;) {
    line = readLine();
    if (line !== undefined && line.length === lengthNL(line)) continue;
    break;
  }
  if (line === undefined) throw new CsvError('EOF');

  const recLine = numLine;
  const fields: string[] = [];
  const fail = (lineNo: number, col: number, why: string): never => {
    const where = recLine !== lineNo ? `record on line ${recLine}; parse error on line ${lineNo}` : `parse error on line ${lineNo}`;
    throw new CsvError(`${where}, column ${col}: ${why}`);
  };
  const pos = { line: numLine, col: 1 };
  for (;;) {
    if (line.length === 0 || line[0] !== '"') {
      const i = line.indexOf(',');
      const field = i >= 0 ? line.slice(0, i) : line.slice(0, line.length - lengthNL(line));
      const j = field.indexOf('"');
      if (j >= 0) fail(numLine, pos.col + bytes(field.slice(0, j)), 'bare " in non-quoted-field');
      fields.push(field);
      if (i < 0) break;
      pos.col += bytes(line.slice(0, i)) + 1;
      line = line.slice(i + 1);
      continue;
    }
    // A quoted field.
    line = line.slice(1);
    pos.col += 1;
    let value = '';
    let atEnd = false;
    let endOfField = false;
    while (!endOfField) {
      const i = line.indexOf('"');
      if (i >= 0) {
        value += line.slice(0, i);
        pos.col += bytes(line.slice(0, i)) + 1;
        line = line.slice(i + 1);
        if (line[0] === '"') {
          value += '"';
          line = line.slice(1);
          pos.col += 1;
        } else if (line[0] === ',') {
          line = line.slice(1);
          pos.col += 1;
          endOfField = true;
        } else if (lengthNL(line) === line.length) {
          endOfField = true;
          atEnd = true;
        } else {
          fail(numLine, pos.col - 1, 'extraneous or missing " in quoted-field');
        }
      } else if (line.length > 0) {
        value += line;
        pos.col += bytes(line);
        line = readLine() ?? '';
        if (line.length > 0) {
          pos.line++;
          pos.col = 1;
        }
      } else {
        fail(pos.line, pos.col, 'extraneous or missing " in quoted-field');
      }
    }
    fields.push(value);
    if (atEnd) break;
  }
  return fields;
}

/** A HostConfig.Mounts entry, with its fields in the order Go marshals them. */
export interface MountJson {
  Type?: string;
  Source?: string;
  Target?: string;
  ReadOnly?: boolean;
  Consistency?: string;
  BindOptions?: Record<string, unknown>;
  VolumeOptions?: Record<string, unknown>;
  ImageOptions?: Record<string, unknown>;
  TmpfsOptions?: Record<string, unknown>;
}

function sortedMap(map: Map<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of [...map.keys()].sort()) out[k] = map.get(k)!;
  return out;
}

/** Warnings a --mount value produced (docker logs them when the flag is set). */
export interface MountParse {
  mount: MountJson;
  warnings: string[];
}

/**
 * opts.MountOpt.Set: `type=bind|volume|tmpfs|...,source=,target=,readonly,...` into a Mount.
 * Throws with docker's wording; `cwd` resolves a source starting with ".".
 */
export function parseMountSpec(value: string, cwd: string): MountParse {
  let fields: string[];
  try {
    fields = readCsvRecord(value);
  } catch (err) {
    if (err instanceof CsvError) throw new Error(err.message);
    throw err;
  }
  const warnings: string[] = [];
  let type = 'volume';
  let source = '';
  let target = '';
  let readOnly = false;
  let consistency = '';
  let bind: { Propagation: string; NonRecursive: boolean; ReadOnlyNonRecursive: boolean; ReadOnlyForceRecursive: boolean } | undefined;
  interface VolumeOpts {
    NoCopy: boolean;
    Labels: Map<string, string>;
    Subpath: string;
    Driver: string;
    Options?: Map<string, string>;
  }
  let vol: VolumeOpts | undefined;
  let image: { Subpath: string } | undefined;
  let tmpfs: { SizeBytes: number; Mode: number } | undefined;
  const bindOptions = () => (bind ??= { Propagation: '', NonRecursive: false, ReadOnlyNonRecursive: false, ReadOnlyForceRecursive: false });
  const volumeOptions = (): VolumeOpts => (vol ??= { NoCopy: false, Labels: new Map(), Subpath: '', Driver: '' });
  const tmpfsOptions = () => (tmpfs ??= { SizeBytes: 0, Mode: 0 });
  const setOnMap = (map: Map<string, string>, kv: string) => {
    const eq = kv.indexOf('=');
    const k = eq === -1 ? kv : kv.slice(0, eq);
    if (k !== '') map.set(k, eq === -1 ? '' : kv.slice(eq + 1));
  };
  const bool = (key: string, val: string): boolean => {
    const b = parseGoBool(val);
    if (b === undefined) throw new Error(`invalid value for ${key}: ${val}`);
    return b;
  };

  for (const field of fields) {
    const eq = field.indexOf('=');
    const key = (eq === -1 ? field : field.slice(0, eq)).toLowerCase();
    const val = eq === -1 ? '' : field.slice(eq + 1);
    if (eq === -1) {
      if (key === 'readonly' || key === 'ro') readOnly = true;
      else if (key === 'volume-nocopy') volumeOptions().NoCopy = true;
      else if (key === 'bind-nonrecursive') bindOptions().NonRecursive = true;
      else throw new Error(`invalid field '${field}' must be a key=value pair`);
      continue;
    }
    switch (key) {
      case 'type':
        type = val.toLowerCase();
        break;
      case 'source':
      case 'src':
        source = val.startsWith('.') && !path.isAbsolute(val) ? path.resolve(cwd, val) : val;
        break;
      case 'target':
      case 'dst':
      case 'destination':
        target = val;
        break;
      case 'readonly':
      case 'ro':
        readOnly = bool(key, val);
        break;
      case 'consistency':
        consistency = val.toLowerCase();
        break;
      case 'bind-propagation':
        bindOptions().Propagation = val.toLowerCase();
        break;
      case 'bind-nonrecursive':
        bindOptions().NonRecursive = bool(key, val);
        warnings.push('bind-nonrecursive is deprecated, use bind-recursive=disabled instead');
        break;
      case 'bind-recursive':
        if (val === 'enabled') break;
        else if (val === 'disabled') bindOptions().NonRecursive = true;
        else if (val === 'writable') bindOptions().ReadOnlyNonRecursive = true;
        else if (val === 'readonly') bindOptions().ReadOnlyForceRecursive = true;
        else throw new Error(`invalid value for ${key}: ${val} (must be "enabled", "disabled", "writable", or "readonly")`);
        break;
      case 'volume-subpath':
        volumeOptions().Subpath = val;
        break;
      case 'volume-nocopy':
        volumeOptions().NoCopy = bool(key, val);
        break;
      case 'volume-label':
        setOnMap(volumeOptions().Labels, val);
        break;
      case 'volume-driver':
        volumeOptions().Driver = val;
        break;
      case 'volume-opt': {
        const v = volumeOptions();
        setOnMap((v.Options ??= new Map()), val);
        break;
      }
      case 'image-subpath':
        (image ??= { Subpath: '' }).Subpath = val;
        break;
      case 'tmpfs-size': {
        let size: number;
        try {
          size = ramInBytes(val);
        } catch {
          throw new Error(`invalid value for ${key}: ${val}`);
        }
        tmpfsOptions().SizeBytes = size;
        break;
      }
      case 'tmpfs-mode': {
        // strconv.ParseUint(val, 8, 32)
        if (!/^[0-7]+$/.test(val) || parseInt(val, 8) > 0xffffffff) throw new Error(`invalid value for ${key}: ${val}`);
        tmpfsOptions().Mode = parseInt(val, 8);
        break;
      }
      default:
        throw new Error(`unexpected key '${key}' in '${field}'`);
    }
  }

  if (type === '') throw new Error('type is required');
  if (target === '') throw new Error('target is required');
  if (vol && type !== 'volume') throw new Error(`cannot mix 'volume-*' options with mount type '${type}'`);
  if (image && type !== 'image') throw new Error(`cannot mix 'image-*' options with mount type '${type}'`);
  if (bind && type !== 'bind') throw new Error(`cannot mix 'bind-*' options with mount type '${type}'`);
  if (tmpfs && type !== 'tmpfs') throw new Error(`cannot mix 'tmpfs-*' options with mount type '${type}'`);
  if (bind?.ReadOnlyNonRecursive && !readOnly) throw new Error("option 'bind-recursive=writable' requires 'readonly' to be specified in conjunction");
  if (bind?.ReadOnlyForceRecursive) {
    if (!readOnly) throw new Error("option 'bind-recursive=readonly' requires 'readonly' to be specified in conjunction");
    if (bind.Propagation !== 'rprivate') throw new Error("option 'bind-recursive=readonly' requires 'bind-propagation=rprivate' to be specified in conjunction");
  }

  // Go's omitempty: zero values and empty maps left out.
  const mount: MountJson = { Type: type };
  if (source !== '') mount.Source = source;
  mount.Target = target;
  if (readOnly) mount.ReadOnly = true;
  if (consistency !== '') mount.Consistency = consistency;
  if (bind) {
    const b: Record<string, unknown> = {};
    if (bind.Propagation !== '') b.Propagation = bind.Propagation;
    if (bind.NonRecursive) b.NonRecursive = true;
    if (bind.ReadOnlyNonRecursive) b.ReadOnlyNonRecursive = true;
    if (bind.ReadOnlyForceRecursive) b.ReadOnlyForceRecursive = true;
    mount.BindOptions = b;
  }
  if (vol) {
    const v: Record<string, unknown> = {};
    if (vol.NoCopy) v.NoCopy = true;
    if (vol.Labels.size) v.Labels = sortedMap(vol.Labels);
    if (vol.Subpath !== '') v.Subpath = vol.Subpath;
    const driver: Record<string, unknown> = {};
    if (vol.Driver !== '') driver.Name = vol.Driver;
    if (vol.Options?.size) driver.Options = sortedMap(vol.Options);
    v.DriverConfig = driver;
    mount.VolumeOptions = v;
  }
  if (image) mount.ImageOptions = image.Subpath !== '' ? { Subpath: image.Subpath } : {};
  if (tmpfs) {
    const t: Record<string, unknown> = {};
    if (tmpfs.SizeBytes !== 0) t.SizeBytes = tmpfs.SizeBytes;
    if (tmpfs.Mode !== 0) t.Mode = tmpfs.Mode;
    mount.TmpfsOptions = t;
  }
  return { mount, warnings };
}

/** A pflag check for --mount: docker rejects a bad value while parsing flags. */
export function checkMount(value: string): string | undefined {
  try {
    parseMountSpec(value, process.cwd());
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/**
 * A warning as logrus's text formatter writes it on stderr (docker's CLI logs a few this way):
 * `time="2025-01-01T00:00:00Z" level=warning msg="..."`.
 */
export function logrusWarning(nowMs: number, msg: string): string {
  const d = new Date(nowMs);
  const off = -d.getTimezoneOffset();
  const pad = (n: number) => String(Math.trunc(Math.abs(n))).padStart(2, '0');
  const zone = off === 0 ? 'Z' : `${off < 0 ? '-' : '+'}${pad(off / 60)}:${pad(off % 60)}`;
  const stamp = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}${zone}`;
  return `time="${stamp}" level=warning msg=${JSON.stringify(msg)}\n`;
}

// ---- --tmpfs -----------------------------------------------------------------------------

/** --tmpfs PATH[:OPTIONS] into HostConfig.Tmpfs (the last one for a path wins); undefined when none. */
export function tmpfsMap(values: readonly string[]): Record<string, string> | undefined {
  if (values.length === 0) return undefined;
  const map = new Map<string, string>();
  for (const t of values) {
    const colon = t.indexOf(':');
    map.set(colon === -1 ? t : t.slice(0, colon), colon === -1 ? '' : t.slice(colon + 1));
  }
  return sortedMap(map);
}

// ---- --ulimit ----------------------------------------------------------------------------

const ULIMIT_NAMES = new Set(['core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio', 'rttime', 'sigpending', 'stack']);

export interface Ulimit {
  Name: string;
  Hard: number;
  Soft: number;
}

/** strconv.ParseInt(s, 10, 64). */
function parseInt64(s: string): bigint {
  if (!/^[+-]?\d+$/.test(s)) throw new Error(`strconv.ParseInt: parsing ${JSON.stringify(s)}: invalid syntax`);
  const n = BigInt(s);
  if (n > 9223372036854775807n || n < -9223372036854775808n) throw new Error(`strconv.ParseInt: parsing ${JSON.stringify(s)}: value out of range`);
  return n;
}

/** go-units ParseUlimit: name=soft[:hard]. */
export function parseUlimit(val: string): Ulimit {
  const eq = val.indexOf('=');
  if (eq === -1) throw new Error(`invalid ulimit argument: ${val}`);
  const name = val.slice(0, eq);
  if (!ULIMIT_NAMES.has(name)) throw new Error(`invalid ulimit type: ${name}`);
  const limits = val.slice(eq + 1).split(':');
  if (limits.length > 2) throw new Error(`too many limit value arguments - ${val.slice(eq + 1)}, can only have up to two, \`soft[:hard]\``);
  const hardGiven = limits.length === 2 ? parseInt64(limits[1]!) : undefined;
  const soft = parseInt64(limits[0]!);
  const hard = hardGiven ?? soft;
  if (hard !== -1n && soft > hard) throw new Error(`ulimit soft limit must be less than or equal to hard limit: ${soft} > ${hard}`);
  return { Name: name, Hard: Number(hard), Soft: Number(soft) };
}

export function checkUlimit(value: string): string | undefined {
  try {
    parseUlimit(value);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** HostConfig.Ulimits: one per name (the last given), sorted by name. */
export function ulimitList(values: readonly string[]): Ulimit[] {
  const byName = new Map<string, Ulimit>();
  for (const v of values) {
    const u = parseUlimit(v);
    byName.set(u.Name, u);
  }
  return [...byName.values()].sort((a, b) => (a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0));
}
