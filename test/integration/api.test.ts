import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { pack } from 'tar-stream';
import { TestDaemon } from './harness.js';

function tarOf(files: Record<string, string>): Promise<Buffer> {
  const p = pack();
  for (const [name, body] of Object.entries(files)) p.entry({ name, mode: 0o644, mtime: new Date(0) }, body);
  p.finalize();
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    p.on('data', (c) => chunks.push(c as Buffer));
    p.on('end', () => resolve(Buffer.concat(chunks)));
    p.on('error', reject);
  });
}

function lastMessage(text: string): any {
  return JSON.parse(text.trim().split('\n').at(-1)!);
}

describe('Engine API basics', () => {
  const d = new TestDaemon();
  before(() => d.start());
  after(() => d.stop());

  test('ping answers GET and HEAD with Docker headers', async () => {
    const get = await d.request('GET', '/_ping');
    assert.equal(get.status, 200);
    assert.equal(get.text, 'OK');
    assert.equal(get.headers['api-version'], '1.50');
    assert.match(String(get.headers.server), /^Berth\//);
    const head = await d.request('HEAD', '/v1.41/_ping');
    assert.equal(head.status, 200);
    assert.equal(head.text, '');
  });

  test('version prefixes from 1.24 to 1.50 are accepted; others get Docker’s 400', async () => {
    assert.equal((await d.request('GET', '/v1.24/version')).status, 200);
    const v = (await d.request('GET', '/v1.50/version')).json();
    assert.equal(v.ApiVersion, '1.50');
    assert.equal(v.MinAPIVersion, '1.24');
    assert.equal(v.Os, 'linux');
    const tooNew = await d.request('GET', '/v1.51/version');
    assert.equal(tooNew.status, 400);
    assert.equal(tooNew.json().message, 'client version 1.51 is too new. Maximum supported API version is 1.50');
    const tooOld = await d.request('GET', '/v1.12/version');
    assert.equal(tooOld.status, 400);
    assert.match(tooOld.json().message, /client version 1.12 is too old/);
  });

  test('info reports the daemon’s state and roots', async () => {
    const info = (await d.request('GET', '/info')).json();
    assert.equal(info.DockerRootDir, d.dataRoot);
    assert.equal(info.Driver, 'overlay2');
    assert.equal(info.OSType, 'linux');
    assert.equal(typeof info.ID, 'string');
    assert.equal(info.Swarm.LocalNodeState, 'inactive');
  });

  test('unknown paths are 404 page not found', async () => {
    const r = await d.request('GET', '/nope');
    assert.equal(r.status, 404);
    assert.deepEqual(r.json(), { message: 'page not found' });
  });

  test('bad input gets a 4xx and never takes the daemon down', async () => {
    assert.equal((await d.request('GET', '/images/json?filters=%7Bbad')).status, 400);
    const badKey = await d.request('GET', '/images/json?filters=' + encodeURIComponent('{"nope":{"x":true}}'));
    assert.equal(badKey.status, 400);
    assert.equal(badKey.json().message, "invalid filter 'nope'");
    assert.equal((await d.request('GET', '/images/json?filters=' + encodeURIComponent('{"dangling":{"maybe":true}}'))).status, 400);
    const badRef = await d.request('POST', '/images/busybox/tag?repo=Bad_Repo');
    assert.equal(badRef.status, 404); // the source does not exist
    assert.equal((await d.request('GET', '/images/a@@b/json')).status, 404);
    assert.equal((await d.request('GET', '/events?since=yesterday-ish')).status, 400);
    const huge = await d.request('POST', '/images/prune', Buffer.alloc(9 * 1024 * 1024, 'x'), { 'Content-Type': 'application/json' });
    assert.ok(huge.status < 500, `status ${huge.status}`);
    assert.equal((await d.request('GET', '/_ping')).status, 200);
  });

  test('import makes an image with changes, a tag and history', async () => {
    const tar = await tarOf({ 'hello.txt': 'hi\n', 'etc/motd': 'welcome\n' });
    const q = new URLSearchParams({ fromSrc: '-', repo: 'localhost:5000/team/app', tag: '1.0', message: 'first' });
    for (const c of ['CMD ["sh"]', 'ENV A=1 B="two words"', 'WORKDIR /srv', 'EXPOSE 80', 'LABEL com.example=yes', 'USER nobody', 'VOLUME /data', 'ENTRYPOINT ["/bin/echo"]']) q.append('changes', c);
    const r = await d.request('POST', `/images/create?${q}`, tar, { 'Content-Type': 'application/x-tar' });
    assert.equal(r.status, 200, r.text);
    const id = lastMessage(r.text).status as string;
    assert.match(id, /^sha256:[a-f0-9]{64}$/);

    const img = (await d.request('GET', '/images/localhost:5000/team/app:1.0/json')).json();
    assert.equal(img.Id, id);
    assert.deepEqual(img.RepoTags, ['localhost:5000/team/app:1.0']);
    assert.deepEqual(img.Config.Cmd, ['sh']);
    assert.deepEqual(img.Config.Entrypoint, ['/bin/echo']);
    assert.deepEqual(img.Config.Env, ['A=1', 'B=two words']);
    assert.equal(img.Config.WorkingDir, '/srv');
    assert.deepEqual(img.Config.ExposedPorts, { '80/tcp': {} });
    assert.deepEqual(img.Config.Labels, { 'com.example': 'yes' });
    assert.equal(img.Config.User, 'nobody');
    assert.deepEqual(img.Config.Volumes, { '/data': {} });
    assert.equal(img.Comment, 'first');
    assert.equal(img.Architecture, 'amd64');
    assert.equal(img.Os, 'linux');
    assert.equal(img.RootFS.Layers.length, 1);
    assert.ok(img.Size >= 11);

    const hist = (await d.request('GET', `/images/${id.slice(7, 19)}/history`)).json();
    assert.equal(hist.length, 1);
    assert.equal(hist[0].Id, id);
    assert.equal(hist[0].Comment, 'first');

    const bad = await d.request('POST', '/images/create?fromSrc=-&changes=' + encodeURIComponent('RUN echo'), tar);
    assert.equal(bad.status, 400);
    assert.equal(bad.json().message, 'run is not a valid change command');
  });

  test('tag, list with filters, and remove follow Docker’s rules', async () => {
    const tar = await tarOf({ 'a.txt': 'a' });
    const id = lastMessage((await d.request('POST', '/images/create?fromSrc=-&repo=one&changes=LABEL%20tier%3Dgold', tar)).text).status;
    assert.equal((await d.request('POST', `/images/one/tag?repo=two&tag=v2`)).status, 201);
    const badTag = await d.request('POST', `/images/one/tag?repo=two&tag=${encodeURIComponent('bad tag')}`);
    assert.equal(badTag.status, 400);

    const listed = (await d.request('GET', '/images/json')).json();
    const mine = listed.find((i: any) => i.Id === id);
    assert.deepEqual([...mine.RepoTags].sort(), ['one:latest', 'two:v2']);
    const byRef = (await d.request('GET', '/images/json?filters=' + encodeURIComponent('{"reference":{"tw*":true}}'))).json();
    assert.deepEqual(byRef.map((i: any) => i.Id), [id]);
    const byLabel = (await d.request('GET', '/images/json?filters=' + encodeURIComponent('{"label":{"tier=gold":true}}'))).json();
    assert.deepEqual(byLabel.map((i: any) => i.Id), [id]);

    const ambiguous = await d.request('DELETE', `/images/${id.slice(7, 19)}`);
    assert.equal(ambiguous.status, 409);
    assert.equal(ambiguous.json().message, `conflict: unable to delete ${id.slice(7, 19)} (must be forced) - image is referenced in multiple repositories`);

    const untag = (await d.request('DELETE', '/images/two:v2')).json();
    assert.deepEqual(untag, [{ Untagged: 'two:v2' }]);
    const del = (await d.request('DELETE', '/images/one')).json();
    assert.deepEqual(del, [{ Untagged: 'one:latest' }, { Deleted: id }]);
    const gone = await d.request('GET', `/images/${id}/json`);
    assert.equal(gone.status, 404);
    assert.equal(gone.json().message, `No such image: ${id}`);
    const missing = await d.request('DELETE', '/images/nothing-here');
    assert.equal(missing.status, 404);
    assert.equal(missing.json().message, 'No such image: nothing-here:latest');
  });

  test('prune removes dangling images only, unless all are asked for', async () => {
    const keep = lastMessage((await d.request('POST', '/images/create?fromSrc=-&repo=keeper', await tarOf({ k: 'k' }))).text).status;
    const dangling = lastMessage((await d.request('POST', '/images/create?fromSrc=-', await tarOf({ dd: 'd' }))).text).status;
    const danglingList = (await d.request('GET', '/images/json?filters=' + encodeURIComponent('{"dangling":{"true":true}}'))).json();
    assert.ok(danglingList.some((i: any) => i.Id === dangling && i.RepoTags.length === 0));
    const pruned = (await d.request('POST', '/images/prune')).json();
    assert.deepEqual(pruned.ImagesDeleted, [{ Deleted: dangling }]);
    assert.ok(pruned.SpaceReclaimed > 0);
    assert.equal((await d.request('GET', `/images/${keep}/json`)).status, 200);
  });

  test('system df counts images and layers', async () => {
    const df = (await d.request('GET', '/system/df')).json();
    assert.ok(Array.isArray(df.Images) && df.Images.length >= 1);
    assert.equal(typeof df.LayersSize, 'number');
    assert.deepEqual(df.Containers, []);
    assert.deepEqual(df.Volumes, []);
  });
});

describe('events', () => {
  const d = new TestDaemon();
  before(() => d.start());
  after(() => d.stop());

  test('since/until replay recorded events, filtered by type, event and image', async () => {
    const start = Date.now() / 1000;
    const tar = await tarOf({ e: 'e' });
    const id = lastMessage((await d.request('POST', '/images/create?fromSrc=-&repo=evt', tar)).text).status;
    await d.request('POST', '/images/evt/tag?repo=evt2');
    await d.request('DELETE', '/images/evt2');
    const until = Date.now() / 1000 + 0.5;
    const r = await d.request('GET', `/events?since=${start.toFixed(3)}&until=${until.toFixed(3)}&filters=` + encodeURIComponent('{"type":{"image":true}}'));
    const events = r.text.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(events.map((e) => e.Action), ['import', 'tag', 'untag']);
    assert.equal(events[0].Actor.ID, id);
    assert.equal(events[1].Actor.Attributes.name, 'evt2:latest');
    assert.equal(events[0].Type, 'image');
    assert.equal(typeof events[0].timeNano, 'number');

    const onlyTags = await d.request('GET', `/events?since=${start.toFixed(3)}&until=${until.toFixed(3)}&filters=` + encodeURIComponent('{"event":{"tag":true,"untag":true},"image":{"evt2":true}}'));
    assert.deepEqual(onlyTags.text.trim().split('\n').map((l) => JSON.parse(l).Action), ["tag", "untag"]);
  });

  test('a live subscriber receives events as they happen', async () => {
    const received: any[] = [];
    const req = http.request({ socketPath: d.socket, path: '/events?filters=' + encodeURIComponent('{"type":{"image":true}}') });
    const gotOne = new Promise<void>((resolve) => {
      req.on('response', (res) => {
        let buf = '';
        res.on('data', (c: Buffer) => {
          buf += c.toString();
          const lines = buf.split('\n');
          buf = lines.pop()!;
          for (const l of lines) if (l) received.push(JSON.parse(l));
          if (received.length) resolve();
        });
      });
    });
    req.end();
    await new Promise((r) => setTimeout(r, 100));
    await d.request('POST', '/images/create?fromSrc=-&repo=live', await tarOf({ l: 'l' }));
    await gotOne;
    req.destroy();
    assert.equal(received[0].Action, 'import');
  });
});

describe('daemon process', () => {
  test('refuses a second daemon on the same socket and pidfile', async () => {
    const d = new TestDaemon();
    await d.start();
    try {
      const second = new TestDaemon();
      second.args = () => d.args();
      await assert.rejects(second.start(), /another berthd is already listening|pid file found/);
      await second.stop();
      assert.equal((await d.request('GET', '/_ping')).status, 200);
    } finally {
      await d.stop();
    }
  });

  test('a flag and daemon.json setting the same option is an error naming both', async () => {
    const d = new TestDaemon(['--debug']);
    const { writeFileSync } = await import('node:fs');
    writeFileSync(`${d.root}/daemon.json`, JSON.stringify({ debug: false }));
    await assert.rejects(d.start(), /the following directives are specified both as a flag and in the configuration file: debug: \(from flag: true, from file: false\)/);
    await d.stop();
  });

  test('SIGTERM shuts down cleanly and removes the socket and pidfile', async () => {
    const d = new TestDaemon();
    await d.start();
    const { existsSync } = await import('node:fs');
    assert.ok(existsSync(d.socket));
    assert.equal(await d.kill('SIGTERM'), 0);
    assert.ok(!existsSync(d.socket));
    assert.ok(!existsSync(`${d.execRoot}/berthd.pid`));
    await d.stop();
  });
});
