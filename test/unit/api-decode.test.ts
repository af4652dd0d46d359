import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { decode } from '../../src/api/schemas/decode.js';
import * as healthchecks from '../../src/api/schemas/container.js';
import { createRequest, execOptions, execStartOptions, updateConfig, consoleSize } from '../../src/api/schemas/container.js';
import { networkConnectOptions, networkCreateRequest, volumeCreateOptions } from '../../src/api/schemas/network.js';
import { parseJsonText, scanFirstValue } from '../../src/api/schemas/go-json.js';
import { BerthError } from '../../src/lib/errors.js';

/** The message of the InvalidArgument that decoding throws. */
function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof BerthError && err.kind === 'InvalidArgument', `expected InvalidArgument, got ${String(err)}`);
    return err.message;
  }
  assert.fail('expected the body to be refused');
}

describe('container create body', () => {
  test('Cmd, Entrypoint and Shell take a string as a one-element list (strslice), as dockerd', () => {
    const body = decode(createRequest, { Image: 'busybox', Cmd: 'echo hi', Entrypoint: '/bin/sh', Shell: ['/bin/sh', '-c'] });
    assert.deepEqual(body.Cmd, ['echo hi']);
    assert.deepEqual(body.Entrypoint, ['/bin/sh']);
    assert.deepEqual(body.Shell, ['/bin/sh', '-c']);
    assert.deepEqual(decode(createRequest, { HostConfig: { CapAdd: 'NET_ADMIN' } }).HostConfig?.CapAdd, ['NET_ADMIN']);
  });

  test('null is fine for any field and unknown fields are ignored', () => {
    const body = decode(createRequest, { Image: 'busybox', Env: null, Cmd: null, Labels: null, HostConfig: { Memory: null, Binds: null }, Whatever: { x: 1 } });
    assert.equal(body.Env, undefined);
    assert.equal(body.Cmd, undefined);
    assert.deepEqual(body.HostConfig, {});
    assert.deepEqual(decode(createRequest, null), {});
  });

  test('field names match case-insensitively, as Go decodes them', () => {
    const body = decode(createRequest, { image: 'busybox', cmd: 'true', hostconfig: { memory: 8 << 20 } });
    assert.equal(body.Image, 'busybox');
    assert.deepEqual(body.Cmd, ['true']);
    assert.equal(body.HostConfig?.Memory, 8 << 20);
  });

  test('Env, Labels and port bindings decode as Docker accepts them', () => {
    const body = decode(createRequest, {
      Env: ['A=1', 'B'],
      Labels: { a: 'x', b: '' },
      ExposedPorts: { '80/tcp': {} },
      HostConfig: { PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '8080' }] }, Ulimits: [{ Name: 'nofile', Soft: 10 }] },
    });
    assert.deepEqual(body.Env, ['A=1', 'B']);
    assert.deepEqual(body.Labels, { a: 'x', b: '' });
    assert.deepEqual(body.HostConfig?.PortBindings, { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '8080' }] });
    // Go's zero value fills what a Ulimit leaves out.
    assert.deepEqual(body.HostConfig?.Ulimits, [{ Name: 'nofile', Soft: 10, Hard: 0 }]);
  });

  test('wrong types are refused in Go’s words, naming the field', () => {
    const cases: Array<[unknown, string]> = [
      [{ Env: 5 }, 'CreateRequest.Env of type []string'],
      [{ Env: [5] }, 'CreateRequest.Env of type string'],
      [{ Cmd: 5 }, 'CreateRequest.Cmd of type string'],
      [{ Labels: { a: 1 } }, 'CreateRequest.Labels of type string'],
      [{ Tty: 'yes' }, 'CreateRequest.Tty of type bool'],
      [{ StopTimeout: '10' }, 'CreateRequest.StopTimeout of type int'],
      [{ HostConfig: { Memory: 'lots' } }, 'HostConfig.HostConfig.Memory of type int64'],
      [{ HostConfig: { PortBindings: { '80/tcp': [{ HostPort: 99999 }] } } }, 'PortBinding.HostConfig.PortBindings.HostPort of type string'],
      [{ HostConfig: { RestartPolicy: { Name: 5 } } }, 'RestartPolicy.HostConfig.RestartPolicy.Name of type string'],
      [{ HostConfig: { Binds: 'a:/b' } }, 'HostConfig.HostConfig.Binds of type []string'],
      [{ NetworkingConfig: { EndpointsConfig: { n: { Aliases: 'x' } } } }, 'EndpointSettings.NetworkingConfig.EndpointsConfig.Aliases of type []string'],
    ];
    for (const [body, tail] of cases) {
      const msg = refusal(() => decode(createRequest, body));
      assert.match(msg, /^invalid JSON: json: cannot unmarshal \w+ into Go struct field /, msg);
      assert.ok(msg.endsWith(tail), `${msg} should end with ${tail}`);
    }
    assert.equal(refusal(() => decode(createRequest, { Env: 5 })), 'invalid JSON: json: cannot unmarshal number into Go struct field CreateRequest.Env of type []string');
    assert.equal(refusal(() => decode(createRequest, { HostConfig: { Memory: 'lots' } })), 'invalid JSON: json: cannot unmarshal string into Go struct field HostConfig.HostConfig.Memory of type int64');
  });

  test('numbers that do not fit a Go integer type are refused with the literal', () => {
    assert.equal(refusal(() => decode(createRequest, { HostConfig: { Memory: 1.5 } })), 'invalid JSON: json: cannot unmarshal number 1.5 into Go struct field HostConfig.HostConfig.Memory of type int64');
    assert.equal(refusal(() => decode(createRequest, { HostConfig: { BlkioWeight: 70000 } })), 'invalid JSON: json: cannot unmarshal number 70000 into Go struct field HostConfig.HostConfig.BlkioWeight of type uint16');
    assert.equal(refusal(() => decode(createRequest, { HostConfig: { IOMaximumIOps: -1 } })), 'invalid JSON: json: cannot unmarshal number -1 into Go struct field HostConfig.HostConfig.IOMaximumIOps of type uint64');
  });

  test('a body that is not an object names the Go type', () => {
    assert.equal(refusal(() => decode(createRequest, [])), 'invalid JSON: json: cannot unmarshal array into Go value of type container.CreateRequest');
    assert.equal(refusal(() => decode(createRequest, 'x')), 'invalid JSON: json: cannot unmarshal string into Go value of type container.CreateRequest');
  });
});

