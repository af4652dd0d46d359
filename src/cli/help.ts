/**
 * Help output laid out like docker's cobra templates, including pflag's wrapping of flag
 * descriptions to the terminal width.
 */
import { PROGRAM, commandPath, type CommandDef, type FlagDef } from './args.js';

/** Text shared by the --format flags of list commands (docker's flagsHelper.FormatHelp). */
export const FORMAT_HELP = `Format output using a custom template:
'table':            Print output in table format with column headers (default)
'table TEMPLATE':   Print output in table format using the given Go template
'json':             Print in JSON format
'TEMPLATE':         Print output using the given Go template.
Refer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates`;

/** The --format text of commands that print one object (flagsHelper.InspectFormatHelp). */
export const INSPECT_FORMAT_HELP = `Format output using a custom template:
'json':             Print in JSON format
'TEMPLATE':         Print output using the given Go template.
Refer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates`;

const TYPE_NAMES: Record<FlagDef['type'], string> = {
  bool: '',
  string: 'string',
  int: 'int',
  list: 'list',
  filter: 'filter',
  strings: 'strings',
};

/** pflag's UnquoteUsage: a `backquoted` word names the value, else the type does. */
function unquoteUsage(def: FlagDef): [string, string] {
  const m = /`([^`]*)`/.exec(def.usage);
  if (m) return [m[1]!, def.usage.replace(m[0], m[1]!)];
  return [def.valueName ?? TYPE_NAMES[def.type], def.usage];
}

function defaultText(def: FlagDef): string {
  const d = def.default;
  if (d === undefined || d === false || d === '' || d === 0) return '';
  return typeof d === 'string' ? ` (default ${JSON.stringify(d)})` : ` (default ${d})`;
}

/** pflag's wrapN: split s at whitespace before i, allowing `slop` extra to avoid orphans. */
function wrapN(i: number, slop: number, s: string): [string, string] {
  if (i + slop > s.length) return [s, ''];
  const head = s.slice(0, i);
  const w = Math.max(head.lastIndexOf(' '), head.lastIndexOf('\t'), head.lastIndexOf('\n'));
  if (w <= 0) return [s, ''];
  const nl = head.lastIndexOf('\n');
  if (nl > 0 && nl < w) return [s.slice(0, nl), s.slice(nl + 1)];
  return [s.slice(0, w), s.slice(w + 1)];
}

/** pflag's wrap: text for a column starting at `indent`, lines no wider than `width`. */
function wrap(indent: number, width: number, s: string): string {
  let pad = ' '.repeat(indent);
  if (width === 0) return s.replace(/\n/g, '\n' + pad);
  let room = width - indent;
  let out = '';
  if (room < 24) {
    // Too narrow beside the flags: put the text on its own lines, indented 16.
    indent = 16;
    pad = ' '.repeat(indent);
    room = width - indent;
    out += '\n' + pad;
  }
  if (room < 24) return s.replace(/\n/g, out);
  const slop = 5;
  room -= slop;
  let [line, rest] = wrapN(room, slop, s);
  out += line.replace(/\n/g, '\n' + pad);
  while (rest !== '') {
    [line, rest] = wrapN(room, slop, rest);
    out += '\n' + pad + line.replace(/\n/g, '\n' + pad);
  }
  return out;
}

/** The Options section: flags sorted by name, descriptions aligned and wrapped. */
export function flagUsages(defs: FlagDef[], cols: number): string {
  const rows = defs
    .filter((d) => !d.hidden)
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((def) => {
      const [varname, usage] = unquoteUsage(def);
      let left = def.short ? `  -${def.short}, --${def.name}` : `      --${def.name}`;
      if (varname) left += ` ${varname}`;
      return { left, text: usage + defaultText(def) };
    });
  const maxlen = Math.max(0, ...rows.map((r) => r.left.length + 1));
  return rows
    .map(({ left, text }) => `${left} ${' '.repeat(maxlen - left.length)} ${wrap(maxlen + 2, cols, text)}`)
    .join('\n')
    .trimEnd();
}

function commandList(cmds: CommandDef[]): string {
  const visible = cmds.filter((c) => !c.hidden);
  const pad = Math.max(11, ...visible.map((c) => c.name.length)) + 1;
  return visible.map((c) => `  ${c.name.padEnd(pad)}${c.short}`).join('\n');
}

function byName(a: CommandDef, b: CommandDef): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/**
 * Help for any command. `cols` is the terminal width docker wraps flag text to (80 when the
 * output is not a terminal).
 */
export function renderHelp(root: CommandDef, path: CommandDef[], cols = 80): string {
  const cmd = path.at(-1) ?? root;
  const name = commandPath(path);
  const subs = (cmd.subcommands ?? []).filter((c) => !c.hidden);
  // A group's persistent flags are its own options (`compose --help` lists -f, -p, ...).
  const ownFlags = [...(cmd.flags ?? []), ...(subs.length ? (cmd.persistentFlags ?? []) : [])];
  const hasFlags = ownFlags.some((f) => !f.hidden);
  const parts: string[] = [];

  if (subs.length) parts.push(`Usage:  ${name}${hasFlags ? ' [OPTIONS]' : ''} COMMAND`);
  else parts.push(`Usage:  ${name}${cmd.usage ? ' ' + cmd.usage : ''}`);
  parts.push(`\n\n${cmd.long ?? cmd.short}`);
  if (cmd.aliasPaths?.length) parts.push(`\n\nAliases:\n  ${cmd.aliasPaths.map((p) => `${PROGRAM} ${p}`).join(', ')}`);
  if (path.length > 0 && hasFlags) parts.push(`\n\nOptions:\n${flagUsages(ownFlags, cols - 1)}`);

  if (path.length === 0) {
    const common = subs.filter((c) => c.group === 'common');
    const management = subs.filter((c) => c.group === 'management').sort(byName);
    const others = subs.filter((c) => !c.group).sort(byName);
    if (common.length) parts.push(`\n\nCommon Commands:\n${commandList(common)}`);
    if (management.length) parts.push(`\n\nManagement Commands:\n${commandList(management)}`);
    if (others.length) parts.push(`\n\nCommands:\n${commandList(others)}`);
    if (hasFlags) parts.push(`\n\nGlobal Options:\n${flagUsages(cmd.flags!, cols - 1)}`);
  } else if (subs.length) {
    parts.push(`\n\nCommands:\n${commandList([...subs].sort(byName))}`);
  }
  if (subs.length) parts.push(`\n\nRun '${name} COMMAND --help' for more information on a command.`);
  return parts.join('') + '\n';
}
