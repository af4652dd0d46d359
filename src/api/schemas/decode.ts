/**
 * Request bodies decoded as dockerd's Go decoder reads them, with TypeBox schemas that carry the Go
 * type of each field:
 * - unknown fields are ignored, JSON null is fine anywhere (the field keeps its zero value),
 * - field names match case-insensitively (Go's encoding/json does so),
 * - a wrong type is refused with Go's words, naming the field:
 *   `json: cannot unmarshal number into Go struct field CreateRequest.Env of type []string`.
 * Flexible forms (a string for a list: strslice.StrSlice) are declared with `strSlice()`.
 */
import { Type, Kind, type TSchema, type TObject, type TOptional, type TProperties, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { invalidArgument } from '../../lib/errors.js';
import { goValueKind } from './go-json.js';

/** Go's name for the type a schema decodes into (shown in type errors). */
const GO_TYPE = 'goType';
/** Set on Go structs: the struct's own (unqualified) name, as Go's errors name it. */
const GO_STRUCT = 'goStruct';
/** Set on strslice.StrSlice: a string stands for a one-element list. */
const STR_SLICE = 'strSlice';
/** Set on structs whose missing fields are filled with Go's zero values (services need them all). */
const ZERO_FILL = 'zeroFill';

type Annotated = TSchema & { [GO_TYPE]?: string; [GO_STRUCT]?: string; [STR_SLICE]?: boolean; [ZERO_FILL]?: boolean };

/** Go's zero value of a scalar schema. */
function zeroOf(schema: Annotated): unknown {
  if (schema[Kind] === 'String') return '';
  if (schema[Kind] === 'Integer' || schema[Kind] === 'Number') return 0;
  if (schema[Kind] === 'Boolean') return false;
  return undefined;
}

export const goString = () => Type.String({ [GO_TYPE]: 'string' });
export const goBool = () => Type.Boolean({ [GO_TYPE]: 'bool' });
/** Go's integer kinds; floats and out-of-range numbers are refused as Go does. */
export function goInt(goType: 'int' | 'int64' | 'uint16' | 'uint32' | 'uint64' | 'uint' = 'int64') {
  const ranges = { int: [-(2 ** 63), 2 ** 63], int64: [-(2 ** 63), 2 ** 63], uint16: [0, 65535], uint32: [0, 2 ** 32 - 1], uint64: [0, 2 ** 64], uint: [0, 2 ** 64] } as const;
  const [minimum, maximum] = ranges[goType];
  return Type.Integer({ [GO_TYPE]: goType, minimum, maximum });
}
/** A Go time.Duration: nanoseconds as a JSON number. */
export const goDuration = () => Type.Integer({ [GO_TYPE]: 'time.Duration' });
export const goList = <T extends TSchema>(item: T, goType?: string) =>
  Type.Array(item, { [GO_TYPE]: goType ?? `[]${(item as Annotated)[GO_TYPE] ?? 'interface {}'}` });
export const goMap = <T extends TSchema>(value: T, goType?: string) =>
  Type.Record(Type.String(), value, { [GO_TYPE]: goType ?? `map[string]${(value as Annotated)[GO_TYPE] ?? 'interface {}'}` });
/** strslice.StrSlice: a list of strings, or one string standing for a one-element list. */
export const strSlice = () => Type.Array(Type.String({ [GO_TYPE]: 'string' }), { [GO_TYPE]: 'string', [STR_SLICE]: true });
/** A field whose content Berth passes through as it is (validated by the service that uses it). */
export const goAny = () => Type.Unknown();
/** A fixed-size Go array such as [2]uint (ConsoleSize). */
export const goTuple = (size: number, item: TSchema, goType: string) =>
  Type.Array(item, { [GO_TYPE]: goType, minItems: size, maxItems: size });

/** A Go struct of scalars whose missing fields take Go's zero value ("" / 0 / false), so all are present. */
export function goFilledStruct<P extends TProperties>(name: string, props: P, goType = name) {
  return Type.Object(props, { [GO_TYPE]: goType, [GO_STRUCT]: name, [ZERO_FILL]: true });
}

/**
 * A Go struct. `name` is the struct's own name (errors say "Go struct field Name.Field"), `goType` its
 * qualified type name ("container.RestartPolicy") where it appears as a field's type. Every field is
 * optional: Go leaves a missing field at its zero value.
 */
export function goStruct<P extends TProperties>(name: string, props: P, goType = name) {
  const optional = Object.fromEntries(Object.entries(props).map(([k, v]) => [k, Type.Optional(v)])) as { [K in keyof P]: TOptional<P[K]> };
  return Type.Object(optional, { [GO_TYPE]: goType, [GO_STRUCT]: name });
}

/** Removes nulls (Go keeps the zero value), folds field names to the schema's spelling, widens strslices. */
function normalize(schema: Annotated, value: unknown): unknown {
  if (value === null || value === undefined) return value;
  if (schema[STR_SLICE] && typeof value === 'string') return [value];
  if (schema[Kind] === 'Object' && typeof value === 'object' && !Array.isArray(value)) {
    const props = (schema as TObject).properties;
    const lower = new Map(Object.keys(props).map((k) => [k.toLowerCase(), k]));
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
      // Go prefers the exact name, then any case-insensitive match.
      const name = key in props ? key : (lower.get(key.toLowerCase()) ?? key);
      if (name !== key && name in (value as object)) continue;
      if (v === null) continue;
      out[name] = props[name] ? normalize(props[name] as Annotated, v) : v;
    }
    if (schema[ZERO_FILL]) for (const [k, p] of Object.entries(props)) if (!(k in out)) out[k] = zeroOf(p as Annotated);
    return out;
  }
  if (schema[Kind] === 'Array' && Array.isArray(value)) {
    const item = (schema as unknown as { items: Annotated }).items;
    return value.map((v) => normalize(item, v));
  }
  if (schema[Kind] === 'Record' && typeof value === 'object' && !Array.isArray(value)) {
    const inner = Object.values((schema as unknown as { patternProperties: Record<string, Annotated> }).patternProperties)[0]!;
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, normalize(inner, v)]));
  }
  return value;
}

