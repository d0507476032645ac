#!/usr/bin/env python3
"""Writes the diffusers pipeline fixture of tests/test-pipeline.c:
tests/fixtures/models/pipeline-tiny/, a random-weight text-to-image pipeline
saved the way real ones are, plus reference results.

The pipeline (StableDiffusionPipeline.save_pretrained, no safety checker):
  model_index.json, scheduler/ (unused here),
  unet/          a tiny UNet2DConditionModel on 4 latent channels, 8x8 latents,
  text_encoder/  a tiny CLIPTextModel saved as the fp16 variant only
                 (model.fp16.safetensors), so loading falls back to it,
  tokenizer/     CLIP BPE as SD1.5 ships it: vocab.json, merges.txt (the first
                 64 merges of OpenAI's CLIP BPE), special_tokens_map.json,
                 tokenizer_config.json with model_max_length 16 (the text
                 encoder has 20 positions, so the tokenizer's length rules),
  vae/           a tiny AutoencoderKL, three levels (latents x4 -> 32x32
                 images), scaling_factor 0.35 (not the default, so ignoring
                 it shows).
inputs.safetensors:
  z                 latents [2, 4, 6, 8] for the VAE decoder alone,
  ids.prompt, ids.negative   transformers' CLIPTokenizer ids of the prompts,
  noise.1, noise.2  the initial noise of the two generations.
expected.safetensors:
  vae               AutoencoderKL.decode(z),
  text.prompt       the text encoder's last hidden state for ids.prompt,
  image.1           1 step, guidance 1.5, empty negative prompt, batch 1,
  image.2           2 steps, guidance 2.5, negative "blurry photo", batch 2,
the generations run the Euler loop of InstaFlow's and SCFlow's
pipeline_rf.py (t = 1000 (1 - i/N), latents += dt * (u_neg + w (u_text -
u_neg)), then vae.decode(latents / scaling_factor)). References run in
float64 on the saved weights (the sinusoidal time embedding stays fp32, as
diffusers forms it), so what the C side differs by is its own fp32 error.

Run:  /work/main/.venv/bin/python tools/pipeline_fixtures.py
"""
import copy
import gzip
import json
import os
import shutil
import tempfile

import torch
from diffusers import AutoencoderKL, PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel
from open_clip.tokenizer import bytes_to_unicode, default_bpe
from safetensors.torch import save_file
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

from model_fixtures import randomize

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "models",
                   "pipeline-tiny")
MERGES = 64
CONTEXT = 16
PROMPT = "a photo of a cat"
CASES = {  # name: steps, guidance, negative prompt, batch
    "1": (1, 1.5, "", 1),
    "2": (2, 2.5, "blurry photo", 2),
}


def write_bpe(folder):
    """vocab.json and merges.txt as OpenAI's SimpleTokenizer builds them
    (see tools/tokenizer_fixtures.py), cut to the first MERGES merges."""
    merges = gzip.open(default_bpe()).read().decode("utf-8").split("\n")[1:1 + MERGES]
    merges = [tuple(m.split()) for m in merges]
    vocab = list(bytes_to_unicode().values())
    vocab = vocab + [v + "</w>" for v in vocab]
    vocab += ["".join(m) for m in merges] + ["<|startoftext|>", "<|endoftext|>"]
    with open(os.path.join(folder, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump({t: i for i, t in enumerate(vocab)}, f, ensure_ascii=False)
    with open(os.path.join(folder, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "".join(a + " " + b + "\n" for a, b in merges))
    return len(vocab)


def make_tokenizer(tmp):
    n = write_bpe(tmp)
    return CLIPTokenizer(os.path.join(tmp, "vocab.json"), os.path.join(tmp, "merges.txt"),
                         model_max_length=CONTEXT), n


def sd15_tokenizer_files(folder, tmp):
    """transformers 5 saves tokenizer.json alone; SD1.5-era folders, which
    the C loader reads, hold vocab.json + merges.txt + special_tokens_map.json."""
    os.remove(os.path.join(folder, "tokenizer.json"))
    for name in ("vocab.json", "merges.txt"):
        shutil.copy(os.path.join(tmp, name), folder)
    special = {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>",
               "pad_token": "<|endoftext|>", "unk_token": "<|endoftext|>"}
    with open(os.path.join(folder, "special_tokens_map.json"), "w") as f:
        json.dump(special, f, indent=2)


def fp16_round(model):
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.half().float())


def save_text_encoder_fp16(model, folder):
    """Only diffusers' fp16 variant, model.fp16.safetensors."""
    os.remove(os.path.join(folder, "model.safetensors"))
    with tempfile.TemporaryDirectory() as tmp:
        copy.deepcopy(model).half().save_pretrained(tmp, variant="fp16", safe_serialization=True)
        shutil.copy(os.path.join(tmp, "model.fp16.safetensors"), folder)


def build(gen):
    unet = UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, block_out_channels=(8, 16),
        layers_per_block=1, down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=16,
        attention_head_dim=2, norm_num_groups=4).eval()
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(8, 12, 16),
        down_block_types=("DownEncoderBlock2D",) * 3, up_block_types=("UpDecoderBlock2D",) * 3,
        layers_per_block=1, norm_num_groups=4, sample_size=32, scaling_factor=0.35).eval()
    for model in (unet, vae):
        randomize(model, gen)
    return unet, vae


