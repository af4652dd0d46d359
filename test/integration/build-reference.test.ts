import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import * as tar from 'tar-stream';
import { TestDaemon, DOCKER, run, type RunResult } from './harness.js';
import { referenceAvailable, startReferenceEngine, type ReferenceEngine } from './reference-dockerd.js';
import { makeBusyboxImage } from '../../src/tools/make-busybox-image.js';

/**
 * Issue 13's equality test: the same Dockerfile and context built by Berth and by a real Docker Engine
 * (its classic builder, as the docker CLI uses it without buildx) give the same image config and the same
 * files, with the same owners, modes and contents. Both start from the same busybox rootfs.
 */

/** The image config fields the issue names. */
const CONFIG_FIELDS = ['Cmd', 'Entrypoint', 'Env', 'WorkingDir', 'User', 'ExposedPorts', 'Volumes', 'Labels', 'Healthcheck', 'StopSignal', 'Shell', 'OnBuild'];
/** What `docker export` holds that the runtime made, not the build (dockerd's init layer adds /etc/mtab). */
const RUNTIME_PATHS = /^(\.dockerenv|etc\/(hostname|hosts|resolv\.conf|mtab)|dev(\/.*)?|proc|sys)$/;
/**
 * The source word of a COPY/ADD history entry (`file:<hash>`): dockerd hashes the sources with its own
 * tarsum-like scheme, Berth with its copy checksum, so only the kind of source is compared.
 */
const maskSourceHash = (createdBy: string) => createdBy.replace(/(file|dir|multi):[0-9a-f]{64}/g, '$1:<hash>');

interface Case {
  name: string;
  dockerfile: string;
  files?: Record<string, string>;
  /** Extra `docker build` flags. */
  flags?: string[];
  /** Built first under this tag (an ONBUILD base). */
  base?: { tag: string; dockerfile: string };
}

const cases: Case[] = [
  {
    name: 'metadata',
    dockerfile: `ARG BASE=busybox
FROM \${BASE} AS base
LABEL org.example.a="1" b=two "with space"="x y"
ENV A=1 B="two words" \\
    C=\${A}-x
ENV LEGACY value with spaces
ARG V=default
WORKDIR /app/sub
WORKDIR rel
USER 1000:1000
EXPOSE 80 443/tcp 53/udp
VOLUME ["/data", "/cache"]
VOLUME /more
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=5s --timeout=2s --start-period=1s --retries=4 CMD wget -q -O- http://localhost/ || exit 1
SHELL ["/bin/sh", "-ec"]
ONBUILD RUN echo triggered
ENTRYPOINT ["/bin/echo"]
CMD ["hello", "$A"]
MAINTAINER someone
`,
  },
  {
    name: 'expansion',
    dockerfile: `FROM busybox
ARG PORT=8080
ARG U=daemon
ENV DIR=/opt/x NAME="a b"
WORKDIR $DIR
COPY a.txt \${DIR}/
LABEL x=\${DIR:-none} y=\${NOPE:-dflt} z=\${DIR:+set} w="\${NAME}" lit=\\$DIR q='$DIR'
EXPOSE \${PORT}
USER \${U}
RUN echo "$DIR $PORT $NAME" > /tmp/out
HEALTHCHECK NONE
CMD echo $DIR
`,
    files: { 'a.txt': 'alpha\n' },
    flags: ['--build-arg', 'PORT=9090'],
  },
  {
    name: 'files',
    dockerfile: `FROM busybox
COPY a.txt /a.txt
COPY dir/ /dest/
COPY --chown=1:2 a.txt /owned.txt
COPY --chown=daemon:bin dir /named/
COPY *.txt /glob/
ADD archive.tar /unpacked/
ADD a.txt /added
COPY link /copied-link
RUN mkdir -p /run-made && echo hi > /run-made/f && chmod 700 /run-made && chown 5:6 /run-made/f
RUN rm /a.txt && rm -r /dest/sub
WORKDIR /w
COPY a.txt .
COPY b.txt c.txt ./many/
USER nobody
RUN touch /tmp/x
`,
    files: { 'a.txt': 'alpha\n', 'b.txt': 'bravo\n', 'c.txt': 'charlie\n', 'dir/one': '1\n', 'dir/sub/two': '2\n' },
  },
  {
    name: 'stages',
    dockerfile: `ARG FLAVOUR=plain
FROM busybox AS builder
ARG FLAVOUR
RUN mkdir /out && echo "$FLAVOUR" > /out/flavour && chmod 640 /out/flavour
FROM busybox AS other
RUN echo other > /other
FROM busybox
COPY --from=builder /out /from-builder
COPY --from=1 /other /from-index
COPY --from=busybox /bin/busybox /bb
CMD ["cat", "/from-builder/flavour"]
`,
    flags: ['--build-arg', 'FLAVOUR=spicy'],
  },
  {
    name: 'target',
    dockerfile: `FROM busybox AS first
RUN echo first > /f
FROM first AS second
RUN echo second >> /f
FROM busybox
RUN echo last > /l
`,
    flags: ['--target', 'second'],
  },
  {
    name: 'escape',
    dockerfile: "# escape=`\nFROM busybox\nRUN echo one `\n    two > /joined\nENV P=C:\\path\nLABEL k=`$notvar\n",
  },
  {
    name: 'dockerignore',
    dockerfile: 'FROM busybox\nCOPY . /ctx/\n',
    files: { '.dockerignore': '*.log\n!keep.log\nsecret/\n', 'a.log': 'x', 'keep.log': 'k', 'secret/s': 's', 'ok.txt': 'ok' },
  },
  {
    name: 'onbuild',
    base: { tag: 'berth-eq-onbuild-base', dockerfile: 'FROM busybox\nONBUILD COPY a.txt /onbuild.txt\nONBUILD RUN echo ran > /onbuild-ran\n' },
    dockerfile: 'FROM berth-eq-onbuild-base\nRUN cat /onbuild.txt\n',
    files: { 'a.txt': 'alpha\n' },
  },
];

