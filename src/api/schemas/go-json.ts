/**
 * Go's encoding/json words for a body that is not JSON. dockerd answers `invalid JSON: ` followed by
 * what Go's decoder said, so a client sees the same text from Berth as from Docker. This scanner only
 * runs after JSON.parse has refused the text, to find the first offending byte as Go reports it.
 */

/** Go's quoteChar: how a byte is shown in a syntax error. */
function quoteChar(c: string): string {
  if (c === "'") return `'\\''`;
  if (c === '"') return `'"'`;
  const code = c.codePointAt(0)!;
  if (code < 0x20 || code === 0x7f) return `'\\x${code.toString(16).padStart(2, '0')}'`;
  return `'${c}'`;
}

class GoSyntaxError extends Error {}

const invalid = (c: string, context: string) => new GoSyntaxError(`invalid character ${quoteChar(c)} ${context}`);
const eof = () => new GoSyntaxError('unexpected EOF');

/**
 * Scans the first JSON value of `text` as Go's json.Decoder does: the message Go gives for its first
 * syntax error, or where the value ends.
 */
export function scanFirstValue(text: string): { error: string } | { end: number } {
  let i = 0;
  const ws = () => {
    while (i < text.length && ' \t\r\n'.includes(text[i]!)) i++;
  };
  const peek = (): string => {
    if (i >= text.length) throw eof();
    return text[i]!;
  };
  const literal = (word: string) => {
    for (let k = 0; k < word.length; k++) {
      const c = peek();
      if (c !== word[k]) throw invalid(c, k === 0 ? 'looking for beginning of value' : `in literal ${word} (expecting ${quoteChar(word[k]!)})`);
      i++;
    }
  };
  const string = () => {
    i++; // opening quote
    for (;;) {
      const c = peek();
      i++;
      if (c === '"') return;
      if (c === '\\') {
        const e = peek();
        i++;
        if (e === 'u') {
          for (let k = 0; k < 4; k++) {
            const h = peek();
            if (!/[0-9a-fA-F]/.test(h)) throw invalid(h, 'in \\u hexadecimal character escape');
            i++;
          }
        } else if (!'"\\/bfnrt'.includes(e)) throw invalid(e, 'in string escape code');
      } else if (c.charCodeAt(0) < 0x20) throw invalid(c, 'in string literal');
    }
  };
  const digits = () => {
    while (i < text.length && /[0-9]/.test(text[i]!)) i++;
  };
  const number = () => {
    if (text[i] === '-') {
      i++;
      const c = peek();
      if (!/[0-9]/.test(c)) throw invalid(c, 'in numeric literal');
    }
    if (text[i] === '0') i++;
    else digits();
    if (text[i] === '.') {
      i++;
      const c = peek();
      if (!/[0-9]/.test(c)) throw invalid(c, 'after decimal point in numeric literal');
      digits();
    }
    if (text[i] === 'e' || text[i] === 'E') {
      i++;
      if (text[i] === '+' || text[i] === '-') i++;
      const c = peek();
      if (!/[0-9]/.test(c)) throw invalid(c, 'in exponent of numeric literal');
      digits();
    }
  };
  const value = (): void => {
    ws();
    const c = peek();
    if (c === '{') return object();
    if (c === '[') return array();
    if (c === '"') return string();
    if (c === '-' || /[0-9]/.test(c)) return number();
    if (c === 't') return literal('true');
    if (c === 'f') return literal('false');
    if (c === 'n') return literal('null');
    throw invalid(c, 'looking for beginning of value');
  };
  const object = () => {
    i++;
    ws();
    if (peek() === '}') {
      i++;
      return;
    }
    for (;;) {
      ws();
      const k = peek();
      if (k !== '"') throw invalid(k, 'looking for beginning of object key string');
      string();
      ws();
      const colon = peek();
      if (colon !== ':') throw invalid(colon, 'after object key');
      i++;
      value();
      ws();
      const next = peek();
      i++;
      if (next === '}') return;
      if (next !== ',') throw invalid(next, 'after object key:value pair');
    }
  };
  const array = () => {
    i++;
    ws();
    if (peek() === ']') {
      i++;
      return;
    }
    for (;;) {
      value();
      ws();
      const next = peek();
      i++;
      if (next === ']') return;
      if (next !== ',') throw invalid(next, 'after array element');
    }
  };
  try {
    value();
    return { end: i };
  } catch (err) {
    if (err instanceof GoSyntaxError) return { error: err.message };
    throw err;
  }
}

/** How Go names a JSON value in "cannot unmarshal X into ...". */
export function goValueKind(v: unknown): string {
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return 'number';
  if (Array.isArray(v)) return 'array';
  if (v === null) return 'null';
  return 'object';
}

/**
 * Parses a request body as dockerd's decoder reads it: one JSON value, then nothing but more values
 * (dec.More). Returns undefined for an empty body; throws Docker's wording otherwise.
 */
export function parseJsonText(text: string): { value: unknown } | { error: string } | undefined {
  const trimmed = text.trim();
  if (trimmed === '') return undefined;
  try {
    return { value: JSON.parse(trimmed) };
  } catch {
    // Either a syntax error (Go's words) or content after the first value (Docker's words).
    const scanned = scanFirstValue(trimmed);
    if ('error' in scanned) return { error: `invalid JSON: ${scanned.error}` };
    // dec.More() is false before a closing bracket, so dockerd takes the first value and ignores the rest.
    if (/^[\]}]/.test(trimmed.slice(scanned.end).trimStart())) return { value: JSON.parse(trimmed.slice(0, scanned.end)) };
    return { error: 'unexpected content after JSON' };
  }
}
