#!/usr/bin/env python3
"""Golden vectors for tailgrad's long-tail losses (src/train/loss.rs), checked by tests/loss.rs.

An independent float64 numpy implementation written from the formulas in
/work/shared/spec/methods.md (§1.2, §4.3-4.4, §5.1, §5.6, §6.2, §6.4, B.2, B.3, B.8), not from
the Rust code. Gradients are central finite differences of the float64 forward (no analytic
derivative), with GCL's noise and detached focal factor held fixed.

Needs numpy (`pip install numpy`; not in the base image). Regenerate with
    python3 tests/golden/losses.py > tests/golden/losses.json
"""
import json
import math

import numpy as np

# ---------------------------------------------------------------- Philox4x32-10 + Box-Muller
# As shaders/philox.wgsl + shaders/rng.wgsl: block b uses counter (lo(c), hi(c), stream, 0) with
# c = counter + b and key (lo(seed), hi(seed)); 4 words per block; normals from word pairs.
MASK = np.uint64(0xFFFFFFFF)
M0, M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
W0, W1 = np.uint64(0x9E3779B9), np.uint64(0xBB67AE85)
NOISE_STREAM = 7


def philox(ctr, key):
    """ctr: [n, 4] words, key: (k0, k1) -> [n, 4] uint32. uint64 holds each 32x32 product exactly."""
    c = [np.asarray(ctr, dtype=np.uint64)[:, i] for i in range(4)]
    k0, k1 = np.uint64(key[0]), np.uint64(key[1])
    for _ in range(10):
        p0, p1 = M0 * c[0], M1 * c[2]
        c = [(p1 >> np.uint64(32)) ^ c[1] ^ k0, p1 & MASK, (p0 >> np.uint64(32)) ^ c[3] ^ k1, p0 & MASK]
        k0, k1 = (k0 + W0) & MASK, (k1 + W1) & MASK
    return np.stack(c, axis=1).astype(np.uint32)


