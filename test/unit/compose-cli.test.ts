/**
 * `berth compose` commands other than the lifecycle ones: the log printer's prefixes and
 * colours, following a project's logs against a stub daemon, and the commands' formatting.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

process.env.TZ = 'UTC';
const { ApiClient, parseHost } = await import('../../src/cli/client.js');
const { frame } = await import('../../src/cli/stdcopy.js');
const lp = await import('../../src/cli/commands/compose/log-printer.js');
const pc = await import('../../src/cli/commands/compose/project-containers.js');

function sink() {
  const chunks: string[] = [];
  return { write: (s: string | Uint8Array) => chunks.push(typeof s === 'string' ? s : Buffer.from(s).toString()), text: () => chunks.join('') };
}

test('log printer: prefixes padded to the longest name, one line per newline', () => {
  const out = sink();
  const p = new lp.LogPrinter(out, out, { color: false, prefix: true });
  p.register('web-1');
  p.register('database-1');
  p.log('web-1', 'hello');
  p.log('database-1', 'a\nb');
  assert.equal(out.text(), 'web-1       | hello\ndatabase-1  | a\ndatabase-1  | b\n');
});

test('log printer: a name seen late widens every prefix', () => {
  const out = sink();
  const p = new lp.LogPrinter(out, out, { color: false, prefix: true });
  p.log('a-1', 'x');
  p.log('longer-1', 'y');
  p.log('a-1', 'z');
  assert.equal(out.text(), 'a-1  | x\nlonger-1  | y\na-1       | z\n');
});

test("log printer: colours in docker compose's rainbow order, status lines coloured whole", () => {
  const out = sink();
  const p = new lp.LogPrinter(out, out, { color: true, prefix: true });
  p.register('web-1');
  p.register('db-1');
  p.log('web-1', 'hi');
  p.log('db-1', 'yo');
  p.status('web-1', 'exited with code 0');
  assert.equal(
    out.text(),
    '\x1b[36mweb-1  | \x1b[0mhi\n' + '\x1b[33mdb-1   | \x1b[0myo\n' + '\x1b[36m\r\x1b[Kweb-1 exited with code 0\n\x1b[0m',
  );
  assert.deepEqual(lp.RAINBOW.slice(0, 5), ['36', '33', '32', '35', '34']);
});

test('log printer: --no-log-prefix prints the bare line; client timestamps when asked', () => {
  const out = sink();
  new lp.LogPrinter(out, out, { color: false, prefix: false }).log('web-1', 'bare');
  const stamped = new lp.LogPrinter(out, out, { color: false, prefix: true, timestamps: true, now: () => 1795870800123 });
  stamped.log('w-1', 'x');
  assert.equal(out.text(), 'bare\nw-1  | 2026-11-28T13:00:00.123000000Z x\n');
});

test('useAnsi: auto follows the terminal; never and always', () => {
  assert.equal(lp.useAnsi('auto', { isTTY: true }), true);
  assert.equal(lp.useAnsi('auto', {}), false);
  assert.equal(lp.useAnsi('never', { isTTY: true }), false);
  assert.equal(lp.useAnsi('always', {}), true);
});

test('line splitter: partial lines wait for their newline; the last one is flushed', () => {
  const lines: string[] = [];
  const s = new lp.LineSplitter((l) => lines.push(l));
  s.push(Buffer.from('ab'));
  s.push(Buffer.from('c\nd\ne'));
  assert.deepEqual(lines, ['abc', 'd']);
  s.flush();
  assert.deepEqual(lines, ['abc', 'd', 'e']);
});

test('names: web-1 for a default name, container_name kept whole', () => {
  const labels = { 'com.docker.compose.project': 'demo', 'com.docker.compose.service': 'web', 'com.docker.compose.container-number': '1' };
  assert.equal(pc.nameWithoutProject({ Id: 'x', Names: ['/demo-web-1'], Labels: labels }), 'web-1');
  assert.equal(pc.nameWithoutProject({ Id: 'x', Names: ['/custom'], Labels: labels }), 'custom');
  assert.equal(pc.canonicalName({ Id: 'abcdef0123456789', Names: ['/other/alias', '/own'] }), 'own');
});

// ---- following a project against a stub daemon -----------------------------------------

interface StubContainer {
  Id: string;
  name: string;
  service: string;
  tty: boolean;
  logs: string;
}

function labelsOf(c: StubContainer): Record<string, string> {
  return {
    'com.docker.compose.project': 'demo',
    'com.docker.compose.service': c.service,
    'com.docker.compose.container-number': '1',
    'com.docker.compose.oneoff': 'False',
  };
}

async function withStub(containers: StubContainer[], fn: (client: InstanceType<typeof ApiClient>, events: http.ServerResponse[]) => Promise<void>) {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-ccli-'));
  const socket = path.join(dir, 'd.sock');
  const events: http.ServerResponse[] = [];
  const server = http.createServer((req, res) => {
    res.setHeader('Api-Version', '1.50');
    const url = new URL(req.url!, 'http://x');
    const p = url.pathname.replace(/^\/v[\d.]+/, '');
    if (p === '/_ping') return res.end('OK');
    if (p === '/events') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.flushHeaders();
      events.push(res);
      return;
    }
    if (p === '/containers/json') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return res.end(JSON.stringify(containers.map((c) => ({ Id: c.Id, Names: [`/${c.name}`], Labels: labelsOf(c), State: 'running' }))));
    }
    const m = /^\/containers\/([^/]+)\/(json|logs)$/.exec(p);
    const c = m && containers.find((x) => x.Id === m[1]);
    if (!c) {
      res.writeHead(404, { 'Content-Type': 'application/json' });
      return res.end(JSON.stringify({ message: `No such container: ${m?.[1]}` }));
    }
    if (m![2] === 'json') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return res.end(JSON.stringify({ Id: c.Id, Config: { Tty: c.tty }, State: { Running: false, StartedAt: '2026-11-28T13:00:00.5Z', ExitCode: 3 } }));
    }
    res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
    res.end(c.tty ? c.logs : frame(1, c.logs.slice(0, 3)).toString('latin1') + frame(2, c.logs.slice(3)).toString('latin1'), 'latin1');
  });
  await new Promise<void>((r) => server.listen(socket, r));
  const client = new ApiClient(parseHost(`unix://${socket}`));
  try {
    await fn(client, events);
  } finally {
    client.close();
    for (const e of events) e.destroy();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('project logs: tty and multiplexed streams under their prefixes', async () => {
  const containers = [
    { Id: 'a1', name: 'demo-web-1', service: 'web', tty: false, logs: 'one\ntwo\n' },
    { Id: 'b2', name: 'demo-db-1', service: 'db', tty: true, logs: 'ready' },
  ];
  await withStub(containers, async (client) => {
    const out = sink();
    const printer = new lp.LogPrinter(out, out, { color: false, prefix: true });
    const logs = await lp.startProjectLogs(client, printer, { project: 'demo' });
    await logs.done;
    const lines = out.text().split('\n').filter(Boolean).sort();
    assert.deepEqual(lines, ['db-1   | ready', 'web-1  | one', 'web-1  | two']);
  });
});

test('project logs -f: a started container is followed, a dying one reported, done when none is left', async () => {
  const containers = [{ Id: 'a1', name: 'demo-web-1', service: 'web', tty: true, logs: 'first\n' }];
  await withStub(containers, async (client, events) => {
    const out = sink();
    const printer = new lp.LogPrinter(out, out, { color: false, prefix: true });
    const exits: number[] = [];
    const logs = await lp.startProjectLogs(client, printer, { project: 'demo', follow: true, onExit: (e) => exits.push(e.exitCode) });
    assert.equal(events.length, 1, 'subscribed to events before listing');
    containers.push({ Id: 'c3', name: 'demo-job-1', service: 'job', tty: true, logs: 'job line\n' });
    const send = (action: string, c: StubContainer, extra: Record<string, string> = {}) =>
      events[0]!.write(JSON.stringify({ Type: 'container', Action: action, Actor: { ID: c.Id, Attributes: { name: c.name, ...labelsOf(c), ...extra } } }) + '\n');
    send('start', containers[1]!);
    send('die', containers[1]!, { exitCode: '3' });
    send('die', containers[0]!, { exitCode: '0' });
    await logs.done;
    const text = out.text();
    assert.match(text, /web-1  \| first\n/);
    assert.match(text, /job-1  \| job line\n/);
    assert.match(text, /job-1 exited with code 3\n/);
    assert.match(text, /web-1 exited with code 0\n/);
    assert.deepEqual(exits, [3, 0]);
  });
});

test('project logs -f: stop() ends following at once', async () => {
  const containers = [{ Id: 'a1', name: 'demo-web-1', service: 'web', tty: true, logs: '' }];
  await withStub(containers, async (client) => {
    const out = sink();
    const logs = await lp.startProjectLogs(client, new lp.LogPrinter(out, out, { color: false, prefix: true }), { project: 'demo', follow: true });
    logs.stop();
    await logs.done;
  });
});

// ---- the commands' formatting -------------------------------------------------------------

const ps = await import('../../src/cli/commands/compose/ps.js');
const ls = await import('../../src/cli/commands/compose/ls.js');
const top = await import('../../src/cli/commands/compose/top.js');
const port = await import('../../src/cli/commands/compose/port.js');
const images = await import('../../src/cli/commands/compose/images.js');
const events = await import('../../src/cli/commands/compose/events.js');
const run = await import('../../src/cli/commands/compose/run.js');
const exec = await import('../../src/cli/commands/compose/exec.js');
const { containerCreateRequest } = await import('../../src/compose/engine/create-request.js');
const { resolve } = await import('../../src/cli/args.js');
const { rootCommand } = await import('../../src/cli/commands/index.js');
const { renderHelp } = await import('../../src/cli/help.js');

const NOW = 1795870800_000; // 2026-11-28T13:00:00Z
const labels = (service: string, n: number) => ({
  'com.docker.compose.project': 'demo',
  'com.docker.compose.service': service,
  'com.docker.compose.container-number': String(n),
});

test('ps: default table sorted by name, ports folded as docker shows them', () => {
  const c = (name: string, service: string, extra = {}) => ({
    Id: name.padEnd(64, '0'),
    Names: [`/${name}`],
    Image: 'busybox',
    Command: 'sh -c "sleep 1000"',
    Created: NOW / 1000 - 120,
    State: 'running',
    Status: 'Up 2 minutes',
    Labels: labels(service, 1),
    ...extra,
  });
  const out = ps.formatPs(
    [
      c('demo-web-1', 'web', {
        Ports: [
          { IP: '0.0.0.0', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' },
          { PrivatePort: 9001, Type: 'tcp' },
          { PrivatePort: 9000, Type: 'tcp' },
        ],
      }),
      c('demo-db-1', 'db'),
    ],
    { format: '', quiet: false, services: false, trunc: true, now: NOW },
  );
  assert.equal(
    out,
    'NAME         IMAGE     COMMAND                  SERVICE   CREATED         STATUS         PORTS\n' +
      'demo-db-1    busybox   "sh -c \\"sleep 1000\\""   db        2 minutes ago   Up 2 minutes   \n' +
      'demo-web-1   busybox   "sh -c \\"sleep 1000\\""   web       2 minutes ago   Up 2 minutes   9000-9001/tcp, 0.0.0.0:8080->80/tcp\n',
  );
  assert.equal(ps.formatPs([c('demo-web-1', 'web')], { format: '', quiet: true, services: false, trunc: true, now: NOW }), 'demo-web-1'.padEnd(64, '0') + '\n');
  assert.equal(ps.formatPs([c('b-1', 'web'), c('a-1', 'db'), c('c-1', 'web')], { format: '', quiet: false, services: true, trunc: true, now: NOW }), 'db\nweb\n');
  const json = JSON.parse(ps.formatPs([c('demo-web-1', 'web')], { format: 'json', quiet: false, services: false, trunc: true, now: NOW }));
  assert.deepEqual(Object.keys(json), [...Object.keys(json)].sort(), 'keys sorted as Go marshals a map');
  assert.equal(json.ID, 'demo-web-1'.padEnd(12, '0'));
  assert.deepEqual([json.Name, json.Service, json.Project, json.ExitCode, json.Publishers], ['demo-web-1', 'web', 'demo', 0, []]);
});

test('ps: --filter accepts status only, worded as docker compose', () => {
  assert.deepEqual(ps.parsePsFilter('status=running'), ['running']);
  assert.throws(() => ps.parsePsFilter('status'), /arguments to --filter should be in form KEY=VAL/);
  assert.throws(() => ps.parsePsFilter('name=x'), /^CliError: unknown filter name$/);
  assert.equal(ps.displayablePorts([{ IP: '127.0.0.1', PrivatePort: 53, PublicPort: 53, Type: 'udp' }]), '127.0.0.1:53->53/udp');
  assert.equal(ps.displayablePorts([{ IP: '::', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' }]), '[::]:8080->80/tcp');
});

test('ls: combined status, config files merged, json and table', () => {
  assert.equal(ls.combinedStatus(['running', 'exited', 'running']), 'exited(1), running(2)');
  const stacks = ls.containersToStacks([
    { Id: 'a', State: 'running', Labels: { 'com.docker.compose.project': 'b', 'com.docker.compose.project.config_files': '/x/compose.yaml' } },
    { Id: 'b', State: 'exited', Labels: { 'com.docker.compose.project': 'a', 'com.docker.compose.project.config_files': '/y/a.yaml,/y/b.yaml' } },
    { Id: 'c', State: 'running', Labels: { 'com.docker.compose.project': 'a', 'com.docker.compose.project.config_files': '/y/b.yaml' } },
  ]);
  assert.deepEqual(stacks, [
    { Name: 'a', Status: 'exited(1), running(1)', ConfigFiles: '/y/a.yaml,/y/b.yaml' },
    { Name: 'b', Status: 'running(1)', ConfigFiles: '/x/compose.yaml' },
  ]);
  assert.equal(
    ls.formatStacks(stacks, 'table', false),
    'NAME                STATUS                  CONFIG FILES\n' + 'a                   exited(1), running(1)   /y/a.yaml,/y/b.yaml\n' + 'b                   running(1)              /x/compose.yaml\n',
  );
  assert.equal(ls.formatStacks([], 'json', false), '[]\n');
  assert.deepEqual(ls.filterStacks(stacks, ['name=^b$']), [stacks[1]]);
  assert.throws(() => ls.formatStacks(stacks, 'yaml', false), /format value "yaml" could not be parsed/);
});

test('top: SERVICE and # first, titles merged, CMD last, missing cells dashed', () => {
  const out = top.formatComposeTop([
    { name: 'demo-web-1', service: 'web', replica: '1', titles: ['UID', 'PID', 'CMD'], processes: [['root', '10', 'sleep 1000']] },
    { name: 'demo-db-1', service: 'db', replica: '1', titles: ['PID', 'CMD', 'TIME'], processes: [['20', 'postgres', '00:00:01']] },
  ]);
  // tabwriter(minwidth 4, padding 2): "#" takes four columns.
  assert.equal(out, 'SERVICE  #   PID  TIME      UID   CMD\n' + 'db       1   20   00:00:01  -     postgres\n' + 'web      1   10   -         root  sleep 1000\n');
  assert.equal(top.formatComposeTop([]), '');
});

test('port: the public address, or the ports the container has', () => {
  const c = { Id: 'x', Names: ['/demo-web-1'], Ports: [{ IP: '127.0.0.1', PrivatePort: 80, PublicPort: 32768, Type: 'tcp' }, { PrivatePort: 53, Type: 'udp' }] };
  assert.equal(port.publicPort(c, 80, 'tcp'), '127.0.0.1:32768');
  assert.throws(() => port.publicPort(c, 80, 'udp'), /^CliError: no port 80\/udp for container demo-web-1: 80\/tcp, 53\/udp$/);
});

test('images: docker compose columns sorted by container; quiet ids unique; json', () => {
  const list = [
    { container: 'demo-web-1', id: 'sha256:' + 'a'.repeat(64), repository: 'busybox', tag: 'latest', platform: 'linux/amd64', size: 4_400_000, created: NOW - 3_600_000 * 50 },
    { container: 'demo-db-1', id: 'sha256:' + 'a'.repeat(64), repository: '', tag: '', platform: 'unknown', size: 0 },
  ];
  assert.equal(
    images.formatImages(list, 'table', false, NOW),
    'CONTAINER           REPOSITORY          TAG                 PLATFORM            IMAGE ID            SIZE                CREATED\n' +
      'demo-db-1           <none>              <none>              unknown             aaaaaaaaaaaa        0B                  N/A\n' +
      'demo-web-1          busybox             latest              linux/amd64         aaaaaaaaaaaa        4.4MB               2 days ago\n',
  );
  assert.equal(images.formatImages(list, 'table', true, NOW), 'a'.repeat(64) + '\n');
  assert.equal(images.formatImages([], 'json', false, NOW), 'null\n');
});

test('events: text with the blank line docker compose prints, json with compose labels left out', () => {
  const raw = JSON.stringify({
    Type: 'container',
    Action: 'start',
    Actor: { ID: 'abc', Attributes: { name: 'demo-web-1', image: 'busybox', 'com.docker.compose.service': 'web', 'com.docker.compose.oneoff': 'False' } },
    time: 1795870800,
    timeNano: 1795870800123456789,
  }).replace('1795870800123456800', '1795870800123456789');
  const e = events.composeEvent(raw, [])!;
  assert.equal(events.formatComposeEvent(e, false), '2026-11-28 13:00:00.123456 container start abc (image=busybox, name=demo-web-1)\n\n');
  assert.equal(
    events.formatComposeEvent(e, true),
    '{"action":"start","attributes":{"image":"busybox","name":"demo-web-1"},"id":"abc","service":"web","time":"2026-11-28T13:00:00.123456789Z","type":"container"}\n',
  );
  assert.equal(events.composeEvent(raw, ['db']), undefined);
  assert.equal(events.composeEvent(raw.replace('"False"', '"True"'), []), undefined, 'one-off containers are left out');
});

test('run: the one-off name, and the create request of its container', () => {
  assert.equal(run.oneOffName('demo', 'web', 'f'.repeat(64)), 'demo-web-run-ffffffffffff');
  const project = {
    name: 'demo',
    workingDir: '/p',
    composeFiles: ['/p/compose.yaml'],
    environment: {},
    services: {},
    disabledServices: {},
    networks: { default: { name: 'demo_default' } },
    volumes: {},
    secrets: {},
    configs: {},
    extensions: {},
  };
  const service = {
    name: 'web',
    image: 'busybox',
    command: ['httpd'],
    environment: { A: '1' },
    ports: [{ mode: 'ingress', target: 80, published: '8080', protocol: 'tcp' }],
    volumes: [],
    networks: { default: null },
    depends_on: {},
    labels: {},
    restart: 'always',
  };
  (project.services as Record<string, unknown>).web = service;
  const base: import('../../src/cli/commands/compose/run.js').RunOverrides = {
    command: [],
    environment: [],
    labels: {},
    user: '',
    workdir: '',
    volumes: [],
    publish: [],
    servicePorts: false,
    useAliases: false,
    autoRemove: false,
    tty: false,
    interactive: true,
    detach: false,
  };
  const ids = { name: 'demo-web-run-ffffffffffff', slug: 'f'.repeat(64) };
  const body = (o: typeof base, lookup: (k: string) => string | undefined = () => undefined) => {
    const one = run.oneOffRequest(project as never, service as never, o, ids, lookup);
    return containerCreateRequest(project as never, one.service, one.options).body as any;
  };
  const plain = body(base);
  assert.deepEqual([plain.Cmd, plain.HostConfig.RestartPolicy?.Name ?? '', plain.HostConfig.PortBindings], [['httpd'], '', {}]);
  assert.equal(plain.Labels['com.docker.compose.oneoff'], 'True');
  assert.equal(plain.Labels['com.docker.compose.slug'], 'f'.repeat(64));
  assert.equal(plain.Labels['com.docker.compose.container-number'], undefined);
  assert.ok(!(plain.NetworkingConfig.EndpointsConfig.demo_default.Aliases ?? []).includes('web'), 'a one-off gets no service alias');
  assert.deepEqual([plain.OpenStdin, plain.AttachStdin, plain.StdinOnce], [true, true, true]);
  assert.equal(service.restart, 'always', 'the model is left alone');

  const over = body(
    { ...base, entrypoint: ['sh', '-c'], environment: ['B=2', 'FROM_ENV', 'UNSET'], publish: ['127.0.0.1:9000:90'], volumes: ['./data:/data'], user: 'nobody', autoRemove: true, useAliases: true },
    (k) => (k === 'FROM_ENV' ? 'e' : undefined),
  );
  assert.deepEqual([over.Entrypoint, over.Cmd], [['sh', '-c'], []], 'an entrypoint without a command clears the command');
  assert.deepEqual([...over.Env].sort(), ['A=1', 'B=2', 'FROM_ENV=e']);
  assert.deepEqual(over.HostConfig.PortBindings, { '90/tcp': [{ HostIp: '127.0.0.1', HostPort: '9000' }] });
  assert.ok(JSON.stringify(over.HostConfig.Binds ?? over.HostConfig.Mounts).includes('/p/data'), JSON.stringify(over.HostConfig));
  assert.deepEqual([over.User, over.HostConfig.AutoRemove], ['nobody', true]);
  assert.ok(over.NetworkingConfig.EndpointsConfig.demo_default.Aliases.includes('web'), '--use-aliases');
  const withPorts = body({ ...base, servicePorts: true });
  assert.deepEqual(Object.keys(withPorts.HostConfig.PortBindings), ['80/tcp']);
});

test('exec: -e KEY takes the value from the environment or is left out', () => {
  assert.deepEqual(exec.resolveEnv(['A=1', 'B', 'C'], (k) => (k === 'B' ? 'b' : undefined)), ['A=1', 'B=b']);
});

test('compose flags before the subcommand are not captured by its own shorthands', () => {
  const r = resolve(rootCommand, ['compose', '-f', 'x.yml', '-p', 'demo', 'logs', '-f', 'web']);
  assert.equal(r.kind, 'run');
  if (r.kind !== 'run') return;
  assert.deepEqual([r.flags.list('file'), r.flags.string('project-name'), r.flags.bool('follow'), r.args], [['x.yml'], 'demo', true, ['web']]);
  const runCmd = resolve(rootCommand, ['compose', '-p', 'demo', 'run', '-p', '80:80', 'web']);
  assert.equal(runCmd.kind, 'run');
  if (runCmd.kind !== 'run') return;
  assert.deepEqual([runCmd.flags.string('project-name'), runCmd.flags.list('publish'), runCmd.args], ['demo', ['80:80'], ['web']]);
});

test('compose --help: docker compose usage, its persistent flags as Options, the commands', () => {
  const r = resolve(rootCommand, ['compose', '--help']);
  assert.equal(r.kind, 'help');
  if (r.kind !== 'help') return;
  const help = renderHelp(rootCommand, r.path, 200);
  assert.match(help, /^Usage:  berth compose \[OPTIONS\] COMMAND\n\nDefine and run multi-container applications with Docker\n\nOptions:\n/);
  assert.match(help, /\n  -f, --file stringArray +Compose configuration files\n/);
  assert.match(help, /\n  -p, --project-name string +Project name\n/);
  for (const c of ['ps', 'ls', 'logs', 'exec', 'run', 'top', 'images', 'port', 'events', 'cp', 'wait', 'kill', 'rm', 'pause', 'unpause', 'version', 'config']) {
    assert.match(help, new RegExp(`\\n  ${c} +\\S`), c);
  }
});

/** Runs a `berth compose` command in-process (commands that need no daemon). */
async function runInProcess(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string }> {
  const r = resolve(rootCommand, argv);
  assert.equal(r.kind, 'run', JSON.stringify(r));
  if (r.kind !== 'run') return { code: -1, out: '' };
  const out = sink();
  const { Readable, PassThrough } = await import('node:stream');
  const cli = {
    out,
    err: sink(),
    in: Readable.from(['']),
    rawOut: new PassThrough(),
    client: () => {
      throw new Error('no daemon in this test');
    },
    debug: false,
    env,
    now: () => NOW,
  };
  const code = (await r.command.run!({ args: r.args, flags: r.flags, path: '' }, cli as never)) ?? 0;
  return { code, out: out.text() };
}

