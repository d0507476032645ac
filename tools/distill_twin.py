#!/usr/bin/env python3
"""PyTorch twin of one SCFlow distillation iteration: the math of
core/distill.c (SCFLOW.md §3) with diffusers' UNet2DConditionModel for the
teacher, the student and its target EMA, transformers' CLIPTextModel for the
teacher's (frozen) text encoder, and the discriminator built from the
teacher's encoder half (conv_in, time embedding, down blocks, mid block) with
the conv -> GroupNorm -> SiLU -> linear head of core/discriminator.c.

Everything random is given, never drawn here: the data batch and captions,
the uniforms behind tau and the teacher's steps down and up, the flow's noise
and the discriminator's noise (scf_distill_draws in core/distill.h; there is
no caption dropout in distillation). So the C side and this twin run the same
iteration on the same numbers.

Two uses:
  fixture   writes tests/fixtures/models/distill-tiny/ for
            tests/test-distill-twin.c: a tiny teacher (random weights, the
            scflow-model format), a distillation state with student, target
            EMA and discriminator all different (as after some training),
            draws that truncate some samples and not others, and in float64
            every loss term and the student's and discriminator's gradients
            at step 499 (GAN and bidirectional loss still warming up) and
            500 (all on), with the shipped defaults of core/distill.c; and
            at 500 with the unconditional ResNet discriminator and R1
            (distill-resnet.json; R1 by PyTorch's double backward).
            Run: /work/main/.venv/bin/python tools/distill_twin.py fixture
  bench     run by `scflow bench distill` (tools/bench_twin.py's command
            line): the fastest float32 iteration on random weights of each
            case's teacher config.json, with the distillation config (batch
            and warm-ups included) of the case's run.json.
"""
import copy
import json
import os
import shutil
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from diffusers import UNet2DConditionModel
from safetensors.torch import save_file
from transformers import CLIPTextConfig, CLIPTextModel

# core/distill.c's scf_distill_config_defaults
DEFAULTS = dict(
    lr=1e-5, d_lr=1e-4, weight_decay=0.01, beta1=0.9, beta2=0.999, eps=1e-8, grad_clip=1.0,
    delta_max=0.1, teacher_guidance=1.5, target_ema=0.9, eval_ema=0.999, tau_trunc=0.1,
    huber_c=0.01, w_reflow=0.1, w_adv=0.1, w_inv=0.1, warmup_reflow=0, warmup_adv=500,
    warmup_inv=500, truncation=True, bidirectional=True, reflow=True, gan=True,
    discriminator="encoder", resnet_width=32, r1_gamma=0.0, r1_every=16,
)


class Encoder(nn.Module):
    """A UNet's encoder half, run as UNet2DConditionModel.forward runs it up
    to the mid block's output; parameter names as the UNet's."""

    def __init__(self, unet):
        super().__init__()
        for name in ("conv_in", "time_proj", "time_embedding", "down_blocks", "mid_block"):
            setattr(self, name, copy.deepcopy(getattr(unet, name)))

    def forward(self, x, t, ctx):
        # diffusers forms the sinusoidal embedding in fp32 whatever the model's dtype
        emb = self.time_embedding(self.time_proj(t.expand(x.shape[0])).to(x.dtype))
        h = self.conv_in(x)
        for block in self.down_blocks:
            if getattr(block, "has_cross_attention", False):
                h, _ = block(hidden_states=h, temb=emb, encoder_hidden_states=ctx)
            else:
                h, _ = block(hidden_states=h, temb=emb)
        return self.mid_block(h, emb, encoder_hidden_states=ctx)


class Discriminator(nn.Module):
    """core/discriminator.c: encoder (from the teacher) -> conv 3x3 ->
    GroupNorm -> SiLU -> linear over all the mid-block features -> a raw logit."""

    def __init__(self, unet, image_size, time_scale):
        super().__init__()
        cfg = unet.config
        c = cfg.block_out_channels[-1]
        side = image_size >> (len(cfg.block_out_channels) - 1)
        self.time_scale = time_scale
        self.encoder = Encoder(unet)
        self.head = nn.ModuleDict(dict(
            conv=nn.Conv2d(c, c, 3, padding=1),
            norm=nn.GroupNorm(cfg.norm_num_groups, c, eps=1e-5),
            out=nn.Linear(c * side * side, 1),
        ))

    def forward(self, x, s, ctx):
        h = self.encoder(x, s * self.time_scale, ctx)
        h = F.silu(self.head["norm"](self.head["conv"](h)))
        return self.head["out"](h.flatten(1))


