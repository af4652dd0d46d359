/**
 * The CLI's TLS settings, as docker's: global --tls, --tlsverify, --tlscacert, --tlscert, --tlskey;
 * DOCKER_TLS and DOCKER_TLS_VERIFY (any non-empty value) switch TLS and verification on;
 * DOCKER_CERT_PATH (else DOCKER_CONFIG, else ~/.docker) holds ca.pem, cert.pem and key.pem.
 *
 *  - --tlsverify given at all (even =false) or DOCKER_TLS_VERIFY turns TLS on.
 *  - Without verification the daemon's certificate is not checked (docker's --tls alone).
 *  - The CA file must exist whenever TLS is on (docker reads it even when it does not verify);
 *    cert.pem and key.pem are sent when both exist, or must exist when named by flag.
 *
 * TLS applies to tcp:// hosts only; a unix socket ignores it, as docker does.
 */
import https from 'node:https';
import http from 'node:http';
import { readFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FlagDef, FlagValues } from './args.js';
import { CliError } from './errors.js';

export function certDir(env: NodeJS.ProcessEnv): string {
  return env.DOCKER_CERT_PATH || env.DOCKER_CONFIG || path.join(os.homedir(), '.docker');
}

/** Global flags with docker's names, help texts and defaults. */
export function tlsGlobalFlags(env: NodeJS.ProcessEnv): FlagDef[] {
  const dir = certDir(env);
  return [
    { name: 'tls', type: 'bool', default: !!env.DOCKER_TLS, usage: 'Use TLS; implied by --tlsverify' },
    { name: 'tlscacert', type: 'string', default: path.join(dir, 'ca.pem'), usage: 'Trust certs signed only by this CA' },
    { name: 'tlscert', type: 'string', default: path.join(dir, 'cert.pem'), usage: 'Path to TLS certificate file' },
    { name: 'tlskey', type: 'string', default: path.join(dir, 'key.pem'), usage: 'Path to TLS key file' },
    { name: 'tlsverify', type: 'bool', default: !!env.DOCKER_TLS_VERIFY, usage: 'Use TLS and verify the remote' },
  ];
}

/** What a TLS connection to the daemon uses; undefined when TLS is off. */
export interface ClientTls {
  /** Check the daemon's certificate (against `ca`, else the system's roots) and name. */
  verify: boolean;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/** docker's SetDefaultOptions + TLSDataFromFiles: the files are read now, so errors show at once. */
export function clientTls(globals: FlagValues): ClientTls | undefined {
  const verify = globals.bool('tlsverify');
  const on = globals.bool('tls') || verify || globals.changed('tlsverify');
  if (!on) return undefined;
  const read = (file: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'no such file or directory' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
      throw new CliError(`Failed to initialize: unable to resolve berth endpoint: open ${file}: ${why}`);
    }
  };
  // Default client certificate files that do not exist are simply not used.
  const optional = (name: string): string => {
    const file = globals.string(name);
    return globals.changed(name) || existsSync(file) ? file : '';
  };
  const caFile = globals.string('tlscacert');
  const certFile = optional('tlscert');
  const keyFile = optional('tlskey');
  const result: ClientTls = { verify };
  if (caFile) result.ca = read(caFile);
  if (certFile) result.cert = read(certFile);
  if (keyFile) result.key = read(keyFile);
  if (result.ca && !result.ca.includes('-----BEGIN CERTIFICATE-----')) {
    throw new CliError('Failed to initialize: unable to resolve berth endpoint: failed to retrieve context tls info: ca.pem seems invalid');
  }
  if (!(result.cert && result.key)) {
    delete result.cert;
    delete result.key;
  }
  return result;
}

/** A connection pool for the daemon: https when TLS is on. */
export function newAgent(tls: ClientTls | undefined, keepAlive: boolean): http.Agent {
  return tls ? new https.Agent({ keepAlive }) : new http.Agent({ keepAlive });
}

/** Options for https.request. */
export function tlsRequestOptions(tls: ClientTls): https.RequestOptions {
  return {
    ...(tls.ca && tls.verify ? { ca: tls.ca } : {}),
    ...(tls.cert && tls.key ? { cert: tls.cert, key: tls.key } : {}),
    rejectUnauthorized: tls.verify,
    minVersion: 'TLSv1.2',
  };
}

/** Node's TLS failures in the words Go's crypto/tls uses, which is what docker prints. */
export function tlsErrorText(err: NodeJS.ErrnoException): string | undefined {
  switch (err.code) {
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'UNABLE_TO_GET_ISSUER_CERT':
      return 'tls: failed to verify certificate: x509: certificate signed by unknown authority';
    case 'CERT_HAS_EXPIRED':
      return 'tls: failed to verify certificate: x509: certificate has expired or is not yet valid';
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return `tls: failed to verify certificate: x509: ${err.message}`;
    case 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED':
      return 'remote error: tls: certificate required';
    case 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA':
      return 'remote error: tls: unknown certificate authority';
    case 'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE':
      return 'remote error: tls: bad certificate';
    case 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE':
      return 'remote error: tls: handshake failure';
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
      return 'tls: first record does not look like a TLS handshake';
    default:
      return undefined;
  }
}
