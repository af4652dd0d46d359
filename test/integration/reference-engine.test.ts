import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { TestDaemon, run, DOCKER, hasDocker } from './harness.js';

/**
 * Archives cross between Berth and a real Docker Engine. Runs only when REF_DOCKER_HOST names one (a
 * dockerd on its own socket and data root); the project never needs it otherwise.
 */
const ref = process.env.REF_DOCKER_HOST;
const refDocker = (args: string[], input?: Buffer) => run(DOCKER, args, { DOCKER_HOST: ref! }, input);

describe('archives cross with a real Docker Engine', { skip: (!ref || !hasDocker) && 'REF_DOCKER_HOST is not set' }, () => {
  const d = new TestDaemon();
  let id = '';
  before(async () => {
    await d.start();
    id = await d.seedBusybox('berth-xfer:latest');
  });
  after(async () => {
    await refDocker(['rmi', '-f', 'berth-xfer:latest', 'berth-xfer:back']);
    await d.stop();
  });

  test('berth save loads into Docker, and docker save loads back into Berth', async () => {
    const saved = await d.docker(['save', 'berth-xfer:latest']);
    assert.equal(saved.code, 0, saved.stderr);
    const loaded = await refDocker(['load'], saved.stdoutBytes);
    assert.equal(loaded.code, 0, loaded.stderr);
    assert.equal((await refDocker(['image', 'inspect', '-f', '{{.Id}}', 'berth-xfer:latest'])).stdout.trim(), id);

    assert.equal((await refDocker(['tag', 'berth-xfer:latest', 'berth-xfer:back'])).code, 0);
    const back = await refDocker(['save', 'berth-xfer:back']);
    assert.equal(back.code, 0, back.stderr);
    const reloaded = await d.docker(['load'], back.stdoutBytes);
    assert.equal(reloaded.code, 0, reloaded.stderr);
    assert.match(reloaded.stdout, /Loaded image: berth-xfer:back/);
    assert.equal((await d.docker(['image', 'inspect', '-f', '{{.Id}}', 'berth-xfer:back'])).stdout.trim(), id);
  });
});
