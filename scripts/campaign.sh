#!/usr/bin/env bash
# Runs the lines of a campaign manifest (configs/campaigns/*.txt): one run a line, each writing
# its own directory OUT/NAME. A finished run (summary.json there) is skipped, an unfinished one
# (a checkpoint but no summary) resumes, so the campaign can be run in pieces. GAN training lines
# are then evaluated (`tailgrad eval gan`) with the feature extractor FEATURES, once.
#   usage: scripts/campaign.sh MANIFEST OUT [LINE]
#          scripts/campaign.sh --count MANIFEST     (how many runs: the size of a Slurm array)
# LINE (1-based, or $SLURM_ARRAY_TASK_ID) runs that line alone: scripts/campaign.sbatch submits
# one array task a line. In a manifest line `NAME tailgrad-arguments...`, {runs} stands for OUT.
# Environment: TAILGRAD (binary; default: build target/release/tailgrad), FEATURES (a classifier
# checkpoint for `eval gan`; default OUT/features/checkpoint.safetensors), EVAL_N (default 10000).
set -euo pipefail
if [ "${1:-}" = --count ]; then
    grep -cv '^[[:space:]]*\(#\|$\)' "$2"
    exit
fi
MANIFEST=$1
OUT=$2
ONLY=${3:-${SLURM_ARRAY_TASK_ID:-}}
if [ -z "${TAILGRAD:-}" ]; then cargo build --release --quiet; fi
BIN=${TAILGRAD:-target/release/tailgrad}
FEATURES=${FEATURES:-$OUT/features/checkpoint.safetensors}
EVAL_N=${EVAL_N:-10000}

run_line() { # name, arguments...
    local name=$1; shift
    local dir="$OUT/$name" args=("${@//\{runs\}/$OUT}")
    if [ -f "$dir/summary.json" ]; then
        echo "skip   $name (done)"
    elif [ -f "$dir/checkpoint.safetensors" ] && [ "${args[0]}" = train ]; then
        echo "resume $name"
        "$BIN" "${args[0]}" "${args[1]}" --quiet --resume "$dir" >"$dir.log" 2>&1
    else
        echo "run    $name"
        mkdir -p "$(dirname "$dir")"
        local quiet=()
        if [ "${args[0]}" = train ]; then quiet=(--quiet); fi
        "$BIN" "${args[@]}" "${quiet[@]}" --out "$dir" >"$dir.log" 2>&1
    fi
    if [ "${args[0]} ${args[1]}" != "train gan" ] || [ -f "$dir/fid.json" ]; then
        return
    elif [ ! -f "$FEATURES" ]; then
        echo "       no feature extractor at $FEATURES (run the features manifest): not evaluated"
    else
        echo "eval   $name"
        "$BIN" eval gan --checkpoint "$dir/checkpoint.safetensors" --features "$FEATURES" \
            --n "$EVAL_N" --out "$dir" >>"$dir.log" 2>&1
    fi
}

n=0
while read -r name rest; do
    case "$name" in ''|'#'*) continue ;; esac
    n=$((n + 1))
    if [ -n "$ONLY" ] && [ "$n" != "$ONLY" ]; then continue; fi
    read -r -a args <<<"$rest"
    run_line "$name" "${args[@]}"
done <"$MANIFEST"
if [ -n "$ONLY" ] && [ "$ONLY" -gt "$n" ]; then
    echo "$MANIFEST has $n runs, no line $ONLY" >&2
    exit 1
fi
