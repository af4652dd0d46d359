/**
 * `--secret` and `--config` of `service create` (and `--secret-add`/`--config-add` of `service update`),
 * as the docker CLI's SecretOpt/ConfigOpt parse them (opts/swarmopts) and ParseSecrets/ParseConfigs
 * resolve the names to IDs (cli/command/service/parse.go), with its error texts.
 */
import type { ConfigReference, SecretReference } from '../../../swarm/types.js';
import { readCsvRecord } from '../run-mounts.js';

type Kind = 'secret' | 'config';
export type FileRef = SecretReference | ConfigReference;

/** Go's strconv.ParseUint(v, 0, 32): decimal, 0/0o octal, 0x hex, 0b binary, underscores after a prefix. */
export function parseGoUint32(v: string): number {
  const syntax = new Error(`strconv.ParseUint: parsing ${JSON.stringify(v)}: invalid syntax`);
  let text = v;
  let base = 10;
  if (/^0[xX]/.test(text)) [base, text] = [16, text.slice(2)];
  else if (/^0[oO]/.test(text)) [base, text] = [8, text.slice(2)];
  else if (/^0[bB]/.test(text)) [base, text] = [2, text.slice(2)];
  else if (/^0./.test(text)) [base, text] = [8, text.slice(1)];
  if (base !== 10 || v.startsWith('0')) {
    // Underscores only between digits, and only with a base prefix (Go's underscoreOK).
    if (/^_|_$|__/.test(text)) throw syntax;
    text = text.replace(/_/g, '');
  }
  const digits = { 2: /^[01]+$/, 8: /^[0-7]+$/, 10: /^\d+$/, 16: /^[0-9a-fA-F]+$/ }[base as 2 | 8 | 10 | 16];
  if (!digits.test(text)) throw syntax;
  const n = parseInt(text, base);
  if (n > 0xffffffff) throw new Error(`strconv.ParseUint: parsing ${JSON.stringify(v)}: value out of range`);
  return n;
}

function parseRef(kind: Kind, value: string): FileRef {
  const fields = readCsvRecord(value);
  const file = { Name: '', UID: '0', GID: '0', Mode: 0o444 };
  let source = '';
  if (fields.length === 1 && !fields[0]!.includes('=')) {
    source = fields[0]!;
    file.Name = source;
  } else {
    for (const field of fields) {
      const i = field.indexOf('=');
      if (i <= 0) throw new Error(`invalid field '${field}' must be a key=value pair`);
      const key = field.slice(0, i);
      const val = field.slice(i + 1);
      switch (key.toLowerCase()) {
        case 'source':
        case 'src': source = val; break;
        case 'target': file.Name = val; break;
        case 'uid': file.UID = val; break;
        case 'gid': file.GID = val; break;
        case 'mode':
          try {
            file.Mode = parseGoUint32(val);
          } catch (err) {
            throw new Error(`invalid mode specified: ${(err as Error).message}`);
          }
          break;
        default:
          throw new Error(kind === 'secret' ? `invalid field in secret request: ${key}` : `invalid field in config request: ${key}`);
      }
    }
    if (!source) throw new Error('source is required');
    if (!file.Name) file.Name = source;
  }
  return kind === 'secret' ? { File: file, SecretName: source } : { File: file, ConfigName: source };
}

export const parseSecretRef = (value: string): SecretReference => parseRef('secret', value) as SecretReference;
export const parseConfigRef = (value: string): ConfigReference => parseRef('config', value) as ConfigReference;

/** For FlagDef.check: docker rejects a bad value when the flag is set. */
export const checkSecretFlag = (v: string): string | undefined => why(() => parseSecretRef(v));
export const checkConfigFlag = (v: string): string | undefined => why(() => parseConfigRef(v));
function why(f: () => unknown): string | undefined {
  try {
    f();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

const nameOf = (kind: Kind, r: FileRef): string => (kind === 'secret' ? (r as SecretReference).SecretName : (r as ConfigReference).ConfigName) ?? '';

/** Lists the objects of a kind with these names (GET /secrets or /configs filtered by name). */
export type ListByName = (kind: Kind, names: string[]) => Promise<Array<{ ID: string; Spec: { Name: string } }>>;

/**
 * ParseSecrets / ParseConfigs: one reference per target ("duplicate secret target for x not allowed"),
 * names resolved to IDs ("secret not found: x").
 */
export async function resolveRefs<R extends FileRef>(kind: Kind, refs: R[], list: ListByName): Promise<R[]> {
  if (!refs.length) return [];
  const byTarget = new Map<string, R>();
  const runtime = new Map<string, R>();
  for (const ref of refs) {
    if (!ref.File && kind === 'config') {
      runtime.set(nameOf(kind, ref), ref);
      continue;
    }
    const target = ref.File?.Name ?? '';
    if (byTarget.has(target)) throw new Error(`duplicate ${kind} target for ${nameOf(kind, ref)} not allowed`);
    byTarget.set(target, { ...ref });
  }
  const wanted = [...new Set([...byTarget.values(), ...runtime.values()].map((r) => nameOf(kind, r)))];
  const found = new Map((await list(kind, wanted)).map((o) => [o.Spec.Name, o.ID]));
  return [...byTarget.values(), ...runtime.values()].map((ref) => {
    const id = found.get(nameOf(kind, ref));
    if (!id) throw new Error(`${kind} not found: ${nameOf(kind, ref)}`);
    return kind === 'secret' ? { ...ref, SecretID: id } : { ...ref, ConfigID: id };
  });
}

/**
 * `service update --secret-rm/--secret-add` (getUpdatedSecrets): references whose name is removed go,
 * the added ones (resolved) are appended. Configs alike, keeping runtime targets (credential specs).
 */
export async function updatedRefs<R extends FileRef>(kind: Kind, current: R[] | undefined, add: R[], rm: string[], list: ListByName): Promise<R[]> {
  const gone = new Set(rm);
  const kept = (current ?? []).filter((r) => (kind === 'config' && !r.File) || !gone.has(nameOf(kind, r)));
  return [...kept, ...(await resolveRefs(kind, add, list))];
}
