/**
 * Container commands run in-process against a stub daemon: the requests they make (bodies
 * compared with what docker 28.2 sent to the same stub), what they print, and exit statuses.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import http from 'node:http';
import type { Socket } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';

process.env.TZ = 'UTC';
const { resolve } = await import('../../src/cli/args.js');
const { ApiClient, parseHost } = await import('../../src/cli/client.js');
const { rootCommand } = await import('../../src/cli/commands/index.js');
const { renderHelp } = await import('../../src/cli/help.js');
const { CliError } = await import('../../src/cli/errors.js');
const { frame, StdDemuxer } = await import('../../src/cli/stdcopy.js');
const { ramInBytes } = await import('../../src/cli/units.js');
const run_ = await import('../../src/cli/commands/run.js');
const { formatContainerList, formatTop, formatContainerPrune } = await import('../../src/cli/commands/containers.js');
type Cli = import('../../src/cli/streams.js').Cli;

const NOW_S = 1795870800; // 2026-11-28T13:00:00Z
const ID = 'c0ffee'.repeat(10) + 'abcd';

interface Req {
  method: string;
  url: string;
  body: string;
}
interface Stub {
  route: (req: Req, res: http.ServerResponse) => void;
  /** Called for an upgraded attach: write frames to `socket`, end it when done. */
  attach?: (socket: Socket, req: Req, started: Promise<void>) => void;
}
interface Result {
  out: string;
  err: string;
  code: number;
}

const json = (res: http.ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
};

