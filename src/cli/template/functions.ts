/**
 * Function tables. Typed parameters reproduce Go's argument checks ("wrong type for value");
 * 'value' is a reflect.Value parameter (sees missing values), 'any' an interface{} one.
 */
import { BUILTINS } from './builtins.js';
import { DOCKER_FUNCS, HEADER_FUNCS } from './docker-funcs.js';

export type ParamType = 'value' | 'any' | 'string' | 'int' | 'stringList';

export interface FuncSpec {
  fn: (...args: any[]) => unknown;
  params: ParamType[];
  variadic?: ParamType;
  /** Builtin and/or evaluate their arguments lazily. */
  shortCircuit?: 'and' | 'or';
}

export type FuncTable = ReadonlyMap<string, FuncSpec>;

export const GO_PARAM_TYPES: Record<ParamType, string> = {
  value: 'reflect.Value',
  any: 'interface {}',
  string: 'string',
  int: 'int',
  stringList: '[]string',
};


export function funcTable(...layers: Array<Record<string, FuncSpec>>): FuncTable {
  const table = new Map<string, FuncSpec>();
  for (const layer of layers) for (const [name, spec] of Object.entries(layer)) table.set(name, spec);
  return table;
}

export const BASIC_TABLE = funcTable(BUILTINS, DOCKER_FUNCS);
export const HEADER_TABLE = funcTable(BUILTINS, DOCKER_FUNCS, HEADER_FUNCS);
