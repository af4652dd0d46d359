/**
 * Placement constraints (`node.labels.zone==east`), parsed and matched as swarmkit's manager/constraint
 * does: keys are case-insensitive, values compare case-insensitively, a missing label matches "".
 */
import { invalidArgument } from '../../lib/errors.js';
import type { SwarmNode } from '../types.js';

export interface Constraint {
  key: string;
  op: '==' | '!=';
  value: string;
}

const KEY_RE = /^[a-z_][a-z0-9\-_.]+$/i;
const VALUE_RE = /^[a-z0-9:\-_\s.*()?+[\]\\^$|/]+$/i;
const OPERATORS = ['==', '!='] as const;

/** dockerd's errors for a bad expression (invalidArgument). */
export function parseConstraints(exprs: readonly string[] | undefined): Constraint[] {
  const out: Constraint[] = [];
  for (const e of exprs ?? []) {
    const op = OPERATORS.find((o) => e.includes(o));
    if (!op) throw invalidArgument(`constraint expected one operator from ${OPERATORS.join(', ')}`);
    const at = e.indexOf(op);
    const key = e.slice(0, at).trim();
    const value = e.slice(at + op.length).trim();
    if (!KEY_RE.test(key)) throw invalidArgument(`key '${key}' is invalid`);
    if (!VALUE_RE.test(value)) throw invalidArgument(`value '${value}' is invalid`);
    out.push({ key, op, value });
  }
  return out;
}

/** Like parseConstraints, but an unparsable list places nowhere rather than throwing. */
export function tryParseConstraints(exprs: readonly string[] | undefined): Constraint[] | undefined {
  try {
    return parseConstraints(exprs);
  } catch {
    return undefined;
  }
}

function matches(c: Constraint, what: string): boolean {
  const equal = c.value.toLowerCase() === what.toLowerCase();
  return c.op === '==' ? equal : !equal;
}

const NODE_LABELS = 'node.labels.';
const ENGINE_LABELS = 'engine.labels.';

function ipOf(addr: string): string {
  return addr.replace(/^\[/, '').replace(/\]?(:\d+)?$/, '');
}

export function nodeMatches(constraints: readonly Constraint[], node: SwarmNode): boolean {
  for (const c of constraints) {
    const key = c.key.toLowerCase();
    let value: string | undefined;
    if (key === 'node.id') value = node.ID;
    else if (key === 'node.hostname') value = node.Description?.Hostname ?? '';
    else if (key === 'node.role') value = node.Spec.Role;
    else if (key === 'node.platform.os') value = node.Description?.Platform?.OS ?? '';
    else if (key === 'node.platform.arch') value = node.Description?.Platform?.Architecture ?? '';
    else if (key === 'node.ip') value = ipOf(node.Status?.Addr ?? '');
    else if (key.length > NODE_LABELS.length && key.startsWith(NODE_LABELS)) value = node.Spec.Labels?.[c.key.slice(NODE_LABELS.length)] ?? '';
    else if (key.length > ENGINE_LABELS.length && key.startsWith(ENGINE_LABELS)) {
      value = node.Description?.Engine?.Labels?.[c.key.slice(ENGINE_LABELS.length)] ?? '';
    } else return false;
    if (!matches(c, value)) return false;
  }
  return true;
}
