// Reading and writing a value at a JSON path, and naming the path as macmux's config errors do ($.a[0].b).

export type JsonPath = Array<string | number>;

/** Sets `value` at `path` in `obj`, creating objects on the way. */
export function setPath(obj: Record<string, unknown>, path: JsonPath, value: unknown): void {
  let cur: Record<string | number, unknown> = obj;
  for (const [i, key] of path.entries()) {
    if (i === path.length - 1) {
      cur[key] = value;
      return;
    }
    const next = cur[key];
    if (typeof next !== 'object' || next === null) cur[key] = typeof path[i + 1] === 'number' ? [] : {};
    cur = cur[key] as Record<string | number, unknown>;
  }
}

/** Removes the value at `path`, if there. */
export function deletePath(obj: Record<string, unknown>, path: JsonPath): void {
  let cur: unknown = obj;
  for (const key of path.slice(0, -1)) {
    if (typeof cur !== 'object' || cur === null) return;
    cur = (cur as Record<string | number, unknown>)[key];
  }
  if (typeof cur === 'object' && cur !== null) delete (cur as Record<string | number, unknown>)[path[path.length - 1]!];
}

/** `$.delegates[0].type`, as macmux's schema errors name a field. */
export function pathName(path: JsonPath): string {
  return '$' + path.map((k) => (typeof k === 'number' ? `[${k}]` : `.${k}`)).join('');
}
