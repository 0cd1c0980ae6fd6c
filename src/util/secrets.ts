// The one redaction step of every output: known secret values (registered when credentials and inputs are read) and secret-looking key/value pairs, in linear time (pure but for the registry).

/** What a hidden secret is printed as. */
export const REDACTED = '<redacted>';

/** Shorter values are not registered: hiding every "abc" in a message would hide more than the secret. */
const MIN_SECRET = 4;

/**
 * The secret values this process has read (tokens, passwords, keys, exec plugin output), in each form they
 * may be printed. Kept under a global symbol: the binary bundles this module into the main script and
 * into each chunk (run/verb, cli), and all of them must share one registry.
 */
const REGISTRY = Symbol.for('macmux.secrets');
const known: Set<string> = ((globalThis as Record<symbol, Set<string> | undefined>)[REGISTRY] ??= new Set<string>());

/** Remembers `value` (and its JSON-escaped form, and each long line of a multi-line value) so that redact() hides it. */
export function registerSecret(value: string | Buffer | undefined): void {
  if (value === undefined) return;
  const s = typeof value === 'string' ? value : value.toString('utf8');
  for (const v of [s, s.trim(), ...s.split(/\r?\n/).map((l) => l.trim())]) {
    if (v.length < MIN_SECRET) continue;
    known.add(v);
    known.add(JSON.stringify(v).slice(1, -1));
  }
}

let sorted: { size: number; values: string[] } | undefined;

/**
 * The registered values, longest first (a short one inside a longer one, an annotation's "s3cr" inside a NAD's
 * "s3cr3t-key", must not leave the rest showing); sorted again only when a value was added (the set only grows).
 */
function longestFirst(): string[] {
  if (sorted?.size !== known.size) sorted = { size: known.size, values: [...known].sort((a, b) => b.length - a.length) };
  return sorted.values;
}

/** Forgets every registered value (tests). */
export function forgetSecrets(): void {
  known.clear();
  sorted = undefined;
}

/** True when a key names something secret: token, password, secret, credential, or a key (private-key, client-key-data, apiKey...). */
export function isSecretKey(key: string): boolean {
  const k = key.toLowerCase().replace(/[-_]/g, '');
  // Names of files (tokenFile, client-key in a kubeconfig) hold paths, which are not secret and which messages need.
  if (/(file|path|dir)$/.test(k) || k === 'clientkey') return false;
  return /token|passw|secret|credential|keydata|privatekey|authorization|psk/.test(k) || k === 'key' || k.endsWith('key') || k === 'auth';
}

/**
 * Registers every string under a secret-looking key of a parsed document (a kubeconfig, a NAD config,
 * CNI_ARGS, an annotation), however deep. Iterative and bounded by the document's size.
 */
export function registerSecretsIn(doc: unknown): void {
  const stack: Array<[unknown, boolean]> = [[doc, false]];
  while (stack.length > 0) {
    const [v, secret] = stack.pop()!;
    if (typeof v === 'string') {
      if (secret) registerSecret(v);
    } else if (typeof v === 'number' && secret) {
      registerSecret(String(v));
    } else if (Array.isArray(v)) {
      for (const x of v) stack.push([x, secret]);
    } else if (typeof v === 'object' && v !== null) {
      // An exec plugin's env entry is {name: "API_TOKEN", value: "..."}: its value is secret when its name is.
      const named = (v as Record<string, unknown>).name;
      const secretEntry = typeof named === 'string' && isSecretKey(named);
      for (const [k, x] of Object.entries(v)) stack.push([x, secret || isSecretKey(k) || (secretEntry && k === 'value')]);
    }
  }
}

/** A deep copy of `v` with every string redacted and every value under a secret-looking key replaced (for JSON written out, such as network-status). */
export function redactValue<T>(v: T): T {
  const walk = (x: unknown, depth: number): unknown => {
    if (typeof x === 'string') return redact(x);
    if (typeof x !== 'object' || x === null || depth > 64) return x;
    if (Array.isArray(x)) return x.map((e) => walk(e, depth + 1));
    return Object.fromEntries(Object.entries(x).map(([k, e]) => [k, isSecretKey(k) && e !== null && e !== '' ? REDACTED : walk(e, depth + 1)]));
  };
  return walk(v, 0) as T;
}

const IDENT = /[A-Za-z0-9_-]+/g;
/** Characters that may sit between a key and its value: quotes (also JSON-escaped ones) and blanks. */
const isGlue = (c: string): boolean => c === '"' || c === "'" || c === '\\' || c === ' ' || c === '\t';
/** Characters that end an unquoted value. */
const isValueEnd = (c: string): boolean => c === ',' || c === ';' || c === '}' || c === ']' || c === ')' || c === '&' || c === '"' || c === "'" || c === '\\' || /\s/.test(c);

/**
 * Hides secrets in `text`: every registered value, then the value after a secret-looking key (`token: x`,
 * `"password":"x"`, `API_TOKEN=x`, `Bearer x`, `Basic x`). A key right after a `.` or `/` is a field path
 * (`users[0].user.token: a string expected`) or a file (`.../serviceaccount/token: ENOENT`), not a pair, and is left alone. Linear in the text:
 * one pass over identifiers, each look-ahead consumed (no backtracking regex).
 */
export function redact(text: string): string {
  let s = text;
  for (const v of longestFirst()) if (s.includes(v)) s = s.split(v).join(REDACTED);
  let out = '';
  let from = 0;
  IDENT.lastIndex = 0;
  for (let m = IDENT.exec(s); m !== null; m = IDENT.exec(s)) {
    const word = m[0];
    const start = m.index;
    let i = start + word.length;
    const lower = word.toLowerCase();
    const scheme = lower === 'bearer' || lower === 'basic';
    if (!scheme && (!isSecretKey(word) || s[start - 1] === '.' || s[start - 1] === '/')) continue;
    // Between the key and the value: glue, then `:` or `=` (a scheme takes blanks alone), then glue.
    let quote = '';
    let escaped = false;
    while (i < s.length && isGlue(s[i]!)) i++;
    if (!scheme) {
      if (s[i] !== ':' && s[i] !== '=') {
        IDENT.lastIndex = i;
        continue;
      }
      i++;
    } else if (s[i - 1] !== ' ') {
      continue;
    }
    while (i < s.length && isGlue(s[i]!)) {
      if (s[i] === '"' || s[i] === "'") quote = s[i]!;
      else if (s[i] === '\\') escaped = true;
      i++;
    }
    let end = i;
    if (!quote) while (end < s.length && !isValueEnd(s[end]!)) end++;
    else {
      // In JSON inside a JSON string (`\"token\":\"x\"`) the value ends at `\"`; else a backslash escapes the next character.
      for (; end < s.length && s[end] !== quote && s[end] !== '\n'; end++) {
        if (s[end] !== '\\') continue;
        if (escaped && s[end + 1] === quote) break;
        end++;
      }
      end = Math.min(end, s.length);
    }
    if (scheme && end - i < 8) continue;
    // `Authorization: Bearer x`: the scheme's own turn hides x.
    if (!scheme && !quote && /^(bearer|basic)$/i.test(s.slice(i, Math.min(end, i + 7)))) {
      IDENT.lastIndex = i;
      continue;
    }
    if (end === i || s.startsWith(REDACTED, i)) {
      IDENT.lastIndex = Math.max(end, i);
      continue;
    }
    out += s.slice(from, i) + REDACTED;
    from = end;
    IDENT.lastIndex = end;
  }
  return from === 0 ? s : out + s.slice(from);
}
