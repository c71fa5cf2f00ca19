#!/usr/bin/env python3
"""Golden vectors for tailgrad's GAN losses and LeCam (src/gan/), checked by tests/gan_loss.rs.

An independent float64 numpy implementation written from the formulas in
/work/shared/spec/methods.md (§2.7 hinge and LeCam, §A.3 soft targets) and
/work/shared/spec/gan.md (§3, LeCam canonical and the gSR repository's variant, EMA timing), not
from the Rust code. Gradients are central finite differences of the float64 forward; LeCam's EMAs
are held fixed there, as the references compute them without a graph.

Needs numpy (`pip install numpy`; not in the base image). Regenerate with
    python3 tests/golden/gan_losses.py > tests/golden/gan_losses.json
"""
import copy
import json

import numpy as np


def f32(x):
    """The value the f32 engine sees for a knob or an input."""
    return float(np.float32(x))


def relu(x):
    return np.maximum(x, 0.0)


def log_sigmoid(x):
    """ln σ(x) = −ln(1 + e^−x), stable for any x."""
    return -np.logaddexp(0.0, -x)


# ---------------------------------------------------------------- adversarial losses, float64
# Per-sample losses of D calling a sample real / fake (§2.7 hinge; BCE from the log-likelihood).
REAL = {"hinge": lambda d: relu(1.0 - d), "bce": lambda d: -log_sigmoid(d)}
FAKE = {"hinge": lambda d: relu(1.0 + d), "bce": lambda d: -log_sigmoid(-d)}


def d_loss(kind, x):
    return REAL[kind](x["d_real"]).mean() + FAKE[kind](x["d_fake"]).mean()


def g_loss(kind, x):
    f = x["d_fake"]
    return -f.mean() if kind == "hinge" else -log_sigmoid(f).mean()


def mixed_loss(kind, x):
    """§A.3: hinge t·ℓ_real + (1 − t)·ℓ_fake; BCE −[t ln σ(d) + (1 − t) ln(1 − σ(d))]."""
    d, t = x["d"], x["t"]
    if kind == "hinge":
        return (t * relu(1.0 - d) + (1.0 - t) * relu(1.0 + d)).mean()
    return -(t * log_sigmoid(d) + (1.0 - t) * log_sigmoid(-d)).mean()


def magnitude(kind, what, x):
    """The loss with every per-sample term taken by absolute value: the scale of its f32 error."""
    if what == "g" and kind == "hinge":
        return np.abs(x["d_fake"]).mean()
    return {"d": d_loss, "g": g_loss, "mixed": mixed_loss}[what](kind, x)


def central_diff(f, x, key, h=1e-6):
    g = np.zeros_like(x[key])
    for i in range(len(g)):
        plus, minus = dict(x), dict(x)
        plus[key], minus[key] = x[key].copy(), x[key].copy()
        plus[key][i] += h
        minus[key][i] -= h
        g[i] = (f(plus) - f(minus)) / (2 * h)
    return g


def fmt(x, digits):
    return float(f"{x:.{digits}g}")


rng = np.random.default_rng(20261203)


def outputs(n, lo, hi, kinks=()):
    """n D outputs in [lo, hi), 4 decimals, as f32, none within 1e-3 of a kink (finite
    differences with h = 1e-6 need a smooth neighbourhood)."""
    while True:
        v = np.array([f32(round(float(u), 4)) for u in rng.uniform(lo, hi, n)])
        if all(np.abs(v - k).min() > 1e-3 for k in kinks):
            return v


def soft_targets(n):
    """Realness targets in [0, 1] with both ends present (pure real and pure fake samples)."""
    t = np.array([f32(round(float(u), 4)) for u in rng.uniform(0, 1, n)])
    t[0], t[-1] = 1.0, 0.0
    return t


FN = {"d": d_loss, "g": g_loss, "mixed": mixed_loss}
DIFFERENTIABLE = {"d_real", "d_fake", "d"}  # t is a constant target


