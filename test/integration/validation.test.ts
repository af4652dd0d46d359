import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { TestDaemon } from './harness.js';

/** Validated input at the API boundary: Docker's flexible forms, and 400s (never 500s) naming the field. */
describe('request validation', () => {
  const d = new TestDaemon();
  before(async () => {
    await d.start();
    await d.seedBusybox();
  });
  after(() => d.stop());

  const containerCount = async () => (await d.request('GET', '/containers/json?all=1')).json().length as number;

  async function refused(method: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; message: string }> {
    const r = await d.request(method, path, body, headers);
    return { status: r.status, message: r.json().message };
  }

  test('"Cmd":"echo hi" runs the program named "echo hi", as dockerd: exit 127', async () => {
    const created = await d.request('POST', '/containers/create', { Image: 'busybox', Cmd: 'echo hi' });
    assert.equal(created.status, 201, created.text);
    const id = created.json().Id;
    const inspect = (await d.request('GET', `/containers/${id}/json`)).json();
    assert.deepEqual(inspect.Config.Cmd, ['echo hi']);
    const started = await d.request('POST', `/containers/${id}/start`);
    // dockerd fails the start of a program that is not found (exit 127); Berth may report it either way.
    if (started.status === 204) {
      const waited = (await d.request('POST', `/containers/${id}/wait`)).json();
      assert.equal(waited.StatusCode, 127);
    } else {
      assert.match(started.json().message, /echo hi/);
      const state = (await d.request('GET', `/containers/${id}/json`)).json().State;
      assert.equal(state.ExitCode, 127);
    }
    await d.request('DELETE', `/containers/${id}?force=1`);
  });

  test('wrong types are a 400 naming the field, and no container is created', async () => {
    const before = await containerCount();
    const env = await refused('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], Env: 5 });
    assert.deepEqual(env, { status: 400, message: 'invalid JSON: json: cannot unmarshal number into Go struct field CreateRequest.Env of type []string' });
    const mem = await refused('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: { Memory: 'lots' } });
    assert.deepEqual(mem, { status: 400, message: 'invalid JSON: json: cannot unmarshal string into Go struct field HostConfig.HostConfig.Memory of type int64' });
    const port = await refused('POST', '/containers/create', {
      Image: 'busybox',
      Cmd: ['true'],
      ExposedPorts: { '80/tcp': {} },
      HostConfig: { PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '99999' }] } },
    });
    assert.deepEqual(port, { status: 400, message: 'invalid port specification: "99999"' });
    assert.equal(await containerCount(), before);
  });

  test('bodies that are not JSON get Docker’s words', async () => {
    const bad = await refused('POST', '/containers/create', '{invalid json}', { 'Content-Type': 'application/json' });
    assert.deepEqual(bad, { status: 400, message: "invalid JSON: invalid character 'i' looking for beginning of object key string" });
    const empty = await refused('POST', '/containers/create', '', { 'Content-Type': 'application/json' });
    assert.deepEqual(empty, { status: 400, message: 'invalid JSON: got EOF while reading request body' });
    const noConfig = await refused('POST', '/containers/create', { HostConfig: {} });
    assert.deepEqual(noConfig, { status: 400, message: 'config cannot be empty in order to create a container' });
    const trailing = await refused('POST', '/networks/create', '{"Name":"x"} {', { 'Content-Type': 'application/json' });
    assert.deepEqual(trailing, { status: 400, message: 'unexpected content after JSON' });
    const vol = await refused('POST', '/volumes/create', { Name: 'v1', Labels: ['a'] });
    assert.deepEqual(vol, { status: 400, message: 'invalid JSON: json: cannot unmarshal array into Go struct field CreateOptions.Labels of type map[string]string' });
    assert.equal((await d.request('GET', '/volumes/v1')).status, 404);
  });

  test('exec create refuses a wrong Cmd type with a 400 naming it', async () => {
    const created = (await d.request('POST', '/containers/create', { Image: 'busybox', Cmd: ['sleep', '30'] })).json();
    await d.request('POST', `/containers/${created.Id}/start`);
    const bad = await refused('POST', `/containers/${created.Id}/exec`, { Cmd: 5 });
    assert.deepEqual(bad, { status: 400, message: 'invalid JSON: json: cannot unmarshal number into Go struct field ExecOptions.Cmd of type []string' });
    const upd = await refused('POST', `/containers/${created.Id}/update`, { Memory: 'lots' });
    assert.deepEqual(upd, { status: 400, message: 'invalid JSON: json: cannot unmarshal string into Go struct field UpdateConfig.Memory of type int64' });
    const stop = await refused('POST', `/containers/${created.Id}/stop?t=soon`, undefined);
    assert.deepEqual(stop, { status: 400, message: 'strconv.Atoi: parsing "soon": invalid syntax' });
    const kill = await refused('POST', `/containers/${created.Id}/kill?signal=NOPE`, undefined);
    assert.deepEqual(kill, { status: 400, message: 'invalid signal: NOPE' });
    const rm = await refused('DELETE', `/containers/${created.Id}`, undefined);
    const name = (await d.request('GET', `/containers/${created.Id}/json`)).json().Name;
    assert.deepEqual(rm, { status: 409, message: `cannot remove container "${name}": container is running: stop the container before removing or force remove` });
    await d.request('DELETE', `/containers/${created.Id}?force=1`);
  });

  test('--volumes-from a missing container is a 400', async () => {
    const r = await refused('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: { VolumesFrom: ['nosuchcontainer'] } });
    assert.deepEqual(r, { status: 400, message: 'No such container: nosuchcontainer' });
  });

  test('create with a platform the image does not have is a 404 in dockerd’s words', async () => {
    const arch = (await d.request('GET', '/version')).json().Arch as string;
    const other = arch === 'arm64' ? 'amd64' : 'arm64';
    const r = await refused('POST', `/v1.50/containers/create?platform=linux/${other}`, { Image: 'busybox', Cmd: ['true'] });
    assert.deepEqual(r, { status: 404, message: `image with reference busybox was found but does not match the specified platform: wanted linux/${other}, actual: linux/${arch}` });
    const ok = await d.request('POST', `/v1.50/containers/create?platform=linux/${arch}`, { Image: 'busybox', Cmd: ['true'] });
    assert.equal(ok.status, 201, ok.text);
    await d.request('DELETE', `/containers/${ok.json().Id}`);
  });

  test('tagging with a digest algorithm as the name is refused', async () => {
    const r = await refused('POST', '/images/busybox/tag?repo=sha256&tag=sometag', undefined);
    assert.deepEqual(r, { status: 400, message: 'refusing to create an ambiguous tag using digest algorithm as name' });
  });

  test('plugins: the list is empty, a named plugin is not found', async () => {
    const list = await d.request('GET', '/plugins');
    assert.equal(list.status, 200);
    assert.deepEqual(list.json(), []);
    const one = await refused('GET', '/plugins/x/json', undefined);
    assert.deepEqual(one, { status: 404, message: 'plugin "x" not found' });
  });
});
