/**
 * Build arguments as Docker's classic builder scopes them: `--build-arg` values override ARG defaults;
 * an ARG without a default in a stage takes the value of the ARG of the same name before the first FROM;
 * only declared args (and the predefined proxy args, when given) reach RUN's environment; ENV wins over
 * ARG in expansion; proxy args stay out of the image history unless declared.
 */
export const PROXY_ARGS = new Set(['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy']);

/** Build-wide: what the user gave, the meta args, and which given args some ARG consumed. */
export class BuildArgsRoot {
  readonly given: Map<string, string>;
  readonly meta = new Map<string, string | undefined>();
  private readonly consumed = new Set<string>();

  constructor(given: Record<string, string | null>) {
    this.given = new Map(Object.entries(given).filter((e): e is [string, string] => e[1] !== null));
  }

  declareMeta(key: string, defaultValue: string | undefined): void {
    this.consumed.add(key);
    this.meta.set(key, this.given.get(key) ?? defaultValue);
  }

  /** Expansion env for FROM lines: the meta args only. */
  metaLookup(name: string): string | undefined {
    return this.meta.get(name);
  }

  stage(): StageArgs {
    return new StageArgs(this, new Map());
  }

  markConsumed(key: string): void {
    this.consumed.add(key);
  }

  /** Given args no ARG declared (proxy args are predefined), sorted: Docker's "were not consumed" warning. */
  unconsumed(): string[] {
    return [...this.given.keys()].filter((k) => !this.consumed.has(k) && !PROXY_ARGS.has(k)).sort();
  }
}

/** One stage's declared args. */
export class StageArgs {
  constructor(
    private readonly root: BuildArgsRoot,
    private readonly declared: Map<string, string | undefined>,
  ) {}

  declare(key: string, defaultValue: string | undefined): void {
    this.root.markConsumed(key);
    const value = this.root.given.get(key) ?? (defaultValue !== undefined ? defaultValue : this.root.meta.get(key));
    this.declared.set(key, value);
  }

  /** Declared args with a value that ENV does not shadow, plus given proxy args: what RUN's environment gets. */
  runEnv(env: string[]): Array<[string, string]> {
    const envKeys = new Set(env.map((e) => e.split('=')[0]));
    const out: Array<[string, string]> = [];
    for (const [k, v] of this.declared) if (v !== undefined && !envKeys.has(k)) out.push([k, v]);
    for (const [k, v] of this.root.given) if (PROXY_ARGS.has(k) && !this.declared.has(k) && !envKeys.has(k)) out.push([k, v]);
    return out;
  }

  /** The args the history's `|N a=b` prefix names (declared ones only), sorted. */
  historyArgs(env: string[]): string[] {
    return this.runEnv(env)
      .filter(([k]) => this.declared.has(k))
      .map(([k, v]) => `${k}=${v}`)
      .sort();
  }

  /** Variable lookup for expansion: ENV first, then declared args. */
  lookup(env: string[]): (name: string) => string | undefined {
    const envMap = new Map<string, string>();
    for (const e of env) {
      const i = e.indexOf('=');
      envMap.set(i < 0 ? e : e.slice(0, i), i < 0 ? '' : e.slice(i + 1));
    }
    return (name) => (envMap.has(name) ? envMap.get(name) : this.declared.get(name));
  }
}
