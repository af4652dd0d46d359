import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { parseDockerfile, DockerfileError } from '../../src/build/dockerfile/index.js';
import { parseGoDuration, parseMount } from '../../src/build/dockerfile/instructions.js';
import type { Instruction } from '../../src/build/dockerfile/types.js';

/** The instructions of the only stage of `FROM scratch\n<body>`. */
function stage(body: string): Instruction[] {
  return parseDockerfile(`FROM scratch\n${body}`, 'Dockerfile').stages[0]!.instructions;
}
const one = (body: string) => stage(body)[0]!;

function refusal(text: string): DockerfileError {
  try {
    parseDockerfile(text, 'build/app.Dockerfile');
  } catch (err) {
    assert.ok(err instanceof DockerfileError, String(err));
    assert.equal(err.kind, 'InvalidArgument');
    assert.equal(err.file, 'build/app.Dockerfile');
    return err;
  }
  assert.fail('expected the Dockerfile to be refused');
}
const message = (text: string) => refusal(text).message;

describe('stages', () => {
  test('metaArgs before FROM, stage names lower-cased, platform, original and locations', () => {
    const df = parseDockerfile('# syntax=docker/dockerfile:1\nARG BASE=alpine\nFROM --platform=$BUILDPLATFORM ${BASE} AS Build\nRUN make\nfrom build as final\n', 'Dockerfile');
    assert.equal(df.directives.syntax, 'docker/dockerfile:1');
    assert.deepEqual(df.metaArgs.map((a) => a.args), [[{ key: 'BASE', value: 'alpine' }]]);
    assert.equal(df.stages.length, 2);
    const [build, final] = df.stages;
    assert.deepEqual(build!.from, {
      kind: 'FROM',
      image: '${BASE}',
      stageName: 'build',
      platform: '$BUILDPLATFORM',
      loc: { file: 'Dockerfile', startLine: 3, endLine: 3 },
      original: 'FROM --platform=$BUILDPLATFORM ${BASE} AS Build',
    });
    assert.equal(build!.instructions[0]!.original, 'RUN make');
    assert.equal(stage('RUN a \\\n   b   \t')[0]!.original, 'RUN a    b');
    assert.deepEqual([final!.index, final!.from.stageName, final!.from.image], [1, 'final', 'build']);
  });
  test('Docker\'s errors for missing FROM, bad and duplicate stage names', () => {
    assert.equal(message('RUN x\nFROM a'), 'no build stage in current context');
    assert.equal(message('ARG a\n'), 'no build stage in current context');
    assert.equal(message('FROM a AS 1st'), 'dockerfile parse error on line 1: invalid name for build stage: "1st", name can\'t start with a number or contain symbols');
    assert.equal(message('FROM a AS b/c'), 'dockerfile parse error on line 1: invalid name for build stage: "b/c", name can\'t start with a number or contain symbols');
    assert.equal(message('FROM a b'), 'dockerfile parse error on line 1: FROM requires either one or three arguments');
    assert.equal(message('FROM'), 'dockerfile parse error on line 1: FROM requires either one or three arguments');
    assert.equal(message('FROM a AS x\nFROM b AS X'), 'x stage name already used');
    assert.equal(message('FROM --plat=x a'), 'dockerfile parse error on line 1: unknown flag: --plat');
  });
  test('near misses get buildkit\'s suggestion', () => {
    assert.equal(message('FROM a\nRUNN x'), 'dockerfile parse error on line 2: unknown instruction: RUNN (did you mean RUN?)');
    assert.equal(message('FROM a\nFROBNICATE x'), 'dockerfile parse error on line 2: unknown instruction: FROBNICATE');
    assert.equal(message('FROM a\ncopyy a b'), 'dockerfile parse error on line 2: unknown instruction: copyy (did you mean copy?)');
    assert.equal(message('FROM a\nCOPY --form=x a b'), 'dockerfile parse error on line 2: unknown flag: --form (did you mean from?)');
    assert.equal(message('FROM a\nRUN --mount=type=cahce x'), 'dockerfile parse error on line 2: unsupported mount type "cahce" (did you mean cache?)');
    assert.equal(message('FROM a\nRUN --mount=taget=/x x'), "dockerfile parse error on line 2: unexpected key 'taget' in 'taget=/x' (did you mean target?)");
    assert.equal(message('FROM a\nRUN --mount=type=cache,sharing=lock x'), 'dockerfile parse error on line 2: unsupported sharing value "lock" (did you mean locked?)');
  });
  test('the error names the line of the instruction, and carries file and lines', () => {
    const e = refusal('FROM a\n\nRUN ok \\\n  continued\nFOO bar');
    assert.equal(e.message, 'dockerfile parse error on line 5: unknown instruction: FOO (did you mean FROM?)');
    assert.deepEqual([e.startLine, e.endLine], [5, 5]);
    assert.equal(message('FROM a\nRUN x \\\n  y\nWORKDIR'), 'dockerfile parse error on line 4: WORKDIR requires exactly one argument');
    assert.equal(message(''), 'file with no instructions');
    assert.equal(message('FROM a\nRUN <<EOF\n'), 'dockerfile parse error on line 2: unterminated heredoc');
  });
});

