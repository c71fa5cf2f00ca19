#!/usr/bin/env python3
"""Golden vectors for tailgrad's gSR regularizer (src/gan/gsr.rs), checked by tests/gsr.rs.

An independent float64 numpy implementation written from /work/shared/spec/methods.md §2.3–2.5
and §6.1, not from the Rust code: row-major n_g × n_c grouping (n_g the largest divisor ≤ √C),
per-matrix power iteration v ← nrm(Wᵀu), u ← nrm(Wv), nrm(a) = a / max(‖a‖, 1e-3), from the
initial u, v given here (the test loads them), 40 iterations on the first call and 4 on the
second (warm-started, tables changed in between); σ = uᵀWv; R = 0.5 Σ λ̂_y σ² / (L·K) with λ̂ the
effective-number weights (β 0.999) normalised to mean 1. The slip: β's u ← nrm(W_B v_Γ). The
ungrouped ablation: R = 0.5 Σ σ(whole K×C table). Gradients of R w.r.t. the tables are central
differences with u, v held at the call's values (the spec's "gradient w.r.t. W only").

Needs numpy. Regenerate with
    python3 tests/golden/gsr.py > tests/golden/gsr.json
"""
import json

import numpy as np

EPS, WEIGHT, BETA = 1e-3, 0.5, 0.999


def f32(a):
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def nrm(a):
    return a / max(np.linalg.norm(a), EPS)


def group_shape(c):
    g = max(d for d in range(1, c + 1) if c % d == 0 and d * d <= c)
    return g, c // g


def lam_hat(counts):
    w = np.array([(1 - BETA) / (1 - BETA ** n) for n in counts])
    return w * len(counts) / w.sum()


def matrices(tables, grouped):
    """tables [L, 2, K, C] -> list (l, p, m) of matrices, in the Rust stack order."""
    L, _, K, C = tables.shape
    if not grouped:
        return [[[tables[l, p]] for p in range(2)] for l in range(L)]
    g, n = group_shape(C)
    return [[[tables[l, p, k].reshape(g, n) for k in range(K)] for p in range(2)] for l in range(L)]


def iterate(mats, u, v, iters, slip):
    """u, v: nested lists like mats; updated in place per matrix."""
    for _ in range(iters):
        for l in range(len(mats)):
            for m in range(len(mats[l][0])):
                for p in range(2):
                    w = mats[l][p][m]
                    v[l][p][m] = nrm(w.T @ u[l][p][m])
                    src = v[l][0][m] if (slip and p == 1) else v[l][p][m]
                    u[l][p][m] = nrm(w @ src)


def sigmas(mats, u, v):
    return np.array([[[u[l][p][m] @ mats[l][p][m] @ v[l][p][m] for m in range(len(mats[l][0]))]
                      for p in range(2)] for l in range(len(mats))])


def reg(tables, u, v, grouped, lam):
    s = sigmas(matrices(tables, grouped), u, v)
    if not grouped:
        return WEIGHT * s.sum()
    L, _, K = s.shape
    return WEIGHT * (lam[None, None, :] * s ** 2).sum() / (L * K)


def grad(tables, u, v, grouped, lam, h=1e-6):
    g = np.zeros_like(tables)
    for idx in np.ndindex(tables.shape):
        t1, t2 = tables.copy(), tables.copy()
        t1[idx] += h
        t2[idx] -= h
        g[idx] = (reg(t1, u, v, grouped, lam) - reg(t2, u, v, grouped, lam)) / (2 * h)
    return g


def unit_rows(rng, n, d):
    a = rng.standard_normal((n, d))
    return f32(a / np.linalg.norm(a, axis=1, keepdims=True))


def case(seed, L, K, C, counts, grouped, slip):
    rng = np.random.default_rng(seed)
    t1 = f32(rng.uniform(-1, 1, (L, 2, K, C)))
    t2 = f32(t1 + 0.05 * rng.uniform(-1, 1, t1.shape))
    m = K if grouped else 1
    r, c = group_shape(C) if grouped else (K, C)
    n = L * 2 * m
    u0, v0 = unit_rows(rng, n, r), unit_rows(rng, n, c)
    lam = lam_hat(counts)
    split = lambda a: [[[a[(l * 2 + p) * m + j] for j in range(m)] for p in range(2)] for l in range(L)]
    flat = lambda x: np.array([x[l][p][j] for l in range(L) for p in range(2) for j in range(m)])
    u, v = split(u0.copy()), split(v0.copy())
    calls = []
    for tables, iters in [(t1, 40), (t2, 4)]:
        iterate(matrices(tables, grouped), u, v, iters, slip)
        calls.append({
            "tables": tables.ravel().tolist(),
            "iters": iters,
            "sigma": sigmas(matrices(tables, grouped), u, v).ravel().tolist(),
            "r": reg(tables, u, v, grouped, lam),
            "grad": grad(tables, u, v, grouped, lam).ravel().tolist(),
            "u": flat(u).ravel().tolist(),
            "v": flat(v).ravel().tolist(),
        })
    return {
        "name": f"L{L} K{K} C{C} {'grouped' if grouped else 'ungrouped'} {'slip' if slip else 'correct'}",
        "layers": L, "classes": K, "channels": C, "counts": counts,
        "grouped": grouped, "slip": slip, "rows": r, "cols": c,
        "u0": u0.ravel().tolist(), "v0": v0.ravel().tolist(),
        "lambda": lam.tolist(), "calls": calls,
    }


def main():
    cases = []
    for seed, C in [(1, 16), (2, 12)]:
        for slip in [False, True]:
            cases.append(case(seed, 2, 3, C, [500, 120, 20], True, slip))
    for slip in [False, True]:
        cases.append(case(3, 2, 3, 12, [500, 120, 20], False, slip))
    print(json.dumps({"weight": WEIGHT, "beta": BETA, "eps": EPS, "cases": cases}))


if __name__ == "__main__":
    main()
