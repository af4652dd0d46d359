/**
 * One entry of Docker's json-file log, byte for byte as dockerd writes it:
 *   {"log":"text\n","stream":"stdout","attrs":{...},"time":"2026-11-28T13:50:08.027479552Z"}\n
 * Field order log, stream, attrs (only when there are some), time. The log text is escaped as Go's
 * encoder does (\" \\ \n \r \t, other control bytes and < > & as \u00XX, U+2028/U+2029 escaped,
 * invalid UTF-8 as U+FFFD); the time is Go's RFC3339Nano in UTC, trailing zeros of the fraction
 * dropped. A line that did not end (a partial message) is written without its "\n", as dockerd does.
 */

/** Go's time.RFC3339Nano of a UTC time given as seconds since the epoch and nanoseconds. */
export function goRfc3339Nano(sec: number, nsec: number): string {
  const frac = String(nsec).padStart(9, '0').replace(/0+$/, '');
  return `${new Date(sec * 1000).toISOString().slice(0, 19)}${frac ? `.${frac}` : ''}Z`;
}

const HEX = '0123456789abcdef';

/** A JSON string as Go's encoding/json (HTML-safe) writes it. */
export function goJsonString(text: string): string {
  let out = '"';
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    let esc: string | undefined;
    if (c === 0x22) esc = '\\"';
    else if (c === 0x5c) esc = '\\\\';
    else if (c === 0x0a) esc = '\\n';
    else if (c === 0x0d) esc = '\\r';
    else if (c === 0x09) esc = '\\t';
    else if (c < 0x20 || c === 0x3c || c === 0x3e || c === 0x26) esc = `\\u00${HEX[c >> 4]}${HEX[c & 15]}`;
    else if (c === 0x2028 || c === 0x2029) esc = `\\u${c.toString(16)}`;
    if (esc) {
      out += text.slice(start, i) + esc;
      start = i + 1;
    }
  }
  return out + text.slice(start) + '"';
}

export interface JsonLogEntry {
  stream: 'stdout' | 'stderr';
  /** The bytes, ending in \n for a complete line. */
  log: Buffer;
  sec: number;
  nsec: number;
}

/** The attrs object, pre-rendered once per container ('' when there are none). */
export function renderAttrs(attrs: Record<string, string>): string {
  const keys = Object.keys(attrs).sort();
  if (!keys.length) return '';
  return `{${keys.map((k) => `${goJsonString(k)}:${goJsonString(attrs[k]!)}`).join(',')}}`;
}

export function encodeJsonLogLine(e: JsonLogEntry, attrsJson = ''): string {
  // Buffer -> string replaces invalid UTF-8 with U+FFFD, as Go's encoder does.
  const attrs = attrsJson ? `,"attrs":${attrsJson}` : '';
  return `{"log":${goJsonString(e.log.toString('utf8'))},"stream":"${e.stream}"${attrs},"time":"${goRfc3339Nano(e.sec, e.nsec)}"}\n`;
}

/** A parsed entry line; undefined for a line that is not one. */
export function parseJsonLogLine(line: Buffer): { stream: 'stdout' | 'stderr'; log: Buffer; time: string } | undefined {
  let v: unknown;
  try {
    v = JSON.parse(line.toString('utf8'));
  } catch {
    return undefined; // not a JSON log line: skipped
  }
  if (!v || typeof v !== 'object') return undefined;
  const o = v as { log?: unknown; stream?: unknown; time?: unknown };
  if (typeof o.log !== 'string' || typeof o.time !== 'string' || (o.stream !== 'stdout' && o.stream !== 'stderr')) return undefined;
  return { stream: o.stream, log: Buffer.from(o.log, 'utf8'), time: o.time };
}

/**
 * dockerd's extra attributes (logger.Info.ExtraAttributes plus the tag): `labels`/`env` name keys
 * (comma-separated) of the container's labels/environment, `labels-regex`/`env-regex` match them,
 * `tag` is a template over the container ({{.ID}}, {{.FullID}}, {{.Name}}, {{.ImageID}},
 * {{.ImageFullID}}, {{.ImageName}}, {{.DaemonName}}).
 */
export function extraAttributes(
  opts: Record<string, string>,
  c: { id: string; name: string; imageId: string; image: string; labels: Record<string, string>; env: string[] },
): Record<string, string> {
  const attrs: Record<string, string> = {};
  const envMap = new Map<string, string>();
  for (const e of c.env) {
    const i = e.indexOf('=');
    if (i > 0) envMap.set(e.slice(0, i), e.slice(i + 1));
  }
  const byNames = (list: string | undefined, src: Map<string, string>) => {
    for (const k of (list ?? '').split(',').map((s) => s.trim()).filter(Boolean)) if (src.has(k)) attrs[k] = src.get(k)!;
  };
  const byRegex = (re: string | undefined, src: Map<string, string>) => {
    if (!re) return;
    const r = new RegExp(re);
    for (const [k, v] of src) if (r.test(k)) attrs[k] = v;
  };
  const labels = new Map(Object.entries(c.labels));
  byNames(opts.labels, labels);
  byRegex(opts['labels-regex'], labels);
  byNames(opts.env, envMap);
  byRegex(opts['env-regex'], envMap);
  if (opts.tag) {
    const id = c.imageId.replace(/^sha256:/, '');
    const fields: Record<string, string> = {
      ID: c.id.slice(0, 12),
      FullID: c.id,
      Name: c.name,
      ImageID: id.slice(0, 12),
      ImageFullID: id,
      ImageName: c.image,
      DaemonName: 'docker',
    };
    attrs.tag = opts.tag.replace(/\{\{\s*\.(\w+)\s*\}\}/g, (m, f: string) => fields[f] ?? m);
  }
  return attrs;
}
