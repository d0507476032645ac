/* The pointwise, softmax, attention and layout kernels of the CPU backend:
 * forward values against formulas evaluated in double here, every backward
 * against central finite differences, the += contract of backward, and NULL
 * gradients.
 *
 * Tolerances (each about 10x or more above the worst error measured here,
 * while a wrong index, sign or missing term is off by O(1e-2) or more). The
 * loss is L = sum(out * r) evaluated in double from fp32 outputs, so a central
 * difference carries the fp32 rounding of the outputs that the probe moves
 * (~6e-8 relative each) divided by 2h, plus O(h^2) truncation for nonlinear
 * ops.
 * - pointwise ops and softmax: h = 1e-2, rounding ~1e-5 and truncation ~1e-5
 *   (third derivatives of order one); tol = 1e-3 (worst seen 7e-5, GEGLU).
 * - attention: h = 5e-3; a probe moves a whole row of outputs through two
 *   products and a softmax; tol = 5e-4 (worst seen 2e-5).
 * - upsample, concat, mul and add_channel are linear in each input: no
 *   truncation error, h = 1e-2, tol = 1e-4 (worst seen 5e-6).
 * - backward accumulated twice vs prior + 2 grad: rtol 1e-6 (two fp32 adds).
 * - forward values, judged against the tensor's scale as chk_close does:
 *   activations and GEGLU rtol 1e-6 (expf within 1.4 ulp, erfc 1e-7
 *   relative; worst seen 5e-8); softmax 2e-6 (fp32 row sums); attention 1e-5
 *   (fp32 sums of up to a few thousand products in two GEMMs; worst seen
 *   1e-6). */
#include <math.h>
#include <string.h>
#include "check.h"
/* for scf_cpu_expf; the header's `omp simd` pragmas are inert here, as test
 * binaries are built without OpenMP */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunknown-pragmas"
#include "cpu/kernel_util.h"
#pragma GCC diagnostic pop

#define MAX_PROBE 48

#define SMOOTH_H 1e-2
#define SMOOTH_TOL 1e-3
#define ATTN_H 5e-3
#define ATTN_TOL 5e-4
#define LINEAR_H 1e-2
#define LINEAR_TOL 1e-4

static float *to_floats(const double *x, size_t n)
{
    float *f = g_new(float, n);
    for (size_t i = 0; i < n; i++)
        f[i] = (float)x[i];
    return f;
}


/* ---- the vectorisable expf every softmax and gate goes through ---- */

static void test_expf(void)
{
    /* within 2 ulp of the correctly rounded value over the normal range
     * (measured worst: 1.4 ulp) */
    for (float x = -87.0f; x < 88.7f; x += 0.0137f) {
        double want = exp((double)x);
        g_assert_cmpfloat(fabs(scf_cpu_expf(x) - want), <=, 2.0 * 0x1.0p-23 * want);
    }
    /* gradual underflow, overflow to inf, and NaN passed through */
    g_assert_cmpfloat(fabs(scf_cpu_expf(-100.0f) - exp(-100.0)), <=, 0x1.0p-149);
    g_assert_cmpfloat(scf_cpu_expf(-104.0f), ==, 0.0f);
    g_assert_cmpfloat(scf_cpu_expf(-INFINITY), ==, 0.0f);
    g_assert_true(isinf(scf_cpu_expf(89.0f)));
    g_assert_true(isinf(scf_cpu_expf(INFINITY)));
    g_assert_true(isnan(scf_cpu_expf(NAN)));
}

/* ---- activations ---- */

