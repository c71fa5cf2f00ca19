#!/usr/bin/env bash
# Copies the GAN campaign's run directories without their checkpoints (config, metrics, summary,
# fid.json, plots, final sample grid) from OUT to DEST, for docs/results/gan/; scripts/gan_table.py
# DEST then prints the table from the copies.
#   usage: scripts/gan_keep.sh OUT DEST
set -euo pipefail
OUT=$1
DEST=$2
for run in "$OUT"/*/; do
    name=$(basename "$run")
    [ -f "$run/fid.json" ] && [ -f "$run/summary.json" ] || continue
    mkdir -p "$DEST/$name"
    for f in config.toml metrics.jsonl summary.json fid.json fid.jsonl samples.png sigma.png \
        sigma_splits.png loss.png fid_classes.png fid.png; do
        if [ -f "$run/$f" ]; then cp "$run/$f" "$DEST/$name/"; fi
    done
done
