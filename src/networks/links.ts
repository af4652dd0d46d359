/**
 * Legacy container links (`--link other:alias`), as dockerd keeps them: on the default bridge the linking
 * container gets environment variables and /etc/hosts lines for the linked one, and the linked one gets
 * the extra name "/me/alias"; on user-defined networks a link is an alias the embedded DNS answers for the
 * linking container only (networks/service.ts dnsLookup).
 */
import { invalidArgument } from '../lib/errors.js';

/** dockerd's ParseLink: "name:alias", "name" (the alias is the name), or "/name:/parent/alias" from inspect. */
export function parseLink(val: string): { name: string; alias: string } {
  if (!val) throw invalidArgument('empty string specified for links');
  const parts = val.split(':');
  if (parts.length > 2) throw invalidArgument(`bad format for links: ${val}`);
  if (parts.length === 1) return { name: val.replace(/^\//, ''), alias: val.replace(/^\//, '') };
  if (parts[0]!.startsWith('/')) return { name: parts[0]!.slice(1), alias: parts[1]!.split('/').pop()! };
  return { name: parts[0]!, alias: parts[1]! };
}

interface Port {
  num: number;
  proto: string;
}

function exposedPorts(exposed: unknown): Port[] {
  const keys = exposed && typeof exposed === 'object' ? Object.keys(exposed) : [];
  const ports = keys.flatMap((k) => {
    const [num, proto = 'tcp'] = k.split('/');
    return Number.isInteger(Number(num)) ? [{ num: Number(num), proto: proto.toLowerCase() }] : [];
  });
  // TCP first, then by number (dockerd's withTCPPriority).
  return ports.sort((a, b) => (a.proto === b.proto ? a.num - b.num : a.proto === 'tcp' ? -1 : b.proto === 'tcp' ? 1 : a.proto < b.proto ? -1 : 1));
}

/** The variables dockerd gives a container for a link named fullName ("/me/alias") to a container at childIp. */
export function linkEnv(fullName: string, childIp: string, childEnv: string[] | null | undefined, exposed: unknown): string[] {
  const alias = fullName.split('/').pop()!.toUpperCase().replace(/-/g, '_');
  const env: string[] = [];
  const ports = exposedPorts(exposed);
  let start: Port | undefined;
  let end: Port | undefined;
  ports.forEach((p, i) => {
    if (i === 0) {
      start = end = p;
      env.push(`${alias}_PORT=${p.proto}://${childIp}:${p.num}`);
    }
    const prefix = `${alias}_PORT_${p.num}_${p.proto.toUpperCase()}`;
    env.push(`${prefix}=${p.proto}://${childIp}:${p.num}`, `${prefix}_ADDR=${childIp}`, `${prefix}_PORT=${p.num}`, `${prefix}_PROTO=${p.proto}`);
    if (p.num === end!.num + 1 && p.proto === end!.proto) {
      end = p;
      if (i < ports.length - 1) return;
    }
    if (end !== start) {
      const rp = `${alias}_PORT_${start!.num}_${start!.proto.toUpperCase()}`;
      env.push(`${rp}_START=${start!.proto}://${childIp}:${start!.num}`, `${rp}_PORT_START=${start!.num}`, `${rp}_END=${end!.proto}://${childIp}:${end!.num}`, `${rp}_PORT_END=${end!.num}`);
    }
    start = end = p;
  });
  env.push(`${alias}_NAME=${fullName}`);
  for (const v of childEnv ?? []) {
    const i = v.indexOf('=');
    if (i < 0) continue;
    const name = v.slice(0, i);
    if (name === 'HOME' || name === 'PATH') continue;
    env.push(`${alias}_ENV_${name}=${v.slice(i + 1)}`);
  }
  return env;
}

/** The /etc/hosts names for a link: the alias, the linked container's hostname, and its name if other than the alias. */
export function linkHostNames(alias: string, childHostname: string | undefined, childName: string): string {
  let names = `${alias} ${childHostname ?? ''}`.trim();
  if (alias !== childName) names += ` ${childName}`;
  return names;
}

/** Docker's environment merge: later entries replace earlier ones of the same name, in place. */
export function mergeEnv(first: string[], then: string[] | null | undefined): string[] {
  const out = [...first];
  for (const e of then ?? []) {
    const key = e.split('=')[0]!;
    const i = out.findIndex((x) => x.split('=')[0] === key);
    if (i >= 0) out[i] = e;
    else out.push(e);
  }
  return out;
}

/** The container names a name stands for through the asking container's links on a user-defined network. */
export function linkTargets(links: string[] | null | undefined, name: string): string[] {
  const out: string[] = [];
  for (const l of links ?? []) {
    try {
      const { name: target, alias } = parseLink(l);
      if (alias.toLowerCase() === name) out.push(target.toLowerCase());
    } catch {
      // a malformed link names nothing
    }
  }
  return out;
}
