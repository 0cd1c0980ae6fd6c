// Follows one ADD through the code: every call into a project function, with the file it is in and the file it was called from, for the bench's pod (eth0 + 2 NADs with pool MACs).
//
// Run as root: node --import tsx scripts/walk.ts [--trace]
// It bundles cmd/main.ts with esbuild (no chunks, inline source maps), every named function of src/ and cmd/
// opening with a call that records its file and its caller's (the first project frame of the stack below it,
// async frames included); then runs ADD and DEL as a runtime does, against the test API server and the real
// plugins of /usr/lib/cni. A warm-up pod is added first (it creates the ledger's pool ConfigMaps), so the pod
// walked is the common case. The figures:
//   calls:   calls into named project functions (function declarations, methods, functions and arrows
//            bound to a name or a property; anonymous callbacks are part of the function holding them);
//   stops:   the reader's walk: each of those functions where it is first called (a reader reads it once);
//   files:   distinct files among the stops;
//   climbs:  stops whose file lies in a higher layer (test/unit/layers.ts) than its caller's;
//   returns: stops in a file other than the previous stop's, that an earlier stop already visited.
// --trace prints the stops in order.
import { build } from 'esbuild';
import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { startApiServer } from '../test/apiserver/server';
import { LAYERS, layerOf, ROOT } from '../test/unit/layers';
import { PodWorld } from './bench/pod-world';
import { Sandbox } from './bench/sandbox';

interface Stop {
  file: string;
  fn: string;
  caller?: string;
}

const HOOK = '__macmuxWalk';

/** A function's name as a reader would look it up, or undefined for an anonymous callback. */
function nameOf(node: ts.FunctionLikeDeclaration): string | undefined {
  if (ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node)) return node.name?.getText();
  if (ts.isConstructorDeclaration(node)) return `${(node.parent as ts.ClassDeclaration).name?.getText() ?? 'class'}.constructor`;
  const p = node.parent;
  if ((ts.isVariableDeclaration(p) || ts.isPropertyAssignment(p) || ts.isPropertyDeclaration(p)) && p.initializer === node) return p.name.getText();
  return undefined;
}

/** The source of `file` with `HOOK(file, name)` opening every named function's body. */
export function instrument(file: string, text: string): string {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const transformer: ts.TransformerFactory<ts.SourceFile> = (context) => {
    const f = context.factory;
    const visit = (node: ts.Node): ts.Node => {
      const visited = ts.visitEachChild(node, visit, context);
      if (!(ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node) || ts.isConstructorDeclaration(node) || ts.isArrowFunction(node) || ts.isFunctionExpression(node))) return visited;
      const name = nameOf(node);
      if (!name || !node.body) return visited;
      const hook = f.createExpressionStatement(f.createCallExpression(f.createIdentifier(HOOK), undefined, [f.createStringLiteral(file), f.createStringLiteral(name)]));
      const v = visited as ts.FunctionLikeDeclaration;
      const body = v.body!;
      const block = ts.isBlock(body) ? f.updateBlock(body, [hook, ...body.statements]) : f.createBlock([hook, f.createReturnStatement(body as ts.Expression)], true);
      if (ts.isArrowFunction(v)) return f.updateArrowFunction(v, v.modifiers, v.typeParameters, v.parameters, v.type, v.equalsGreaterThanToken, block);
      if (ts.isFunctionExpression(v)) return f.updateFunctionExpression(v, v.modifiers, v.asteriskToken, v.name, v.typeParameters, v.parameters, v.type, block);
      if (ts.isFunctionDeclaration(v)) return f.updateFunctionDeclaration(v, v.modifiers, v.asteriskToken, v.name, v.typeParameters, v.parameters, v.type, block);
      if (ts.isMethodDeclaration(v)) return f.updateMethodDeclaration(v, v.modifiers, v.asteriskToken, v.name, v.questionToken, v.typeParameters, v.parameters, v.type, block);
      return f.updateConstructorDeclaration(v as ts.ConstructorDeclaration, v.modifiers, v.parameters, block);
    };
    return (s) => ts.visitNode(s, visit) as ts.SourceFile;
  };
  const out = ts.transform(sf, [transformer]);
  return ts.createPrinter().printFile(out.transformed[0]!);
}

/** The run-time half: records each stop, with the caller read from the (source-mapped) stack; written at exit. */
const RUNTIME = `
(() => {
  const out = process.env.MACMUX_WALK_OUT;
  const stops = [];
  Error.stackTraceLimit = 100;
  const root = ${JSON.stringify(`${ROOT}/`)};
  const fileOf = (line) => { const m = line.match(/\\(?((?:\\/[^:()]+)+\\.ts):\\d+:\\d+\\)?$/); return m && m[1].startsWith(root) ? m[1].slice(root.length) : undefined; };
  globalThis.${HOOK} = (file, fn) => {
    if (!out) return;
    const frames = new Error().stack.split('\\n').slice(3);
    let caller;
    for (const l of frames) { const f = fileOf(l.trim()); if (f && (f.startsWith('src/') || f.startsWith('cmd/'))) { caller = f; break; } }
    stops.push({ file, fn, caller });
  };
  process.on('exit', () => { if (out) require('node:fs').writeFileSync(out, JSON.stringify(stops)); });
})();
`;

