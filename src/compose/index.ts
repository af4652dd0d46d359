/** The Compose file model: what later commands import. */
export { loadProject, type LoadOptions } from './loader.js';
export { configModel, configYaml, configJson } from './config-output.js';
export { ComposeError } from './errors.js';
export type * from './types.js';
