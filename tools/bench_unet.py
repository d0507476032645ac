#!/usr/bin/env python3
"""diffusers twin of `scflow bench unet`: the same UNet configs, shapes and
threads, random weights, forward under no_grad on the case's device ("cpu",
"cuda:N") in the case's precision; prints a JSON array of {"ms"} fastest-run
times. Run by scflow; needs torch and diffusers in the venv.

Precisions: fp32 disables TF32 for matmuls and cuDNN convolutions (PyTorch
allows it for convolutions by default), tf32 enables both, bf16 and fp16
convert the whole model and its inputs (.to(dtype)): PyTorch's fastest eager
inference, a stronger baseline than autocast, which recasts fp32 weights at
every op as scflow's products do for activations."""
import json

import torch
from diffusers import UNet2DConditionModel

from bench_twin import best_ms, run

DTYPES = {"fp32": torch.float32, "tf32": torch.float32, "bf16": torch.bfloat16,
          "fp16": torch.float16}


def measure(case, min_s):
    config = json.loads(case["config"])
    device = torch.device(case.get("device", "cpu"))
    precision = case.get("precision", "fp32")
    dtype = DTYPES[precision]
    tf32 = precision == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    unet = UNet2DConditionModel.from_config(config).eval().to(device=device, dtype=dtype)
    b, s = case["batch"], case["size"]
    x = torch.randn(b, config.get("in_channels", 4), s, s, device=device, dtype=dtype)
    t = torch.full((b,), 500.0, device=device)
    ctx = torch.randn(b, case["context"], case["width"], device=device, dtype=dtype)

    def fwd():
        with torch.no_grad():
            unet(x, t, encoder_hidden_states=ctx)
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    ms = best_ms(fwd, min_s, warmup=1, min_runs=3)
    del unet
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return {"ms": ms}


if __name__ == "__main__":
    run(measure)