describe('RUN, CMD, ENTRYPOINT, SHELL', () => {
  test('shell and exec forms, heredocs chomped', () => {
    assert.deepEqual((one('RUN echo  hi') as any).command, { form: 'shell', text: 'echo  hi' });
    assert.deepEqual((one('RUN ["echo", "hi"]') as any).command, { form: 'exec', args: ['echo', 'hi'] });
    assert.deepEqual((one('RUN <<-EOF\n\techo $A\nEOF') as any).command, {
      form: 'shell',
      text: '<<-EOF',
      heredocs: [{ name: 'EOF', content: 'echo $A\n', expand: true }],
    });
    assert.deepEqual((one('CMD ["a"]') as any).command, { form: 'exec', args: ['a'] });
    assert.deepEqual((one('CMD a b') as any).command, { form: 'shell', text: 'a b' });
    assert.deepEqual((one('ENTRYPOINT') as any).command, { form: 'exec', args: [] });
    assert.deepEqual((one('SHELL ["/bin/bash", "-c"]') as any).shell, ['/bin/bash', '-c']);
  });
  test('RUN flags: mounts, network, security', () => {
    const run = one('RUN --mount=type=cache,target=/root/.cache,id=pip,sharing=locked,mode=0755,uid=1,gid=2 --mount=type=secret,id=tok,required --mount=target=/src,from=build,rw --network=none --security=insecure make') as any;
    assert.deepEqual(run.mounts, [
      { type: 'cache', target: '/root/.cache', id: 'pip', sharing: 'locked', mode: 0o755, uid: 1, gid: 2, readonly: false },
      { type: 'secret', id: 'tok', required: true, readonly: true },
      { type: 'bind', target: '/src', from: 'build', readonly: false },
    ]);
    assert.equal(run.network, 'none');
    assert.equal(run.security, 'insecure');
    assert.equal(message('FROM a\nRUN --network=bridge x'), 'dockerfile parse error on line 2: invalid network mode "bridge"');
    assert.equal(message('FROM a\nRUN --security=x y'), 'dockerfile parse error on line 2: security "x" is not valid');
    assert.equal(message('FROM a\nRUN --foo x'), 'dockerfile parse error on line 2: unknown flag: --foo');
    assert.equal(message('FROM a\nRUN --network x'), 'dockerfile parse error on line 2: missing a value on flag: --network');
    assert.equal(message('FROM a\nRUN --network=none --network=host x'), 'dockerfile parse error on line 2: duplicate flag specified: --network');
  });
  test('mount fields as buildkit parses them', () => {
    assert.deepEqual(parseMount('type=tmpfs,dst=/t,size=64m'), { type: 'tmpfs', target: '/t', size: 64 * 1024 * 1024, readonly: false });
    assert.deepEqual(parseMount('type=bind,source=a,destination=/b,ro=false'), { type: 'bind', source: 'a', target: '/b', readonly: false });
    assert.deepEqual(parseMount('type=ssh,env=SSH_AUTH_SOCK'), { type: 'ssh', env: 'SSH_AUTH_SOCK', readonly: true });
    assert.deepEqual(parseMount('"type=bind","target=/a,b"'), { type: 'bind', target: '/a,b', readonly: true });
    const bad: Array<[string, string]> = [
      ['type=nfs', 'unsupported mount type "nfs"'],
      ['type=bind,mode=0700', 'mode not allowed for "bind" type mounts'],
      ['type=bind,uid=1', 'uid not allowed for "bind" type mounts'],
      ['type=bind,required', "unexpected key 'required' for mount type 'bind'"],
      ['type=cache,size=1m', "unexpected key 'size' for mount type 'cache'"],
      ['type=secret,from=x,id=a', 'secret mount should not have a from'],
      ['type=secret', 'invalid secret mount. one of source, target required'],
      ['type=secret,id=a,source=b', "both source and id can't be set"],
      ['type=bind,sharing=shared', 'invalid cache sharing set for bind mount'],
      ['type=cache,sharing=odd', 'unsupported sharing value "odd"'],
      ['type=cache,mode=9', 'invalid value 9 for mode'],
      ['type=cache,foo=bar', "unexpected key 'foo' in 'foo=bar' (did you mean from?)"],
      ['type=cache,xyzzy=1', "unexpected key 'xyzzy' in 'xyzzy=1'"],
      ['type=cache,target', "invalid field 'target' must be a key=value pair"],
      ['ro=maybe', 'invalid value for ro: maybe'],
      ['from=$X', "'from' doesn't support variable expansion, define alias stage instead"],
    ];
    for (const [value, want] of bad) assert.throws(() => parseMount(value), { message: want }, value);
  });
  test('SHELL needs JSON', () => {
    assert.equal(message('FROM a\nSHELL /bin/sh -c'), 'dockerfile parse error on line 2: SHELL requires the arguments to be in JSON form');
    assert.equal(message('FROM a\nSHELL []'), 'dockerfile parse error on line 2: SHELL requires at least one argument');
  });
});

