/**
 * Parser nodes to the typed instructions of types.ts, with buildkit's instructions package's rules:
 * flags per instruction, argument counts, stage names, heredoc sources, HEALTHCHECK durations, RUN
 * mounts. Errors carry buildkit's wording; index.ts adds the line as Docker's builder prints it.
 */
import type {
  ArgInstruction,
  CommandLine,
  Dockerfile,
  FromInstruction,
  Heredoc,
  Instruction,
  KeyValue,
  Location,
  RunMount,
  Stage,
} from './types.js';
import { chompHeredoc, parseHeredocWord, type Node, type ParseResult } from './parser.js';

/** An error in one instruction; `parseError` says Docker prefixes it with `dockerfile parse error on line N`. */
export class InstructionError extends Error {
  constructor(
    message: string,
    readonly startLine: number,
    readonly endLine: number,
    readonly parseError: boolean,
  ) {
    super(message);
  }
}

class Refusal extends Error {}

function levenshtein(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  let prev = Array.from({ length: y.length + 1 }, (_, i) => i);
  for (let i = 1; i <= x.length; i++) {
    const row = [i];
    for (let j = 1; j <= y.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (x[i - 1] === y[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[y.length]!;
}

/** buildkit's suggest.WrapError: ` (did you mean x?)` when an option is within two edits. */
function suggest(message: string, value: string, options: Iterable<string>, caseSensitive: boolean): string {
  const val = caseSensitive ? value : value.toLowerCase();
  let match = '';
  let best = 3;
  for (const option of options) {
    const opt = caseSensitive ? option : option.toLowerCase();
    if (opt === val) return message;
    const distance = levenshtein(val, opt);
    if (distance < best) {
      best = distance;
      match = caseSensitive ? opt : value === value.toLowerCase() ? opt : value === value.toUpperCase() ? opt.toUpperCase() : opt;
    }
  }
  return match ? `${message} (did you mean ${match}?)` : message;
}

const INSTRUCTION_NAMES = [
  'add', 'arg', 'cmd', 'copy', 'entrypoint', 'env', 'expose', 'from', 'healthcheck', 'label',
  'maintainer', 'onbuild', 'run', 'shell', 'stopsignal', 'user', 'volume', 'workdir',
];
const MOUNT_KEYS = [
  'type', 'from', 'source', 'target', 'readonly', 'id', 'sharing', 'required', 'size', 'mode', 'uid', 'gid',
  'src', 'dst', 'destination', 'ro', 'rw', 'readwrite', 'env',
];

type FlagType = 'bool' | 'string' | 'strings';

/** buildkit's BFlags: `--name=value` words checked against the flags an instruction declares. */
class Flags {
  private readonly declared = new Map<string, FlagType>();
  private readonly values = new Map<string, string>();
  private readonly lists = new Map<string, string[]>();
  readonly used = new Set<string>();

  constructor(private readonly args: string[]) {}

  bool(name: string): this {
    this.declared.set(name, 'bool');
    return this;
  }
  string(name: string): this {
    this.declared.set(name, 'string');
    return this;
  }
  strings(name: string): this {
    this.declared.set(name, 'strings');
    return this;
  }

  parse(): this {
    for (const arg of this.args) {
      if (arg === '--') return this;
      if (!arg.startsWith('--')) throw new Refusal(`arg should start with -- : ${arg}`);
      const eq = arg.indexOf('=');
      const flagName = eq < 0 ? arg : arg.slice(0, eq);
      const hasValue = eq >= 0;
      const value = hasValue ? arg.slice(eq + 1) : '';
      const name = flagName.slice(2);
      const type = this.declared.get(name);
      if (!type) throw new Refusal(suggest(`unknown flag: ${flagName}`, name, this.declared.keys(), true));
      if (this.used.has(name) && type !== 'strings') throw new Refusal(`duplicate flag specified: ${flagName}`);
      this.used.add(name);
      if (type === 'bool') {
        if (hasValue && value === '') throw new Refusal(`missing a value on flag: ${flagName}`);
        const v = value.toLowerCase();
        if (v !== 'true' && v !== '' && v !== 'false') throw new Refusal(`expecting boolean value for flag ${flagName}, not: ${value}`);
        this.values.set(name, v === 'false' ? 'false' : 'true');
      } else {
        if (!hasValue) throw new Refusal(`missing a value on flag: ${flagName}`);
        if (type === 'string') this.values.set(name, value);
        else this.lists.set(name, [...(this.lists.get(name) ?? []), value]);
      }
    }
    return this;
  }

  get(name: string): string | undefined {
    return this.values.get(name);
  }
  isTrue(name: string): boolean {
    return this.values.get(name) === 'true';
  }
  list(name: string): string[] {
    return this.lists.get(name) ?? [];
  }
}

const atLeastOne = (cmd: string) => new Refusal(`${cmd} requires at least one argument`);
const exactlyOne = (cmd: string) => new Refusal(`${cmd} requires exactly one argument`);
const noDestination = (cmd: string) =>
  new Refusal(`${cmd} requires at least two arguments, but only one was provided. Destination could not be determined`);

const UNITS: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Go's time.ParseDuration, in nanoseconds; errors worded as Go's. */
export function parseGoDuration(text: string): number {
  const invalid = () => new Refusal(`time: invalid duration ${JSON.stringify(text)}`);
  let s = text;
  let sign = 1;
  if (s.startsWith('-') || s.startsWith('+')) {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') throw invalid();
  let total = 0;
  while (s !== '') {
    const m = /^(\d*)(?:\.(\d*))?/.exec(s)!;
    if (m[0] === '' || m[0] === '.' || (m[1] === '' && (m[2] ?? '') === '')) throw invalid();
    s = s.slice(m[0].length);
    const unit = /^[^\d.]*/.exec(s)![0];
    if (unit === '') throw new Refusal(`time: missing unit in duration ${JSON.stringify(text)}`);
    const scale = UNITS[unit];
    if (scale === undefined) throw new Refusal(`time: unknown unit ${JSON.stringify(unit)} in duration ${JSON.stringify(text)}`);
    s = s.slice(unit.length);
    total += Number(`${m[1] || '0'}.${m[2] || '0'}`) * scale;
  }
  return sign * Math.round(total);
}

/** `--interval` and friends: empty or 0 is unset; less than 1ms is refused, as buildkit. */
function interval(flags: Flags, name: string): number | undefined {
  const value = flags.get(name);
  if (value === undefined || value === '') return undefined;
  const ns = parseGoDuration(value);
  if (ns === 0) return undefined;
  if (ns < 1e6) throw new Refusal(`Interval ${JSON.stringify(name)} cannot be less than 1ms`);
  return ns;
}

/** docker/go-units RAMInBytes: `64m`, `1g`, `512k`, `100` (binary multiples). */
function ramInBytes(value: string): number | null {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b)?$/i.exec(value.trim());
  if (!m) return null;
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 }[m[2]!.toLowerCase()]!;
  return Math.floor(Number(m[1]) * mult);
}

/** CSV fields with double quotes, as Go's encoding/csv reads one record. */
function csvFields(text: string): string[] {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (i >= text.length) throw new Refusal(`failed to parse csv mounts: parse error on line 1, column ${i + 1}: extraneous or missing " in quoted-field`);
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += text[i++];
      }
      if (i < text.length && text[i] !== ',') {
        throw new Refusal(`failed to parse csv mounts: parse error on line 1, column ${i + 1}: extraneous or missing " in quoted-field`);
      }
    } else {
      while (i < text.length && text[i] !== ',') field += text[i++];
    }
    fields.push(field);
    if (i >= text.length) return fields;
    i++; // the comma
  }
}