/** Go's error for the value at `path` (JSON pointer segments) not fitting its schema. */
function typeError(root: Annotated, path: string[], body: unknown): string {
  let schema: Annotated = root;
  let value: unknown = body;
  let struct: string | undefined;
  const fields: string[] = [];
  // The strslice a path goes through decides the message: Go reports the StrSlice's own value.
  let slice: { value: unknown } | undefined;
  for (const seg of path) {
    if (schema[Kind] === 'Object') {
      struct = schema[GO_STRUCT];
      fields.push(seg);
      schema = (schema as TObject).properties[seg] as Annotated;
    } else if (schema[Kind] === 'Array') {
      if (schema[STR_SLICE]) slice ??= { value };
      schema = (schema as unknown as { items: Annotated }).items;
    } else if (schema[Kind] === 'Record') {
      schema = Object.values((schema as unknown as { patternProperties: Record<string, Annotated> }).patternProperties)[0]!;
    }
    value = (value as Record<string, unknown>)[seg];
  }
  if (slice) value = slice.value;
  let kind = goValueKind(value);
  // Go names the literal when a number does not fit an integer type.
  if (typeof value === 'number' && schema[Kind] === 'Integer') kind = `number ${goNumber(value)}`;
  const goType = schema[GO_TYPE] ?? 'interface {}';
  if (struct === undefined) return `json: cannot unmarshal ${kind} into Go value of type ${goType}`;
  return `json: cannot unmarshal ${kind} into Go struct field ${struct}.${fields.join('.')} of type ${goType}`;
}

function goNumber(n: number): string {
  return String(n);
}

/** The JSON-pointer path of TypeBox's error, as segments. */
function segments(pointer: string): string[] {
  if (!pointer) return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/**
 * Decodes a parsed JSON body into the type the schema describes, or throws InvalidArgument with Go's
 * words (prefixed as dockerd prefixes them: `invalid JSON: ` for bodies read by its JSON helpers).
 */
export function decode<T extends TSchema>(schema: T, body: unknown, prefix = 'invalid JSON: '): Static<T> {
  const value = normalize(schema as Annotated, body);
  if (value === null || value === undefined) return {} as Static<T>;
  if (Value.Check(schema, value)) return value as Static<T>;
  const first = Value.Errors(schema, value).First();
  const path = first ? segments(first.path) : [];
  throw invalidArgument(prefix + typeError(schema as Annotated, path, value));
}
