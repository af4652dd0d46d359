/**
 * Docker image references: parsing, normalization and formatting.
 *
 * Behaviour follows Docker Engine (distribution/reference v0.6 as vendored by dockerd,
 * with go-digest v1.0.0 digest validation), including the exact error messages dockerd
 * returns, so that API clients see the same text:
 *
 *   reference   := name [ ":" tag ] [ "@" digest ]
 *   name        := [domain "/"] path
 *   domain      := host [":" port]          host: DNS-ish name, IPv4, or "[" IPv6 "]"
 *   path        := component ["/" component]*
 *   component   := [a-z0-9]+ (separator [a-z0-9]+)*     separator: "." | "_" | "__" | "-"+
 *   tag         := [\w][\w.-]{0,127}
 *   digest      := algorithm ":" hex{32,}
 *
 * Normalization ("familiar" -> canonical): a first component that contains "." or ":",
 * or is "localhost", or has upper-case letters, is a domain; otherwise the domain is
 * docker.io. "index.docker.io" becomes "docker.io", and single-component Docker Hub
 * paths get the "library/" prefix.
 */
import { invalidArgument } from '../lib/errors.js';

export interface ImageReference {
  /**
   * Registry host, e.g. 'docker.io', 'localhost:5000', 'ghcr.io', '[::1]:5000'. Empty only
   * in Docker's edge case where the first component looks like a host but is not a valid
   * one while still being a valid path component (e.g. 'a_b.c/foo').
   */
  domain: string;
  /** Repository path within the registry, e.g. 'library/busybox', 'team/app'. */
  path: string;
  /** Tag, when one was given (or filled in by withDefaultTag / parseDockerRef). */
  tag?: string;
  /** Digest, 'algorithm:hex', e.g. 'sha256:<64 hex>'. */
  digest?: string;
}

const DEFAULT_DOMAIN = 'docker.io';
const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
const OFFICIAL_REPO_PREFIX = 'library/';
const DEFAULT_TAG = 'latest';
/** Maximum length of the repository path (the domain is not counted). */
const REPOSITORY_NAME_MAX_LENGTH = 255;

// ---- grammar -------------------------------------------------------------------------

