import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';

process.env.TZ = 'UTC';
const { eventFormatter, eventJson, formatEventLine } = await import('../../src/cli/commands/events.js');
const { renderInspect } = await import('../../src/cli/commands/inspect.js');
const { displayJsonMessages, jsonValues } = await import('../../src/cli/jsonstream.js');
const { compactJson, indentJson } = await import('../../src/cli/jsonfmt.js');
const { CliError } = await import('../../src/cli/errors.js');

const ID = 'sha256:' + 'a'.repeat(64);
// timeNano is beyond 2^53: it must come out exactly as sent
const TAG_EVENT = `{"status":"tag","id":"${ID}","from":"","Type":"image","Action":"tag","Actor":{"ID":"${ID}","Attributes":{"name":"busybox:latest","zeta":"1","alpha":"x"}},"scope":"local","time":1795870800,"timeNano":1795870800123456789}`;

test('events: docker default line, local time with nanoseconds, sorted attributes', () => {
  assert.equal(formatEventLine(TAG_EVENT), `2026-11-28T13:00:00.123456789Z image tag ${ID} (alpha=x, name=busybox:latest, zeta=1)\n`);
  const noAttrs = '{"Type":"container","Action":"start","Actor":{"ID":"abc"},"time":1795870801}';
  assert.equal(formatEventLine(noAttrs), '2026-11-28T13:00:01.000000000Z container start abc\n');
});

test('events --format json re-encodes like Go, --format templates see Go field names', () => {
  assert.equal(
    eventJson(TAG_EVENT),
    `{"status":"tag","id":"${ID}","Type":"image","Action":"tag","Actor":{"ID":"${ID}","Attributes":{"alpha":"x","name":"busybox:latest","zeta":"1"}},"scope":"local","time":1795870800,"timeNano":1795870800123456789}`,
  );
  const print = eventFormatter('{{.Type}} {{.Action}} {{.ID}} {{.Actor.Attributes.name}} {{.Scope}}');
  assert.equal(print(TAG_EVENT), `image tag ${ID} busybox:latest local\n`);
  assert.equal(eventFormatter('json')(TAG_EVENT), eventJson(TAG_EVENT) + '\n');
  assert.throws(() => eventFormatter('{{.Foo}'), (e: unknown) => e instanceof CliError && e.exitCode === 64 && e.message.startsWith('Error parsing format: '));
});

test('json re-indentation keeps the daemon text', () => {
  const raw = '{"b":1,"a":[],"c":{},"d":[1,{"e":"x, y: {z}"}],"n":12345678901234567890}';
  assert.equal(
    indentJson(raw),
    '{\n    "b": 1,\n    "a": [],\n    "c": {},\n    "d": [\n        1,\n        {\n            "e": "x, y: {z}"\n        }\n    ],\n    "n": 12345678901234567890\n}',
  );
  assert.equal(compactJson('{ "a" : [ 1, 2 ], "s": "a b" }\n'), '{"a":[1,2],"s":"a b"}');
  assert.equal(indentJson('"esc \\" quote"'), '"esc \\" quote"');
});

test('inspect output: array indented 4 spaces, json compact, templates per object', () => {
  const raws = ['{"Id":"sha256:1","RepoTags":["a:1"],"Labels":null}', '{"Id":"sha256:2","RepoTags":[],"Labels":{}}'];
  assert.equal(
    renderInspect(raws, ''),
    '[\n    {\n        "Id": "sha256:1",\n        "RepoTags": [\n            "a:1"\n        ],\n        "Labels": null\n    },\n    {\n        "Id": "sha256:2",\n        "RepoTags": [],\n        "Labels": {}\n    }\n]\n',
  );
  assert.equal(renderInspect([], ''), '[]\n');
  assert.equal(renderInspect(raws, 'json'), `[${raws.join(',')}]\n`);
  assert.equal(renderInspect(raws, '{{.Id}}'), 'sha256:1\nsha256:2\n');
  assert.equal(renderInspect([], '{{.Id}}'), '\n');
  assert.throws(() => renderInspect(raws, '{{.Id}'), (e: unknown) => e instanceof CliError && e.exitCode === 64 && e.message.startsWith('template parsing error: '));
});

test('jsonValues splits concatenated and chunked JSON', async () => {
  const chunks = ['{"a":1}\n{"b":"}{', '"}', '[1,2]{"c":', '{"d":"\\"}"}}\n'];
  const out: string[] = [];
  for await (const v of jsonValues(Readable.from(chunks))) out.push(v);
  assert.deepEqual(out, ['{"a":1}', '{"b":"}{"}', '[1,2]', '{"c":{"d":"\\"}"}}']);
});

function sink() {
  const parts: string[] = [];
  return { write: (s: string | Uint8Array) => parts.push(String(s)), text: () => parts.join('') };
}

test('load/import progress display', async () => {
  const out = sink();
  const lines = [
    { stream: 'Loaded image: busybox:latest\n' },
    { status: 'sha256:abc' },
    { id: 'layer1', status: 'Loading layer', progressDetail: { current: 1, total: 2 }, progress: '[=>   ]' },
    { id: 'layer1', status: 'Loading layer', progressDetail: { current: 2, total: 2 }, progress: '[====>]' },
  ];
  await displayJsonMessages(Readable.from(lines.map((l) => JSON.stringify(l) + '\n')), out, { tty: false });
  // off a terminal progress bars are dropped
  assert.equal(out.text(), 'Loaded image: busybox:latest\nsha256:abc\n');

  const tty = sink();
  await displayJsonMessages(Readable.from(lines.slice(2).map((l) => JSON.stringify(l))), tty, { tty: true, columns: 80 });
  // as docker 28: the bar is drawn from progressDetail (no bar on a terminal 110 columns or narrower)
  assert.equal(tty.text(), '\n\x1b[1A\x1b[2K\rlayer1: Loading layer       1B/2B\r\x1b[1B\x1b[1A\x1b[2K\rlayer1: Loading layer       2B/2B\r\x1b[1B');

  const err = sink();
  const failing = [JSON.stringify({ stream: 'x\n' }), JSON.stringify({ errorDetail: { message: 'boom' }, error: 'boom' })];
  await assert.rejects(displayJsonMessages(Readable.from(failing), err), (e: unknown) => e instanceof CliError && e.message === 'boom' && e.exitCode === 1);
  assert.equal(err.text(), 'x\n');
});
