/**
 * Command-line grammar in the manner of cobra/pflag, which docker uses: a tree of commands,
 * global flags before the command name, and per-command flags that may be mixed with
 * positional arguments. Error texts and exit codes are docker 28's.
 */
import type { Cli } from './streams.js';

export type FlagType = 'bool' | 'string' | 'int' | 'list' | 'filter' | 'strings';

export interface FlagDef {
  /** Long name, used as --name. */
  name: string;
  /** One-letter shorthand, used as -x. */
  short?: string;
  type: FlagType;
  usage: string;
  /** Initial value; shown in help as "(default ...)" when it is not the type's zero value. */
  default?: string | boolean | number;
  hidden?: boolean;
  /** The value's name in help when it is not the type's ("bytes", "decimal", "network"). */
  valueName?: string;
  /**
   * Checks a value as the flag's pflag Value.Set would; returns why it is invalid, which is
   * reported as `invalid argument "v" for "-x, --flag" flag: <why>`.
   */
  check?: (value: string) => string | undefined;
}

/** How many positional arguments a command takes. */
export interface ArgsRule {
  min?: number;
  max?: number;
}

export interface Invocation {
  args: string[];
  flags: FlagValues;
  /** Command path including the program name, e.g. "berth image ls". */
  path: string;
}

export interface CommandDef {
  name: string;
  aliases?: string[];
  /** What follows the command path in the usage line, e.g. "[OPTIONS] IMAGE [IMAGE...]". */
  usage?: string;
  short: string;
  /** What the command's own help shows instead of `short`, when docker has a longer text. */
  long?: string;
  /** Every path that runs this command, for the help's "Aliases:" section ("image ls", "images"). */
  aliasPaths?: string[];
  flags?: FlagDef[];
  args?: ArgsRule;
  run?: (inv: Invocation, cli: Cli) => Promise<number | void>;
  /**
   * Flags end at the first positional argument (pflag's SetInterspersed(false)), so that
   * `run IMAGE ls -l` and `top CONTAINER -ef` leave the command's own options alone.
   */
  noInterspersed?: boolean;
  subcommands?: CommandDef[];
  /**
   * cobra's persistent flags: accepted by this command and every command below it, before or
   * after the subcommand's name (`berth compose -f x.yml up` and `berth compose up -f x.yml`).
   * The leaf's Invocation.flags holds their values.
   */
  persistentFlags?: FlagDef[];
  /** Where the root help lists it. */
  group?: 'common' | 'management';
  hidden?: boolean;
}

/** The name usage lines and errors begin with: `berth`, or `docker` in the docker CLI plugin. */
export let PROGRAM = 'berth';

export function setProgramName(name: string): void {
  PROGRAM = name;
}

/** Parsed flag values, with the types their definitions declare. */
export class FlagValues {
  private readonly values = new Map<string, boolean | string | number | string[]>();
  private readonly changedNames = new Set<string>();

  constructor(readonly defs: FlagDef[]) {
    for (const def of defs) this.values.set(def.name, initialValue(def));
  }

  bool(name: string): boolean {
    return this.get(name) as boolean;
  }
  string(name: string): string {
    return this.get(name) as string;
  }
  int(name: string): number {
    return this.get(name) as number;
  }
  list(name: string): string[] {
    return [...(this.get(name) as string[])];
  }
  /** Whether the flag appeared on the command line. */
  changed(name: string): boolean {
    return this.changedNames.has(name);
  }

  private get(name: string): boolean | string | number | string[] {
    if (!this.values.has(name)) throw new Error(`internal error: flag --${name} is not defined`);
    return this.values.get(name)!;
  }

