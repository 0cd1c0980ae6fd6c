// The mark macmux sets in every delegate's environment, so that a copy of macmux run as a delegate refuses to work (pure).
import { CniError, Code } from './errors';

/** Set to "1" in the environment of every plugin macmux runs (and so of the IPAM and other plugins those run). */
export const DELEGATE_MARK = 'MACMUX_DELEGATE';

/** Begins the message of a refused nested run. */
export const NESTED_REFUSAL = 'macmux refuses to run as a delegate of macmux';

/**
 * What a process run with the mark does instead of its verb: ADD, CHECK, GC and STATUS are refused (code 7);
 * DEL succeeds doing nothing, so that the plugin that ran it (a bridge whose IPAM plugin it is, say) still
 * deletes its own state. A nested macmux would take binDir, logFile, cacheDir, kubeconfig and the rest from
 * a config a namespace user wrote, so it reads no config at all. Undefined without the mark, and for VERSION.
 */
export function nestedRun(getenv: (name: string) => string | undefined, command: string): { skip: string } | undefined {
  if (getenv(DELEGATE_MARK) === undefined || command === 'VERSION') return undefined;
  const why = `${DELEGATE_MARK} is set, so another macmux invocation ran this executable as a plugin (a NetworkAttachmentDefinition or network config naming a copy of macmux); macmux's settings come only from the node's config`;
  if (command === 'DEL') return { skip: `${NESTED_REFUSAL}: DEL does nothing: ${why}` };
  throw new CniError(Code.InvalidConfig, `${NESTED_REFUSAL}: ${why}`);
}
