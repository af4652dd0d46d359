/**
 * Re-indenting JSON text without parsing it, like Go's json.Indent/json.Compact.
 *
 * `inspect` prints what the daemon sent, so key order, unknown fields and large integers
 * (which JSON.parse would round) must survive untouched; only whitespace changes.
 */

function isSpace(c: string): boolean {
  return c === ' ' || c === '\t' || c === '\n' || c === '\r';
}

/** Copies a JSON string literal starting at s[i] (a quote); returns the index after it. */
function copyString(s: string, i: number, out: string[]): number {
  let j = i + 1;
  while (j < s.length && s[j] !== '"') j += s[j] === '\\' ? 2 : 1;
  out.push(s.slice(i, j + 1));
  return j + 1;
}

function nextNonSpace(s: string, i: number): number {
  while (i < s.length && isSpace(s[i]!)) i++;
  return i;
}

/** json.Indent(dst, src, prefix="", indent): empty {} and [] stay on one line. */
export function indentJson(src: string, indent = '    '): string {
  const out: string[] = [];
  let depth = 0;
  const newline = () => out.push('\n' + indent.repeat(depth));
  for (let i = 0; i < src.length; ) {
    const c = src[i]!;
    if (isSpace(c)) {
      i++;
    } else if (c === '"') {
      i = copyString(src, i, out);
    } else if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      const j = nextNonSpace(src, i + 1);
      if (src[j] === close) {
        out.push(c + close);
        i = j + 1;
      } else {
        out.push(c);
        depth++;
        newline();
        i++;
      }
    } else if (c === '}' || c === ']') {
      depth--;
      newline();
      out.push(c);
      i++;
    } else if (c === ',') {
      out.push(',');
      newline();
      i++;
    } else if (c === ':') {
      out.push(': ');
      i++;
    } else {
      let j = i;
      while (j < src.length && !isSpace(src[j]!) && !',:]}'.includes(src[j]!)) j++;
      out.push(src.slice(i, j));
      i = j;
    }
  }
  return out.join('');
}

/** json.Compact: all insignificant whitespace removed. */
export function compactJson(src: string): string {
  const out: string[] = [];
  for (let i = 0; i < src.length; ) {
    const c = src[i]!;
    if (c === '"') i = copyString(src, i, out);
    else {
      if (!isSpace(c)) out.push(c);
      i++;
    }
  }
  return out.join('');
}

/** Go's encoding/json escapes <, > and & in strings; output meant to match it does the same. */
export function goJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (ch) => '\\u' + ch.charCodeAt(0).toString(16).padStart(4, '0'));
}
