/**
 * A stack's namespace, as the docker CLI's convert.Namespace: every object a stack makes is named
 * `<stack>_<name>` and labelled `com.docker.stack.namespace=<stack>`, which is how `stack ls/ps/rm`
 * find them again (there is no stack object on the daemon).
 */

/** The label every object of a stack carries. */
export const LABEL_NAMESPACE = 'com.docker.stack.namespace';
/** The image as the compose file names it, kept on the service (its spec may hold a digest-pinned one). */
export const LABEL_IMAGE = 'com.docker.stack.image';

export class StackNamespace {
  constructor(readonly name: string) {}

  scope(name: string): string {
    return `${this.name}_${name}`;
  }

  descope(name: string): string {
    return name.startsWith(`${this.name}_`) ? name.slice(this.name.length + 1) : name;
  }

  /** `labels` (copied) with the namespace label added. */
  labels(labels: Record<string, string | null | undefined> | undefined): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(labels ?? {})) out[k] = v ?? '';
    out[LABEL_NAMESPACE] = this.name;
    return out;
  }
}

/** docker's validateStackName: empty, or only whitespace and quotes, is refused. */
export function checkStackName(name: string): string | undefined {
  return name.replace(/^[\s"']+|[\s"']+$/g, '') === '' ? `invalid stack name: ${JSON.stringify(name)}` : undefined;
}
