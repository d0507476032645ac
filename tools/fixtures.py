#!/usr/bin/env python3
"""Writes the PyTorch reference fixtures that tests/test-parity.c checks the
CPU kernels against: one safetensors file per op, tests/fixtures/parity/<op>.

A file holds one or more cases. The metadata key "cases" lists them in order;
case C's tensors are named "C.<tensor>" and its shapes and settings are the
metadata strings "C.<key>". Layouts are those of core/backend.h.

Inputs are drawn in float32 (the values the C kernels get). References are
computed from those exact values with float64 autograd and stored as float32,
so every reference is within one fp32 rounding of the exact answer and the C
test measures the kernel's error alone, not PyTorch's fp32 rounding as well.
The timestep embedding is the one exception: diffusers computes it in float32
on purpose, and that rounding is part of what a model trained with it saw.

Usage: fixtures.py OUTPUT_DIR   (tools/make-fixtures sets up the venv)
"""
import json
import math
import os
import struct
import sys
import zlib

import torch
import torch.nn.functional as F
from safetensors import safe_open

F64 = torch.float64


class Case:
    def __init__(self, fixture, name, config):
        self.fixture = fixture
        self.name = name
        for key, value in config.items():
            fixture.meta[f"{name}.{key}"] = str(value)

    def put(self, key, tensor):
        name = f"{self.name}.{key}"
        assert name not in self.fixture.tensors, name
        dtype = torch.float32 if tensor.dtype.is_floating_point else torch.int32
        # A dense copy: safetensors stores neither views nor shared memory.
        self.fixture.tensors[name] = tensor.detach().to(dtype).clone(
            memory_format=torch.contiguous_format)

    def input(self, key, *shape, scale=1.0, offset=0.0, values=None, grad=True):
        """Draws an fp32 input, stores it, returns it as float64 (leaf for autograd)."""
        x = torch.randn(*shape, dtype=torch.float32) * scale + offset if values is None \
            else values.to(torch.float32)
        self.put(key, x)
        return x.to(F64).requires_grad_(grad)

    def backward(self, out, grads):
        """Stores out, a random upstream gradient dout and d(out.dout)/d(input)
        for each named input (None entries are skipped)."""
        self.put("out", out)
        dout = self.input("dout", *out.shape, grad=False)
        names = [k for k, v in grads.items() if v is not None]
        for key, g in zip(names, torch.autograd.grad(out, [grads[k] for k in names], dout)):
            self.put(key, g)


class Fixture:
    def __init__(self, op):
        self.op = op
        self.tensors = {}
        self.meta = {"op": op}
        self.cases = []
        # A seed per op: adding or changing one op leaves the others' files as they are.
        torch.manual_seed(zlib.crc32(op.encode()))

    def case(self, name, **config):
        assert "." not in name and "," not in name, name
        self.cases.append(name)
        return Case(self, name, config)

    def save(self, folder):
        self.meta["cases"] = ",".join(self.cases)
        path = os.path.join(folder, f"{self.op}.safetensors")
        write_safetensors(path, self.tensors, self.meta)
        return path


