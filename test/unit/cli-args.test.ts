import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FlagError, checkArgs, parseFlags, resolve, type CommandDef, type FlagDef } from '../../src/cli/args.js';
import { rootCommand } from '../../src/cli/commands/index.js';
import { renderHelp, flagUsages } from '../../src/cli/help.js';

const LS_FLAGS: FlagDef[] = [
  { name: 'all', short: 'a', type: 'bool', usage: 'Show all' },
  { name: 'quiet', short: 'q', type: 'bool', usage: 'Only IDs' },
  { name: 'filter', short: 'f', type: 'filter', usage: 'Filter' },
  { name: 'format', type: 'string', usage: 'Format' },
  { name: 'human', short: 'H', type: 'bool', default: true, usage: 'Human' },
  { name: 'change', short: 'c', type: 'list', usage: 'Changes' },
  { name: 'platform', type: 'strings', usage: 'Platforms' },
  { name: 'tail', short: 'n', type: 'int', usage: 'Lines' },
];

function parse(argv: string[], interspersed = true) {
  return parseFlags(LS_FLAGS, argv, interspersed);
}

test('short flag clusters and values', () => {
  const p = parse(['-aq']);
  assert.equal(p.flags.bool('all'), true);
  assert.equal(p.flags.bool('quiet'), true);
  // a value flag takes the rest of the cluster, or the next argument
  assert.deepEqual(parse(['-qfdangling=true']).flags.list('filter'), ['dangling=true']);
  assert.deepEqual(parse(['-f', 'label=a']).flags.list('filter'), ['label=a']);
  assert.deepEqual(parse(['-f=label=a']).flags.list('filter'), ['label=a']);
  assert.equal(parse(['-n5']).flags.int('tail'), 5);
  assert.equal(parse(['-a=false']).flags.bool('all'), false);
});

test('long flags with = and with a separate value; bools with =false', () => {
  assert.equal(parse(['--format={{.ID}}']).flags.string('format'), '{{.ID}}');
  assert.equal(parse(['--format', '{{.ID}}']).flags.string('format'), '{{.ID}}');
  // a value flag takes the next argument even when it looks like a flag (pflag does)
  assert.equal(parse(['--format', '-q']).flags.string('format'), '-q');
  assert.equal(parse(['--human=false']).flags.bool('human'), false);
  assert.equal(parse([]).flags.bool('human'), true);
  assert.equal(parse(['--all=1']).flags.bool('all'), true);
  assert.equal(parse(['--all=F']).flags.bool('all'), false);
  assert.equal(parse(['--all']).flags.changed('all'), true);
  assert.equal(parse([]).flags.changed('all'), false);
});

test('repeated flags accumulate; filters are normalized; strings split on commas', () => {
  const p = parse(['--filter', 'a=b', '--filter', ' Label = x=y ', '-c', 'ENV A=1', '--change=CMD x']);
  assert.deepEqual(p.flags.list('filter'), ['a=b', 'label=x=y']);
  assert.deepEqual(p.flags.list('change'), ['ENV A=1', 'CMD x']);
  assert.deepEqual(parse(['--platform', 'linux/amd64,linux/arm64', '--platform=windows/amd64']).flags.list('platform'), [
    'linux/amd64',
    'linux/arm64',
    'windows/amd64',
  ]);
});

test('flags may follow positionals; -- ends flags; - is a positional', () => {
  const p = parse(['busybox', '-a', 'other', '--', '-q', '--all']);
  assert.deepEqual(p.positionals, ['busybox', 'other', '-q', '--all']);
  assert.equal(p.flags.bool('all'), true);
  assert.equal(p.flags.bool('quiet'), false);
  assert.deepEqual(parse(['-']).positionals, ['-']);
  // without interspersing (the root), the first positional ends flag parsing
  assert.deepEqual(parse(['-a', 'image', 'ls', '-q'], false).positionals, ['image', 'ls', '-q']);
});

