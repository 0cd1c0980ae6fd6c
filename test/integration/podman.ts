// Podman for one test file only: a temp containers.conf (runc, cgroupfs, explicit ulimits), temp storage and run dirs, so the host's podman state and config are never touched.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface PodmanRun {
  status: number;
  stdout: string;
  stderr: string;
}

/** This process's hard limit of one resource, from /proc/self/limits. */
function hardLimit(name: string): number {
  const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith(name));
  const hard = line?.slice(name.length).trim().split(/\s+/)[1];
  return hard === undefined || hard === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(hard);
}

/**
 * Default ulimits podman can set here: root lacks CAP_SYS_RESOURCE, so runc may only keep or lower each
 * hard limit, and podman's own processes run with nproc capped at the kernel's pid_max.
 */
export function reachableUlimits(): { nofile: number; nproc: number } {
  const pidMax = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8').trim());
  return { nofile: Math.min(hardLimit('Max open files'), 1_048_576), nproc: Math.min(hardLimit('Max processes'), pidMax) };
}

export class Podman {
  readonly dir: string;
  private readonly env: Record<string, string>;
  private readonly global: string[];

  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), 'macmux-podman-'));
    const u = reachableUlimits();
    const conf = join(this.dir, 'containers.conf');
    // crun refuses this machine's hybrid cgroups, hence runc; cgroupfs and a file event log: no systemd.
    writeFileSync(
      conf,
      [
        '[containers]',
        `default_ulimits = ["nofile=${u.nofile}:${u.nofile}", "nproc=${u.nproc}:${u.nproc}"]`,
        // podman locks its CNI network config dir on every call (/etc/cni/net.d/cni.lock by default): keep it here.
        '[network]',
        'network_backend = "cni"',
        `network_config_dir = "${join(this.dir, 'cni')}"`,
        '[engine]',
        'runtime = "runc"',
        'cgroup_manager = "cgroupfs"',
        'events_logger = "file"',
        `events_logfile_path = "${join(this.dir, 'events.log')}"`,
        '',
      ].join('\n'),
    );
    const storage = join(this.dir, 'storage.conf');
    writeFileSync(storage, ['[storage]', 'driver = "vfs"', `graphroot = "${join(this.dir, 'root')}"`, `runroot = "${join(this.dir, 'run')}"`, ''].join('\n'));
    mkdirSync(join(this.dir, 'tmp'));
    this.env = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', CONTAINERS_CONF: conf, CONTAINERS_STORAGE_CONF: storage, CONTAINERS_REGISTRIES_CONF: join(this.dir, 'registries.conf'), TMPDIR: join(this.dir, 'tmp') };
    writeFileSync(this.env.CONTAINERS_REGISTRIES_CONF!, 'unqualified-search-registries = []\n');
    this.global = ['--root', join(this.dir, 'root'), '--runroot', join(this.dir, 'run'), '--tmpdir', join(this.dir, 'libpod'), '--storage-driver', 'vfs', '--runtime', 'runc', '--cgroup-manager', 'cgroupfs', '--events-backend', 'file'];
  }

  /** Whether Debian's podman and runc are installed (scripts/setup.sh installs them). */
  static installed(): boolean {
    return ['podman', 'runc'].every((c) => spawnSync(c, ['--version'], { stdio: 'ignore' }).status === 0);
  }

  /** `podman <args>` with this instance's config and storage, without blocking the event loop (the API test server runs in this process). */
  run(args: string[], timeoutMs = 120_000): Promise<PodmanRun> {
    return this.spawn(['podman', ...this.global, ...args], timeoutMs);
  }

  /**
   * `podman load --input archive`. Podman 4.3 keeps a blob-info cache in /var/lib/containers/cache
   * whatever --root says, so the load runs in a private mount namespace with a scratch /var/lib
   * (it needs nothing there: storage and state are in this.dir). Only a command that leaves no
   * process behind may run so: a container's conmon would keep mounts the next command cannot see.
   */
  async load(archive: string): Promise<string> {
    const r = await this.spawn(['unshare', '--mount', '--propagation', 'private', 'sh', '-c', 'mount -t tmpfs podman-scratch /var/lib && exec "$@"', 'sh', 'podman', ...this.global, 'load', '--input', archive], 120_000);
    if (r.status !== 0) throw new Error(`podman load ${archive}: exit ${r.status}: ${r.stderr.trim()}`);
    return r.stdout.trim();
  }

  private spawn(argv: string[], timeoutMs: number): Promise<PodmanRun> {
    return new Promise((resolve, reject) => {
      const child = spawn(argv[0]!, argv.slice(1), { env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stderr.on('data', (b: Buffer) => err.push(b));
      child.on('error', reject);
      child.on('close', (status) => {
        clearTimeout(timer);
        resolve({ status: status ?? -1, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
      });
    });
  }

  /** Like run(), failing with podman's stderr unless it exits 0; the trimmed stdout. */
  async ok(args: string[], timeoutMs?: number): Promise<string> {
    const r = await this.run(args, timeoutMs);
    if (r.status !== 0) throw new Error(`podman ${args.join(' ')}: exit ${r.status}: ${r.stderr.trim()}`);
    return r.stdout.trim();
  }

  /** Removes every container (which unmounts their shm) and image, then the whole temp dir (vfs storage holds no mounts). */
  async cleanup(): Promise<void> {
    await this.run(['rm', '--all', '--force', '--time', '0']).catch(() => undefined);
    await this.run(['rmi', '--all', '--force']).catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