def build_text_encoder(gen, vocab_size):
    config = CLIPTextConfig(
        vocab_size=vocab_size, hidden_size=16, intermediate_size=24, num_hidden_layers=2,
        num_attention_heads=2, max_position_embeddings=CONTEXT + 4, hidden_act="quick_gelu",
        attn_implementation="sdpa")  # eager runs its softmax in fp32 even for float64
    text = CLIPTextModel(config).eval()
    randomize(text, gen)
    fp16_round(text)
    return text


def ids(tokenizer, text):
    return tokenizer(text, padding="max_length", max_length=CONTEXT, truncation=True,
                     return_tensors="pt").input_ids


@torch.no_grad()
def generate(unet, text, vae, tokenizer, noise, steps, guidance, negative):
    """InstaFlow's RectifiedFlowPipeline loop, in float64."""
    B = noise.shape[0]
    embed = lambda s: text(ids(tokenizer, s)).last_hidden_state.repeat(B, 1, 1)
    context = torch.cat([embed(negative), embed(PROMPT)])
    latents = noise.double()
    dt = 1.0 / steps
    for i in range(steps):
        t = torch.full((2 * B,), (1.0 - i / steps) * 1000.0, dtype=torch.float32)
        u = unet(torch.cat([latents] * 2), t, encoder_hidden_states=context).sample
        u_neg, u_text = u.chunk(2)
        latents = latents + dt * (u_neg + guidance * (u_text - u_neg))
    return vae.decode(latents / vae.config.scaling_factor).sample


def main():
    torch.use_deterministic_algorithms(True)
    gen = torch.Generator().manual_seed(3000)
    shutil.rmtree(OUT, ignore_errors=True)
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer, vocab_size = make_tokenizer(tmp)
        unet, vae = build(gen)
        text = build_text_encoder(gen, vocab_size)
        pipe = StableDiffusionPipeline(
            vae=vae, text_encoder=text, tokenizer=tokenizer, unet=unet,
            scheduler=PNDMScheduler(), safety_checker=None, feature_extractor=None,
            requires_safety_checker=False)
        pipe.save_pretrained(OUT, safe_serialization=True)
        sd15_tokenizer_files(os.path.join(OUT, "tokenizer"), tmp)
        save_text_encoder_fp16(text, os.path.join(OUT, "text_encoder"))

    # The folder as saved is what the references use.
    tokenizer = CLIPTokenizer.from_pretrained(os.path.join(OUT, "tokenizer"))
    unet = UNet2DConditionModel.from_pretrained(OUT, subfolder="unet").double().eval()
    vae = AutoencoderKL.from_pretrained(OUT, subfolder="vae").double().eval()
    text = CLIPTextModel.from_pretrained(OUT, subfolder="text_encoder", variant="fp16",
                                         torch_dtype=torch.float32,
                                         attn_implementation="sdpa").double().eval()
    assert tokenizer.model_max_length == CONTEXT

    inputs = {
        "z": torch.randn(2, 4, 6, 8, generator=gen),
        "ids.prompt": ids(tokenizer, PROMPT)[0].to(torch.int32),
        "ids.negative": ids(tokenizer, CASES["2"][2])[0].to(torch.int32),
    }
    with torch.no_grad():
        expected = {
            "vae": vae.decode(inputs["z"].double()).sample.float(),
            "text.prompt": text(inputs["ids.prompt"][None].long()).last_hidden_state[0].float(),
        }
    for name, (steps, guidance, negative, batch) in CASES.items():
        noise = torch.randn(batch, 4, 8, 8, generator=gen)
        inputs["noise." + name] = noise
        expected["image." + name] = generate(unet, text, vae, tokenizer, noise, steps, guidance,
                                             negative).float()
    for name, tensors in (("inputs", inputs), ("expected", expected)):
        save_file({k: v.contiguous() for k, v in tensors.items()},
                  os.path.join(OUT, name + ".safetensors"))

    total = 0
    for root, _, files in sorted(os.walk(OUT)):
        for f in sorted(files):
            path = os.path.join(root, f)
            total += os.path.getsize(path)
            print(f"{os.path.relpath(path, OUT):50s} {os.path.getsize(path):9d}")
    print(f"total {total} bytes")


if __name__ == "__main__":
    main()
