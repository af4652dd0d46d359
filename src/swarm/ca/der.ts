/**
 * Just enough DER reading to take the raw issuer and subject names and the SubjectPublicKeyInfo out
 * of a certificate (node:crypto's X509Certificate gives them only as text), which is what Docker's
 * TLSInfo shows (CertIssuerSubject, CertIssuerPublicKey: base64 of those DER bytes).
 */

interface Tlv {
  tag: number;
  /** Offsets of the whole element (header included) and of its content. */
  start: number;
  contentStart: number;
  end: number;
}

function readTlv(buf: Buffer, at: number): Tlv {
  if (at + 2 > buf.length) throw new Error('truncated DER');
  const tag = buf[at]!;
  let len = buf[at + 1]!;
  let p = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n < 1 || n > 4 || p + n > buf.length) throw new Error('bad DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p + i]!;
    p += n;
  }
  if (p + len > buf.length) throw new Error('truncated DER');
  return { tag, start: at, contentStart: p, end: p + len };
}

/** The children of a constructed element. */
function children(buf: Buffer, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let p = parent.contentStart; p < parent.end; ) {
    const t = readTlv(buf, p);
    out.push(t);
    p = t.end;
  }
  return out;
}

export interface CertificateParts {
  issuer: Buffer;
  subject: Buffer;
  subjectPublicKeyInfo: Buffer;
}

/** The raw issuer Name, subject Name and SubjectPublicKeyInfo of a DER certificate. */
export function certificateParts(der: Buffer): CertificateParts {
  const cert = readTlv(der, 0);
  const tbs = children(der, cert)[0];
  if (!tbs) throw new Error('not a certificate');
  let fields = children(der, tbs);
  if (fields[0]?.tag === 0xa0) fields = fields.slice(1); // [0] version
  // serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo
  const [, , issuer, , subject, spki] = fields;
  if (!issuer || !subject || !spki) throw new Error('not a certificate');
  const slice = (t: Tlv) => Buffer.from(der.subarray(t.start, t.end));
  return { issuer: slice(issuer), subject: slice(subject), subjectPublicKeyInfo: slice(spki) };
}
