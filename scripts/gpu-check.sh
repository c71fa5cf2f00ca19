#!/usr/bin/env bash
# tailgrad on a real GPU against PyTorch on the same GPU, in one run (docs/benchmarks.md, "GPU
# check", says how to run it on a lent machine).
#
#   scripts/gpu-check.sh pack             where cargo is: build the release binary and every test
#                                         binary, stripped, into .gpu-check/bin.tar.xz (~20 MB;
#                                         ~5 min of xz on 2 cores) and fetch the Vulkan loader
#                                         package into .gl/; the GPU machine has no cargo and no
#                                         registry, so both folders travel with the repo
#   scripts/gpu-check.sh OUTDIR           on the GPU machine: the test suite, `tailgrad bench`
#                                         (its GAN entries first), the PyTorch peer (its GAN
#                                         iteration too), OUTDIR/summary.{json,md}
#   scripts/gpu-check.sh --smoke OUTDIR   the same pipeline at tiny sizes on any adapter (lavapipe)
#                                         and torch on the CPU if installed: checks the script,
#                                         measures nothing
#
# Every stage runs under a timeout cut to what is left of GPU_CHECK_BUDGET (default 450 s), so one
# hung stage cannot eat the run. Other knobs: GPU_CHECK_TESTS (`all` or the names of the test
# binaries to run; default all, with --smoke: smoke torch_peer), GPU_CHECK_JOBS (test binaries at
# once, default 4), PYTHON.
# Exit status: 0 all ran and passed, 1 a stage or test failed, 2 nothing measured (no binaries,
# no Vulkan driver, or a software adapter without --smoke).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
self="$root/scripts/$(basename "$0")"
pack="$root/.gpu-check"
py=${PYTHON:-python3}
say() { echo "gpu-check: $*" >&2; }
die() { say "$*"; exit 2; }

# One test binary, run by the test stage through xargs: its log and exit status into DIR.
if [ "${1:-}" = __test ]; then
    bin=$2 dir=$3 cap=$4 rc=0
    timeout -k 5 "$cap" "$bin" --show-output >"$dir/$(basename "$bin").log" 2>&1 || rc=$?
    echo "$rc $SECONDS" >"$dir/$(basename "$bin").rc"
    exit 0
fi

