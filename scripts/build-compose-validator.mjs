// Compiles the compose-spec schema into a validator module at build time (ajv's standalone code),
// so `berth compose` does not spend ~0.4 s compiling the schema on every run. validate.ts falls back
// to compiling at run time when this file is absent (a plain `tsc` build).
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { Ajv } from 'ajv';
import standaloneCode from 'ajv/dist/standalone/index.js';

const schema = JSON.parse(readFileSync(new URL('../src/compose/schema/compose-spec.json', import.meta.url), 'utf8'));
delete schema.$schema;
// Options must match validate.ts's run-time compile.
const ajv = new Ajv({ allErrors: true, strict: false, allowUnionTypes: true, code: { source: true } });
const validate = ajv.compile(schema);
const out = new URL('../dist/src/compose/schema/', import.meta.url);
mkdirSync(out, { recursive: true });
writeFileSync(new URL('validator.cjs', out), standaloneCode.default(ajv, validate));
