// Builds a delegate plugin's stdin the way libcni does (pure).
import type { PluginConf } from '../config/load';

export interface StdinInputs {
  name: string;
  cniVersion: string;
  /** The previous result, already rendered in `cniVersion`. */
  prevResult?: Record<string, unknown>;
  /** Runtime arguments offered to the plugin; only those it declares as capabilities are passed. */
  runtimeConfig?: Record<string, unknown>;
  /** Extra top-level keys, merged last (valid-attachments for GC). */
  extra?: Record<string, unknown>;
}

/** name and cniVersion injected, prevResult chained, runtimeConfig filtered by capabilities, capabilities dropped. */
export function buildStdin(plugin: PluginConf, inputs: StdinInputs): Record<string, unknown> {
  const { capabilities, runtimeConfig: _ignored, prevResult: _stale, ...rest } = plugin;
  const out: Record<string, unknown> = { ...rest, name: inputs.name, cniVersion: inputs.cniVersion };
  const declared = (capabilities ?? {}) as Record<string, unknown>;
  const rc: Record<string, unknown> = {};
  for (const [cap, value] of Object.entries(inputs.runtimeConfig ?? {})) {
    if (declared[cap] === true && value !== undefined) rc[cap] = value;
  }
  if (Object.keys(rc).length > 0) out.runtimeConfig = rc;
  if (inputs.prevResult) out.prevResult = inputs.prevResult;
  return { ...out, ...inputs.extra };
}
