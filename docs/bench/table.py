"""Prints a markdown table from `tailgrad bench --json` lines (and peers' lines with the same keys).

    python3 docs/bench/table.py docs/bench/lavapipe-2026-11-22.jsonl [more.jsonl ...]
"""
import json
import sys

print("| kernel | shape | device | variant | median ms | GFLOP/s | GB/s | % peak |")
print("|---|---|---|---|---|---|---|---|")
for path in sys.argv[1:]:
    for line in open(path):
        r = json.loads(line)
        pct = r.get("peak_pct")
        print(f"| {r['kernel']} | {r['shape']} | {r['device']} | {r['variant']} | {r['median_ms']:.3f} "
              f"| {r['gflops']:.2f} | {r['gbps']:.2f} | {'' if pct is None else f'{pct:.1f}'} |")
