/** The Compose file model: what later commands import. */
export { loadProject, type LoadOptions, STDIN_FILE } from './loader.js';
export { configModel, configYaml, configJson, renderConfig, servicesInDependencyOrder, type RenderConfigOptions } from './config-output.js';
export { ComposeError } from './errors.js';
export type * from './types.js';
export { configFlags, configOptionsFromFlags } from './config-flags.js';
