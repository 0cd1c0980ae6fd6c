// Reads a pod's device IDs out of the kubelet device-plugin checkpoint text and hands them to attachments (pure).
import { CniError, Code } from '../cni/errors';
import { jsonSyntaxError } from '../util/parse-errors';

export const CHECKPOINT_PATH = '/var/lib/kubelet/device-plugins/kubelet_internal_checkpoint';

interface Entry {
  podUID: string;
  resourceName: string;
  deviceIDs: string[];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

/**
 * The entries of the checkpoint. `DeviceIDs` is a plain list (older kubelets) or a map from NUMA node
 * to list (newer kubelets); null means none. Anything else is code 7 naming the checkpoint.
 */
function parseCheckpoint(text: string, source: string): Entry[] {
  const fail = (msg: string): never => {
    throw new CniError(Code.InvalidConfig, `kubelet checkpoint ${source}: ${msg}`);
  };
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    fail(`is not valid JSON: ${jsonSyntaxError(e, text)}`);
  }
  if (!isObject(doc)) return fail('is not a JSON object');
  const data = doc.Data;
  if (!isObject(data)) return fail('"Data" is not an object');
  const raw = data.PodDeviceEntries ?? [];
  if (!Array.isArray(raw)) return fail('"Data.PodDeviceEntries" is not a list');
  return raw.map((e: unknown, i): Entry => {
    const at = `"Data.PodDeviceEntries[${i}]"`;
    if (!isObject(e)) return fail(`${at} is not an object`);
    if (typeof e.PodUID !== 'string') return fail(`${at}.PodUID is not a string`);
    if (typeof e.ResourceName !== 'string') return fail(`${at}.ResourceName is not a string`);
    const ids = e.DeviceIDs ?? [];
    let deviceIDs: string[];
    if (isStringArray(ids)) deviceIDs = ids;
    else if (isObject(ids)) {
      deviceIDs = [];
      for (const [numa, list] of Object.entries(ids)) {
        if (list === null) continue;
        if (!isStringArray(list)) return fail(`${at}.DeviceIDs["${numa}"] is not a list of strings`);
        deviceIDs.push(...list);
      }
    } else return fail(`${at}.DeviceIDs is neither a list of strings nor a map of NUMA node to list`);
    return { podUID: e.PodUID, resourceName: e.ResourceName, deviceIDs };
  });
}

/**
 * The device IDs kubelet allocated to pod `podUID` for `resourceName`, across all its containers,
 * de-duplicated and sorted. Empty when the pod holds none of that resource.
 */
export function deviceIDsFor(checkpointText: string, podUID: string, resourceName: string, source: string = CHECKPOINT_PATH): string[] {
  const ids = new Set<string>();
  for (const e of parseCheckpoint(checkpointText, source)) {
    if (e.podUID === podUID && e.resourceName === resourceName) for (const id of e.deviceIDs) ids.add(id);
  }
  return [...ids].sort();
}

/**
 * Gives each request (an attachment key and its NAD's resource) one device ID. Requests that share a
 * resource take successive IDs, in request order. `lookup` is called once per resource. Running out is
 * code 7 naming the resource, the attachment and how many IDs the pod was allocated.
 */
export function assignDeviceIDs(
  requests: Array<{ key: string; resourceName: string }>,
  lookup: (resourceName: string) => string[],
): Map<string, string> {
  const out = new Map<string, string>();
  const available = new Map<string, string[]>();
  const used = new Map<string, number>();
  for (const { key, resourceName } of requests) {
    if (out.has(key)) throw new CniError(Code.InvalidConfig, `attachment "${key}" asks for a device ID twice`);
    let ids = available.get(resourceName);
    if (!ids) {
      ids = lookup(resourceName);
      available.set(resourceName, ids);
    }
    const n = used.get(resourceName) ?? 0;
    const id = ids[n];
    if (id === undefined) {
      throw new CniError(
        Code.InvalidConfig,
        `resource "${resourceName}": no device ID left for attachment "${key}": ${ids.length} available to the pod${ids.length > 0 ? ', all taken by earlier attachments' : ''}`,
        'each attachment whose NetworkAttachmentDefinition names this resource needs one device; raise the pod\'s resource request',
      );
    }
    used.set(resourceName, n + 1);
    out.set(key, id);
  }
  return out;
}
