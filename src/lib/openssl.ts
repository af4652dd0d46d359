/**
 * Adapter for the `openssl` program (Debian package `openssl`), which signs the X.509 certificates
 * that Node's crypto cannot. The only module that runs it.
 *
 * Every call goes through execFile (no shell), so arguments are never interpreted; stderr is
 * captured into the thrown OpensslError. Callers pass absolute paths and validated subject names
 * (a name reaches `-subj` and the config file, so it must not contain '/', '=', newlines or quotes).
 * Works with OpenSSL 1.1.1 and 3.x.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { findExecutable } from './which.js';

export class OpensslError extends Error {
  constructor(
    message: string,
    readonly stderr: string,
  ) {
    super(message);
    this.name = 'OpensslError';
  }
}

/** Runs `openssl ARGS...`; resolves with stdout, rejects with openssl's own words. */
export function openssl(args: string[]): Promise<string> {
  const bin = findExecutable('openssl');
  if (!bin) return Promise.reject(new OpensslError('openssl not found: install the "openssl" package', ''));
  return new Promise((resolve, reject) => {
    execFile(bin, args, { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024, env: { ...process.env, LC_ALL: 'C' } }, (err, stdout, stderr) => {
      if (err) {
        const why = stderr.trim().split('\n').filter(Boolean).slice(0, 4).join('; ') || err.message;
        reject(new OpensslError(`openssl ${args[0]}: ${why}`, stderr));
        return;
      }
      resolve(stdout);
    });
  });
}

export type KeyType = 'rsa' | 'ecdsa';

/** A new private key (PKCS#8 PEM) in `file`: RSA 4096 bits or ECDSA P-256. */
export async function generateKey(file: string, type: KeyType): Promise<void> {
  const algo = type === 'rsa' ? ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:4096'] : ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'];
  await openssl(['genpkey', ...algo, '-out', file]);
}

/** A random positive 128-bit serial number, as openssl's -set_serial takes it. */
function serial(): string {
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f || 0x01;
  return '0x' + b.toString('hex');
}

/**
 * A self-signed certificate (a CA) for `key`, with the extensions of section `extensions` in the
 * openssl config file `config`.
 */
export async function selfSign(o: { key: string; out: string; commonName: string; days: number; config: string; extensions: string }): Promise<void> {
  await openssl([
    'req', '-new', '-x509', '-config', o.config, '-extensions', o.extensions, '-key', o.key,
    '-subj', `/CN=${o.commonName}`, '-days', String(o.days), '-sha256', '-set_serial', serial(), '-out', o.out,
  ]);
}

/** A certificate for `key` signed by the CA, with the extensions of section `extensions`. */
export async function issue(o: {
  key: string;
  csr: string;
  out: string;
  commonName: string;
  days: number;
  caCert: string;
  caKey: string;
  config: string;
  extensions: string;
}): Promise<void> {
  await openssl(['req', '-new', '-config', o.config, '-key', o.key, '-subj', `/CN=${o.commonName}`, '-out', o.csr]);
  await openssl([
    'x509', '-req', '-in', o.csr, '-CA', o.caCert, '-CAkey', o.caKey, '-set_serial', serial(), '-days', String(o.days), '-sha256',
    '-extfile', o.config, '-extensions', o.extensions, '-out', o.out,
  ]);
}

/** Checks that `cert` chains to `caCert` for `purpose` ("sslserver" or "sslclient"). */
export async function verify(caCert: string, cert: string, purpose: 'sslserver' | 'sslclient'): Promise<void> {
  await openssl(['verify', '-CAfile', caCert, '-purpose', purpose, cert]);
}

/**
 * A subject as openssl's -subj takes it, from [attribute, value] pairs in the order they are to be
 * encoded. Values must not contain '/', '=', '\', newlines or quotes (refused here).
 */
export function subjectArg(rdns: Array<[string, string]>): string {
  for (const [, v] of rdns) {
    if (!v || /[/=\\\n\r"'+,]/.test(v)) throw new OpensslError(`invalid subject name value: ${JSON.stringify(v)}`, '');
  }
  return rdns.map(([k, v]) => `/${k}=${v}`).join('');
}

/** A certificate signing request for `key` with subject CN=`commonName`. */
export async function createRequest(o: { key: string; out: string; commonName: string; config: string }): Promise<void> {
  await openssl(['req', '-new', '-config', o.config, '-key', o.key, '-subj', subjectArg([['CN', o.commonName]]), '-out', o.out]);
}

/** A request made from an existing certificate (its subject and key), e.g. to cross-sign a CA. */
export async function requestFromCert(o: { cert: string; key: string; out: string }): Promise<void> {
  await openssl(['x509', '-x509toreq', '-in', o.cert, '-signkey', o.key, '-out', o.out]);
}

/**
 * Signs the request `csr` (its self-signature is checked) as the CA. The certificate gets `subject`
 * when given (the signer decides the identity, not the requester), else the request's own, and
 * only the extensions of section `extensions` (none are copied from the request). OpenSSL 3.
 */
export async function signRequest(o: {
  csr: string;
  out: string;
  caCert: string;
  caKey: string;
  days: number;
  config: string;
  extensions: string;
  subject?: Array<[string, string]>;
}): Promise<void> {
  await openssl([
    'x509', '-req', '-in', o.csr, ...(o.subject ? ['-subj', subjectArg(o.subject)] : []), '-CA', o.caCert, '-CAkey', o.caKey,
    '-set_serial', serial(), '-days', String(o.days), '-sha256', '-extfile', o.config, '-extensions', o.extensions, '-out', o.out,
  ]);
}
