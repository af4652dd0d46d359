import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { project, load } from './compose-helpers.js';
import { configYaml } from '../../src/compose/index.js';
import { parseComposeYaml } from '../../src/compose/yaml.js';
import { normalizeProjectName } from '../../src/compose/project-name.js';
import { parsePortShort } from '../../src/compose/ports.js';
import { shellSplit } from '../../src/compose/shell-split.js';
import { formatDuration, parseDurationNs } from '../../src/compose/duration.js';

test('default file lookup prefers compose.yaml and warns when several exist', () => {
  const dir = project({ 'compose.yaml': 'services: {a: {image: x}}\n', 'docker-compose.yml': 'services: {b: {image: y}}\n' });
  const { project: p, warnings } = load(dir);
  assert.deepEqual(Object.keys(p.services), ['a']);
  assert.equal(warnings[0], `Found multiple config files with supported names: ${path.join(dir, 'compose.yaml')}, ${path.join(dir, 'docker-compose.yml')}`);
  assert.throws(() => load(project({})), { message: 'no configuration file provided: not found' });
});

test('project name: directory normalised, name key, COMPOSE_PROJECT_NAME, -p, invalid names refused', () => {
  assert.equal(normalizeProjectName('My.App_-x'), 'myapp_-x');
  assert.equal(normalizeProjectName('_Foo'), 'foo');
  const dir = project({ 'compose.yaml': 'services: {a: {image: x}}\n' }, 'My.App');
  assert.equal(load(dir).project.name, 'myapp');
  assert.equal(load(dir, { env: { COMPOSE_PROJECT_NAME: 'fromenv' } }).project.name, 'fromenv');
  assert.equal(load(dir, { projectName: 'flag', env: { COMPOSE_PROJECT_NAME: 'fromenv' } }).project.name, 'flag');
  const named = project({ 'compose.yaml': 'name: ${N:-named}\nservices: {a: {image: x}}\n' });
  assert.equal(load(named).project.name, 'named');
  assert.throws(() => load(dir, { projectName: 'Bad' }), /invalid project name "Bad": must consist only of lowercase alphanumeric characters/);
});

test('.env in the project directory, --env-file instead of it, process environment wins', () => {
  const dir = project({ 'compose.yaml': 'services: {a: {image: "img:${TAG}", environment: [X]}}\n', '.env': 'TAG=dotenv\nX=fromdot\n', 'other.env': 'TAG=other\n' });
  assert.equal(load(dir).project.services.a.image, 'img:dotenv');
  assert.equal(load(dir, { envFiles: ['other.env'] }).project.services.a.image, 'img:other');
  assert.equal(load(dir, { env: { TAG: 'proc' } }).project.services.a.image, 'img:proc');
  assert.equal(load(dir).project.services.a.environment.X, 'fromdot');
});

test('a plain integer with a leading zero is octal, as docker compose reads file modes', () => {
  assert.deepEqual(parseComposeYaml('a: 0440\nb: "0440"\nc: 440\nd: 0o440\ne: 0\nf: 089\n', 'x.yml'), { a: 0o440, b: '0440', c: 440, d: 0o440, e: 0, f: 89 });
});

test('anchors, merge keys and x- extensions', () => {
  const dir = project({ 'compose.yaml': 'x-base: &base {image: x, restart: always}\nservices:\n  a:\n    <<: *base\n    restart: "no"\n' });
  const p = load(dir).project;
  assert.equal(p.services.a.image, 'x');
  assert.equal(p.services.a.restart, 'no');
  assert.deepEqual(p.extensions['x-base'], { image: 'x', restart: 'always' });
});

test('schema errors name the path and the problem', () => {
  const bad = (yaml: string) => () => load(project({ 'compose.yaml': yaml }));
  assert.throws(bad('services: {web: {image: x, foo: 1}}\n'), /validating .*compose.yaml: services.web Additional property foo is not allowed$/);
  assert.throws(bad('services: {web: {image: x, ports: 80}}\n'), /services.web.ports must be a list$/);
  assert.throws(bad('bogus: 1\nservices: {}\n'), /\(root\) Additional property bogus is not allowed$/);
  assert.throws(bad('services: {web: {image: "${X:?set X}"}}\n'), { message: 'required variable X is missing a value: set X' });
});

