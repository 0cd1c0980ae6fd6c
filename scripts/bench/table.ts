// Pure markdown rendering of the bench's one table.
export interface Row {
  measure: string;
  value: string;
  baseline?: string;
  target?: string;
  verdict?: string;
}

const cell = (s: string | undefined): string => (s ?? '').replace(/\|/g, '\\|');

export function renderTable(rows: readonly Row[]): string {
  const head = ['measure', 'macmux', 'baseline in the same run, or detail', 'target', 'result'];
  const lines = [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`];
  for (const r of rows) lines.push(`| ${[r.measure, r.value, r.baseline, r.target, r.verdict].map(cell).join(' | ')} |`);
  return lines.join('\n');
}
