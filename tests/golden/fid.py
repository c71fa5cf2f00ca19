#!/usr/bin/env python3
"""Golden vectors for tailgrad's FID/KID statistics (src/eval/), checked by tests/fid.rs.

An independent float64 numpy/scipy implementation written from /work/shared/spec/gan.md §5, not
from the Rust code:
- mean and unbiased covariance of each feature set (np.mean, np.cov, two-pass in float64);
- FID = ‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2 Σ √λᵢ, λ the eigenvalues of S Σ₂ S, S = Σ₁^{1/2} from
  np.linalg.eigh (negative eigenvalues clipped to 0, S Σ₂ S symmetrised first);
- KID's unbiased MMD² with k(x, y) = (xᵀy/d + 1)³ on explicit subsets (index lists stored here),
  Σ_{i≠j} k(xᵢ, xⱼ)/(m_x(m_x − 1)) + Σ_{i≠j} k(yᵢ, yⱼ)/(m_y(m_y − 1)) − 2 Σ k(xᵢ, yⱼ)/(m_x m_y).

Why the FID reference is not scipy.linalg.sqrtm everywhere: sqrtm of the non-symmetric Σ₁Σ₂ is
the source of the NaN / imaginary-part reports gan.md cites, and for rank-deficient or
near-singular covariances its result is not accurate. So the stored FID is the eigen formula above,
and every case is cross-checked (asserted here) against a second formula that takes no square root
of a tiny eigenvalue: with Xₖ the centred data, Σₖ = XₖᵀXₖ/(nₖ − 1), the nonzero eigenvalues of
Σ₁Σ₂ are the squared singular values of X₁X₂ᵀ/√((n₁ − 1)(n₂ − 1)), so tr (Σ₁Σ₂)^{1/2} is that
matrix's nuclear norm (np.linalg.svd, backward stable). scipy's sqrtm is asserted to agree only on
the well-conditioned pairs (full-rank covariances).

Features are f32-exact: generated in float64, then rounded to integer multiples of 2^-e with
|integer| ≤ 2^22 (so the value is exact in float32 and stored compactly as the integer and e);
all references are computed in float64 from those exact values. Covariances are stored as their
upper triangle, row by row, with full float64 precision (Python's repr round-trips).

Sizes are awkward on purpose: dim 1, 7 (prime), 64, 130; n = 2, 3, 50, 257. Cases: random
Gaussians with different means and covariances; rank-deficient covariances (n ≤ dim, and features
in a 10-dimensional subspace); near-singular (one eigenvalue ~1e-10); equal covariances with
shifted means (FID = ‖Δμ‖², the shift a multiple of 2^-4 so x + δ is exact); a large offset
(features ~1e4 + O(1) spread, which a naive unshifted E[xxᵀ] − μμᵀ in float32 gets wrong); a set
with itself.

Needs numpy and scipy (`pip install numpy scipy`). Regenerate with
    python3 tests/golden/fid.py > tests/golden/fid.json
"""
import json
import sys

import numpy as np
import scipy.linalg

IBITS = 22  # |integer| ≤ 2^22: exact in float32 with 2 bits to spare


def quantize(x, e=None):
    """x -> (integers, e) with x ≈ integers·2^-e, exact in float32."""
    if e is None:
        e = IBITS - int(np.ceil(np.log2(np.abs(x).max())))
    ints = np.rint(x * 2.0**e).astype(np.int64)
    assert np.abs(ints).max() <= 2**IBITS + 2**(IBITS - 1)
    assert np.all(ints.astype(np.float32).astype(np.int64) == ints)
    return ints, e


def values(ints, e):
    return ints.astype(np.float64) * 2.0**-e


def gaussian(rng, n, d, scale, mean_scale=1.0):
    mu = mean_scale * rng.standard_normal(d)
    a = rng.standard_normal((d, d)) * scale / np.sqrt(d)
    return mu + rng.standard_normal((n, d)) @ a.T


