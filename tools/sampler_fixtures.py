#!/usr/bin/env python3
"""Writes the Euler sampler fixture of tests/test-sampler.c into
tests/fixtures/models/sampler-tiny/:

  config.json, model.safetensors, word_vocab.json
                       a tiny random-weight text-to-image model in our folder
                       format (core/model.h): "unet.<diffusers name>" and
                       "text_encoder.<transformers name without text_model.>"
  inputs.safetensors   per case the initial noise and the token ids of the
                       prompt and the negative (or empty) prompt, written by
                       `test-sampler --export` with the engine's own RNG and
                       tokenizer, and the case's settings as metadata
  expected.safetensors "<case>.out": the final images of a reference Euler
                       loop in PyTorch (diffusers' UNet2DConditionModel and
                       transformers' CLIPTextModel holding the same weights)

The loop follows SCFLOW.md: x = noise at tau = 1; for i = N..1,
tau = i/N, x <- x - (1/N) v; with guidance w, v = v(neg) + w (v(c) - v(neg)),
neg being the negative or the empty prompt; the network gets
time_scale * tau and returns velocity_sign * v (the model's flow convention).
It runs in float64 on the fp32 weights, so it carries no rounding of its own
(the sinusoidal time embedding stays fp32, as diffusers makes it): what the C
test measures is our fp32 error.

The cases (prompts, seeds, N, guidance, flow convention) live in
tests/test-sampler.c, which exports them; this script only follows them.

Run:  /work/main/.venv/bin/python tools/sampler_fixtures.py [--build BUILD_DIR]
(tools/make-fixtures does; BUILD_DIR must hold tests/test-sampler, default build/)
"""
import argparse
import json
import os
import shutil
import subprocess
import sys

import torch
from diffusers import UNet2DConditionModel
from safetensors import safe_open
from transformers import CLIPTextConfig, CLIPTextModel

from fixtures import write_safetensors
from model_fixtures import copy64, randomize

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "models", "sampler-tiny")

# The shape of the shipped emoji teacher (data/training/emoji-32-teacher.json)
# at its smallest: a plain level, then a cross-attention level and the mid block.
UNET = dict(
    sample_size=8, in_channels=3, out_channels=3, block_out_channels=[8, 12],
    layers_per_block=1, down_block_types=["DownBlock2D", "CrossAttnDownBlock2D"],
    up_block_types=["CrossAttnUpBlock2D", "UpBlock2D"],
    mid_block_type="UNetMidBlock2DCrossAttn", attention_head_dim=2,
    cross_attention_dim=16, norm_num_groups=4, norm_eps=1e-5,
    flip_sin_to_cos=True, freq_shift=0,
)
TEXT = dict(
    vocab_size=24, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
    num_attention_heads=2, max_position_embeddings=8, hidden_act="gelu", layer_norm_eps=1e-5,
)
CONTEXT_LENGTH = 8
# Words of the test's prompts; "thumbs up: medium skin tone" fills all 8
# positions with BOS and EOS.
WORDS = ["face", "thumbs", "up", ":", "medium", "skin", "tone", "red", "heart", "cat",
         "rocket", "grinning"]

CONFIG = {
    "format": "scflow-model", "format_version": 1, "name": "sampler-tiny", "kind": "teacher",
    "space": "pixel", "image_size": 8, "channels": 3, "context_length": CONTEXT_LENGTH,
    "flow": {"velocity_sign": 1, "time_scale": 1000},  # FIXTURE_SIGN, FIXTURE_TIME_SCALE
    "defaults": {"steps": 4, "guidance": 1.5},
    "unet": UNET,
    "text_encoder": TEXT,
}


def build_models(seed):
    gen = torch.Generator().manual_seed(seed)
    unet = UNet2DConditionModel(**UNET).eval()
    # eager attention runs its softmax in fp32 even for float64 (model_fixtures.py)
    text = CLIPTextModel(CLIPTextConfig(**TEXT, pad_token_id=0, bos_token_id=1, eos_token_id=2,
                                        attn_implementation="sdpa")).eval()
    randomize(unet, gen)
    randomize(text, gen)
    return unet, text


