/** `compose port`: the public address of a service container's port, as docker compose prints it. */
import type { CommandDef } from '../../args.js';
import { CliError } from '../../errors.js';
import { composeContext, toProjectName } from './project-options.js';
import { canonicalName, type ContainerSummary } from './project-containers.js';
import { specifiedContainer } from './targets.js';

/** `0.0.0.0:8080`, or docker compose's error naming the ports the container has. */
export function publicPort(c: ContainerSummary, port: number, protocol: string): string {
  const found = (c.Ports ?? []).find((p) => p.PrivatePort === port && p.Type === protocol);
  if (found) return `${found.IP ?? ''}:${found.PublicPort ?? 0}`;
  const has = (c.Ports ?? []).map((p) => `${p.PrivatePort}/${p.Type}`).join(', ');
  throw new CliError(`no port ${port}/${protocol} for container ${canonicalName(c)}: ${has}`);
}

export const portCommand: CommandDef = {
  name: 'port',
  usage: '[OPTIONS] SERVICE PRIVATE_PORT',
  short: 'Print the public port for a port binding',
  args: { min: 2 },
  flags: [
    { name: 'index', type: 'int', usage: 'Index of the container if service has multiple replicas' },
    { name: 'protocol', type: 'string', default: 'tcp', usage: 'tcp or udp' },
  ],
  run: async (inv, cli) => {
    const [service, portText] = inv.args as [string, string];
    if (!/^\d+$/.test(portText)) throw new CliError(`strconv.ParseUint: parsing ${JSON.stringify(portText)}: invalid syntax`);
    const port = Number(portText);
    if (port > 65535) throw new CliError(`strconv.ParseUint: parsing ${JSON.stringify(portText)}: value out of range`);
    const name = toProjectName(inv, cli);
    const ctx = composeContext(inv, cli);
    const c = await specifiedContainer(ctx, name, service, { index: inv.flags.int('index') || undefined });
    cli.out.write(publicPort(c, port, inv.flags.string('protocol').toLowerCase()) + '\n');
  },
};