  /** Applies one occurrence of a flag; throws FlagError for a value the type rejects. */
  set(def: FlagDef, raw: string | true): void {
    const value = raw === true ? 'true' : raw;
    const invalid = (why: string) => new FlagError(`invalid argument "${value}" for "${flagLabel(def)}" flag: ${why}`);
    const why = def.check?.(value);
    if (why !== undefined) throw invalid(why);
    switch (def.type) {
      case 'bool': {
        const b = parseGoBool(value);
        if (b === undefined) throw invalid(`strconv.ParseBool: parsing "${value}": invalid syntax`);
        this.values.set(def.name, b);
        break;
      }
      case 'int': {
        if (!/^[+-]?\d+$/.test(value)) throw invalid(`strconv.ParseInt: parsing "${value}": invalid syntax`);
        this.values.set(def.name, Number(value));
        break;
      }
      case 'string':
        this.values.set(def.name, value);
        break;
      case 'filter': {
        if (value === '') break;
        if (!value.includes('=')) throw invalid('bad format of filter (expected name=value)');
        const eq = value.indexOf('=');
        const name = value.slice(0, eq).trim().toLowerCase();
        (this.values.get(def.name) as string[]).push(`${name}=${value.slice(eq + 1).trim()}`);
        break;
      }
      case 'list':
        (this.values.get(def.name) as string[]).push(value);
        break;
      case 'strings': {
        // pflag's StringSlice replaces its default on first use and splits on commas.
        const current = this.changedNames.has(def.name) ? (this.values.get(def.name) as string[]) : [];
        this.values.set(def.name, [...current, ...(value === '' ? [] : value.split(','))]);
        break;
      }
    }
    this.changedNames.add(def.name);
  }
}

function initialValue(def: FlagDef): boolean | string | number | string[] {
  switch (def.type) {
    case 'bool':
      return def.default === true;
    case 'int':
      return typeof def.default === 'number' ? def.default : 0;
    case 'string':
      return typeof def.default === 'string' ? def.default : '';
    default:
      return [];
  }
}

/** strconv.ParseBool. */
export function parseGoBool(s: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(s)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(s)) return false;
  return undefined;
}

/** "-a, --all" or "--no-trunc", as pflag names a flag in errors. */
function flagLabel(def: FlagDef): string {
  return def.short ? `-${def.short}, --${def.name}` : `--${def.name}`;
}

/** A flag that could not be parsed: docker prints it with the usage line and exits 125. */
export class FlagError extends Error {}

export interface ParsedFlags {
  flags: FlagValues;
  positionals: string[];
  help: boolean;
  /** "-h" was used; cobra warns that the shorthand is deprecated. */
  shortHelp: boolean;
}

/**
 * Parses flags as pflag does. With `interspersed`, flags may follow positionals (subcommands);
 * without, the first positional ends flag parsing (the root, so that `berth -D image ls -a`
 * leaves `-a` to `image ls`). "--" ends flags; a lone "-" is a positional (stdin).
 */
export function parseFlags(defs: FlagDef[], argv: string[], interspersed: boolean): ParsedFlags {
  const flags = new FlagValues(defs);
  const byLong = new Map(defs.map((d) => [d.name, d]));
  const byShort = new Map(defs.filter((d) => d.short).map((d) => [d.short!, d]));
  const positionals: string[] = [];
  let help = false;
  let shortHelp = false;

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
      let value: string | true | undefined = eq === -1 ? undefined : arg.slice(eq + 1);
      // Commands whose -h means something else declare --help to list it; it still asks for help.
      if (name === 'help' && (!byLong.has('help') || byLong.get('help')!.type === 'bool')) {
        help = value === undefined || parseGoBool(value) !== false;
        continue;
      }
      const def = byLong.get(name);
      if (!def) throw new FlagError(`unknown flag: --${name}`);
      if (value === undefined) {
        if (def.type === 'bool') value = true;
        else if (i + 1 < argv.length) value = argv[++i]!;
        else throw new FlagError(`flag needs an argument: --${name}`);
      }
      flags.set(def, value);
    } else if (arg.startsWith('-') && arg.length > 1) {
      let shorts = arg.slice(1);
      while (shorts.length > 0) {
        const c = shorts[0]!;
        const def = byShort.get(c);
        if (!def && c === 'h') {
          help = true;
          shortHelp = true;
          shorts = shorts.slice(1);
          continue;
        }
        if (!def) throw new FlagError(`unknown shorthand flag: '${c}' in -${shorts}`);
        let value: string | true;
        if (shorts[1] === '=') {
          value = shorts.slice(2);
          shorts = '';
        } else if (def.type === 'bool') {
          value = true;
          shorts = shorts.slice(1);
        } else if (shorts.length > 1) {
          value = shorts.slice(1);
          shorts = '';
        } else if (i + 1 < argv.length) {
          value = argv[++i]!;
          shorts = '';
        } else {
          throw new FlagError(`flag needs an argument: '${c}' in -${shorts}`);
        }
        flags.set(def, value);
      }
    } else if (interspersed) {
      positionals.push(arg);
    } else {
      positionals.push(...argv.slice(i));
      break;
    }
  }
  return { flags, positionals, help, shortHelp };
}

