#!/usr/bin/env python3
"""Golden vectors for tailgrad's GAN sample mixing (src/gan/mixing.rs, src/ops/mix_mask.rs),
checked by tests/mixing.rs.

An independent float64 numpy implementation written from methods.md Part B §A.3 and the
discretisation stated in docs/gan.md ("Sample mixing"), not from the Rust code: the box from
(λ, centre fractions), CutMix as the pixels whose centre lies in the clipped box, SRMix's
logistic ramps and the Gaussian-blurred box (Python's math.erfc), t = mean of the mask,
x_mix = a·x_r + (1 − a)·x_f, and D's mixed loss in the soft (hinge, BCE) and consistency forms.
Gradients of the losses are central finite differences of the float64 forward.

The draws (λ, centre) are fixed here; the engine's SplitMix64 draws are tested in tests/mixing.rs
for their statistics and determinism instead. Where the engine hands f32 values to the GPU (box
edges, τ, inputs), the reference computes from those same f32 values.

Needs numpy (`pip install numpy`). Regenerate with
    python3 tests/golden/mixing.py > tests/golden/mixing.json
"""
import json
import math

import numpy as np


def f32(x):
    return float(np.float32(x))


# ------------------------------------------------------------------ box geometry (A.3.1), float64
def box(lam, cfrac, n):
    """Continuous clipped edges along an axis of n pixels and the unclipped side r·n."""
    side = math.sqrt(max(1.0 - lam, 0.0)) * n
    c = cfrac * n
    lo = min(max(c - side / 2, 0.0), float(n))
    hi = min(max(c + side / 2, 0.0), float(n))
    return lo, hi, side


def centres(n):
    return np.arange(n, dtype=np.float64) + 0.5


def logistic(z):
    # 1/(1 + e^−z) without overflow.
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def phi(z):
    return np.array([0.5 * math.erfc(-v / math.sqrt(2.0)) for v in np.atleast_1d(z)])


def axis_weight(kind, n, lo, hi, tau):
    """The box's fake weight along one axis, per pixel."""
    x = centres(n)
    if kind == "cutmix":
        return ((lo <= x) & (x < hi)).astype(np.float64)
    if kind == "logistic":
        return logistic((x - lo) / tau) - logistic((x - hi) / tau)
    return phi((x - lo) / tau) - phi((x - hi) / tau)


def pair(kind, kernel, kappa, h, w, d):
    """Engine parameters (what the GPU is handed) and the mask a [H, W] of one draw."""
    lam = d["lambda"]
    if kind == "mixup":
        return {"lambda": f32(lam)}, np.full((h, w), f32(lam))
    u1, u2, side_u = box(lam, d["cu"], w)
    v1, v2, side_v = box(lam, d["cv"], h)
    if kind == "cutmix":
        # The pixel range whose centres lie in [lo, hi): the first and one past the last.
        def pixels(lo, hi, n):
            inside = np.nonzero((lo <= centres(n)) & (centres(n) < hi))[0]
            return [float(inside[0]), float(inside[-1] + 1)] if len(inside) else []

        pu, pv = pixels(u1, u2, w), pixels(v1, v2, h)
        b = np.outer(axis_weight("cutmix", h, v1, v2, None), axis_weight("cutmix", w, u1, u2, None))
        return {"lambda": f32(lam), "pixels_u": pu, "pixels_v": pv}, 1.0 - b
    e = [f32(v) for v in (u1, u2, v1, v2)]
    tu, tv = f32(kappa * max(side_u, 1.0)), f32(kappa * max(side_v, 1.0))
    b = np.outer(axis_weight(kernel, h, e[2], e[3], tv), axis_weight(kernel, w, e[0], e[1], tu))
    return {"lambda": f32(lam), "edges": e, "tau": [tu, tv]}, 1.0 - b


rng = np.random.default_rng(20261204)


def draws(*triples):
    return [{"lambda": l, "cu": u, "cv": v} for (l, u, v) in triples]


