import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { BuildStream, goJson, shortId } from '../../src/api/streams/build.js';
import type { BuildEvent, StepRef } from '../../src/build/types.js';

const IMG = (c: string) => `sha256:${c.repeat(64)}`;
const step = (stage: number, index: number, count: number, globalIndex: number, globalCount: number, text: string): StepRef => ({
  id: `${stage}.${index - 1}`,
  stage,
  stageName: String(stage),
  index,
  count,
  globalIndex,
  globalCount,
  text,
});

function render(events: BuildEvent[], end: { ok: { imageId: string; tags: string[] } } | { err: Error }, opts = { quiet: false, aux: true, structured: false }) {
  const out: string[] = [];
  const s = new BuildStream((d) => out.push(d), opts);
  for (const e of events) s.event(e);
  let handled = true;
  if ('ok' in end) s.success(end.ok);
  else handled = s.failure(end.err);
  return { out, handled };
}

const from = step(0, 1, 3, 1, 3, 'FROM busybox');
const run = step(0, 2, 3, 2, 3, 'RUN echo hi');
const cmd = step(0, 3, 3, 3, 3, 'CMD ["sh"]');
const EVENTS: BuildEvent[] = [
  { type: 'step-start', step: from, time: 0 },
  { type: 'step-image', step: from, imageId: IMG('a') },
  { type: 'step-done', step: from, imageId: IMG('a'), time: 1 },
  { type: 'step-start', step: run, time: 1 },
  { type: 'step-container', step: run, containerId: 'c'.repeat(64) },
  { type: 'step-output', step: run, stream: 'stdout', data: Buffer.from('hi\n') },
  { type: 'step-output', step: run, stream: 'stderr', data: Buffer.from('oops <&>\n') },
  { type: 'step-container-removed', step: run, containerId: 'c'.repeat(64) },
  { type: 'step-done', step: run, imageId: IMG('b'), time: 2 },
  { type: 'step-start', step: cmd, time: 2 },
  { type: 'step-cached', step: cmd },
  { type: 'step-done', step: cmd, imageId: IMG('d'), time: 3 },
];

describe('the classic /build stream', () => {
  test('is dockerd’s classic builder output, message for message', () => {
    const { out } = render(EVENTS, { ok: { imageId: IMG('d'), tags: ['app:latest', 'app:v1'] } });
    assert.deepEqual(out, [
      '{"stream":"Step 1/3 : FROM busybox"}\r\n',
      '{"stream":"\\n"}\r\n',
      '{"stream":" ---\\u003e aaaaaaaaaaaa\\n"}\r\n',
      '{"stream":"Step 2/3 : RUN echo hi"}\r\n',
      '{"stream":"\\n"}\r\n',
      '{"stream":" ---\\u003e Running in cccccccccccc\\n"}\r\n',
      '{"stream":"hi\\n"}\r\n',
      '{"stream":"\\u001b[91moops \\u003c\\u0026\\u003e\\n\\u001b[0m"}\r\n',
      '{"stream":" ---\\u003e Removed intermediate container cccccccccccc\\n"}\r\n',
      '{"stream":" ---\\u003e bbbbbbbbbbbb\\n"}\r\n',
      '{"stream":"Step 3/3 : CMD [\\"sh\\"]"}\r\n',
      '{"stream":"\\n"}\r\n',
      '{"stream":" ---\\u003e Using cache\\n"}\r\n',
      '{"stream":" ---\\u003e dddddddddddd\\n"}\r\n',
      `{"aux":{"ID":"${IMG('d')}"}}\r\n`,
      '{"stream":"Successfully built dddddddddddd\\n"}\r\n',
      '{"stream":"Successfully tagged app:latest\\n"}\r\n',
      '{"stream":"Successfully tagged app:v1\\n"}\r\n',
    ]);
  });

  test('an error after output is a stream message; before any output the caller answers with a status', () => {
    const failed = render(EVENTS.slice(0, 6), { err: new Error('The command \'/bin/sh -c exit 1\' returned a non-zero code: 1') });
    assert.equal(failed.handled, true);
    assert.equal(
      failed.out.at(-1),
      '{"errorDetail":{"message":"The command \'/bin/sh -c exit 1\' returned a non-zero code: 1"},"error":"The command \'/bin/sh -c exit 1\' returned a non-zero code: 1"}\r\n',
    );
    const early = render([], { err: new Error('Cannot locate specified Dockerfile: Dockerfile') });
    assert.deepEqual(early, { out: [], handled: false });
  });

  test('q=1 prints only the id on success, and what was held back before an error', () => {
    const quiet = { quiet: true, aux: true, structured: false };
    assert.deepEqual(render(EVENTS, { ok: { imageId: IMG('d'), tags: ['app:latest'] } }, quiet).out, [`{"stream":"${IMG('d')}\\n"}\r\n`]);
    const failed = render(EVENTS.slice(0, 3), { err: new Error('boom') }, quiet);
    assert.equal(failed.out.length, 4);
    assert.equal(failed.out[0], '{"stream":"Step 1/3 : FROM busybox"}\r\n');
    assert.equal(failed.out[3], '{"errorDetail":{"message":"boom"},"error":"boom"}\r\n');
  });

  test('each stage’s last step gives an aux ID; API < 1.30 gets none', () => {
    const s0 = step(0, 1, 1, 1, 2, 'FROM busybox AS a');
    const s1 = step(1, 1, 1, 2, 2, 'FROM a');
    const events: BuildEvent[] = [
      { type: 'step-start', step: s0, time: 0 },
      { type: 'step-done', step: s0, imageId: IMG('a'), time: 0 },
      { type: 'step-start', step: s1, time: 0 },
      { type: 'step-done', step: s1, imageId: IMG('a'), time: 0 },
    ];
    const aux = render(events, { ok: { imageId: IMG('a'), tags: [] } }).out.filter((m) => m.startsWith('{"aux"'));
    assert.equal(aux.length, 2);
    const old = render(events, { ok: { imageId: IMG('a'), tags: [] } }, { quiet: false, aux: false, structured: false }).out;
    assert.equal(old.filter((m) => m.startsWith('{"aux"')).length, 0);
  });

  test('pull progress and messages pass through', () => {
    const { out } = render(
      [
        { type: 'pull-progress', step: from, message: { status: 'Pulling from library/busybox', id: 'latest' } },
        { type: 'message', text: '[Warning] One or more build-args [X] were not consumed' },
      ],
      { ok: { imageId: IMG('a'), tags: [] } },
    );
    assert.equal(out[0], '{"status":"Pulling from library/busybox","id":"latest"}\r\n');
    assert.equal(out[1], '{"stream":"[Warning] One or more build-args [X] were not consumed\\n"}\r\n');
  });

  test('the structured mode sends the events with their data in base64', () => {
    const { out } = render(EVENTS.slice(5, 6), { ok: { imageId: IMG('d'), tags: [] } }, { quiet: false, aux: true, structured: true });
    const m = JSON.parse(out[0]!);
    assert.equal(m.id, 'berth.build.event');
    assert.equal(m.aux.type, 'step-output');
    assert.equal(Buffer.from(m.aux.data, 'base64').toString(), 'hi\n');
    assert.equal(out.length, 1, 'no classic closing lines in structured mode');
  });

  test('helpers', () => {
    assert.equal(shortId('sha256:0123456789abcdef'), '0123456789ab');
    assert.equal(goJson({ s: 'a<b>&\u2028' }), '{"s":"a\\u003cb\\u003e\\u0026\\u2028"}');
  });
});
