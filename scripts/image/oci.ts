// The OCI image around one layer: config, manifest, index and the image's name, as canonical bytes (fixed key order, fixed time), so equal inputs give an equal digest.
import { createHash } from 'node:crypto';

export const MEDIA = {
  layer: 'application/vnd.oci.image.layer.v1.tar',
  config: 'application/vnd.oci.image.config.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  index: 'application/vnd.oci.image.index.v1+json',
} as const;

/**
 * The image's name for a version: `localhost/macmux:<version>`, which `podman load` keeps as it is and
 * `ctr images import` (and so `kind load image-archive`) takes from the index's io.containerd.image.name.
 * Kubernetes never rewrites a name with a registry host in it, so daemonset.yaml names exactly this.
 */
export function imageRef(version: string): string {
  if (!/^[\w][\w.-]{0,127}$/.test(version)) throw new Error(`image: ${JSON.stringify(version)} cannot be an image tag`);
  return `localhost/macmux:${version}`;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
}

export const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export const describe = (mediaType: string, bytes: Buffer): Descriptor => ({ mediaType, digest: sha256(bytes), size: bytes.length });

/** Node's process.arch as an OCI architecture. */
export function ociArch(arch: string): string {
  const known: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
  const a = known[arch];
  if (!a) throw new Error(`image: no OCI architecture for ${arch}`);
  return a;
}

export interface ImageSpec {
  version: string;
  /** OCI architecture (amd64, arm64) */
  arch: string;
  /** seconds since the epoch written as the image's creation time */
  epoch: number;
  /** the uncompressed layer's descriptor; its digest is also the diff ID */
  layer: Descriptor;
}

export interface ImageBlobs {
  config: Buffer;
  manifest: Buffer;
  index: Buffer;
  ociLayout: Buffer;
}

/** The JSON documents of the image, key order fixed by construction. */
export function imageBlobs(s: ImageSpec): ImageBlobs {
  const created = new Date(s.epoch * 1000).toISOString().replace(/\.000Z$/, 'Z');
  const config = Buffer.from(
    JSON.stringify({
      created,
      architecture: s.arch,
      os: 'linux',
      config: {
        Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
        Entrypoint: ['/macmux'],
        WorkingDir: '/',
        Labels: { 'org.opencontainers.image.title': 'macmux', 'org.opencontainers.image.version': s.version },
      },
      rootfs: { type: 'layers', diff_ids: [s.layer.digest] },
      history: [{ created, created_by: 'npm run image: /macmux, the shared libraries ldd lists and the loader' }],
    }),
  );
  const configDesc = describe(MEDIA.config, config);
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.manifest, config: configDesc, layers: [s.layer] }));
  const manifestDesc = describe(MEDIA.manifest, manifest);
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.index,
      manifests: [
        {
          ...manifestDesc,
          platform: { architecture: s.arch, os: 'linux' },
          annotations: { 'io.containerd.image.name': imageRef(s.version), 'org.opencontainers.image.ref.name': s.version },
        },
      ],
    }),
  );
  return { config, manifest, index, ociLayout: Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })) };
}