describe('other bodies', () => {
  test('exec create: Cmd is a plain list there (no string form), ConsoleSize is a [2]uint', () => {
    assert.equal(refusal(() => decode(execOptions, { Cmd: 'echo' })), 'invalid JSON: json: cannot unmarshal string into Go struct field ExecOptions.Cmd of type []string');
    const body = decode(execOptions, { Cmd: ['echo'], ConsoleSize: [24, 80] });
    assert.deepEqual(consoleSize(body.ConsoleSize), [24, 80]);
    assert.deepEqual(consoleSize([5]), [5, 0]);
    assert.equal(refusal(() => decode(execStartOptions, { Detach: 'true' })), 'invalid JSON: json: cannot unmarshal string into Go struct field ExecStartOptions.Detach of type bool');
  });

  test('update, network and volume bodies name their fields', () => {
    assert.equal(refusal(() => decode(updateConfig, { Memory: 'lots' })), 'invalid JSON: json: cannot unmarshal string into Go struct field UpdateConfig.Memory of type int64');
    assert.equal(refusal(() => decode(networkCreateRequest, { Name: 'n', Internal: 'yes' })), 'invalid JSON: json: cannot unmarshal string into Go struct field CreateRequest.Internal of type bool');
    assert.equal(
      refusal(() => decode(networkCreateRequest, { IPAM: { Config: [{ Subnet: 10 }] } })),
      'invalid JSON: json: cannot unmarshal number into Go struct field IPAMConfig.IPAM.Config.Subnet of type string',
    );
    assert.equal(refusal(() => decode(networkConnectOptions, { Container: 5 })), 'invalid JSON: json: cannot unmarshal number into Go struct field ConnectOptions.Container of type string');
    assert.equal(refusal(() => decode(volumeCreateOptions, { Labels: ['a'] })), 'invalid JSON: json: cannot unmarshal array into Go struct field CreateOptions.Labels of type map[string]string');
    assert.deepEqual(decode(volumeCreateOptions, { Name: 'v', DriverOpts: null }), { Name: 'v' });
  });
});

describe('JSON text', () => {
  test('syntax errors are Go’s, prefixed as dockerd prefixes them', () => {
    const cases: Array<[string, string]> = [
      ['{invalid json}', "invalid JSON: invalid character 'i' looking for beginning of object key string"],
      ['{"a" 1}', "invalid JSON: invalid character '1' after object key"],
      ['{"a":1 "b":2}', `invalid JSON: invalid character '"' after object key:value pair`],
      ['[1 2]', "invalid JSON: invalid character '2' after array element"],
      ['nul', 'invalid JSON: unexpected EOF'],
      ['{"a":', 'invalid JSON: unexpected EOF'],
      ['x', "invalid JSON: invalid character 'x' looking for beginning of value"],
      ['{"a":tru}', "invalid JSON: invalid character '}' in literal true (expecting 'e')"],
      ['{} x', 'unexpected content after JSON'],
    ];
    for (const [text, want] of cases) assert.deepEqual(parseJsonText(text), { error: want }, text);
  });

  test('an empty body is no body; a value followed by a closing bracket is taken as Go’s decoder takes it', () => {
    assert.equal(parseJsonText('  \n'), undefined);
    assert.deepEqual(parseJsonText('{"a":1}'), { value: { a: 1 } });
    assert.deepEqual(parseJsonText('{"a":1}}'), { value: { a: 1 } });
    assert.deepEqual(scanFirstValue('{"a":[1,2.5e3,"x\\n"]} '), { end: 21 });
  });
});

describe('values the types allow but Docker refuses', () => {
  test('Healthcheck durations under 1ms and negative retries, in dockerd’s words', () => {
    const { checkHealthcheck } = healthchecks;
    assert.doesNotThrow(() => checkHealthcheck({ Interval: 0, Timeout: 1_000_000, Retries: 0 }));
    assert.equal(refusal(() => checkHealthcheck({ Interval: 999 })), 'Interval in Healthcheck cannot be less than 1ms');
    assert.equal(refusal(() => checkHealthcheck({ StartPeriod: -5 })), 'StartPeriod in Healthcheck cannot be less than 1ms');
    assert.equal(refusal(() => checkHealthcheck({ Retries: -1 })), 'Retries in Healthcheck cannot be negative');
    const body = decode(createRequest, { Healthcheck: { Test: ['CMD', 'true'], Interval: 5e9 } });
    assert.equal(body.Healthcheck?.Interval, 5e9);
    assert.equal(refusal(() => decode(createRequest, { Healthcheck: { Interval: '5s' } })), 'invalid JSON: json: cannot unmarshal string into Go struct field HealthConfig.Healthcheck.Interval of type time.Duration');
  });
});
