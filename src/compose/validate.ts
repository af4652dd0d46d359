/**
 * Checks one file's data against the compose-spec JSON schema (schema/compose-spec.json, data from
 * compose-spec) and words the first problem as docker compose does: the dotted path, then the problem.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { ComposeError } from './errors.js';

let compiled: ValidateFunction | undefined;

/** The validator `make build` precompiles (scripts/build-compose-validator.mjs): no schema compile per run. */
const PRECOMPILED = new URL('./schema/validator.cjs', import.meta.url);

function validator(): ValidateFunction {
  if (compiled) return compiled;
  if (PRECOMPILED.pathname.includes('/dist/src/') && existsSync(PRECOMPILED)) {
    compiled = createRequire(import.meta.url)(PRECOMPILED.pathname) as ValidateFunction;
    return compiled;
  }
  const schema = JSON.parse(readFileSync(new URL('./schema/compose-spec.json', schemaBase()), 'utf8')) as Record<string, unknown>;
  // The schema names draft-07 by an https URL ajv does not know; draft-07 is ajv's default anyway.
  delete schema.$schema;
  // ajv itself is loaded only here: with the precompiled validator a command never pays for it.
  const { Ajv } = createRequire(import.meta.url)('ajv') as typeof import('ajv');
  const ajv = new Ajv({ allErrors: true, strict: false, allowUnionTypes: true });
  compiled = ajv.compile(schema);
  return compiled;
}

/** The schema lives in src/ beside this file; compiled code runs from dist/src/, so look there too. */
function schemaBase(): URL {
  const here = new URL('.', import.meta.url);
  const inDist = here.pathname.includes('/dist/src/');
  return inDist ? new URL(here.href.replace('/dist/src/', '/src/')) : here;
}

const TYPE_NAMES: Record<string, string> = { array: 'list', object: 'mapping', string: 'string', number: 'number', integer: 'number', boolean: 'boolean', null: 'null' };

function dotted(instancePath: string): string {
  if (instancePath === '') return '(root)';
  return instancePath
    .slice(1)
    .split('/')
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');
}

function typeList(types: unknown): string {
  const list = (Array.isArray(types) ? types : [types]).map((t) => TYPE_NAMES[String(t)] ?? String(t));
  return list.length > 1 ? `${list.slice(0, -1).join(', ')} or ${list[list.length - 1]}` : list[0];
}

export function describeSchemaError(err: ErrorObject): string {
  const where = dotted(err.instancePath);
  const params = err.params as Record<string, unknown>;
  switch (err.keyword) {
    case 'additionalProperties':
      return `${where} Additional property ${String(params.additionalProperty)} is not allowed`;
    case 'type':
      return `${where} must be a ${typeList(params.type)}`;
    case 'required':
      return `${where} ${String(params.missingProperty)} is required`;
    case 'enum':
      return `${where} must be one of the following: ${(params.allowedValues as unknown[]).map((v) => `"${String(v)}"`).join(', ')}`;
    case 'uniqueItems':
      return `${where} contains duplicate items`;
    case 'pattern':
      return `${where} Does not match pattern '${String(params.pattern)}'`;
    case 'minimum':
    case 'maximum':
      return `${where} must be ${err.keyword === 'minimum' ? 'greater' : 'less'} than or equal to ${String(params.limit)}`;
    default:
      return `${where} ${err.message ?? 'is invalid'}`;
  }
}

/** The error most worth showing: an unknown key first, then the deepest path (the branch closest to the input). */
function mostRelevant(errors: ErrorObject[]): ErrorObject {
  const ranked = errors.filter((e) => e.keyword !== 'oneOf' && e.keyword !== 'anyOf' && e.keyword !== 'if');
  const pool = ranked.length > 0 ? ranked : errors;
  const unknownKey = pool.find((e) => e.keyword === 'additionalProperties');
  if (unknownKey) return unknownKey;
  return pool.reduce((best, e) => (e.instancePath.length > best.instancePath.length ? e : best), pool[0]);
}

export function validateAgainstSchema(data: unknown, file: string): void {
  const validate = validator();
  if (validate(data)) return;
  const err = mostRelevant(validate.errors ?? []);
  throw new ComposeError(`validating ${file}: ${describeSchemaError(err)}`);
}