test('flag errors are worded as pflag words them', () => {
  const err = (argv: string[]) => {
    try {
      parse(argv);
    } catch (e) {
      assert.ok(e instanceof FlagError);
      return e.message;
    }
    assert.fail('expected an error');
  };
  assert.equal(err(['--foo']), 'unknown flag: --foo');
  assert.equal(err(['--foo=bar']), 'unknown flag: --foo');
  assert.equal(err(['-aqz']), "unknown shorthand flag: 'z' in -z");
  assert.equal(err(['-azq']), "unknown shorthand flag: 'z' in -zq");
  assert.equal(err(['--format']), 'flag needs an argument: --format');
  assert.equal(err(['-qf']), "flag needs an argument: 'f' in -f");
  assert.equal(err(['--all=maybe']), 'invalid argument "maybe" for "-a, --all" flag: strconv.ParseBool: parsing "maybe": invalid syntax');
  assert.equal(err(['--filter', 'foo']), 'invalid argument "foo" for "-f, --filter" flag: bad format of filter (expected name=value)');
  assert.equal(err(['--tail', 'x']), 'invalid argument "x" for "-n, --tail" flag: strconv.ParseInt: parsing "x": invalid syntax');
});

test('help flags', () => {
  assert.equal(parse(['--help']).help, true);
  const p = parse(['-ah']);
  assert.equal(p.help, true);
  assert.equal(p.shortHelp, true);
  assert.equal(p.flags.bool('all'), true);
});

function errorOf(argv: string[]): { message: string; exitCode: number } {
  const r = resolve(rootCommand, argv);
  assert.equal(r.kind, 'error', `expected an error for ${argv.join(' ')}`);
  if (r.kind !== 'error') throw new Error('unreachable');
  return { message: r.message, exitCode: r.exitCode };
}

test('unknown flags: docker 28 text, exit status 125', () => {
  assert.deepEqual(errorOf(['image', 'ls', '--foo']), {
    message: "unknown flag: --foo\n\nUsage:  berth image ls [OPTIONS] [REPOSITORY[:TAG]]\n\nRun 'berth image ls --help' for more information",
    exitCode: 125,
  });
  assert.deepEqual(errorOf(['--foo']), {
    message: "unknown flag: --foo\n\nUsage:  berth [OPTIONS] COMMAND [ARG...]\n\nRun 'berth --help' for more information",
    exitCode: 125,
  });
  assert.deepEqual(errorOf(['image', '-x']), {
    message: "unknown shorthand flag: 'x' in -x\n\nUsage:  berth image\n\nRun 'berth image --help' for more information",
    exitCode: 125,
  });
  // global flags belong before the command
  assert.equal(errorOf(['image', 'ls', '-H', 'x']).message.split('\n')[0], "unknown shorthand flag: 'H' in -H");
});

test('unknown commands: exit status 1', () => {
  assert.deepEqual(errorOf(['foo']), { message: "berth: unknown command: berth foo\n\nRun 'berth --help' for more information", exitCode: 1 });
  assert.deepEqual(errorOf(['image', 'foo']), {
    message: "berth: unknown command: berth image foo\n\nUsage:  berth image\n\nRun 'berth image --help' for more information",
    exitCode: 1,
  });
  assert.deepEqual(errorOf(['help', 'foo']), { message: 'unknown help topic: foo', exitCode: 1 });
});

test('argument counts', () => {
  assert.deepEqual(errorOf(['image', 'inspect']), {
    message:
      "berth: 'berth image inspect' requires at least 1 argument\n\nUsage:  berth image inspect [OPTIONS] IMAGE [IMAGE...]\n\nSee 'berth image inspect --help' for more information",
    exitCode: 1,
  });
  assert.equal(
    errorOf(['tag', 'a']).message,
    "berth: 'berth tag' requires 2 arguments\n\nUsage:  berth tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]\n\nRun 'berth tag --help' for more information",
  );
  assert.equal(
    errorOf(['history', 'a', 'b']).message,
    "berth: 'berth history' requires 1 argument\n\nUsage:  berth history [OPTIONS] IMAGE\n\nRun 'berth history --help' for more information",
  );
  assert.equal(
    errorOf(['version', 'x']).message,
    "berth: 'berth version' accepts no arguments\n\nUsage:  berth version [OPTIONS]\n\nRun 'berth version --help' for more information",
  );
  // docker 28.2 really says "SRun" here
  assert.equal(
    errorOf(['images', 'a', 'b']).message,
    "berth: 'berth images' requires at most 1 argument\n\nUsage:  berth images [OPTIONS] [REPOSITORY[:TAG]]\n\nSRun 'berth images --help' for more information",
  );
  const cmd: CommandDef = { name: 'x', short: '', args: { min: 1, max: 2 } };
  assert.equal(checkArgs(rootCommand, [cmd], ['a', 'b']), undefined);
});

