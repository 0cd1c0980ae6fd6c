// Describes a JSON or YAML syntax error by line, column and reason, never quoting the text (it may hold a secret) (pure).

/** Line and column (1-based) of `offset` in `text`. */
function lineColumn(text: string, offset: number): string {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return `line ${line} column ${offset - lineStart + 1}`;
}

/**
 * Why JSON.parse refused `text`, as `line L column C: reason`. V8's own message may quote the text
 * (`Unexpected token 'x', "{"token": x..." is not valid JSON`), so only its quote-free forms are kept.
 */
export function jsonSyntaxError(e: unknown, text: string): string {
  const msg = e instanceof Error ? e.message : String(e);
  const at = /^([A-Za-z ',{}[\]:-]*?) in JSON at position (\d+)/.exec(msg);
  if (at) return `${lineColumn(text, Number(at[2]))}: ${at[1]!.toLowerCase()}`;
  if (/^Unexpected end of JSON input/.test(msg)) return `${lineColumn(text, text.length)}: unexpected end of input`;
  if (/^Unexpected token/.test(msg)) return 'unexpected character (not JSON syntax)';
  return 'not valid JSON';
}

/** Why js-yaml refused a document, as `line L column C: reason`, from the error's mark and reason (its message quotes the lines around). */
export function yamlSyntaxError(e: unknown): string {
  const y = e as { reason?: unknown; mark?: { line?: unknown; column?: unknown } };
  const reason = typeof y.reason === 'string' ? y.reason.replace(/[\r\n]+/g, ' ').slice(0, 120) : 'not valid YAML';
  const { line, column } = y.mark ?? {};
  return typeof line === 'number' && typeof column === 'number' ? `line ${line + 1} column ${column + 1}: ${reason}` : reason;
}