def loss_case(name, kind, what, shapes, lo=-3.0, hi=3.0):
    kinks = (1.0, -1.0) if kind == "hinge" else ()
    x = {}
    for key, shape in shapes.items():
        n = shape[0]
        x[key] = soft_targets(n) if key == "t" else outputs(n, lo, hi, kinks)
    f = lambda v: FN[what](kind, v)
    case = dict(name=name, loss=kind, kind=what, shapes=shapes,
                inputs={k: [float(u) for u in v] for k, v in x.items()},
                value=fmt(f(x), 12), mag=fmt(magnitude(kind, what, x), 6))
    case["grads"] = {k: [fmt(u, 10) for u in central_diff(f, x, k)] for k in x if k in DIFFERENTIABLE}
    if what == "mixed":
        # The same samples with t and 1 − t swapped: a loss that mixed up the two branches.
        case["swapped"] = fmt(f({"d": x["d"], "t": 1.0 - x["t"]}), 12)
    return case


LOSS_CASES = [
    loss_case("hinge d 8 vs 8", "hinge", "d", {"d_real": [8], "d_fake": [8]}),
    loss_case("hinge d [64,1] vs [64,1]", "hinge", "d", {"d_real": [64, 1], "d_fake": [64, 1]}),
    loss_case("hinge d 1 vs 5", "hinge", "d", {"d_real": [1], "d_fake": [5]}),
    loss_case("hinge g 8", "hinge", "g", {"d_fake": [8]}),
    loss_case("hinge g [64,1]", "hinge", "g", {"d_fake": [64, 1]}),
    loss_case("hinge g 1", "hinge", "g", {"d_fake": [1]}),
    loss_case("bce d 8 vs 8", "bce", "d", {"d_real": [8], "d_fake": [8]}),
    loss_case("bce d [64,1] vs [64,1] wide", "bce", "d", {"d_real": [64, 1], "d_fake": [64, 1]}, -30.0, 30.0),
    loss_case("bce d 3 vs 1", "bce", "d", {"d_real": [3], "d_fake": [1]}),
    loss_case("bce g 8", "bce", "g", {"d_fake": [8]}),
    loss_case("bce g [64,1] wide", "bce", "g", {"d_fake": [64, 1]}, -30.0, 30.0),
    loss_case("bce g 1", "bce", "g", {"d_fake": [1]}),
    loss_case("hinge mixed 8", "hinge", "mixed", {"d": [8], "t": [8]}),
    loss_case("hinge mixed [64,1] t [64]", "hinge", "mixed", {"d": [64, 1], "t": [64]}),
    loss_case("hinge mixed 2 t [2,1]", "hinge", "mixed", {"d": [2], "t": [2, 1]}, -0.9, 0.9),
    loss_case("bce mixed 8", "bce", "mixed", {"d": [8], "t": [8]}),
    loss_case("bce mixed [64,1] wide", "bce", "mixed", {"d": [64, 1], "t": [64, 1]}, -30.0, 30.0),
    loss_case("bce mixed 2", "bce", "mixed", {"d": [2], "t": [2]}),
]

# ---------------------------------------------------------------- LeCam, float64 (gan.md §3)


class Canonical:
    """google/lecam-gan: scalar EMAs of the batch means, updated at every D step before the
    penalty with decay 0 before start (the EMA equals the current value); R from step start + 1."""

    def __init__(self, decay, start):
        self.decay, self.start = decay, start
        self.ema_r = self.ema_f = np.zeros(1)

    def update(self, step, r, f):
        dec = 0.0 if step < self.start else self.decay
        self.ema_r = dec * self.ema_r + (1 - dec) * r.mean()
        self.ema_f = dec * self.ema_f + (1 - dec) * f.mean()

    def active(self, step):
        return step > self.start

    def terms(self, r, f, flip=False):
        second = f - self.ema_r if flip else self.ema_r - f
        return r - self.ema_f, second


class GsrRepo:
    """val-iisc/gSRGAN worker.py: per-position EMAs over the output vector, 0 throughout step 0;
    a resumed run uses the plain batch mean; second term sign flipped; R at every step."""

    def __init__(self, decay, b):
        self.decay, self.resumed = decay, False
        self.ema_r = self.ema_f = np.zeros(b)

    def update(self, step, r, f):
        if step == 0:
            self.ema_r, self.ema_f = np.zeros_like(r), np.zeros_like(f)
        elif self.resumed:
            self.ema_r, self.ema_f = np.full_like(r, r.mean()), np.full_like(f, f.mean())
        else:
            self.ema_r = self.decay * self.ema_r + (1 - self.decay) * r
            self.ema_f = self.decay * self.ema_f + (1 - self.decay) * f

    def active(self, step):
        return True

    def terms(self, r, f, flip=False):
        second = self.ema_r - f if flip else f - self.ema_r
        return r - self.ema_f, second


