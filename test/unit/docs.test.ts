// The docs' macmux commands are real: every `macmux …` shown in README.md and daemonset/README.md names an existing command and only its options.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { buildProgram } from '../../src/cli/program';

const ROOT = join(__dirname, '..', '..');
const DOCS = ['README.md', 'daemonset/README.md'];

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