/** A tar of the given files plus `archive.tar` and a symlink, for the files case. */
function writeContext(dir: string, c: Case): void {
  for (const [name, text] of Object.entries(c.files ?? {})) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  writeFileSync(path.join(dir, 'Dockerfile'), c.dockerfile);
  if (c.name === 'files') {
    const src = mkdtempSync(path.join(os.tmpdir(), 'berth-eq-tar-'));
    mkdirSync(path.join(src, 'inner'));
    writeFileSync(path.join(src, 'inner', 'f'), 'in the tar\n');
    execFileSync('tar', ['-C', src, '--owner=7', '--group=8', '-cf', path.join(dir, 'archive.tar'), 'inner']);
    rmSync(src, { recursive: true, force: true });
    symlinkSync('a.txt', path.join(dir, 'link'));
  }
}

interface Entry {
  type: string;
  mode: string;
  uid: number;
  gid: number;
  size: number;
  sha256?: string;
  linkname?: string;
}

/** The image's files, as `docker export` of a container made from it gives them (mtimes left out). */
async function files(engine: (args: string[]) => Promise<RunResult>, image: string): Promise<Map<string, Entry>> {
  const created = await engine(['create', image, 'true']);
  assert.equal(created.code, 0, created.stderr);
  const id = created.stdout.trim();
  try {
    const exported = await engine(['export', id]);
    assert.equal(exported.code, 0, exported.stderr);
    const out = new Map<string, Entry>();
    const extract = tar.extract();
    const done = new Promise<void>((resolve, reject) => {
      extract.on('entry', (h, stream, next) => {
        const hash = createHash('sha256');
        stream.on('data', (d: unknown) => hash.update(d as Buffer));
        stream.on('end', () => {
          const name = h.name.replace(/^\.?\//, '').replace(/\/$/, '');
          if (name && !RUNTIME_PATHS.test(name)) {
            out.set(name, {
              type: h.type ?? 'file', mode: ((h.mode ?? 0) & 0o7777).toString(8), uid: h.uid ?? 0, gid: h.gid ?? 0, size: h.size ?? 0,
              ...(h.type === 'file' ? { sha256: hash.digest('hex') } : {}),
              ...(h.linkname ? { linkname: h.linkname } : {}),
            });
          }
          next();
        });
        stream.resume();
      });
      extract.on('finish', resolve);
      extract.on('error', reject);
    });
    extract.end(exported.stdoutBytes);
    await done;
    return out;
  } finally {
    await engine(['rm', '-f', id]);
  }
}

function configOf(inspect: string): Record<string, unknown> {
  const config = (JSON.parse(inspect) as Array<{ Config: Record<string, unknown> }>)[0]!.Config;
  // Empty and absent are the same to a user (docker inspect prints both as nothing/null).
  return Object.fromEntries(CONFIG_FIELDS.map((k) => {
    const v = config[k];
    const empty = v === undefined || v === null || v === '' || (Array.isArray(v) && !v.length) || (typeof v === 'object' && v && !Array.isArray(v) && !Object.keys(v).length);
    return [k, empty ? null : v];
  }));
}

function diff(a: Map<string, Entry>, b: Map<string, Entry>): string[] {
  const lines: string[] = [];
  for (const name of new Set([...a.keys(), ...b.keys()])) {
    const x = JSON.stringify(a.get(name));
    const y = JSON.stringify(b.get(name));
    if (x !== y) lines.push(`${name}\n  berth:  ${x}\n  docker: ${y}`);
  }
  return lines.sort();
}

describe('builds equal a Docker Engine\'s', { skip: !referenceAvailable && 'no dockerd here and REF_DOCKER_HOST is not set' }, () => {
  const d = new TestDaemon();
  let ref: ReferenceEngine;
  const root = mkdtempSync(path.join(os.tmpdir(), 'berth-eq-'));
  const refDocker = (args: string[]) => run(DOCKER, args, { DOCKER_HOST: ref.host, DOCKER_CONFIG: path.join(root, 'ref-config'), DOCKER_BUILDKIT: '0' });
  const berthDocker = (args: string[]) => run(DOCKER, args, { DOCKER_HOST: d.host, DOCKER_CONFIG: path.join(root, 'berth-config'), DOCKER_BUILDKIT: '0' });

  before(async () => {
    [ref] = await Promise.all([startReferenceEngine(), d.start()]);
    await Promise.all([d.seedBusybox(), makeBusyboxImage(ref.host)]);
  });
  after(async () => {
    await Promise.all(cases.map((c) => refDocker(['rmi', '-f', `berth-eq-${c.name}`, ...(c.base ? [c.base.tag] : [])])));
    await Promise.all([d.stop(), ref?.stop()]);
    rmSync(root, { recursive: true, force: true });
  });

  for (const c of cases) {
    test(c.name, async () => {
      const ctx = path.join(root, c.name);
      mkdirSync(ctx);
      writeContext(ctx, c);
      const tagged = `berth-eq-${c.name}`;
      for (const engine of [berthDocker, refDocker]) {
        if (c.base) {
          const baseCtx = path.join(root, `${c.name}-base`);
          mkdirSync(baseCtx, { recursive: true });
          writeFileSync(path.join(baseCtx, 'Dockerfile'), c.base.dockerfile);
          const b = await engine(['build', '-q', '-t', c.base.tag, baseCtx]);
          assert.equal(b.code, 0, b.stderr);
        }
        const built = await engine(['build', '-q', '-t', tagged, ...(c.flags ?? []), ctx]);
        assert.equal(built.code, 0, `${engine === berthDocker ? 'berth' : 'docker'}: ${built.stderr}`);
      }
      const [berthInspect, refInspect] = await Promise.all([berthDocker(['image', 'inspect', tagged]), refDocker(['image', 'inspect', tagged])]);
      assert.deepEqual(configOf(berthInspect.stdout), configOf(refInspect.stdout));
      // `docker history` shows each step's created_by (`/bin/sh -c #(nop)  CMD ...`, `|1 A=b /bin/sh -c ...`).
      const history = (engine: typeof refDocker) => engine(['history', '--no-trunc', '--format', '{{.CreatedBy}}', tagged]).then((r) => r.stdout.trim().split('\n').map(maskSourceHash));
      assert.deepEqual(await history(berthDocker), await history(refDocker));
      const [mine, theirs] = await Promise.all([files(berthDocker, tagged), files(refDocker, tagged)]);
      assert.deepEqual(diff(mine, theirs), []);
    });
  }
});
