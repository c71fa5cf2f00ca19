#!/usr/bin/env bash
# One comparison run on this machine: tailgrad, numpy and (if built) burn, back to back, each
# writing JSON lines with the same keys into OUTDIR. Run it on a quiet machine.
#   benches/peers/run_all.sh OUTDIR
set -euo pipefail
out=${1:?usage: run_all.sh OUTDIR}
mkdir -p "$out"
root=$(cd "$(dirname "$0")/../.." && pwd)
cargo build --release --bin tailgrad --manifest-path "$root/Cargo.toml"
"$root/target/release/tailgrad" bench --json "$out/tailgrad.jsonl" > "$out/tailgrad.txt" 2>/dev/null
py=${PYTHON:-python3}
"$py" "$root/benches/peers/numpy_bench.py" > "$out/numpy.jsonl" 2> "$out/numpy.txt"
burn="$root/benches/peers/burn/target/release/burn-peer"
if [ -x "$burn" ]; then
    # The ResNet-32 step at batch 128 takes minutes per rep on lavapipe: 3 reps.
    "$burn" 5 matmul mlp conv > "$out/burn.jsonl" 2> "$out/burn.txt"
    "$burn" 3 resnet32 resnet32:32 >> "$out/burn.jsonl" 2>> "$out/burn.txt"
else
    echo "burn peer not built (see benches/peers/README.md); skipped" | tee "$out/burn.txt"
fi
echo "wrote $out"
