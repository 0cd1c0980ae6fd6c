// Judges gathered facts into doctor's report: every check in order, ok only when none failed (pure).
import { apiCheck, nadsCheck, rbacCheck } from './check-api';
import { ledgerChecks } from './check-ledger';
import { configCheck, delegatesCheck, environmentCheck } from './check-local';
import type { Facts, Report } from './types';

export function evaluate(f: Facts): Report {
  const checks = [configCheck(f), delegatesCheck(f), apiCheck(f), rbacCheck(f), nadsCheck(f), ...ledgerChecks(f), environmentCheck(f)];
  return { ok: checks.every((c) => c.status !== 'fail'), checks };
}