async function withDaemon(
  stub: Stub,
  fn: (run: (argv: string[], opts?: { stdin?: string; env?: NodeJS.ProcessEnv; signals?: EventEmitter }) => Promise<Result>, seen: string[], dir: string) => Promise<void>,
) {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-ctr-'));
  const socket = path.join(dir, 'd.sock');
  const seen: string[] = [];
  let markStarted: () => void = () => undefined;
  let started = new Promise<void>((r) => (markStarted = r));
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.setHeader('Api-Version', '1.50');
      if (req.url === '/_ping') return res.end();
      const body = Buffer.concat(chunks).toString();
      seen.push(`${req.method} ${req.url}${body ? ' ' + body : ''}`);
      if (/\/start$/.test(req.url!)) setImmediate(markStarted);
      stub.route({ method: req.method!, url: req.url!, body }, res);
    });
  });
  const upgraded = new Set<Socket>();
  server.on('upgrade', (req: http.IncomingMessage, sock: Socket) => {
    upgraded.add(sock);
    seen.push(`UPGRADE ${req.method} ${req.url} ${req.headers.connection}/${req.headers.upgrade}`);
    sock.write('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
    sock.on('error', () => undefined);
    stub.attach?.(sock, { method: req.method!, url: req.url!, body: '' }, started);
  });
  await new Promise<void>((r) => server.listen(socket, r));
  const run = async (argv: string[], opts: { stdin?: string; env?: NodeJS.ProcessEnv; signals?: EventEmitter } = {}): Promise<Result> => {
    started = new Promise<void>((r) => (markStarted = r));
    const r = resolve(rootCommand, argv);
    if (r.kind === 'error') return { out: '', err: r.message + '\n', code: r.exitCode };
    if (r.kind !== 'run') throw new Error(`not runnable: ${argv.join(' ')}`);
    const out: string[] = [];
    const err: string[] = [];
    const client = new ApiClient(parseHost(`unix://${socket}`));
    const rawOut = new PassThrough();
    const cli: Cli = {
      out: { write: (s) => out.push(Buffer.from(s as Uint8Array).toString()) },
      err: { write: (s) => err.push(Buffer.from(s as Uint8Array).toString()) },
      in: Readable.from([opts.stdin ?? '']),
      rawOut,
      client: () => client,
      debug: false,
      env: opts.env ?? {},
      now: () => NOW_S * 1000,
      ...(opts.signals && { signals: opts.signals as unknown as Cli['signals'] }),
    };
    let code = 0;
    try {
      code = (await r.command.run!({ args: r.args, flags: r.flags, path: '' }, cli)) ?? 0;
    } catch (e) {
      if (!(e instanceof CliError)) throw e;
      err.push(e.message + '\n');
      code = e.exitCode;
    } finally {
      client.close();
    }
    return { out: out.join(''), err: err.join(''), code };
  };
  try {
    await fn(run, seen, dir);
  } finally {
    for (const sock of upgraded) sock.destroy();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A daemon that creates, attaches (stdout and stderr frames after start), waits with `status`. */
function runStub(status = 3, extra: (req: Req, res: http.ServerResponse) => boolean = () => false): Stub {
  return {
    route: (req, res) => {
      if (extra(req, res)) return;
      if (req.url.startsWith('/v1.50/containers/create')) return json(res, 201, { Id: ID, Warnings: [] });
      if (req.url.includes('/wait')) {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.flushHeaders();
        setTimeout(() => res.end(JSON.stringify({ StatusCode: status }) + '\n'), 30);
        return;
      }
      if (req.url.endsWith('/start')) {
        res.writeHead(204);
        return res.end();
      }
      json(res, 404, { message: 'page not found' });
    },
    attach: (sock, _req, started) => {
      void started.then(() => {
        sock.write(frame(1, 'hello out\n'));
        sock.write(Buffer.concat([frame(2, 'hello err\n'), frame(1, 'more')]).subarray(0, 13));
        setTimeout(() => {
          sock.end(Buffer.concat([frame(2, 'hello err\n'), frame(1, 'more')]).subarray(13));
        }, 10);
      });
    },
  };
}

// What docker 28.2 sends for `docker run --rm busybox echo hi` (captured from a stub daemon).
const DOCKER_RUN_BODY =
  '{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":true,"AttachStderr":true,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":null,"Cmd":["echo","hi"],"Image":"busybox","Volumes":{},"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":{},"HostConfig":{"Binds":null,"ContainerIDFile":"","LogConfig":{"Type":"","Config":{}},"NetworkMode":"default","PortBindings":{},"RestartPolicy":{"Name":"no","MaximumRetryCount":0},"AutoRemove":true,"VolumeDriver":"","VolumesFrom":null,"ConsoleSize":[0,0],"CapAdd":null,"CapDrop":null,"CgroupnsMode":"","Dns":[],"DnsOptions":[],"DnsSearch":[],"ExtraHosts":null,"GroupAdd":null,"IpcMode":"","Cgroup":"","Links":null,"OomScoreAdj":0,"PidMode":"","Privileged":false,"PublishAllPorts":false,"ReadonlyRootfs":false,"SecurityOpt":null,"UTSMode":"","UsernsMode":"","ShmSize":0,"Isolation":"","CpuShares":0,"Memory":0,"NanoCpus":0,"CgroupParent":"","BlkioWeight":0,"BlkioWeightDevice":[],"BlkioDeviceReadBps":[],"BlkioDeviceWriteBps":[],"BlkioDeviceReadIOps":[],"BlkioDeviceWriteIOps":[],"CpuPeriod":0,"CpuQuota":0,"CpuRealtimePeriod":0,"CpuRealtimeRuntime":0,"CpusetCpus":"","CpusetMems":"","Devices":[],"DeviceCgroupRules":null,"DeviceRequests":null,"MemoryReservation":0,"MemorySwap":0,"MemorySwappiness":-1,"OomKillDisable":false,"PidsLimit":0,"Ulimits":[],"CpuCount":0,"CpuPercent":0,"IOMaximumIOps":0,"IOMaximumBandwidth":0,"MaskedPaths":null,"ReadonlyPaths":null},"NetworkingConfig":{"EndpointsConfig":{"default":{"IPAMConfig":null,"Links":null,"Aliases":null,"MacAddress":"","DriverOpts":null,"GwPriority":0,"NetworkID":"","EndpointID":"","Gateway":"","IPAddress":"","IPPrefixLen":0,"IPv6Gateway":"","GlobalIPv6Address":"","GlobalIPv6PrefixLen":0,"DNSNames":null}}}}';

test('run: create, attach, wait (before start), start; output demultiplexed; exit status from wait', async () => {
  await withDaemon(runStub(3), async (run, seen) => {
    const r = await run(['run', '--rm', 'busybox', 'echo', 'hi']);
    assert.equal(r.out, 'hello out\nmore');
    assert.equal(r.err, 'hello err\n');
    assert.equal(r.code, 3);
    assert.deepEqual(seen, [
      `POST /v1.50/containers/create ${DOCKER_RUN_BODY}`,
      `UPGRADE POST /v1.50/containers/${ID}/attach?stderr=1&stdout=1&stream=1 Upgrade/tcp`,
      `POST /v1.50/containers/${ID}/wait?condition=removed`,
      `POST /v1.50/containers/${ID}/start`,
    ]);
    seen.length = 0;
    // Flags end at the image: the command's own options are left alone.
    const plain = await run(['container', 'run', '-a', 'STDOUT', 'busybox', 'ls', '-l']);
    assert.equal(plain.out, 'hello out\nmore');
    assert.equal(plain.err, '');
    assert.match(seen[0]!, /"AttachStdout":true,"AttachStderr":false,.*"Cmd":\["ls","-l"\]/);
    assert.equal(seen[1], `UPGRADE POST /v1.50/containers/${ID}/attach?stdout=1&stream=1 Upgrade/tcp`);
    assert.equal(seen[2], `POST /v1.50/containers/${ID}/wait?condition=next-exit`);
  });
});

test('run -d: every supported flag lands where docker 28 puts it', async () => {
  await withDaemon(runStub(0), async (run, seen, dir) => {
    const envFile = path.join(dir, 'env.list');
    writeFileSync(envFile, '\ufeff# comment\n\nA=1\nB\n  C= 2 \r\nFOO\nUNSET_X\n');
    const labelFile = path.join(dir, 'labels');
    writeFileSync(labelFile, 'z=1\nbare\n');
    const r = await run(
      [
        'run', '-d', '--name', 'web', '-h', 'myhost', '-e', 'X=1', '-e', 'FOO', '-e', 'NOTSET', '--env-file', envFile,
        '-w', '/tmp', '-u', '1000:1000', '--entrypoint', '', '-l', 'a=b', '-l', 'c', '--label-file', labelFile,
        '--stop-signal', 'SIGUSR1', '--stop-timeout', '5', '--init', '--network', 'none', '-m', '512m', '--memory-swap', '1g',
        '--memory-reservation', '100k', '--cpus', '1.5', '-c', '512', '--cpuset-cpus', '0-1', '--cpuset-mems', '0',
        '--pids-limit', '100', '--restart', 'on-failure:3', '--platform', 'linux/arm64/v8', '-t', '-i', 'busybox', 'sh', '-c', 'exit 3',
      ],
      { env: { FOO: 'bar' } },
    );
    assert.equal(r.err, '');
    assert.equal(r.out, `${ID}\n`);
    assert.equal(r.code, 0);
    // docker 28.2's body for the same flags (its -e/--env-file order varies between runs).
    const docker =
      '{"Hostname":"myhost","Domainname":"","User":"1000:1000","AttachStdin":false,"AttachStdout":false,"AttachStderr":false,"Tty":true,"OpenStdin":true,"StdinOnce":false,"Env":["A=1","C= 2 ","FOO=bar","X=1","FOO=bar","NOTSET"],"Cmd":["sh","-c","exit 3"],"Image":"busybox","Volumes":{},"WorkingDir":"/tmp","Entrypoint":[""],"OnBuild":null,"Labels":{"a":"b","bare":"","c":"","z":"1"},"StopSignal":"SIGUSR1","StopTimeout":5,"HostConfig":{"Binds":null,"ContainerIDFile":"","LogConfig":{"Type":"","Config":{}},"NetworkMode":"none","PortBindings":{},"RestartPolicy":{"Name":"on-failure","MaximumRetryCount":3},"AutoRemove":false,"VolumeDriver":"","VolumesFrom":null,"ConsoleSize":[0,0],"CapAdd":null,"CapDrop":null,"CgroupnsMode":"","Dns":[],"DnsOptions":[],"DnsSearch":[],"ExtraHosts":null,"GroupAdd":null,"IpcMode":"","Cgroup":"","Links":null,"OomScoreAdj":0,"PidMode":"","Privileged":false,"PublishAllPorts":false,"ReadonlyRootfs":false,"SecurityOpt":null,"UTSMode":"","UsernsMode":"","ShmSize":0,"Isolation":"","CpuShares":512,"Memory":536870912,"NanoCpus":1500000000,"CgroupParent":"","BlkioWeight":0,"BlkioWeightDevice":[],"BlkioDeviceReadBps":[],"BlkioDeviceWriteBps":[],"BlkioDeviceReadIOps":[],"BlkioDeviceWriteIOps":[],"CpuPeriod":0,"CpuQuota":0,"CpuRealtimePeriod":0,"CpuRealtimeRuntime":0,"CpusetCpus":"0-1","CpusetMems":"0","Devices":[],"DeviceCgroupRules":null,"DeviceRequests":null,"MemoryReservation":102400,"MemorySwap":1073741824,"MemorySwappiness":-1,"OomKillDisable":false,"PidsLimit":100,"Ulimits":[],"CpuCount":0,"CpuPercent":0,"IOMaximumIOps":0,"IOMaximumBandwidth":0,"MaskedPaths":null,"ReadonlyPaths":null,"Init":true},"NetworkingConfig":{"EndpointsConfig":{}}}';
    assert.deepEqual(seen, [`POST /v1.50/containers/create?name=web&platform=linux%2Farm64%2Fv8 ${docker}`, `POST /v1.50/containers/${ID}/start`]);
  });
});

test('create: extra host, capability, dns and namespace flags as docker sends them', async () => {
  await withDaemon(runStub(0), async (run, seen) => {
    const r = await run([
      'create', '--domainname', 'example.com', '--privileged', '--read-only', '--cpu-period', '100000', '--cpu-quota', '50000',
      '--memory-swappiness', '10', '--shm-size', '64m', '--oom-score-adj', '100', '--oom-kill-disable', '--cap-add', 'net_admin',
      '--cap-drop', 'ALL', '--add-host', 'a:1.2.3.4', '--add-host', 'b=5.6.7.8', '--dns', '8.8.8.8', '--dns-search', 'x.org',
      '--dns-option', 'ndots:2', '--group-add', '10', '--pid', 'host', '--ipc', 'private', '--uts', 'host', '--network', 'container:abc', 'busybox',
    ]);
    assert.equal(r.out, `${ID}\n`);
    const body = JSON.parse(seen[0]!.slice(seen[0]!.indexOf(' {') + 1));
    assert.equal(body.Domainname, 'example.com');
    assert.equal(body.AttachStdout, true); // create attaches stdout/stderr in the config, as docker's does
    assert.equal(body.Cmd, null);
    const hc = body.HostConfig;
    assert.deepEqual([hc.CapAdd, hc.CapDrop, hc.ExtraHosts, hc.Dns, hc.DnsSearch, hc.DnsOptions, hc.GroupAdd], [
      ['CAP_NET_ADMIN'], ['ALL'], ['a:1.2.3.4', 'b:5.6.7.8'], ['8.8.8.8'], ['x.org'], ['ndots:2'], ['10'],
    ]);
    assert.deepEqual([hc.PidMode, hc.IpcMode, hc.UTSMode, hc.Privileged, hc.ReadonlyRootfs, hc.OomKillDisable], ['host', 'private', 'host', true, true, true]);
    assert.deepEqual([hc.ShmSize, hc.CpuPeriod, hc.CpuQuota, hc.MemorySwappiness, hc.OomScoreAdj], [67108864, 100000, 50000, 10, 100]);
    assert.equal(hc.NetworkMode, 'container:abc');
    assert.deepEqual(body.NetworkingConfig, { EndpointsConfig: {} });
    assert.equal('Init' in hc, false);
    assert.equal('StopTimeout' in body, false);
  });
});

test('run: a failed start exits 127/126/125 with docker framing; create errors exit 125', async () => {
  let message = '';
  const stub = runStub(0, (req, res) => {
    if (req.url.endsWith('/start')) {
      json(res, 400, { message });
      return true;
    }
    return false;
  });
  stub.attach = (sock) => sock.on('close', () => undefined);
  await withDaemon(stub, async (run, seen) => {
    const cases: Array<[string, number]> = [
      ['failed to create task: exec: "nope": executable file not found in $PATH: unknown', 127],
      ['exec /etc: no such file or directory', 127],
      ['exec /bin/x: permission denied', 126],
      ['something else', 125],
    ];
    for (const [msg, code] of cases) {
      message = msg;
      const r = await run(["run", "--rm", "busybox", "nope"]);
      assert.equal(r.code, code, msg);
      assert.equal(r.err, `berth: Error response from daemon: ${msg}\n\nRun 'berth run --help' for more information\n`);
    }
    // -d reports start failures the same way
    const d = await run(['run', '-d', 'busybox', 'nope']);
    assert.equal(d.code, 125);
    assert.equal(d.out, '');
    // `start` reports them plainly and names the failures at the end
    seen.length = 0;
    const s = await run(['start', 'a', 'b']);
    assert.equal(s.err, 'Error response from daemon: something else\nError response from daemon: something else\nError: failed to start containers: a, b\n');
    assert.equal(s.code, 1);
    assert.deepEqual(seen, ['POST /v1.50/containers/a/start', 'POST /v1.50/containers/b/start']);
  });
});

test('run: --pull missing pulls after a 404, --pull never does not; create is not framed', async () => {
  await withDaemon(
    {
      route: (req, res) => {
        if (req.url.startsWith('/v1.50/containers/create')) return json(res, 404, { message: 'No such image: busybox:latest' });
        if (req.url.startsWith('/v1.50/images/create')) return json(res, 404, { message: 'pull access denied for busybox' });
        json(res, 404, { message: 'page not found' });
      },
    },
    async (run, seen) => {
      const missing = await run(['run', 'busybox']);
      assert.equal(missing.code, 125);
      assert.equal(
        missing.err,
        "Unable to find image 'busybox:latest' locally\nberth: Error response from daemon: pull access denied for busybox\n\nRun 'berth run --help' for more information\n",
      );
      assert.equal(seen[1], 'POST /v1.50/images/create?fromImage=docker.io%2Flibrary%2Fbusybox&tag=latest');
      seen.length = 0;
      const never = await run(['run', '--pull', 'never', 'busybox']);
      assert.equal(never.err, "berth: Error response from daemon: No such image: busybox:latest\n\nRun 'berth run --help' for more information\n");
      assert.equal(seen.length, 1);
      const created = await run(['create', 'me/app:1']);
      assert.equal(created.code, 1);
      assert.equal(created.err, "Unable to find image 'me/app:1' locally\nError response from daemon: pull access denied for busybox\n");
      seen.length = 0;
      await run(['create', '--pull', 'always', '--platform', 'x86_64', 'me/app@sha256:' + '1'.repeat(64)]);
      assert.deepEqual(seen, [`POST /v1.50/images/create?fromImage=docker.io%2Fme%2Fapp&platform=linux%2Famd64&tag=sha256%3A${'1'.repeat(64)}`]);
    },
  );
});

test('run/create: argument and flag errors worded and numbered as docker does', async () => {
  await withDaemon(runStub(0), async (run, seen, dir) => {
    const check = async (argv: string[], err: string, code: number) => {
      const r = await run(argv);
      assert.equal(r.err, err, argv.join(' '));
      assert.equal(r.code, code, argv.join(' '));
    };
    const runUsage = "\n\nUsage:  berth run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\nRun 'berth run --help' for more information\n";
    await check(['run', '-m', 'x', 'busybox'], `invalid argument "x" for "-m, --memory" flag: invalid size: 'x'${runUsage}`, 125);
    await check(['run', '-m', '1x', 'busybox'], `invalid argument "1x" for "-m, --memory" flag: invalid suffix: 'x'${runUsage}`, 125);
    await check(['run', '--cpus', 'abc', 'busybox'], `invalid argument "abc" for "--cpus" flag: failed to parse abc as a rational number${runUsage}`, 125);
    await check(['run', '--cpus', '0.0000000001', 'busybox'], `invalid argument "0.0000000001" for "--cpus" flag: value is too precise${runUsage}`, 125);
    await check(['run', '-e', '=x', 'busybox'], `invalid argument "=x" for "-e, --env" flag: invalid environment variable: =x${runUsage}`, 125);
    await check(['run', '-a', 'foo', 'busybox'], `invalid argument "foo" for "-a, --attach" flag: valid streams are STDIN, STDOUT and STDERR${runUsage}`, 125);
    await check(['run', '--stop-timeout', 'x', 'busybox'], `invalid argument "x" for "--stop-timeout" flag: strconv.ParseInt: parsing "x": invalid syntax${runUsage}`, 125);
    await check(['run'], "berth: 'berth run' requires at least 1 argument\n\nUsage:  berth run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\nSee 'berth run --help' for more information\n", 1);
    const framed = (msg: string, cmd = 'run') => `berth: ${msg}\n\nRun 'berth ${cmd} --help' for more information\n`;
    await check(['run', '--pull', 'foo', 'busybox'], framed(`invalid pull option: 'foo': must be one of "always", "missing" or "never"`), 125);
    await check(['container', 'create', '--restart', 'on-failure:x', 'busybox'], framed('invalid restart policy format: maximum retry count must be an integer', 'create'), 125);
    await check(['run', '--rm', '--restart', 'always', 'busybox'], framed('conflicting options: cannot specify both --restart and --rm'), 125);
    await check(['run', 'UPPER'], framed('invalid reference format: repository name (library/UPPER) must be lowercase'), 125);
    await check(['run', '--env-file', path.join(dir, 'nope'), 'busybox'], framed(`open ${path.join(dir, 'nope')}: no such file or directory`), 125);
    await check(['run', '-d', '-a', 'stdout', 'busybox'], 'conflicting options: cannot specify both --attach and --detach\n', 1);
    await check(['run', '-it', 'busybox'], 'the input device is not a TTY\n', 1);
    await check(['create', '--platform', 'bad/x/y/z', 'busybox'], 'error parsing specified platform: "bad/x/y/z": cannot parse platform specifier: invalid argument\n', 1);
    assert.deepEqual(seen, []);
  });
});

test('--cidfile: written with the ID, refused when it exists', async () => {
  await withDaemon(runStub(0), async (run, _seen, dir) => {
    const cid = path.join(dir, 'cid');
    const r = await run(['run', '-d', '--cidfile', cid, 'busybox']);
    assert.equal(r.code, 0);
    assert.equal(readFileSync(cid, 'utf8'), ID);
    const again = await run(['run', '--cidfile', cid, 'busybox']);
    assert.equal(again.code, 125);
    assert.equal(again.err, `berth: container ID file found, make sure the other container isn't running or delete ${cid}\n\nRun 'berth run --help' for more information\n`);
  });
  // A failed create leaves no cidfile behind.
  await withDaemon({ route: (_req, res) => json(res, 400, { message: 'bad' }) }, async (run, _seen, dir) => {
    const cid = path.join(dir, 'cid');
    assert.equal((await run(['create', '--cidfile', cid, 'busybox'])).code, 1);
    assert.equal(existsSync(cid), false);
  });
});

test('run: warnings from create go to stderr; signals are forwarded while attached', async () => {
  const signals = new EventEmitter();
  let release: () => void = () => undefined;
  const stub = runStub(130, (req, res) => {
    if (req.url.startsWith('/v1.50/containers/create')) {
      json(res, 201, { Id: ID, Warnings: ['a warning'] });
      return true;
    }
    if (req.url.includes('/kill')) {
      res.writeHead(204);
      res.end();
      release();
      return true;
    }
    return false;
  });
  stub.attach = (sock, _req, started) => {
    void started.then(() => {
      signals.emit('SIGINT', 'SIGINT');
      new Promise<void>((r) => (release = r)).then(() => sock.end());
    });
  };
  await withDaemon(stub, async (run, seen) => {
    const r = await run(['run', 'busybox', 'sleep', '100'], { signals });
    assert.equal(r.err, 'WARNING: a warning\n');
    assert.equal(r.code, 130);
    assert.ok(seen.includes(`POST /v1.50/containers/${ID}/kill?signal=INT`), seen.join('\n'));
    assert.equal(signals.listenerCount('SIGINT'), 0);
  });
});

test('run -i: stdin goes over the attach connection, then its end', async () => {
  let received = '';
  const stub = runStub(0);
  stub.attach = (sock) => {
    sock.on('data', (d: Buffer) => (received += d.toString()));
    sock.on('end', () => sock.end(frame(1, received)));
  };
  await withDaemon(stub, async (run, seen) => {
    const r = await run(['run', '-i', 'busybox', 'cat'], { stdin: 'hello stdin\n' });
    assert.equal(r.out, 'hello stdin\n');
    assert.equal(seen[1], `UPGRADE POST /v1.50/containers/${ID}/attach?stderr=1&stdin=1&stdout=1&stream=1 Upgrade/tcp`);
    assert.match(seen[0]!, /"AttachStdin":true,.*"OpenStdin":true,"StdinOnce":true/);
  });
});

test('run -t: the output is raw, not demultiplexed', async () => {
  const stub = runStub(0);
  stub.attach = (sock, _req, started) => void started.then(() => sock.end('\x01raw tty\r\n'));
  await withDaemon(stub, async (run) => {
    assert.equal((await run(['run', '-t', 'busybox'])).out, '\x01raw tty\r\n');
  });
});

test('stop, kill, pause, unpause, restart, rm, wait: every name, errors at the end', async () => {
  await withDaemon(
    {
      route: (req, res) => {
        if (req.url.includes('missing')) return json(res, 404, { message: 'No such container: missing' });
        if (req.url.endsWith('/wait')) return json(res, 200, { StatusCode: 137 });
        res.writeHead(204);
        res.end();
      },
    },
    async (run, seen) => {
      for (const verb of ['stop', 'kill', 'pause', 'unpause', 'restart', 'rm']) {
        const r = await run(['container', verb, 'a', 'missing', 'b']);
        assert.equal(r.out, 'a\nb\n', verb);
        assert.equal(r.err, 'Error response from daemon: No such container: missing\n', verb);
        assert.equal(r.code, 1, verb);
      }
      const w = await run(['wait', 'a', 'b']);
      assert.equal(w.out, '137\n137\n');
      seen.length = 0;
      await run(['stop', '-t', '3', '-s', 'KILL', 'a']);
      await run(['kill', '-s', '9', 'a']);
      await run(['rm', '-f', '-v', 'a']);
      await run(['restart', '--time', '0', 'a']);
      assert.deepEqual(seen, [
        'POST /v1.50/containers/a/stop?signal=KILL&t=3',
        'POST /v1.50/containers/a/kill?signal=9',
        'DELETE /v1.50/containers/a?force=1&v=1',
        'POST /v1.50/containers/a/restart?t=0',
      ]);
      // rm -f of a container that is gone: said, not failed
      const gone = await run(['rm', '-f', 'missing', 'a']);
      assert.deepEqual([gone.out, gone.err, gone.code], ['a\n', 'Error response from daemon: No such container: missing\n', 0]);
      // `stop $(ps -q)` with nothing running
      const none = await run(['container', 'stop']);
      assert.equal(none.code, 1);
      assert.equal(
        none.err,
        "berth: 'berth container stop' requires at least 1 argument\n\nUsage:  berth container stop [OPTIONS] CONTAINER [CONTAINER...]\n\nSee 'berth container stop --help' for more information\n",
      );
    },
  );
});

test('rename and update', async () => {
  await withDaemon(
    {
      route: (req, res) => {
        if (req.url.includes('missing')) return json(res, 404, { message: 'No such container: missing' });
        if (req.url.includes('/update')) return json(res, 200, { Warnings: ['w1'] });
        res.writeHead(204);
        res.end();
      },
    },
    async (run, seen) => {
      assert.deepEqual(await run(['rename', 'a', 'b']), { out: '', err: '', code: 0 });
      const bad = await run(['rename', 'missing', 'b']);
      assert.equal(bad.err, 'Error response from daemon: No such container: missing\nError: failed to rename container named missing\n');
      assert.equal((await run(['rename', 'a', ' '])).err, 'Error: Neither old nor new names may be empty\n');
      const none = await run(['update', 'a']);
      assert.deepEqual([none.err, none.code], ['you must provide one or more flags when using this command\n', 1]);
      seen.length = 0;
      const u = await run(['update', '-m', '1g', '--cpus', '2', '--restart', 'always', '--pids-limit', '5', 'x']);
      assert.deepEqual([u.out, u.err], ['x\n', 'w1\n']);
      assert.deepEqual(seen, [
        'POST /v1.50/containers/x/update {"CpuShares":0,"Memory":1073741824,"NanoCpus":2000000000,"CgroupParent":"","BlkioWeight":0,"BlkioWeightDevice":null,"BlkioDeviceReadBps":null,"BlkioDeviceWriteBps":null,"BlkioDeviceReadIOps":null,"BlkioDeviceWriteIOps":null,"CpuPeriod":0,"CpuQuota":0,"CpuRealtimePeriod":0,"CpuRealtimeRuntime":0,"CpusetCpus":"","CpusetMems":"","Devices":null,"DeviceCgroupRules":null,"DeviceRequests":null,"MemoryReservation":0,"MemorySwap":0,"MemorySwappiness":null,"OomKillDisable":null,"PidsLimit":5,"Ulimits":null,"CpuCount":0,"CpuPercent":0,"IOMaximumIOps":0,"IOMaximumBandwidth":0,"RestartPolicy":{"Name":"always","MaximumRetryCount":0}}',
      ]);
    },
  );
});

const PS: import('../../src/cli/commands/object-rows.js').ContainerSummary[] = [
  {
    Id: '8dfafdbc3a40' + 'a'.repeat(52),
    Names: ['/my-nginx'],
    Image: 'busybox',
    ImageID: 'sha256:' + '1'.repeat(64),
    Command: 'httpd -f -p 8080 -h /var/www/html',
    Created: NOW_S - 5,
    Ports: [],
    SizeRw: 0,
    SizeRootFs: 1980000,
    Labels: { a: 'b' },
    State: 'running',
    Status: 'Up 4 seconds',
    NetworkSettings: { Networks: { bridge: {} } },
    Mounts: [],
  },
  {
    Id: '9e0000000000' + 'b'.repeat(52),
    Names: ['/exit3'],
    Image: 'sha256:' + '1'.repeat(64),
    ImageID: 'sha256:' + '1'.repeat(64),
    Command: "sh -c 'exit 3'",
    Created: NOW_S - 3700,
    Ports: [{ PrivatePort: 80, Type: 'tcp' }],
    Labels: {},
    State: 'exited',
    Status: 'Exited (3) About an hour ago',
    NetworkSettings: { Networks: { none: {} } },
    Mounts: [],
  },
];

test('ps: docker 28 columns, -s, --no-trunc, -q, templates', () => {
  const list = (o: Partial<Parameters<typeof formatContainerList>[1]> = {}) =>
    formatContainerList(PS, { format: '', quiet: false, size: false, noTrunc: false, now: NOW_S * 1000, ...o });
  assert.equal(
    list(),
    `CONTAINER ID   IMAGE          COMMAND                  CREATED             STATUS                         PORTS     NAMES
8dfafdbc3a40   busybox        "httpd -f -p 8080 -h…"   5 seconds ago       Up 4 seconds                             my-nginx
9e0000000000   111111111111   "sh -c 'exit 3'"         About an hour ago   Exited (3) About an hour ago   80/tcp    exit3
`,
  );
  assert.equal(
    list({ size: true, noTrunc: true }),
    `CONTAINER ID                                                       IMAGE                                                                     COMMAND                               CREATED             STATUS                         PORTS     NAMES      SIZE
8dfafdbc3a40${'a'.repeat(52)}   busybox                                                                   "httpd -f -p 8080 -h /var/www/html"   5 seconds ago       Up 4 seconds                             my-nginx   0B (virtual 1.98MB)
9e0000000000${'b'.repeat(52)}   sha256:${'1'.repeat(64)}   "sh -c 'exit 3'"                      About an hour ago   Exited (3) About an hour ago   80/tcp    exit3      0B
`,
  );
  assert.equal(list({ quiet: true }), '8dfafdbc3a40\n9e0000000000\n');
  assert.equal(list({ format: '{{.Names}} {{.Size}} {{.Label "a"}} {{.Networks}}' }), 'my-nginx 0B (virtual 1.98MB) b bridge\nexit3 0B  none\n');
  assert.equal(list({ format: 'table {{.Names}}\t{{.Label "a"}}' }), 'NAMES      a\nmy-nginx   b\nexit3      \n');
  assert.equal(
    list({ format: 'json' }).split('\n')[0],
    '{"Command":"\\"httpd -f -p 8080 -h…\\"","CreatedAt":"2026-11-28 12:59:55 +0000 UTC","ID":"8dfafdbc3a40","Image":"busybox","Labels":"a=b","LocalVolumes":"0","Mounts":"","Names":"my-nginx","Networks":"bridge","Platform":null,"Ports":"","RunningFor":"5 seconds ago","Size":"0B (virtual 1.98MB)","State":"running","Status":"Up 4 seconds"}',
  );
});

test('ps: query parameters and the -q/--format warning', async () => {
  await withDaemon({ route: (_req, res) => json(res, 200, PS) }, async (run, seen) => {
    await run(['ps']);
    await run(['container', 'ls', '-a', '-s', '-n', '3', '-f', 'status=exited', '-f', 'name=x']);
    await run(['container', 'list', '-l']);
    await run(['container', 'ps', '--format', '{{.Size}}']);
    await run(['ps', '--format', '{{json .}}']);
    const q = await run(['ps', '-q', '--format', '{{.Names}}']);
    assert.equal(q.out, '8dfafdbc3a40\n9e0000000000\n');
    assert.equal(q.err, 'WARNING: Ignoring custom format, because both --format and --quiet are set.\n');
    assert.deepEqual(seen, [
      'GET /v1.50/containers/json',
      'GET /v1.50/containers/json?all=1&filters=%7B%22name%22%3A%7B%22x%22%3Atrue%7D%2C%22status%22%3A%7B%22exited%22%3Atrue%7D%7D&limit=3&size=1',
      'GET /v1.50/containers/json?limit=1',
      'GET /v1.50/containers/json?size=1',
      'GET /v1.50/containers/json?size=1',
      'GET /v1.50/containers/json',
    ]);
  });
});

test('logs: inspect first, then demultiplex, or raw bytes for a TTY', async () => {
  let tty = false;
  await withDaemon(
    {
      route: (req, res) => {
        if (req.url.endsWith('/json')) return json(res, 200, { Id: ID, Config: { Tty: tty } });
        res.writeHead(200);
        if (tty) return res.end('raw\r\n');
        res.write(frame(1, 'out line\n'));
        res.end(frame(2, 'err line\n'));
      },
    },
    async (run, seen) => {
      const r = await run(['logs', '-f', '--since', '10m', '--until', '2025-01-01T00:00:00Z', '-n', '5', '-t', '--details', 'web']);
      assert.deepEqual([r.out, r.err], ['out line\n', 'err line\n']);
      assert.deepEqual(seen, [
        'GET /v1.50/containers/web/json',
        `GET /v1.50/containers/${ID}/logs?details=1&follow=1&since=${NOW_S - 600}&stderr=1&stdout=1&tail=5&timestamps=1&until=1735689600.000000000`,
      ]);
      tty = true;
      seen.length = 0;
      assert.equal((await run(['container', 'logs', 'web'])).out, 'raw\r\n');
      assert.equal(seen[1], `GET /v1.50/containers/${ID}/logs?stderr=1&stdout=1&tail=all`);
      const bad = await run(['logs', '--since', 'foo', 'web']);
      assert.equal(bad.err, 'invalid value for "since": failed to parse value as time or duration: "foo"\n');
    },
  );
});

test('top: ps options after the container; tabwriter(20, 1, 3) table', async () => {
  const top = { Titles: ['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME', 'CMD'], Processes: [['root', '1234', '1200', '0', '12:00', '?', '00:00:00', 'sleep 1000']] };
  assert.equal(
    formatTop(top),
    `UID                 PID                 PPID                C                   STIME               TTY                 TIME                CMD
root                1234                1200                0                   12:00               ?                   00:00:00            sleep 1000
`,
  );
  await withDaemon({ route: (_req, res) => json(res, 200, top) }, async (run, seen) => {
    await run(['top', 'web', '-o', 'pid,comm']);
    await run(['container', 'top', 'web']);
    assert.deepEqual(seen, ['GET /v1.50/containers/web/top?ps_args=-o+pid%2Ccomm', 'GET /v1.50/containers/web/top']);
  });
});

test('container prune asks first, container inspect -s', async () => {
  assert.equal(formatContainerPrune({ ContainersDeleted: [ID], SpaceReclaimed: 0 }), `Deleted Containers:\n${ID}\n\nTotal reclaimed space: 0B\n`);
  assert.equal(formatContainerPrune({ ContainersDeleted: null, SpaceReclaimed: 0 }), 'Total reclaimed space: 0B\n');
  await withDaemon(
    {
      route: (req, res) => {
        if (req.url.startsWith('/v1.50/containers/prune')) return json(res, 200, { ContainersDeleted: [ID], SpaceReclaimed: 0 });
        if (req.url.includes('missing')) return json(res, 404, { message: 'No such container: missing' });
        res.end(JSON.stringify({ Id: ID, Name: '/web' }));
      },
    },
    async (run, seen) => {
      const no = await run(['container', 'prune'], { stdin: 'n\n' });
      assert.equal(no.out, 'WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ');
      assert.deepEqual(seen, []);
      const yes = await run(['container', 'prune', '--filter', 'until=1h'], { stdin: 'y\n' });
      assert.ok(yes.out.endsWith(`[y/N] Deleted Containers:\n${ID}\n\nTotal reclaimed space: 0B\n`));
      const i = await run(['container', 'inspect', '-s', '-f', '{{.Name}}', 'web', 'missing']);
      assert.deepEqual([i.out, i.err, i.code], ['/web\n', 'Error response from daemon: No such container: missing\n', 1]);
      assert.deepEqual(seen, [
        'POST /v1.50/containers/prune?filters=%7B%22until%22%3A%7B%221h%22%3Atrue%7D%7D',
        'GET /v1.50/containers/web/json?size=1',
        'GET /v1.50/containers/missing/json?size=1',
      ]);
    },
  );
});

test('start -a: inspect, attach, wait, start; exit status of the container', async () => {
  const stub = runStub(4, (req, res) => {
    if (req.url.endsWith('/json')) {
      json(res, 200, { Id: ID, Config: { Tty: false, OpenStdin: false }, HostConfig: { AutoRemove: false } });
      return true;
    }
    return false;
  });
  await withDaemon(stub, async (run, seen) => {
    const r = await run(['start', '-a', 'web']);
    assert.deepEqual([r.out, r.err, r.code], ['hello out\nmore', 'hello err\n', 4]);
    assert.deepEqual(seen, [
      'GET /v1.50/containers/web/json',
      `UPGRADE POST /v1.50/containers/${ID}/attach?stderr=1&stdout=1&stream=1 Upgrade/tcp`,
      `POST /v1.50/containers/${ID}/wait?condition=next-exit`,
      `POST /v1.50/containers/${ID}/start`,
    ]);
    assert.equal((await run(['start', '-a', 'a', 'b'])).err, 'you cannot start and attach multiple containers at once\n');
  });
});

test('help: run lists --help (its -h is --hostname); container group lists the verbs', () => {
  const help = renderHelp(rootCommand, [rootCommand.subcommands!.find((c) => c.name === 'run')!]);
  assert.match(help, /^Usage:  berth run \[OPTIONS\] IMAGE \[COMMAND\] \[ARG\.\.\.\]\n\nCreate and run a new container from an image\n\nAliases:\n  berth container run, berth run\n/);
  assert.match(help, /\n {6}--help {2,}Print usage\n/);
  assert.match(help, /\n {2}-h, --hostname string {2,}Container host name\n/);
  assert.match(help, /\n {2}-m, --memory bytes {2,}Memory limit\n/);
  const r = resolve(rootCommand, ['run', '--help']);
  assert.equal(r.kind, 'help');
});

test('kvfiles, sizes, CPUs, restart policies', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-kv-'));
  try {
    const f = path.join(dir, 'e');
    writeFileSync(f, 'A=1\n  # c\nB\nC =x\n');
    assert.throws(() => run_.parseKeyValueFile(f, () => undefined), { message: `invalid env file (${f}): variable 'C ' contains whitespaces` });
    writeFileSync(f, 'A=1\nB\n=x\n');
    assert.throws(() => run_.parseKeyValueFile(f), { message: "no variable name on line '=x'" });
    writeFileSync(f, 'A=1\r\nB\nC\n');
    assert.deepEqual(run_.parseKeyValueFile(f, (k) => (k === 'B' ? 'b' : undefined)), ['A=1', 'B=b']);
    assert.deepEqual(run_.parseKeyValueFile(f), ['A=1', 'B', 'C']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(ramInBytes('512m'), 512 * 1024 * 1024);
  assert.equal(ramInBytes('1g'), 1 << 30);
  assert.equal(ramInBytes('100k'), 102400);
  assert.equal(ramInBytes('1 kb'), 1024);
  assert.equal(ramInBytes('1.5GiB'), 1610612736);
  assert.equal(ramInBytes('10b'), 10);
  assert.equal(ramInBytes('1.9'), 1);
  assert.equal(ramInBytes('1e3'), 1000);
  assert.throws(() => ramInBytes('x'), { message: "invalid size: 'x'" });
  assert.throws(() => ramInBytes('-1'), { message: "invalid size: '-1'" });
  assert.throws(() => ramInBytes('1kbb'), { message: "invalid suffix: 'kbb'" });
  assert.throws(() => ramInBytes('1.5.5m'), { message: 'strconv.ParseFloat: parsing "1.5.5": invalid syntax' });
  assert.equal(run_.parseNanoCpus('1.5'), 1_500_000_000n);
  assert.equal(run_.parseNanoCpus('3/2'), 1_500_000_000n);
  assert.equal(run_.parseNanoCpus('.25'), 250_000_000n);
  assert.equal(run_.parseNanoCpus('2e-3'), 2_000_000n);
  assert.deepEqual(run_.parseRestartPolicy('on-failure:3'), { Name: 'on-failure', MaximumRetryCount: 3 });
  assert.deepEqual(run_.parseRestartPolicy('always'), { Name: 'always', MaximumRetryCount: 0 });
  assert.equal(run_.startErrorStatus('exec: "x": executable file not found in $PATH'), 127);
  assert.equal(run_.platformText('linux/arm/7'), 'linux/arm/v7');
  assert.equal(run_.platformText('windows'), 'windows/amd64');
});

test('stdcopy: frames split anywhere; a daemon error frame fails', () => {
  const out: string[] = [];
  const err: string[] = [];
  const d = new StdDemuxer(
    (b) => out.push(b.toString()),
    (b) => err.push(b.toString()),
  );
  const all = Buffer.concat([frame(1, 'a'), frame(2, 'bc'), frame(1, ''), frame(1, 'def')]);
  for (let i = 0; i < all.length; i += 3) d.push(all.subarray(i, i + 3));
  assert.equal(out.join(''), 'adef');
  assert.equal(err.join(''), 'bc');
  assert.throws(() => d.push(frame(3, 'boom')), { message: 'error from daemon in stream: boom' });
});
