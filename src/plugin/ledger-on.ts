// Whether the MAC ledger is on: the config gives a macPool (kept apart so that verbs check it without loading the ledger).
import type { VerbContext } from './context';

export const ledgerOn = (ctx: VerbContext) => ctx.conf.macPool !== undefined;
