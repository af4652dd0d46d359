/** Stacks: a compose project as the networks, secrets, configs and services `stack deploy` makes. */
export { convertStack, type StackPlan, type NetworkCreate, type ConvertOptions } from './convert.js';
export { convertService, serviceNetworkKeys, type FileReference } from './convert-service.js';
export { sameServiceSpec, comparable } from './compare.js';
export { StackNamespace, LABEL_NAMESPACE, LABEL_IMAGE, checkStackName } from './namespace.js';
export { checkKeys } from './unsupported.js';
export { StackError } from './errors.js';