def lecam_case(name, variant, steps, b, shape, lam=0.3, decay=0.99, start=1000, resume_at=None,
               repo_resume=False):
    """One LeCam object through a sequence of D steps. At index resume_at the state is saved and
    restored into a fresh object (switched to the repo's resumed mode with repo_resume)."""
    lam, decay = f32(lam), f32(decay)
    lc = Canonical(decay, start) if variant == "canonical" else GsrRepo(decay, b)
    records = []
    for i, step in enumerate(steps):
        if i == resume_at and repo_resume:
            lc.resumed = True
        while True:
            # Real outputs sit above the fake ones, as in training, with overlap so that both
            # relu terms are active for some samples.
            r, f = outputs(b, -1.0, 2.5), outputs(b, -2.5, 1.0)
            trial = copy.deepcopy(lc)
            trial.update(step, r, f)
            a, c = trial.terms(r, f)
            # Finite differences need every relu argument clear of its kink.
            if not trial.active(step) or np.abs(np.concatenate([a, c])).min() > 1e-3:
                break
        lc = trial
        rec = dict(step=step, d_real=[float(v) for v in r], d_fake=[float(v) for v in f],
                   ema_real=[fmt(v, 12) for v in lc.ema_r], ema_fake=[fmt(v, 12) for v in lc.ema_f],
                   penalty=None)
        if lc.active(step):
            def pen(x, flip=False):
                a, c = lc.terms(x["d_real"], x["d_fake"], flip)
                return lam * ((relu(a) ** 2).mean() + (relu(c) ** 2).mean())
            x = {"d_real": r, "d_fake": f}
            rec.update(penalty=fmt(pen(x), 12), flipped=fmt(pen(x, True), 12),
                       grad_real=[fmt(v, 10) for v in central_diff(pen, x, "d_real")],
                       grad_fake=[fmt(v, 10) for v in central_diff(pen, x, "d_fake")],
                       xmax=fmt(np.abs(np.concatenate([a, c])).max(), 6))
        records.append(rec)
    dmax = max(max(abs(v) for v in rec["d_real"] + rec["d_fake"]) for rec in records)
    return dict(name=name, variant=variant, **{"lambda": lam}, decay=decay, start_step=start,
                batch=b, shape=shape, resume_at=resume_at, repo_resume=repo_resume,
                dmax=fmt(dmax, 6), steps=records)


def d_steps(first, last, n_dis):
    """The step argument of every D step of iterations first..last, n_dis D steps each."""
    return [s for s in range(first, last + 1) for _ in range(n_dis)]


LECAM_CASES = [
    lecam_case("canonical defaults across the start step", "canonical", d_steps(998, 1002, 2), 8, [8]),
    lecam_case("canonical decay 0.9 start 2 lambda 0.1 [5,1], resumed exactly at step 3",
               "canonical", d_steps(0, 5, 3), 5, [5, 1], lam=0.1, decay=0.9, start=2, resume_at=9),
    lecam_case("canonical start 0 batch 64", "canonical", d_steps(0, 2, 2), 64, [64], start=0),
    lecam_case("gsr-repo defaults", "gsr-repo", d_steps(0, 3, 2), 6, [6]),
    lecam_case("gsr-repo decay 0.9 [4,1], resumed exactly at step 2", "gsr-repo", d_steps(0, 4, 2), 4,
               [4, 1], decay=0.9, resume_at=4),
    lecam_case("gsr-repo decay 0.9, resumed as the repo does at step 3", "gsr-repo", d_steps(0, 5, 2), 6,
               [6], decay=0.9, resume_at=6, repo_resume=True),
]

out = dict(
    about="Golden GAN loss and LeCam vectors from tests/golden/gan_losses.py (float64 numpy, "
          "finite-difference gradients)",
    losses=LOSS_CASES,
    lecam=LECAM_CASES,
)
# One case per line so that diffs and reviews stay readable.
lines = [json.dumps(c, separators=(",", ":")) for c in LOSS_CASES]
print('{"about":' + json.dumps(out["about"]) + ',"losses":[\n' + ",\n".join(lines) + '\n],"lecam":[\n'
      + ",\n".join(json.dumps(c, separators=(",", ":")) for c in LECAM_CASES) + "\n]}")