function parseBool(value: string): boolean | null {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(value)) return false;
  return null;
}

const MOUNT_TYPES = new Set(['bind', 'cache', 'tmpfs', 'secret', 'ssh']);
const SHARING = new Set(['shared', 'private', 'locked']);

/** One `--mount=` value (buildkit's parseMount); values are kept as written. */
export function parseMount(value: string): RunMount {
  const m: RunMount = { type: 'bind', readonly: false };
  let roAuto = true;
  let hasMode = false;
  let hasUid = false;
  let hasGid = false;
  for (const field of csvFields(value)) {
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).toLowerCase();
    const val = eq < 0 ? '' : field.slice(eq + 1);
    if (eq < 0) {
      if (key === 'readonly' || key === 'ro') {
        m.readonly = true;
        roAuto = false;
      } else if (key === 'readwrite' || key === 'rw') {
        m.readonly = false;
        roAuto = false;
      } else if (key === 'required') {
        if (m.type !== 'secret' && m.type !== 'ssh') throw new Refusal(`unexpected key '${key}' for mount type '${m.type}'`);
        m.required = true;
      } else throw new Refusal(`invalid field '${field}' must be a key=value pair`);
      continue;
    }
    const uint = (base: number, what: string) => {
      const re = base === 8 ? /^[0-7]+$/ : /^\d+$/;
      const n = re.test(val) ? parseInt(val, base) : NaN;
      if (!Number.isFinite(n) || n > 0xffffffff) throw new Refusal(`invalid value ${val} for ${what}`);
      return n;
    };
    const bool = () => {
      const b = parseBool(val);
      if (b === null) throw new Refusal(`invalid value for ${key}: ${val}`);
      return b;
    };
    switch (key) {
      case 'type': {
        const t = val.toLowerCase();
        if (!MOUNT_TYPES.has(t)) throw new Refusal(suggest(`unsupported mount type ${JSON.stringify(val)}`, val, MOUNT_TYPES, true));
        m.type = t as RunMount['type'];
        break;
      }
      case 'from':
        if (val.indexOf('$') !== -1 && val.indexOf('$') !== val.length - 1) {
          throw new Refusal(`'${key}' doesn't support variable expansion, define alias stage instead`);
        }
        m.from = val;
        break;
      case 'source':
      case 'src':
        m.source = val;
        break;
      case 'target':
      case 'dst':
      case 'destination':
        m.target = val;
        break;
      case 'readonly':
      case 'ro':
        m.readonly = bool();
        roAuto = false;
        break;
      case 'readwrite':
      case 'rw':
        m.readonly = !bool();
        roAuto = false;
        break;
      case 'required':
        if (m.type !== 'secret' && m.type !== 'ssh') throw new Refusal(`unexpected key '${key}' for mount type '${m.type}'`);
        m.required = bool();
        break;
      case 'size': {
        if (m.type !== 'tmpfs') throw new Refusal(`unexpected key '${key}' for mount type '${m.type}'`);
        const size = ramInBytes(val);
        if (size === null) throw new Refusal(`invalid value for ${key}: ${val}`);
        m.size = size;
        break;
      }
      case 'id':
        m.id = val;
        break;
      case 'sharing': {
        const s = val.toLowerCase();
        if (!SHARING.has(s)) throw new Refusal(suggest(`unsupported sharing value ${JSON.stringify(val)}`, val, SHARING, true));
        m.sharing = s as RunMount['sharing'];
        break;
      }
      case 'mode':
        m.mode = uint(8, 'mode');
        hasMode = true;
        break;
      case 'uid':
        m.uid = uint(10, 'uid');
        hasUid = true;
        break;
      case 'gid':
        m.gid = uint(10, 'gid');
        hasGid = true;
        break;
      case 'env':
        m.env = val;
        break;
      default:
        throw new Refusal(suggest(`unexpected key '${key}' in '${field}'`, key, MOUNT_KEYS, true));
    }
  }
  if (m.type !== 'secret' && m.type !== 'ssh' && m.type !== 'cache') {
    if (hasMode) throw new Refusal(`mode not allowed for ${JSON.stringify(m.type)} type mounts`);
    if (hasUid) throw new Refusal(`uid not allowed for ${JSON.stringify(m.type)} type mounts`);
    if (hasGid) throw new Refusal(`gid not allowed for ${JSON.stringify(m.type)} type mounts`);
  }
  if (roAuto) m.readonly = !(m.type === 'cache' || m.type === 'tmpfs');
  if (m.type === 'secret') {
    if (m.from) throw new Refusal('secret mount should not have a from');
    if (m.sharing) throw new Refusal('secret mount should not define sharing');
    if (!m.source && !m.target && !m.id) throw new Refusal('invalid secret mount. one of source, target required');
    if (m.source && m.id) throw new Refusal("both source and id can't be set");
  }
  if (m.sharing && m.type !== 'cache') throw new Refusal(`invalid cache sharing set for ${m.type} mount`);
  return m;
}

