#!/usr/bin/env python3
"""The GAN table of docs/results.md from the run directories a GAN campaign wrote
(scripts/campaign.sh): every run NAME-sSEED with a fid.json (from `tailgrad eval gan`) and a
summary.json (from `tailgrad train gan`). Runs of one NAME are averaged over seeds (mean ± half
the spread). "tail σ" is the mean, over the classes outside the many split and over G's CBN
layers, of σ_max of the class's gain embedding at the last metrics line; "head σ" the same over
the many split: gSR's claim is that without it the tail's σ grows. A second table follows σ
from the first metrics line to the end, with the training time.
usage: scripts/gan_table.py OUT [--split run|coarse]   (standard library only)"""
import json
import sys
from pathlib import Path

ROWS = [  # (label, run name)
    ("SNGAN (hinge)", "sngan"),
    ("+ LeCam + DiffAugment", "lecam-diffaug"),
    ("+ gSR", "gsr"),
    ("+ LeCam + DiffAugment + gSR", "lecam-diffaug-gsr"),
    ("+ gSR, the reference code's β-branch slip (parity)", "gsr-beta-slip"),
    ("+ Mixup (on SNGAN, the strongest above)", "mixup"),
    ("+ CutMix (on SNGAN)", "cutmix"),
    ("+ SRMix (on SNGAN)", "srmix"),
    ("paper size: SNGAN", "paper-sngan"),
    ("paper size: + gSR", "paper-gsr"),
    ("paper size: + LeCam + DiffAugment + gSR", "paper-lecam-diffaug-gsr"),
]


def cell(values, scale=1.0, digits=2):
    values = [scale * v for v in values if v is not None]
    if not values:
        return "–"
    mean = sum(values) / len(values)
    if len(values) == 1:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {(max(values) - min(values)) / 2:.{digits}f}"


def sigma(summary, many, line=None):
    """Mean σ of the gain embedding over the classes whose split is (not) many, and layers, at
    a metrics line (default: the last)."""
    line, splits = line or summary.get("last"), summary["class_split"]
    if not line:
        return None
    ks = [k for k, s in enumerate(splits) if (s == "many") == many]
    if not ks:
        return None
    layers = line["sigma"]
    return sum(layer[0][k] for layer in layers for k in ks) / (len(layers) * len(ks))


def runs(out, name):
    """(fid.json, summary.json, first metrics line) of every seed of NAME."""
    found = []
    for d in sorted(out.glob(f"{name}-s*")):
        if not d.name[len(name) + 2:].isdigit():
            continue  # e.g. lecam-diffaug-gsr-s1 is not a seed of lecam-diffaug
        fid, summary = d / "fid.json", d / "summary.json"
        if fid.is_file() and summary.is_file():
            with open(d / "metrics.jsonl") as f:
                first = json.loads(f.readline())
            found.append((json.loads(fid.read_text()), json.loads(summary.read_text()), first))
    return found


def sigma_table(rows):
    """σ at the first metrics line and at the end, tail and head, and the training time."""
    print("| run | seeds | tail σ: first log → end | head σ: first log → end | train s |")
    print("|---|---|---|---|---|")
    steps = set()
    for label, rs in rows:
        steps |= {m["step"] for _, _, m in rs}
        moves = []
        for many in (False, True):
            first = cell([sigma(s, many, m) for _, s, m in rs], digits=3)
            moves.append(f"{first} → {cell([sigma(s, many) for _, s, _ in rs], digits=3)}")
        seconds = cell([s["last"]["train_seconds"] for _, s, _ in rs], digits=0)
        print(f"| {label} | {len(rs)} | {moves[0]} | {moves[1]} | {seconds} |")
    print(f"(first log: G step {', '.join(str(s) for s in sorted(steps))})")


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/gan-results")
    key = "coarse_splits" if "--split" in sys.argv and sys.argv[-1] == "coarse" else "splits"
    extractors, protocols, steps = set(), set(), set()
    print("| run | seeds | FID | KID × 10³ | intra-FID | many / medium / few intra-FID "
          "| tail σ (head σ) at the end |")
    print("|---|---|---|---|---|---|---|")
    rows = [(label, rs) for label, name in ROWS if (rs := runs(out, name))]
    for label, rs in rows:
        fids = [f for f, _, _ in rs]
        extractors |= {f["extractor"] for f in fids}
        protocols |= {f["protocol"] for f in fids}
        steps |= {f["step"] for f in fids}
        split = " / ".join(cell([f[key][s] for f in fids]) for s in ("many", "medium", "few"))
        tail = cell([sigma(s, False) for _, s, _ in rs], digits=3)
        head = cell([sigma(s, True) for _, s, _ in rs], digits=3)
        print(f"| {label} | {len(rs)} | {cell([f['fid'] for f in fids])} "
              f"| {cell([f['kid']['mean'] for f in fids], 1e3)} "
              f"| {cell([f['intra_fid'] for f in fids])} | {split} | {tail} ({head}) |")
    print()
    sigma_table(rows)
    print()
    for what, values in (("G steps", steps), ("extractor", extractors), ("protocol", protocols)):
        print(f"{what}: {'; '.join(str(v) for v in sorted(values))}  ")


main()
