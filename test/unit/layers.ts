// The layers of the code, top to bottom, and the import graph of src/ and cmd/ read with TypeScript's own parser (for layers.test.ts and scripts/walk.ts).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

export const ROOT = resolve(__dirname, '..', '..');

/**
 * Each layer with the directories (or single files) it holds, top first. A module may import from its
 * own layer or any below it, never from one above.
 */
export const LAYERS: Array<{ name: string; holds: string[] }> = [
  { name: 'cmd', holds: ['cmd'] },
  { name: 'run', holds: ['src/run'] },
  { name: 'verbs', holds: ['src/plugin', 'src/cli', 'src/install'] },
  { name: 'services', holds: ['src/annotations', 'src/config', 'src/delegate', 'src/k8s', 'src/mac', 'src/state', 'src/metrics'] },
  { name: 'core', holds: ['src/cni', 'src/util', 'src/log.ts', 'src/version.ts'] },
];

/** Groups of one layer that must not import each other: the verb chunk and the CLI chunk share only what lies below. */
export const APART: string[][] = [['src/plugin'], ['src/cli', 'src/install']];

/** The CNI verbs: none imports another (what they share is in src/plugin's helpers, such as chain.ts). */
export const VERBS = ['add', 'del', 'hotplug', 'check', 'gc', 'status'].map((v) => `src/plugin/${v}.ts`);

const within = (file: string, holder: string) => file === holder || file.startsWith(`${holder}/`);

/** The layer's index in LAYERS (0 at the top), for a path relative to the root; undefined when no layer holds it. */
export function layerOf(file: string): number | undefined {
  const i = LAYERS.findIndex((l) => l.holds.some((h) => within(file, h)));
  return i < 0 ? undefined : i;
}

export function groupOf(file: string): number | undefined {
  const i = APART.findIndex((g) => g.some((h) => within(file, h)));
  return i < 0 ? undefined : i;
}

export interface Edge {
  from: string;
  to: string;
  /** `import type` or `export type ... from`, or every named binding marked `type`: gone at run time. */
  typeOnly: boolean;
  /** `await import()`: loaded at run time, still an edge. */
  dynamic: boolean;
}

/** Every .ts file under src/ and cmd/, relative to the root. */
export function sourceFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(join(ROOT, dir)).sort()) {
      const rel = `${dir}/${name}`;
      if (statSync(join(ROOT, rel)).isDirectory()) walk(rel);
      else if (name.endsWith('.ts')) out.push(rel);
    }
  };
  walk('cmd');
  walk('src');
  return out;
}

/** The file a relative specifier names (`./x` is x.ts or x/index.ts); undefined for packages and node: modules. */
function target(from: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  const base = relative(ROOT, resolve(ROOT, dirname(from), spec));
  for (const f of [base, `${base}.ts`, `${base}/index.ts`]) {
    try {
      if (statSync(join(ROOT, f)).isFile()) return f;
    } catch {
      // not this one
    }
  }
  throw new Error(`${from}: import "${spec}" names no file`);
}

/** The imports of one file: import and export-from declarations, `import x = require()`, and `import()` calls. */
export function importsOf(file: string): Edge[] {
  const sf = ts.createSourceFile(file, readFileSync(join(ROOT, file), 'utf8'), ts.ScriptTarget.Latest, true);
  const edges: Edge[] = [];
  const add = (spec: ts.Expression | undefined, typeOnly: boolean, dynamic: boolean) => {
    if (!spec || !ts.isStringLiteral(spec)) return;
    const to = target(file, spec.text);
    if (to) edges.push({ from: file, to, typeOnly, dynamic });
  };
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node)) {
      const c = node.importClause;
      const named = c?.namedBindings && ts.isNamedImports(c.namedBindings) ? c.namedBindings.elements : undefined;
      const allTypes = !!c && !c.name && !!named && named.length > 0 && named.every((e) => e.isTypeOnly);
      add(node.moduleSpecifier, !!c?.isTypeOnly || allTypes, false);
    } else if (ts.isExportDeclaration(node)) {
      const named = node.exportClause && ts.isNamedExports(node.exportClause) ? node.exportClause.elements : undefined;
      add(node.moduleSpecifier, node.isTypeOnly || (!!named && named.length > 0 && named.every((e) => e.isTypeOnly)), false);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node.moduleReference.expression, node.isTypeOnly, false);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      add(node.arguments[0], false, true);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node.argument.literal as ts.Expression, true, false);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return edges;
}

/** The cycles among run-time imports (type-only edges left out): one cycle per strongly connected component, as its files. */
export function cycles(edges: Edge[]): string[][] {
  const next = new Map<string, string[]>();
  for (const e of edges) if (!e.typeOnly) next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
  // Tarjan's strongly connected components.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  let n = 0;
  const connect = (v: string) => {
    index.set(v, n);
    low.set(v, n++);
    stack.push(v);
    on.add(v);
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (next.get(v) ?? []).includes(v)) out.push(scc.sort());
    }
  };
  for (const v of new Set(edges.map((e) => e.from))) if (!index.has(v)) connect(v);
  return out;
}
