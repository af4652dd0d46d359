/**
 * After interpolation every value is a string; compose-go casts back the ones the schema types as
 * boolean or number (`privileged: ${PRIV}` -> true, `cpu_shares: ${N}` -> 512), so the model never holds
 * "false" where a boolean belongs. Only strings that read as the type are cast: sizes such as
 * `mem_limit: 512m` stay strings. Free-form maps (environment, labels, options) are left alone.
 */
import { readFileSync } from 'node:fs';
import { isMapping, Tagged } from './interpolate.js';

type Schema = Record<string, unknown>;
type Dict = Record<string, unknown>;

let definitions: Record<string, Schema> | undefined;

function schemaDefinitions(): Record<string, Schema> {
  if (definitions) return definitions;
  const here = new URL('.', import.meta.url);
  const base = here.pathname.includes('/dist/src/') ? new URL(here.href.replace('/dist/src/', '/src/')) : here;
  const schema = JSON.parse(readFileSync(new URL('./schema/compose-spec.json', base), 'utf8')) as { definitions: Record<string, Schema> };
  definitions = schema.definitions;
  return definitions;
}

function resolve(schema: Schema): Schema {
  const ref = schema.$ref;
  if (typeof ref === 'string' && ref.startsWith('#/definitions/')) return resolve(schemaDefinitions()[ref.slice('#/definitions/'.length)] ?? {});
  return schema;
}

function castScalar(schema: Schema, value: string): unknown {
  const types = Array.isArray(schema.type) ? (schema.type as string[]) : typeof schema.type === 'string' ? [schema.type] : [];
  if (types.includes('boolean') && /^(true|false)$/i.test(value)) return value.toLowerCase() === 'true';
  if ((types.includes('number') || types.includes('integer')) && /^-?\d+(\.\d+)?$/.test(value)) return Number(value);
  return value;
}

/** Object alternatives of a schema (itself, or its oneOf/anyOf members with properties). */
function objectSchemas(schema: Schema): Schema[] {
  const out: Schema[] = [];
  const isObject = (s: Schema) => Boolean(s.properties || s.patternProperties);
  if (isObject(schema)) out.push(schema);
  for (const key of ['oneOf', 'anyOf'] as const) {
    for (const alt of (schema[key] as Schema[] | undefined) ?? []) {
      const r = resolve(alt);
      if (isObject(r)) out.push(r);
    }
  }
  return out;
}

function patternSchema(schema: Schema, key: string): Schema | undefined {
  for (const [pattern, sub] of Object.entries((schema.patternProperties as Record<string, Schema> | undefined) ?? {})) {
    if (new RegExp(pattern).test(key)) return sub;
  }
  return undefined;
}

function walk(rawSchema: Schema, value: unknown): unknown {
  if (value instanceof Tagged) return new Tagged(value.tag, walk(rawSchema, value.value));
  const schema = resolve(rawSchema);
  if (typeof value === 'string') return castScalar(schema, value);
  if (Array.isArray(value)) {
    const items = schema.items as Schema | undefined;
    return items ? value.map((v) => walk(items, v)) : value;
  }
  if (isMapping(value)) {
    const alternatives = objectSchemas(schema);
    if (alternatives.length === 0) return value;
    const out: Dict = { ...value };
    for (const [key, v] of Object.entries(value)) {
      const prop = alternatives.map((a) => (a.properties as Record<string, Schema> | undefined)?.[key]).find(Boolean);
      if (prop) out[key] = walk(prop, v);
      // Entries of named maps (depends_on, ulimits) are walked only when they are mappings themselves, so
      // free-form values (environment, labels) are never cast.
      else if (isMapping(v) || v instanceof Tagged) {
        const pattern = alternatives.map((a) => patternSchema(a, key)).find(Boolean);
        if (pattern) out[key] = walk(pattern, v);
      }
    }
    return out;
  }
  return value;
}

const SECTIONS: Record<string, string> = { services: 'service', networks: 'network', volumes: 'volume', secrets: 'secret', configs: 'config' };

/** A file's data with schema-typed booleans and numbers cast from strings. */
export function castTypes(data: unknown): unknown {
  if (!isMapping(data)) return data;
  const out: Dict = { ...data };
  for (const [section, def] of Object.entries(SECTIONS)) {
    const entries = data[section];
    if (!isMapping(entries)) continue;
    const schema = schemaDefinitions()[def];
    if (!schema) continue;
    out[section] = Object.fromEntries(Object.entries(entries).map(([name, v]) => [name, walk(schema, v)]));
  }
  return out;
}
