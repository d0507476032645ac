#!/usr/bin/env python3
"""Writes the model parity fixtures of tests/test-unet.c and tests/test-clip-text.c
into tests/fixtures/models/.

Each fixture folder holds a random-weight model saved in the real format
(diffusers' save_pretrained: config.json + diffusion_pytorch_model.safetensors;
transformers' save_pretrained: config.json + model.safetensors), fixed inputs
(inputs.safetensors) and the reference results (expected.safetensors):
  out                the model output for the inputs,
  encode             (UNets) the mid block's output, the encoder half,
  grad.x, grad.context   d(loss)/d(input), loss = sum(out * r) with r fixed,
  grad.param.<name>  d(loss)/d(parameter) for every parameter (names as in the
                     weights file).
References run in float64 on weights that are exactly the saved fp32 values,
so they carry no rounding of their own: what the C side differs by is its own
fp32 error. Only the sinusoidal time embedding stays fp32, as diffusers forms
it in fp32 whatever the model's dtype.

unet-tiny also has diffusion_pytorch_model.fp16.safetensors (save_pretrained
with variant="fp16") and "out.fp16", the output of the fp16-rounded weights.

Every parameter is redrawn (norm gains around 1, biases around 0, weights
~ N(0, 1/fan_in)) so that none is left at a zero or one that would hide a
swapped or missing term.

Run:  /work/main/.venv/bin/python tools/model_fixtures.py
"""
import copy
import os
import shutil
import tempfile

import torch
from diffusers import UNet2DConditionModel
from safetensors.torch import save_file
from transformers import CLIPTextConfig, CLIPTextModel

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "models")

UNETS = {
    # The shape of a small SD-style model: one cross-attention level.
    "unet-tiny": dict(
        config=dict(
            sample_size=8, in_channels=3, out_channels=3, block_out_channels=(8, 16),
            layers_per_block=1, down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=8,
            attention_head_dim=2, norm_num_groups=4,
        ),
        batch=2, height=8, width=8, tokens=5,
    ),
    # Every block type including the mid block, a list attention_head_dim
    # (head size 5 where there is attention), per-block layers_per_block and
    # transformer_layers_per_block (2 at the deepest level and in the mid
    # block), linear projections, 5 -> 3 channels, a non-square input, the
    # other time-embedding convention (sin first, freq_shift 1), a context
    # length of 7, and norm_eps 1e-3: large enough that using another eps
    # shows at 1e-4 (1e-5 vs 1e-6 would not, on unit-variance activations).
    "unet-full": dict(
        config=dict(
            sample_size=8, in_channels=5, out_channels=3, block_out_channels=(10, 15, 20),
            layers_per_block=[1, 2, 1],
            down_block_types=("CrossAttnDownBlock2D", "DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D", "CrossAttnUpBlock2D"),
            mid_block_type="UNetMidBlock2DCrossAttn", cross_attention_dim=12,
            attention_head_dim=[2, 5, 4], transformer_layers_per_block=[1, 1, 2],
            use_linear_projection=True, norm_num_groups=5, norm_eps=1e-3,
            flip_sin_to_cos=False, freq_shift=1,
        ),
        batch=2, height=8, width=12, tokens=7,
    ),
}

# hidden_act and layer_norm_eps (1e-3 makes an ignored eps show, as above)
CLIPS = {
    "clip-quick-gelu": ("quick_gelu", 1e-5),
    "clip-gelu": ("gelu", 1e-3),
}


def randomize(model, gen):
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen, dtype=p.dtype)
            if name.endswith(".bias"):
                p.copy_(0.1 * noise)
            elif p.ndim == 1:  # group / layer norm gains
                p.copy_(1.0 + 0.1 * noise)
            elif "embedding" in name:
                p.copy_(0.5 * noise)
            else:
                fan_in = p[0].numel()
                p.copy_(noise / fan_in ** 0.5)


def reference(model, inputs, grad_inputs, forward):
    """float64 forward and backward of sum(out * r); returns the expected tensors."""
    model64 = copy64(model)
    args = as64(inputs)
    for k in grad_inputs:
        args[k].requires_grad_(True)
    out = forward(model64, args)
    loss = (out * args["r"]).sum()
    loss.backward()
    expected = {"out": out.detach().float()}
    for k in grad_inputs:
        expected["grad." + k] = args[k].grad.float()
    for name, p in model64.named_parameters():
        expected["grad.param." + name] = p.grad.float()
    return expected


