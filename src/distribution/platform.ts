/**
 * Platforms as containerd's `platforms` package normalises them (x86_64 → amd64, aarch64 → arm64,
 * armhf → arm/v7, ...), and the choice of one manifest from a manifest list or OCI index.
 */
import type { Descriptor, Platform } from '../oci/manifest.js';
import { invalidArgument, notFound } from '../lib/errors.js';

export interface PlatformSpec {
  os: string;
  architecture: string;
  variant?: string;
}

export function normalizePlatform(p: PlatformSpec): PlatformSpec {
  const os = (p.os || 'linux').toLowerCase();
  let arch = p.architecture.toLowerCase();
  let variant = p.variant?.toLowerCase() || undefined;
  switch (arch) {
    case 'i386':
      arch = '386';
      variant = undefined;
      break;
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      arch = 'amd64';
      if (variant === 'v1') variant = undefined;
      break;
    case 'aarch64':
    case 'arm64':
      arch = 'arm64';
      if (variant === '8' || variant === 'v8' || variant === 'v8.0') variant = undefined;
      break;
    case 'armhf':
      arch = 'arm';
      variant = 'v7';
      break;
    case 'armel':
      arch = 'arm';
      variant = 'v6';
      break;
    case 'arm':
      if (!variant || variant === '7') variant = 'v7';
      else if (/^[5-8]$/.test(variant)) variant = `v${variant}`;
      break;
  }
  return { os, architecture: arch, ...(variant ? { variant } : {}) };
}

export function hostPlatform(): PlatformSpec {
  const map: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
  return normalizePlatform({ os: 'linux', architecture: map[process.arch] ?? process.arch });
}

/** Parses `os[/arch[/variant]]` as --platform gives it. */
export function parsePlatformSpec(s: string): PlatformSpec {
  const parts = s.trim().split('/');
  if (!parts[0] || parts.length > 3 || parts.some((x) => !/^[A-Za-z0-9_.-]+$/.test(x))) {
    throw invalidArgument(`"${s}": unknown operating system or architecture: invalid argument`);
  }
  if (parts.length === 1) {
    // A lone word is an os when it is one, else an architecture of the host's os (containerd's rule).
    const word = parts[0]!.toLowerCase();
    if (['linux', 'windows', 'darwin', 'freebsd'].includes(word)) return normalizePlatform({ ...hostPlatform(), os: word });
    return normalizePlatform({ os: 'linux', architecture: word });
  }
  return normalizePlatform({ os: parts[0]!, architecture: parts[1]!, variant: parts[2] });
}

export function formatPlatform(p: PlatformSpec): string {
  return [p.os, p.architecture, ...(p.variant ? [p.variant] : [])].join('/');
}

/** How well `have` serves `want`: 0 exact, higher worse (older arm variants), undefined not at all. */
function rank(have: PlatformSpec, want: PlatformSpec): number | undefined {
  const h = normalizePlatform(have);
  const w = normalizePlatform(want);
  if (h.os !== w.os || h.architecture !== w.architecture) return undefined;
  if (h.variant === w.variant) return 0;
  if (w.architecture === 'arm' && h.variant && w.variant) {
    // arm/v7 runs v6 and v5 images, as containerd's matcher allows.
    const hv = Number(h.variant.slice(1));
    const wv = Number(w.variant.slice(1));
    if (hv < wv) return wv - hv;
  }
  return undefined;
}

/** True when `have` is what `want` asks for (or runs on it). */
export function platformMatches(have: PlatformSpec, want: PlatformSpec): boolean {
  return rank(have, want) !== undefined;
}

/** Picks the manifest for `want` from an index's entries; attestation manifests never count. */
export function selectManifest(entries: Descriptor[], want: PlatformSpec): Descriptor {
  let best: { d: Descriptor; r: number } | undefined;
  for (const d of entries) {
    if (!d.platform || d.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest') continue;
    const r = rank(asSpec(d.platform), want);
    if (r !== undefined && (!best || r < best.r)) best = { d, r };
  }
  if (!best) throw notFound(`no matching manifest for ${formatPlatform(normalizePlatform(want))} in the manifest list entries`);
  return best.d;
}

export function asSpec(p: Platform | PlatformSpec): PlatformSpec {
  // dockerd's field order (ocispec.Platform): architecture, os, variant.
  return { architecture: p.architecture, os: p.os, ...(p.variant ? { variant: p.variant } : {}) };
}