function keyValues(args: string[], cmd: string): KeyValue[] {
  if (args.length === 0) throw atLeastOne(cmd);
  if (args.length % 3 !== 0) throw new Refusal(`Bad input to ${cmd}, too many arguments`);
  const pairs: KeyValue[] = [];
  for (let i = 0; i < args.length; i += 3) {
    if (args[i] === '') throw new Refusal(`${cmd} names can not be blank`);
    pairs.push({ key: args[i]!, value: args[i + 1]! });
  }
  return pairs;
}

function toHeredoc(h: Node['heredocs'][number]): Heredoc {
  return { name: h.name, content: h.chomp ? chompHeredoc(h.content) : h.content, expand: h.expand };
}

function commandLine(node: Node, emptyAsExec = false): CommandLine {
  if (node.json) return { form: 'exec', args: node.args };
  if (emptyAsExec && node.args.length === 0) return { form: 'exec', args: [] };
  const text = node.args.join(' ');
  return node.heredocs.length > 0 ? { form: 'shell', text, heredocs: node.heredocs.map(toHeredoc) } : { form: 'shell', text };
}

const VALID_STAGE_NAME = /^[a-z][a-z0-9-_.]*$/;

/** One node to its instruction (the node's lines are the caller's business). */
export function parseInstruction(node: Node, file: string): Instruction {
  const loc: Location = { file, startLine: node.startLine, endLine: node.endLine };
  // The step text (`Step 2/5 : RUN x`): buildkit's withNameAndCode keeps the original trimmed.
  const base = { loc, original: node.original.trim() };
  const args = node.args;
  const flags = new Flags(node.flags);
  const name = node.value.toLowerCase();
  switch (name) {
    case 'env':
      flags.parse();
      return { ...base, kind: 'ENV', pairs: keyValues(args, 'ENV') };
    case 'label':
      flags.parse();
      return { ...base, kind: 'LABEL', pairs: keyValues(args, 'LABEL') };
    case 'maintainer':
      if (args.length !== 1) throw exactlyOne('MAINTAINER');
      flags.parse();
      return { ...base, kind: 'MAINTAINER', value: args[0]! };
    case 'add':
    case 'copy': {
      const cmd = name === 'add' ? 'ADD' : 'COPY';
      if (args.length < 2) throw noDestination(cmd);
      flags.string('chown').string('chmod').bool('link').strings('exclude');
      if (cmd === 'ADD') flags.bool('keep-git-dir').string('checksum').bool('unpack');
      else flags.string('from').bool('parents');
      flags.parse();
      const dest = args[args.length - 1]!;
      if (parseHeredocWord(dest)) throw new Refusal(`${cmd} cannot accept a heredoc as a destination`);
      const byName = new Map(node.heredocs.map((h) => [h.name, h]));
      const sources: string[] = [];
      const heredocs: Heredoc[] = [];
      for (const src of args.slice(0, -1)) {
        const doc = parseHeredocWord(src);
        if (!doc) {
          sources.push(src);
          continue;
        }
        const content = byName.get(doc.name)?.content ?? '';
        heredocs.push({ name: doc.name, content: doc.chomp ? chompHeredoc(content) : content, expand: doc.expand });
      }
      const chown = flags.get('chown');
      const chmod = flags.get('chmod');
      return {
        ...base,
        kind: cmd,
        sources,
        heredocs,
        dest,
        ...(flags.get('from') ? { from: flags.get('from') } : {}),
        ...(chown ? { chown } : {}),
        ...(chmod ? { chmod } : {}),
        link: flags.isTrue('link'),
        exclude: flags.list('exclude'),
        parents: flags.isTrue('parents'),
        ...(flags.used.has('keep-git-dir') ? { keepGitDir: flags.isTrue('keep-git-dir') } : {}),
        ...(flags.get('checksum') ? { checksum: flags.get('checksum') } : {}),
        ...(flags.used.has('unpack') ? { unpack: flags.isTrue('unpack') } : {}),
      };
    }
    case 'from': {
      let stageName: string | undefined;
      if (args.length === 3 && args[1]!.toLowerCase() === 'as') {
        stageName = args[2]!.toLowerCase();
        if (!VALID_STAGE_NAME.test(stageName)) {
          throw new Refusal(`invalid name for build stage: ${JSON.stringify(args[2])}, name can't start with a number or contain symbols`);
        }
      } else if (args.length !== 1) throw new Refusal('FROM requires either one or three arguments');
      flags.string('platform').parse();
      const platform = flags.get('platform');
      return {
        ...base,
        kind: 'FROM',
        image: args[0]!,
        ...(stageName ? { stageName } : {}),
        ...(platform ? { platform } : {}),
      };
    }
    case 'onbuild': {
      if (args.length === 0 || !node.sub) throw atLeastOne('ONBUILD');
      flags.parse();
      const trigger = args[0]!.trim().toUpperCase();
      if (trigger === 'ONBUILD') throw new Refusal('Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed');
      if (trigger === 'MAINTAINER' || trigger === 'FROM') throw new Refusal(`${trigger} isn't allowed as an ONBUILD trigger`);
      let expression = node.original.replace(/^\s*ONBUILD\s*/i, '');
      for (const h of node.heredocs) expression += `\n${h.content}${h.name}`;
      const sub: Node = { ...node.sub, heredocs: node.heredocs };
      return { ...base, kind: 'ONBUILD', expression, trigger: parseInstruction(sub, file) };
    }
    case 'workdir':
      if (args.length !== 1) throw exactlyOne('WORKDIR');
      flags.parse();
      return { ...base, kind: 'WORKDIR', value: args[0]! };
    case 'run': {
      flags.strings('mount').string('network').string('security').parse();
      const network = flags.get('network');
      if (network !== undefined && !['default', 'none', 'host'].includes(network)) {
        throw new Refusal(`invalid network mode ${JSON.stringify(network)}`);
      }
      const security = flags.get('security');
      if (security !== undefined && !['sandbox', 'insecure'].includes(security)) {
        throw new Refusal(`security ${JSON.stringify(security)} is not valid`);
      }
      return {
        ...base,
        kind: 'RUN',
        command: commandLine(node),
        mounts: flags.list('mount').map(parseMount),
        ...(network ? { network: network as 'default' | 'none' | 'host' } : {}),
        ...(security ? { security: security as 'sandbox' | 'insecure' } : {}),
      };
    }
    case 'cmd':
      flags.parse();
      return { ...base, kind: 'CMD', command: commandLine(node) };
    case 'entrypoint':
      flags.parse();
      // An empty ENTRYPOINT resets it (buildkit keeps a nil command line): exec form with no words.
      return { ...base, kind: 'ENTRYPOINT', command: commandLine(node, true) };
    case 'healthcheck':
      return healthcheck(node, base, flags);
    case 'expose':
      if (args.length === 0) throw atLeastOne('EXPOSE');
      flags.parse();
      // buildkit sorts the ports (byte order).
      return { ...base, kind: 'EXPOSE', values: [...args].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)) };
    case 'user':
      if (args.length !== 1) throw exactlyOne('USER');
      flags.parse();
      return { ...base, kind: 'USER', value: args[0]! };
    case 'volume': {
      if (args.length === 0) throw atLeastOne('VOLUME');
      flags.parse();
      const values = args.map((v) => v.trim());
      if (values.some((v) => v === '')) throw new Refusal('VOLUME specified can not be an empty string');
      return { ...base, kind: 'VOLUME', values };
    }
    case 'stopsignal':
      if (args.length !== 1) throw exactlyOne('STOPSIGNAL');
      return { ...base, kind: 'STOPSIGNAL', value: args[0]! };
    case 'arg': {
      if (args.length === 0) throw atLeastOne('ARG');
      const pairs = args.map((arg) => {
        const eq = arg.indexOf('=');
        if (eq < 0) return { key: arg };
        if (eq === 0) throw new Refusal('ARG names can not be blank');
        return { key: arg.slice(0, eq), value: arg.slice(eq + 1) };
      });
      return { ...base, kind: 'ARG', args: pairs };
    }
    case 'shell':
      flags.parse();
      if (args.length === 0) throw atLeastOne('SHELL');
      if (!node.json) throw new Refusal('SHELL requires the arguments to be in JSON form');
      return { ...base, kind: 'SHELL', shell: args };
    default:
      throw new Refusal(suggest(`unknown instruction: ${node.value}`, node.value, INSTRUCTION_NAMES, false));
  }
}

