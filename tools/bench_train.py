#!/usr/bin/env python3
"""PyTorch twin of `scflow bench train`: one teacher training step of
core/train.c for the same model config (diffusers' UNet2DConditionModel and
transformers' CLIPTextModel from its "unet" and "text_encoder" objects) at
the same batch size, random weights and random data of the same shapes:

  caption dropout to the empty prompt, logit-normal (or uniform) tau,
  x_tau = tau eps + (1 - tau) x0, text encoder forward, UNet forward at
  time_scale * tau, MSE against eps - x0, backward, gradient-norm clipping,
  AdamW with the lr warm-up, EMA with the (1 + n) / (10 + n) warm-up.

AdamW is PyTorch's fused CPU kernel, its fastest. Prints a JSON array of
{"ms", "median_ms", "runs"} per case. Run by scflow (with
OPENBLAS_NUM_THREADS=1 and torch.set_num_threads(--threads)); needs torch,
diffusers and transformers in the venv."""
import json

import torch
import torch.nn.functional as F
from diffusers import UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel

from bench_twin import run, timing

# the word tokenizer's specials (core/tokenizer.h)
PAD, BOS, EOS, FIRST_WORD = 0, 1, 2, 4


def measure(case, min_s):
    config = json.loads(case["config"])
    train = config["training"]
    assert config["flow"]["velocity_sign"] == 1, "the twin trains our convention only"
    B, T = case["batch"], config["context_length"]
    C, S = config["channels"], config["image_size"]
    unet = UNet2DConditionModel.from_config(config["unet"]).train()
    text = CLIPTextModel(CLIPTextConfig(**config["text_encoder"], pad_token_id=PAD,
                                        bos_token_id=BOS, eos_token_id=EOS,
                                        attn_implementation="sdpa")).train()
    params = list(unet.parameters()) + list(text.parameters())
    ema = [p.detach().clone() for p in params]
    lr = train.get("lr", 3e-4)
    warmup = train.get("warmup_steps", 500)
    opt = torch.optim.AdamW(params, lr=lr, betas=(train.get("beta1", 0.9), train.get("beta2", 0.999)),
                            eps=train.get("eps", 1e-8), weight_decay=train.get("weight_decay", 0.01),
                            fused=True)

    # a batch as the data loader and the tokenizer give it: images in [-1, 1],
    # captions of four words, and the empty prompt for dropped captions
    x0 = torch.rand(B, C, S, S) * 2 - 1
    ids = torch.full((B, T), PAD)
    ids[:, 0] = BOS
    ids[:, 1:5] = torch.randint(FIRST_WORD, config["text_encoder"]["vocab_size"], (B, 4))
    ids[:, 5] = EOS
    empty = torch.full((T,), PAD)
    empty[:2] = torch.tensor([BOS, EOS])
    logit_normal = train.get("tau_sampling", "uniform") == "logit_normal"
    state = {"step": 0}

    def step():
        n = state["step"]
        with torch.no_grad():
            drop = torch.rand(B) < train.get("caption_dropout", 0.1)
            captions = torch.where(drop[:, None], empty, ids)
            if logit_normal:
                tau = torch.sigmoid(train.get("logit_mean", 0.0)
                                    + train.get("logit_std", 1.0) * torch.randn(B))
            else:
                tau = torch.rand(B)
            eps = torch.randn_like(x0)
            t4 = tau[:, None, None, None]
            xt = t4 * eps + (1 - t4) * x0
            target = eps - x0
        ctx = text(input_ids=captions).last_hidden_state
        v = unet(xt, config["flow"]["time_scale"] * tau, encoder_hidden_states=ctx).sample
        loss = F.mse_loss(v, target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, train.get("grad_clip", 1.0))
        for group in opt.param_groups:
            group["lr"] = lr * (min(1.0, (n + 1) / warmup) if warmup > 0 else 1.0)
        opt.step()
        decay = min(train.get("ema_decay", 0.999), (1 + n) / (10 + n))
        with torch.no_grad():
            torch._foreach_lerp_(ema, [p.detach() for p in params], 1 - decay)
        state["step"] = n + 1

    return timing(step, min_s, warmup=case["warmup"], min_runs=case["min_runs"])


if __name__ == "__main__":
    run(measure)
