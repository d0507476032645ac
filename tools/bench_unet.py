#!/usr/bin/env python3
"""diffusers twin of `scflow bench unet`: the same UNet configs, shapes and
threads, random weights, forward under no_grad; prints a JSON array of
{"ms"} fastest-run times. Run by scflow; needs torch and diffusers in the venv."""
import json

import torch
from diffusers import UNet2DConditionModel

from bench_twin import best_ms, run


def measure(case, min_s):
    config = json.loads(case["config"])
    unet = UNet2DConditionModel.from_config(config).eval()
    b, s = case["batch"], case["size"]
    x = torch.randn(b, config.get("in_channels", 4), s, s)
    t = torch.full((b,), 500.0)
    ctx = torch.randn(b, case["context"], case["width"])

    def fwd():
        with torch.no_grad():
            unet(x, t, encoder_hidden_states=ctx)

    return {"ms": best_ms(fwd, min_s, warmup=1, min_runs=3)}


if __name__ == "__main__":
    run(measure)