test('compose config: the file model rendered with the command flags; version', async () => {
  const dir = (await import('node:fs')).mkdtempSync(path.join(tmpdir(), 'berth-ccfg-'));
  const file = path.join(dir, 'compose.yaml');
  (await import('node:fs')).writeFileSync(file, 'services:\n  web: {image: "busybox:${TAG:-1}", depends_on: [db]}\n  db: {image: busybox}\n');
  try {
    assert.equal((await runInProcess(['compose', '-f', file, 'config', '--services'])).out, 'db\nweb\n');
    assert.equal((await runInProcess(['compose', '-f', file, 'config', '--images'])).out, 'busybox\nbusybox:1\n');
    assert.match((await runInProcess(['compose', '-f', file, 'config', '--no-interpolate'])).out, /image: busybox:\$\{TAG:-1\}\n/);
    assert.match((await runInProcess(['compose', '-f', file, '-p', 'x', 'config', '--format', 'json'])).out, /^\{\n {2}"name": "x",/);
    assert.equal((await runInProcess(['compose', '-f', file, 'config', '-q'])).out, '');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal((await runInProcess(['compose', 'version'])).out, 'Docker Compose version v2.40.0-berth\n');
  assert.equal((await runInProcess(['compose', 'version', '--short'])).out, '2.40.0-berth\n');
  assert.equal((await runInProcess(['compose', 'version', '-f', 'json'])).out, '{"version":"v2.40.0-berth"}\n');
});

test("up's log consumer: Attaching to, prefixes, exit lines as compose logs prints them", () => {
  const out = sink();
  const c = lp.upLogConsumer(out, out, { color: false, prefix: true });
  c.register(['web-1', 'db-1']);
  c.line('db-1', 'db', 'stdout', 'ready');
  c.line('web-1', 'web', 'stderr', 'up');
  c.exited('web-1', 0);
  c.info('Aborting on container exit...');
  assert.equal(out.text(), 'Attaching to web-1, db-1\ndb-1   | ready\nweb-1  | up\nweb-1 exited with code 0\nAborting on container exit...\n');
});
