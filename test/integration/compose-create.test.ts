/**
 * The create bodies the compose translation makes are accepted by berthd as they are: a container with
 * binds, a named volume, tmpfs, a secret file, an injected config, a port on 127.0.0.1, a healthcheck,
 * labels and a second network, inspected after start.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TestDaemon, freeSubnet24 } from './harness.js';
import { loadProject } from '../../src/compose/index.js';
import { ApiClient, parseHost } from '../../src/cli/client.js';
import {
  assertSupported,
  containerCreateRequest,
  containerName,
  injectFiles,
  networkCreateRequest,
  volumeCreateRequest,
} from '../../src/compose/engine/create-request.js';

const d = new TestDaemon();
const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-compose-create-'));

before(async () => {
  await d.start();
  await d.seedBusybox();
});
after(async () => {
  await d.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('a translated service is created, connected, injected, started and inspects as asked', { timeout: 60_000 }, async () => {
  const projectDir = path.join(dir, 'cc');
  mkdirSync(path.join(projectDir, 'site'), { recursive: true });
  writeFileSync(path.join(projectDir, 'site', 'index.html'), 'hello');
  writeFileSync(path.join(projectDir, 'pw.txt'), 's3cret');
  // Both subnets explicit: a daemon-chosen /16 for one could cover the other's random /24 (a 403 overlap).
  const backSubnet = freeSubnet24();
  let frontSubnet = freeSubnet24();
  while (frontSubnet === backSubnet) frontSubnet = freeSubnet24();
  writeFileSync(
    path.join(projectDir, 'compose.yaml'),
    [
      'name: berthcc',
      'services:',
      '  web:',
      '    image: busybox',
      '    command: ["sh", "-c", "sleep 300"]',
      '    ports: ["127.0.0.1::80"]',
      '    volumes: ["./site:/site:ro", "data:/data", {type: tmpfs, target: /scratch}]',
      '    secrets: [pw]',
      '    configs: [{source: motd, target: /etc/motd}]',
      '    labels: {tier: front}',
      '    healthcheck: {test: ["CMD", "true"], interval: 500ms, timeout: 2s, retries: 2}',
      '    networks: {front: {priority: 5}, back: {aliases: [api]}}',
      'volumes: {data: {}}',
      'secrets: {pw: {file: ./pw.txt}}',
      'configs: {motd: {content: "welcome"}}',
      `networks: {front: {ipam: {config: [{subnet: ${frontSubnet}}]}}, back: {ipam: {config: [{subnet: ${backSubnet}}]}}}`,
    ].join('\n'),
  );
  const project = loadProject({ workingDir: projectDir, env: {} });
  assertSupported(project);
  for (const key of Object.keys(project.networks)) assert.equal((await d.request('POST', '/networks/create', networkCreateRequest(project, key))).status, 201);
  assert.equal((await d.request('POST', '/volumes/create', volumeCreateRequest(project, 'data'))).status, 201);

  const web = project.services.web;
  const req = containerCreateRequest(project, web, { number: 1, name: containerName(project, web, 1) });
  const created = await d.request('POST', `/containers/create?name=${req.name}`, req.body);
  assert.equal(created.status, 201, created.text);
  const id = created.json().Id as string;
  for (const extra of req.extraNetworks) {
    const r = await d.request('POST', `/networks/${extra.network}/connect`, { Container: id, EndpointConfig: extra.endpoint });
    assert.equal(r.status, 200, r.text);
  }
  assert.equal(req.files.length, 1);
  await injectFiles(new ApiClient(parseHost(d.host)), id, req.files);
  assert.equal((await d.request('POST', `/containers/${id}/start`)).status, 204);

  const info = (await d.request('GET', `/containers/${id}/json`)).json();
  assert.equal(info.Name, '/berthcc-web-1');
  assert.equal(info.Config.Labels.tier, 'front');
  assert.equal(info.Config.Labels['com.docker.compose.project'], 'berthcc');
  assert.equal(info.Config.Labels['com.docker.compose.service'], 'web');
  assert.deepEqual(info.Config.Healthcheck, { Test: ['CMD', 'true'], Interval: 5e8, Timeout: 2e9, Retries: 2 });
  const mounts = Object.fromEntries((info.Mounts as Array<Record<string, any>>).map((m) => [m.Destination, m]));
  assert.equal(mounts['/site'].Type, 'bind');
  assert.equal(mounts['/site'].RW, false);
  assert.equal(mounts['/data'].Name, 'berthcc_data');
  assert.equal(mounts['/scratch'].Type, 'tmpfs');
  assert.equal(mounts['/run/secrets/pw'].RW, false);
  const port = info.NetworkSettings.Ports['80/tcp'][0];
  assert.equal(port.HostIp, '127.0.0.1');
  assert.ok(Number(port.HostPort) > 0);
  assert.equal(info.HostConfig.NetworkMode, 'berthcc_front');
  assert.deepEqual(Object.keys(info.NetworkSettings.Networks).sort(), ['berthcc_back', 'berthcc_front']);
  assert.ok(info.NetworkSettings.Networks.berthcc_back.Aliases.includes('api'));
  assert.ok(info.NetworkSettings.Networks.berthcc_front.Aliases.includes('web'));

  const secret = await d.request('GET', `/containers/${id}/archive?path=/run/secrets/pw`);
  assert.ok(secret.body.includes(Buffer.from('s3cret')));
  const motd = await d.request('GET', `/containers/${id}/archive?path=/etc/motd`);
  assert.equal(motd.status, 200);
  assert.ok(motd.body.includes(Buffer.from('welcome')));

  // The healthcheck runs: the container turns healthy.
  const deadline = Date.now() + 20_000;
  let status = '';
  while (Date.now() < deadline && status !== 'healthy') {
    status = (await d.request('GET', `/containers/${id}/json`)).json().State.Health?.Status ?? '';
    if (status !== 'healthy') await new Promise((r) => setTimeout(r, 200));
  }
  assert.equal(status, 'healthy');

  assert.equal((await d.request('DELETE', `/containers/${id}?force=1&v=1`)).status, 204);
  for (const net of ['berthcc_front', 'berthcc_back']) await d.request('DELETE', `/networks/${net}`);
  await d.request('DELETE', '/volumes/berthcc_data');
});
