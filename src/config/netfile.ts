// Reads a network config or conflist file from disk (the clusterNetwork).
import { readFileSync } from 'node:fs';
import { CniError, Code } from '../cni/errors';
import { toNetworkList, type NetworkList } from './load';
import { jsonSyntaxError } from '../util/parse-errors';

export function loadNetworkFile(path: string, field: string, fallbackVersion: string): NetworkList {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CniError(code === 'ENOENT' ? Code.InvalidConfig : Code.IO, `${field}: cannot read ${path}: ${code ?? (e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new CniError(Code.InvalidConfig, `${field}: ${path} is not valid JSON: ${jsonSyntaxError(e, text)}`);
  }
  return toNetworkList(raw as Record<string, unknown>, `${field} ${path}`, fallbackVersion);
}
