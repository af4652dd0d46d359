import type { ImageRunConfig } from './changes.js';

/** An image config as stored (Docker / OCI image config JSON). The image id is the sha256 of its bytes. */
export interface ImageConfigJson {
  architecture?: string;
  variant?: string;
  os?: string;
  'os.version'?: string;
  created?: string;
  author?: string;
  comment?: string;
  docker_version?: string;
  config?: ImageRunConfig;
  rootfs: { type: 'layers'; diff_ids: string[] };
  history?: Array<{ created?: string; created_by?: string; author?: string; comment?: string; empty_layer?: boolean }>;
  [key: string]: unknown;
}

/** An image as the services see it: its config, its references and its layer stack. */
export interface Image {
  id: string;
  config: ImageConfigJson;
  /** Chain id of the top layer, or null for an image without layers. */
  topChainId: string | null;
  /** Full reference strings (docker.io/library/busybox:latest, ...@sha256:...). */
  tags: string[];
  digests: string[];
  size: number;
  lastTagTime: string | null;
  /** The image it was committed from (dockerd's image parent), if any. */
  parent?: string | null;
}

/** Who uses an image, so that rm and prune can refuse; filled in by the containers service later. */
export interface ImageUser {
  containerId: string;
  running: boolean;
}
