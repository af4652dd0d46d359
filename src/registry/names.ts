/** The distribution-spec's grammar for repository names, tags and references. */
import { isDigest } from '../oci/manifest.js';
import { regError } from './errors.js';

const COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
const NAME = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
/** Docker's own limit on a full name; the spec suggests staying under 255 with the host. */
const MAX_NAME = 255;

export function isRepositoryName(name: string): boolean {
  return name.length <= MAX_NAME && NAME.test(name);
}

export function isTag(ref: string): boolean {
  return TAG.test(ref);
}

export function checkName(name: string): string {
  if (!isRepositoryName(name)) throw regError('NAME_INVALID', 'invalid repository name', { name });
  return name;
}

/** A manifest reference: a digest (when it has a colon) or a tag. */
export function parseReference(ref: string): { digest: string } | { tag: string } {
  if (ref.includes(':')) {
    if (!isDigest(ref)) throw regError('DIGEST_INVALID', 'invalid digest', { digest: ref });
    return { digest: ref };
  }
  if (!isTag(ref)) throw regError('TAG_INVALID', 'invalid tag', { tag: ref });
  return { tag: ref };
}

export function checkDigest(digest: string | null | undefined): string {
  if (!digest || !isDigest(digest)) throw regError('DIGEST_INVALID', 'invalid digest', { digest: digest ?? '' });
  return digest;
}
