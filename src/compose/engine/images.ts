/**
 * Makes sure every service has its image before containers are made: pull by pull_policy, build
 * services with `build:`, as `up`, `create`, `run`, `build` and `pull` need.
 *
 * CONTRACT (issue 14): the signature is what `up` codes against; the body here is a first,
 * minimal version (pull when missing) that the images' owner completes.
 */
import type { ComposeProject } from '../types.js';
import type { ComposeContext } from './types.js';
import { pathName } from '../../cli/client.js';

export interface EnsureImagesOptions {
  /** `up --build`: build services with a build section even when their image exists. */
  build?: boolean;
  /** `up --no-build`: never build. */
  noBuild?: boolean;
  /** `up --pull always|missing|never|build` overriding pull_policy. */
  pull?: string;
  quietPull?: boolean;
}

/** The image name a service's containers use: `image:`, else `<project>-<service>` for a build. */
export function serviceImageName(project: ComposeProject, service: string): string {
  const svc = project.services[service]!;
  return svc.image ?? `${project.name}-${service}`;
}

/**
 * Ensures images for `services` (names in the project). Resolves with each service's image ID
 * (sha256:...), which `up` writes in the image label and compares to decide recreation.
 */
export async function ensureImages(ctx: ComposeContext, project: ComposeProject, services: string[], _opts: EnsureImagesOptions = {}): Promise<Map<string, string>> {
  const ids = new Map<string, string>();
  for (const name of services) {
    const image = serviceImageName(project, name);
    try {
      const info = await ctx.client.json<{ Id: string }>('GET', `/images/${pathName(image)}/json`);
      ids.set(name, info.Id);
    } catch {
      const res = await ctx.client.request('POST', '/images/create', { query: { fromImage: image } });
      for await (const _ of res) void _;
      const info = await ctx.client.json<{ Id: string }>('GET', `/images/${pathName(image)}/json`);
      ids.set(name, info.Id);
    }
  }
  return ids;
}