def write_model(folder, unet, text):
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    with open(os.path.join(folder, "config.json"), "w", encoding="utf-8") as f:
        json.dump(CONFIG, f, indent=2)
        f.write("\n")
    with open(os.path.join(folder, "word_vocab.json"), "w", encoding="utf-8") as f:
        # ids 0-3 are the word tokenizer's specials, as in the text config above
        json.dump({"version": 1, "lowercase": True,
                   "tokens": ["<pad>", "<bos>", "<eos>", "<unk>"] + WORDS}, f)
        f.write("\n")
    # named_parameters, not state_dict: buffers such as position_ids are no weights.
    # transformers before 5 names the text weights "text_model.<name>".
    weights = {"unet." + k: v for k, v in unet.named_parameters()}
    weights.update({"text_encoder." + k.removeprefix("text_model."): v
                    for k, v in text.named_parameters()})
    write_safetensors(os.path.join(folder, "model.safetensors"),
                      {k: v.detach().float().contiguous() for k, v in weights.items()},
                      {"format": "pt"})


def export_inputs(build, folder):
    exe = os.path.join(build, "tests", "test-sampler")
    if not os.access(exe, os.X_OK):
        sys.exit(f"sampler_fixtures: {exe} not found; build first (ninja -C {build})")
    path = os.path.join(folder, "inputs.safetensors")
    subprocess.run([exe, "--export", folder, path], check=True)
    return path


@torch.no_grad()
def reference(unet64, text64, inputs, meta, case):
    steps = int(meta[f"{case}.steps"])
    w = float(meta[f"{case}.guidance"])
    sign = float(meta[f"{case}.velocity_sign"])
    scale = torch.tensor(float(meta[f"{case}.time_scale"]), dtype=torch.float32)
    noise = inputs.get_tensor(f"{case}.noise")
    ids = inputs.get_tensor(f"{case}.ids").long()
    B = noise.shape[0]
    ctx = text64(input_ids=ids).last_hidden_state
    cond, neg = (ctx[i:i + 1].expand(B, -1, -1) for i in (0, 1))
    x = noise.double()
    for i in range(steps, 0, -1):
        # the engine's tau and network time, both fp32
        tau = torch.tensor(i, dtype=torch.float32) / torch.tensor(steps, dtype=torch.float32)
        t = (scale * tau).expand(B)

        def velocity(c):
            return sign * unet64(x, t, encoder_hidden_states=c).sample

        v = velocity(cond) if w == 1 else velocity(neg) + w * (velocity(cond) - velocity(neg))
        x = x - v / steps
    return x.float()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    args = ap.parse_args()
    torch.use_deterministic_algorithms(True)
    unet, text = build_models(3000)
    write_model(OUT, unet, text)
    inputs_path = export_inputs(os.path.abspath(args.build), OUT)
    unet64, text64 = copy64(unet), copy64(text)
    expected = {}
    with safe_open(inputs_path, framework="pt") as inputs:
        meta = inputs.metadata()
        for case in meta["cases"].split(","):
            out = reference(unet64, text64, inputs, meta, case)
            inside = ((out > -1) & (out < 1)).float().mean().item()
            print(f"{case:12s} N={meta[case + '.steps']} w={meta[case + '.guidance']:4s} "
                  f"std {out.std().item():.3f}, {100 * inside:.0f}% inside (-1, 1)")
            expected[f"{case}.out"] = out
    write_safetensors(os.path.join(OUT, "expected.safetensors"), expected, {"cases": meta["cases"]})
    total = 0
    for name in sorted(os.listdir(OUT)):
        size = os.path.getsize(os.path.join(OUT, name))
        total += size
        print(f"{name:24s} {size:9d}")
    print(f"total {total} bytes")


if __name__ == "__main__":
    main()
