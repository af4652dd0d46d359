import type { RequestContext } from './http.js';
import { invalidArgument } from '../lib/errors.js';

export type Handler = (ctx: RequestContext) => Promise<void> | void;

interface Route {
  method: string;
  pattern: RegExp;
  names: string[];
  handler: Handler;
}

/**
 * Maps METHOD + path to a handler. Patterns use {param} for one path segment and {param*} for a
 * parameter that may contain slashes (image names such as localhost:5000/team/app).
 */
export class Router {
  private readonly routes: Route[] = [];

  add(method: string, path: string, handler: Handler): this {
    const names: string[] = [];
    const source = path.replace(/\{(\w+)(\*?)\}/g, (_m, name: string, greedy: string) => {
      names.push(name);
      return greedy ? '(.+)' : '([^/]+)';
    });
    this.routes.push({ method, pattern: new RegExp(`^${source}/?$`), names, handler });
    return this;
  }

  get(path: string, h: Handler) {
    return this.add('GET', path, h);
  }
  post(path: string, h: Handler) {
    return this.add('POST', path, h);
  }
  put(path: string, h: Handler) {
    return this.add('PUT', path, h);
  }
  delete(path: string, h: Handler) {
    return this.add('DELETE', path, h);
  }
  head(path: string, h: Handler) {
    return this.add('HEAD', path, h);
  }

  /** The handler for a request, or 'method' if the path exists under another method, or undefined. */
  match(method: string, path: string): { handler: Handler; params: Record<string, string> } | 'method' | undefined {
    let pathMatched = false;
    for (const route of this.routes) {
      const m = route.pattern.exec(path);
      if (!m) continue;
      pathMatched = true;
      if (route.method !== method) continue;
      const params: Record<string, string> = {};
      route.names.forEach((name, i) => (params[name] = decodeSegment(m[i + 1]!)));
      return { handler: route.handler, params };
    }
    return pathMatched ? 'method' : undefined;
  }
}

/** A path parameter without its %-escapes; a malformed escape (`%zz`) is the client's error. */
function decodeSegment(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw invalidArgument(`invalid escape in URL path: ${raw}`);
  }
}
