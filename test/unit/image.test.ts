// The image build's pure parts: the ustar writer (deterministic, valid headers), ldd's output read into paths, and the OCI documents and name.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { header, parentDirs, tarChunks, type TarEntry } from '../../scripts/image/tar';
import { parseLdd } from '../../scripts/image/libs';
import { imageBlobs, imageRef, MEDIA, sha256 } from '../../scripts/image/oci';

const field = (h: Buffer, off: number, len: number) => h.subarray(off, off + len).toString('ascii').replace(/\0.*$/s, '');
const tarOf = (entries: TarEntry[], mtime = 0) => Buffer.concat(tarChunks(entries, mtime));
const file = (name: string, text: string, mode = 0o644): TarEntry => ({ name, type: 'file', mode, data: Buffer.from(text) });

describe('tar', () => {
  it('writes ustar headers: name, mode, root owner, size, the fixed mtime, type and a checksum every tar accepts', () => {
    const h = header(file('lib64/ld.so', 'abc', 0o755), 1_700_000_000);
    assert.equal(field(h, 0, 100), 'lib64/ld.so');
    assert.equal(field(h, 100, 8), '0000755');
    assert.equal(field(h, 108, 8), '0000000');
    assert.equal(field(h, 116, 8), '0000000');
    assert.equal(field(h, 124, 12), '00000000003');
    assert.equal(parseInt(field(h, 136, 12), 8), 1_700_000_000);
    assert.equal(field(h, 156, 1), '0');
    assert.equal(field(h, 257, 6), 'ustar');
    assert.equal(field(h, 265, 32), 'root');
    const stored = parseInt(field(h, 148, 8), 8);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
    assert.equal(stored, sum);
    const d = header({ name: 'lib', type: 'dir', mode: 0o755 }, 0);
    assert.equal(field(d, 0, 100), 'lib/', 'a directory name ends in /');
    assert.equal(field(d, 156, 1), '5');
  });

  it('is deterministic: the order entries are given in never matters; content, mode and mtime do', () => {
    const a = [file('b', 'two'), file('a', 'one'), { name: 'c/', type: 'dir' as const, mode: 0o755 }];
    const ref = tarOf(a);
    assert.deepEqual(tarOf([...a].reverse()), ref);
    assert.notDeepEqual(tarOf([file('b', 'two!'), a[1]!, a[2]!]), ref);
    assert.notDeepEqual(tarOf([file('b', 'two', 0o755), a[1]!, a[2]!]), ref);
    assert.notDeepEqual(tarOf(a, 1), ref);
    assert.equal(ref.length % 512, 0);
    assert.deepEqual(ref.subarray(ref.length - 1024), Buffer.alloc(1024), 'ends in two zero blocks');
  });

  it('pads file data to whole blocks, and lists a directory before what it holds', () => {
    const t = tarOf([file('d/x', 'x'.repeat(513)), ...parentDirs(['d/x'])]);
    assert.equal(t.length, 512 + 512 + 1024 + 1024);
    assert.equal(field(t, 0, 100), 'd/');
    assert.equal(field(t, 512, 100), 'd/x');
  });

  it('splits a long path into prefix and name, and refuses what ustar cannot hold or a path that climbs out', () => {
    const long = `${'p'.repeat(120)}/${'n'.repeat(90)}`;
    const h = header(file(long, ''), 0);
    assert.equal(field(h, 345, 155), 'p'.repeat(120));
    assert.equal(field(h, 0, 100), 'n'.repeat(90));
    assert.throws(() => header(file('n'.repeat(101), ''), 0), /too long/);
    for (const bad of ['/etc/passwd', '../x', 'a/../../x', 'sp ace', '']) assert.throws(() => header(file(bad, ''), 0), /bad entry name/, bad);
    assert.throws(() => tarOf([file('a', '1'), file('a', '2')]), /given twice/);
  });

  it('parentDirs gives each directory above the paths once', () => {
    assert.deepEqual(parentDirs(['lib/x86_64-linux-gnu/libc.so.6', 'lib/x86_64-linux-gnu/libm.so.6', 'lib64/ld.so', 'macmux']).map((d) => d.name).sort(), ['lib/', 'lib/x86_64-linux-gnu/', 'lib64/']);
  });
});

describe('ldd', () => {
  it('reads each library path and the loader, skipping the vDSO', () => {
    const out = [
      '\tlinux-vdso.so.1 (0x00007ffd1c5f2000)',
      '\tlibdl.so.2 => /lib/x86_64-linux-gnu/libdl.so.2 (0x00007f51435c9000)',
      '\tlibstdc++.so.6 => /lib/x86_64-linux-gnu/libstdc++.so.6 (0x00007f5143200000)',
      '\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f514301e000)',
      '\t/lib64/ld-linux-x86-64.so.2 (0x00007f51435e1000)',
      '',
    ].join('\n');
    assert.deepEqual(parseLdd(out), ['/lib/x86_64-linux-gnu/libc.so.6', '/lib/x86_64-linux-gnu/libdl.so.2', '/lib/x86_64-linux-gnu/libstdc++.so.6', '/lib64/ld-linux-x86-64.so.2']);
  });

  it('fails naming a library it cannot find, or a line it cannot read; a static executable needs nothing', () => {
    assert.throws(() => parseLdd('\tlibfoo.so.1 => not found\n'), /libfoo\.so\.1 not found/);
    assert.throws(() => parseLdd('\tsomething odd\n'), /cannot read/);
    assert.deepEqual(parseLdd('\tstatically linked\n'), []);
  });
});

describe('OCI documents', () => {
  const layer = { mediaType: MEDIA.layer, digest: sha256(Buffer.from('layer')), size: 5 };
  it('name the image localhost/macmux:<version> for podman and containerd alike', () => {
    assert.equal(imageRef('0.1.0'), 'localhost/macmux:0.1.0');
    assert.throws(() => imageRef('1.0/evil'), /cannot be an image tag/);
    const b = imageBlobs({ version: '0.1.0', arch: 'amd64', epoch: 0, layer });
    const index = JSON.parse(b.index.toString()) as { manifests: Array<{ digest: string; annotations: Record<string, string>; platform: unknown }> };
    assert.deepEqual(index.manifests[0]!.annotations, { 'io.containerd.image.name': 'localhost/macmux:0.1.0', 'org.opencontainers.image.ref.name': '0.1.0' });
    assert.equal(index.manifests[0]!.digest, sha256(b.manifest));
    const manifest = JSON.parse(b.manifest.toString()) as { config: { digest: string }; layers: unknown[] };
    assert.equal(manifest.config.digest, sha256(b.config));
    assert.deepEqual(manifest.layers, [layer]);
    const config = JSON.parse(b.config.toString()) as { created: string; rootfs: { diff_ids: string[] }; config: { Entrypoint: string[] } };
    assert.equal(config.created, '1970-01-01T00:00:00Z');
    assert.deepEqual(config.rootfs.diff_ids, [layer.digest], 'an uncompressed layer: its digest is its diff ID');
    assert.deepEqual(config.config.Entrypoint, ['/macmux']);
  });

  it('are the same bytes for the same inputs, and differ with the version or the time', () => {
    const b = (version: string, epoch: number) => imageBlobs({ version, arch: 'amd64', epoch, layer }).index;
    assert.deepEqual(b('0.1.0', 0), b('0.1.0', 0));
    assert.notDeepEqual(b('0.1.1', 0), b('0.1.0', 0));
    assert.notDeepEqual(b('0.1.0', 1), b('0.1.0', 0));
  });
});