def near_singular(rng, n, d, tiny):
    """d − 1 directions of O(1) variance and one oblique direction of variance tiny²."""
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    s = rng.uniform(0.5, 2.0, d - 1)
    z = rng.standard_normal((n, d))
    return 0.3 + (z[:, :-1] * s) @ q[:, :-1].T + tiny * z[:, -1:] * q[:, -1]


def subspace(rng, n, d, r):
    w = rng.standard_normal((r, d))
    return rng.standard_normal(d) + rng.standard_normal((n, r)) @ w


def feature_sets(rng):
    sets = {}

    def add(name, x, e=None):
        sets[name] = quantize(x, e)

    add("a1", 0.3 + 2.0 * rng.standard_normal((50, 1)))
    add("b1", -0.5 + 0.7 * rng.standard_normal((3, 1)))
    add("a7", gaussian(rng, 257, 7, 1.5))
    add("b7", gaussian(rng, 50, 7, 0.8, 2.0))
    add("two7", gaussian(rng, 2, 7, 1.0))
    add("near7", near_singular(rng, 257, 7, 1e-5))
    add("near7b", near_singular(rng, 50, 7, 1e-5))
    add("eq7", gaussian(rng, 257, 7, 5.0), e=12)
    shift = np.rint(rng.uniform(-0.5, 0.5, 7) * 16) / 16
    sets["eq7s"] = (sets["eq7"][0] + (shift * 2.0**12).astype(np.int64), 12)
    add("off7", 1e4 + gaussian(rng, 257, 7, 1.0, 0.5))
    add("off7b", 1e4 + 0.2 + gaussian(rng, 257, 7, 1.2, 0.5))
    add("a64", gaussian(rng, 257, 64, 1.0))
    add("b64", np.abs(gaussian(rng, 257, 64, 2.0, 0.5)))
    add("sub64", subspace(rng, 50, 64, 10))
    add("r130", gaussian(rng, 50, 130, 1.0))
    add("t130", gaussian(rng, 3, 130, 3.0))
    return sets


def stats(x):
    return x.mean(axis=0), np.atleast_2d(np.cov(x, rowvar=False))


def fid_eigen(mu1, s1, mu2, s2):
    lam, v = np.linalg.eigh(s1)
    root = (v * np.sqrt(np.clip(lam, 0, None))) @ v.T
    m = root @ s2 @ root
    m = 0.5 * (m + m.T)
    tr = np.sqrt(np.clip(np.linalg.eigvalsh(m), 0, None)).sum()
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * tr)


def fid_svd(x1, x2):
    """The same distance with tr (Σ₁Σ₂)^{1/2} as a nuclear norm of the centred data (see top)."""
    c1, c2 = x1 - x1.mean(axis=0), x2 - x2.mean(axis=0)
    n1, n2 = len(x1), len(x2)
    tr = np.linalg.svd(c1 @ c2.T, compute_uv=False).sum() / np.sqrt((n1 - 1) * (n2 - 1))
    mu1, s1 = stats(x1)
    mu2, s2 = stats(x2)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * tr)


def clip_noise(s1, s2):
    """How far the eigen formula may sit from the exact value when Σ₁ or S Σ₂ S is singular: an
    exact-zero eigenvalue comes out of eigh as ±ε‖M‖, and the √ of the positive ones adds up to
    √(ε‖M‖) each to the trace term (counted twice in FID), for up to d of them."""
    norm = np.linalg.eigvalsh(s1)[-1] * np.linalg.eigvalsh(s2)[-1]
    return 2 * len(s1) * np.sqrt(np.finfo(float).eps * norm)


def fid_sqrtm(mu1, s1, mu2, s2):
    root = scipy.linalg.sqrtm(s1 @ s2)
    assert np.isrealobj(root) or np.abs(root.imag).max() < 1e-10
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(root.real))


def upper(c):
    return c[np.triu_indices(len(c))].tolist()


