#!/usr/bin/env python3
"""Golden features for tailgrad's FID Inception-v3 (src/eval/inception.rs), checked by
tests/inception.rs.

An independent float64 numpy implementation of pytorch-fid's `fid_inception_v3` up to pool3,
written from pytorch-fid's inception.py (FIDInceptionA/C/E_1/E_2) and torchvision's Inception3
blocks (BasicConv2d = conv without bias, BatchNorm eps 0.001 in eval mode, ReLU), not from the
Rust code: BatchNorm is applied as a separate step (the Rust code folds it into the conv), the
convolutions are im2col + tensordot with PyTorch's (ph, pw) padding, pools clip their windows
by padding with zeros / -inf and counting, and the 299×299 resize is the interpolation matrices
of `F.interpolate(mode="bilinear", align_corners=False)`.

Weights: random, from a formula both languages implement (so no weight file is committed):
tensor `name`, flat index i, seed S:
    base = splitmix64(fnv1a64(name) ^ S),  u_i = (splitmix64(base + i) >> 40) / 2**24
(wrapping 64-bit arithmetic; splitmix64(x) is Vigna's finaliser of x + 0x9E3779B97F4A7C15),
mapped in float64 and rounded once to float32:
    *.conv.weight                  (2u − 1)·sqrt(6 / fan_in)
    *.bn.weight, *.bn.running_var   0.5 + u
    *.bn.bias, *.bn.running_mean    0.2·(2u − 1)
The input is two 32×32 RGB images of multiples of 2^-7 in [−1, 1] (exact in f32 and JSON),
upsampled to 299×299 inside the network as pytorch-fid does.

Needs numpy (`pip install numpy`); takes a few seconds. Regenerate with
    python3 tests/golden/inception.py > tests/golden/inception.json
"""
import json
import math
import sys

import numpy as np

SEED = 2015
BN_EPS = 1e-3
M64 = (1 << 64) - 1


def splitmix64(x):
    """Vectorised over uint64 arrays (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def fnv1a64(s):
    h = 0xCBF29CE484222325
    for b in s.encode():
        h = ((h ^ b) * 0x100000001B3) & M64
    return h


def uniforms(name, n):
    base = splitmix64(np.array([fnv1a64(name) ^ SEED], dtype=np.uint64))[0]
    with np.errstate(over="ignore"):
        idx = base + np.arange(n, dtype=np.uint64)
    return (splitmix64(idx) >> np.uint64(40)).astype(np.float64) / 2.0**24


class Weights:
    def __init__(self):
        self.count = 0
        self.tensors = 0

    def get(self, name, shape):
        n = int(np.prod(shape))
        u = uniforms(name, n)
        if name.endswith(".conv.weight"):
            v = (2 * u - 1) * math.sqrt(6.0 / (n // shape[0]))
        elif name.endswith(".bn.weight") or name.endswith(".bn.running_var"):
            v = 0.5 + u
        else:
            v = (2 * u - 1) * 0.2
        self.count += n
        self.tensors += 1
        return v.astype(np.float32).astype(np.float64).reshape(shape)


W = Weights()


def conv2d(x, w, stride, ph, pw):
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))
    win = win[:, :, ::stride, ::stride]  # [N, C, OH, OW, kh, kw]
    return np.einsum("nchwij,ocij->nohw", win, w, optimize=True)


def basic_conv(x, name, cin, cout, k, stride=1, pad=(0, 0)):
    """torchvision's BasicConv2d in eval mode: conv (no bias), BatchNorm(eps=1e-3), ReLU."""
    kh, kw = (k, k) if isinstance(k, int) else k
    w = W.get(f"{name}.conv.weight", (cout, cin, kh, kw))
    assert x.shape[1] == cin, (name, x.shape, cin)
    y = conv2d(x, w, stride, *pad)
    g, b, m, v = (W.get(f"{name}.bn.{t}", (cout,)) for t in ("weight", "bias", "running_mean", "running_var"))
    y = (y - m[:, None, None]) / np.sqrt(v[:, None, None] + BN_EPS) * g[:, None, None] + b[:, None, None]
    return np.maximum(y, 0.0)


