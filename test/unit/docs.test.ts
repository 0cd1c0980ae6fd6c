// The docs are true to the code and to each other: every `macmux …` shown names an existing command and only its options, every conflist shown is a valid config, and every relative link (and #anchor) resolves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { buildProgram } from '../../src/cli/program';
import { loadConf } from '../../src/config/load';

const ROOT = join(__dirname, '..', '..');
const DOCS = ['README.md', 'daemonset/README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** Every macmux command line in `text`: inline code spans and lines of fenced blocks. */
export function commandsIn(text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/`((?:\/opt\/cni\/bin\/)?macmux [^`]+)`/g)) found.push(m[1]!);
  for (const block of text.matchAll(/```[a-z]*\n([\s\S]*?)```/g)) {
    for (const line of block[1]!.split('\n')) if (/^\s*(\/opt\/cni\/bin\/)?macmux /.test(line)) found.push(line.trim());
  }
  return found.filter((c) => !/^macmux (is|keeps|does|only)\b/.test(c));
}

/** Problems with one command line: an unknown subcommand or an option the command does not have. */
function problems(line: string, program: Command): string[] {
  // `ledger list|show|release|gc|sync` stands for each of them.
  const alts = line.match(/^(\S+ \S+ )(\w+(?:\|\w+)+)$/);
  if (alts) return alts[2]!.split('|').flatMap((sub) => problems(`${alts[1]}${sub}`, program));
  const words = line.replace(/[[\]]/g, ' ').split(/\s+/).filter(Boolean).slice(1);
  let cmd = program;
  const out: string[] = [];
  let i = 0;
  for (; i < words.length; i++) {
    const sub = cmd.commands.find((c) => c.name() === words[i]);
    if (!sub) break;
    cmd = sub;
  }
  if (cmd === program) return [`${line}: no such command "${words[0]}"`];
  if (cmd.commands.length > 0) return [`${line}: "${cmd.name()}" needs a subcommand`];
  const flags = new Set(cmd.options.flatMap((o) => [o.long, o.short]).filter(Boolean) as string[]);
  flags.add('--help').add('-h');
  for (const w of words.slice(i)) {
    if (!w.startsWith('-')) continue;
    const flag = w.split('=')[0]!;
    if (!flags.has(flag)) out.push(`${line}: "${cmd.name()}" has no option ${flag}`);
  }
  return out;
}

test('every macmux command in the docs exists, with only its own options', () => {
  const program = buildProgram({ out: () => {}, err: () => {}, getenv: () => undefined });
  let seen = 0;
  const bad: string[] = [];
  for (const doc of DOCS) {
    for (const line of commandsIn(readFileSync(join(ROOT, doc), 'utf8'))) {
      seen++;
      bad.push(...problems(line, program).map((p) => `${doc}: ${p}`));
    }
  }
  assert.deepEqual(bad, []);
  assert.ok(seen >= 15, `only ${seen} commands found in the docs`);
});

test('the checker catches a wrong command and a wrong option', () => {
  const program = buildProgram({ out: () => {}, err: () => {}, getenv: () => undefined });
  assert.equal(problems('macmux ledger list --node n1 -o json', program).length, 0);
  assert.equal(problems('macmux ledger frob', program).length, 1);
  assert.equal(problems('macmux ledger list|show|frob', program).length, 1);
  assert.equal(problems('macmux ledger gc --dryrun', program).length, 1);
  assert.equal(problems('macmux install --once --root / --bogus x', program).length, 1);
  assert.deepEqual(commandsIn('run `macmux doctor -o json` or\n```sh\n/opt/cni/bin/macmux ledger sync\n```\n'), ['macmux doctor -o json', '/opt/cni/bin/macmux ledger sync']);
});

/** The anchors GitHub gives the headings of a markdown text (github-slugger's rule, duplicates numbered). */
export function anchorsIn(text: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const m of text.replace(/```[\s\S]*?```/g, '').matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const visible = m[1]!.replace(/\[([^\]]*)\]\([^)]*\)/g, '$1').replace(/[`*]/g, '');
    const base = visible.toLowerCase().replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '').replace(/ /g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** Relative link targets of a markdown text, outside code: `[text](target)`, without web or mail addresses. */
export function linksIn(text: string): string[] {
  const prose = text.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, 'code');
  return [...prose.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((t) => !/^[a-z][a-z0-9+.-]*:/i.test(t));
}

/** Problems with the links of the doc at `file` (absolute): a target that does not exist, or an anchor no heading has. */
export function linkProblems(file: string, text: string, exists: (path: string) => boolean, read: (path: string) => string): string[] {
  const out: string[] = [];
  for (const link of linksIn(text)) {
    const [path, anchor] = link.split('#', 2) as [string, string | undefined];
    const target = path === '' ? file : join(dirname(file), decodeURIComponent(path));
    if (path !== '' && !exists(target)) { out.push(`${link}: no such file`); continue; }
    if (anchor === undefined) continue;
    if (!target.endsWith('.md')) { out.push(`${link}: an anchor into a file that is not markdown`); continue; }
    if (!anchorsIn(path === '' ? text : read(target)).has(anchor)) out.push(`${link}: no heading with anchor #${anchor}`);
  }
  return out;
}

test('every relative link in the docs resolves, to a file and a heading', () => {
  let seen = 0;
  const bad: string[] = [];
  for (const doc of DOCS) {
    const text = readFileSync(join(ROOT, doc), 'utf8');
    seen += linksIn(text).length;
    bad.push(...linkProblems(join(ROOT, doc), text, existsSync, (p) => readFileSync(p, 'utf8')).map((p) => `${doc}: ${p}`));
  }
  assert.deepEqual(bad, []);
  assert.ok(seen >= 30, `only ${seen} relative links found in the docs`);
  for (const want of ['configuration', 'ledger', 'operations', 'design', 'benchmarks', 'comparison']) {
    assert.ok(DOCS.includes(`docs/${want}.md`), `docs/${want}.md exists`);
    assert.ok(linksIn(readFileSync(join(ROOT, 'README.md'), 'utf8')).includes(`docs/${want}.md`), `README.md links docs/${want}.md`);
  }
});

test('the link checker catches a missing file, a missing anchor and a wrong relative path', () => {
  const dir = mkdtempSync(join(tmpdir(), 'macmux-docs-'));
  try {
    writeFileSync(join(dir, 'a.md'), '# A\n\n## Under faults: what it does, and `not`\n\n## Twice\n\n## Twice\n');
    const check = (text: string) => linkProblems(join(dir, 'sub', 'b.md'), text, existsSync, (p) => readFileSync(p, 'utf8'));
    assert.deepEqual(check('[a](../a.md#under-faults-what-it-does-and-not) [t](../a.md#twice-1) [u](#here)\n\n## Here\n'), []);
    assert.equal(check('[a](../missing.md)').length, 1);
    assert.equal(check('[a](../a.md#nowhere)').length, 1);
    assert.equal(check('[a](a.md)').length, 1, 'relative to the doc, not the root');
    assert.equal(check('[u](#nowhere)').length, 1);
    assert.deepEqual(check('`[x](nowhere.md)`\n```\n[y](nowhere.md)\n```\n[w](https://example.com/x)'), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('every macmux conflist shown in the docs is a valid config', () => {
  let seen = 0;
  for (const doc of DOCS) {
    for (const block of readFileSync(join(ROOT, doc), 'utf8').matchAll(/```json\n([\s\S]*?)```/g)) {
      const list = JSON.parse(block[1]!) as { cniVersion?: string; name?: string; plugins?: Array<Record<string, unknown>> };
      const mine = list.plugins?.find((p) => p.type === 'macmux');
      if (!mine) continue;
      seen++;
      assert.doesNotThrow(() => loadConf({ ...mine, name: list.name, cniVersion: list.cniVersion }), doc);
    }
  }
  assert.ok(seen >= 1, 'the README shows a conflist');
});