def write_safetensors(path, tensors, meta):
    """Like safetensors.torch.save_file, but with the header in a fixed order
    (save_file orders metadata by hash), so regenerating unchanged fixtures
    leaves the committed files byte for byte the same."""
    dtypes = {torch.float32: "F32", torch.int32: "I32"}
    header, blobs, offset = {"__metadata__": dict(sorted(meta.items()))}, [], 0
    for name in sorted(tensors):
        data = tensors[name].numpy().tobytes()
        header[name] = {"dtype": dtypes[tensors[name].dtype], "shape": list(tensors[name].shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the data starts 8-byte aligned
    with open(path, "wb") as out:
        out.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
    # Read it back with the reference implementation.
    with safe_open(path, framework="pt") as check:
        assert check.metadata() == meta
        for name, t in tensors.items():
            assert torch.equal(check.get_tensor(name), t), name


def linear(f):
    for name, bias in (("bias", True), ("nobias", False)):
        M, K, N = 5, 7, 6
        c = f.case(name, M=M, K=K, N=N, bias=int(bias))
        x = c.input("x", M, K)
        w = c.input("w", N, K, scale=K ** -0.5)
        b = c.input("b", N) if bias else None
        c.backward(F.linear(x, w, b), {"dx": x, "dw": w, "db": b})


def conv2d(f):
    # H != W everywhere so that a swapped height/width cannot pass.
    for name, B, Cin, H, W, Cout, k, stride, pad, bias in (
            ("k1s1", 2, 3, 5, 4, 4, 1, 1, 0, False),
            ("k3s1p1", 2, 3, 6, 5, 4, 3, 1, 1, True),
            ("k3s2p1_odd", 2, 3, 7, 5, 5, 3, 2, 1, True)):
        c = f.case(name, B=B, Cin=Cin, H=H, W=W, Cout=Cout, k=k, stride=stride, pad=pad,
                   bias=int(bias))
        x = c.input("x", B, Cin, H, W)
        w = c.input("w", Cout, Cin, k, k, scale=(Cin * k * k) ** -0.5)
        b = c.input("b", Cout) if bias else None
        out = F.conv2d(x, w, b, stride=stride, padding=pad)
        c.backward(out, {"dx": x, "dw": w, "db": b})


def group_norm(f):
    B, C, G, H, W = 2, 6, 3, 3, 4
    # The eps 1e-6 cases use activations of std 0.003 (variance ~1e-5), where
    # using the wrong eps changes the output by percents, not by rounding.
    for name, eps, silu, scale, offset in (
            ("eps5", 1e-5, 0, 1.0, 1.0),
            ("eps5_silu", 1e-5, 1, 1.0, 1.0),
            ("eps6_small", 1e-6, 0, 0.003, 0.0),
            ("eps6_small_silu", 1e-6, 1, 0.003, 0.0)):
        c = f.case(name, B=B, C=C, G=G, HW=H * W, eps=eps, silu=silu)
        x = c.input("x", B, C, H, W, scale=scale, offset=offset)
        gamma = c.input("gamma", C, scale=0.5, offset=1.0)
        beta = c.input("beta", C, scale=0.5)
        out = F.group_norm(x, G, gamma, beta, eps)
        if silu:
            out = F.silu(out)
        xg = x.detach().reshape(B * G, -1)
        c.put("mean", xg.mean(-1))
        c.put("rstd", (xg.var(-1, unbiased=False) + eps).rsqrt())
        c.backward(out, {"dx": x, "dgamma": gamma, "dbeta": beta})


def layer_norm(f):
    M, C, eps = 6, 20, 1e-5
    c = f.case("eps5", M=M, C=C, eps=eps)
    x = c.input("x", M, C, offset=0.5)
    gamma = c.input("gamma", C, scale=0.5, offset=1.0)
    beta = c.input("beta", C, scale=0.5)
    out = F.layer_norm(x, (C,), gamma, beta, eps)
    xd = x.detach()
    c.put("mean", xd.mean(-1))
    c.put("rstd", (xd.var(-1, unbiased=False) + eps).rsqrt())
    c.backward(out, {"dx": x, "dgamma": gamma, "dbeta": beta})


def activation_input():
    # A sweep, random values, and magnitudes where exp() overflows fp32
    # (|x| = 90), so a naive formula gives inf/inf.
    sweep = torch.linspace(-8, 8, 33)
    extremes = torch.tensor([-90.0, -30.0, -15.0, 15.0, 30.0, 90.0])
    return torch.cat([sweep, torch.randn(25) * 3, extremes])


def activation(fn):
    def make(f):
        x = activation_input()
        c = f.case("default", n=len(x))
        x = c.input("x", values=x)
        c.backward(fn(x), {"dx": x})
    return make


def geglu(f):
    M, N = 4, 6
    c = f.case("default", M=M, N=N)
    x = c.input("x", M, 2 * N, scale=2.0)
    h, g = x.chunk(2, dim=-1)
    c.backward(h * F.gelu(g), {"dx": x})


def softmax(f):
    M, N = 5, 9
    c = f.case("default", M=M, N=N)
    # Row 3 sits at +60 (exp overflows without the max shift), row 4 spans +-40.
    x = torch.randn(M, N)
    x[3] += 60.0
    x[4] *= 20.0
    x = c.input("x", values=x)
    c.backward(torch.softmax(x, dim=-1), {"dx": x})


def attention(f):
    for name, B, Tq, Tk, H, D, causal in (
            ("self_d40", 2, 5, 5, 2, 40, 0),
            ("causal_d40", 1, 6, 6, 2, 40, 1),
            ("cross_d8", 2, 4, 7, 3, 8, 0),
            ("causal_d8", 2, 6, 6, 2, 8, 1),
            ("cross_d40", 1, 3, 5, 2, 40, 0)):
        c = f.case(name, B=B, Tq=Tq, Tk=Tk, H=H, D=D, causal=causal)
        q = c.input("q", B, Tq, H * D)
        k = c.input("k", B, Tk, H * D)
        v = c.input("v", B, Tk, H * D)

        def heads(t, T):  # [B, T, H*D] -> [B, H, T, D]
            return t.view(B, T, H, D).transpose(1, 2)

        scores = heads(q, Tq) @ heads(k, Tk).transpose(-1, -2) / math.sqrt(D)
        if causal:
            mask = torch.ones(Tq, Tk, dtype=torch.bool).triu(1)  # key j > query i
            scores = scores.masked_fill(mask, float("-inf"))
        probs = torch.softmax(scores, dim=-1)
        out = (probs @ heads(v, Tk)).transpose(1, 2).reshape(B, Tq, H * D)
        c.put("probs", probs)
        c.backward(out, {"dq": q, "dk": k, "dv": v})


def upsample2x(f):
    B, C, H, W = 2, 3, 3, 4
    c = f.case("default", N=B * C, H=H, W=W)
    x = c.input("x", B, C, H, W)
    c.backward(F.interpolate(x, scale_factor=2, mode="nearest"), {"dx": x})


def get_timestep_embedding(timesteps, embedding_dim, flip_sin_to_cos=False,
                           downscale_freq_shift=1, scale=1, max_period=10000):
    """diffusers.models.embeddings.get_timestep_embedding, line for line
    (float32 throughout, as there)."""
    assert len(timesteps.shape) == 1, "Timesteps should be a 1d-array"
    half_dim = embedding_dim // 2
    exponent = -math.log(max_period) * torch.arange(
        start=0, end=half_dim, dtype=torch.float32, device=timesteps.device)
    exponent = exponent / (half_dim - downscale_freq_shift)
    emb = torch.exp(exponent)
    emb = timesteps[:, None].float() * emb[None, :]
    emb = scale * emb
    emb = torch.cat([torch.sin(emb), torch.cos(emb)], dim=-1)
    if flip_sin_to_cos:
        emb = torch.cat([emb[:, half_dim:], emb[:, :half_dim]], dim=-1)
    if embedding_dim % 2 == 1:
        emb = torch.nn.functional.pad(emb, (0, 1, 0, 0))
    return emb


def timestep_embedding(f):
    try:
        from diffusers.models.embeddings import get_timestep_embedding as embed
    except ImportError:
        embed = get_timestep_embedding
    t = torch.tensor([0.0, 1.0, 17.5, 250.0, 999.0])
    cases = [(f"flip{flip}_shift{shift}", 32, flip, shift) for flip in (0, 1) for shift in (0, 1)]
    cases.append(("odd_dim", 9, 1, 1))  # diffusers pads odd sizes with one zero column
    for name, dim, flip, shift in cases:
        c = f.case(name, B=len(t), dim=dim, flip_sin_to_cos=flip, freq_shift=shift)
        c.put("t", t)
        c.put("out", embed(t, dim, flip_sin_to_cos=bool(flip), downscale_freq_shift=shift))


def embedding(f):
    V, D = 5, 6
    ids = torch.tensor([3, 1, 3, 0, 4, 3, 1, 2], dtype=torch.int32)  # 3 three times, 1 twice
    c = f.case("default", N=len(ids), D=D, V=V)
    table = c.input("table", V, D)
    c.put("ids", ids)
    c.backward(F.embedding(ids.long(), table), {"dtable": table})


def concat(f):
    B, Ca, Cb, S = 2, 3, 2, 5
    c = f.case("default", B=B, Ca=Ca, Cb=Cb, S=S)
    a = c.input("a", B, Ca, S)
    b = c.input("b", B, Cb, S)
    c.backward(torch.cat([a, b], dim=1), {"da": a, "db": b})


def mul(f):
    n = 37
    c = f.case("default", n=n)
    a = c.input("a", n)
    b = c.input("b", n)
    c.backward(a * b, {"da": a, "db": b})


def add(f):
    n = 37
    c = f.case("default", n=n)
    c.put("out", c.input("a", n) + c.input("b", n))


def scale(f):
    n, s = 37, -0.37
    c = f.case("default", n=n, s=s)
    c.put("out", c.input("x", n) * s)


def axpy(f):
    n, a = 37, 0.61
    c = f.case("default", n=n, a=a)
    y = c.input("y", n)
    c.put("out", y + a * c.input("x", n))


def sum_squares(f):
    n = 1000
    c = f.case("default", n=n)
    c.put("out", (c.input("x", n, scale=3.0) ** 2).sum().reshape(1))


def batch_scale(f):
    B, S = 3, 10
    c = f.case("default", B=B, S=S)
    x = c.input("x", B, S)
    s = c.input("s", B)
    c.backward(s[:, None] * x, {"dx": x, "ds": s})


def transpose(f):
    # out[B,C,R] = x[B,R,C]^T; "accumulate" adds into what out already holds
    # ("base"), which is how backward uses it; dx is the transpose of dout.
    B, R, C = 2, 3, 5
    for name, accumulate in (("write", 0), ("accumulate", 1)):
        c = f.case(name, B=B, R=R, C=C, accumulate=accumulate)
        x = c.input("x", B, R, C)
        base = c.input("base", B, C, R, grad=False)
        out = x.transpose(1, 2) + (base if accumulate else 0)
        c.backward(out, {"dx": x})


def add_channel(f):
    B, C, S = 2, 3, 5
    c = f.case("default", B=B, C=C, S=S)
    x = c.input("x", B, C, S)
    v = c.input("v", B, C)
    c.backward(x + v[:, :, None], {"dv": v})


def loss_case(c, loss, grads, dloss):
    c.put("loss", loss.reshape(1))
    for key, g in zip(grads, torch.autograd.grad(loss, list(grads.values()),
                                                 torch.tensor(dloss, dtype=F64))):
        c.put(key, g)


DLOSS = 0.7  # not 1, so that a backward ignoring dloss fails


def mse(f):
    n = 40
    c = f.case("default", n=n, dloss=DLOSS)
    a = c.input("a", n)
    b = c.input("b", n, grad=False)
    loss_case(c, F.mse_loss(a, b), {"da": a}, DLOSS)


def pseudo_huber(f):
    n, huber_c = 40, 0.01
    c = f.case("default", n=n, c=huber_c, dloss=DLOSS)
    # Half the pairs closer than c (quadratic zone), half far apart (linear zone).
    a0 = torch.randn(n)
    b0 = a0 + torch.cat([torch.randn(n // 2) * 0.005, torch.randn(n - n // 2)])
    a = c.input("a", values=a0)
    b = c.input("b", values=b0, grad=False)
    loss = (torch.sqrt((a - b) ** 2 + huber_c ** 2) - huber_c).mean()
    loss_case(c, loss, {"da": a}, DLOSS)


def softplus(f):
    x = torch.cat([torch.linspace(-20, 20, 21), torch.randn(15) * 3,
                   torch.tensor([-100.0, -50.0, 50.0, 100.0])])
    c = f.case("default", n=len(x))
    x = c.input("x", values=x)
    c.backward(F.softplus(x), {"dx": x})


def gan_logistic(f):
    n = 30
    for name, sign in (("pos", 1.0), ("neg", -1.0)):
        c = f.case(name, n=n, sign=sign, dloss=DLOSS)
        x = c.input("x", values=torch.cat([torch.randn(n - 4) * 3,
                                           torch.tensor([-60.0, -25.0, 25.0, 60.0])]))
        loss_case(c, F.softplus(sign * x).mean(), {"dx": x}, DLOSS)


def adamw(f):
    n, steps = 64, 3
    lr, beta1, beta2, eps, wd = 1e-3, 0.9, 0.999, 1e-8, 0.01
    c = f.case("default", n=n, steps=steps, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
               weight_decay=wd)
    p = c.input("param0", n, scale=0.5, grad=False)
    grads = []
    for step in range(1, steps + 1):
        g = torch.randn(n)
        g[:8] *= 1e-8  # gradients the size of eps, so where eps enters matters
        grads.append(c.input(f"grad{step}", values=g, grad=False))
    p = p.clone().requires_grad_(True)
    opt = torch.optim.AdamW([p], lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=wd,
                            foreach=False)
    for g in grads:
        p.grad = g.clone()
        opt.step()
    state = opt.state[p]
    c.put("param", p)
    c.put("m", state["exp_avg"])
    c.put("v", state["exp_avg_sq"])


def ema(f):
    n, steps, decay = 40, 3, 0.99
    c = f.case("default", n=n, steps=steps, decay=decay)
    e = c.input("ema0", n, grad=False).clone()
    for step in range(1, steps + 1):
        p = c.input(f"param{step}", n, grad=False)
        # diffusers' EMAModel: ema -= (1 - decay) * (ema - param)
        e.sub_((1 - decay) * (e - p))
    c.put("ema", e)


OPS = {
    "linear": linear,
    "conv2d": conv2d,
    "group_norm": group_norm,
    "layer_norm": layer_norm,
    "silu": activation(F.silu),
    "gelu": activation(F.gelu),
    "gelu_tanh": activation(lambda x: F.gelu(x, approximate="tanh")),
    "quick_gelu": activation(lambda x: x * torch.sigmoid(1.702 * x)),
    "geglu": geglu,
    "softmax": softmax,
    "attention": attention,
    "upsample2x": upsample2x,
    "timestep_embedding": timestep_embedding,
    "embedding": embedding,
    "concat": concat,
    "mul": mul,
    "add_channel": add_channel,
    "add": add,
    "scale": scale,
    "axpy": axpy,
    "sum_squares": sum_squares,
    "batch_scale": batch_scale,
    "transpose": transpose,
    "mse": mse,
    "pseudo_huber": pseudo_huber,
    "softplus": softplus,
    "gan_logistic": gan_logistic,
    "adamw": adamw,
    "ema": ema,
}


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: fixtures.py OUTPUT_DIR")
    folder = sys.argv[1]
    os.makedirs(folder, exist_ok=True)
    torch.use_deterministic_algorithms(True)
    total = 0
    for op, make in OPS.items():
        f = Fixture(op)
        make(f)
        path = f.save(folder)
        size = os.path.getsize(path)
        total += size
        print(f"{path}: {len(f.cases)} case(s), {size} bytes")
    print(f"total {total} bytes")


if __name__ == "__main__":
    main()
