#!/usr/bin/env bash
# The long-tail table of docs/results.md: CE, Focal, BalCE, LDAM-DRW and two-stage GCL trained on
# full Fashion-MNIST-LT (rho 100 and 10, seeds 1 and 2), post-hoc Logit Adjustment evaluated on
# the CE checkpoints (the loss form of LA with tau 1 is BalCE), then category extrapolation with
# neighbour silencing against its BalCE baseline (seeds 1 and 2). Every run writes its own
# directory under OUT; scripts/results_table.py OUT prints the tables.
#   usage: scripts/results_fmnist_lt.sh [OUT] [main|extrapolation|all]
# TAILGRAD=path/to/binary uses that build instead of building target/release/tailgrad.
set -euo pipefail
OUT=${1:-runs/results}
WHAT=${2:-all}
if [ -z "${TAILGRAD:-}" ]; then cargo build --release --quiet; fi
BIN=${TAILGRAD:-target/release/tailgrad}
run() { # out, flags...
    local dir=$1; shift
    if [ -f "$dir/summary.json" ]; then echo "skip $dir (done)"; return; fi
    echo "run  $dir"
    "$BIN" train classifier --quiet --out "$dir" "$@" >/dev/null
}
if [ "$WHAT" != extrapolation ]; then
    for rho in 100 10; do
        for seed in 1 2; do
            for method in ce focal balce ldam-drw gcl; do
                run "$OUT/lt$rho/$method-s$seed" --config configs/results/fmnist-lt.toml \
                    --rho "$rho" --seed "$seed" --method "$method"
            done
            la="$OUT/lt$rho/la-posthoc-s$seed"
            mkdir -p "$la"
            "$BIN" eval --checkpoint "$OUT/lt$rho/ce-s$seed/checkpoint.safetensors" \
                --posthoc-tau 1 --json | sed -n '/^{/,$p' >"$la/summary.json"
        done
    done
fi
if [ "$WHAT" != main ]; then
    for seed in 1 2; do
        for setup in balce-targets-only auxiliary-no-silencing neighbour-silencing; do
            run "$OUT/extrapolation/$setup-s$seed" \
                --config "configs/extrapolation/fashion-mnist-$setup.toml" --seed "$seed"
        done
    done
fi
