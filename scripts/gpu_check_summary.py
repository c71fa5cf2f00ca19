#!/usr/bin/env python3
"""The two pieces of scripts/gpu-check.sh that read JSON (standard library only).

  gpu_check_summary.py adapter DEVICES_JSON
      prints the adapter `tailgrad devices --json` marked selected: name, device type, backend
      and whether it is a software/CPU one (yes/no), tab-separated; exits 1 if none is selected.
  gpu_check_summary.py summary OUTDIR STATE_DIR MODE SECONDS COMMIT [NOTE...]
      reads OUTDIR/{devices.json,bench-gan.jsonl,bench.jsonl,torch.jsonl} and, in STATE_DIR, the
      stage table
      (stages.tsv), the test binaries run (test-list) and their logs (tests/NAME.log, NAME.rc),
      and writes OUTDIR/summary.json (every figure, the tailgrad / PyTorch ratios, the GAN steps
      side by side) and OUTDIR/summary.md.
"""
import json
import os
import re
import sys
import time

SOFTWARE = ("llvmpipe", "lavapipe", "swiftshader", "warp")
# The matmul peer: cuBLAS fp32 (TF32 off) at 4096^3.
MATMUL_PEER = ("matmul", "4096x4096x4096")
# The GAN entries with a PyTorch twin (benches/peers/torch_peer.py).
GAN_STEPS = ("gan_iteration", "gan_g_step")


def is_software(a):
    """The rule of src/runtime/device.rs: a CPU adapter or a known software rasterizer."""
    return a["device_type"] == "Cpu" or any(s in a["name"].lower() for s in SOFTWARE)


def adapter(path):
    picked = [a for a in json.load(open(path)) if a.get("selected")]
    if not picked:
        sys.exit(1)
    a = picked[0]
    print("\t".join([a["name"], a["device_type"], a["backend"],
                     "yes" if is_software(a) else "no"]))


def jsonl(path):
    if not os.path.exists(path):
        return []
    return [json.loads(line) for line in open(path) if line.strip()]


def tests(state):
    """Per test binary of STATE/test-list: libtest's counts, the failed and ignored tests, the
    `skipped:` lines that passing tests printed (--show-output groups them by test), and the exit
    status and seconds from NAME.rc ("RC SECONDS"; none when the stage ended first)."""
    listed = os.path.join(state, "test-list")
    names = sorted(os.path.basename(line.strip()) for line in open(listed)) \
        if os.path.exists(listed) else []
    out = dict(binaries=[], passed=0, failed=0, ignored=0, failed_tests=[], skipped=[],
               not_finished=[], failed_binaries=[])
    for name in names:
        path = os.path.join(state, "tests", name)
        text = open(path + ".log", errors="replace").read() if os.path.exists(path + ".log") else ""
        rc, secs = map(int, open(path + ".rc").read().split()) \
            if os.path.exists(path + ".rc") else (None, None)
        counts = [0, 0, 0]
        results = re.findall(r"test result: \w+\. (\d+) passed; (\d+) failed; (\d+) ignored", text)
        for r in results:
            counts = [c + int(x) for c, x in zip(counts, r)]
        for key, n in zip(("passed", "failed", "ignored"), counts):
            out[key] += n
        out["binaries"].append(dict(name=name, exit=rc, seconds=secs, passed=counts[0],
                                    failed=counts[1], ignored=counts[2]))
        out["failed_tests"] += [f"{name}: {t}" for t in
                                re.findall(r"^test (\S+) \.\.\. FAILED", text, re.M)]
        for t, why in re.findall(r"^test (\S+) \.\.\. ignored(?:, (.*))?$", text, re.M):
            out["skipped"].append(dict(binary=name, test=t, reason=f"#[ignore] {why}".strip()))
        current = None
        for line in text.splitlines():
            m = re.match(r"---- (\S+) stdout ----", line)
            if m:
                current = m.group(1)
            elif line.startswith("skipped: "):
                out["skipped"].append(dict(binary=name, test=current, reason=line[9:]))
        if rc is None:
            out["not_finished"].append(name)
        elif rc in (124, 137):
            out["not_finished"].append(f"{name} (timed out)")
        elif rc != 0 and not results:
            out["failed_binaries"].append(f"{name} (exit {rc})")
    return out