async function bundle(outfile: string): Promise<void> {
  const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  const stub = join(ROOT, 'scripts', 'stubs', 'optional.cjs');
  await build({
    entryPoints: [join(ROOT, 'cmd', 'main.ts')],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    outfile,
    sourcemap: 'inline',
    logLevel: 'warning',
    banner: { js: RUNTIME },
    define: { __MACMUX_VERSION__: JSON.stringify(version) },
    alias: Object.fromEntries(['encoding', 'supports-color', 'bufferutil', 'utf-8-validate'].map((m) => [m, stub])),
    plugins: [
      {
        name: 'walk',
        setup(b) {
          b.onLoad({ filter: /\.ts$/ }, (args) => {
            const file = relative(ROOT, args.path);
            if (!file.startsWith('src/') && !file.startsWith('cmd/')) return undefined;
            return { contents: instrument(file, readFileSync(args.path, 'utf8')), loader: 'ts' };
          });
        },
      },
    ],
  });
}

export interface Figures {
  calls: number;
  stops: number;
  files: number;
  climbs: number;
  returns: number;
}

/** Each function once, where it is first called. */
export function firstCalls(calls: Stop[]): Stop[] {
  const read = new Set<string>();
  return calls.filter((s) => !read.has(`${s.file} ${s.fn}`) && !!read.add(`${s.file} ${s.fn}`));
}

export function figures(calls: Stop[]): Figures {
  const stops = firstCalls(calls);
  const seen = new Set<string>();
  let climbs = 0;
  let returns = 0;
  stops.forEach((s, i) => {
    if (s.caller && layerOf(s.file)! < layerOf(s.caller)!) climbs++;
    if (i > 0 && s.file !== stops[i - 1]!.file && seen.has(s.file)) returns++;
    seen.add(s.file);
  });
  return { calls: calls.length, stops: stops.length, files: seen.size, climbs, returns };
}

async function main(): Promise<void> {
  const trace = process.argv.includes('--trace');
  const sb = new Sandbox();
  const api = await startApiServer();
  try {
    const js = join(sb.dir, 'walk.js');
    await bundle(js);
    const walkOut = join(sb.dir, 'walk.json');
    const wrapper = join(sb.dir, 'macmux');
    const wrap = (record: boolean) => {
      writeFileSync(wrapper, `#!/bin/sh\n${record ? `MACMUX_WALK_OUT=${walkOut} ` : ''}exec ${process.execPath} --enable-source-maps ${js} "$@"\n`);
      chmodSync(wrapper, 0o755);
    };
    const world = await PodWorld.create(api, sb, wrapper);
    const conf = world.conf('walk');
    const pods = [world.pod('warm', sb.netns('w')), world.pod('walk', sb.netns('p'))];
    const results: Array<[string, Stop[]]> = [];
    for (const [i, p] of pods.entries()) {
      wrap(i === 1);
      rmSync(walkOut, { force: true });
      const r = await world.macmux('ADD', conf, p.env);
      if (r.status !== 0) throw new Error(`ADD failed: ${r.stdout}\n${r.stderr}`);
      if (i === 1) results.push(['ADD', JSON.parse(readFileSync(walkOut, 'utf8')) as Stop[]]);
    }
    for (const [i, p] of [...pods.entries()].reverse()) {
      wrap(i === 1);
      rmSync(walkOut, { force: true });
      const r = await world.macmux('DEL', conf, p.env);
      if (r.status !== 0) throw new Error(`DEL failed: ${r.stdout}\n${r.stderr}`);
      if (i === 1) results.push(['DEL', JSON.parse(readFileSync(walkOut, 'utf8')) as Stop[]]);
    }
    for (const [verb, stops] of results) {
      const f = figures(stops);
      console.log(`${verb}: ${f.calls} calls; the reader's walk: ${f.stops} stops in ${f.files} files, ${f.climbs} climbs up a layer, ${f.returns} returns to a file already left`);
      if (trace) {
        for (const s of firstCalls(stops)) {
          const up = s.caller && layerOf(s.file)! < layerOf(s.caller)! ? `  ^ up from ${LAYERS[layerOf(s.caller)!]!.name}` : '';
          console.log(`  ${s.file} ${s.fn}${s.caller && s.caller !== s.file ? `  <- ${s.caller}` : ''}${up}`);
        }
      }
    }
  } finally {
    await api.stop();
    sb.cleanup();
  }
}

if (require.main === module) {
  main().catch((e: Error) => {
    console.error(`walk failed: ${e.stack ?? e.message}`);
    process.exit(1);
  });
}
