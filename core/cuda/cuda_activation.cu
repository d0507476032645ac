/* Elementwise activations and GEGLU on the GPU; core/cpu/activation.c is the
 * reference. As there, every activation is f(x) = x * gate(x) and one
 * helper gives gate and gate', so forward is x * gate and backward is
 * dout * (gate + x * gate'). The activation is a template argument, so each
 * kernel compiles without a switch per element. */
#include "cuda_kernels.h"

#define SQRT1_2 0.70710678118654752f
#define INV_SQRT_2PI 0.39894228040143268f
#define GELU_TANH_2K 1.59576912160573071f /* 2 * sqrt(2/pi) */
#define GELU_TANH_A 0.044715f
#define QUICK_GELU_K 1.702f

/* gate(x) of f(x) = x * gate(x); gate'(x) goes to *dgate */
template <scf_activation ACT> static __device__ __forceinline__ float act_gate(float x,
                                                                              float *dgate)
{
    float u, du;
    switch (ACT) {
    case SCF_ACT_GELU:
        /* Phi(x) = erfc(-x / sqrt2) / 2: erfcf keeps the negative tail
         * accurate, where 1 + erf(x) would cancel (the CPU's erfc is an
         * approximation within 1.2e-7 of it) */
        *dgate = INV_SQRT_2PI * expf(-0.5f * x * x);
        return 0.5f * erfcf(-x * SQRT1_2);
    case SCF_ACT_GELU_TANH:
        /* 0.5 * (1 + tanh(u/2)) = sigmoid(u) */
        u = GELU_TANH_2K * (x + GELU_TANH_A * x * x * x);
        du = GELU_TANH_2K * (1.0f + 3.0f * GELU_TANH_A * x * x);
        break;
    case SCF_ACT_QUICK_GELU:
        u = QUICK_GELU_K * x;
        du = QUICK_GELU_K;
        break;
    case SCF_ACT_SILU:
    default:
        u = x;
        du = 1.0f;
        break;
    }
    const float s = 1.0f / (1.0f + expf(-u));
    *dgate = s * (1.0f - s) * du;
    return s;
}

template <scf_activation ACT>
static __global__ void act_forward_kernel(float *out, const float *x, size_t n)
{
    SCF_CUDA_FOR(i, n) {
        float unused;
        const float v = x[i];
        out[i] = v * act_gate<ACT>(v, &unused);
    }
}

template <scf_activation ACT>
static __global__ void act_backward_kernel(float *dx, const float *dout, const float *x, size_t n)
{
    SCF_CUDA_FOR(i, n) {
        float dgate;
        const float v = x[i];
        const float gate = act_gate<ACT>(v, &dgate);
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
        out[i] = h * (g * act_gate<SCF_ACT_GELU>(g, &unused));
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
        const float gate = act_gate<SCF_ACT_GELU>(g, &dgate);
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