test('semantic errors: undefined services, volumes, networks, cycles', () => {
  const bad = (yaml: string) => () => load(project({ 'compose.yaml': yaml }));
  assert.throws(bad('services: {a: {image: x, depends_on: [b]}}\n'), { message: 'service "a" depends on undefined service "b": invalid compose project' });
  assert.throws(bad('services: {a: {image: x, volumes: ["data:/d"]}}\n'), { message: 'service "a" refers to undefined volume data: invalid compose project' });
  assert.throws(bad('services: {a: {image: x, networks: [n]}}\n'), { message: 'service "a" refers to undefined network n: invalid compose project' });
  assert.throws(bad('services: {a: {image: x, depends_on: [b]}, b: {image: x, depends_on: [a]}}\n'), { message: 'dependency cycle detected: a -> b -> a' });
  assert.throws(bad('services: {a: {image: x, ports: ["abc"]}}\n'), /invalid containerPort: abc/);
});

test('merging -f files: mappings merged, ports/volumes by key, command replaced, !reset', () => {
  const dir = project({
    'a.yaml': 'services:\n  web:\n    image: x\n    command: [a]\n    environment: {A: "1", B: "2"}\n    ports: ["8080:80"]\n    volumes: ["v1:/work"]\n    dns: [1.1.1.1]\nvolumes: {v1: {}, v2: {}}\n',
    'b.yaml': 'services:\n  web:\n    command: b c\n    environment: [B=3]\n    ports: ["8080:80", "9090:90"]\n    volumes: ["v2:/work"]\n    dns: [8.8.8.8]\n    labels: !reset {}\n',
  });
  const web = load(dir, { files: ['a.yaml', 'b.yaml'] }).project.services.web;
  assert.deepEqual(web.command, ['b', 'c']);
  assert.deepEqual(web.environment, { A: '1', B: '3' });
  assert.deepEqual(web.ports.map((p) => p.published), ['8080', '9090']);
  assert.deepEqual(web.volumes.map((v) => v.source), ['v2']);
  assert.deepEqual(web.dns, ['1.1.1.1', '8.8.8.8']);
});

test('extends in the same file and from another file, paths relative to the base file', () => {
  const dir = project({
    'compose.yaml': 'services:\n  base: {image: x, environment: {A: "1"}}\n  web: {extends: base, environment: {B: "2"}}\n  other: {extends: {file: sub/common.yaml, service: c}}\n',
    'sub/common.yaml': 'services:\n  c: {image: y, build: ./ctx}\n',
  });
  const p = load(dir).project;
  assert.deepEqual(p.services.web.environment, { A: '1', B: '2' });
  assert.equal(p.services.other.build?.context, path.join(dir, 'sub/ctx'));
  assert.throws(() => load(project({ 'compose.yaml': 'services: {a: {extends: nope}}\n' })), /cannot extend service "a" .*: service "nope" not found/);
});

test('include brings services with their own project directory and .env', () => {
  const dir = project({
    'compose.yaml': 'include: [inc/compose.yaml]\nservices: {web: {image: x, depends_on: [db]}}\n',
    'inc/compose.yaml': 'services: {db: {image: "pg:${V}", volumes: ["./d:/d"]}}\n',
    'inc/.env': 'V=16\n',
  });
  const db = load(dir).project.services.db;
  assert.equal(db.image, 'pg:16');
  assert.equal(db.volumes[0].source, path.join(dir, 'inc/d'));
  const clash = project({ 'compose.yaml': 'include: [i.yaml]\nservices: {db: {image: x}}\n', 'i.yaml': 'services: {db: {image: y}}\n' });
  assert.throws(() => load(clash), /services.db conflicts with imported resource/);
});

test('profiles: --profile, COMPOSE_PROFILES, and a named service enables its profiles', () => {
  const dir = project({ 'compose.yaml': 'services: {a: {image: x}, b: {image: x, profiles: [debug]}}\n' });
  assert.deepEqual(Object.keys(load(dir).project.services), ['a']);
  assert.deepEqual(Object.keys(load(dir, { profiles: ['debug'] }).project.services), ['a', 'b']);
  assert.deepEqual(Object.keys(load(dir, { env: { COMPOSE_PROFILES: 'debug' } }).project.services), ['a', 'b']);
  assert.deepEqual(Object.keys(load(dir, { services: ['b'] }).project.services), ['a', 'b']);
});

