/**
 * MAC addresses of containers' interfaces: Go's net.ParseMAC forms for 48-bit addresses, and dockerd's
 * move of the container-wide Config.MacAddress (deprecated in API 1.44) to the endpoint of the network
 * the container's network mode names.
 */
import { invalidArgument } from '../lib/errors.js';
import type { EndpointConfig } from './model.js';

/** "aa:bb:cc:dd:ee:ff" for the forms net.ParseMAC accepts (colons, hyphens, dots), else undefined. */
export function normalizeMac(text: string): string | undefined {
  let hex: string | undefined;
  if (/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(text) || /^([0-9a-fA-F]{2}-){5}[0-9a-fA-F]{2}$/.test(text)) hex = text.replace(/[:-]/g, '');
  else if (/^([0-9a-fA-F]{4}\.){2}[0-9a-fA-F]{4}$/.test(text)) hex = text.replace(/\./g, '');
  return hex ? hex.toLowerCase().match(/../g)!.join(':') : undefined;
}

function predefinedOrUser(mode: string): boolean {
  return mode !== 'host' && mode !== 'none' && !mode.startsWith('container:');
}

/**
 * dockerd's handleMACAddressBC: returns a warning, or throws. Below API 1.44 a container-wide MAC goes
 * to the main network's endpoint (and endpoint MACs are ignored); from 1.44 on it must agree with it.
 */
export function migrateContainerMac(
  config: { MacAddress?: unknown },
  hostConfig: { NetworkMode?: string },
  networking: { EndpointsConfig?: Record<string, EndpointConfig | null> | null } | null | undefined,
  atLeast144: boolean,
): { warning?: string; networking?: { EndpointsConfig?: Record<string, EndpointConfig | null> | null } | null } {
  const wide = typeof config.MacAddress === 'string' ? config.MacAddress : '';
  delete config.MacAddress;
  const mode = !hostConfig.NetworkMode || hostConfig.NetworkMode === 'default' ? 'bridge' : hostConfig.NetworkMode;
  const eps = { ...(networking?.EndpointsConfig ?? {}) };
  if (!atLeast144) {
    for (const [k, ep] of Object.entries(eps)) if (ep?.MacAddress) eps[k] = { ...ep, MacAddress: '' };
    if (!wide) return { networking: { ...(networking ?? {}), EndpointsConfig: eps } };
    if (!predefinedOrUser(mode)) throw invalidArgument('conflicting options: mac-address and the network mode');
  } else if (!wide) return { networking };
  const key = Object.keys(eps).find((k) => k === mode || (mode === 'bridge' && k === 'default')) ?? mode;
  const ep = { ...(eps[key] ?? {}) };
  let warning: string | undefined;
  if (atLeast144) {
    if (!predefinedOrUser(mode)) return { networking, warning: 'The container-wide MacAddress field is now deprecated. It should be specified in EndpointsConfig instead.' };
    if (ep.MacAddress && normalizeMac(ep.MacAddress) !== normalizeMac(wide)) {
      throw invalidArgument('the container-wide MAC address must match the endpoint-specific MAC address for the main network, or be left empty');
    }
    warning = 'The container-wide MacAddress field is now deprecated. It should be specified in EndpointsConfig instead.';
  }
  ep.MacAddress = wide;
  eps[key] = ep;
  return { warning, networking: { ...(networking ?? {}), EndpointsConfig: eps } };
}