static double act_ref(double x, scf_activation act)
{
    switch (act) {
    case SCF_ACT_SILU:
        return x / (1.0 + exp(-x));
    case SCF_ACT_GELU:
        return 0.5 * x * erfc(-x / sqrt(2.0)); /* = 1 + erf, without cancelling */
    case SCF_ACT_GELU_TANH:
        return 0.5 * x * (1.0 + tanh(sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
    case SCF_ACT_QUICK_GELU:
        return x / (1.0 + exp(-1.702 * x));
    }
    return NAN;
}

static const struct {
    scf_activation act;
    const char *name;
} activations[] = {
    { SCF_ACT_SILU, "silu" },
    { SCF_ACT_GELU, "gelu" },
    { SCF_ACT_GELU_TANH, "gelu_tanh" },
    { SCF_ACT_QUICK_GELU, "quick_gelu" },
};

static void test_activation_values(void)
{
    /* n above the threading threshold so the parallel path runs; the range
     * covers the tails where the gates saturate */
    const size_t n = 40000;
    g_autofree float *x = chk_random(n, -12.0f, 12.0f, 1);
    x[0] = 0.0f;
    x[1] = -100.0f;  /* exp(-u) far past float range: gate must give 0, not NaN */
    x[2] = 100.0f;
    g_autofree float *out = g_new(float, n);
    g_autofree float *ref = g_new(float, n);
    for (size_t a = 0; a < G_N_ELEMENTS(activations); a++) {
        for (size_t i = 0; i < n; i++)
            ref[i] = (float)act_ref(x[i], activations[a].act);
        chk_cpu()->activation_forward(chk_cpu(), out, x, n, activations[a].act);
        g_assert_true(chk_close(activations[a].name, out, ref, n, 1e-6));
        /* in place, as the table allows */
        memcpy(out, x, n * sizeof(float));
        chk_cpu()->activation_forward(chk_cpu(), out, out, n, activations[a].act);
        g_assert_true(chk_close(activations[a].name, out, ref, n, 1e-6));
    }

    /* GELU's negative tail element by element: 1 + erf(x/sqrt2) in fp32 would
     * cancel to nothing by x = -6; the kernel's erfc keeps ~1e-5 relative
     * error down to x = -12 (z^2 rounding in exp(-z^2)) */
    const size_t nt = 111;
    for (size_t i = 0; i < nt; i++)
        x[i] = -1.0f - 11.0f * (float)i / (nt - 1);
    chk_cpu()->activation_forward(chk_cpu(), out, x, nt, SCF_ACT_GELU);
    for (size_t i = 0; i < nt; i++) {
        float want = (float)act_ref(x[i], SCF_ACT_GELU);
        g_assert_true(chk_close("gelu tail", &out[i], &want, 1, 5e-5));
    }
}

typedef struct {
    float *x, *out, *r;
    size_t n;
    scf_activation act;
} act_ctx;

static double act_loss(void *p)
{
    act_ctx *c = p;
    chk_cpu()->activation_forward(chk_cpu(), c->out, c->x, c->n, c->act);
    return chk_dot(c->out, c->r, c->n);
}

static void act_backward(void *p, float *const *g)
{
    act_ctx *c = p;
    chk_cpu()->activation_backward(chk_cpu(), g[0], c->r, c->x, c->n, c->act);
}

static void test_activation_grad(void)
{
    const size_t n = 97;
    for (size_t a = 0; a < G_N_ELEMENTS(activations); a++) {
        act_ctx c = { chk_random(n, -5.0f, 5.0f, 2), g_new(float, n),
                      chk_random(n, -1.0f, 1.0f, 3), n, activations[a].act };
        chk_grad_case gc = { activations[a].name, act_loss, act_backward, &c, 1,
                         { "dx" }, { c.x }, { n } };
        chk_grad_case_run(&gc, SMOOTH_H, SMOOTH_TOL, MAX_PROBE);
        g_free(c.x);
        g_free(c.out);
        g_free(c.r);
    }
}

/* ---- GEGLU and softmax: row-wise ops ---- */

/* out [M, N] from x [M, N] (softmax) or [M, 2N] (GEGLU) by the backend's
 * forward kernel. */
typedef struct {
    float *x, *out, *r;
    int M, N;
    void (*forward)(scf_backend *be, float *out, const float *x, int M, int N);
} rows_ctx;

static double rows_loss(void *p)
{
    rows_ctx *c = p;
    c->forward(chk_cpu(), c->out, c->x, c->M, c->N);
    return chk_dot(c->out, c->r, (size_t)c->M * c->N);
}

static void rows_free(rows_ctx *c)
{
    g_free(c->x);
    g_free(c->out);
    g_free(c->r);
}

static void geglu_backward(void *p, float *const *g)
{
    rows_ctx *c = p;
    chk_cpu()->geglu_backward(chk_cpu(), g[0], c->r, c->x, c->M, c->N);
}

static void test_geglu(void)
{
    const int M = 6, N = 13;
    rows_ctx c = { chk_random((size_t)M * 2 * N, -4.0f, 4.0f, 4),
                   g_new(float, (size_t)M * N), chk_random((size_t)M * N, -1.0f, 1.0f, 5),
                   M, N, chk_cpu()->geglu_forward };
    g_autofree float *ref = g_new(float, (size_t)M * N);
    for (int m = 0; m < M; m++)
        for (int j = 0; j < N; j++) {
            const float *row = c.x + (size_t)m * 2 * N;
            ref[m * N + j] = (float)(row[j] * act_ref(row[N + j], SCF_ACT_GELU));
        }
    rows_loss(&c);
    g_assert_true(chk_close("geglu", c.out, ref, (size_t)M * N, 1e-6));

    chk_grad_case gc = { "geglu", rows_loss, geglu_backward, &c, 1,
                     { "dx" }, { c.x }, { (size_t)M * 2 * N } };
    chk_grad_case_run(&gc, SMOOTH_H, SMOOTH_TOL, MAX_PROBE);
    rows_free(&c);
}

/* ---- softmax ---- */

static void test_softmax_values(void)
{
    const int M = 5, N = 37;
    g_autofree float *x = chk_random((size_t)M * N, -8.0f, 8.0f, 6);
    /* a row far from zero: exp without subtracting the max would overflow */
    for (int j = 0; j < N; j++)
        x[N + j] += 1000.0f;
    g_autofree float *out = g_new(float, (size_t)M * N);
    g_autofree double *ref = g_new(double, (size_t)M * N);
    for (int m = 0; m < M; m++) {
        const float *row = x + (size_t)m * N;
        double mx = -INFINITY, sum = 0;
        for (int j = 0; j < N; j++)
            mx = fmax(mx, row[j]);
        for (int j = 0; j < N; j++)
            sum += ref[m * N + j] = exp(row[j] - mx);
        for (int j = 0; j < N; j++)
            ref[m * N + j] /= sum;
    }
    g_autofree float *reff = to_floats(ref, (size_t)M * N);
    chk_cpu()->softmax_forward(chk_cpu(), out, x, M, N);
    g_assert_true(chk_close("softmax", out, reff, (size_t)M * N, 2e-6));
    for (int m = 0; m < M; m++) {
        double sum = 0;
        for (int j = 0; j < N; j++)
            sum += out[m * N + j];
        g_assert_cmpfloat_with_epsilon(sum, 1.0, 2e-6);
    }
}

static void softmax_backward(void *p, float *const *g)
{
    rows_ctx *c = p;
    rows_loss(c); /* out at the unperturbed point */
    chk_cpu()->softmax_backward(chk_cpu(), g[0], c->r, c->out, c->M, c->N);
}

static void test_softmax_grad(void)
{
    const int M = 4, N = 19;
    rows_ctx c = { chk_random((size_t)M * N, -3.0f, 3.0f, 7), g_new(float, (size_t)M * N),
                   chk_random((size_t)M * N, -1.0f, 1.0f, 8), M, N, chk_cpu()->softmax_forward };
    chk_grad_case gc = { "softmax", rows_loss, softmax_backward, &c, 1,
                     { "dx" }, { c.x }, { (size_t)M * N } };
    chk_grad_case_run(&gc, SMOOTH_H, SMOOTH_TOL, MAX_PROBE);
    rows_free(&c);
}

/* ---- attention ---- */

typedef struct {
    int B, Tq, Tk, H, D, causal;
    float *q, *k, *v, *out, *probs, *r;
} attn_ctx;

static attn_ctx attn_new(int B, int Tq, int Tk, int H, int D, int causal, uint64_t seed)
{
    const size_t nq = (size_t)B * Tq * H * D, nk = (size_t)B * Tk * H * D;
    /* |q|,|k| up to 1.5 with D up to 40 gives scores of a few units: softmax
     * neither uniform nor one-hot, so every term of the gradient matters */
    return (attn_ctx){ B, Tq, Tk, H, D, causal,
                       chk_random(nq, -1.5f, 1.5f, seed), chk_random(nk, -1.5f, 1.5f, seed + 1),
                       chk_random(nk, -1.0f, 1.0f, seed + 2), g_new(float, nq),
                       g_new(float, (size_t)B * H * Tq * Tk), chk_random(nq, -1.0f, 1.0f, seed + 3) };
}

static void attn_free(attn_ctx *c)
{
    g_free(c->q);
    g_free(c->k);
    g_free(c->v);
    g_free(c->out);
    g_free(c->probs);
    g_free(c->r);
}

/* Naive attention in double, straight from the definition. */
static void attention_ref(const attn_ctx *c, double *out, double *probs)
{
    const int ld = c->H * c->D;
    g_autofree double *s = g_new(double, c->Tk);
    for (int b = 0; b < c->B; b++)
        for (int h = 0; h < c->H; h++)
            for (int i = 0; i < c->Tq; i++) {
                const float *qi = c->q + ((size_t)b * c->Tq + i) * ld + h * c->D;
                double mx = -INFINITY, sum = 0;
                for (int j = 0; j < c->Tk; j++) {
                    const float *kj = c->k + ((size_t)b * c->Tk + j) * ld + h * c->D;
                    double dot = 0;
                    for (int d = 0; d < c->D; d++)
                        dot += (double)qi[d] * kj[d];
                    s[j] = (c->causal && j > i) ? -INFINITY : dot / sqrt(c->D);
                    mx = fmax(mx, s[j]);
                }
                for (int j = 0; j < c->Tk; j++)
                    sum += s[j] = exp(s[j] - mx);
                double *oi = out + ((size_t)b * c->Tq + i) * ld + h * c->D;
                for (int d = 0; d < c->D; d++)
                    oi[d] = 0;
                for (int j = 0; j < c->Tk; j++) {
                    double p = s[j] / sum;
                    probs[(((size_t)b * c->H + h) * c->Tq + i) * c->Tk + j] = p;
                    const float *vj = c->v + ((size_t)b * c->Tk + j) * ld + h * c->D;
                    for (int d = 0; d < c->D; d++)
                        oi[d] += p * vj[d];
                }
            }
}

static void check_attention_values(int B, int Tq, int Tk, int H, int D, int causal)
{
    attn_ctx c = attn_new(B, Tq, Tk, H, D, causal, 100);
    const size_t no = (size_t)B * Tq * H * D, np = (size_t)B * H * Tq * Tk;
    g_autofree double *ref = g_new(double, no);
    g_autofree double *pref = g_new(double, np);
    attention_ref(&c, ref, pref);
    g_autofree float *reff = to_floats(ref, no);
    g_autofree float *preff = to_floats(pref, np);
    g_autofree char *what = g_strdup_printf("attention B%d Tq%d Tk%d H%d D%d causal %d",
                                            B, Tq, Tk, H, D, causal);

    chk_cpu()->attention_forward(chk_cpu(), c.out, c.probs, c.q, c.k, c.v, B, Tq, Tk, H, D, causal);
    g_assert_true(chk_close(what, c.out, reff, no, 1e-5));
    g_assert_true(chk_close(what, c.probs, preff, np, 1e-5));
    if (causal)   /* masked keys are exactly 0, as backward relies on */
        for (size_t bh = 0; bh < (size_t)B * H; bh++)
            for (int i = 0; i < Tq; i++)
                for (int j = i + 1; j < Tk; j++)
                    g_assert_cmpfloat(c.probs[(bh * Tq + i) * Tk + j], ==, 0.0f);

    /* inference path: no probs, scores in the workspace; the same products
     * run in the same order, so only BLAS-internal differences could
     * separate the two */
    g_autofree float *out_inf = g_new(float, no);
    chk_cpu()->attention_forward(chk_cpu(), out_inf, NULL, c.q, c.k, c.v, B, Tq, Tk, H, D, causal);
    g_assert_true(chk_close(what, out_inf, c.out, no, 1e-6));
    attn_free(&c);
}

static void test_attention_values(void)
{
    check_attention_values(2, 7, 7, 3, 40, 0);   /* SD1.5's smallest head size */
    check_attention_values(2, 7, 7, 3, 40, 1);
    check_attention_values(1, 6, 6, 2, 5, 1);    /* odd head size */
    check_attention_values(2, 6, 11, 2, 5, 0);   /* cross attention, Tq != Tk */
    check_attention_values(2, 9, 3, 4, 32, 0);   /* fewer keys than queries */
    /* head sizes a multiple of 16 take the fused path (microkernel.h): the
     * emoji teacher's self-attention on 16x16 tokens, and its cross-attention
     * on 24 text tokens (keys not a multiple of the kernel's 16 columns,
     * queries not of its 6 rows) */
    check_attention_values(2, 256, 256, 4, 16, 0);
    check_attention_values(3, 64, 24, 4, 16, 0);
    /* one head: its query rows split between the threads */
    check_attention_values(1, 150, 40, 1, 16, 0);
    /* long enough that queries split into several tiles per head (a tile
     * holds ~1 MiB of scores; causal tiles stop at 64 rows and see different
     * key counts), the last one partial */
    check_attention_values(1, 150, 150, 2, 8, 1);
    check_attention_values(1, 300, 2000, 2, 4, 0);
}

static double attn_loss(void *p)
{
    attn_ctx *c = p;
    chk_cpu()->attention_forward(chk_cpu(), c->out, c->probs, c->q, c->k, c->v,
                              c->B, c->Tq, c->Tk, c->H, c->D, c->causal);
    return chk_dot(c->out, c->r, (size_t)c->B * c->Tq * c->H * c->D);
}

static void attn_backward(void *p, float *const *g)
{
    attn_ctx *c = p;
    attn_loss(c); /* probs at the unperturbed point */
    chk_cpu()->attention_backward(chk_cpu(), g[0], g[1], g[2], c->r, c->q, c->k, c->v, c->probs,
                               c->B, c->Tq, c->Tk, c->H, c->D);
}

static void check_attention_grad(const char *op, int B, int Tq, int Tk, int H, int D, int causal)
{
    attn_ctx c = attn_new(B, Tq, Tk, H, D, causal, 200);
    const size_t nq = (size_t)B * Tq * H * D, nk = (size_t)B * Tk * H * D;
    chk_grad_case gc = { op, attn_loss, attn_backward, &c, 3,
                     { "dq", "dk", "dv" }, { c.q, c.k, c.v }, { nq, nk, nk } };
    chk_grad_case_run(&gc, ATTN_H, ATTN_TOL, MAX_PROBE);
    attn_free(&c);
}

/* Backward from the definition, in double, given the reference probs:
 * dV = P^T dO, dP = dO V^T, dS = P (dP - rowsum(dP P)), dQ = dS K / sqrt(D),
 * dK = dS^T Q / sqrt(D). Gradients start at zero. */
static void attention_backward_ref(const attn_ctx *c, const double *probs,
                                   double *dq, double *dk, double *dv)
{
    const int ld = c->H * c->D;
    const double scale = 1.0 / sqrt(c->D);
    g_autofree double *ds = g_new(double, c->Tk);
    memset(dq, 0, sizeof(double) * c->B * c->Tq * ld);
    memset(dk, 0, sizeof(double) * c->B * c->Tk * ld);
    memset(dv, 0, sizeof(double) * c->B * c->Tk * ld);
    for (int b = 0; b < c->B; b++)
        for (int h = 0; h < c->H; h++)
            for (int i = 0; i < c->Tq; i++) {
                const size_t qrow = ((size_t)b * c->Tq + i) * ld + h * c->D;
                const double *p = probs + (((size_t)b * c->H + h) * c->Tq + i) * c->Tk;
                const float *dout = c->r + qrow;
                double rowdot = 0;
                for (int j = 0; j < c->Tk; j++) {
                    const size_t krow = ((size_t)b * c->Tk + j) * ld + h * c->D;
                    double dp = 0;
                    for (int d = 0; d < c->D; d++) {
                        dp += (double)dout[d] * c->v[krow + d];
                        dv[krow + d] += p[j] * dout[d];
                    }
                    ds[j] = dp;
                    rowdot += dp * p[j];
                }
                for (int j = 0; j < c->Tk; j++) {
                    const size_t krow = ((size_t)b * c->Tk + j) * ld + h * c->D;
                    const double g = p[j] * (ds[j] - rowdot) * scale;
                    for (int d = 0; d < c->D; d++) {
                        dq[qrow + d] += g * c->k[krow + d];
                        dk[krow + d] += g * c->q[qrow + d];
                    }
                }
            }
}

/* Finite differences cannot judge dK at many keys (each key's gradient is
 * ~1/Tk, below the probe's absolute floor), so the shape where the backward
 * walks several query tiles per head, all adding into the same dK and dV, is
 * checked against the double reference instead: rtol 1e-5 as for forward. */
static void test_attention_backward_tiles(void)
{
    attn_ctx c = attn_new(1, 300, 2000, 2, 4, 0, 300);
    const size_t nq = (size_t)c.B * c.Tq * c.H * c.D, nk = (size_t)c.B * c.Tk * c.H * c.D;
    g_autofree double *out_ref = g_new(double, nq);
    g_autofree double *probs_ref = g_new(double, (size_t)c.B * c.H * c.Tq * c.Tk);
    g_autofree double *dq_ref = g_new(double, nq);
    g_autofree double *dk_ref = g_new(double, nk);
    g_autofree double *dv_ref = g_new(double, nk);
    attention_ref(&c, out_ref, probs_ref);
    attention_backward_ref(&c, probs_ref, dq_ref, dk_ref, dv_ref);

    g_autofree float *dq = g_new0(float, nq);
    g_autofree float *dk = g_new0(float, nk);
    g_autofree float *dv = g_new0(float, nk);
    float *grads[] = { dq, dk, dv };
    attn_backward(&c, grads);
    g_autofree float *dqf = to_floats(dq_ref, nq);
    g_autofree float *dkf = to_floats(dk_ref, nk);
    g_autofree float *dvf = to_floats(dv_ref, nk);
    g_assert_true(chk_close("attention tiles dq", dq, dqf, nq, 1e-5));
    g_assert_true(chk_close("attention tiles dk", dk, dkf, nk, 1e-5));
    g_assert_true(chk_close("attention tiles dv", dv, dvf, nk, 1e-5));
    attn_free(&c);
}

static void test_attention_grad(void)
{
    check_attention_grad("attention", 2, 5, 5, 2, 5, 0);
    check_attention_grad("attention causal", 2, 6, 6, 2, 8, 1);
    check_attention_grad("cross attention", 2, 4, 7, 3, 6, 0);
}

/* ---- layout ---- */

typedef struct {
    float *x, *out, *r;
    int N, H, W;
} up_ctx;

static double up_loss(void *p)
{
    up_ctx *c = p;
    chk_cpu()->upsample2x_forward(chk_cpu(), c->out, c->x, c->N, c->H, c->W);
    return chk_dot(c->out, c->r, (size_t)c->N * 4 * c->H * c->W);
}

static void up_backward(void *p, float *const *g)
{
    up_ctx *c = p;
    chk_cpu()->upsample2x_backward(chk_cpu(), g[0], c->r, c->N, c->H, c->W);
}

static void test_upsample(void)
{
    const int N = 3, H = 4, W = 5;
    const size_t n = (size_t)N * H * W;
    up_ctx c = { chk_random(n, -1.0f, 1.0f, 9), g_new(float, 4 * n),
                 chk_random(4 * n, -1.0f, 1.0f, 10), N, H, W };
    up_loss(&c);
    for (int p = 0; p < N; p++)
        for (int i = 0; i < 2 * H; i++)
            for (int j = 0; j < 2 * W; j++)
                g_assert_cmpfloat(c.out[((size_t)p * 2 * H + i) * 2 * W + j], ==,
                                  c.x[((size_t)p * H + i / 2) * W + j / 2]);
    chk_grad_case gc = { "upsample2x", up_loss, up_backward, &c, 1, { "dx" }, { c.x }, { n } };
    chk_grad_case_run(&gc, LINEAR_H, LINEAR_TOL, MAX_PROBE);
    g_free(c.x);
    g_free(c.out);
    g_free(c.r);
}

typedef struct {
    float *a, *b, *out, *r;
    int B, Ca, Cb, S;
} cat_ctx;

static double cat_loss(void *p)
{
    cat_ctx *c = p;
    chk_cpu()->concat_forward(chk_cpu(), c->out, c->a, c->b, c->B, c->Ca, c->Cb, c->S);
    return chk_dot(c->out, c->r, (size_t)c->B * (c->Ca + c->Cb) * c->S);
}

static void cat_backward(void *p, float *const *g)
{
    cat_ctx *c = p;
    chk_cpu()->concat_backward(chk_cpu(), g[0], g[1], c->r, c->B, c->Ca, c->Cb, c->S);
}

static void test_concat(void)
{
    const int B = 2, Ca = 3, Cb = 2, S = 6;
    const size_t na = (size_t)B * Ca * S, nb = (size_t)B * Cb * S, no = na + nb;
    cat_ctx c = { chk_random(na, -1.0f, 1.0f, 11), chk_random(nb, -1.0f, 1.0f, 12),
                  g_new(float, no), chk_random(no, -1.0f, 1.0f, 13), B, Ca, Cb, S };
    cat_loss(&c);
    for (int i = 0; i < B; i++)
        for (int ch = 0; ch < Ca + Cb; ch++)
            for (int s = 0; s < S; s++) {
                float want = ch < Ca ? c.a[((size_t)i * Ca + ch) * S + s]
                                     : c.b[((size_t)i * Cb + ch - Ca) * S + s];
                g_assert_cmpfloat(c.out[((size_t)i * (Ca + Cb) + ch) * S + s], ==, want);
            }
    chk_grad_case gc = { "concat", cat_loss, cat_backward, &c, 2,
                     { "da", "db" }, { c.a, c.b }, { na, nb } };
    chk_grad_case_run(&gc, LINEAR_H, LINEAR_TOL, MAX_PROBE);
    g_free(c.a);
    g_free(c.b);
    g_free(c.out);
    g_free(c.r);
}

/* ---- elementwise ---- */

typedef struct {
    float *a, *b, *out, *r;
    size_t n;
} mul_ctx;

static double mul_loss(void *p)
{
    mul_ctx *c = p;
    chk_cpu()->mul(chk_cpu(), c->out, c->a, c->b, c->n);
    return chk_dot(c->out, c->r, c->n);
}

static void mul_backward(void *p, float *const *g)
{
    mul_ctx *c = p;
    chk_cpu()->mul_backward(chk_cpu(), g[0], g[1], c->r, c->a, c->b, c->n);
}

static void test_mul_grad(void)
{
    const size_t n = 53;
    mul_ctx c = { chk_random(n, -2.0f, 2.0f, 14), chk_random(n, -2.0f, 2.0f, 15),
                  g_new(float, n), chk_random(n, -1.0f, 1.0f, 16), n };
    chk_grad_case gc = { "mul", mul_loss, mul_backward, &c, 2, { "da", "db" }, { c.a, c.b }, { n, n } };
    chk_grad_case_run(&gc, LINEAR_H, LINEAR_TOL, MAX_PROBE);
    g_free(c.a);
    g_free(c.b);
    g_free(c.out);
    g_free(c.r);
}

typedef struct {
    float *x0, *x, *v, *r;
    int B, C, S;
} addch_ctx;

static double addch_loss(void *p)
{
    addch_ctx *c = p;
    const size_t n = (size_t)c->B * c->C * c->S;
    memcpy(c->x, c->x0, n * sizeof(float));
    chk_cpu()->add_channel_forward(chk_cpu(), c->x, c->v, c->B, c->C, c->S);
    return chk_dot(c->x, c->r, n);
}

static void addch_backward(void *p, float *const *g)
{
    addch_ctx *c = p;
    chk_cpu()->add_channel_backward(chk_cpu(), g[0], c->r, c->B, c->C, c->S);
}

static void test_add_channel(void)
{
    const int B = 2, C = 3, S = 7;
    const size_t n = (size_t)B * C * S;
    addch_ctx c = { chk_random(n, -1.0f, 1.0f, 17), g_new(float, n),
                    chk_random((size_t)B * C, -1.0f, 1.0f, 18),
                    chk_random(n, -1.0f, 1.0f, 19), B, C, S };
    addch_loss(&c);
    for (size_t i = 0; i < n; i++)
        g_assert_cmpfloat(c.x[i], ==, c.x0[i] + c.v[i / S]);
    chk_grad_case gc = { "add_channel", addch_loss, addch_backward, &c, 1,
                     { "dv" }, { c.v }, { (size_t)B * C } };
    chk_grad_case_run(&gc, LINEAR_H, LINEAR_TOL, MAX_PROBE);
    g_free(c.x0);
    g_free(c.x);
    g_free(c.v);
    g_free(c.r);
}

/* add, mul, scale, axpy, fill, sum_squares on a size above the threading
 * threshold and not a multiple of any vector width. Each result is one fp32
 * operation on the inputs, so it must equal the same operation done here. */
static void test_elementwise_values(void)
{
    const size_t n = 100003;
    g_autofree float *a = chk_random(n, -3.0f, 3.0f, 20);
    g_autofree float *b = chk_random(n, -3.0f, 3.0f, 21);
    g_autofree float *out = g_new(float, n);
    scf_backend *be = chk_cpu();

    be->add(be, out, a, b, n);
    for (size_t i = 0; i < n; i++)
        g_assert_cmpfloat(out[i], ==, a[i] + b[i]);
    be->mul(be, out, a, b, n);
    for (size_t i = 0; i < n; i++)
        g_assert_cmpfloat(out[i], ==, a[i] * b[i]);
    be->scale(be, out, a, -0.75f, n);
    for (size_t i = 0; i < n; i++)
        g_assert_cmpfloat(out[i], ==, -0.75f * a[i]);
    memcpy(out, b, n * sizeof(float));
    be->axpy(be, out, a, 0.5f, n);
    for (size_t i = 0; i < n; i++)
        g_assert_cmpfloat(out[i], ==, b[i] + 0.5f * a[i]);
    be->fill(be, out, 2.5f, n);
    for (size_t i = 0; i < n; i++)
        g_assert_cmpfloat(out[i], ==, 2.5f);
    /* aliasing, as the table allows: out = a + out */
    memcpy(out, b, n * sizeof(float));
    be->add(be, out, a, out, n);
    for (size_t i = 0; i < n; i++)
        g_assert_cmpfloat(out[i], ==, a[i] + b[i]);

    /* double accumulation: only the summation order differs from this loop */
    double want = 0;
    for (size_t i = 0; i < n; i++)
        want += (double)a[i] * a[i];
    g_assert_cmpfloat_with_epsilon(be->sum_squares(be, a, n), want, want * 1e-12);
    g_assert_cmpfloat(be->sum_squares(be, a, 0), ==, 0.0);
}

/* copy and zero split large buffers between the threads in 256 KiB chunks:
 * a size that is no multiple of the chunk (nor of a float) must come out
 * whole, and the bytes just past it untouched. */
static void test_copy_zero_large(void)
{
    const size_t bytes = ((size_t)5 << 19) + 6, guard = 64;
    g_autofree uint8_t *src = g_new(uint8_t, bytes);
    g_autofree uint8_t *dst = g_new(uint8_t, bytes + guard);
    for (size_t i = 0; i < bytes; i++)
        src[i] = (uint8_t)(i * 2654435761u >> 24);
    memset(dst, 0xA5, bytes + guard);
    scf_backend *be = chk_cpu();
    be->copy(be, dst, src, bytes);
    g_assert_cmpmem(dst, bytes, src, bytes);
    for (size_t i = bytes; i < bytes + guard; i++)
        g_assert_cmpuint(dst[i], ==, 0xA5);
    be->zero(be, dst, bytes);
    for (size_t i = 0; i < bytes; i++)
        g_assert_cmpuint(dst[i], ==, 0);
    for (size_t i = bytes; i < bytes + guard; i++)
        g_assert_cmpuint(dst[i], ==, 0xA5);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/ops/expf", test_expf);
    g_test_add_func("/ops/activation/values", test_activation_values);
    g_test_add_func("/ops/activation/grad", test_activation_grad);
    g_test_add_func("/ops/geglu", test_geglu);
    g_test_add_func("/ops/softmax/values", test_softmax_values);
    g_test_add_func("/ops/softmax/grad", test_softmax_grad);
    g_test_add_func("/ops/attention/values", test_attention_values);
    g_test_add_func("/ops/attention/grad", test_attention_grad);
    g_test_add_func("/ops/attention/backward-tiles", test_attention_backward_tiles);
    g_test_add_func("/ops/upsample2x", test_upsample);
    g_test_add_func("/ops/concat", test_concat);
    g_test_add_func("/ops/mul/grad", test_mul_grad);
    g_test_add_func("/ops/add-channel", test_add_channel);
    g_test_add_func("/ops/elementwise/values", test_elementwise_values);
    g_test_add_func("/ops/copy-zero-large", test_copy_zero_large);
    return g_test_run();
}
