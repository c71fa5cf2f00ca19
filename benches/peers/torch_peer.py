#!/usr/bin/env python3
"""PyTorch peer on the same GPU: the entries of `tailgrad bench` that have a PyTorch twin, built
identically and timed the way tailgrad times them (src/bench/timing.rs).

  torch_peer.py params [--depth 32]          state names and shapes of ResNet-DEPTH as JSON
                                             (no torch needed: tests/torch_peer.rs compares
                                             them with tailgrad's model)
  torch_peer.py params --model sngan [--g-width 256] [--d-width 128] [--channels 3]
                       [--classes 10]        the same for SNGAN-32's G and D, buffers flagged
  torch_peer.py matmul [resnet_step] [gan_iteration] [gan_g_step] [--compile] [--quick]
                       [--device cuda] [--batch 128] [--depth 32] [--gan small,paper]
                       [--json FILE]

Each timing prints one JSON line with the keys of `tailgrad bench --json` (kernel, shape, device,
backend, variant, median_ms, gflops, gbps, min_ms, first_ms, reps, iters; images_per_sec for a
training step). Everything runs in fp32 with TF32 off for cuBLAS and cuDNN, as tailgrad computes.

Timing, as tailgrad's: one untimed first call; `--warmup` more untimed calls (3 by default: cuDNN's
autotune and torch.compile's recompiles settle there; tailgrad needs none); one call to estimate
the cost; then reps of enough calls to last 30 ms, each rep ended by a device synchronise and
divided by its calls; the median over 10 reps, or over at least 3 once 4 s have passed.

The GAN entries are those of `tailgrad bench gan` (src/bench/gan.rs, src/train/gan/trainer.rs):
SNGAN-32 at the `small` (G 32 / D 32) and `paper` (G 256 / D 128) widths, batch 64, 1-channel
32x32 images, 10 classes, hinge loss, Adam(2e-4, betas 0.5, 0.9) for both nets. A D step is ONE D
call on the concatenation of a real batch and a fake batch (G under no_grad), a G step runs D
with its parameters frozen; an iteration is 5 D steps and a G step, counted as 5*2B + B images.
--quick runs them at `tailgrad bench --quick`'s size (G 16 / D 16, batch 8).
"""
import argparse
import json
import math
import sys
import time

TARGET_S, REPS, BUDGET_S, MIN_REPS, MAX_ITERS = 0.030, 10, 4.0, 3, 1000
WIDTHS = (16, 32, 64)
CLASSES = 10
# tailgrad bench gan's variants: name -> (G width, D width); `quick` is its --quick size.
GAN_WIDTHS = {"small": (32, 32), "paper": (256, 128), "quick": (16, 16)}
GAN_Z, GAN_BATCH, GAN_QUICK_BATCH, GAN_N_DIS = 128, 64, 8, 5
# Images of the bundled long-tailed Fashion-MNIST training set (28x28, on a 32x32 canvas).
GAN_REAL = 2478
SN_EPS = 1e-6


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


def sngan_spec(g_width, d_width, channels=3, classes=CLASSES, z_dim=GAN_Z):
    """([(name, shape, trainable)] of G, the same of D) in tailgrad's order (`nn::state_of` of
    src/nn/sngan.rs, StudioGAN's names); D's spectral-norm vectors weight_u / weight_v are
    buffers, listed after each weight_orig as PyTorch's state dict has them."""
    g, d = [], []

    def conv(out, p, cin, cout, k):
        out += [(f"{p}.weight", [cout, cin, k, k], True), (f"{p}.bias", [cout], True)]

    def sn(p, shape, bias):
        if bias:
            d.append((f"{p}.bias", [shape[0]], True))
        d.append((f"{p}.weight_orig", shape, True))
        d.append((f"{p}.weight_u", [shape[0]], False))
        d.append((f"{p}.weight_v", [math.prod(shape[1:])], False))

    g += [("linear0.weight", [16 * g_width, z_dim], True), ("linear0.bias", [16 * g_width], True)]
    for i in range(3):
        p = f"blocks.{i}.0"
        g += [(f"{p}.{bn}.{e}.weight", [classes, g_width], True)
              for bn in ("bn1", "bn2") for e in ("embed0", "embed1")]
        conv(g, f"{p}.conv2d0", g_width, g_width, 1)
        conv(g, f"{p}.conv2d1", g_width, g_width, 3)
        conv(g, f"{p}.conv2d2", g_width, g_width, 3)
    g += [("bn4.weight", [g_width], True), ("bn4.bias", [g_width], True)]
    conv(g, "conv2d5", g_width, channels, 3)
    for i, (cin, _, down) in enumerate(sngan_d_blocks(d_width, channels)):
        p = f"blocks.{i}.0"
        if down or cin != d_width:
            sn(f"{p}.conv2d0", [d_width, cin, 1, 1], True)
        sn(f"{p}.conv2d1", [d_width, cin, 3, 3], True)
        sn(f"{p}.conv2d2", [d_width, d_width, 3, 3], True)
    sn("linear1", [1, d_width], True)
    sn("embedding", [classes, d_width], False)
    return g, d


