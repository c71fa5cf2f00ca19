#!/usr/bin/env python3
"""Markdown tables of the runs written by scripts/results_fmnist_lt.sh: for every method the mean
over seeds and the spread (max - min) of top-1 / many / medium / few accuracy, in percent.
usage: scripts/results_table.py [OUT]   (standard library only)"""
import json
import sys
from pathlib import Path

OUT = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/results")
ROWS = [  # (label, run name, which summary)
    ("CE", "ce", None),
    ("Focal (γ = 1)", "focal", None),
    ("LA post-hoc (τ = 1, on the CE runs)", "la-posthoc", None),
    ("BalCE (= LA loss, τ = 1)", "balce", None),
    ("LDAM-DRW", "ldam-drw", None),
    ("GCL stage 1", "gcl", "stage1"),
    ("GCL stage 1 + 2", "gcl", None),
]
EXTRAPOLATION = [
    ("BalCE, target classes only", "balce-targets-only"),
    ("+ auxiliary neighbour classes, no silencing", "auxiliary-no-silencing"),
    ("+ auxiliary neighbour classes, neighbour silencing", "neighbour-silencing"),
]
KEYS = ["top1", "many", "medium", "few"]


def cell(values):
    values = [100 * v for v in values if v is not None]
    if not values:
        return "–"
    mean = sum(values) / len(values)
    return f"{mean:.2f} ± {(max(values) - min(values)) / 2:.2f}"


def summaries(directory, name):
    return [json.loads(p.read_text()) for p in sorted(directory.glob(f"{name}-s*/summary.json"))]


def table(rows, directory):
    print("| method | seeds | top-1 % | many % | medium % | few % |")
    print("|---|---|---|---|---|---|")
    for label, name, *part in rows:
        runs = summaries(directory, name)
        if part and part[0]:
            runs = [r[part[0]] for r in runs]
        if runs:
            cells = " | ".join(cell([r.get(k) for r in runs]) for k in KEYS)
            print(f"| {label} | {len(runs)} | {cells} |")
    print()


for rho in (100, 10):
    d = OUT / f"lt{rho}"
    if d.is_dir():
        print(f"Fashion-MNIST-LT, ρ = {rho} (mean ± half the spread over seeds)\n")
        table(ROWS, d)
d = OUT / "extrapolation"
if d.is_dir():
    print("Category extrapolation (target classes only at test time)\n")
    table(EXTRAPOLATION, d)
