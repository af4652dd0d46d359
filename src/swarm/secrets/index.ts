/** Swarm secrets and configs (docs/swarm.md "Secrets and configs"). */
export { createSealer, newSecretsKey, SECRETS_KEY_BYTES } from './sealer.js';
export { SecretApi, secretView, type SecretApiDeps, type SecretSpecInput } from './secret-api.js';
export { ConfigApi, configView, type ConfigSpecInput } from './config-api.js';
export { ServiceReferenceCheck } from './references.js';