test('resolution walks aliases down to the leaf', () => {
  const r = resolve(rootCommand, ['-D', 'image', 'list', '-aq', 'busybox']);
  assert.equal(r.kind, 'run');
  if (r.kind !== 'run') return;
  assert.equal(r.command.name, 'ls');
  assert.deepEqual(r.args, ['busybox']);
  assert.equal(r.flags.bool('all'), true);
  assert.equal(r.globals.bool('debug'), true);
  const rmi = resolve(rootCommand, ['image', 'rmi', 'x']);
  assert.equal(rmi.kind === 'run' && rmi.command.name, 'rm');
  const hosts = resolve(rootCommand, ['-H', 'unix:///a', '--host=tcp://b:1', 'version']);
  assert.deepEqual(hosts.kind === 'run' && hosts.globals.list('host'), ['unix:///a', 'tcp://b:1']);
});

test('help resolution: explicit help goes to stdout, a bare group to stderr', () => {
  const bare = resolve(rootCommand, ['image']);
  assert.equal(bare.kind === 'help' && bare.implicit, true);
  const explicit = resolve(rootCommand, ['image', '--help']);
  assert.equal(explicit.kind === 'help' && explicit.implicit, false);
  const topic = resolve(rootCommand, ['help', 'image', 'ls']);
  assert.equal(topic.kind === 'help' && topic.command.name, 'ls');
  // errors in flags win over --help, as in cobra
  assert.equal(resolve(rootCommand, ['image', 'ls', '--foo', '--help']).kind, 'error');
});

test('flag help is wrapped like pflag at 79 columns', () => {
  const r = resolve(rootCommand, ['image', 'history', '--help']);
  assert.equal(r.kind, 'help');
  if (r.kind !== 'help') return;
  // Captured from `docker image history --help` (docker 28.2), with the program name swapped.
  const expected = `Usage:  berth image history [OPTIONS] IMAGE

Show the history of an image

Aliases:
  berth image history, berth history

Options:
      --format string     Format output using a custom template:
                          'table':            Print output in table
                          format with column headers (default)
                          'table TEMPLATE':   Print output in table
                          format using the given Go template
                          'json':             Print in JSON format
                          'TEMPLATE':         Print output using the
                          given Go template.
                          Refer to https://docs.docker.com/go/formatting/
                          for more information about formatting output
                          with templates
  -H, --human             Print sizes and dates in human readable format
                          (default true)
      --no-trunc          Don't truncate output
      --platform string   Show history for the given platform. Formatted
                          as "os[/arch[/variant]]" (e.g., "linux/amd64")
  -q, --quiet             Only show image IDs
`;
  assert.equal(renderHelp(rootCommand, r.path, 80), expected);
});

test('group help lists subcommands sorted', () => {
  const r = resolve(rootCommand, ['system', '--help']);
  assert.equal(r.kind, 'help');
  if (r.kind !== 'help') return;
  assert.equal(
    renderHelp(rootCommand, r.path, 80),
    `Usage:  berth system COMMAND

Manage Berth

Commands:
  df          Show berth disk usage
  events      Get real time events from the server
  info        Display system-wide information

Run 'berth system COMMAND --help' for more information on a command.
`,
  );
});

test('flag usage defaults and narrow terminals', () => {
  const defs: FlagDef[] = [{ name: 'log-level', short: 'l', type: 'string', default: 'info', usage: 'Set the logging level ("debug", "info", "warn", "error", "fatal")' }];
  assert.equal(flagUsages(defs, 79), '  -l, --log-level string   Set the logging level ("debug", "info",\n                           "warn", "error", "fatal") (default "info")');
  // under 24 columns of room the text moves below, indented 16
  assert.equal(
    flagUsages(defs, 40),
    '  -l, --log-level string   \n                Set the logging\n                level ("debug",\n                "info", "warn",\n                "error", "fatal")\n                (default "info")',
  );
  // and when even that is too narrow it is not wrapped at all (docker on a 40-column terminal)
  assert.equal(flagUsages(defs, 39), '  -l, --log-level string   Set the logging level ("debug", "info", "warn", "error", "fatal") (default "info")');
});
