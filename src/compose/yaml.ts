/**
 * YAML to plain data: anchors, aliases and `<<` merge keys resolved; the merge tags `!reset` and
 * `!override` kept as Tagged values for the merger. Syntax errors name the file and the position.
 */
import { parseDocument, visit, isNode, Scalar, type ScalarTag } from 'yaml';
import { ComposeError } from './errors.js';
import { Tagged } from './interpolate.js';

const MERGE_TAGS: Record<string, 'reset' | 'override'> = { '!reset': 'reset', '!override': 'override' };

/**
 * `0440` is octal, as docker compose reads it (Go's yaml.v3 parses plain integers with Go's prefix
 * rules): what file modes (`secrets: [{mode: 0440}]`) are written as. YAML 1.2 alone reads 440.
 */
const LEADING_ZERO_OCTAL: ScalarTag = {
  identify: (v) => typeof v === 'number',
  default: true,
  tag: 'tag:yaml.org,2002:int',
  format: 'OCT',
  test: /^0[0-7]+$/,
  resolve: (s) => parseInt(s, 8),
};

export function parseComposeYaml(source: string, file: string): Record<string, unknown> {
  const doc = parseDocument(source, { merge: true, uniqueKeys: true, prettyErrors: false, strict: false, customTags: (tags) => [LEADING_ZERO_OCTAL, ...tags] });
  if (doc.errors.length > 0) {
    const err = doc.errors[0];
    const pos = err.linePos?.[0];
    const where = pos ? `line ${pos.line}, column ${pos.col}` : 'unknown position';
    throw new ComposeError(`yaml: ${where}: ${err.message.split('\n')[0]} in ${file}`);
  }
  visit(doc, {
    Node(_key, node) {
      const tag = isNode(node) ? node.tag : undefined;
      if (tag && MERGE_TAGS[tag]) {
        node.tag = undefined;
        return new Scalar(new Tagged(MERGE_TAGS[tag], node.toJS(doc)));
      }
      return undefined;
    },
  });
  const data: unknown = doc.toJS({ maxAliasCount: 10_000 });
  if (data === null || data === undefined) return {};
  if (typeof data !== 'object' || Array.isArray(data) || data instanceof Tagged) {
    throw new ComposeError(`Top-level object must be a mapping`);
  }
  return data as Record<string, unknown>;
}