function healthcheck(node: Node, base: { loc: Location; original: string }, flags: Flags): Instruction {
  if (node.args.length === 0) throw atLeastOne('HEALTHCHECK');
  const type = node.args[0]!.toUpperCase();
  const rest = node.args.slice(1);
  if (type === 'NONE') {
    if (rest.length !== 0) throw new Refusal('HEALTHCHECK NONE takes no arguments');
    return { ...base, kind: 'HEALTHCHECK', test: ['NONE'] };
  }
  flags.string('interval').string('timeout').string('start-period').string('start-interval').string('retries').parse();
  if (type !== 'CMD') throw new Refusal(`Unknown type ${JSON.stringify(type)} in HEALTHCHECK (try CMD)`);
  const cmd = node.json ? rest : rest.length > 0 ? [rest.join(' ')] : [];
  if (cmd.length === 0) throw new Refusal('Missing command after HEALTHCHECK CMD');
  const test = [node.json ? 'CMD' : 'CMD-SHELL', ...cmd];
  const result: Instruction = { ...base, kind: 'HEALTHCHECK', test };
  const i = interval(flags, 'interval');
  const t = interval(flags, 'timeout');
  const sp = interval(flags, 'start-period');
  const si = interval(flags, 'start-interval');
  if (i !== undefined) result.interval = i;
  if (t !== undefined) result.timeout = t;
  if (sp !== undefined) result.startPeriod = sp;
  if (si !== undefined) result.startInterval = si;
  const retries = flags.get('retries');
  if (retries !== undefined && retries !== '') {
    if (!/^[+-]?\d+$/.test(retries)) throw new Refusal(`strconv.ParseInt: parsing ${JSON.stringify(retries)}: invalid syntax`);
    const n = Number(retries);
    if (n > 2 ** 31 - 1 || n < -(2 ** 31)) throw new Refusal(`strconv.ParseInt: parsing ${JSON.stringify(retries)}: value out of range`);
    if (n < 0) throw new Refusal(`--retries cannot be negative (${n})`);
    result.retries = n;
  }
  return result;
}

