// Finds the config file in the CNI conf dir whose network name matches, as multus does for an empty spec.config.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const CONF_EXT = /\.(conf|conflist|json)$/;

/** The text of the first conf file (in name order) whose `name` is `network`, or undefined. */
export function findConfFile(confDir: string, network: string): { path: string; text: string } | undefined {
  let files: string[];
  try {
    files = readdirSync(confDir).filter((f) => CONF_EXT.test(f)).sort();
  } catch {
    return undefined;
  }
  for (const f of files) {
    const path = join(confDir, f);
    try {
      const text = readFileSync(path, 'utf8');
      if ((JSON.parse(text) as { name?: unknown }).name === network) return { path, text };
    } catch {
      // unreadable or not JSON: not this one
    }
  }
  return undefined;
}
