/** Small Compose projects written to temp dirs for the compose-*.test.ts files. */
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { loadProject, type LoadOptions } from '../../src/compose/index.js';

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Writes `files` (relative path -> content) under a new directory named `name`; returns its path. */
export function project(files: Record<string, string>, name = 'proj'): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'berth-compose-'));
  dirs.push(root);
  const dir = path.join(root, name);
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), text);
  }
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Loads with an empty process environment (unless given) and collects the warnings. */
export function load(dir: string, options: Partial<LoadOptions> = {}) {
  const warnings: string[] = [];
  const result = loadProject({ workingDir: dir, env: {}, warn: (m) => warnings.push(m), ...options });
  return { project: result, warnings };
}