def sngan_d_blocks(d_width, channels):
    """(cin, optimized, down) of D's four blocks."""
    return [(channels, True, True), (d_width, False, True), (d_width, False, False),
            (d_width, False, False)]


def sngan_macs(g_width, d_width, channels, z_dim=GAN_Z):
    """Multiply-accumulates of one image through G and through D, as src/bench/gan.rs counts."""
    def conv(cin, cout, k, hw):
        return cin * cout * k * k * hw * hw
    g, c, d = g_width, channels, d_width
    gm = z_dim * g * 16 + sum(2 * conv(g, g, 3, hw) + conv(g, g, 1, hw) for hw in (8, 16, 32))
    gm += conv(g, c, 3, 32)
    dm = (conv(c, d, 3, 32) + conv(d, d, 3, 32) + conv(c, d, 1, 16) + 2 * conv(d, d, 3, 16)
          + conv(d, d, 1, 16) + 4 * conv(d, d, 3, 8) + 2 * d)
    return gm, dm


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


def sngan_models(torch, g_width, d_width, channels, classes=CLASSES, z_dim=GAN_Z):
    """SNGAN-32's G and D as src/nn/sngan.rs builds them, checked against sngan_spec."""
    nn, F = torch.nn, torch.nn.functional

    def ortho(m):
        # gSR's init_weights(.., 'ortho'): every weight orthogonal (gain 1), biases zero; the
        # spectral-norm vectors are drawn right after (spectral_norm draws them).
        nn.init.orthogonal_(m.weight)
        if getattr(m, "bias", None) is not None:
            nn.init.zeros_(m.bias)
        return m

    def sn(m):
        return nn.utils.spectral_norm(ortho(m), eps=SN_EPS)

    def up(x):
        return F.interpolate(x, scale_factor=2, mode="nearest")

    class CondBatchNorm2d(nn.Module):
        """BN with batch statistics only (no affine, no running stats), gain 1 + E0[y], bias E1[y]."""

        def __init__(self, c):
            super().__init__()
            self.bn = nn.BatchNorm2d(c, eps=1e-4, affine=False, track_running_stats=False)
            self.embed0 = ortho(nn.Embedding(classes, c))
            self.embed1 = ortho(nn.Embedding(classes, c))

        def forward(self, x, y):
            gain = 1 + self.embed0(y)[:, :, None, None]
            return self.bn(x) * gain + self.embed1(y)[:, :, None, None]

    class GenBlock(nn.Module):
        def __init__(self, ch):
            super().__init__()
            self.bn1, self.bn2 = CondBatchNorm2d(ch), CondBatchNorm2d(ch)
            self.conv2d0 = ortho(nn.Conv2d(ch, ch, 1))
            self.conv2d1 = ortho(nn.Conv2d(ch, ch, 3, padding=1))
            self.conv2d2 = ortho(nn.Conv2d(ch, ch, 3, padding=1))

        def forward(self, x, y):
            h = self.conv2d1(up(F.relu(self.bn1(x, y))))
            h = self.conv2d2(F.relu(self.bn2(h, y)))
            return h + self.conv2d0(up(x))

    class Generator(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear0 = ortho(nn.Linear(z_dim, 16 * g_width))
            self.blocks = nn.ModuleList([nn.ModuleList([GenBlock(g_width)]) for _ in range(3)])
            # Batch statistics in training and sampling alike: no running buffers.
            self.bn4 = nn.BatchNorm2d(g_width, eps=1e-4, track_running_stats=False)
            self.conv2d5 = ortho(nn.Conv2d(g_width, channels, 3, padding=1))

        def forward(self, z, y):
            h = self.linear0(z).view(z.shape[0], g_width, 4, 4)
            for (block,) in self.blocks:
                h = block(h, y)
            return torch.tanh(self.conv2d5(F.relu(self.bn4(h))))

    class DiscBlock(nn.Module):
        def __init__(self, cin, optimized, down):
            super().__init__()
            if down or cin != d_width:
                self.conv2d0 = sn(nn.Conv2d(cin, d_width, 1))
            else:
                self.conv2d0 = None
            self.conv2d1 = sn(nn.Conv2d(cin, d_width, 3, padding=1))
            self.conv2d2 = sn(nn.Conv2d(d_width, d_width, 3, padding=1))
            self.optimized, self.down = optimized, down

        def forward(self, x):
            h = x if self.optimized else F.relu(x)
            h = self.conv2d2(F.relu(self.conv2d1(h)))
            if self.down:
                h = F.avg_pool2d(h, 2)
            if self.conv2d0 is None:
                return h + x
            if self.optimized:
                return h + self.conv2d0(F.avg_pool2d(x, 2))
            s = self.conv2d0(x)
            return h + (F.avg_pool2d(s, 2) if self.down else s)

    class Discriminator(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleList([nn.ModuleList([DiscBlock(*b)])
                                         for b in sngan_d_blocks(d_width, channels)])
            self.linear1 = sn(nn.Linear(d_width, 1))
            self.embedding = sn(nn.Embedding(classes, d_width))

        def forward(self, x, y):
            h = x
            for (block,) in self.blocks:
                h = block(h)
            h = F.relu(h).sum((2, 3))
            return self.linear1(h).squeeze(1) + (self.embedding(y) * h).sum(1)

    g, d = Generator(), Discriminator()
    for net, want in zip((g, d), sngan_spec(g_width, d_width, channels, classes, z_dim)):
        params = {k for k, _ in net.named_parameters()}
        got = [(k, list(v.shape), k in params) for k, v in net.state_dict().items()]
        if got != want:
            sys.exit(f"the torch {type(net).__name__} differs from sngan_spec")
    return g, d


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


def gan_entries(torch, a, dev, name, kernel):
    """tailgrad bench's `kernel` (gan_iteration or gan_g_step) at each width of --gan: the
    trainer's iteration, step for step (src/train/gan/trainer.rs, methods.md 2.7)."""
    F = torch.nn.functional
    widths, b = (["quick"], GAN_QUICK_BATCH) if a.quick else (a.gan.split(","), GAN_BATCH)
    for width in widths:
        gw, dw = GAN_WIDTHS[width]
        torch.manual_seed(0)
        g, d = sngan_models(torch, gw, dw, 1)
        g, d = g.to(dev).train(), d.to(dev).train()
        g_fwd, d_fwd = (torch.compile(g), torch.compile(d)) if a.compile else (g, d)
        opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.9))
        opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.9))
        # The real set lives on the device as tailgrad's GpuDataset does (u8, 28x28); batches,
        # labels and z are drawn there too (tailgrad uploads host-drawn indices and labels).
        real = torch.randint(0, 256, (GAN_REAL, 1, 28, 28), dtype=torch.uint8, device=dev)
        real_y = torch.arange(GAN_REAL, device=dev) % CLASSES
        losses = {}

        def real_batch():
            i = torch.randint(GAN_REAL, (b,), device=dev)
            x = real[i].float() / 127.5 - 1
            flip = torch.rand(b, 1, 1, 1, device=dev) < 0.5
            x = torch.where(flip, x.flip(3), x)
            return F.pad(x, (2, 2, 2, 2), value=-1.0), real_y[i]

        def fake_draw():
            return (torch.randn(b, GAN_Z, device=dev),
                    torch.randint(CLASSES, (b,), device=dev))

        def d_step():
            xr, yr = real_batch()
            z, yf = fake_draw()
            with torch.no_grad():
                xf = g_fwd(z, yf)
            # One D call on real and fake together: one power iteration per D step, as tailgrad.
            out = d_fwd(torch.cat([xr, xf]), torch.cat([yr, yf]))
            loss = F.relu(1 - out[:b]).mean() + F.relu(1 + out[b:]).mean()
            loss.backward()
            opt_d.step()
            opt_d.zero_grad()
            losses["d_loss"] = loss

        def g_step():
            z, yf = fake_draw()
            d.requires_grad_(False)  # frozen D: no weight gradients, only the input's
            loss = -d_fwd(g_fwd(z, yf), yf).mean()
            loss.backward()
            d.requires_grad_(True)
            opt_g.step()
            opt_g.zero_grad()
            losses["g_loss"] = loss

        def iteration():
            for _ in range(GAN_N_DIS):
                d_step()
            g_step()

        step = iteration if kernel == "gan_iteration" else g_step
        r = measure(step, lambda: sync(torch, dev), a.warmup)
        s = r["median_ms"] / 1e3
        gm, dm = sngan_macs(gw, dw, 1)
        gb, db = gm * b, dm * b
        # FLOPs and images as src/bench/gan.rs counts them.
        g_flops = 2 * (3 * gb + 2 * db)
        d_flops = 2 * (gb + 3 * 2 * db)
        flops, items = {"gan_iteration": (GAN_N_DIS * d_flops + g_flops, GAN_N_DIS * 2 * b + b),
                        "gan_g_step": (g_flops, b)}[kernel]
        yield dict(kernel=kernel, shape=f"{b}x1x32x32 G{gw} D{dw}", device=name,
                   backend=dev.type, variant="compile" if a.compile else "eager",
                   gflops=flops / s / 1e9, gbps=0.0, **r, images_per_sec=items / s,
                   gan=width, params=sum(p.numel() for p in (*g.parameters(), *d.parameters())),
                   **{k: v.item() for k, v in losses.items()}, torch=torch.__version__)


