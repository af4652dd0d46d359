import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's src/, from dist/test/unit/ where this test runs. */
const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(full);
    return e.name.endsWith('.ts') ? [full] : [];
  });
}

/** The top-level folder under src/ of each relative module a file imports (static, dynamic and type imports). */
export function importedRooms(file: string, text: string): Array<{ spec: string; room: string }> {
  const out: Array<{ spec: string; room: string }> = [];
  for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)'(\.[^']+)'/gm)) {
    const target = path.relative(SRC, path.resolve(path.dirname(file), m[1]!));
    out.push({ spec: m[1]!, room: target.split(path.sep)[0]! });
  }
  return out;
}

/** Which rooms a room may not import: api/ talks to services through its backends, services know no HTTP, only the composition root knows everyone. */
function forbidden(from: string, to: string): boolean {
  if (to === 'daemon') return from !== 'daemon';
  if (to === 'api') return from !== 'api' && from !== 'daemon';
  return false;
}

describe('layering', () => {
  it('finds the imports of a file, type-only and dynamic ones too', () => {
    const file = path.join(SRC, 'api', 'routes', 'x.ts');
    const rooms = importedRooms(file, "import type { A } from '../../daemon/daemon.js';\nconst b: import('../../containers/model.js').B;\nimport './side.js';\n");
    assert.deepEqual(rooms.map((r) => r.room), ['daemon', 'containers', 'api']);
  });

  it('no room imports api/ or daemon/ against the direction of dependencies', () => {
    const violations: string[] = [];
    for (const file of sourceFiles(SRC)) {
      const from = path.relative(SRC, file).split(path.sep)[0]!;
      for (const { spec, room } of importedRooms(file, readFileSync(file, 'utf8'))) {
        if (forbidden(from, room)) violations.push(`${path.relative(SRC, file)} imports ${spec}`);
      }
    }
    assert.deepEqual(violations, []);
  });
});