describe('COPY and ADD', () => {
  test('every flag', () => {
    const copy = one('COPY --from=build --chown=app:app --chmod=0644 --link --exclude=*.md --exclude=tmp --parents a b /dst/') as any;
    assert.deepEqual(
      { ...copy, loc: undefined, original: undefined },
      { kind: 'COPY', sources: ['a', 'b'], heredocs: [], dest: '/dst/', from: 'build', chown: 'app:app', chmod: '0644', link: true, exclude: ['*.md', 'tmp'], parents: true, loc: undefined, original: undefined },
    );
    const add = one('ADD --keep-git-dir=true --checksum=sha256:abc --unpack=false --link=false https://x/y.tar /y') as any;
    assert.deepEqual([add.kind, add.keepGitDir, add.checksum, add.unpack, add.link, add.sources], ['ADD', true, 'sha256:abc', false, false, ['https://x/y.tar']]);
    assert.equal((one('ADD a /b') as any).unpack, undefined);
    assert.deepEqual((one('COPY ["a b", "/c"]') as any).sources, ['a b']);
  });
  test('flags of the other instruction are unknown; bad booleans refused', () => {
    assert.equal(message('FROM a\nADD --from=x a b'), 'dockerfile parse error on line 2: unknown flag: --from');
    assert.equal(message('FROM a\nCOPY --unpack a b'), 'dockerfile parse error on line 2: unknown flag: --unpack');
    assert.equal(message('FROM a\nCOPY --link=yes a b'), 'dockerfile parse error on line 2: expecting boolean value for flag --link, not: yes');
    assert.equal(message('FROM a\nCOPY --link= a b'), 'dockerfile parse error on line 2: missing a value on flag: --link');
    assert.equal(message('FROM a\nCOPY a'), 'dockerfile parse error on line 2: COPY requires at least two arguments, but only one was provided. Destination could not be determined');
    assert.equal(message('FROM a\nADD'), 'dockerfile parse error on line 2: ADD requires at least two arguments, but only one was provided. Destination could not be determined');
  });
  test('heredoc sources', () => {
    const copy = one('COPY <<one <<-"two" /dst/\nfirst $X\none\n\tsecond\n\ttwo') as any;
    assert.deepEqual(copy.sources, []);
    assert.deepEqual(copy.heredocs, [
      { name: 'one', content: 'first $X\n', expand: true },
      { name: 'two', content: 'second\n', expand: false },
    ]);
    assert.equal(message('FROM a\nCOPY a <<EOF\nx\nEOF'), 'dockerfile parse error on line 2: COPY cannot accept a heredoc as a destination');
  });
});

