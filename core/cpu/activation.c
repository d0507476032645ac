/* Elementwise activations, GEGLU and softmax on the CPU. The activations'
 * formulas are core/activation_gate.h, shared with the CUDA kernels; here
 * exp and the normal CDF are the vectorisable ones below. */
#include "cpu_kernels.h"
#include "kernel_util.h"

/* erfc(z) for z >= 0: Numerical Recipes' erfcc, fractional error < 1.2e-7
 * everywhere. Unlike libm's erff it vectorises, and computing the tail
 * directly keeps GELU accurate for negative inputs, where 1 + erf(x)
 * cancels. */
static inline float erfc_nonneg(float z)
{
    float t = 1.0f / (1.0f + 0.5f * z);
    float p = 0.17087277f;
    p = p * t - 0.82215223f;
    p = p * t + 1.48851587f;
    p = p * t - 1.13520398f;
    p = p * t + 0.27886807f;
    p = p * t - 0.18628806f;
    p = p * t + 0.09678418f;
    p = p * t + 0.37409196f;
    p = p * t + 1.00002368f;
    p = p * t - 1.26551223f;
    return t * scf_cpu_expf(p - z * z);
}

/* Phi(x) = erfc(-x / sqrt2) / 2: the tail erfc(|x| / sqrt2) / 2, then 1 - tail
 * for x >= 0; arithmetic, not a conditional subtract, so the loop
 * if-converts (see scf_cpu_expf). */
static inline float normal_cdf(float x)
{
    const float tail = 0.5f * erfc_nonneg(fabsf(x) * 0.70710678118654752f); /* 1/sqrt2 */
    const float pos = x >= 0.0f ? 1.0f : 0.0f;
    return pos + (1.0f - 2.0f * pos) * tail;
}

/* Inlined with a constant act, the switch folds away and forward loops drop
 * the unused derivative. */
#define SCF_GATE_FN static inline __attribute__((always_inline))
#define SCF_GATE_EXP(x) scf_cpu_expf(x)
#define SCF_GATE_PHI(x) normal_cdf(x)
#include "../activation_gate.h"

static inline float act_value(float x, scf_activation act)
{
    float unused;
    return x * scf_activation_gate(x, act, &unused);
}

static inline float act_derivative(float x, scf_activation act)
{
    float dgate;
    float gate = scf_activation_gate(x, act, &dgate);
    return gate + x * dgate;
}

/* The loops below are orphaned `omp for` constructs: the caller opens the
 * parallel region and switches on act there, so each case inlines a loop
 * specialised (and vectorised) for one activation. */
static inline __attribute__((always_inline)) void act_forward_loop(float *out, const float *x,
                                                                   size_t n, scf_activation act)
{
#pragma omp for simd schedule(static)
    for (size_t i = 0; i < n; i++)
        out[i] = act_value(x[i], act);
}

static inline __attribute__((always_inline)) void act_backward_loop(float *dx, const float *dout,
                                                                    const float *x, size_t n,
                                                                    scf_activation act)
{
#pragma omp for simd schedule(static)
    for (size_t i = 0; i < n; i++)
        dx[i] += dout[i] * act_derivative(x[i], act);
}

void scf_cpu_activation_forward(scf_backend *be, float *out, const float *x, size_t n,
                                scf_activation act)
{
#pragma omp parallel if (n >= SCF_CPU_PAR_MIN)
    switch (act) {
    case SCF_ACT_SILU: act_forward_loop(out, x, n, SCF_ACT_SILU); break;
    case SCF_ACT_GELU: act_forward_loop(out, x, n, SCF_ACT_GELU); break;
    case SCF_ACT_GELU_TANH: act_forward_loop(out, x, n, SCF_ACT_GELU_TANH); break;
    case SCF_ACT_QUICK_GELU: act_forward_loop(out, x, n, SCF_ACT_QUICK_GELU); break;
    }
}

void scf_cpu_activation_backward(scf_backend *be, float *dx, const float *dout,
                                 const float *x, size_t n, scf_activation act)
{
    if (!dx)
        return;
#pragma omp parallel if (n >= SCF_CPU_PAR_MIN)
    switch (act) {
    case SCF_ACT_SILU: act_backward_loop(dx, dout, x, n, SCF_ACT_SILU); break;
    case SCF_ACT_GELU: act_backward_loop(dx, dout, x, n, SCF_ACT_GELU); break;
    case SCF_ACT_GELU_TANH: act_backward_loop(dx, dout, x, n, SCF_ACT_GELU_TANH); break;
    case SCF_ACT_QUICK_GELU: act_backward_loop(dx, dout, x, n, SCF_ACT_QUICK_GELU); break;
    }
}

/* GEGLU (diffusers): row m of x is [h | g], out = h * gelu(g). */
void scf_cpu_geglu_forward(scf_backend *be, float *out, const float *x, int M, int N)
{
#pragma omp parallel for if ((size_t)M * N >= SCF_CPU_PAR_MIN)
    for (int m = 0; m < M; m++) {
        const float *h = x + (size_t)m * 2 * N;
        const float *g = h + N;
        float *o = out + (size_t)m * N;
#pragma omp simd
        for (int j = 0; j < N; j++)
            o[j] = h[j] * act_value(g[j], SCF_ACT_GELU);
    }
}

void scf_cpu_geglu_backward(scf_backend *be, float *dx, const float *dout,
                            const float *x, int M, int N)
{
    if (!dx)
        return;
#pragma omp parallel for if ((size_t)M * N >= SCF_CPU_PAR_MIN)
    for (int m = 0; m < M; m++) {
        const float *h = x + (size_t)m * 2 * N;
        const float *g = h + N;
        const float *d = dout + (size_t)m * N;
        float *dh = dx + (size_t)m * 2 * N;
        float *dg = dh + N;
#pragma omp simd
        for (int j = 0; j < N; j++) {
            float dgate;
            float gate = scf_activation_gate(g[j], SCF_ACT_GELU, &dgate);
            dh[j] += d[j] * g[j] * gate;
            dg[j] += d[j] * h[j] * (gate + g[j] * dgate);
        }
    }
}

void scf_cpu_softmax_forward(scf_backend *be, float *out, const float *x, int M, int N)
{
#pragma omp parallel for if ((size_t)M * N >= SCF_CPU_PAR_MIN)
    for (int m = 0; m < M; m++)
        scf_cpu_softmax_row(out + (size_t)m * N, x + (size_t)m * N, N);
}

void scf_cpu_softmax_backward(scf_backend *be, float *dx, const float *dout,
                              const float *out, int M, int N)
{
    if (!dx)
        return;
#pragma omp parallel for if ((size_t)M * N >= SCF_CPU_PAR_MIN)
    for (int m = 0; m < M; m++)
        scf_cpu_softmax_row_backward(dx + (size_t)m * N, dout + (size_t)m * N,
                                     out + (size_t)m * N, N, 1);
}