class ResNetDiscriminator(nn.Module):
    """core/discriminator_resnet.c: StyleGAN2's residual D with SiLU, strided
    convolutions and no minibatch-stddev layer; blind to time and text."""

    def __init__(self, channels, image_size, width):
        super().__init__()
        ch, side = width, image_size
        self.from_image = nn.Conv2d(channels, ch, 1)
        blocks = []
        while side > 4 and side % 2 == 0 and len(blocks) < 8:
            out = min(2 * ch, 8 * width)
            blocks.append(nn.ModuleDict(dict(
                conv1=nn.Conv2d(ch, ch, 3, padding=1),
                conv2=nn.Conv2d(ch, out, 3, stride=2, padding=1),
                skip=nn.Conv2d(ch, out, 1, stride=2, bias=False))))
            ch, side = out, side // 2
        self.blocks = nn.ModuleList(blocks)
        self.last = nn.Conv2d(ch, ch, 3, padding=1)
        self.fc = nn.Linear(ch * side * side, ch)
        self.logit = nn.Linear(ch, 1)

    def forward(self, x, s, ctx):
        h = F.silu(self.from_image(x))
        for b in self.blocks:
            m = F.silu(b["conv2"](F.silu(b["conv1"](h))))
            h = (m + b["skip"](h)) * 0.5 ** 0.5
        h = F.silu(self.last(h))
        return self.logit(F.silu(self.fc(h.flatten(1))))


def r1_penalty(disc, x, s, ctx):
    """1/2 mean_b |grad_x D(x)_b|^2 by PyTorch's exact double backward."""
    x = x.detach().requires_grad_(True)
    g, = torch.autograd.grad(disc(x, s, ctx).sum(), x, create_graph=True)
    return 0.5 * g.pow(2).flatten(1).sum(1).mean()


class State:
    """Everything an iteration reads and updates (the checkpoint's buffers)."""

    def __init__(self, teacher, text, student, target, evaluation, disc, time_scale):
        self.teacher, self.text, self.time_scale = teacher, text, time_scale
        self.student, self.target, self.eval, self.disc = student, target, evaluation, disc
        for m in (teacher, text, target, evaluation):
            m.requires_grad_(False)
        self.adam = {p: zeros2(p) for p in student.parameters()}
        self.d_adam = {p: zeros2(p) for p in disc.parameters()}


def zeros2(p):
    return [torch.zeros_like(p), torch.zeros_like(p)]


def velocity(unet, x, tau, ctx, time_scale):
    """v(x, tau, c): the network gets time_scale * tau, formed in fp32 like scf_scale."""
    return unet(x, tau.float() * time_scale, encoder_hidden_states=ctx).sample


def readout(unet, x, tau, ctx, time_scale):
    """f(x, tau) = x - tau v(x, tau, c)."""
    return x - per_sample(tau, x) * velocity(unet, x, tau, ctx, time_scale)


def per_sample(s, x):
    return s.to(x.dtype).view(-1, *([1] * (x.dim() - 1)))


def times(draws, cfg):
    """set_times() of core/distill.c: per-sample times and steps, formed in
    double and stored as float like the C side's, and the truncation mask."""
    t = draws["u_tau"].double()
    down = draws["u_down"].double() * torch.clamp(t, max=cfg["delta_max"])
    up = draws["u_up"].double() * torch.clamp(1.0 - t, max=cfg["delta_max"])
    tdn = (t - down).float()
    out = dict(tau=t.float(), omt=(1.0 - t).float(), tdn=tdn, tup=(t + up).float(),
               dn=(-down).float(), up=up.float(), oms=1.0 - tdn)
    out["truncate"] = tdn.double() < cfg["tau_trunc"] if cfg["truncation"] \
        else torch.zeros(tdn.shape, dtype=torch.bool)
    return out


def pseudo_huber(a, b, c):
    return (torch.sqrt((a - b) ** 2 + c * c) - c).mean()


