#!/usr/bin/env python3
"""PyTorch peer on the same GPU: the entries of `tailgrad bench` that have a PyTorch twin, built
identically and timed the way tailgrad times them (src/bench/timing.rs).

  torch_peer.py params [--depth 32]          state names and shapes of ResNet-DEPTH as JSON
                                             (no torch needed: tests/torch_peer.rs compares
                                             them with tailgrad's model)
  torch_peer.py matmul [resnet_step] [--compile] [--quick] [--device cuda] [--batch 128]
                       [--depth 32] [--json FILE]

Each timing prints one JSON line with the keys of `tailgrad bench --json` (kernel, shape, device,
backend, variant, median_ms, gflops, gbps, min_ms, first_ms, reps, iters; images_per_sec for a
training step). Everything runs in fp32 with TF32 off for cuBLAS and cuDNN, as tailgrad computes.

Timing, as tailgrad's: one untimed first call; `--warmup` more untimed calls (3 by default: cuDNN's
autotune and torch.compile's recompiles settle there; tailgrad needs none); one call to estimate
the cost; then reps of enough calls to last 30 ms, each rep ended by a device synchronise and
divided by its calls; the median over 10 reps, or over at least 3 once 4 s have passed.
"""
import argparse
import json
import math
import sys
import time

TARGET_S, REPS, BUDGET_S, MIN_REPS, MAX_ITERS = 0.030, 10, 4.0, 3, 1000
WIDTHS = (16, 32, 64)
CLASSES = 10


# ---------- the architecture, without torch ----------

def resnet_blocks(depth):
    """(stage, block, cin, cout, stride) of the CIFAR ResNet-depth (6n+2), src/nn/resnet.rs."""
    if depth < 8 or (depth - 2) % 6:
        sys.exit(f"depth must be 6n+2 with n >= 1, got {depth}")
    n, cin = (depth - 2) // 6, WIDTHS[0]
    for s, cout in enumerate(WIDTHS):
        for b in range(n):
            yield s, b, cin, cout, 2 if s > 0 and b == 0 else 1
            cin = cout


def resnet_spec(depth, in_channels=3):
    """[(name, shape)] of every state tensor in tailgrad's order (`nn::state_of`)."""
    out = []

    def conv(p, cin, cout):
        out.append((f"{p}.weight", [cout, cin, 3, 3]))

    def bn(p, c):
        out.extend((f"{p}.{k}", [c]) for k in ("weight", "bias", "running_mean", "running_var"))

    conv("conv1", in_channels, WIDTHS[0])
    bn("bn1", WIDTHS[0])
    for s, b, cin, cout, _ in resnet_blocks(depth):
        p = f"layer{s + 1}.{b}"
        conv(f"{p}.conv1", cin, cout)
        bn(f"{p}.bn1", cout)
        conv(f"{p}.conv2", cout, cout)
        bn(f"{p}.bn2", cout)
    out += [("fc.weight", [CLASSES, WIDTHS[-1]]), ("fc.bias", [CLASSES])]
    return out


def resnet_macs(depth):
    """Multiply-accumulates of one forward pass per 32x32 image, as src/bench/resnet.rs counts."""
    macs, hw = 3 * WIDTHS[0] * 9 * 32 * 32, 32
    for _, _, cin, cout, stride in resnet_blocks(depth):
        hw //= stride
        macs += (cin + cout) * cout * 9 * hw * hw
    return macs + WIDTHS[-1] * CLASSES


# ---------- timing ----------

def measure(step, sync, warmup):
    """Per-call milliseconds of `step`, as src/bench/timing.rs measures them."""
    def timed(calls):
        t = time.perf_counter()
        for _ in range(calls):
            step()
        sync()
        return time.perf_counter() - t

    first = timed(1)
    for _ in range(warmup):
        timed(1)
    iters = min(max(math.ceil(TARGET_S / max(timed(1), 1e-6)), 1), MAX_ITERS)
    samples, start = [], time.perf_counter()
    while len(samples) < REPS:
        samples.append(1e3 * timed(iters) / iters)
        if time.perf_counter() - start > BUDGET_S and len(samples) >= MIN_REPS:
            break
    samples.sort()
    mid = len(samples) // 2
    median = samples[mid] if len(samples) % 2 else (samples[mid - 1] + samples[mid]) / 2
    return dict(median_ms=median, min_ms=samples[0], first_ms=1e3 * first,
                reps=len(samples), iters=iters)


# ---------- the entries (torch from here on) ----------

