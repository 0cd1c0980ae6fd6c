// Builds the OCI archive of the macmux image from this machine's files: /macmux, the libraries ldd lists for it and the loader, in one layer, written atomically.
import { execFileSync } from 'node:child_process';
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { sharedLibraries } from './libs';
import { describe, imageBlobs, imageRef, MEDIA, ociArch } from './oci';
import { parentDirs, tarChunks, type TarEntry } from './tar';

/** The reproducible-builds epoch: SOURCE_DATE_EPOCH in seconds, else 0 (1970-01-01); undefined when it is not a time. */
export function epochFromEnv(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const epoch = Number(env.SOURCE_DATE_EPOCH ?? 0);
  return Number.isSafeInteger(epoch) && epoch >= 0 ? epoch : undefined;
}

export interface BuildOptions {
  /** the single executable, put at /macmux */
  binary: string;
  /** the archive to write */
  out: string;
  /** package.json's version: the tag, and what `binary version` must print */
  version: string;
  /** the fixed time of every file and of the image, seconds since the epoch */
  epoch: number;
  /** the binary's architecture as Node names it (default this process's) */
  arch?: string;
}

export interface Built {
  ref: string;
  /** the manifest's digest: the image's digest as `podman images --digests` and registries show it */
  digest: string;
  /** the config's digest: the image ID */
  id: string;
  /** bytes of the archive */
  size: number;
  /** the layer's paths, in archive order */
  paths: string[];
}

/** Runs `binary version` from an empty environment; refuses a binary of another version (a stale build would get the wrong tag). */
function checkVersion(binary: string, version: string): void {
  let printed: string;
  try {
    printed = execFileSync(binary, ['version'], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, timeout: 20_000, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    throw new Error(`image: ${binary} does not run (npm run build makes it): ${(e as Error).message.split('\n')[0]}`);
  }
  if (!printed.startsWith(`macmux ${version} `)) throw new Error(`image: ${binary} prints ${JSON.stringify(printed.trim())}, not macmux ${version}: run npm run build`);
}

/** The layer's entries: the binary at /macmux and each library at the path ldd shows, its target's bytes, all 0755. */
export function layerEntries(binary: string): TarEntry[] {
  const files: TarEntry[] = [{ name: 'macmux', type: 'file', mode: 0o755, data: readFileSync(binary) }];
  for (const lib of sharedLibraries(binary)) files.push({ name: lib.slice(1), type: 'file', mode: 0o755, data: readFileSync(lib) });
  return [...parentDirs(files.map((f) => f.name)), ...files];
}

function writeAtomically(path: string, chunks: Buffer[]): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', 0o644);
  try {
    for (const c of chunks) for (let off = 0; off < c.length; ) off += writeSync(fd, c, off);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
}

export function buildImage(o: BuildOptions): Built {
  checkVersion(o.binary, o.version);
  const entries = layerEntries(o.binary);
  const layer = Buffer.concat(tarChunks(entries, o.epoch));
  const layerDesc = describe(MEDIA.layer, layer);
  const blobs = imageBlobs({ version: o.version, arch: ociArch(o.arch ?? process.arch), epoch: o.epoch, layer: layerDesc });
  const config = describe(MEDIA.config, blobs.config);
  const manifest = describe(MEDIA.manifest, blobs.manifest);
  const blob = (d: { digest: string }, data: Buffer): TarEntry => ({ name: `blobs/sha256/${d.digest.slice('sha256:'.length)}`, type: 'file', mode: 0o644, data });
  const archive: TarEntry[] = [
    { name: 'oci-layout', type: 'file', mode: 0o644, data: blobs.ociLayout },
    { name: 'index.json', type: 'file', mode: 0o644, data: blobs.index },
    { name: 'blobs/', type: 'dir', mode: 0o755 },
    { name: 'blobs/sha256/', type: 'dir', mode: 0o755 },
    blob(layerDesc, layer),
    blob(config, blobs.config),
    blob(manifest, blobs.manifest),
  ];
  writeAtomically(o.out, tarChunks(archive, o.epoch));
  return {
    ref: imageRef(o.version),
    digest: manifest.digest,
    id: config.digest,
    size: statSync(o.out).size,
    paths: [...entries].map((e) => e.name).sort(),
  };
}