/** Groups the parsed nodes into stages, as buildkit's instructions.Parse. Throws InstructionError. */
export function buildDockerfile(parsed: ParseResult, file: string): Dockerfile {
  const metaArgs: ArgInstruction[] = [];
  const stages: Stage[] = [];
  const names = new Map<string, number>();
  for (const node of parsed.nodes) {
    let instruction: Instruction;
    try {
      instruction = parseInstruction(node, file);
    } catch (err) {
      if (err instanceof Refusal) throw new InstructionError(err.message, node.startLine, node.endLine, true);
      throw err;
    }
    if (instruction.kind === 'FROM') {
      const from: FromInstruction = instruction;
      if (from.stageName !== undefined) {
        if (names.has(from.stageName)) {
          // The classic builder's wording (BuildKit says `duplicate stage name "x"`).
          throw new InstructionError(`${from.stageName} stage name already used`, node.startLine, node.endLine, false);
        }
        names.set(from.stageName, stages.length);
      }
      stages.push({ index: stages.length, from, instructions: [] });
      continue;
    }
    if (stages.length === 0) {
      if (instruction.kind === 'ARG') {
        metaArgs.push(instruction);
        continue;
      }
      throw new InstructionError('no build stage in current context', node.startLine, node.endLine, false);
    }
    stages[stages.length - 1]!.instructions.push(instruction);
  }
  if (stages.length === 0) {
    const last = parsed.nodes[parsed.nodes.length - 1];
    throw new InstructionError('no build stage in current context', last?.startLine ?? 0, last?.endLine ?? 0, false);
  }
  const warnings = parsed.warnings.map((w) => ({
    loc: { file, startLine: w.line, endLine: w.line },
    message: w.message,
  }));
  return { directives: { ...parsed.directives }, metaArgs, stages, warnings };
}
