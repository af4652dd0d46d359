/**
 * What secrets and configs share (swarmkit's controlapi common.go and dockerd's daemon/cluster):
 * name rules, the list filters, the in-use check on rm, and the shape the API shows.
 */
import { invalidArgument } from '../../lib/errors.js';
import { Filters } from '../../lib/filters.js';
import type { NamedDriver, Service, StoredObject } from '../types.js';
import { matchLabels } from '../services/service-api.js';
import { rpcError } from '../services/rpc-errors.js';

export type Kind = 'secret' | 'config';

const VALID_NAME = /^[a-zA-Z0-9]+(?:[a-zA-Z0-9-_.]*[a-zA-Z0-9])?$/;

/** swarmkit's validateConfigOrSecretAnnotations. */
export function validateName(name: string | undefined): void {
  if (!name) throw rpcError('InvalidArgument', 'name must be provided');
  if (name.length > 64 || !VALID_NAME.test(name)) {
    throw rpcError('InvalidArgument', 'invalid name, only 64 [a-zA-Z0-9-_.] characters allowed, and the start and end character must be [a-zA-Z0-9]');
  }
}

/** swarmkit's payload check (500 KB for secrets, 1000 KB for configs). */
export function validatePayload(kind: Kind, data: Buffer): void {
  const max = kind === 'secret' ? 500 * 1024 : 1000 * 1024;
  if (data.length >= max || data.length < 1) throw rpcError('InvalidArgument', `${kind} data must be larger than 0 and less than ${max} bytes`);
}

/**
 * `Data` as Go's encoding/json decodes a []byte: standard base64 with padding; its error otherwise
 * (dockerd prefixes "invalid JSON: ", the route's decode error).
 */
export function decodeData(data: string | undefined): Buffer {
  if (data === undefined || data === '') return Buffer.alloc(0);
  const bad = data.search(/[^A-Za-z0-9+/=]/);
  if (bad >= 0) throw base64Error(bad);
  const pad = data.indexOf('=');
  if (pad >= 0 && (!/^=={0,1}$/.test(data.slice(pad)) || data.length % 4 !== 0)) throw base64Error(pad);
  if (data.length % 4 !== 0) throw base64Error(data.length - (data.length % 4));
  return Buffer.from(data, 'base64');
}

const base64Error = (offset: number) => invalidArgument(`invalid JSON: illegal base64 data at input byte ${offset}`);

interface Named extends StoredObject {
  Spec: { Name: string; Labels?: Record<string, string> };
}

/**
 * dockerd's list filters (daemon/cluster/filters.go) as swarmkit applies them: names (exact), name
 * (prefix) and id (prefix) select the union of what they match; every label must match as well.
 */
export function listFilter(kind: Kind, raw: string | null | undefined): (x: Named) => boolean {
  const f = Filters.parse(raw, kind === 'secret' ? ['names', 'name', 'id', 'label'] : ['name', 'id', 'label']);
  const names = f.get('names').map((n) => n.toLowerCase());
  const prefixes = f.get('name').map((n) => n.toLowerCase());
  const ids = f.get('id');
  const labels = f.get('label');
  const selective = names.length + prefixes.length + ids.length > 0;
  return (x) => {
    const name = x.Spec.Name.toLowerCase();
    const selected = !selective || names.includes(name) || prefixes.some((p) => name.startsWith(p)) || ids.some((p) => x.ID.startsWith(p));
    return selected && matchLabels(x.Spec.Labels, labels);
  };
}

/** The services whose spec references the secret or config `id` (swarmkit's ByReferencedSecretID/ConfigID). */
export function servicesUsing(kind: Kind, id: string, services: Service[]): Service[] {
  const field = kind === 'secret' ? 'Secrets' : 'Configs';
  const idKey = kind === 'secret' ? 'SecretID' : 'ConfigID';
  return services.filter((s) => {
    const refs = s.Spec.TaskTemplate.ContainerSpec?.[field];
    return Array.isArray(refs) && refs.some((r) => (r as Record<string, unknown> | null)?.[idKey] === id);
  });
}

/** swarmkit's RemoveSecret/RemoveConfig refusal. */
export function inUseError(kind: Kind, name: string, users: Service[]) {
  const names = users.map((s) => s.Spec.Name);
  return rpcError('InvalidArgument', `${kind} '${name}' is in use by the following ${names.length === 1 ? 'service' : 'services'}: ${names.join(', ')}`);
}

/** The API's shape: Labels always a map (dockerd's annotationsFromGRPC), optional drivers only when set. */
export function specView(spec: { Name: string; Labels?: Record<string, string>; Data?: string; Driver?: unknown; Templating?: unknown }): Record<string, unknown> {
  const out: Record<string, unknown> = { Name: spec.Name, Labels: spec.Labels ?? {} };
  if (spec.Data) out.Data = spec.Data;
  if (spec.Driver) out.Driver = spec.Driver;
  if (spec.Templating) out.Templating = spec.Templating;
  return out;
}

export function objectView(x: StoredObject, spec: Record<string, unknown>): Record<string, unknown> {
  return { ID: x.ID, Version: x.Version, CreatedAt: x.CreatedAt, UpdatedAt: x.UpdatedAt, Spec: spec };
}

/** swarm.Driver as a request has it (every field optional). */
export interface DriverInput {
  Name?: string;
  Options?: Record<string, string>;
}

export function namedDriver(d: DriverInput): NamedDriver {
  return { Name: d.Name ?? '', ...(d.Options ? { Options: d.Options } : {}) };
}