def resnet_model(torch, depth):
    nn, F = torch.nn, torch.nn.functional

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.stride, self.pad = stride, cout - cin

        def forward(self, x):
            y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
            s = x
            if self.stride != 1 or self.pad:
                # Option A: subsample, then zero channels, half before and the rest after.
                s = F.pad(x[:, :, ::self.stride, ::self.stride],
                          (0, 0, 0, 0, self.pad // 2, self.pad - self.pad // 2))
            return F.relu(y + s)

    class ResNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, WIDTHS[0], 3, 1, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(WIDTHS[0])
            stages = [[] for _ in WIDTHS]
            for s, _, cin, cout, stride in resnet_blocks(depth):
                stages[s].append(Block(cin, cout, stride))
            for s, blocks in enumerate(stages):
                setattr(self, f"layer{s + 1}", nn.Sequential(*blocks))
            self.fc = nn.Linear(WIDTHS[-1], CLASSES)
            for m in self.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    nn.init.kaiming_normal_(m.weight)

        def forward(self, x):
            y = F.relu(self.bn1(self.conv1(x)))
            y = self.layer3(self.layer2(self.layer1(y)))
            return self.fc(y.mean((2, 3)))

    model = ResNet()
    got = [(k, list(v.shape)) for k, v in model.state_dict().items()
           if not k.endswith("num_batches_tracked")]
    if got != resnet_spec(depth):
        sys.exit(f"the torch ResNet-{depth} differs from resnet_spec({depth})")
    return model


def matmul(torch, a, dev, name):
    shapes = [(256, 256, 256)] if a.quick else [
        (256, 256, 256), (512, 512, 512), (1024, 1024, 1024), (2048, 2048, 2048),
        (16, 144, 65536), (4096, 4096, 4096)]
    for m, n, k in shapes:
        x = torch.rand(m, k, device=dev) * 2 - 1
        y = torch.rand(k, n, device=dev) * 2 - 1
        out = torch.empty(m, n, device=dev)
        r = measure(lambda: torch.matmul(x, y, out=out), lambda: sync(torch, dev), a.warmup)
        s = r["median_ms"] / 1e3
        yield dict(kernel="matmul", shape=f"{m}x{n}x{k}", device=name, backend=dev.type,
                   variant="fp32_no_tf32", gflops=2 * m * n * k / s / 1e9,
                   gbps=4 * (m * k + k * n + m * n) / s / 1e9, **r)


def resnet_step(torch, a, dev, name):
    """One training step as src/bench/resnet.rs: forward, cross-entropy, backward, SGD."""
    torch.manual_seed(0)
    model = resnet_model(torch, a.depth).to(dev).train()
    params = sum(p.numel() for p in model.parameters())
    fwd = torch.compile(model) if a.compile else model
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    x = torch.rand(a.batch, 3, 32, 32, device=dev) * 2 - 1
    y = torch.arange(a.batch, device=dev) % CLASSES
    loss = None

    def step():
        nonlocal loss
        loss = torch.nn.functional.cross_entropy(fwd(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad()

    r = measure(step, lambda: sync(torch, dev), a.warmup)
    s = r["median_ms"] / 1e3
    yield dict(kernel=f"resnet{a.depth}_step", shape=f"{a.batch}x3x32x32", device=name,
               backend=dev.type, variant="compile" if a.compile else "eager",
               gflops=3 * 2 * resnet_macs(a.depth) * a.batch / s / 1e9, gbps=0.0, **r,
               images_per_sec=a.batch / s, params=params, loss=loss.item(),
               torch=torch.__version__)


def sync(torch, dev):
    if dev.type == "cuda":
        torch.cuda.synchronize()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("entries", nargs="+", choices=["params", "matmul", "resnet_step"])
    p.add_argument("--device", default="cuda", help="torch device (cpu for a smoke run)")
    p.add_argument("--depth", type=int, default=32, help="ResNet depth, 6n+2")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--compile", action="store_true", help="torch.compile the model")
    p.add_argument("--quick", action="store_true", help="matmul at 256^3 only")
    p.add_argument("--warmup", type=int, default=3, help="untimed calls after the first")
    p.add_argument("--json", metavar="FILE", help="also append the JSON lines to FILE")
    a = p.parse_args()
    if "params" in a.entries:
        if len(a.entries) > 1:
            p.error("params runs alone")
        print(json.dumps([dict(name=n, shape=s) for n, s in resnet_spec(a.depth)]))
        return
    import torch
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    dev = torch.device(a.device)
    name = (torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu") + " (torch)"
    out = open(a.json, "a") if a.json else None
    for entry in a.entries:
        for rec in {"matmul": matmul, "resnet_step": resnet_step}[entry](torch, a, dev, name):
            line = json.dumps(rec)
            print(line, flush=True)
            if out:
                out.write(line + "\n")
                out.flush()


if __name__ == "__main__":
    main()
