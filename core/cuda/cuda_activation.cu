/* Elementwise activations and GEGLU on the GPU; core/cpu/activation.c is the
 * reference, and both take the formulas from core/activation_gate.h. The
 * activation is a template argument, so each kernel compiles without a
 * switch per element. */
#include "cuda_kernels.h"

/* erfcf keeps the normal CDF's negative tail accurate (the CPU's erfc is an
 * approximation within 1.2e-7 of it) */
#define SCF_GATE_FN static __device__ __forceinline__
#define SCF_GATE_EXP(x) expf(x)
#define SCF_GATE_PHI(x) (0.5f * erfcf(-(x) * SCF_GATE_SQRT1_2))
#include "../activation_gate.h"

template <scf_activation ACT>
static __global__ void act_forward_kernel(float *out, const float *x, size_t n)
{
    SCF_CUDA_FOR(i, n) {
        float unused;
        const float v = x[i];
        out[i] = v * scf_activation_gate(v, ACT, &unused);
    }
}

template <scf_activation ACT>
static __global__ void act_backward_kernel(float *dx, const float *dout, const float *x, size_t n)
{
    SCF_CUDA_FOR(i, n) {
        float dgate;
        const float v = x[i];
        const float gate = scf_activation_gate(v, ACT, &dgate);
        dx[i] += dout[i] * (gate + v * dgate);
    }
}

void scf_cuda_activation_forward(scf_backend *be, float *out, const float *x, size_t n,
                                 scf_activation act)
{
    switch (act) {
    case SCF_ACT_SILU:
        act_forward_kernel<SCF_ACT_SILU><<<SCF_CUDA_GRID(be, n)>>>(out, x, n);
        break;
    case SCF_ACT_GELU:
        act_forward_kernel<SCF_ACT_GELU><<<SCF_CUDA_GRID(be, n)>>>(out, x, n);
        break;
    case SCF_ACT_GELU_TANH:
        act_forward_kernel<SCF_ACT_GELU_TANH><<<SCF_CUDA_GRID(be, n)>>>(out, x, n);
        break;
    case SCF_ACT_QUICK_GELU:
        act_forward_kernel<SCF_ACT_QUICK_GELU><<<SCF_CUDA_GRID(be, n)>>>(out, x, n);
        break;
    }
    SCF_CUDA_CHECK_LAUNCH();
}

void scf_cuda_activation_backward(scf_backend *be, float *dx, const float *dout,
                                  const float *x, size_t n, scf_activation act)
{
    if (!dx)
        return;
    switch (act) {
    case SCF_ACT_SILU:
        act_backward_kernel<SCF_ACT_SILU><<<SCF_CUDA_GRID(be, n)>>>(dx, dout, x, n);
        break;
    case SCF_ACT_GELU:
        act_backward_kernel<SCF_ACT_GELU><<<SCF_CUDA_GRID(be, n)>>>(dx, dout, x, n);
        break;
    case SCF_ACT_GELU_TANH:
        act_backward_kernel<SCF_ACT_GELU_TANH><<<SCF_CUDA_GRID(be, n)>>>(dx, dout, x, n);
        break;
    case SCF_ACT_QUICK_GELU:
        act_backward_kernel<SCF_ACT_QUICK_GELU><<<SCF_CUDA_GRID(be, n)>>>(dx, dout, x, n);
        break;
    }
    SCF_CUDA_CHECK_LAUNCH();
}

/* GEGLU (diffusers): row m of x is [h | g], out = h * gelu(g) */
static __global__ void geglu_forward_kernel(float *out, const float *x, int N, size_t n)
{
    SCF_CUDA_FOR(i, n) {
        const size_t m = i / N, j = i % N;
        const float h = x[m * 2 * N + j], g = x[m * 2 * N + N + j];
        float unused;
        out[i] = h * (g * scf_activation_gate(g, SCF_ACT_GELU, &unused));
    }
}

static __global__ void geglu_backward_kernel(float *dx, const float *dout, const float *x, int N,
                                             size_t n)
{
    SCF_CUDA_FOR(i, n) {
        const size_t m = i / N, j = i % N;
        const size_t ih = m * 2 * N + j, ig = ih + N;
        const float h = x[ih], g = x[ig], d = dout[i];
        float dgate;
        const float gate = scf_activation_gate(g, SCF_ACT_GELU, &dgate);
        dx[ih] += d * g * gate;
        dx[ig] += d * h * (gate + g * dgate);
    }
}

void scf_cuda_geglu_forward(scf_backend *be, float *out, const float *x, int M, int N)
{
    const size_t n = (size_t)M * N;
    geglu_forward_kernel<<<SCF_CUDA_GRID(be, n)>>>(out, x, N, n);
    SCF_CUDA_CHECK_LAUNCH();
}

void scf_cuda_geglu_backward(scf_backend *be, float *dx, const float *dout, const float *x,
                             int M, int N)
{
    if (!dx)
        return;
    const size_t n = (size_t)M * N;
    geglu_backward_kernel<<<SCF_CUDA_GRID(be, n)>>>(dx, dout, x, N, n);
    SCF_CUDA_CHECK_LAUNCH();
}