# (name, kind, kernel, kappa, channels, h, w, draws)
MASKS = [
    ("mixup 5x7", "mixup", None, 0.1, 3, 5, 7, draws((0.3, 0.1, 0.2), (0.0, 0.5, 0.5), (1.0, 0.9, 0.9))),
    ("mixup 1x1", "mixup", None, 0.1, 1, 1, 1, draws((0.6180339887, 0.0, 0.0))),
    ("cutmix 32 interior, clipped corners, empty, full", "cutmix", None, 0.1, None, 32, 32,
     draws((0.75, 0.5, 0.5), (0.2, 0.02, 0.97), (0.1, 0.995, 0.0), (1.0, 0.3, 0.3), (0.0, 0.5, 0.5))),
    # λ = 7/16: r = 3/4 exactly; the u edges fall on pixel centres (0.5 in, 6.5 out).
    ("cutmix ties on pixel centres 1x8", "cutmix", None, 0.1, 1, 1, 8, draws((0.4375, 0.4375, 0.5))),
    ("cutmix primes 13x7", "cutmix", None, 0.1, 3, 13, 7,
     draws((0.5, 0.31, 0.77), (0.05, 0.6, 0.1), (0.9, 0.0, 0.999))),
    ("cutmix 7x1 and 1x1-wide", "cutmix", None, 0.1, 1, 7, 1, draws((0.3, 0.5, 0.4), (0.99, 0.5, 0.5))),
    ("srmix logistic 32 interior, clipped, empty, full", "srmix", "logistic", 0.1, None, 32, 32,
     draws((0.75, 0.5, 0.5), (0.2, 0.02, 0.97), (0.1, 0.995, 0.0), (1.0, 0.3, 0.3), (0.0, 0.5, 0.5))),
    ("srmix logistic kappa 0.01 (near cutmix) 13x7", "srmix", "logistic", 0.01, 1, 13, 7,
     draws((0.5, 0.31, 0.77), (0.05, 0.6, 0.1))),
    ("srmix logistic kappa 0.3 1x13", "srmix", "logistic", 0.3, 1, 1, 13, draws((0.4, 0.7, 0.5), (0.95, 0.2, 0.5))),
    ("srmix logistic 1x1", "srmix", "logistic", 0.1, 2, 1, 1, draws((0.0, 0.5, 0.5), (0.5, 0.1, 0.9))),
    ("srmix gaussian 32 interior, clipped, empty, full", "srmix", "gaussian", 0.1, None, 32, 32,
     draws((0.75, 0.5, 0.5), (0.2, 0.02, 0.97), (0.1, 0.995, 0.0), (1.0, 0.3, 0.3), (0.0, 0.5, 0.5))),
    ("srmix gaussian kappa 0.25 13x7", "srmix", "gaussian", 0.25, 3, 13, 7,
     draws((0.5, 0.31, 0.77), (0.05, 0.6, 0.1), (0.9, 0.0, 0.999))),
    ("srmix gaussian 7x1", "srmix", "gaussian", 0.1, 1, 7, 1, draws((0.3, 0.5, 0.4))),
]


def digits(v, n=10):
    """Values to n significant digits (errors ≤ 5e-10 relative, far below every tolerance of the
    smooth values this is used for): a smaller file."""
    return [float(f"{x:.{n}g}") for x in np.ravel(v)]


def mask_case(name, kind, kernel, kappa, c, h, w, ds):
    """c = None: the mask and t only (x_mix is checked on the smaller shapes)."""
    params, masks = zip(*(pair(kind, kernel, kappa, h, w, d) for d in ds))
    a = np.stack(masks)  # [B, H, W]
    b = len(ds)
    case = {
        "name": name, "kind": kind, "kernel": kernel or "logistic", "kappa": kappa,
        "shape": [b, c or 1, h, w], "draws": ds, "params": list(params),
        "mask": digits(a) if kind == "srmix" else a.ravel().tolist(), "t": a.reshape(b, -1).mean(axis=1).tolist(),
    }
    if c is None:
        return case
    x_real = np.array([f32(v) for v in rng.uniform(-1, 1, b * c * h * w)]).reshape(b, c, h, w)
    x_fake = np.array([f32(v) for v in rng.uniform(-1, 1, b * c * h * w)]).reshape(b, c, h, w)
    x_mix = a[:, None] * x_real + (1.0 - a[:, None]) * x_fake
    case.update(x_real=x_real.ravel().tolist(), x_fake=x_fake.ravel().tolist(), x_mix=digits(x_mix))
    return case