const ALPHANUMERIC = '[a-z0-9]+';
const SEPARATOR = '(?:[._]|__|[-]+)';
const PATH_COMPONENT = `${ALPHANUMERIC}(?:${SEPARATOR}${ALPHANUMERIC})*`;
const REMOTE_NAME = `${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;

const DOMAIN_NAME_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN_NAME = `${DOMAIN_NAME_COMPONENT}(?:\\.${DOMAIN_NAME_COMPONENT})*`;
const IPV6_ADDRESS = '\\[(?:[a-fA-F0-9:]+)\\]';
const HOST = `(?:${DOMAIN_NAME}|${IPV6_ADDRESS})`;
const DOMAIN_AND_PORT = `${HOST}(?::[0-9]+)?`;

const NAME = `(?:${DOMAIN_AND_PORT}/)?${REMOTE_NAME}`;
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9A-Fa-f]{32,}';

/** Whole reference; groups: 1 name, 2 tag, 3 digest. */
const REFERENCE_RE = new RegExp(`^(${NAME})(?::(${TAG}))?(?:@(${DIGEST}))?$`);
/** A name; groups: 1 domain (optional), 2 path. */
const ANCHORED_NAME_RE = new RegExp(`^(?:(${DOMAIN_AND_PORT})/)?(${REMOTE_NAME})$`);
const ANCHORED_TAG_RE = new RegExp(`^${TAG}$`);
const IDENTIFIER_RE = /^[a-f0-9]{64}$/;
const FULL_ID_RE = /^(?:sha256:)?[a-f0-9]{64}$/;

// ---- error messages (as dockerd words them) --------------------------------------------

const ERR_REFERENCE_INVALID_FORMAT = 'invalid reference format';
const ERR_TAG_INVALID_FORMAT = 'invalid tag format';
const ERR_NAME_CONTAINS_UPPERCASE = 'repository name must be lowercase';
const ERR_NAME_EMPTY = 'repository name must have at least one component';
const ERR_NAME_TOO_LONG = `repository name must not be more than ${REPOSITORY_NAME_MAX_LENGTH} characters`;
const ERR_DIGEST_INVALID_FORMAT = 'invalid checksum digest format';
const ERR_DIGEST_INVALID_LENGTH = 'invalid checksum digest length';
const ERR_DIGEST_UNSUPPORTED = 'unsupported digest algorithm';

// ---- digests ----------------------------------------------------------------------------

/** Digest algorithms dockerd can verify, with their hex-encoded length. */
const DIGEST_HEX_LENGTH: Readonly<Record<string, number>> = {
  sha256: 64,
  sha384: 96,
  sha512: 128,
};
/** go-digest's loose digest shape, used to tell "unsupported" from "malformed". */
const LOOSE_DIGEST_RE = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/** Returns the error message for an invalid digest, or undefined when it is valid. */
function digestError(d: string): string | undefined {
  const i = d.indexOf(':');
  if (i <= 0 || i + 1 === d.length) return ERR_DIGEST_INVALID_FORMAT;
  const algorithm = d.slice(0, i);
  const encoded = d.slice(i + 1);
  const hexLength = Object.hasOwn(DIGEST_HEX_LENGTH, algorithm) ? DIGEST_HEX_LENGTH[algorithm] : undefined;
  if (hexLength === undefined) {
    return LOOSE_DIGEST_RE.test(d) ? ERR_DIGEST_UNSUPPORTED : ERR_DIGEST_INVALID_FORMAT;
  }
  if (encoded.length !== hexLength) return ERR_DIGEST_INVALID_LENGTH;
  if (!/^[a-f0-9]+$/.test(encoded)) return ERR_DIGEST_INVALID_FORMAT;
  return undefined;
}

// ---- parsing ------------------------------------------------------------------------------

/** Splits a familiar name into a (normalized) domain and the rest of the string. */
function splitDockerDomain(name: string): { domain: string; remainder: string } {
  const slash = name.indexOf('/');
  if (slash < 0) {
    // A single element such as "ubuntu" or "ubuntu:latest" is always an official image,
    // never "host:port".
    return { domain: DEFAULT_DOMAIN, remainder: OFFICIAL_REPO_PREFIX + name };
  }
  const maybeDomain = name.slice(0, slash);
  const maybeRemainder = name.slice(slash + 1);
  let domain: string;
  let remainder: string;
  if (maybeDomain === 'localhost') {
    domain = maybeDomain;
    remainder = maybeRemainder;
  } else if (maybeDomain === LEGACY_DEFAULT_DOMAIN) {
    domain = DEFAULT_DOMAIN;
    remainder = maybeRemainder;
  } else if (maybeDomain.includes('.') || maybeDomain.includes(':')) {
    domain = maybeDomain;
    remainder = maybeRemainder;
  } else if (maybeDomain.toLowerCase() !== maybeDomain) {
    // Namespaces cannot be upper-case, so this must be a host name.
    domain = maybeDomain;
    remainder = maybeRemainder;
  } else {
    domain = DEFAULT_DOMAIN;
    remainder = name;
  }
  if (domain === DEFAULT_DOMAIN && !remainder.includes('/')) {
    remainder = OFFICIAL_REPO_PREFIX + remainder;
  }
  return { domain, remainder };
}

/** Strict parse of an already-qualified reference string (distribution/reference Parse). */
function parseStrict(s: string): ImageReference {
  if (s === '') throw invalidArgument(ERR_NAME_EMPTY);
  const m = REFERENCE_RE.exec(s);
  if (m === null) {
    const lower = s.toLowerCase();
    if (lower !== s && REFERENCE_RE.test(lower)) throw invalidArgument(ERR_NAME_CONTAINS_UPPERCASE);
    throw invalidArgument(ERR_REFERENCE_INVALID_FORMAT);
  }
  const name = m[1]!;
  const tag = m[2];
  const digest = m[3];

  let domain = '';
  let path = name;
  const nm = ANCHORED_NAME_RE.exec(name);
  if (nm !== null) {
    domain = nm[1] ?? '';
    path = nm[2]!;
  }
  if (path.length > REPOSITORY_NAME_MAX_LENGTH) throw invalidArgument(ERR_NAME_TOO_LONG);

  const ref: ImageReference = { domain, path };
  if (tag !== undefined && tag !== '') ref.tag = tag;
  if (digest !== undefined && digest !== '') {
    const err = digestError(digest);
    if (err !== undefined) throw invalidArgument(err);
    ref.digest = digest;
  }
  return ref;
}

/**
 * Parses a reference as the Docker CLI and daemon accept it, normalizing familiar names
 * ('busybox' -> docker.io/library/busybox). No default tag is added. Throws
 * InvalidArgument with Docker's messages for invalid input.
 */
export function parseReference(s: string): ImageReference {
  if (IDENTIFIER_RE.test(s)) {
    throw invalidArgument(`invalid repository name (${s}), cannot specify 64-byte hexadecimal strings`);
  }
  const { domain, remainder } = splitDockerDomain(s);
  const tagSep = remainder.indexOf(':');
  const remote = tagSep >= 0 ? remainder.slice(0, tagSep) : remainder;
  if (remote.toLowerCase() !== remote) {
    throw invalidArgument(`invalid reference format: repository name (${remote}) must be lowercase`);
  }
  return parseStrict(`${domain}/${remainder}`);
}

/**
 * Parses like Docker's ParseDockerRef: the result is either tagged or digested. A bare
 * name gets the 'latest' tag; a reference with both a tag and a digest keeps only the digest.
 */
export function parseDockerRef(s: string): ImageReference {
  const ref = parseReference(s);
  if (ref.tag !== undefined && ref.digest !== undefined) {
    return { domain: ref.domain, path: ref.path, digest: ref.digest };
  }
  return withDefaultTag(ref);
}

// ---- formatting ---------------------------------------------------------------------------

function suffix(r: ImageReference): string {
  return (r.tag !== undefined ? `:${r.tag}` : '') + (r.digest !== undefined ? `@${r.digest}` : '');
}

/** Canonical repository name without tag or digest: 'docker.io/library/busybox'. */
export function repositoryName(r: ImageReference): string {
  return r.domain === '' ? r.path : `${r.domain}/${r.path}`;
}

/** Canonical full reference: 'docker.io/library/busybox:latest', '...@sha256:..', 'name:tag@sha256:..'. */
export function fullString(r: ImageReference): string {
  return repositoryName(r) + suffix(r);
}

/** The name as the Docker UI shows it: 'busybox', 'team/app', 'localhost:5000/team/app'. */
export function familiarName(r: ImageReference): string {
  if (r.domain !== DEFAULT_DOMAIN) return repositoryName(r);
  if (r.path.startsWith(OFFICIAL_REPO_PREFIX)) {
    const rest = r.path.slice(OFFICIAL_REPO_PREFIX.length);
    if (!rest.includes('/')) return rest;
  }
  return r.path;
}

/** The reference as the Docker UI shows it: 'busybox:latest', 'busybox@sha256:...'. */
export function familiarString(r: ImageReference): string {
  return familiarName(r) + suffix(r);
}

/** Adds the 'latest' tag when the reference has neither a tag nor a digest. */
export function withDefaultTag(r: ImageReference): ImageReference {
  if (r.tag !== undefined || r.digest !== undefined) return { ...r };
  return { ...r, tag: DEFAULT_TAG };
}

// ---- misc -----------------------------------------------------------------------------------

/** True for a full image id: 64 lower-case hex characters, optionally prefixed 'sha256:'. */
export function isFullImageIdLike(s: string): boolean {
  return FULL_ID_RE.test(s);
}

/** Throws InvalidArgument('invalid tag format') unless tag matches [\w][\w.-]{0,127}. */
export function validateTag(tag: string): void {
  if (!ANCHORED_TAG_RE.test(tag)) throw invalidArgument(ERR_TAG_INVALID_FORMAT);
}
