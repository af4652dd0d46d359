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

/** Who uses an image, so that rm and prune can refuse. */
export interface ImageUser {
  containerId: string;
  running: boolean;
}

/** One container's use of an image and of its layers, as the container's persisted record says. */
export interface ImageUse extends ImageUser {
  imageId: string;
  /** The top of the layer chain the container's rootfs stacks on (kept when its image is removed). */
  topChainId: string | null;
}

/**
 * Which images and layers containers use, read from the persisted container records each time it is
 * asked. Given to the image service at construction, so no start-up order (garbage collection runs in
 * `ImageService.init`, before the container service exists) can remove what a container needs.
 */
export interface ImageUsers {
  imageUses(): ImageUse[];
}