def tailgrad_rows(out):
    """`tailgrad bench gan` (its own stage) and then the rest of `tailgrad bench`; a row measured
    in both (the peaks, or everything if the rest ran unfiltered) counts once, from the first."""
    rows, seen = [], set()
    for r in jsonl(os.path.join(out, "bench-gan.jsonl")) + jsonl(os.path.join(out, "bench.jsonl")):
        key = (r["kernel"], r["shape"], r["variant"])
        if key not in seen:
            seen.add(key)
            rows.append(r)
    return rows


def gan(bench, torch):
    """One row per tailgrad GAN step with a twin: images/s of tailgrad (variant small / paper)
    and of PyTorch eager and compiled at the same kernel and shape, and the ratios."""
    rows = []
    for r in bench:
        if r["kernel"] not in GAN_STEPS or not r.get("images_per_sec"):
            continue
        row = dict(kernel=r["kernel"], shape=r["shape"], width=r["variant"],
                   tailgrad=r["images_per_sec"], tailgrad_ms=r["median_ms"])
        for v in ("eager", "compile"):
            t = [t for t in torch if (t["kernel"], t["shape"], t["variant"]) ==
                 (r["kernel"], r["shape"], v) and t.get("images_per_sec")]
            row[f"torch_{v}"] = t[-1]["images_per_sec"] if t else None
            row[f"torch_{v}_ms"] = t[-1]["median_ms"] if t else None
            row[f"ratio_{v}"] = r["images_per_sec"] / t[-1]["images_per_sec"] if t else None
        rows.append(row)
    return sorted(rows, key=lambda g: GAN_STEPS.index(g["kernel"]))


def metric(r):
    if r.get("images_per_sec"):
        return r["images_per_sec"], "images/s"
    return (r["gbps"], "GB/s") if r.get("bound") == "memory" else (r["gflops"], "GFLOP/s")


def comparisons(bench, torch):
    """One row per PyTorch figure, against tailgrad's default variant at the same kernel and
    shape; then tailgrad's whole-model steps and matmul 4096^3 that have no PyTorch figure."""
    ours = {}
    for r in bench:
        key = (r["kernel"], r["shape"])
        if key not in ours or r["variant"] in ("auto", "default"):
            ours[key] = r
    rows = []
    for t in torch:
        value, unit = metric(t)
        tg = ours.get((t["kernel"], t["shape"]))
        mine = metric(tg) if tg else (None, unit)
        rows.append(dict(kernel=t["kernel"], shape=t["shape"], unit=unit,
                         tailgrad=mine[0], torch=value, torch_variant=t["variant"],
                         ratio=mine[0] / value if mine[0] and mine[1] == unit else None))
    compared = {(t["kernel"], t["shape"]) for t in torch}
    for key, r in ours.items():
        if key not in compared and (r.get("images_per_sec") or key == MATMUL_PEER):
            value, unit = metric(r)
            rows.append(dict(kernel=key[0], shape=key[1], unit=unit, tailgrad=value,
                             torch=None, torch_variant=None, ratio=None))
    return rows


def fmt(v, digits=2):
    return "–" if v is None else f"{v:,.{digits}f}"


