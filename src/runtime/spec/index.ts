/**
 * The container's runtime spec: the public names of runtime/spec/ (API types, OCI types, Docker's defaults,
 * host probes, validation and the builder). Importers may use the specific module instead.
 */
export type { ContainerConfig, DeviceMapping, HostConfig, ThrottleDevice, Ulimit, UserMount, WeightDevice } from './api-types.js';
export type { OciDevice, OciDeviceCgroup, OciMount, OciRlimit, OciSpec, OciThrottleDevice } from './oci-types.js';
export {
  applyHostConfigDefaults,
  containerArgs,
  containerEnv,
  DEFAULT_CAPABILITIES,
  DEFAULT_MASKED_PATHS,
  DEFAULT_PATH_ENV,
  DEFAULT_READONLY_PATHS,
  defaultDeviceRules,
  IN_CONTAINER_INIT_PATH,
  mergeEnv,
  MIN_MEMORY,
  OCI_VERSION,
  replaceOrAppendEnv,
  RLIM_INFINITY,
  ULIMIT_NAMES,
} from './defaults.js';
export { currentCapabilities, KNOWN_CAPABILITIES, readHostRlimits, type RlimitPair } from './host.js';
export {
  isPrivateNetwork,
  mergeTmpfsOptions,
  normalizeCapabilities,
  tweakCapabilities,
  validateContainerConfig,
  validateHostConfig,
  type ValidateOptions,
} from './validate.js';
export { buildRlimits, buildSpec, resourcesFor, serializeSpec, type PasswdLookup, type SpecInput } from './build.js';