test('short forms: ports, volumes, commands, durations', () => {
  assert.deepEqual(parsePortShort('127.0.0.1:8080:80/udp'), [{ mode: 'ingress', host_ip: '127.0.0.1', target: 80, published: '8080', protocol: 'udp' }]);
  assert.equal(parsePortShort('3000-3002').length, 3);
  assert.deepEqual(parsePortShort('[::1]:80:80')[0].host_ip, '::1');
  assert.throws(() => parsePortShort('8000-8002:80-81'), /invalid ranges specified for container and host Ports/);
  assert.deepEqual(shellSplit(`sh -c 'echo "a b"' "x\\"y" z\\ w`), ['sh', '-c', 'echo "a b"', 'x"y', 'z w']);
  assert.equal(formatDuration(parseDurationNs('90s', 'x')), '1m30s');
  assert.equal(formatDuration(parseDurationNs('1h0m5s', 'x')), '1h0m5s');
  assert.equal(formatDuration(parseDurationNs('500ms', 'x')), '500ms');
});

test('compose config output in docker compose shape', () => {
  const dir = project({ 'compose.yaml': 'services:\n  web:\n    image: nginx\n    ports: ["8080:80"]\n    volumes: [./site:/usr/share/nginx/html:ro]\n' }, 'site');
  assert.equal(
    configYaml(load(dir).project),
    [
      'name: site',
      'services:',
      '  web:',
      '    image: nginx',
      '    networks:',
      '      default: null',
      '    ports:',
      '      - mode: ingress',
      '        target: 80',
      '        published: "8080"',
      '        protocol: tcp',
      '    volumes:',
      '      - type: bind',
      `        source: ${path.join(dir, 'site')}`,
      '        target: /usr/share/nginx/html',
      '        read_only: true',
      '        bind:',
      '          create_host_path: true',
      'networks:',
      '  default:',
      '    name: site_default',
      '',
    ].join('\n'),
  );
});

test('long forms: depends_on, env_file, ulimits, extra_hosts, secrets, networks, deploy', () => {
  const dir = project({
    'compose.yaml': [
      'services:',
      '  db: {image: pg, healthcheck: {test: [CMD, "true"], interval: 5s, retries: 3}}',
      '  web:',
      '    image: x',
      '    depends_on: {db: {condition: service_healthy, restart: true}}',
      '    env_file: [app.env, {path: missing.env, required: false}]',
      '    environment: {B: override}',
      '    ulimits: {nproc: 65535, nofile: {soft: 1024, hard: 2048}}',
      '    extra_hosts: {host.one: 10.0.0.1}',
      '    secrets: [token]',
      '    networks: {back: {aliases: [api], ipv4_address: 172.30.0.5}}',
      '    deploy: {replicas: 2, resources: {limits: {memory: 64M}}}',
      '    labels: [a=b]',
      'networks: {back: {}}',
      'secrets: {token: {file: ./token.txt}}',
    ].join('\n'),
    'app.env': 'A=1\nB=2\n',
  });
  const { web, db } = load(dir).project.services;
  assert.deepEqual(web.depends_on, { db: { condition: 'service_healthy', restart: true, required: true } });
  assert.deepEqual(web.environment, { A: '1', B: 'override' });
  assert.deepEqual(web.ulimits, { nproc: { single: 65535 }, nofile: { soft: 1024, hard: 2048 } });
  assert.deepEqual(web.extra_hosts, ['host.one=10.0.0.1']);
  assert.deepEqual(web.networks, { back: { aliases: ['api'], ipv4_address: '172.30.0.5' } });
  assert.equal(web.deploy?.replicas, 2);
  assert.deepEqual(web.labels, { a: 'b' });
  assert.deepEqual(db.healthcheck, { test: ['CMD', 'true'], interval: '5s', retries: 3 });
  const p = load(dir).project;
  assert.deepEqual(p.secrets.token, { name: 'proj_token', file: path.join(dir, 'token.txt') });
  assert.equal(p.networks.back.name, 'proj_back');
  assert.throws(() => load(project({ 'compose.yaml': 'services: {a: {image: x, env_file: [nope.env]}}\n' })), /env file .*nope.env not found/);
});

test('!reset removes a value and !override replaces a sequence', () => {
  const dir = project({
    'a.yaml': 'services: {web: {image: x, ports: ["80:80"], labels: {a: b}}}\n',
    'b.yaml': 'services: {web: {ports: !override ["81:81"], labels: !reset {}}}\n',
  });
  const web = load(dir, { files: ['a.yaml', 'b.yaml'] }).project.services.web;
  assert.deepEqual(web.ports.map((p) => p.published), ['81']);
  assert.deepEqual(web.labels, {});
});
