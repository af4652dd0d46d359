/** `compose images`: the images the project's containers use, in docker compose's columns. */
import type { CommandDef } from '../../args.js';
import { pathName } from '../../client.js';
import { CliError, DaemonError } from '../../errors.js';
import { familiarName, parseNormalizedNamed } from '../../reference.js';
import { tabwrite } from '../../tabwriter.js';
import { truncateId } from '../../text.js';
import { humanSizeWithPrecision, timeAgo } from '../../units.js';
import { composeContext, toProjectName } from './project-options.js';
import { canonicalName, projectContainers, serviceOf, type ContainerSummary } from './project-containers.js';

export interface ContainerImage {
  container: string;
  id: string;
  repository: string;
  tag: string;
  /** containerd's platforms.Format: "linux/amd64", "unknown" without an OS. */
  platform: string;
  size: number;
  /** ms since the epoch; undefined when the image is gone. */
  created?: number;
  createdText?: string;
}

interface ImageInspect {
  Id: string;
  Size?: number;
  Created?: string;
  Os?: string;
  Architecture?: string;
  Variant?: string;
}

function platformText(os?: string, arch?: string, variant?: string): string {
  if (!os) return 'unknown';
  return [os, arch, variant].filter(Boolean).join('/');
}

/** Repository and tag of the reference a container was made from (none for an image ID). */
function repoTag(image: string): { repository: string; tag: string } {
  if (/^(sha256:)?[0-9a-f]{64}$/.test(image)) return { repository: '', tag: '' };
  try {
    const ref = parseNormalizedNamed(image);
    // ParseDockerRef: a bare name means :latest.
    return { repository: familiarName(ref), tag: ref.tag ?? (ref.digest ? '' : 'latest') };
  } catch {
    return { repository: '', tag: '' };
  }
}

export function formatImages(images: ContainerImage[], format: string, quiet: boolean, now: number): string {
  const sorted = [...images].sort((a, b) => (a.container < b.container ? -1 : a.container > b.container ? 1 : 0));
  if (quiet) {
    const ids: string[] = [];
    for (const i of sorted) {
      const id = i.id.replace(/^[^:]*:/, '');
      if (!ids.includes(id)) ids.push(id);
    }
    return ids.map((id) => `${id}\n`).join('');
  }
  if (format === 'json') {
    const list = sorted.map((i) => ({
      ID: i.id,
      ContainerName: i.container,
      Repository: i.repository,
      Tag: i.tag,
      Platform: i.platform,
      Size: i.size,
      ...(i.createdText !== undefined && { Created: i.createdText }),
    }));
    return (list.length ? JSON.stringify(list) : 'null') + '\n';
  }
  if (format !== '' && format !== 'table' && format !== 'pretty') throw new CliError(`format value ${JSON.stringify(format)} could not be parsed: parsing failed`);
  const lines = ['CONTAINER\tREPOSITORY\tTAG\tPLATFORM\tIMAGE ID\tSIZE\tCREATED'];
  for (const i of sorted) {
    const created = i.created !== undefined ? timeAgo(i.created, now) : 'N/A';
    lines.push([i.container, i.repository || '<none>', i.tag || '<none>', i.platform, truncateId(i.id), humanSizeWithPrecision(i.size, 3), created].join('\t'));
  }
  return tabwrite(lines.join('\n') + '\n', { minWidth: 20, tabWidth: 1, padding: 3, padChar: ' ' });
}

async function containerImage(client: ReturnType<typeof composeContext>['client'], c: ContainerSummary): Promise<ContainerImage> {
  const image = c.Image ?? '';
  const { repository, tag } = repoTag(image);
  const container = canonicalName(c);
  try {
    const img = await client.json<ImageInspect>('GET', `/images/${pathName(image)}/json`);
    return {
      container,
      id: img.Id,
      repository,
      tag,
      platform: platformText(img.Os, img.Architecture, img.Variant),
      size: img.Size ?? 0,
      created: img.Created ? Date.parse(img.Created) : undefined,
      createdText: img.Created,
    };
  } catch (err) {
    if (!(err instanceof DaemonError && err.status === 404)) throw err;
    return { container, id: c.ImageID ?? '', repository, tag, platform: 'unknown', size: 0 };
  }
}

export const imagesCommand: CommandDef = {
  name: 'images',
  usage: '[OPTIONS] [SERVICE...]',
  short: 'List images used by the created containers',
  flags: [
    { name: 'format', type: 'string', default: 'table', usage: 'Format the output. Values: [table | json]' },
    { name: 'quiet', short: 'q', type: 'bool', usage: 'Only display IDs' },
  ],
  run: async (inv, cli) => {
    const services = inv.args;
    const name = toProjectName(inv, cli);
    const ctx = composeContext(inv, cli);
    let containers = await projectContainers(ctx, name, { all: true });
    if (services.length) containers = containers.filter((c) => services.includes(serviceOf(c)));
    const images = await Promise.all(containers.map((c) => containerImage(ctx.client, c)));
    cli.out.write(formatImages(images, inv.flags.string('format'), inv.flags.bool('quiet'), cli.now()));
  },
};
