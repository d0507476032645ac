#!/usr/bin/env python3
"""diffusers twin of `scflow bench unet`: the same UNet configs, shapes and
threads, random weights, forward under no_grad; prints a JSON array of
{"ms"} fastest-run times. Run by scflow; needs torch and diffusers in the venv."""
import argparse
import json
import time

import torch
from diffusers import UNet2DConditionModel


def best_ms(fn, min_s, warmup=1, min_runs=3):
    for _ in range(warmup):
        fn()
    samples = []
    start = time.perf_counter()
    while len(samples) < 200 and (len(samples) < min_runs or time.perf_counter() - start < min_s):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1e3)
    # the fastest run, as scflow reports (app/bench-util.h says why)
    return min(samples)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spec", required=True)
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--min-seconds", type=float, default=0.5)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    with open(args.spec, encoding="utf-8") as f:
        cases = json.load(f)
    results = []
    for case in cases:
        config = json.loads(case["config"])
        unet = UNet2DConditionModel.from_config(config).eval()
        b, s = case["batch"], case["size"]
        x = torch.randn(b, config.get("in_channels", 4), s, s)
        t = torch.full((b,), 500.0)
        ctx = torch.randn(b, case["context"], case["width"])

        def fwd():
            with torch.no_grad():
                unet(x, t, encoder_hidden_states=ctx)

        results.append({"ms": best_ms(fwd, args.min_seconds)})
        del unet
    print(json.dumps(results))


if __name__ == "__main__":
    main()
