#!/usr/bin/env bash
# The paper-size GAN runs for a real GPU: SNGAN-32 at the gSR paper's widths (G 256 / D 128,
# batch 64, n_dis 5, Adam 2e-4, the `sngan32` preset) without and with gSR, on CIFAR-10-LT rho 100
# when CIFAR-10 is there (.cache/cifar-10-batches-bin, the binary version), else on
# Fashion-MNIST-LT rho 100; then FID / KID / intra-FID of each against the balanced test set and
# the table (scripts/gan_table.py). A feature extractor is trained first, once, on the full
# balanced training set of the same dataset.
#   usage: scripts/gpu-gan.sh [OUT]          (default runs/gan-paper)
#          scripts/gpu-gan.sh --tiny [OUT]   the same pipeline at a tiny size on any adapter
#                                            (the bundled data, 2 steps): checks the script only
# One pass works at most PASS_SECONDS (default 600) and stops; checkpoints every 250 steps, so the
# next pass continues where this one stopped, and finished runs are skipped (scripts/campaign.sh).
# STEPS (default 1000 G steps a run) sizes the runs: an estimate, not a measurement, is that both
# fit in one 10-minute pass of a modern GPU (docs/gan.md, "Paper size"). Raise it for longer
# runs: a run restarts from its config, so use a new OUT for a new STEPS.
# TAILGRAD=path/to/binary uses that build instead of building target/release/tailgrad.
set -euo pipefail
TINY=0
if [ "${1:-}" = --tiny ]; then TINY=1; shift; fi
OUT=${1:-runs/gan-paper}
STEPS=${STEPS:-1000}
PASS_SECONDS=${PASS_SECONDS:-600}
HERE=$(dirname "$0")
if [ -z "${TAILGRAD:-}" ]; then cargo build --release --quiet; fi
export TAILGRAD=${TAILGRAD:-target/release/tailgrad}
mkdir -p "$OUT"

features=(--config configs/features/fashion-mnist.toml)
gan=(--preset sngan32 --steps "$STEPS" --checkpoint-every 250 --sample-every 500)
if [ "$TINY" = 1 ]; then
    features+=(--dataset bundled --epochs 1)
    gan=(--dataset bundled --steps 2 --g-width 16 --d-width 16 --batch 8 --n-dis 1)
    export EVAL_N=100
elif [ -d .cache/cifar-10-batches-bin ]; then
    features+=(--dataset cifar10 --set model=resnet20 --epochs 15)
    gan+=(--dataset cifar10)
fi
# The manifest of this pass (its runs are what the table shows).
cat >"$OUT/manifest.txt" <<MANIFEST
features               train classifier ${features[*]}
paper-sngan-s1         train gan ${gan[*]} --seed 1
paper-gsr-s1           train gan ${gan[*]} --seed 1 --gsr
MANIFEST
rc=0
timeout "$PASS_SECONDS" "$HERE"/campaign.sh "$OUT/manifest.txt" "$OUT" || rc=$?
if [ "$rc" = 124 ]; then
    echo "pass over after $PASS_SECONDS s: run the same command again to continue"
elif [ "$rc" != 0 ]; then
    exit "$rc"
fi
python3 "$HERE"/gan_table.py "$OUT" | tee "$OUT/table.md"