describe('ENV, LABEL, ARG, EXPOSE, VOLUME, USER, WORKDIR, STOPSIGNAL, MAINTAINER', () => {
  test('pairs as written, both ENV forms', () => {
    assert.deepEqual((one('ENV A=1 B="two words"') as any).pairs, [{ key: 'A', value: '1' }, { key: 'B', value: '"two words"' }]);
    assert.deepEqual((one('ENV PATH /x:$PATH') as any).pairs, [{ key: 'PATH', value: '/x:$PATH' }]);
    assert.deepEqual((one('LABEL a=b c=d') as any).pairs, [{ key: 'a', value: 'b' }, { key: 'c', value: 'd' }]);
    assert.equal(message('FROM a\nENV =x'), 'dockerfile parse error on line 2: ENV names can not be blank');
    assert.equal(message('FROM a\nLABEL'), 'dockerfile parse error on line 2: LABEL requires at least one argument');
    assert.equal(message('FROM a\nENV --x=1 A=b'), 'dockerfile parse error on line 2: unknown flag: --x');
  });
  test('ARG with and without defaults', () => {
    assert.deepEqual((one('ARG a b=1 c=') as any).args, [{ key: 'a' }, { key: 'b', value: '1' }, { key: 'c', value: '' }]);
    assert.equal(message('FROM a\nARG =1'), 'dockerfile parse error on line 2: ARG names can not be blank');
    assert.equal(message('FROM a\nARG'), 'dockerfile parse error on line 2: ARG requires at least one argument');
  });
  test('EXPOSE sorted as buildkit, VOLUME both forms', () => {
    assert.deepEqual((one('EXPOSE 8080 443/tcp 53/udp') as any).values, ['443/tcp', '53/udp', '8080']);
    assert.deepEqual((one('VOLUME /a /b') as any).values, ['/a', '/b']);
    assert.deepEqual((one('VOLUME ["/a b"]') as any).values, ['/a b']);
    assert.equal(message('FROM a\nVOLUME [" "]'), 'dockerfile parse error on line 2: VOLUME specified can not be an empty string');
    assert.equal(message('FROM a\nVOLUME []'), 'dockerfile parse error on line 2: VOLUME requires at least one argument');
    assert.equal(message('FROM a\nEXPOSE'), 'dockerfile parse error on line 2: EXPOSE requires at least one argument');
  });
  test('single-word instructions take the rest of the line', () => {
    assert.deepEqual(stage('USER app:app\nWORKDIR /my dir\nSTOPSIGNAL SIGINT\nMAINTAINER Me <me@x>').map((i: any) => [i.kind, i.value]), [
      ['USER', 'app:app'],
      ['WORKDIR', '/my dir'],
      ['STOPSIGNAL', 'SIGINT'],
      ['MAINTAINER', 'Me <me@x>'],
    ]);
    assert.equal(message('FROM a\nUSER'), 'dockerfile parse error on line 2: USER requires exactly one argument');
  });
});