// ---- the command tree -------------------------------------------------------------------

export type Resolution =
  | { kind: 'run'; command: CommandDef; path: CommandDef[]; args: string[]; flags: FlagValues; globals: FlagValues }
  | { kind: 'help'; command: CommandDef; path: CommandDef[]; globals: FlagValues; shortHelp: boolean; implicit?: boolean }
  | { kind: 'error'; message: string; exitCode: number; globals?: FlagValues };

/** "berth image ls" for a path of commands below the root. */
export function commandPath(path: CommandDef[]): string {
  return [PROGRAM, ...path.map((c) => c.name)].join(' ');
}

/** cobra's UseLine: the command path followed by the command's usage. */
export function useLine(root: CommandDef, path: CommandDef[]): string {
  const cmd = path.at(-1) ?? root;
  if (path.length === 0) return `${PROGRAM}${root.usage ? ' ' + root.usage : ''}`;
  return `${commandPath(path)}${cmd.usage ? ' ' + cmd.usage : ''}`;
}

function findSub(cmd: CommandDef, name: string): CommandDef | undefined {
  return cmd.subcommands?.find((c) => c.name === name || c.aliases?.includes(name));
}

function flagErrorText(root: CommandDef, path: CommandDef[], message: string): string {
  return `${message}\n\nUsage:  ${useLine(root, path)}\n\nRun '${commandPath(path)} --help' for more information`;
}

function plural(n: number): string {
  return n === 1 ? 'argument' : 'arguments';
}

/** Checks the positional count, worded as docker 28 words it (typo in "at most" included). */
export function checkArgs(root: CommandDef, path: CommandDef[], args: string[]): string | undefined {
  const cmd = path.at(-1)!;
  const rule = cmd.args;
  if (!rule) return undefined;
  const name = commandPath(path);
  const usage = `\n\nUsage:  ${useLine(root, path)}\n\n`;
  const { min, max } = rule;
  if (max === 0 && args.length > 0) {
    return `${PROGRAM}: '${name}' accepts no arguments${usage}Run '${name} --help' for more information`;
  }
  if (min !== undefined && min === max && args.length !== min) {
    return `${PROGRAM}: '${name}' requires ${min} ${plural(min)}${usage}Run '${name} --help' for more information`;
  }
  if (min !== undefined && args.length < min) {
    return `${PROGRAM}: '${name}' requires at least ${min} ${plural(min)}${usage}See '${name} --help' for more information`;
  }
  if (max !== undefined && args.length > max) {
    // docker 28.2 really prints "SRun" here; kept for byte-for-byte parity.
    return `${PROGRAM}: '${name}' requires at most ${max} ${plural(max)}${usage}SRun '${name} --help' for more information`;
  }
  return undefined;
}

/**
 * Resolves argv (without the program name) against the tree: global flags, then command
 * names down to a leaf, then the leaf's flags and arguments.
 */
