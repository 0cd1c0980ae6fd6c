// Doctor's checklist as text: one line per check, its hint below it, and a summary line (pure).
import type { Report, Status } from './types';

const MARK: Record<Status, string> = { ok: 'ok', warn: 'WARN', fail: 'FAIL', skip: 'skip' };

/**
 * ```
 * ok    config       /etc/cni/net.d/00-macmux.conflist: valid, ...
 * FAIL  rbac         denied: update configmaps in kube-system
 *                    hint: grant them ...
 *
 * 7 ok, 0 warnings, 1 failed, 1 skipped
 * ```
 */
export function renderReport(r: Report): string {
  const width = Math.max(...r.checks.map((c) => c.name.length));
  const pad = ' '.repeat(6 + width + 2);
  const lines: string[] = [];
  for (const c of r.checks) {
    lines.push(`${MARK[c.status].padEnd(6)}${c.name.padEnd(width)}  ${c.detail}`);
    if (c.hint && (c.status === 'fail' || c.status === 'warn')) lines.push(`${pad}hint: ${c.hint}`);
  }
  const n = (s: Status) => r.checks.filter((c) => c.status === s).length;
  const warns = n('warn');
  lines.push('', `${n('ok')} ok, ${warns} warning${warns === 1 ? '' : 's'}, ${n('fail')} failed, ${n('skip')} skipped`);
  return lines.join('\n') + '\n';
}
