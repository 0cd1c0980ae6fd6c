// An earlier release's binary, built from git for the upgrade tests and cached under dist/ by commit.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './harness';

const git = (args: string[]) => execFileSync('git', ['-C', ROOT, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

function hasCommit(commit: string): boolean {
  try {
    git(['cat-file', '-e', `${commit}^{commit}`]);
    return true;
  } catch {
    return false;
  }
}

/**
 * dist/release-<commit>/macmux: the macmux of `commit`, built once (git archive of the commit, this
 * checkout's node_modules, its own `npm run build`) and reused by later runs. A commit missing from a
 * shallow clone is fetched (`git fetch --unshallow`); one that cannot be had throws, naming it: an
 * upgrade test must never pass without the old binary.
 */
export function previousRelease(commit: string): string {
  const binary = join(ROOT, 'dist', `release-${commit}`, 'macmux');
  if (existsSync(binary)) return binary;
  if (!hasCommit(commit)) {
    try {
      if (git(['rev-parse', '--is-shallow-repository']).trim() === 'true') git(['fetch', '--unshallow']);
    } catch (e) {
      throw new Error(`release ${commit}: not in this clone, and git fetch --unshallow failed: ${(e as Error).message}`);
    }
    if (!hasCommit(commit)) throw new Error(`release ${commit}: not in this clone (fetch it, e.g. git fetch origin ${commit}); the upgrade test needs its binary`);
  }
  mkdirSync(join(ROOT, 'dist'), { recursive: true });
  const src = mkdtempSync(join(ROOT, 'dist', `.release-${commit}-`));
  try {
    execFileSync('sh', ['-c', `git -C "$1" archive "$2" | tar -x -C "$3"`, 'sh', ROOT, commit, src], { stdio: ['ignore', 'ignore', 'pipe'] });
    symlinkSync(join(ROOT, 'node_modules'), join(src, 'node_modules'));
    // Its own dist/macmux, whatever MACMUX_OUT says for this checkout's builds.
    const env = { ...process.env };
    delete env.MACMUX_OUT;
    try {
      execFileSync('npm', ['run', 'build', '--silent'], { cwd: src, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 600_000, env });
    } catch (e) {
      const err = e as { stdout?: string; stderr?: string; message: string };
      throw new Error(`release ${commit}: npm run build failed: ${err.message}\n${err.stdout ?? ''}${err.stderr ?? ''}`);
    }
    const built = join(src, 'dist', 'macmux');
    if (!existsSync(built)) throw new Error(`release ${commit}: npm run build made no dist/macmux`);
    mkdirSync(join(ROOT, 'dist', `release-${commit}`), { recursive: true });
    // A rename: a concurrent run never sees half a binary.
    renameSync(built, binary);
    return binary;
  } finally {
    rmSync(src, { recursive: true, force: true });
  }
}
