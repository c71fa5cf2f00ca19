#!/usr/bin/env python3
"""Convert pytorch-fid's FID Inception-v3 weights to the safetensors file tailgrad reads.

tailgrad's `eval::inception::InceptionV3::load` takes pytorch-fid's FID weights (the TF
Inception graph of 2015-12-05 that FID is defined with, `pt_inception-2015-12-05-6726825d.pth`)
as safetensors under pytorch-fid's own parameter names (`Conv2d_1a_3x3.conv.weight`,
`Mixed_5b.branch1x1.bn.running_mean`, ...). This script writes them.

Needs PyTorch, pytorch-fid and safetensors:

    pip install torch pytorch-fid safetensors
    python3 scripts/convert_inception.py inception-fid.safetensors
    python3 scripts/convert_inception.py inception-fid.safetensors --pth pt_inception-2015-12-05-6726825d.pth

Without --pth the weights are fetched from pytorch-fid's FID_WEIGHTS_URL (cached by torch.hub).
Every floating-point tensor is saved as contiguous float32 under its name (the unused `fc.*`
included); integer buffers (`num_batches_tracked`) are dropped: tailgrad reads f32 only. Then,
in Rust:

    let net = InceptionV3::load(&dev, Path::new("inception-fid.safetensors"))?;
    let feats = net.features(&images)?; // images [N, 3, H, W] in [-1, 1] -> [N, 2048]
"""
import argparse
import os

import torch
from safetensors.torch import save_file


def load_state(pth):
    if pth:
        return torch.load(pth, map_location="cpu", weights_only=True)
    from pytorch_fid.inception import FID_WEIGHTS_URL

    return torch.hub.load_state_dict_from_url(FID_WEIGHTS_URL, map_location="cpu", progress=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", help="the safetensors file to write")
    ap.add_argument("--pth", help="pt_inception-2015-12-05-6726825d.pth (default: download)")
    args = ap.parse_args()
    state = load_state(args.pth)
    tensors = {
        name: t.detach().to(torch.float32).contiguous()
        for name, t in state.items()
        if t.is_floating_point()
    }
    assert "Mixed_7c.branch_pool.bn.running_var" in tensors, "not pytorch-fid's FID Inception"
    source = os.path.basename(args.pth) if args.pth else "pytorch-fid FID_WEIGHTS_URL"
    save_file(tensors, args.out, metadata={"source": source})
    values = sum(t.numel() for t in tensors.values())
    print(f"{len(tensors)} tensors, {values} values -> {args.out}")


if __name__ == "__main__":
    main()
