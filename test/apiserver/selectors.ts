// Test API server selectors: label selectors (=, ==, !=, exists, !exists, in, notin; comma = AND) and field selectors.
import { badRequest } from './status';

export type Labels = Record<string, string> | undefined;
type Test = (labels: Record<string, string>) => boolean;

const KEY = String.raw`[A-Za-z0-9](?:[-A-Za-z0-9_./]*[A-Za-z0-9])?`;
const VALUE = String.raw`(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)?`;
const EXISTS = new RegExp(`^(${KEY})$`);
const NOT_EXISTS = new RegExp(`^!\\s*(${KEY})$`);
const EQUALITY = new RegExp(`^(${KEY})\\s*(==|=|!=)\\s*(${VALUE})$`);
const SET = new RegExp(`^(${KEY})\\s+(in|notin)\\s+\\(([^()]*)\\)$`);

/** Splits on the commas that are not inside `( )`. */
function terms(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((t) => t.trim());
}

function term(t: string): Test {
  const has = (l: Record<string, string>, k: string): boolean => Object.prototype.hasOwnProperty.call(l, k);
  let m: RegExpExecArray | null;
  if ((m = EXISTS.exec(t))) {
    const k = m[1];
    return (l) => has(l, k);
  }
  if ((m = NOT_EXISTS.exec(t))) {
    const k = m[1];
    return (l) => !has(l, k);
  }
  if ((m = EQUALITY.exec(t))) {
    const [, k, op, v] = m;
    // `!=` also matches objects without the label, as in Kubernetes
    return op === '!=' ? (l) => !has(l, k) || l[k] !== v : (l) => has(l, k) && l[k] === v;
  }
  if ((m = SET.exec(t))) {
    const [, k, op, list] = m;
    const values = list.split(',').map((v) => v.trim());
    if (values.some((v) => !new RegExp(`^${VALUE}$`).test(v))) throw badRequest(`unable to parse requirement: invalid label value in "${t}"`);
    return op === 'in' ? (l) => has(l, k) && values.includes(l[k]) : (l) => !has(l, k) || !values.includes(l[k]);
  }
  throw badRequest(`unable to parse requirement: invalid label selector term "${t}"`);
}

/** Compiles a labelSelector query value; an empty one matches everything; a malformed one throws a 400 ApiError. */
export function labelSelector(s: string | undefined): (labels: Labels) => boolean {
  if (!s || !s.trim()) return () => true;
  const tests = terms(s).map(term);
  return (labels) => tests.every((t) => t(labels ?? {}));
}

function lookup(obj: unknown, path: string): string {
  let v: unknown = obj;
  for (const part of path.split('.')) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[part] : undefined;
  return v === undefined || v === null ? '' : String(v);
}

/** Compiles a fieldSelector (`f=v`, `f==v`, `f!=v`, comma = AND) over the fields the resource supports. */
export function fieldSelector(s: string | undefined, supported: readonly string[]): (obj: unknown) => boolean {
  if (!s || !s.trim()) return () => true;
  const tests = s.split(',').map((t): ((obj: unknown) => boolean) => {
    const m = /^\s*([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*?)\s*$/.exec(t);
    if (!m) throw badRequest(`invalid selector: '${s}'; can't understand '${t}'`);
    const [, field, op, value] = m;
    if (!supported.includes(field)) throw badRequest(`field label not supported: ${field}`);
    return op === '!=' ? (o) => lookup(o, field) !== value : (o) => lookup(o, field) === value;
  });
  return (obj) => tests.every((t) => t(obj));
}