def fid_case(sets, a, b, well_conditioned):
    xa, xb = values(*sets[a]), values(*sets[b])
    mu1, s1 = stats(xa)
    mu2, s2 = stats(xb)
    fid = fid_eigen(mu1, s1, mu2, s2)
    scale = np.trace(s1) + np.trace(s2) + ((mu1 - mu2) ** 2).sum()
    svd = fid_svd(xa, xb)
    assert abs(fid - svd) <= 1e-9 * scale + clip_noise(s1, s2), (a, b, fid, svd)
    if well_conditioned:
        sq = fid_sqrtm(mu1, s1, mu2, s2)
        assert abs(fid - sq) <= 1e-9 * scale, (a, b, fid, sq)
    return {"a": a, "b": b, "fid": fid, "fid_svd": svd}


def mmd2(xs, ys):
    d = xs.shape[1]
    kxx = (xs @ xs.T / d + 1) ** 3
    kyy = (ys @ ys.T / d + 1) ** 3
    kxy = (xs @ ys.T / d + 1) ** 3
    mx, my = len(xs), len(ys)
    return float((kxx.sum() - np.trace(kxx)) / (mx * (mx - 1))
                 + (kyy.sum() - np.trace(kyy)) / (my * (my - 1))
                 - 2 * kxy.sum() / (mx * my))


def kid_case(rng, sets, a, b, mx, my):
    xa, xb = values(*sets[a]), values(*sets[b])
    if a == b:  # two disjoint subsets of one set: MMD² near 0, either sign
        perm = rng.permutation(len(xa))
        ix, iy = perm[:mx], perm[mx:mx + my]
    else:
        ix = rng.choice(len(xa), mx, replace=False)
        iy = rng.choice(len(xb), my, replace=False)
    return {"a": a, "b": b, "ix": ix.tolist(), "iy": iy.tolist(), "mmd2": mmd2(xa[ix], xb[iy])}


def main():
    rng = np.random.default_rng(20261204)
    sets = feature_sets(rng)
    out_sets = []
    for name, (ints, e) in sets.items():
        mu, cov = stats(values(ints, e))
        lam = np.linalg.eigvalsh(cov)
        out_sets.append({
            "name": name, "n": ints.shape[0], "dim": ints.shape[1], "exp": e,
            "ints": ints.ravel().tolist(), "mean": mu.tolist(), "cov_upper": upper(cov),
            "eig_min": float(lam[0]), "eig_max": float(lam[-1]),
        })
    near = values(*sets["near7"])
    assert 1e-11 < np.linalg.eigvalsh(np.cov(near, rowvar=False))[0] < 1e-9
    fids = [
        fid_case(sets, "a1", "b1", True),
        fid_case(sets, "a7", "b7", True),
        fid_case(sets, "a7", "two7", False),
        fid_case(sets, "near7", "a7", False),
        fid_case(sets, "near7", "near7b", False),
        fid_case(sets, "eq7", "eq7s", True),
        fid_case(sets, "off7", "off7b", True),
        fid_case(sets, "a64", "b64", True),
        fid_case(sets, "sub64", "a64", False),
        fid_case(sets, "r130", "t130", False),
        fid_case(sets, "a64", "a64", False),
        fid_case(sets, "r130", "r130", False),
    ]
    eq = next(f for f in fids if f["a"] == "eq7")
    dmu = values(*sets["eq7"]).mean(axis=0) - values(*sets["eq7s"]).mean(axis=0)
    assert abs(eq["fid"] - (dmu**2).sum()) < 1e-9 * np.trace(stats(values(*sets["eq7"]))[1])
    kids = [
        kid_case(rng, sets, "a7", "b7", 50, 50),
        kid_case(rng, sets, "a7", "b7", 30, 17),
        kid_case(rng, sets, "a64", "b64", 100, 100),
        kid_case(rng, sets, "sub64", "a64", 40, 40),
        kid_case(rng, sets, "r130", "t130", 3, 3),
        kid_case(rng, sets, "two7", "b7", 2, 2),
        kid_case(rng, sets, "a1", "b1", 3, 3),
        kid_case(rng, sets, "a64", "a64", 100, 100),
    ]
    json.dump({"sets": out_sets, "fid": fids, "kid": kids}, sys.stdout,
              separators=(",", ":"))
    print()


if __name__ == "__main__":
    main()