def max_pool(x, k, stride, pad=0):
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), constant_values=-np.inf)
    win = np.lib.stride_tricks.sliding_window_view(xp, (k, k), axis=(2, 3))[:, :, ::stride, ::stride]
    return win.max(axis=(4, 5))


def avg_pool_exclude_pad(x):
    """F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)."""
    def window_sum(a):
        ap = np.pad(a, ((0, 0), (0, 0), (1, 1), (1, 1)))
        return np.lib.stride_tricks.sliding_window_view(ap, (3, 3), axis=(2, 3)).sum(axis=(4, 5))
    count = window_sum(np.ones((1, 1) + x.shape[2:]))
    return window_sum(x) / count


def cat(*xs):
    return np.concatenate(xs, axis=1)


def mixed_a(x, p, cin, pool):
    b1 = basic_conv(x, f"{p}.branch1x1", cin, 64, 1)
    b5 = basic_conv(x, f"{p}.branch5x5_1", cin, 48, 1)
    b5 = basic_conv(b5, f"{p}.branch5x5_2", 48, 64, 5, pad=(2, 2))
    b3 = basic_conv(x, f"{p}.branch3x3dbl_1", cin, 64, 1)
    b3 = basic_conv(b3, f"{p}.branch3x3dbl_2", 64, 96, 3, pad=(1, 1))
    b3 = basic_conv(b3, f"{p}.branch3x3dbl_3", 96, 96, 3, pad=(1, 1))
    bp = basic_conv(avg_pool_exclude_pad(x), f"{p}.branch_pool", cin, pool, 1)
    return cat(b1, b5, b3, bp)


def mixed_b(x, p, cin):
    b3 = basic_conv(x, f"{p}.branch3x3", cin, 384, 3, stride=2)
    bd = basic_conv(x, f"{p}.branch3x3dbl_1", cin, 64, 1)
    bd = basic_conv(bd, f"{p}.branch3x3dbl_2", 64, 96, 3, pad=(1, 1))
    bd = basic_conv(bd, f"{p}.branch3x3dbl_3", 96, 96, 3, stride=2)
    return cat(b3, bd, max_pool(x, 3, 2))


def mixed_c(x, p, c7):
    cin = 768
    b1 = basic_conv(x, f"{p}.branch1x1", cin, 192, 1)
    b7 = basic_conv(x, f"{p}.branch7x7_1", cin, c7, 1)
    b7 = basic_conv(b7, f"{p}.branch7x7_2", c7, c7, (1, 7), pad=(0, 3))
    b7 = basic_conv(b7, f"{p}.branch7x7_3", c7, 192, (7, 1), pad=(3, 0))
    bd = basic_conv(x, f"{p}.branch7x7dbl_1", cin, c7, 1)
    bd = basic_conv(bd, f"{p}.branch7x7dbl_2", c7, c7, (7, 1), pad=(3, 0))
    bd = basic_conv(bd, f"{p}.branch7x7dbl_3", c7, c7, (1, 7), pad=(0, 3))
    bd = basic_conv(bd, f"{p}.branch7x7dbl_4", c7, c7, (7, 1), pad=(3, 0))
    bd = basic_conv(bd, f"{p}.branch7x7dbl_5", c7, 192, (1, 7), pad=(0, 3))
    bp = basic_conv(avg_pool_exclude_pad(x), f"{p}.branch_pool", cin, 192, 1)
    return cat(b1, b7, bd, bp)


def mixed_d(x, p):
    cin = 768
    b3 = basic_conv(x, f"{p}.branch3x3_1", cin, 192, 1)
    b3 = basic_conv(b3, f"{p}.branch3x3_2", 192, 320, 3, stride=2)
    b7 = basic_conv(x, f"{p}.branch7x7x3_1", cin, 192, 1)
    b7 = basic_conv(b7, f"{p}.branch7x7x3_2", 192, 192, (1, 7), pad=(0, 3))
    b7 = basic_conv(b7, f"{p}.branch7x7x3_3", 192, 192, (7, 1), pad=(3, 0))
    b7 = basic_conv(b7, f"{p}.branch7x7x3_4", 192, 192, 3, stride=2)
    return cat(b3, b7, max_pool(x, 3, 2))