def copy64(model):
    m = copy.deepcopy(model).double()
    m.zero_grad(set_to_none=True)
    return m


def as64(inputs):
    """Floating inputs in float64, except the time, which diffusers embeds in fp32."""
    return {k: (v.double() if v.is_floating_point() and k != "t" else v) for k, v in inputs.items()}


def unet_forward(model, a):
    return model(a["x"], a["t"], encoder_hidden_states=a["context"]).sample


def unet_encode(model, inputs):
    """The mid block's output: the encoder half that SCFlow's discriminator uses."""
    captured = []
    hook = model.mid_block.register_forward_hook(lambda module, args, out: captured.append(out))
    with torch.no_grad():
        unet_forward(model, as64(inputs))
    hook.remove()
    return captured[0]


def write(folder, inputs, expected):
    for name, tensors in (("inputs", inputs), ("expected", expected)):
        save_file({k: v.contiguous() for k, v in tensors.items()},
                  os.path.join(folder, name + ".safetensors"))


def make_unet(name, spec, seed):
    gen = torch.Generator().manual_seed(seed)
    model = UNet2DConditionModel(**spec["config"]).eval()
    randomize(model, gen)
    folder = os.path.join(OUT, name)
    shutil.rmtree(folder, ignore_errors=True)
    model.save_pretrained(folder, safe_serialization=True)

    B, H, W, T = spec["batch"], spec["height"], spec["width"], spec["tokens"]
    cfg = model.config
    inputs = {
        "x": torch.randn(B, cfg.in_channels, H, W, generator=gen),
        # one early and one late time on the network's 0..1000 scale
        "t": torch.tensor([17.25, 803.5][:B], dtype=torch.float32),
        "context": torch.randn(B, T, cfg.cross_attention_dim, generator=gen),
        "r": torch.randn(B, cfg.out_channels, H, W, generator=gen),
    }
    expected = reference(model, inputs, ("x", "context"), unet_forward)
    expected["encode"] = unet_encode(copy64(model), inputs).float()

    if name == "unet-tiny":
        half = copy64(model).half()
        with tempfile.TemporaryDirectory() as tmp:
            half.save_pretrained(tmp, variant="fp16", safe_serialization=True)
            shutil.copy(os.path.join(tmp, "diffusion_pytorch_model.fp16.safetensors"), folder)
        rounded = half.double()
        with torch.no_grad():
            expected["out.fp16"] = unet_forward(rounded, as64(inputs)).float()
    write(folder, inputs, expected)
    return model


def clip_forward(model, a):
    return model(input_ids=a["ids"]).last_hidden_state


def make_clip(name, act, eps, seed):
    gen = torch.Generator().manual_seed(seed)
    config = CLIPTextConfig(
        vocab_size=1000, hidden_size=32, intermediate_size=37, num_hidden_layers=2,
        num_attention_heads=4, max_position_embeddings=16, hidden_act=act, layer_norm_eps=eps,
        attn_implementation="sdpa",  # eager runs its softmax in fp32 even for float64
    )
    model = CLIPTextModel(config).eval()
    randomize(model, gen)
    folder = os.path.join(OUT, name)
    shutil.rmtree(folder, ignore_errors=True)
    model.save_pretrained(folder, safe_serialization=True)

    B, T = 2, 11
    ids = torch.randint(0, config.vocab_size, (B, T), generator=gen)
    ids[0, 3] = ids[1, 5]  # a repeated token, so embedding gradients accumulate
    inputs = {
        "ids": ids.to(torch.int32),
        "r": torch.randn(B, T, config.hidden_size, generator=gen),
    }
    args = dict(inputs, ids=ids)
    expected = reference(model, args, (), clip_forward)
    write(folder, inputs, expected)
    return model


def main():
    torch.use_deterministic_algorithms(True)
    for i, (name, spec) in enumerate(UNETS.items()):
        make_unet(name, spec, 1000 + i)
    for i, (name, (act, eps)) in enumerate(CLIPS.items()):
        make_clip(name, act, eps, 2000 + i)
    total = 0
    for root, _, files in os.walk(OUT):
        for f in sorted(files):
            size = os.path.getsize(os.path.join(root, f))
            total += size
            print(f"{os.path.relpath(os.path.join(root, f), OUT):60s} {size:9d}")
    print(f"total {total} bytes")


if __name__ == "__main__":
    main()