describe('HEALTHCHECK', () => {
  test('CMD forms, NONE, durations in nanoseconds, retries', () => {
    const hc = one('HEALTHCHECK --interval=30s --timeout=1m30s --start-period=1.5s --start-interval=500ms --retries=3 CMD curl -f http://x/ || exit 1') as any;
    assert.deepEqual(hc.test, ['CMD-SHELL', 'curl -f http://x/ || exit 1']);
    assert.deepEqual([hc.interval, hc.timeout, hc.startPeriod, hc.startInterval, hc.retries], [30e9, 90e9, 1.5e9, 5e8, 3]);
    assert.deepEqual((one('HEALTHCHECK CMD ["curl", "-f"]') as any).test, ['CMD', 'curl', '-f']);
    const none = one('HEALTHCHECK NONE') as any;
    assert.deepEqual(none.test, ['NONE']);
    assert.equal(none.interval, undefined);
    assert.equal((one('HEALTHCHECK --interval=0s CMD x') as any).interval, undefined);
  });
  test('Docker\'s errors', () => {
    const cases: Array<[string, string]> = [
      ['HEALTHCHECK', 'HEALTHCHECK requires at least one argument'],
      ['HEALTHCHECK NONE x', 'HEALTHCHECK NONE takes no arguments'],
      ['HEALTHCHECK CMD', 'Missing command after HEALTHCHECK CMD'],
      ['HEALTHCHECK RUN x', 'Unknown type "RUN" in HEALTHCHECK (try CMD)'],
      ['HEALTHCHECK --interval=10 CMD x', 'time: missing unit in duration "10"'],
      ['HEALTHCHECK --interval=abc CMD x', 'time: invalid duration "abc"'],
      ['HEALTHCHECK --timeout=5x CMD x', 'time: unknown unit "x" in duration "5x"'],
      ['HEALTHCHECK --interval=1us CMD x', 'Interval "interval" cannot be less than 1ms'],
      ['HEALTHCHECK --retries=-1 CMD x', '--retries cannot be negative (-1)'],
      ['HEALTHCHECK --retries=x CMD x', 'strconv.ParseInt: parsing "x": invalid syntax'],
      ['HEALTHCHECK --period=1s CMD x', 'unknown flag: --period'],
    ];
    for (const [line, want] of cases) assert.equal(message(`FROM a\n${line}`), `dockerfile parse error on line 2: ${want}`, line);
  });
  test('Go durations', () => {
    assert.equal(parseGoDuration('1h2m3s'), 3723e9);
    assert.equal(parseGoDuration('2.5ms'), 2.5e6);
    assert.equal(parseGoDuration('100ns'), 100);
    assert.equal(parseGoDuration('3µs'), 3000);
    assert.equal(parseGoDuration('-1s'), -1e9);
    assert.equal(parseGoDuration('0'), 0);
    assert.equal(parseGoDuration('.5s'), 5e8);
    assert.throws(() => parseGoDuration(''), { message: 'time: invalid duration ""' });
    assert.throws(() => parseGoDuration('.s'), { message: 'time: invalid duration ".s"' });
  });
});

describe('ONBUILD', () => {
  test('the trigger is parsed and its expression kept as the image config stores it', () => {
    const ob = one('ONBUILD RUN echo hi') as any;
    assert.equal(ob.expression, 'RUN echo hi');
    assert.equal(ob.trigger.kind, 'RUN');
    assert.deepEqual(ob.trigger.command, { form: 'shell', text: 'echo hi' });
    const copy = one('onbuild  COPY --chown=1 . /app') as any;
    assert.equal(copy.expression, 'COPY --chown=1 . /app');
    assert.equal(copy.trigger.chown, '1');
    const heredoc = one('ONBUILD RUN <<EOF\necho a\nEOF') as any;
    assert.equal(heredoc.expression, 'RUN <<EOF\necho a\nEOF');
  });
  test('ONBUILD ONBUILD, FROM and MAINTAINER are refused', () => {
    assert.equal(message('FROM a\nONBUILD ONBUILD RUN x'), 'dockerfile parse error on line 2: Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed');
    assert.equal(message('FROM a\nONBUILD from b'), "dockerfile parse error on line 2: FROM isn't allowed as an ONBUILD trigger");
    assert.equal(message('FROM a\nONBUILD MAINTAINER me'), "dockerfile parse error on line 2: MAINTAINER isn't allowed as an ONBUILD trigger");
    assert.equal(message('FROM a\nONBUILD'), 'dockerfile parse error on line 2: ONBUILD requires at least one argument');
    assert.equal(message('FROM a\nONBUILD BAR x'), 'dockerfile parse error on line 2: unknown instruction: BAR (did you mean ARG?)');
  });
});

describe('warnings', () => {
  test('empty continuation lines', () => {
    const df = parseDockerfile('FROM a\nRUN a \\\n\n b', 'Dockerfile');
    assert.deepEqual(df.warnings, [{ loc: { file: 'Dockerfile', startLine: 4, endLine: 4 }, message: 'Empty continuation line found in: RUN a  b' }]);
  });
});
