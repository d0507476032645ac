/* Elementwise activations, GEGLU and softmax on the CPU.
 *
 * Every activation here has the form f(x) = x * gate(x): SiLU, QuickGELU and
 * tanh-GELU gate with a sigmoid (0.5 * (1 + tanh(u)) = sigmoid(2u)), exact
 * GELU with the normal CDF. One helper gives gate and gate', so forward is
 * x * gate and backward is dout * (gate + x * gate'). */
#include "cpu_kernels.h"
#include "kernel_util.h"

#define SQRT1_2 0.70710678118654752f
#define INV_SQRT_2PI 0.39894228040143268f
#define GELU_TANH_2K 1.59576912160573071f /* 2 * sqrt(2/pi) */
#define GELU_TANH_A 0.044715f
#define QUICK_GELU_K 1.702f

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

/* gate(x) of f(x) = x * gate(x); gate'(x) goes to *dgate. Inlined with a
 * constant act, the switch folds away, and forward loops drop the unused
 * derivative. */
static inline __attribute__((always_inline)) float act_gate(float x, scf_activation act,
                                                            float *dgate)
{
    float u, du;
    switch (act) {
    case SCF_ACT_GELU: {
        /* Phi(x) = erfc(-x / sqrt2) / 2, Phi'(x) = exp(-x^2/2) / sqrt(2 pi) */
        float tail = 0.5f * erfc_nonneg(fabsf(x) * SQRT1_2);
        *dgate = INV_SQRT_2PI * scf_cpu_expf(-0.5f * x * x);
        /* 1 - tail for x >= 0, else tail; arithmetic, not a conditional
         * subtract, so the loop if-converts (see scf_cpu_expf) */
        const float pos = x >= 0.0f ? 1.0f : 0.0f;
        return pos + (1.0f - 2.0f * pos) * tail;
    }
    case SCF_ACT_GELU_TANH:
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
    float s = 1.0f / (1.0f + scf_cpu_expf(-u));
    *dgate = s * (1.0f - s) * du;
    return s;
}

static inline float act_value(float x, scf_activation act)
{
    float unused;
    return x * act_gate(x, act, &unused);
}

static inline float act_derivative(float x, scf_activation act)
{
    float dgate;
    float gate = act_gate(x, act, &dgate);
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
            float gate = act_gate(g[j], SCF_ACT_GELU, &dgate);
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
