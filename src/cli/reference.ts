/**
 * Image reference parsing on the client side, as docker's CLI does with distribution/reference:
 * `tag` normalizes its target ("busybox" -> docker.io/library/busybox:latest), list output
 * shows "familiar" names, and errors carry the CLI's wording.
 *
 * The daemon has its own parser; the CLI keeps this small copy of the grammar so that it
 * depends on nothing but the HTTP API.
 */

export interface NamedRef {
  domain: string;
  path: string;
  tag?: string;
  digest?: string;
}

const DEFAULT_DOMAIN = 'docker.io';
const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
const OFFICIAL_PREFIX = 'library/';
const NAME_MAX_LENGTH = 255;

const ALNUM = '[a-z0-9]+';
const SEPARATOR = '(?:[._]|__|[-]+)';
const PATH_COMPONENT = `${ALNUM}(?:${SEPARATOR}${ALNUM})*`;
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const HOST = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])`;
const DOMAIN = `${HOST}(?::[0-9]+)?`;
const NAME = `(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';

const REFERENCE_RE = new RegExp(`^(${NAME})(?::(${TAG}))?(?:@(${DIGEST}))?$`);
const NAME_RE = new RegExp(`^(?:(${DOMAIN})/)?(${PATH_COMPONENT}(?:/${PATH_COMPONENT})*)$`);
const IDENTIFIER_RE = /^[a-f0-9]{64}$/;

export class InvalidReferenceError extends Error {}

/** distribution/reference Parse: the grammar check on an already-normalized string. */
function parse(s: string): NamedRef {
  const m = REFERENCE_RE.exec(s);
  if (!m) {
    if (s === '') throw new InvalidReferenceError('repository name must have at least one component');
    if (REFERENCE_RE.test(s.toLowerCase())) throw new InvalidReferenceError('repository name must be lowercase');
    throw new InvalidReferenceError('invalid reference format');
  }
  const [, name, tag, digest] = m;
  const nm = NAME_RE.exec(name!)!;
  const domain = nm[1] ?? '';
  const path = nm[2]!;
  if (path.length > NAME_MAX_LENGTH) throw new InvalidReferenceError(`repository name must not be more than ${NAME_MAX_LENGTH} characters`);
  if (digest !== undefined) validateDigest(digest);
  return { domain, path, ...(tag !== undefined && { tag }), ...(digest !== undefined && { digest }) };
}

function validateDigest(digest: string): void {
  const [algorithm, hex = ''] = digest.split(':');
  const lengths: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };
  const want = lengths[algorithm!];
  if (want === undefined) throw new InvalidReferenceError('unsupported digest algorithm');
  if (hex.length !== want) throw new InvalidReferenceError('invalid checksum digest length');
  if (!/^[a-f0-9]+$/.test(hex)) throw new InvalidReferenceError('invalid checksum digest format');
}

/** Splits "host/path" the way Docker decides whether the first component is a registry. */
function splitDomain(name: string): [string, string] {
  const i = name.indexOf('/');
  let domain: string;
  let remainder: string;
  const first = i === -1 ? '' : name.slice(0, i);
  if (i === -1 || (!/[.:]/.test(first) && first !== 'localhost' && first.toLowerCase() === first)) {
    domain = DEFAULT_DOMAIN;
    remainder = name;
  } else {
    domain = first;
    remainder = name.slice(i + 1);
  }
  if (domain === LEGACY_DEFAULT_DOMAIN) domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !remainder.includes('/')) remainder = OFFICIAL_PREFIX + remainder;
  return [domain, remainder];
}

/** distribution/reference ParseNormalizedNamed. */
export function parseNormalizedNamed(s: string): NamedRef {
  if (IDENTIFIER_RE.test(s)) {
    throw new InvalidReferenceError(`invalid repository name (${s}), cannot specify 64-byte hexadecimal strings`);
  }
  const [domain, remainder] = splitDomain(s);
  const colon = remainder.indexOf(':');
  const remoteName = colon === -1 ? remainder : remainder.slice(0, colon);
  if (remoteName.toLowerCase() !== remoteName) {
    throw new InvalidReferenceError(`invalid reference format: repository name (${remoteName}) must be lowercase`);
  }
  return parse(`${domain}/${remainder}`);
}

/** distribution/reference ParseAnyReference: a full image ID is accepted as well. */
export function parseAnyReference(s: string): NamedRef | { id: string } {
  if (IDENTIFIER_RE.test(s)) return { id: `sha256:${s}` };
  const digestOnly = /^sha256:([a-f0-9]{64})$/.exec(s);
  if (digestOnly) return { id: s };
  return parseNormalizedNamed(s);
}

/** "docker.io/library/busybox" -> "busybox"; "docker.io/me/app" -> "me/app". */
export function familiarName(ref: NamedRef): string {
  if (ref.domain !== DEFAULT_DOMAIN) return ref.domain ? `${ref.domain}/${ref.path}` : ref.path;
  const rest = ref.path.slice(OFFICIAL_PREFIX.length);
  return ref.path.startsWith(OFFICIAL_PREFIX) && !rest.includes('/') ? rest : ref.path;
}

/** "docker.io/library/busybox": what the API's repo parameters get. */
export function fullName(ref: NamedRef): string {
  return ref.domain ? `${ref.domain}/${ref.path}` : ref.path;
}

/**
 * Splits "repo[:tag]" at the last ':' that comes after the last '/', so a registry port
 * ("localhost:5000/app") is not mistaken for a tag. A digest suffix is left on the repo.
 */
export function splitRepoTag(s: string): { repo: string; tag: string } {
  if (s.includes('@')) return { repo: s, tag: '' };
  const colon = s.lastIndexOf(':');
  if (colon > s.lastIndexOf('/')) return { repo: s.slice(0, colon), tag: s.slice(colon + 1) };
  return { repo: s, tag: '' };
}
