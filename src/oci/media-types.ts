/**
 * The media types of the image and distribution formats Berth reads and writes: Docker's schema 2 and
 * the OCI image spec. The registry client and the registry server both use these names.
 */
export const MediaType = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerForeignLayer: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  /** Schema 1 (signed and unsigned): refused, as Docker 28 refuses it. */
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  ociNondistributableLayer: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
  ociNondistributableLayerGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
} as const;

/** The manifest kinds a registry stores under a tag or digest (the Accept list of a pull). */
export const MANIFEST_MEDIA_TYPES: readonly string[] = [
  MediaType.ociIndex,
  MediaType.dockerManifestList,
  MediaType.ociManifest,
  MediaType.dockerManifest,
];

/** Index kinds: a list of manifests, one per platform. */
export const INDEX_MEDIA_TYPES: readonly string[] = [MediaType.ociIndex, MediaType.dockerManifestList];

/** Docker's limit on a manifest's size (4 MiB); a larger one is refused before it is parsed. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export function isIndexMediaType(mediaType: string | undefined): boolean {
  return mediaType !== undefined && INDEX_MEDIA_TYPES.includes(mediaType);
}

export function isManifestMediaType(mediaType: string | undefined): boolean {
  return mediaType !== undefined && MANIFEST_MEDIA_TYPES.includes(mediaType);
}

/** How a layer blob is compressed, from its media type. */
export function layerCompression(mediaType: string): 'gzip' | 'zstd' | 'none' | undefined {
  if (mediaType === MediaType.dockerLayer || mediaType === MediaType.dockerForeignLayer) return 'gzip';
  if (mediaType === MediaType.ociLayerGzip || mediaType === MediaType.ociNondistributableLayerGzip) return 'gzip';
  if (mediaType === MediaType.ociLayerZstd) return 'zstd';
  if (mediaType === MediaType.ociLayer || mediaType === MediaType.ociNondistributableLayer) return 'none';
  return undefined;
}