if [ "${1:-}" = pack ]; then
    command -v cargo >/dev/null || die "pack needs cargo"
    target=${CARGO_TARGET_DIR:-$root/target}
    cd "$root"
    cargo build --release --bin tailgrad
    list=$(cargo test --release --no-run --message-format=json)
    rm -rf "$pack" && mkdir -p "$pack/bin/tests"
    cp "$target/release/tailgrad" "$pack/bin/tailgrad"
    # Test executables, named after their target (lib and bin unit tests: lib-, bin-tailgrad).
    echo "$list" | "$py" -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["profile"]["test"] and m.get("executable"):
        kind = m["target"]["kind"][0]
        name = m["target"]["name"] if kind == "test" else kind + "-" + m["target"]["name"]
        print(name, m["executable"])' | while read -r name exe; do cp "$exe" "$pack/bin/tests/$name"; done
    strip "$pack/bin/tailgrad" "$pack"/bin/tests/*
    # One xz stream with a window spanning several binaries: they share most of their code.
    tar -C "$pack/bin" -cf - . | xz -9 -T1 >"$pack/bin.tar.xz"
    rm -rf "${pack:?}/bin"
    # Tests that read files or run the CLI find them at paths compiled in here.
    {
        echo "commit=$(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo +dirty)"
        echo "built=$(date -u +%FT%TZ) $(rustc --version)"
        echo "manifest_dir=$root"
        echo "target_dir=$target"
    } >"$pack/manifest"
    if ! ls "$root"/.gl/libvulkan1_*.deb >/dev/null 2>&1; then
        # The loader for the GPU machine (amd64, whatever this machine is), as the device
        # README brings it.
        mkdir -p "$root/.gl" /tmp/amd64/partial
        o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64)
        apt-get "${o[@]}" update -qq && (cd "$root/.gl" && apt-get "${o[@]}" download libvulkan1)
    fi
    du -sh "$pack/bin.tar.xz" "$root/.gl"
    say "carry .gpu-check and .gl (64 MiB in all with the working tree)"
    exit 0
fi

mode=gpu
if [ "${1:-}" = --smoke ]; then mode=smoke; shift; fi
[ $# = 1 ] || { sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
mkdir -p "$1"
out=$(cd "$1" && pwd)
state=$(mktemp -d)
mkdir -p "$state/tests"
rm -f "$out"/{bench-gan.jsonl,bench.jsonl,torch.jsonl,devices.json,summary.json,summary.md,tests.log}
exec > >(tee "$out/run.log") 2>&1
tee=$!
# On exit: let tee write the last lines before the caller reads them.
trap 'exec >&- 2>&-; wait "$tee"; rm -rf "$state"' EXIT
cd "$root"
commit=unknown
budget=${GPU_CHECK_BUDGET:-450}
notes=()
failed=0

# stage NAME CAP CMD...: CMD under a timeout of CAP seconds or what is left of the budget (less
# 15 s for the summary), whichever is less; its status goes into the summary.
stage() {
    local name=$1 cap=$2 left=$((budget - SECONDS - 15)) t=$SECONDS rc=0 status=ok
    shift 2
    if [ "$left" -lt 5 ]; then
        printf '%s\tskipped: %s s budget spent\t0\n' "$name" "$budget" >>"$state/stages.tsv"
        failed=1
        return
    fi
    [ "$cap" -le "$left" ] || cap=$left
    say "== $name (at most ${cap} s)"
    timeout -k 5 "$cap" "$@" || rc=$?
    case $rc in
        0) ;;
        124 | 137) status="timed out after ${cap} s" ;;
        *) status="failed (exit $rc)" ;;
    esac
    [ "$status" = ok ] || failed=1
    printf '%s\t%s\t%s\n' "$name" "$status" "$((SECONDS - t))" >>"$state/stages.tsv"
}

summary() {
    "$py" "$root/scripts/gpu_check_summary.py" summary "$out" "$state" "$mode" "$SECONDS" \
        "$commit" "${notes[@]+"${notes[@]}"}"
    cat "$out/summary.md"
    say "wrote $out: summary.json summary.md run.log and the raw files"
}

# ---- the binaries: carried from `pack`, or packed here when cargo is at hand ----
if [ ! -f "$pack/bin.tar.xz" ]; then
    command -v cargo >/dev/null || die "no .gpu-check/ and no cargo: run \`scripts/gpu-check.sh pack\` where cargo is and carry .gpu-check"
    stage pack 600 bash "$self" pack
fi
mkdir "$state/bin"
xz -dc "$pack/bin.tar.xz" | tar -C "$state/bin" -xf -
bin="$state/bin/tailgrad"
manifest() { sed -n "s/^$1=//p" "$pack/manifest"; }
commit=$(manifest commit)
say "binaries of commit $commit, built $(manifest built)"
[ -d "$(manifest manifest_dir)" ] || {
    mkdir -p "$(dirname "$(manifest manifest_dir)")"
    ln -s "$root" "$(manifest manifest_dir)"
    say "linked $(manifest manifest_dir) -> $root (test data paths compiled in)"
}
cli=$(manifest target_dir)/release/tailgrad
[ -e "$cli" ] || {
    mkdir -p "$(dirname "$cli")" && ln -sfn "$bin" "$cli"
    say "linked $cli -> $bin (the CLI tests' compiled-in path)"
}

# ---- the Vulkan loader and driver ----
export TAILGRAD_BACKEND=vulkan XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
if ! ldconfig -p | grep 'libvulkan\.so\.1 ' >/dev/null; then
    ls "$root"/.gl/*.deb >/dev/null 2>&1 || die "no Vulkan loader (libvulkan.so.1) and no .gl/*.deb to unpack"
    for f in "$root"/.gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
    say "unpacked the Vulkan loader from .gl/"
fi
shopt -s nullglob
icds=(/usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json /usr/local/share/vulkan/icd.d/*.json)
shopt -u nullglob
nvidia_icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -z "${VK_DRIVER_FILES:-}" ] && ! grep -qil nvidia "${icds[@]}" /dev/null && [ -f "$nvidia_icd" ]; then
    export VK_DRIVER_FILES=$nvidia_icd
    notes+=("Vulkan driver: VK_DRIVER_FILES=$nvidia_icd (no NVIDIA ICD in the standard folders)")
fi
# shellcheck disable=SC2016 # $1 and $2 are sh's, not ours
stage devices 30 sh -c '"$1" devices --json >"$2"' _ "$bin" "$out/devices.json"
if ! picked=$("$py" "$root/scripts/gpu_check_summary.py" adapter "$out/devices.json" 2>/dev/null); then
    notes+=("NO VULKAN DRIVER FOUND: tailgrad sees no Vulkan adapter (ICD files: ${icds[*]:-none}; VK_DRIVER_FILES=${VK_DRIVER_FILES:-unset})")
    summary
    die "no Vulkan driver found: nothing measured"
fi
IFS=$'\t' read -r name dtype _ software <<<"$picked"
say "adapter: $name ($dtype)"
if [ "$software" = yes ]; then
    if [ "$mode" = gpu ]; then
        notes+=("REFUSED: the picked Vulkan adapter, $name ($dtype), is a software/CPU one; no GPU figures reported (ICD files: ${icds[*]:-none}; VK_DRIVER_FILES=${VK_DRIVER_FILES:-unset})")
        summary
        die "picked adapter $name is software: no GPU figures (use --smoke to try the pipeline)"
    fi
    notes+=("smoke run on the software adapter $name: these figures test the script, they are no GPU measurement")
fi

# ---- the test suite ----
if [ "$mode" = gpu ]; then tests=${GPU_CHECK_TESTS:-all}; else tests=${GPU_CHECK_TESTS:-smoke torch_peer}; fi
if [ "$tests" = all ]; then
    ls "$state"/bin/tests/* >"$state/test-list"
else
    for t in $tests; do echo "$state/bin/tests/$t"; done >"$state/test-list"
fi
notes+=("doc tests not run (they need rustdoc)")
stage tests 150 xargs -a "$state/test-list" -P "${GPU_CHECK_JOBS:-4}" -I{} \
    bash "$self" __test {} "$state/tests" 120
sort "$state/test-list" | while read -r f; do
    t=$(basename "$f")
    echo "== $t (exit, seconds: $(cat "$state/tests/$t.rc" 2>/dev/null || echo 'not finished'))"
    cat "$state/tests/$t.log" 2>/dev/null || true
done >"$out/tests.log"
grep -qv '^0 ' "$state"/tests/*.rc 2>/dev/null && failed=1

# ---- tailgrad's figures ----
if [ "$mode" = gpu ]; then quick=(); else quick=(--quick); fi
# The GAN entries (both widths) in a stage of their own, before the rest: `tailgrad bench` runs
# them last, so a bench stage cut short would lose the figure issue 12 asks for. The rest is every
# other kernel family, as the binary names them when nothing matches (all, should that change).
stage bench_gan 60 "$bin" bench "${quick[@]+"${quick[@]}"}" gan --json "$out/bench-gan.jsonl"
# shellcheck disable=SC2207 # the names are single words
others=($(timeout -k 5 30 "$bin" bench "${quick[@]+"${quick[@]}"}" / 2>&1 | sed -n 's/.*known kernels: //p' |
    tr -s ', ' '\n' | grep -v -e '^gan_' -e '^peak_' || true))
stage bench 150 "$bin" bench "${quick[@]+"${quick[@]}"}" "${others[@]+"${others[@]}"}" \
    --json "$out/bench.jsonl"

# ---- the PyTorch peer ----
peer=("$py" "$root/benches/peers/torch_peer.py" --json "$out/torch.jsonl")
if [ "$mode" = gpu ]; then
    check='import torch; assert torch.cuda.is_available(), "CUDA not available"; print(torch.__version__)'
else
    # --quick: matmul 256^3 and the GAN at `tailgrad bench --quick`'s size
    peer+=(--device cpu --quick --depth 8 --batch 16)
    check='import torch; print(torch.__version__)'
fi
if torch=$("$py" -c "$check" 2>&1); then
    notes+=("PyTorch $torch")
    stage torch_eager 90 "${peer[@]}" matmul resnet_step gan_iteration gan_g_step
    # One process for both compiled models (one CUDA start); the GAN's compile (G and D, D in
    # two batch sizes and frozen, G under no_grad) is the longer, at the paper's widths only.
    stage torch_compile 300 "${peer[@]}" resnet_step gan_iteration --compile --gan paper
else
    notes+=("PyTorch figures not measured: $(echo "$torch" | tail -1)")
fi

summary
exit "$failed"
