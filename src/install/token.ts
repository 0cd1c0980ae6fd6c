// Copies the projected service-account token and the cluster CA to the host state dir: the host cannot see the container's volumes.
import { readFileSync } from 'node:fs';
import { writeIfChanged } from './files';

export class CopyError extends Error {}

function read(file: string, what: string, flag: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new CopyError(`${what} ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}; mount it or pass ${flag}`);
  }
}

/** Refreshes the host's token copy (0600) when the projected token changed; true when written. The token is never logged. */
export function copyToken(tokenFile: string, dest: string): boolean {
  const token = read(tokenFile, 'service-account token', '--token-file');
  if (token.toString('utf8').trim() === '') throw new CopyError(`service-account token ${tokenFile} is empty`);
  return writeIfChanged(dest, token, 0o600);
}

/** Refreshes the host's copy of the cluster CA (0644); true when written. */
export function copyCa(caFile: string, dest: string): boolean {
  return writeIfChanged(dest, read(caFile, 'cluster CA', '--ca-file'), 0o644);
}
