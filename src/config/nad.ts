// Turns a NetworkAttachmentDefinition's spec.config into a delegate network list (pure).
import { CniError, Code } from '../cni/errors';
import { MAX_JSON_DEPTH, nestedDeeperThan } from '../cni/json';
import { refuseFoldedPluginKeys } from './gokeys';
import { toNetworkList, type NetworkList } from './load';
import { jsonSyntaxError } from '../util/parse-errors';
import { registerSecretsIn } from '../util/secrets';

export interface NadRef {
  namespace: string;
  name: string;
}

/**
 * The NAD's network: `config` is spec.config, or the text of the same-named file in the conf dir when
 * spec.config is empty. A config without a name takes the NAD's. Errors name the NAD as ns/name (code 7).
 */
export function nadNetwork(ref: NadRef, config: string, fallbackVersion: string, source = 'spec.config'): NetworkList {
  const what = `NetworkAttachmentDefinition ${ref.namespace}/${ref.name}`;
  let raw: unknown;
  try {
    raw = JSON.parse(config);
  } catch (e) {
    throw new CniError(Code.InvalidConfig, `${what}: ${source} is not valid JSON: ${jsonSyntaxError(e, config)}`);
  }
  // Its passwords and tokens are hidden wherever they are printed, also when a delegate quotes them.
  registerSecretsIn(raw);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new CniError(Code.InvalidConfig, `${what}: ${source} is not a JSON object`);
  }
  if (nestedDeeperThan(raw)) throw new CniError(Code.InvalidConfig, `${what}: ${source} is nested deeper than ${MAX_JSON_DEPTH} levels`);
  const obj = raw as Record<string, unknown>;
  const plugins = Array.isArray(obj.plugins) ? obj.plugins : [obj];
  plugins.forEach((p: unknown, i) => {
    if (typeof p === 'object' && p !== null && !Array.isArray(p)) refuseFoldedPluginKeys(p as Record<string, unknown>, `${what} ${source}`, Array.isArray(obj.plugins) ? `$.plugins[${i}]` : '$');
  });
  const named = obj.name === undefined || obj.name === '' ? { ...obj, name: ref.name } : obj;
  try {
    return toNetworkList(named, `${what} ${source}`, fallbackVersion);
  } catch (e) {
    throw e instanceof CniError ? e : new CniError(Code.InvalidConfig, `${what}: ${(e as Error).message}`);
  }
}