def markdown(s):
    a = s.get("adapter") or {}
    lines = [f"# gpu-check {s['mode']}: {a.get('name', 'no adapter')}",
             "", f"binaries of commit {s['binaries_commit']}, {s['date']}, "
             f"{s['seconds']} s in all", ""]
    for note in s["notes"]:
        lines.append(f"- {note}")
    lines += ["", "| stage | status | s |", "|---|---|---|"]
    lines += [f"| {st['stage']} | {st['status']} | {st['seconds']} |" for st in s["stages"]]
    t = s["tests"]
    lines += ["", f"tests: {len(t['binaries'])} binaries, {t['passed']} passed, {t['failed']} failed, "
              f"{t['ignored']} ignored"]
    lines += [f"- FAILED {x}" for x in t["failed_tests"] + t["failed_binaries"]]
    lines += [f"- not finished: {x}" for x in t["not_finished"]]
    lines += [f"- skipped {x['binary']}: {x['test']}: {x['reason']}" for x in t["skipped"]]
    p = s["peaks"]
    lines += ["", f"peaks: FMA {fmt(p.get('fma_gflops'))} GFLOP/s, "
              f"copy {fmt(p.get('copy_gbps'))} GB/s"]
    lines += ["", "GAN (SNGAN-32, images/s; an iteration is 5 D steps on 2B and a G step on B):", "",
              "| step | shape | tailgrad | PyTorch eager | PyTorch compile | "
              "tailgrad / eager | tailgrad / compile |", "|---|---|---|---|---|---|---|"]
    for g in s["gan"]:
        lines.append(f"| {g['kernel']} | {g['shape']} | {fmt(g['tailgrad'], 1)} | "
                     f"{fmt(g['torch_eager'], 1)} | {fmt(g['torch_compile'], 1)} | "
                     f"{fmt(g['ratio_eager'], 3)} | {fmt(g['ratio_compile'], 3)} |")
    if not s["gan"]:
        lines.append("| gan_iteration | – | not measured | – | – | – | – |")
    lines += ["", "| kernel | shape | unit | tailgrad | PyTorch | PyTorch variant | tailgrad / PyTorch |",
              "|---|---|---|---|---|---|---|"]
    for c in s["comparisons"]:
        lines.append(f"| {c['kernel']} | {c['shape']} | {c['unit']} | {fmt(c['tailgrad'])} | "
                     f"{fmt(c['torch'])} | {c['torch_variant'] or '–'} | {fmt(c['ratio'], 3)} |")
    return "\n".join(lines) + "\n"


def summary(out, state, mode, seconds, commit, *notes):
    stages = []
    if os.path.exists(os.path.join(state, "stages.tsv")):
        for line in open(os.path.join(state, "stages.tsv")):
            name, status, secs = line.rstrip("\n").split("\t")
            stages.append(dict(stage=name, status=status, seconds=int(secs)))
    devices = os.path.join(out, "devices.json")
    picked = [a for a in json.load(open(devices)) if a.get("selected")] \
        if os.path.exists(devices) and os.path.getsize(devices) else []
    bench, torch = tailgrad_rows(out), jsonl(os.path.join(out, "torch.jsonl"))
    peak = {r["kernel"]: r for r in bench if r["kernel"].startswith("peak_")}
    notes = list(notes)
    gan_rows = gan(bench, torch)
    if not any(g["kernel"] == "gan_iteration" for g in gan_rows):
        notes.append("GAN iteration: no tailgrad figure (see the bench_gan stage)")
    elif not any(g["kernel"] == "gan_iteration" and g["torch_eager"] for g in gan_rows):
        notes.append("GAN iteration: no PyTorch figure to compare with")
    s = dict(
        mode=mode, seconds=int(seconds), binaries_commit=commit,
        date=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        adapter=picked[0] if picked else None,
        software_adapter=is_software(picked[0]) if picked else None,
        notes=notes, stages=stages, tests=tests(state),
        peaks=dict(fma_gflops=peak.get("peak_fma", {}).get("gflops"),
                   copy_gbps=peak.get("peak_copy", {}).get("gbps")),
        gan=gan_rows, comparisons=comparisons(bench, torch), tailgrad=bench, torch=torch)
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(s, f, indent=1)
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write(markdown(s))


if __name__ == "__main__":
    {"adapter": adapter, "summary": summary}[sys.argv[1]](*sys.argv[2:])
