#!/usr/bin/env python3
"""PyTorch twin of `scflow bench ops`: times the same cases (given as JSON by
scflow) with the same thread count and prints a JSON array of
{"fwd_ms", "bwd_ms"} fastest-run times. Run by scflow; needs torch (tools/make-fixtures
creates the virtual environment)."""

import torch
import torch.nn.functional as F

from bench_twin import best_ms, run


def rand(*shape, grad=False):
    return (torch.randn(*shape) * 0.1).requires_grad_(grad)


def case_fns(op, d):
    """Returns (forward, backward) closures matching scflow's kernels."""
    if op == "conv3x3":
        b, cin, hw, cout = d[:4]
        x, w, bias = rand(b, cin, hw, hw, grad=True), rand(cout, cin, 3, 3, grad=True), rand(cout, grad=True)
        fwd = lambda: F.conv2d(x, w, bias, padding=1)
    elif op == "linear":
        m, k, n = d[:3]
        x, w, bias = rand(m, k, grad=True), rand(n, k, grad=True), rand(n, grad=True)
        fwd = lambda: F.linear(x, w, bias)
    elif op == "attention":
        b, tq, tk, h, dh = d[:5]
        q, k, v = rand(b, tq, h * dh, grad=True), rand(b, tk, h * dh, grad=True), rand(b, tk, h * dh, grad=True)

        def fwd():
            # the same [B, T, H*D] layout in and out as scflow's kernel
            qh = q.view(b, tq, h, dh).transpose(1, 2)
            kh = k.view(b, tk, h, dh).transpose(1, 2)
            vh = v.view(b, tk, h, dh).transpose(1, 2)
            o = F.scaled_dot_product_attention(qh, kh, vh)
            return o.transpose(1, 2).reshape(b, tq, h * dh)
    elif op == "group_norm":
        b, c, hw, g = d[:4]
        x, gamma, beta = rand(b, c, hw, grad=True), rand(c, grad=True), rand(c, grad=True)
        fwd = lambda: F.silu(F.group_norm(x, g, gamma, beta, 1e-5))
    else:
        raise ValueError(f"unknown op {op}")

    def forward():
        with torch.no_grad():
            fwd()

    out = fwd()
    dout = torch.randn_like(out)

    def backward():
        # backward only: the graph is kept, as scflow's backward reuses saved activations
        out.backward(dout, retain_graph=True)

    return forward, backward


def measure(case, min_s):
    fwd, bwd = case_fns(case["op"], case["dims"])
    return {"fwd_ms": best_ms(fwd, min_s), "bwd_ms": best_ms(bwd, min_s)}


if __name__ == "__main__":
    run(measure)
