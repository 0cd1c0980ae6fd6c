// Owns everything the bench creates on the host (netns, links, temp dirs, all named mmbench*) and removes it all, also on failure or Ctrl-C.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export class Sandbox {
  /** `mmbench` + a per-process tag: link names stay within the kernel's 15 characters. */
  readonly prefix = `mmbench${process.pid % 10000}`;
  readonly dir: string;
  private readonly netnses = new Set<string>();
  private readonly links = new Set<string>();
  private seq = 0;
  private cleaned = false;

  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), 'mmbench-'));
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.once(sig, () => {
        this.cleanup();
        process.exit(130);
      });
    }
    process.once('exit', () => this.cleanup());
  }

  /** A fresh network namespace (its path is /run/netns/<name>). */
  netns(tag: string): string {
    const name = `${this.prefix}-${tag}${this.seq++}`;
    execFileSync('ip', ['netns', 'add', name], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.netnses.add(name);
    return name;
  }

  dropNetns(name: string): void {
    spawnSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
    this.netnses.delete(name);
  }

  /** An up host bridge `<prefix><tag>` (macvlan's lower device here); removed at cleanup. */
  bridge(tag: string): string {
    const name = this.linkName(tag);
    spawnSync('ip', ['link', 'del', name], { stdio: 'ignore' });
    execFileSync('ip', ['link', 'add', name, 'type', 'bridge'], { stdio: ['ignore', 'ignore', 'pipe'] });
    execFileSync('ip', ['link', 'set', name, 'up'], { stdio: ['ignore', 'ignore', 'pipe'] });
    return name;
  }

  /** A link name a delegate will create (the bridge plugin's bridge), removed at cleanup. */
  linkName(tag: string): string {
    const name = `${this.prefix}${tag}`.slice(0, 15);
    this.links.add(name);
    return name;
  }

  cleanup(): void {
    if (this.cleaned) return;
    this.cleaned = true;
    for (const ns of this.netnses) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    for (const l of this.links) spawnSync('ip', ['link', 'del', l], { stdio: 'ignore' });
    rmSync(this.dir, { recursive: true, force: true });
  }
}
