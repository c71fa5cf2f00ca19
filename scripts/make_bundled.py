#!/usr/bin/env python3
"""Regenerates data/bundled/: the long-tailed Fashion-MNIST subset compiled into tailgrad.

Usage: python3 scripts/make_bundled.py [SRC_DIR [OUT_DIR]]
  SRC_DIR defaults to /usr/share/datasets/fashion-mnist (apt-get install dataset-fashion-mnist),
  OUT_DIR to data/bundled next to this script's parent.

Python standard library only; every random draw is SplitMix64, exactly as src/data/shuffle.rs,
so tailgrad's `long_tailed` reproduces the training split (tests/data.rs checks this).

Train: the first HEAD = 1000 images of each class in file order; then, with one SplitMix64
stream seeded with 0, for each class in label order shuffle that class's indices (Fisher-Yates
from the last position down, position i swapping with below(i + 1)) and keep the first
n_i = int(1000 * 0.01 ** (i / 9)) (1000, 599, ..., 10), classes written in label order.
Test: the first 200 images of each class of the official test set, in file order.

Output: IDX files, gzip-compressed with a fixed header (no name, mtime 0, OS 255) around
zlib level 9 raw deflate, so the bytes depend only on zlib's deflate (1.2.13 here).
"""
import gzip
import hashlib
import struct
import sys
import zlib
from pathlib import Path

CLASSES = 10
HEAD = 1000
RHO = 100.0
SEED = 0
TEST_PER_CLASS = 200
MASK = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


class SplitMix64:
    def __init__(self, seed):
        self.state = seed & MASK

    def next_u64(self):
        self.state = (self.state + GOLDEN) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def below(self, n):
        return (self.next_u64() * n) >> 64

    def shuffle(self, v):
        for i in range(len(v) - 1, 0, -1):
            j = self.below(i + 1)
            v[i], v[j] = v[j], v[i]


def read_idx(path, ndim):
    data = gzip.decompress(path.read_bytes())
    magic = struct.unpack(">I", data[:4])[0]
    assert magic == 0x800 | ndim, f"{path}: bad magic {magic:#x}"
    dims = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    body = data[4 + 4 * ndim :]
    size = 1
    for d in dims:
        size *= d
    assert len(body) == size, f"{path}: {len(body)} data bytes for dims {dims}"
    return dims, body


def load(src, split):
    (n, h, w), images = read_idx(src / f"{split}-images-idx3-ubyte.gz", 3)
    (m,), labels = read_idx(src / f"{split}-labels-idx1-ubyte.gz", 1)
    assert n == m and h == w == 28
    return images, list(labels)


def first_per_class(labels, per_class):
    """Indices of the first `per_class` images of each class, in file order."""
    taken = [0] * CLASSES
    out = []
    for i, y in enumerate(labels):
        if taken[y] < per_class:
            taken[y] += 1
            out.append(i)
    assert taken == [per_class] * CLASSES
    return out


def long_tail_counts():
    imb = 1.0 / RHO
    return [int(HEAD * imb ** (i / (CLASSES - 1.0))) for i in range(CLASSES)]


def long_tailed(labels, pool):
    """src/data/long_tail.rs `long_tailed` on the images `pool` (which hold HEAD per class)."""
    members = [[] for _ in range(CLASSES)]
    for k, i in enumerate(pool):
        members[labels[i]].append(k)
    rng = SplitMix64(SEED)
    keep = []
    for idx, n in zip(members, long_tail_counts()):
        rng.shuffle(idx)
        keep.extend(idx[:n])
    return [pool[k] for k in keep]


def gzip_bytes(raw):
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = comp.compress(raw) + comp.flush()
    header = bytes([0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 2, 255])
    trailer = struct.pack("<II", zlib.crc32(raw), len(raw) & 0xFFFFFFFF)
    return header + body + trailer


def write(out, name, raw):
    gz = gzip_bytes(raw)
    (out / name).write_bytes(gz)
    print(
        f"{name}: {len(raw)} bytes, sha256 {hashlib.sha256(raw).hexdigest()}; "
        f"{len(gz)} bytes gzipped, sha256 {hashlib.sha256(gz).hexdigest()}"
    )


def write_split(out, split, images, labels, picks):
    pixels = b"".join(images[i * 784 : (i + 1) * 784] for i in picks)
    write(out, f"{split}-images-idx3-ubyte.gz", struct.pack(">IIII", 0x803, len(picks), 28, 28) + pixels)
    ys = bytes(labels[i] for i in picks)
    write(out, f"{split}-labels-idx1-ubyte.gz", struct.pack(">II", 0x801, len(picks)) + ys)
    counts = [0] * CLASSES
    for i in picks:
        counts[labels[i]] += 1
    print(f"{split}: {len(picks)} images, per class {counts}")


def main():
    src = Path(sys.argv[1] if len(sys.argv) > 1 else "/usr/share/datasets/fashion-mnist")
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(__file__).resolve().parent.parent / "data" / "bundled"
    out.mkdir(parents=True, exist_ok=True)
    images, labels = load(src, "train")
    write_split(out, "train", images, labels, long_tailed(labels, first_per_class(labels, HEAD)))
    images, labels = load(src, "t10k")
    write_split(out, "t10k", images, labels, first_per_class(labels, TEST_PER_CLASS))


if __name__ == "__main__":
    main()
