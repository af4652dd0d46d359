/**
 * `berth certs create`: the CA, server and client certificates for remote access with
 * --tlsverify, made locally (it never contacts the daemon), and the flags to use them.
 * Docker has no such command; its guide has a dozen openssl steps instead.
 */
import path from 'node:path';
import type { CommandDef } from '../args.js';
import { CliError } from '../errors.js';
import type { Cli } from '../streams.js';
import { createCerts, defaultHostName, CertsError, type CertsResult } from '../../tools/certs.js';
import { OpensslError, type KeyType } from '../../lib/openssl.js';

const createCommand: CommandDef = {
  name: 'create',
  usage: '[OPTIONS]',
  short: 'Create a CA, a server and a client certificate for berthd --tlsverify',
  args: { max: 0 },
  flags: [
    { name: 'host', type: 'list', usage: "DNS name or IP address clients use to reach the daemon (default: this machine's name)" },
    { name: 'ip', type: 'list', usage: 'IP address clients use to reach the daemon' },
    { name: 'out', short: 'o', type: 'string', default: '.', usage: 'Directory to write the files to' },
    { name: 'days', type: 'int', default: 365, usage: 'Number of days the certificates are valid' },
    { name: 'key-type', type: 'string', default: 'rsa', usage: 'Key algorithm: "rsa" (4096 bits) or "ecdsa" (P-256)' },
    { name: 'force', short: 'f', type: 'bool', usage: 'Replace certificates already in the directory' },
  ],
  run: async ({ flags }, cli) => {
    const keyType = flags.string('key-type');
    if (keyType !== 'rsa' && keyType !== 'ecdsa') throw new CliError(`invalid key type: ${JSON.stringify(keyType)}: use "rsa" or "ecdsa"`);
    let hosts = flags.list('host');
    if (!hosts.length && !flags.list('ip').length) {
      const name = defaultHostName();
      hosts = name ? [name] : [];
    }
    let result: CertsResult;
    try {
      result = await createCerts({ hosts, ips: flags.list('ip'), out: flags.string('out'), days: flags.int('days'), keyType: keyType as KeyType, force: flags.bool('force') });
    } catch (err) {
      if (err instanceof CertsError || err instanceof OpensslError) throw new CliError(err.message);
      throw err;
    }
    report(cli, result);
  },
};

function report(cli: Cli, r: CertsResult): void {
  const f = (name: string) => path.join(r.dir, name);
  const host = r.serverName.includes(':') ? `[${r.serverName}]` : r.serverName;
  cli.out.write(`Created in ${r.dir}:
  ca.pem                           the CA certificate: the daemon and every client need it
  ca-key.pem                       the CA key: it can sign more certificates; keep it safe, ideally offline
  server-cert.pem, server-key.pem  the daemon's certificate, valid for ${r.altNames.join(', ')}
  cert.pem, key.pem                a client certificate (copy with ca.pem to ~/.docker on the client)

Start the daemon (the unix socket stays for local use):
  berthd --tlsverify --tlscacert=${f('ca.pem')} --tlscert=${f('server-cert.pem')} --tlskey=${f('server-key.pem')} -H=unix:///run/berth/berth.sock -H=tcp://0.0.0.0:2376

Connect with berth or docker:
  berth --tlsverify --tlscacert=${f('ca.pem')} --tlscert=${f('cert.pem')} --tlskey=${f('key.pem')} -H=tcp://${host}:2376 version
or set:
  export DOCKER_HOST=tcp://${host}:2376 DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH=${r.dir}
`);
}

export const certsCommand: CommandDef = {
  name: 'certs',
  short: 'Make TLS certificates for remote access',
  group: 'management',
  subcommands: [createCommand],
};