export function resolve(root: CommandDef, argv: string[]): Resolution {
  let parsed: ParsedFlags;
  try {
    parsed = parseFlags(root.flags ?? [], argv, false);
  } catch (err) {
    if (err instanceof FlagError) return { kind: 'error', message: flagErrorText(root, [], err.message), exitCode: 125 };
    throw err;
  }
  const globals = parsed.flags;
  if (parsed.help || parsed.positionals.length === 0) {
    return { kind: 'help', command: root, path: [], globals, shortHelp: parsed.shortHelp, implicit: !parsed.help };
  }
  let rest = parsed.positionals;
  if (rest[0] === 'help') return resolveHelp(root, rest.slice(1), globals);

  const path: CommandDef[] = [];
  let cmd = root;
  // Persistent flags of the commands passed so far, and the tokens given for them before a
  // subcommand's name: the leaf parses those tokens again, so it holds every value.
  let persistent: FlagDef[] = [];
  let carried: string[] = [];
  for (;;) {
    const name = rest[0]!;
    const sub = findSub(cmd, name);
    if (!sub) {
      const here = commandPath(path);
      const usage = path.length ? `\n\nUsage:  ${useLine(root, path)}` : '';
      return {
        kind: 'error',
        message: `${PROGRAM}: unknown command: ${here} ${name}${usage}\n\nRun '${here} --help' for more information`,
        exitCode: 1,
        globals,
      };
    }
    path.push(sub);
    cmd = sub;
    rest = rest.slice(1);
    persistent = [...persistent, ...(cmd.persistentFlags ?? [])];
    const isGroup = !!cmd.subcommands?.length && !cmd.run;
    let local: ParsedFlags;
    try {
      local = parseFlags([...persistent, ...(cmd.flags ?? [])], isGroup ? rest : [...carried, ...rest], !isGroup && !cmd.noInterspersed);
    } catch (err) {
      if (err instanceof FlagError) return { kind: 'error', message: flagErrorText(root, path, err.message), exitCode: 125, globals };
      throw err;
    }
    if (local.help || (isGroup && local.positionals.length === 0)) {
      // A group named without a subcommand shows its help as docker does: on stderr.
      return { kind: 'help', command: cmd, path, globals, shortHelp: local.shortHelp, implicit: !local.help };
    }
    if (isGroup) {
      // Carried in long form: a subcommand's own shorthand (`logs -f`, `run -p`) must not
      // capture what was given for the group's (`compose -f x.yml`, `compose -p demo`).
      carried = [...carried, ...longForm(persistent, local.flags)];
      rest = local.positionals;
      continue;
    }
    const argError = checkArgs(root, path, local.positionals);
    if (argError) return { kind: 'error', message: argError, exitCode: 1, globals };
    return { kind: 'run', command: cmd, path, args: local.positionals, flags: local.flags, globals };
  }
}

/** The values given for `defs`, as `--name=value` tokens that parse back to the same values. */
function longForm(defs: FlagDef[], values: FlagValues): string[] {
  const tokens: string[] = [];
  for (const def of defs) {
    if (!values.changed(def.name)) continue;
    if (def.type === 'bool') tokens.push(`--${def.name}=${values.bool(def.name)}`);
    else if (def.type === 'int') tokens.push(`--${def.name}=${values.int(def.name)}`);
    else if (def.type === 'string') tokens.push(`--${def.name}=${values.string(def.name)}`);
    else if (def.type === 'strings') tokens.push(`--${def.name}=${values.list(def.name).join(',')}`);
    else for (const v of values.list(def.name)) tokens.push(`--${def.name}=${v}`);
  }
  return tokens;
}

/** `berth help [COMMAND...]`. */
function resolveHelp(root: CommandDef, names: string[], globals: FlagValues): Resolution {
  const path: CommandDef[] = [];
  let cmd = root;
  for (const name of names) {
    const sub = findSub(cmd, name);
    if (!sub) return { kind: 'error', message: `unknown help topic: ${names.join(' ')}`, exitCode: 1, globals };
    path.push(sub);
    cmd = sub;
  }
  return { kind: 'help', command: cmd, path, globals, shortHelp: false };
}
