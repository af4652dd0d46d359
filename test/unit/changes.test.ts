import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyChanges } from '../../src/images/changes.js';

test('exec and shell forms of CMD and ENTRYPOINT', () => {
  assert.deepEqual(applyChanges({}, ['CMD ["sh", "-c", "x"]']).Cmd, ['sh', '-c', 'x']);
  assert.deepEqual(applyChanges({}, ['CMD echo hi']).Cmd, ['/bin/sh', '-c', 'echo hi']);
  assert.deepEqual(applyChanges({}, ['entrypoint ["/init"]']).Entrypoint, ['/init']);
  assert.deepEqual(applyChanges({}, ['CMD [not json']).Cmd, ['/bin/sh', '-c', '[not json']);
});

test('ENV and LABEL take key=value pairs with quotes, and the legacy single form', () => {
  const c = applyChanges({ Env: ['A=0'] }, ['ENV A=1 B="two words"', 'ENV C three words', 'LABEL a.b=c "d e"=f']);
  assert.deepEqual(c.Env, ['A=1', 'B=two words', 'C=three words']);
  assert.deepEqual(c.Labels, { 'a.b': 'c', 'd e': 'f' });
});

test('EXPOSE, VOLUME, WORKDIR, USER, STOPSIGNAL', () => {
  const c = applyChanges({}, ['EXPOSE 80 53/udp', 'VOLUME ["/a", "/b"]', 'VOLUME /c', 'WORKDIR srv', 'USER 1000:1000', 'STOPSIGNAL SIGQUIT']);
  assert.deepEqual(c.ExposedPorts, { '80/tcp': {}, '53/udp': {} });
  assert.deepEqual(c.Volumes, { '/a': {}, '/b': {}, '/c': {} });
  assert.equal(c.WorkingDir, '/srv');
  assert.equal(c.User, '1000:1000');
  assert.equal(c.StopSignal, 'SIGQUIT');
});

test('instructions that make layers are refused with Docker’s message', () => {
  assert.throws(() => applyChanges({}, ['RUN true']), /^InvalidArgument: run is not a valid change command$/m);
  assert.throws(() => applyChanges({}, ['COPY a b']), /copy is not a valid change command/);
  assert.throws(() => applyChanges({}, ['EXPOSE http']), /invalid containerPort: http/);
});

test('the base config is not modified', () => {
  const base = { Env: ['A=1'] };
  applyChanges(base, ['ENV A=2']);
  assert.deepEqual(base.Env, ['A=1']);
});

test('ENV and the other Dockerfile words expand variables against the config env, as dockerd', () => {
  const out = applyChanges({ Env: ['PATH=/bin', 'FOO=bar'] }, [
    'ENV PATH=$PATH:/x',
    'ENV A=${FOO}-1 B=$A C="$FOO q" D=\'$FOO\'',
    'ENV E $FOO and ${NOPE:-dflt}',
    'WORKDIR $FOO',
    'LABEL l=$FOO',
    'ENV F=\\$FOO G=$ H=${FOO:+set}',
  ]);
  assert.deepEqual(out.Env, ['PATH=/bin:/x', 'FOO=bar', 'A=bar-1', 'B=', 'C=bar q', 'D=$FOO', 'E=bar and dflt', 'F=$FOO', 'G=$', 'H=set']);
  assert.equal(out.WorkingDir, '/bar');
  assert.deepEqual(out.Labels, { l: 'bar' });
});

test('change lines go through the Dockerfile parser and lexer: its operators and its errors', () => {
  const out = applyChanges({ Env: ['FOO=bar.tar.gz'] }, ['ENV BASE=${FOO%%.*} EXT=${FOO#*.}', 'ONBUILD RUN echo $FOO', 'CMD ["a"] junk']);
  assert.deepEqual(out.Env, ['FOO=bar.tar.gz', 'BASE=bar', 'EXT=tar.gz']);
  assert.deepEqual(out.OnBuild, ['RUN echo $FOO']);
  assert.deepEqual(out.Cmd, ['/bin/sh', '-c', '["a"] junk']);
  assert.throws(() => applyChanges({}, ['ENV']), /^InvalidArgument: ENV requires at least one argument$/m);
  assert.throws(() => applyChanges({}, ['USER ${X']), /failed to process "\$\{X"/);
  assert.throws(() => applyChanges({}, ['ONBUILD FROM x']), /FROM isn't allowed as an ONBUILD trigger/);
});