def gan_logistic(x, sign):
    return F.softplus(sign * x).mean()


def clip_(grads, max_norm):
    """scf_clip_grad_norm: returns the norm before clipping."""
    norm = torch.sqrt(sum((g.double() ** 2).sum() for g in grads)).item()
    if max_norm > 0 and norm > max_norm:
        for g in grads:
            g.mul_(max_norm / (norm + 1e-6))
    return norm


def adamw_(params, grads, moments, lr, cfg, t):
    """The backend's adamw_update (decoupled decay, bias correction, step t)."""
    b1, b2 = cfg["beta1"], cfg["beta2"]
    step_size = lr / (1.0 - b1 ** t)
    bc2 = (1.0 - b2 ** t) ** 0.5
    with torch.no_grad():
        for p, g in zip(params, grads):
            m, v = moments[p]
            m.mul_(b1).add_(g, alpha=1.0 - b1)
            v.mul_(b2).addcmul_(g, g, value=1.0 - b2)
            p.mul_(1.0 - lr * cfg["weight_decay"]).sub_(step_size * m / (v.sqrt() / bc2 + cfg["eps"]))


def ema_(ema, model, decay):
    with torch.no_grad():
        for e, p in zip(ema.parameters(), model.parameters()):
            e.sub_((1.0 - decay) * (e - p))


def iteration(st, draws, cfg, step):
    """One SCFlow iteration at step (warm-ups and AdamW's t depend on it).
    Returns the loss terms and the gradients the optimisers took (after
    clipping), in the order of the student's and the discriminator's
    named_parameters; updates st."""
    dtype = draws["x0"].dtype
    ts = times(draws, cfg)
    tau, omt = ts["tau"], ts["omt"]
    x0, eps, noise = draws["x0"], draws["eps"], draws["noise"]
    ps = lambda s, x: per_sample(s, x)
    scale = st.time_scale
    out = {}
    # terms off or still warming up cost nothing, as in core/distill.c
    inv_on = cfg["bidirectional"] and step >= cfg["warmup_inv"] and cfg["w_inv"] > 0
    reflow_on = cfg["reflow"] and step >= cfg["warmup_reflow"] and cfg["w_reflow"] > 0
    adv_on = cfg["gan"] and step >= cfg["warmup_adv"] and cfg["w_adv"] > 0

    with torch.no_grad():
        ctx = st.text(input_ids=draws["ids"]).last_hidden_state
        xt = ps(tau, eps) * eps + ps(omt, x0) * x0
        # 2-3. the teacher's guided velocity and its Euler steps down and up
        v_t = velocity(st.teacher, xt, tau, ctx, scale)
        w = cfg["teacher_guidance"]
        if w != 1.0:
            ctx0 = st.text(input_ids=draws["ids_empty"]).last_hidden_state
            v_t = (1.0 - w) * velocity(st.teacher, xt, tau, ctx0, scale) + w * v_t
        x_dn = xt + ps(ts["dn"], v_t) * v_t
        # 4. targets from the target EMA; truncation near the data
        y_dn = readout(st.target, x_dn, ts["tdn"], ctx, scale)
        if inv_on:
            x_up = xt + ps(ts["up"], v_t) * v_t
            y_up = readout(st.target, x_up, ts["tup"], ctx, scale)
        y_dn[ts["truncate"]] = x0[ts["truncate"]]

    # 5-6. consistency and bidirectional losses
    f_cur = readout(st.student, xt, tau, ctx, scale)
    l_con = pseudo_huber(f_cur, y_dn, cfg["huber_c"])
    loss = l_con
    out["con"] = l_con
    if inv_on:
        out["inv"] = pseudo_huber(f_cur, y_up, cfg["huber_c"])
        loss = loss + cfg["w_inv"] * out["inv"]

    # 7. self-correction on the student's own one-step sample; only the
    # generator loss differentiates through it, reflow takes a copy
    if reflow_on or adv_on:
        with torch.set_grad_enabled(adv_on):
            x_hat = readout(st.student, eps, torch.ones_like(tau), ctx, scale)
    if reflow_on:
        x_hat_sg = x_hat.detach()
        x_tilde = ps(tau, eps) * eps + ps(omt, x_hat_sg) * x_hat_sg
        out["reflow"] = F.mse_loss(readout(st.student, x_tilde, tau, ctx, scale), x_hat_sg)
        loss = loss + cfg["w_reflow"] * out["reflow"]

    # 8. one discriminator step on detached fakes (both noised with the same
    # noise at s = tau_down), then the generator loss through the updated D
    d_grads = None
    if adv_on:
        s, oms = ts["tdn"], ts["oms"]
        fake = x_hat.detach()
        l_real = st.disc(ps(s, noise) * noise + ps(oms, x0) * x0, s, ctx)
        l_fake = st.disc(ps(s, noise) * noise + ps(oms, fake) * fake, s, ctx)
        l_d = gan_logistic(l_real, -1.0) + gan_logistic(l_fake, 1.0)
        d_objective = l_d
        # R1 on the (noised) real batch, lazily: every r1_every-th step, weighted by it
        if cfg["r1_gamma"] > 0 and step % cfg["r1_every"] == 0:
            out["d_r1"] = r1_penalty(st.disc, ps(s, noise) * noise + ps(oms, x0) * x0, s, ctx)
            d_objective = d_objective + cfg["r1_gamma"] * cfg["r1_every"] * out["d_r1"]
        d_params = list(st.disc.parameters())
        d_grads = list(torch.autograd.grad(d_objective, d_params))
        out.update(d_loss=l_d, d_real=l_real.mean(), d_fake=l_fake.mean())
        out["d_grad_norm"] = clip_(d_grads, cfg["grad_clip"])
        adamw_(d_params, d_grads, st.d_adam, cfg["d_lr"], cfg, step + 1)
        noised = ps(oms, x_hat) * x_hat + ps(s, noise) * noise
        out["adv"] = gan_logistic(st.disc(noised, s, ctx), -1.0)
        loss = loss + cfg["w_adv"] * out["adv"]

    # 9. one student step, then both EMAs
    out["total"] = loss
    params = list(st.student.parameters())
    grads = [g if g is not None else torch.zeros_like(p)
             for p, g in zip(params, torch.autograd.grad(loss, params, allow_unused=True))]
    out["grad_norm"] = clip_(grads, cfg["grad_clip"])
    adamw_(params, grads, st.adam, cfg["lr"], cfg, step + 1)
    ema_(st.target, st.student, cfg["target_ema"])
    ema_(st.eval, st.student, min(cfg["eval_ema"], (1.0 + step) / (10.0 + step)))
    losses = {k: float(v.detach()) if torch.is_tensor(v) else v for k, v in out.items()}
    return losses, grads, d_grads