def gan_iteration(torch, a, dev, name):
    return gan_entries(torch, a, dev, name, "gan_iteration")


def gan_g_step(torch, a, dev, name):
    return gan_entries(torch, a, dev, name, "gan_g_step")


def sync(torch, dev):
    if dev.type == "cuda":
        torch.cuda.synchronize()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("entries", nargs="+",
                   choices=["params", "matmul", "resnet_step", "gan_iteration", "gan_g_step"])
    p.add_argument("--model", default="resnet", choices=["resnet", "sngan"],
                   help="what params lists")
    p.add_argument("--device", default="cuda", help="torch device (cpu for a smoke run)")
    p.add_argument("--depth", type=int, default=32, help="ResNet depth, 6n+2")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--compile", action="store_true", help="torch.compile the model")
    p.add_argument("--quick", action="store_true",
                   help="matmul at 256^3 only, the GAN at tailgrad bench --quick's size")
    p.add_argument("--gan", default="small,paper",
                   help="GAN widths, comma-separated: small (G 32 / D 32), paper (G 256 / D 128)")
    p.add_argument("--g-width", type=int, default=256, help="params --model sngan: G's width")
    p.add_argument("--d-width", type=int, default=128, help="params --model sngan: D's width")
    p.add_argument("--channels", type=int, default=3, help="params --model sngan: image channels")
    p.add_argument("--classes", type=int, default=CLASSES, help="params --model sngan")
    p.add_argument("--warmup", type=int, default=3, help="untimed calls after the first")
    p.add_argument("--json", metavar="FILE", help="also append the JSON lines to FILE")
    a = p.parse_args()
    if "params" in a.entries:
        if len(a.entries) > 1:
            p.error("params runs alone")
        if a.model == "sngan":
            g, d = sngan_spec(a.g_width, a.d_width, a.channels, a.classes)
            print(json.dumps({net: [dict(name=n, shape=s, trainable=t) for n, s, t in spec]
                              for net, spec in (("generator", g), ("discriminator", d))}))
        else:
            print(json.dumps([dict(name=n, shape=s) for n, s in resnet_spec(a.depth)]))
        return
    bad = [w for w in a.gan.split(",") if w not in ("small", "paper")]
    if bad:
        p.error(f"--gan: unknown widths {bad}; small, paper")
    import torch
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    dev = torch.device(a.device)
    name = (torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu") + " (torch)"
    out = open(a.json, "a") if a.json else None
    for entry in a.entries:
        entries = {"matmul": matmul, "resnet_step": resnet_step, "gan_iteration": gan_iteration,
                   "gan_g_step": gan_g_step}
        for rec in entries[entry](torch, a, dev, name):
            line = json.dumps(rec)
            print(line, flush=True)
            if out:
                out.write(line + "\n")
                out.flush()


if __name__ == "__main__":
    main()