def raw_words(seed, stream, counter, n):
    blocks = [(counter + b) % 2**64 for b in range(-(-n // 4))]
    ctr = [[c & 0xFFFFFFFF, c >> 32, stream, 0] for c in blocks]
    return philox(ctr, (seed & 0xFFFFFFFF, seed >> 32)).reshape(-1)[:n]


def normals(seed, stream, counter, n):
    w = raw_words(seed, stream, counter, -(-n // 4) * 4).astype(np.float64).reshape(-1, 2)
    u1 = (np.floor(w[:, 0] / 256) + 1) / 2**24
    th = 2 * math.pi * np.floor(w[:, 1] / 256) / 2**24 - math.pi
    r = np.sqrt(-2 * np.log(u1))
    return np.stack([r * np.cos(th), r * np.sin(th)], axis=1).reshape(-1)[:n]


# Random123 known answer (also in tests/rng.rs).
assert list(philox([[0, 0, 0, 0]], (0, 0))[0]) == [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]

# ---------------------------------------------------------------- the losses, float64


def f32(x):
    """The value the f32 engine sees for a knob or an input."""
    return float(np.float32(x))


KNOBS = dict(focal_gamma=1.0, cb_beta=0.9999, la_tau=1.0, ldam_max_m=0.5, ldam_s=30.0,
             drw_epoch=160, gcl_s=30.0, gcl_m=0.0, gcl_eps=0.5, gcl_gamma=0.0)
F32_KNOBS = {"focal_gamma", "la_tau", "ldam_max_m", "ldam_s", "gcl_s", "gcl_m", "gcl_eps", "gcl_gamma"}


def ce_rows(a, y):
    """Per-row −log softmax(a)_y, silenced entries (≤ −9e4) contribute exp(...) = 0."""
    m = a.max(axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(a - m).sum(axis=1))
    return lse - a[np.arange(len(y)), y]


def focal(ce, gamma):
    return (1 - np.exp(-ce)) ** gamma * ce


def cb_weights(n, beta):
    """§1.2: w_j ∝ 1/E(n_j) = (1−β)/(1−β^n_j), normalised to sum C."""
    w = (1 - beta) / (1 - beta ** n)
    return w * len(n) / w.sum()


def weighted_mean(l, w_rows):
    return (w_rows * l).sum() / w_rows.sum()


def gcl_amp(n):
    """§5.1 step 1: (ln n_max − ln n_j)/(ln n_max − ln n_min); 0 when all counts are equal."""
    span = math.log(n.max()) - math.log(n.min())
    return np.zeros(len(n)) if span == 0 else (math.log(n.max()) - np.log(n)) / span


def make_loss(case):
    """Returns (loss(z) float64, adjusted-logit function) for one case, with every random or
    detached quantity frozen at the case's inputs."""
    k, y = case["knobs"], np.array(case["labels"])
    n = np.array(case["counts"], dtype=np.float64)
    b, c = case["b"], case["c"]
    log_pi = np.log(n / n.sum())
    onehot = np.eye(c)[y]
    method = case["method"]
    ident = lambda z: z
    if method in ("ce", "la-posthoc"):
        return lambda z: ce_rows(z, y).mean(), ident
    if method == "focal":
        return lambda z: focal(ce_rows(z, y), k["focal_gamma"]).mean(), ident
    if method in ("cb-ce", "cb-focal"):
        w = cb_weights(n, k["cb_beta"])[y]
        g = k["focal_gamma"] if method == "cb-focal" else 0.0
        return lambda z: weighted_mean(focal(ce_rows(z, y), g), w), ident
    if method == "la":
        adj = lambda z: z + k["la_tau"] * log_pi
        return lambda z: ce_rows(adj(z), y).mean(), adj
    if method == "balce":
        mlog = np.zeros((c, c))
        if "mask" in case:
            keep = np.array(case["mask"]).reshape(c, c)
            lam = case.get("soft_lambda")
            mlog = np.where(keep, 0.0, -99999.0 if lam is None else math.log(f32(lam)))
        # B.2 writes ln(π + 1e-9): a relative change of < 3e-7 here, far below every tolerance.
        adj = lambda z: z + log_pi + mlog[y]
        return lambda z: ce_rows(adj(z), y).mean(), adj
    if method == "ldam-drw":
        m = n ** -0.25
        m = m * k["ldam_max_m"] / m.max()
        adj = lambda z: k["ldam_s"] * (z - m[y][:, None] * onehot)
        drw = case["epoch"] > k["drw_epoch"]
        w = cb_weights(n, k["cb_beta"])[y] if drw else np.ones(b)
        return lambda z: weighted_mean(ce_rows(adj(z), y), w), adj
    if method == "gcl":
        noise = np.array(case["noise"]).reshape(b, c)
        delta = np.abs(np.clip(noise / 3, -1, 1))
        adj = lambda z: k["gcl_s"] * (z - k["gcl_eps"] * delta * gcl_amp(n) - k["gcl_m"] * onehot)
        z0 = np.array([f32(v) for v in case["logits"]]).reshape(b, c)
        # Focal factor from the case's own logits, then frozen: p is detached (§5.1, §6.2).
        factor = (1 - np.exp(-ce_rows(adj(z0), y))) ** k["gcl_gamma"] if k["gcl_gamma"] > 0 else 1.0
        return lambda z: (factor * ce_rows(adj(z), y)).mean(), adj
    raise ValueError(method)


def central_diff(f, z, h=1e-6):
    g = np.zeros_like(z)
    for idx in np.ndindex(*z.shape):
        zp, zm = z.copy(), z.copy()
        zp[idx] += h
        zm[idx] -= h
        g[idx] = (f(zp) - f(zm)) / (2 * h)
    return g


# ---------------------------------------------------------------- cases


def lt_counts(n_max, c, rho):
    """§1.1 exponential profile."""
    return [int(n_max * (1 / rho) ** (i / (c - 1))) for i in range(c)]


CIFAR10 = lt_counts(5000, 10, 100)
CIFAR100 = lt_counts(500, 100, 100)
assert CIFAR10 == [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]
assert CIFAR100[:3] == [500, 477, 455] and CIFAR100[-2:] == [5, 5] and sum(CIFAR100) == 10847

# §6.4 GCL normalised amplitudes for CIFAR-10-LT ρ=100 (4 decimals in the spec).
SPEC_AMP = [0, 0.1111, 0.2223, 0.3334, 0.4447, 0.5556, 0.6667, 0.7780, 0.8899, 1.0]
AMP = gcl_amp(np.array(CIFAR10, dtype=np.float64))
assert np.abs(AMP - SPEC_AMP).max() <= 5e-5 + 1e-12, AMP

rng = np.random.default_rng(20240607)


def rand_counts(c):
    return [int(x) for x in rng.integers(1, 3000, size=c)]


STAGE1 = dict(gcl_s=30.0, gcl_m=0.0, gcl_eps=0.5, gcl_gamma=0.0)
STAGE2 = dict(gcl_s=20.0, gcl_m=0.1, gcl_eps=0.5, gcl_gamma=1.0)

# B.8 worked example: K = 4, targets {0,1}, aux {2,3}, nb(0) = {2}, par(2) = {0}.
B8_COUNTS, B8_LOGITS = [100, 10, 50, 50], [1, 0, 2, 0.5]
NORMAL_NEG = [1, 1, 0, 1,  1, 1, 1, 1,  0, 1, 1, 1,  1, 1, 1, 1]  # rows silence nb(c) / par(a)
NEG_BACK = [1, 1, 0, 1,  1, 1, 1, 1,  0, 1, 1, 0,  1, 1, 0, 1]    # aux rows also silence other aux


def random_mask(k):
    keep = rng.random((k, k)) < 0.6
    np.fill_diagonal(keep, True)
    return [int(v) for v in keep.reshape(-1)]


# (name, method, knob overrides, counts, B, C, extra)
SPECS = [
    ("ce 8x10 cifar10", "ce", {}, CIFAR10, 8, 10, {}),
    ("ce 5x7 random counts", "ce", {}, rand_counts(7), 5, 7, {}),
    ("ce 1x3", "ce", {}, rand_counts(3), 1, 3, {}),
    ("focal gamma1 8x10 cifar10", "focal", {}, CIFAR10, 8, 10, {}),
    ("focal gamma2 5x7", "focal", {"focal_gamma": 2.0}, rand_counts(7), 5, 7, {}),
    ("focal gamma2 1x3", "focal", {"focal_gamma": 2.0}, rand_counts(3), 1, 3, {}),
    ("cb-ce 8x10 cifar10", "cb-ce", {}, CIFAR10, 8, 10, {}),
    ("cb-ce beta0.99 5x7", "cb-ce", {"cb_beta": 0.99}, rand_counts(7), 5, 7, {}),
    ("cb-ce 1x3", "cb-ce", {}, rand_counts(3), 1, 3, {}),
    ("cb-focal 8x10 cifar10", "cb-focal", {}, CIFAR10, 8, 10, {}),
    ("cb-focal gamma2 beta0.999 5x7", "cb-focal", {"focal_gamma": 2.0, "cb_beta": 0.999}, rand_counts(7), 5, 7, {}),
    ("cb-focal 1x3", "cb-focal", {}, rand_counts(3), 1, 3, {}),
    ("la 8x10 cifar10", "la", {}, CIFAR10, 8, 10, {}),
    ("la tau1.5 5x7", "la", {"la_tau": 1.5}, rand_counts(7), 5, 7, {}),
    ("la 1x3", "la", {}, rand_counts(3), 1, 3, {}),
    ("la-posthoc 8x10 cifar10", "la-posthoc", {}, CIFAR10, 8, 10, {}),
    ("la-posthoc tau0.5 5x7", "la-posthoc", {"la_tau": 0.5}, rand_counts(7), 5, 7, {}),
    ("la-posthoc 1x3", "la-posthoc", {}, rand_counts(3), 1, 3, {}),
    ("balce 8x10 cifar10", "balce", {}, CIFAR10, 8, 10, {}),
    ("balce 5x7", "balce", {}, rand_counts(7), 5, 7, {}),
    ("balce 1x3", "balce", {}, rand_counts(3), 1, 3, {}),
    ("ldam-drw 8x10 cifar10 epoch 160 (before DRW)", "ldam-drw", {}, CIFAR10, 8, 10, {"epoch": 160, "logit_seed": 1}),
    ("ldam-drw 8x10 cifar10 epoch 161 (DRW)", "ldam-drw", {}, CIFAR10, 8, 10, {"epoch": 161, "logit_seed": 1}),
    ("ldam-drw 5x7 epoch 1", "ldam-drw", {}, rand_counts(7), 5, 7, {"epoch": 1}),
    ("ldam-drw drw_epoch2 s10 m0.3 1x3 epoch 3", "ldam-drw", {"drw_epoch": 2, "ldam_s": 10.0, "ldam_max_m": 0.3},
     rand_counts(3), 1, 3, {"epoch": 3}),
    ("ldam-drw 16x100 cifar100 epoch 170", "ldam-drw", {}, CIFAR100, 16, 100, {"epoch": 170}),
    ("gcl stage1 8x10 cifar10", "gcl", STAGE1, CIFAR10, 8, 10, {"seed": 42}),
    ("gcl stage1 5x7 second forward", "gcl", STAGE1, rand_counts(7), 5, 7, {"seed": 7, "forward_calls": 2}),
    ("gcl stage1 1x3 equal counts (amp 0)", "gcl", STAGE1, [40, 40, 40], 1, 3, {"seed": 5}),
    ("gcl stage2 8x10 cifar10", "gcl", STAGE2, CIFAR10, 8, 10, {"seed": 42}),
    ("gcl stage2 16x100 cifar100", "gcl", STAGE2, CIFAR100, 16, 100, {"seed": 0xDEADBEEF01}),
    ("gcl gamma2 m0.2 eps1 5x7 third forward", "gcl", dict(gcl_s=16.0, gcl_m=0.2, gcl_eps=1.0, gcl_gamma=2.0),
     rand_counts(7), 5, 7, {"seed": 11, "forward_calls": 3}),
    ("balce silenced B.8 y=0 no_fm_remove_normal_neg", "balce", {}, B8_COUNTS, 1, 4,
     {"mask": NORMAL_NEG, "logits": B8_LOGITS, "labels": [0], "expect": 0.2927}),
    ("balce silenced B.8 y=2 no_fm_remove_normal_neg_back", "balce", {}, B8_COUNTS, 1, 4,
     {"mask": NEG_BACK, "logits": B8_LOGITS, "labels": [2], "expect": 0.0267}),
    ("balce silenced B.8 batch of all labels, _back", "balce", {}, B8_COUNTS, 4, 4,
     {"mask": NEG_BACK, "logits": B8_LOGITS * 4, "labels": [0, 1, 2, 3]}),
    ("balce soft lambda0.1 B.8 batch, _back", "balce", {}, B8_COUNTS, 4, 4,
     {"mask": NEG_BACK, "soft_lambda": 0.1, "logits": B8_LOGITS * 4, "labels": [0, 1, 2, 3]}),
    ("balce silenced random mask 6x9", "balce", {}, rand_counts(9), 6, 9, {"mask": random_mask(9)}),
    ("balce soft lambda0.25 random mask 6x9", "balce", {}, rand_counts(9), 6, 9,
     {"mask": random_mask(9), "soft_lambda": 0.25}),
]

COSINE = {"ldam-drw", "gcl"}  # cosine heads (§1.4): logits in [−1, 1]


def fmt(x, digits):
    return float(f"{x:.{digits}g}")


def grad_bound(case):
    """|dL/dz_ij| ≤ s · (1 + γ) · w_{y_i} / Σ_i w_{y_i}: the row gradient is a factor times
    (softmax − onehot), the factor is ≤ 1 + γ/e for a focal term differentiated through p and ≤ 1
    for GCL's detached one; s is the logit scale of LDAM and GCL."""
    k, method = case["knobs"], case["method"]
    n = np.array(case["counts"], dtype=np.float64)
    w = np.ones(case["b"])
    if method in ("cb-ce", "cb-focal") or (method == "ldam-drw" and case["epoch"] > k["drw_epoch"]):
        w = cb_weights(n, k["cb_beta"])[case["labels"]]
    s = {"ldam-drw": k["ldam_s"], "gcl": k["gcl_s"]}.get(method, 1.0)
    gamma = k["focal_gamma"] if method in ("focal", "cb-focal") else 0.0
    return s * (1 + gamma) * w.max() / w.sum()


def build(name, method, over, counts, b, c, extra):
    knobs = {**KNOBS, **over}
    knobs = {key: f32(v) if key in F32_KNOBS else v for key, v in knobs.items()}
    local = np.random.default_rng(extra["logit_seed"]) if "logit_seed" in extra else rng
    labels = extra.get("labels") or [int(v) for v in local.integers(0, c, size=b)]
    if method in COSINE:
        # Cosines of a half-trained head: small, the label's column ahead by up to 0.3, so that
        # s·cos (s = 30) spans a few units and the softmax is not saturated.
        z = local.uniform(-0.1, 0.1, (b, c))
        z[np.arange(b), labels] += local.uniform(0, 0.3, b)
    else:
        z = local.uniform(-3, 3, (b, c))
    logits = extra.get("logits") or [round(float(v), 4) for v in z.reshape(-1)]
    case = dict(name=name, method=method, knobs=knobs, counts=counts, seed=extra.get("seed", 0),
                epoch=extra.get("epoch", 1), forward_calls=extra.get("forward_calls", 1), b=b, c=c,
                logits=logits, labels=labels)
    for key in ("mask", "soft_lambda"):
        if key in extra:
            case[key] = extra[key]
    if method == "gcl":
        # Forward call k (1-based) draws its [B, C] noise at counter (k−1)·ceil(B·C/4).
        counter = (case["forward_calls"] - 1) * -(-b * c // 4)
        case["noise"] = [fmt(v, 9) for v in normals(case["seed"], NOISE_STREAM, counter, b * c)]
    z = np.array([f32(v) for v in logits]).reshape(b, c)
    loss, adj = make_loss(case)
    case["loss"] = fmt(loss(z), 12)
    grad = central_diff(loss, z)
    case["grad"] = [fmt(v, 10) for v in grad.reshape(-1)]
    # Scales for the tolerances in tests/loss.rs: the largest |adjusted logit| the f32 engine
    # exponentiates (silenced entries excluded) and an a-priori bound on |dL/dz|.
    a = adj(z)
    case["zmax"] = fmt(np.abs(a[a > -9e4]).max(), 6)
    case["gscale"] = fmt(grad_bound(case), 6)
    if method == "la-posthoc":
        log_pi = np.log(np.array(counts) / sum(counts))
        case["predict"] = [fmt(v, 10) for v in (z - knobs["la_tau"] * log_pi).reshape(-1)]
    if "expect" in extra:
        assert abs(case["loss"] - extra["expect"]) <= 5e-5, (name, case["loss"])
    return case


cases = [build(*s) for s in SPECS]

# Philox check values for tests/loss.rs: a seed using both key words and a counter whose low
# word carries inside the call.
PHILOX = dict(seed=0x123456789ABCDEF0, stream=NOISE_STREAM, counter=0xFFFFFFFF, n=10)
PHILOX["raw"] = [int(v) for v in raw_words(PHILOX["seed"], PHILOX["stream"], PHILOX["counter"], PHILOX["n"])]
PHILOX["normal"] = [fmt(v, 12) for v in normals(PHILOX["seed"], PHILOX["stream"], PHILOX["counter"], PHILOX["n"])]

out = dict(
    about="Golden loss vectors from tests/golden/losses.py (float64 numpy, finite-difference gradients)",
    philox=PHILOX,
    gcl_amp_cifar10=dict(counts=CIFAR10, amp=[fmt(v, 12) for v in AMP], spec=SPEC_AMP),
    cases=cases,
)
# One case per line so that diffs and reviews stay readable.
head = json.dumps({k: v for k, v in out.items() if k != "cases"}, separators=(",", ":"))[:-1]
body = ",\n".join(json.dumps(c, separators=(",", ":")) for c in cases)
print(head + ',"cases":[\n' + body + "\n]}")