# ---- the committed fixture ----

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures",
                       "models", "distill-tiny")
BATCH, SIZE, CONTEXT = 4, 8, 8
# A teacher shaped like tests/fixtures/train/tiny-teacher.json, shrunk so the
# committed weights, state and gradients stay small.
TEACHER_UNET = dict(
    sample_size=SIZE, in_channels=3, out_channels=3, block_out_channels=[8, 16],
    layers_per_block=1, down_block_types=["DownBlock2D", "CrossAttnDownBlock2D"],
    up_block_types=["CrossAttnUpBlock2D", "UpBlock2D"],
    mid_block_type="UNetMidBlock2DCrossAttn", attention_head_dim=2, cross_attention_dim=16,
    norm_num_groups=4, norm_eps=1e-5, flip_sin_to_cos=True, freq_shift=0,
)
TEACHER_TEXT = dict(
    vocab_size=16, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
    num_attention_heads=2, max_position_embeddings=CONTEXT, hidden_act="gelu",
    layer_norm_eps=1e-5,
)
WORDS = ["red", "heart", "cat", "face", "thumbs", "up", "rocket", "grinning"]
CAPTIONS = ["red heart", "cat face", "thumbs up", "grinning cat face"]
# tau; the fractions of min(tau, 0.1) down and of min(1 - tau, 0.1) up:
# samples 0 and 1 land below tau_trunc = 0.1 (0 from a small tau, 1 from a
# long step down), 2 stays above it, 3 is near the noise end, where the step
# up is limited by 1 - tau
U_TAU = [0.0631, 0.1517, 0.1742, 0.9613]
U_DOWN = [0.4137, 0.8862, 0.2519, 0.6285]
U_UP = [0.7311, 0.2276, 0.5548, 0.4913]
STEP_OFF, STEP_ON = 499, 500   # the shipped warm-ups of the GAN and inverse losses are 500
# The unconditional discriminator's case (distill-resnet.json): R1 every 4th
# step, so that it is taken at STEP_ON, with weight r1_gamma (1) * 4.
RESNET = dict(discriminator="resnet", resnet_width=4, r1_gamma=1.0, r1_every=4)