def mixed_e(x, p, cin, max_pool_branch):
    b1 = basic_conv(x, f"{p}.branch1x1", cin, 320, 1)
    b3 = basic_conv(x, f"{p}.branch3x3_1", cin, 384, 1)
    b3 = cat(
        basic_conv(b3, f"{p}.branch3x3_2a", 384, 384, (1, 3), pad=(0, 1)),
        basic_conv(b3, f"{p}.branch3x3_2b", 384, 384, (3, 1), pad=(1, 0)),
    )
    bd = basic_conv(x, f"{p}.branch3x3dbl_1", cin, 448, 1)
    bd = basic_conv(bd, f"{p}.branch3x3dbl_2", 448, 384, 3, pad=(1, 1))
    bd = cat(
        basic_conv(bd, f"{p}.branch3x3dbl_3a", 384, 384, (1, 3), pad=(0, 1)),
        basic_conv(bd, f"{p}.branch3x3dbl_3b", 384, 384, (3, 1), pad=(1, 0)),
    )
    pooled = max_pool(x, 3, 1, pad=1) if max_pool_branch else avg_pool_exclude_pad(x)
    bp = basic_conv(pooled, f"{p}.branch_pool", cin, 192, 1)
    return cat(b1, b3, bd, bp)


def interp_matrix(n_in, n_out):
    """Rows of F.interpolate(mode="bilinear", align_corners=False) along one axis."""
    m = np.zeros((n_out, n_in))
    scale = n_in / n_out
    for o in range(n_out):
        s = max((o + 0.5) * scale - 0.5, 0.0)
        i0 = min(int(math.floor(s)), n_in - 1)
        i1 = min(i0 + 1, n_in - 1)
        lam = s - i0
        m[o, i0] += 1 - lam
        m[o, i1] += lam
    return m


def features(x):
    rh, rw = interp_matrix(x.shape[2], 299), interp_matrix(x.shape[3], 299)
    x = np.einsum("ph,nchw,qw->ncpq", rh, x, rw)
    x = basic_conv(x, "Conv2d_1a_3x3", 3, 32, 3, stride=2)
    x = basic_conv(x, "Conv2d_2a_3x3", 32, 32, 3)
    x = basic_conv(x, "Conv2d_2b_3x3", 32, 64, 3, pad=(1, 1))
    x = max_pool(x, 3, 2)
    x = basic_conv(x, "Conv2d_3b_1x1", 64, 80, 1)
    x = basic_conv(x, "Conv2d_4a_3x3", 80, 192, 3)
    x = max_pool(x, 3, 2)
    x = mixed_a(x, "Mixed_5b", 192, 32)
    x = mixed_a(x, "Mixed_5c", 256, 64)
    x = mixed_a(x, "Mixed_5d", 288, 64)
    x = mixed_b(x, "Mixed_6a", 288)
    for name, c7 in (("Mixed_6b", 128), ("Mixed_6c", 160), ("Mixed_6d", 160), ("Mixed_6e", 192)):
        x = mixed_c(x, name, c7)
    x = mixed_d(x, "Mixed_7a")
    x = mixed_e(x, "Mixed_7b", 1280, max_pool_branch=False)
    x = mixed_e(x, "Mixed_7c", 2048, max_pool_branch=True)
    assert x.shape[1:] == (2048, 8, 8), x.shape
    return x.mean(axis=(2, 3))


def main():
    rng = np.random.default_rng(SEED)
    images = rng.integers(-128, 129, size=(2, 3, 32, 32)) / 128.0
    f = features(images)
    print(f"features: min {f.min():.4g} max {f.max():.4g} mean {f.mean():.4g} "
          f"zeros {(f == 0).sum()} of {f.size}", file=sys.stderr)
    json.dump(
        {
            "seed": SEED,
            "tensors": W.tensors,
            "parameters": W.count,
            "shape": list(images.shape),
            "images": images.ravel().tolist(),
            "features": [float(f"{v:.10g}") for v in f.ravel()],
        },
        sys.stdout,
    )
    print()


if __name__ == "__main__":
    main()