# ------------------------------------------------------------------ D's loss on mixed samples (A.3.3)
def log_sigmoid(x):
    return -np.logaddexp(0.0, -x)


def relu(x):
    return np.maximum(x, 0.0)


def mix_loss(loss, formalism, weight, x):
    d, t = x["d_mix"], x["t"]
    if formalism == "consistency":
        target = t * x["d_real"] + (1.0 - t) * x["d_fake"]
        return weight * ((d - target) ** 2).mean()
    if loss == "hinge":
        per = t * relu(1.0 - d) + (1.0 - t) * relu(1.0 + d)
    else:
        per = -(t * log_sigmoid(d) + (1.0 - t) * log_sigmoid(-d))
    return weight * per.mean()


def magnitude(loss, formalism, weight, x):
    """The loss with every per-sample term and product by absolute value: its f32 error scale."""
    if formalism == "consistency":
        d, t = np.abs(x["d_mix"]), x["t"]
        target = t * np.abs(x["d_real"]) + (1.0 - t) * np.abs(x["d_fake"])
        return weight * ((d + target) ** 2).mean()
    return mix_loss(loss, formalism, weight, x)


def central_diff(f, x, key, h=1e-6):
    g = np.zeros_like(x[key])
    for i in range(len(g)):
        plus, minus = dict(x), dict(x)
        plus[key], minus[key] = x[key].copy(), x[key].copy()
        plus[key][i] += h
        minus[key][i] -= h
        g[i] = (f(plus) - f(minus)) / (2 * h)
    return g


def away_from_kinks(v):
    """Hinge kinks at ±1: keep finite differences on one side."""
    return np.where(np.abs(np.abs(v) - 1.0) < 1e-3, v + 0.01, v)


def loss_case(name, loss, formalism, weight, b, t=None):
    if t is None:
        t = np.array([f32(v) for v in rng.uniform(0, 1, b)])
        t[0], t[-1] = 0.0, 1.0
    x = {
        "d_mix": np.array([f32(v) for v in away_from_kinks(rng.uniform(-3, 3, b))]),
        "t": np.asarray(t, dtype=np.float64),
        "d_real": np.array([f32(v) for v in rng.uniform(-3, 3, b)]),
        "d_fake": np.array([f32(v) for v in rng.uniform(-3, 3, b)]),
    }
    f = lambda y: mix_loss(loss, formalism, f32(weight), y)
    return {
        "name": name, "loss": loss, "formalism": formalism, "weight": f32(weight),
        "inputs": {k: v.tolist() for k, v in x.items()},
        "value": f(x), "mag": magnitude(loss, formalism, f32(weight), x),
        "grad_d_mix": central_diff(f, x, "d_mix").tolist(),
    }


masks = [mask_case(*m) for m in MASKS]
cut_t = [f32(v) for v in masks[2]["t"]]  # CutMix's targets, 0 and 1 among them
losses = [
    loss_case("soft hinge", "hinge", "soft", 1.0, 9),
    loss_case("soft hinge weight 0.5, cutmix t", "hinge", "soft", 0.5, 5, cut_t),
    loss_case("soft bce", "bce", "soft", 1.0, 9),
    loss_case("soft bce weight 2.5", "bce", "soft", 2.5, 4),
    loss_case("consistency", "hinge", "consistency", 1.0, 9),
    loss_case("consistency weight 0.3, cutmix t", "bce", "consistency", 0.3, 5, cut_t),
]
print(json.dumps({"masks": masks, "losses": losses}, indent=None))