def model_config():
    return {
        "format": "scflow-model", "format_version": 1, "name": "distill-tiny",
        "kind": "teacher", "space": "pixel", "image_size": SIZE, "channels": 3,
        "context_length": CONTEXT, "flow": {"velocity_sign": 1, "time_scale": 1000},
        "defaults": {"steps": 8, "guidance": 1.5}, "unet": TEACHER_UNET,
        "text_encoder": TEACHER_TEXT,
    }


def token_ids(text):
    """The word tokenizer of core/tokenizer.h on lower-case words of its vocabulary:
    [<bos>] + words + [<eos>], padded with <pad>."""
    ids = [1] + [4 + WORDS.index(w) for w in text.split()] + [2]
    return ids + [0] * (CONTEXT - len(ids))


def perturbed(model, gen, size):
    """A copy of model with every parameter moved by about size times its mean
    magnitude, so that student, target EMA and discriminator differ from the
    teacher and from one another, as after some training."""
    m = copy.deepcopy(model)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(size * p.abs().mean() * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    return m


def unet_weights(unet, prefix):
    return {prefix + k: v.detach().float().contiguous() for k, v in unet.named_parameters()}


def fixture_state(gen):
    from model_fixtures import randomize   # the parity fixtures' weight draws

    teacher = UNet2DConditionModel(**TEACHER_UNET).eval()
    randomize(teacher, gen)
    text = CLIPTextModel(CLIPTextConfig(**TEACHER_TEXT, attn_implementation="sdpa")).eval()
    randomize(text, gen)
    student = perturbed(teacher, gen, 0.1)
    target = perturbed(teacher, gen, 0.1)
    disc = Discriminator(perturbed(teacher, gen, 0.1), SIZE, 1000.0)
    randomize(disc.head, gen)
    return teacher, text, student, target, disc


def save_teacher(folder, teacher, text):
    os.makedirs(folder)
    weights = unet_weights(teacher, "unet.")
    for k, v in text.named_parameters():
        weights["text_encoder." + k.removeprefix("text_model.")] = v.detach().float().contiguous()
    save_file(weights, os.path.join(folder, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(folder, "config.json"), "w", encoding="utf-8") as f:
        json.dump(model_config(), f, indent=2)
    with open(os.path.join(folder, "word_vocab.json"), "w", encoding="utf-8") as f:
        json.dump({"version": 1, "lowercase": True,
                   "tokens": ["<pad>", "<bos>", "<eos>", "<unk>"] + WORDS}, f)


def fixture_draws(gen):
    shape = (BATCH, 3, SIZE, SIZE)
    f32 = lambda v: torch.tensor(v, dtype=torch.float32)
    return {
        "x0": torch.rand(shape, generator=gen) * 2 - 1,
        "eps": torch.randn(shape, generator=gen),
        "noise": torch.randn(shape, generator=gen),
        "u_tau": f32(U_TAU), "u_down": f32(U_DOWN), "u_up": f32(U_UP),
        "ids": torch.tensor([token_ids(c) for c in CAPTIONS], dtype=torch.int32),
        "ids_empty": torch.tensor([token_ids("")] * BATCH, dtype=torch.int32),
    }


def state64(parts, d_moments):
    teacher, text, student, target, disc = (copy.deepcopy(m).double() for m in parts)
    st = State(teacher, text, student, target, copy.deepcopy(teacher), disc, 1000.0)
    if d_moments:
        for p, (m, v) in zip(disc.parameters(), d_moments):
            st.d_adam[p] = [m.double().clone(), v.double().clone()]
    return st


def draws64(draws):
    out = {k: (v.double() if k in ("x0", "eps", "noise") else v) for k, v in draws.items()}
    out["ids"], out["ids_empty"] = draws["ids"].long(), draws["ids_empty"].long()
    return out


def adam_moments(grads, gen):
    """Adam moments as after some training: of the size of the gradients
    they take. (From zero at t = 501 a step would be about lr * sign(g),
    which turns on the rounding of near-zero gradients.)"""
    out = []
    for g in grads:
        rms = g.float().pow(2).mean().sqrt()
        out.append((0.5 * rms * torch.randn(g.shape, generator=gen),
                    rms ** 2 * (0.5 + torch.rand(g.shape, generator=gen))))
    return out


def disc_state(prefix, disc, moments):
    out = {}
    for (name, p), (m, v) in zip(disc.named_parameters(), moments):
        out[prefix + "discriminator." + name] = p.detach().float().contiguous()
        out[prefix + "disc_adam_m." + name] = m.contiguous()
        out[prefix + "disc_adam_v." + name] = v.contiguous()
    return out


def resnet_case(parts, draws, gen, expected, inputs):
    """The GAN with the unconditional ResNet discriminator and R1 (by
    double backward here) at STEP_ON: expected "resnet.*", its state
    "resnet.discriminator.*" and moments; and its gradients without R1, so
    the test can tell that R1 moves them by far more than the tolerance."""
    from model_fixtures import randomize   # the parity fixtures' weight draws

    cfg = dict(DEFAULTS, **RESNET)
    disc = ResNetDiscriminator(3, SIZE, RESNET["resnet_width"])
    randomize(disc, gen)
    rparts = tuple(parts[:4]) + (disc,)
    _, _, probe = iteration(state64(rparts, None), draws64(draws), cfg, STEP_ON)
    moments = adam_moments(probe, gen)
    st = state64(rparts, moments)
    names = [k for k, _ in st.disc.named_parameters()]
    losses, grads, d_grads = iteration(st, draws64(draws), cfg, STEP_ON)
    for k, v in losses.items():
        expected[f"resnet.loss.{k}"] = torch.tensor([v], dtype=torch.float32)
    for name, g in zip([k for k, _ in st.student.named_parameters()], grads):
        expected[f"grad.param.resnet.student.unet.{name}"] = g.float()
    for name, p in parts[1].named_parameters():
        expected[f"grad.param.resnet.student.text_encoder.{name.removeprefix('text_model.')}"] = \
            torch.zeros_like(p, dtype=torch.float32)
    for name, g in zip(names, d_grads):
        expected[f"grad.param.resnet.disc.{name}"] = g.float()
    _, _, without = iteration(state64(rparts, moments), draws64(draws), dict(cfg, r1_gamma=0.0),
                              STEP_ON)
    for name, g in zip(names, without):
        expected[f"grad.param.resnet_without_r1.disc.{name}"] = g.float()
    inputs.update(disc_state("resnet.", disc, moments))
    print("resnet", STEP_ON, json.dumps(losses))


def make_fixture():
    torch.use_deterministic_algorithms(True)
    gen = torch.Generator().manual_seed(3001)
    parts = fixture_state(gen)
    draws = fixture_draws(gen)
    cfg = dict(DEFAULTS)
    _, _, d_probe = iteration(state64(parts, None), draws64(draws), cfg, STEP_ON)
    d_moments = adam_moments(d_probe, gen)

    expected = {}
    for phase, step in (("off", STEP_OFF), ("on", STEP_ON)):
        st = state64(parts, d_moments)
        student_names = [k for k, _ in st.student.named_parameters()]
        disc_names = [k for k, _ in st.disc.named_parameters()]
        losses, grads, d_grads = iteration(st, draws64(draws), cfg, step)
        for k, v in losses.items():
            expected[f"{phase}.loss.{k}"] = torch.tensor([v], dtype=torch.float32)
        for name, g in zip(student_names, grads):
            expected[f"grad.param.{phase}.student.unet.{name}"] = g.float()
        # the student's text encoder is not distilled (the teacher's encodes)
        for name, p in parts[1].named_parameters():
            expected[f"grad.param.{phase}.student.text_encoder.{name.removeprefix('text_model.')}"] = \
                torch.zeros_like(p, dtype=torch.float32)
        for name, g in zip(disc_names, d_grads or []):
            expected[f"grad.param.{phase}.disc.{name}"] = g.float()
        print(phase, step, json.dumps(losses))
    # The fixture must exercise the truncation: without it the consistency
    # loss would differ by far more than the tolerance.
    untruncated, _, _ = iteration(state64(parts, d_moments), draws64(draws),
                                  dict(cfg, truncation=False), STEP_OFF)
    expected["loss.con_untruncated"] = torch.tensor([untruncated["con"]], dtype=torch.float32)
    print("untruncated con", untruncated["con"], "truncated", times(draws, cfg)["truncate"].tolist())

    inputs = {k: v.contiguous() for k, v in draws.items()}
    _, _, student, target, disc = parts
    inputs.update(unet_weights(student, "student.unet."))
    inputs.update(unet_weights(target, "target_ema.unet."))
    inputs.update(disc_state("", disc, d_moments))
    resnet_case(parts, draws, gen, expected, inputs)
    meta = {f"caption.{i}": c for i, c in enumerate(CAPTIONS)}
    meta.update({"step.off": str(STEP_OFF), "step.on": str(STEP_ON)})

    shutil.rmtree(FIXTURE, ignore_errors=True)
    save_teacher(os.path.join(FIXTURE, "teacher"), parts[0], parts[1])
    save_file(inputs, os.path.join(FIXTURE, "inputs.safetensors"), metadata=meta)
    save_file({k: v.contiguous() for k, v in expected.items()},
              os.path.join(FIXTURE, "expected.safetensors"))
    with open(os.path.join(FIXTURE, "distill.json"), "w", encoding="utf-8") as f:
        json.dump({"batch_size": BATCH}, f)
    with open(os.path.join(FIXTURE, "distill-resnet.json"), "w", encoding="utf-8") as f:
        json.dump(dict(batch_size=BATCH, **RESNET), f)
    for root, _, files in os.walk(FIXTURE):
        for name in sorted(files):
            path = os.path.join(root, name)
            print(f"{os.path.relpath(path, FIXTURE):40s} {os.path.getsize(path):9d}")


# ---- `scflow bench distill` ----

def bench_state(model, cfg, gen):
    # velocity() and Discriminator take our models' convention: the network's output is v
    assert model["flow"]["velocity_sign"] == 1, "the twin handles velocity_sign 1 only"
    teacher = UNet2DConditionModel.from_config(model["unet"]).eval()
    text = CLIPTextModel(CLIPTextConfig(**model["text_encoder"], attn_implementation="sdpa")).eval()
    if cfg["discriminator"] == "resnet":
        disc = ResNetDiscriminator(model["channels"], model["image_size"], cfg["resnet_width"])
    else:
        disc = Discriminator(teacher, model["image_size"], model["flow"]["time_scale"])
    st = State(teacher, text, copy.deepcopy(teacher), copy.deepcopy(teacher),
               copy.deepcopy(teacher), disc, model["flow"]["time_scale"])
    B, C, S, T = model["batch"], model["channels"], model["image_size"], model["context_length"]
    vocab = model["text_encoder"]["vocab_size"]
    draws = {
        "x0": torch.rand(B, C, S, S, generator=gen) * 2 - 1,
        "eps": torch.randn(B, C, S, S, generator=gen),
        "noise": torch.randn(B, C, S, S, generator=gen),
        "u_tau": torch.rand(B, generator=gen), "u_down": torch.rand(B, generator=gen),
        "u_up": torch.rand(B, generator=gen),
        "ids": torch.randint(4, vocab, (B, T), generator=gen),
        "ids_empty": torch.tensor([[1, 2] + [0] * (T - 2)] * B),
    }
    return st, draws


def measure(case, min_s):
    from bench_twin import best_ms

    with open(case["run"], encoding="utf-8") as f:
        cfg = dict(DEFAULTS, **json.load(f)["distillation"])
    with open(case["teacher"], encoding="utf-8") as f:
        model = dict(json.load(f), batch=cfg["batch_size"])
    st, draws = bench_state(model, cfg, torch.Generator().manual_seed(0))
    step = [0]

    def one():
        iteration(st, draws, cfg, step[0])
        step[0] += 1

    return {"ms": best_ms(one, min_s, warmup=1, min_runs=2)}


if __name__ == "__main__":
    if sys.argv[1:] == ["fixture"]:
        make_fixture()
    else:
        from bench_twin import run
        run(measure)
