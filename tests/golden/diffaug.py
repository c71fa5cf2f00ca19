#!/usr/bin/env python3
"""Golden vectors for tailgrad's DiffAugment (src/gan/diffaug.rs), checked by tests/diffaug.rs.

An independent float64 numpy implementation written from /work/shared/spec/gan.md §4 and
methods.md §2.7 (the reference DiffAugment_pytorch.py's semantics), not from the Rust code: the
three color steps one after the other as the reference writes them, translation by padding with
one zero row/column and clamping indices into the padded image, cutout by clamping the square's
indices into the image and zeroing a ones mask.

The draws are fixed uniforms u in [0, 1) with 24 random bits (what the f32 engine's Philox
yields), seven per sample: brightness, saturation, contrast, tx, ty, ox, oy. An integer with n
choices is floor(u·n) (the product rounded to float32, as the engine computes it) clamped to
[0, n − 1]; translation shifts are that minus s, s = int(side·ratio + 0.5).

Each case holds the images x, the forward outputs of the policies ["color"], ["translation"],
["cutout"] (not for the 32×32 case, to keep the file small) and the full one, each on the same
draws, and the gradient of L = Σ w·y (full policy)
with respect to x. y is affine in x, so the central differences are exact up to float64 rounding
(h = 0.5, error ~1e-14). x and w are multiples of 2^-7 and 2^-4 (exact in f32 and in the JSON);
outputs are printed to 10 significant digits.

Needs numpy (`pip install numpy`). Regenerate with
    python3 tests/golden/diffaug.py > tests/golden/diffaug.json
"""
import json

import numpy as np

TRANSLATION_RATIO = 0.125
CUTOUT_RATIO = 0.5


def pick(u, n):
    k = np.floor(np.float32(u) * np.float32(n))
    return int(min(max(k, 0), n - 1))


def per_sample(v):
    return v.reshape(-1, 1, 1, 1)


def color(x, u):
    x = x + per_sample(u[:, 0] - 0.5)  # brightness
    m = x.mean(axis=1, keepdims=True)
    x = (x - m) * per_sample(2.0 * u[:, 1]) + m  # saturation
    m = x.mean(axis=(1, 2, 3), keepdims=True)
    return (x - m) * per_sample(u[:, 2] + 0.5) + m  # contrast


def translation(x, u):
    b, _, h, w = x.shape
    sx, sy = int(h * TRANSLATION_RATIO + 0.5), int(w * TRANSLATION_RATIO + 0.5)
    out = np.empty_like(x)
    for n in range(b):
        tx = pick(u[n, 3], 2 * sx + 1) - sx
        ty = pick(u[n, 4], 2 * sy + 1) - sy
        padded = np.pad(x[n], ((0, 0), (1, 1), (1, 1)))
        rows = np.clip(np.arange(h) + tx + 1, 0, h + 1)
        cols = np.clip(np.arange(w) + ty + 1, 0, w + 1)
        out[n] = padded[:, rows][:, :, cols]
    return out


def cutout(x, u):
    b, _, h, w = x.shape
    kx, ky = int(h * CUTOUT_RATIO + 0.5), int(w * CUTOUT_RATIO + 0.5)
    mask = np.ones((b, 1, h, w))
    for n in range(b):
        ox = pick(u[n, 5], h + (1 - kx % 2))
        oy = pick(u[n, 6], w + (1 - ky % 2))
        rows = np.clip(np.arange(kx) + ox - kx // 2, 0, h - 1)
        cols = np.clip(np.arange(ky) + oy - ky // 2, 0, w - 1)
        mask[n, 0][np.ix_(rows, cols)] = 0.0
    return x * mask


OPS = {"color": color, "translation": translation, "cutout": cutout}


def augment(x, u, policy):
    for p in policy:
        x = OPS[p](x, u)
    return x


def grad(x, u, wt, h=0.5):
    """Central differences of L = Σ w·y, exact for an affine y."""
    g = np.zeros_like(x)
    flat = g.reshape(-1)
    for i in range(x.size):
        plus, minus = x.copy().reshape(-1), x.copy().reshape(-1)
        plus[i] += h
        minus[i] -= h
        lp = (wt * augment(plus.reshape(x.shape), u, OPS)).sum()
        lm = (wt * augment(minus.reshape(x.shape), u, OPS)).sum()
        flat[i] = (lp - lm) / (2 * h)
    return g


def fmt(a):
    return [float(f"{v:.10g}") for v in a.reshape(-1)]


rng = np.random.default_rng(20261204)
U_MAX = 1.0 - 2.0**-24


def draws(b, extremes):
    u = rng.integers(0, 2**24, size=(b, 7)) / 2.0**24
    if extremes:
        # Sample 0 at the bottom of every range (shift −s, cutout clipped at the top-left),
        # sample 1 at the top (+s, clipped at the bottom-right).
        u[0, :] = 0.0
        u[1, :] = U_MAX
    return u


cases = []
for name, shape, extremes, alone in [
    ("rgb_8x8", (3, 3, 8, 8), True, True),
    ("gray_7x13", (2, 1, 7, 13), True, True),
    ("rgb_5x5_b5", (5, 3, 5, 5), False, True),
    ("cifar_32x32", (1, 3, 32, 32), False, False),
]:
    x = rng.integers(-128, 129, size=shape) / 128.0
    wt = rng.integers(-16, 17, size=shape) / 16.0
    u = draws(shape[0], extremes)
    outputs = {p: fmt(augment(x, u, [p])) for p in OPS} if alone else {}
    outputs["color,translation,cutout"] = fmt(augment(x, u, list(OPS)))
    cases.append({
        "name": name,
        "shape": list(shape),
        "x": [float(v) for v in x.reshape(-1)],
        "draws": [float(v) for v in u.reshape(-1)],
        "outputs": outputs,
        "w": [float(v) for v in wt.reshape(-1)],
        "grad": fmt(grad(x, u, wt)),
    })

print(json.dumps({"translation_ratio": TRANSLATION_RATIO, "cutout_ratio": CUTOUT_RATIO,
                  "cases": cases}, separators=(",", ":")))
