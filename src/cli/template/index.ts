/**
 * Go text/template, as far as the docker CLI's `--format` flag needs it, plus docker's
 * template functions (docker/cli templates package) and its table/json list formatting.
 *
 * Data is JSON-like. Plain objects behave like Go's map[string]interface{}:
 *   - a missing key is an invalid value and prints "<no value>"; `.A.B` with A missing
 *     also prints "<no value>" (fields of an invalid value are invalid);
 *   - a key holding null is a nil interface{}: `.A.B` then fails with "nil pointer
 *     evaluating interface {}.B", while `{{.A}}` prints "<no value>" because Go turns a nil
 *     interface{} into an invalid value at the end of every pipeline command;
 *   - keys are visited, printed and marshalled in sorted order, as Go does for maps.
 * `undefined` stands for Go's invalid value throughout; a property whose value is a
 * function is treated as a method: `{{.Label "x"}}` calls it with the arguments.
 *
 * Numbers: JS has one number type where Go templates see int, float64 or json.Number. We
 * print a number the way its JSON text reads (1700000000, 0.5, 1e-7), which is what docker
 * shows for the typed int fields of its structs and for its raw-JSON fallback (decoded
 * with UseNumber). Comparison functions accept any pair of numbers. Explicit %g/%e/%f
 * verbs follow Go's float formatting exactly (shortest %g switches to an exponent at 1e+06).
 *
 * Not supported: {{define}}, {{template}}, {{block}}, the `js` builtin, complex numbers,
 * the missingkey option, %#v Go syntax and hex-float verbs on non-integers.
 */

import { tabwrite } from '../tabwriter.js';
import type { ListNode } from './ast.js';
import { BUILTINS } from './builtins.js';
import { DOCKER_FUNCS } from './docker-funcs.js';
import { type Template, TemplateError } from './errors.js';
import { Executor } from './exec.js';
import { BASIC_TABLE, type FuncSpec, type FuncTable, funcTable, HEADER_TABLE } from './functions.js';
import { Lexer } from './lexer.js';
import { Parser } from './parser.js';

export { TemplateError, type Template } from './errors.js';
export { formatValue } from './fmt.js';

class CompiledTemplate implements Template {
  constructor(
    private readonly src: string,
    private readonly root: ListNode,
    private readonly funcs: FuncTable,
  ) {}

  execute(data: unknown): string {
    const out: string[] = [];
    this.run(data, this.funcs, out);
    return out.join('');
  }

  /** Writes into `out` as it goes, so a caller can keep partial output after an error. */
  run(data: unknown, funcs: FuncTable, out: string[]): void {
    new Executor(this.src, funcs, out, data).run(this.root);
  }
}

function compile(src: string, funcs: FuncTable): CompiledTemplate {
  const tokens = new Lexer(src).run();
  const root = new Parser(tokens, new Set(funcs.keys())).parse();
  return new CompiledTemplate(src, root, funcs);
}

/**
 * Parses a Go template with Go's builtins and docker's functions (json, split, join,
 * title, lower, upper, pad, truncate). `funcs` adds or overrides functions; they receive
 * evaluated arguments (null for missing values) and may throw to fail the execution.
 */
export function parseTemplate(src: string, funcs?: Record<string, (...args: any[]) => unknown>): Template {
  if (!funcs) return compile(src, BASIC_TABLE);
  const user: Record<string, FuncSpec> = {};
  for (const [name, fn] of Object.entries(funcs)) user[name] = { fn, params: [], variadic: 'any' };
  return compile(src, funcTable(BUILTINS, DOCKER_FUNCS, user));
}

export function renderTemplate(src: string, data: unknown): string {
  return parseTemplate(src).execute(data);
}

/**
 * docker's list formatting (cli/command/formatter): one rendered row per element, each
 * followed by a newline.
 * - "json" (exactly) renders `{{json .}}` per row.
 * - "table ..." renders the rest as the row template; a header row comes first, made by
 *   executing the same template against `headers` (field name -> column title) with
 *   docker's header functions (json/upper/... return the title unchanged, pad still pads),
 *   and the whole output is aligned with tabwrite. Header errors keep the partial header,
 *   as docker ignores them.
 * - Literal `\t` and `\n` in the format become tab and newline; surrounding spaces go.
 * The caller handles "" and a bare "table" (both mean its default format), and prefixes
 * errors with "template parsing error: " as docker does.
 */
export function formatRows(format: string, rows: unknown[], headers: Record<string, HeaderTitle>): string {
  const tmpl = compile(templateString(format), BASIC_TABLE);
  let body = '';
  for (const row of rows) body += tmpl.execute(row) + '\n';
  if (!format.startsWith('table')) return body;
  return tabwrite(renderHeader(tmpl, headers) + '\n' + body);
}

/** docker's Format.templateString. */
function templateString(format: string): string {
  if (format === 'table') return '';
  if (format === 'json') return '{{json .}}';
  const rest = format.startsWith('table') ? format.slice('table'.length) : format;
  return rest.replace(/^ +| +$/g, '').replace(/\\[tn]/g, (m) => (m === '\\t' ? '\t' : '\n'));
}

/** A column title, or a function of the method's arguments (`{{.Label "x"}}` titles "x"). */
export type HeaderTitle = string | ((...args: string[]) => string);

function renderHeader(tmpl: CompiledTemplate, headers: Record<string, HeaderTitle>): string {
  // Titles are methods, so `{{.Label "x"}}` renders the Label title instead of failing.
  const context: Record<string, (...args: string[]) => string> = {};
  for (const [field, title] of Object.entries(headers)) context[field] = typeof title === 'function' ? title : () => title;
  const out: string[] = [];
  try {
    tmpl.run(context, HEADER_TABLE, out);
  } catch (e) {
    if (!(e instanceof TemplateError)) throw e;
  }
  return out.join('');
}
