// The mark macmux sets in every delegate's environment, so that a copy of macmux run as a delegate refuses to work (pure).
import { CniError, Code } from './errors';

/** Set to "1" in the environment of every plugin macmux runs (and so of the IPAM and other plugins those run). */
export const DELEGATE_MARK = 'MACMUX_DELEGATE';

/** Begins the message of a refused nested run; a DEL recognises a delegate's refusal by it. */
export const NESTED_REFUSAL = 'macmux refuses to run as a delegate of macmux';

/**
 * Code 7 when `getenv` carries the mark: macmux itself ran this process as a plugin (a NAD or config
 * naming a copy of macmux under another name, as a plugin or as an IPAM plugin). A nested macmux would
 * take binDir, logFile, cacheDir, kubeconfig and the rest from a config a namespace user wrote.
 */
export function refuseNested(getenv: (name: string) => string | undefined): void {
  if (getenv(DELEGATE_MARK) === undefined) return;
  throw new CniError(
    Code.InvalidConfig,
    `${NESTED_REFUSAL}: ${DELEGATE_MARK} is set, so another macmux invocation ran this executable as a plugin (a NetworkAttachmentDefinition or network config naming a copy of macmux); macmux's settings come only from the node's config`,
  );
}
