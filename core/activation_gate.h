/* The gate of every activation of the engine, f(x) = x * gate(x), with its
 * derivative: SiLU, QuickGELU and tanh-GELU gate with a sigmoid
 * (0.5 * (1 + tanh(u/2)) = sigmoid(u)), exact GELU with the normal CDF.
 * Forward is x * gate and backward dout * (gate + x * gate').
 *
 * Written once for the CPU kernels (core/cpu/activation.c) and the CUDA ones
 * (core/cuda/cuda_activation.cu), which differ only in how they compute exp
 * and the normal CDF. The includer defines, before including:
 *   SCF_GATE_FN          the qualifiers of the function (inline, __device__)
 *   SCF_GATE_EXP(x)      exp(x)
 *   SCF_GATE_PHI(x)      the normal CDF Phi(x), accurate in the negative tail
 *                        (where 1 + erf(x) would cancel)
 * Called with a constant act, the switch folds away. */
#pragma once
#include "backend.h"

#define SCF_GATE_INV_SQRT_2PI 0.39894228040143268f
#define SCF_GATE_SQRT1_2 0.70710678118654752f
#define SCF_GATE_TANH_2K 1.59576912160573071f /* 2 * sqrt(2/pi) */
#define SCF_GATE_TANH_A 0.044715f
#define SCF_GATE_QUICK_K 1.702f

/* gate(x); gate'(x) goes to *dgate */
SCF_GATE_FN float scf_activation_gate(float x, scf_activation act, float *dgate)
{
    float u, du;
    switch (act) {
    case SCF_ACT_GELU:
        /* Phi'(x) = exp(-x^2/2) / sqrt(2 pi) */
        *dgate = SCF_GATE_INV_SQRT_2PI * SCF_GATE_EXP(-0.5f * x * x);
        return SCF_GATE_PHI(x);
    case SCF_ACT_GELU_TANH:
        u = SCF_GATE_TANH_2K * (x + SCF_GATE_TANH_A * x * x * x);
        du = SCF_GATE_TANH_2K * (1.0f + 3.0f * SCF_GATE_TANH_A * x * x);
        break;
    case SCF_ACT_QUICK_GELU:
        u = SCF_GATE_QUICK_K * x;
        du = SCF_GATE_QUICK_K;
        break;
    case SCF_ACT_SILU:
    default:
        u = x;
        du = 1.0f;
        break;
    }
    const float s = 1.0f / (1.0f + SCF_GATE_EXP(-u));
    *dgate = s * (1.0f - s) * du;
    return s;
}
