/* CPU <-> CUDA parity of the CUDA kernels of issue 8, part B:
 * attention (both forward paths and backward), softmax, the losses,
 * softplus, sum_squares, AdamW, EMA and the Philox streams.
 *
 * Each case is written once as a function of a backend: it uploads its
 * inputs from the same seeded host arrays, runs the kernels and keeps its
 * output buffers; the CUDA outputs are then compared with the CPU's (the
 * reference). Outputs start filled with seeded random values, identical on
 * both backends, so accumulating kernels add onto nonzero contents, and an
 * element one backend writes and the other skips shows up as a mismatch.
 *
 * Exits 77 (skip) without a GPU or without the CUDA backend. */
#include "cuda-check.h"

#define MAX_BUFS 16

/* The buffers one run of a case made on one backend, and which are compared. */
typedef struct {
    scf_backend *be;
    int n;
    float *buf[MAX_BUFS];
    size_t len[MAX_BUFS];
    const char *what[MAX_BUFS]; /* NULL: an input, not compared */
    double rtol[MAX_BUFS];
    int nscalar;
    float scalar[MAX_BUFS];
    const char *scalar_what[MAX_BUFS];
    double scalar_rtol[MAX_BUFS];
} run;

typedef void (*case_fn)(run *r, const void *params);

static float *add_buf(run *r, const char *what, double rtol, size_t n, float lo, float hi,
                      uint64_t seed)
{
    g_assert_cmpint(r->n, <, MAX_BUFS);
    g_autofree float *host = chk_random(n, lo, hi, seed);
    float *dev = cc_upload(r->be, host, n);
    r->buf[r->n] = dev;
    r->len[r->n] = n;
    r->what[r->n] = what;
    r->rtol[r->n] = rtol;
    r->n++;
    return dev;
}

/* An input of n values uniform in [lo, hi). */
static float *input(run *r, size_t n, float lo, float hi, uint64_t seed)
{
    return add_buf(r, NULL, 0.0, n, lo, hi, seed);
}

/* An output compared at rtol (chk_close) once both backends have run. */
static float *output(run *r, const char *what, double rtol, size_t n, float lo, float hi,
                     uint64_t seed)
{
    return add_buf(r, what, rtol, n, lo, hi, seed);
}

/* A host value (loss, sum) compared like an output. */
static void scalar(run *r, const char *what, double rtol, float value)
{
    g_assert_cmpint(r->nscalar, <, MAX_BUFS);
    r->scalar[r->nscalar] = value;
    r->scalar_what[r->nscalar] = what;
    r->scalar_rtol[r->nscalar] = rtol;
    r->nscalar++;
}

/* Runs the case on the CPU and on CUDA and compares every output. */
static void compare(case_fn fn, const void *params)
{
    run cpu = { .be = chk_cpu() }, gpu = { .be = cc_cuda_or_skip() };
    fn(&cpu, params);
    fn(&gpu, params);
    g_assert_cmpint(cpu.n, ==, gpu.n);
    g_assert_cmpint(cpu.nscalar, ==, gpu.nscalar);
    gboolean ok = TRUE;
    for (int i = 0; i < cpu.n; i++)
        if (cpu.what[i])
            ok &= cc_close(cpu.what[i], gpu.be, gpu.buf[i], cpu.buf[i], cpu.len[i], cpu.rtol[i]);
    for (int i = 0; i < cpu.nscalar; i++)
        ok &= chk_close(cpu.scalar_what[i], &gpu.scalar[i], &cpu.scalar[i], 1,
                        cpu.scalar_rtol[i]);
    for (int i = 0; i < cpu.n; i++) {
        cpu.be->free(cpu.be, cpu.buf[i]);
        gpu.be->free(gpu.be, gpu.buf[i]);
    }
    g_assert_true(ok);
}

/* Registers fn for each element p_ of array, at prefix/namefmt formatted from p_. */
#define ADD_CASES(prefix, array, fn, namefmt, ...)                                         \
    for (size_t i_ = 0; i_ < G_N_ELEMENTS(array); i_++) {                                  \
        const typeof(array[0]) *p_ = &array[i_];                                           \
        g_autofree char *path_ = g_strdup_printf(prefix "/" namefmt, __VA_ARGS__);         \
        g_test_add_data_func(path_, p_, fn);                                               \
    }

/* ---- attention ----
 * rtol 1e-4 everywhere: OpenBLAS and cuBLAS sum the fp32 products in
 * different orders (up to 4096 terms), the fused path's online softmax
 * rescales where the CPU normalises once, and expf differs by an ulp or two;
 * all of that stays near 1e-6 of the tensor's scale, while a wrong index or
 * mask gives errors of order one. (Assumes cuBLAS's default FP32 math; TF32
 * GEMMs would need about 1e-2.) */

typedef struct {
    int B, Tq, Tk, H, D, causal;
} attn_shape;

static const attn_shape attn_shapes[] = {
    { 2, 256, 256, 2, 64, 0 },    /* self-attention */
    { 1, 4096, 77, 2, 40, 0 },    /* SD 1.5's first cross-attention: 64x64 latents, 77 tokens */
    { 1, 130, 97, 3, 80, 0 },     /* odd lengths, D 80 */
    { 2, 33, 50, 1, 128, 0 },     /* D 128 */
    { 1, 64, 64, 2, 160, 0 },     /* D 160: the fused kernel's widest */
    { 1, 45, 70, 3, 37, 0 },      /* D not a multiple of 4: padded columns */
    { 2, 77, 77, 4, 64, 1 },      /* CLIP's causal text attention */
    { 1, 300, 300, 2, 40, 1 },    /* causal over several key and query tiles */
    { 2, 33, 1, 2, 64, 0 },       /* a single key */
    { 3, 1, 77, 2, 64, 0 },       /* a single query */
    { 2, 40, 50, 2, 192, 0 },     /* D > 160: the chunked cuBLAS forward */
    /* causal and chunked: 32 MiB of scores is 838 query rows here, so chunks
     * of 838, 838 and 824 rows (backward, and the forward at D > 160) */
    { 1, 2500, 2500, 4, 192, 1 },
};

static void attention_case(run *r, const void *params)
{
    const attn_shape *s = params;
    scf_backend *be = r->be;
    const int B = s->B, Tq = s->Tq, Tk = s->Tk, H = s->H, D = s->D;
    const size_t nq = (size_t)B * Tq * H * D, nk = (size_t)B * Tk * H * D;
    const size_t np = (size_t)B * H * Tq * Tk;
    const double tol = 1e-4;
    const float *q = input(r, nq, -1.5f, 1.5f, 1);
    const float *k = input(r, nk, -1.5f, 1.5f, 2);
    const float *v = input(r, nk, -1.0f, 1.0f, 3);
    const float *dout = input(r, nq, -1.0f, 1.0f, 4);
    float *out = output(r, "out (probs saved)", tol, nq, -1, 1, 10);
    float *probs = output(r, "probs", tol, np, -1, 1, 11);
    float *out_fused = output(r, "out (probs NULL)", tol, nq, -1, 1, 12);
    float *dq = output(r, "dq", tol, nq, -1, 1, 13);
    float *dk = output(r, "dk", tol, nk, -1, 1, 14);
    float *dv = output(r, "dv", tol, nk, -1, 1, 15);
    float *dq_only = output(r, "dq alone", tol, nq, -1, 1, 16);
    float *dk_only = output(r, "dk alone", tol, nk, -1, 1, 17);
    float *dv_only = output(r, "dv alone", tol, nk, -1, 1, 18);

    be->attention_forward(be, out, probs, q, k, v, B, Tq, Tk, H, D, s->causal);
    be->attention_forward(be, out_fused, NULL, q, k, v, B, Tq, Tk, H, D, s->causal);
    be->attention_backward(be, dq, dk, dv, dout, q, k, v, probs, B, Tq, Tk, H, D);
    be->attention_backward(be, dq_only, NULL, NULL, dout, q, k, v, probs, B, Tq, Tk, H, D);
    be->attention_backward(be, NULL, dk_only, NULL, dout, q, k, v, probs, B, Tq, Tk, H, D);
    be->attention_backward(be, NULL, NULL, dv_only, dout, q, k, v, probs, B, Tq, Tk, H, D);
    be->attention_backward(be, NULL, NULL, NULL, dout, q, k, v, probs, B, Tq, Tk, H, D);
}

static void test_attention(const void *params)
{
    compare(attention_case, params);
}

/* ---- softmax ----
 * rtol 1e-5: the same max-subtracted form; the row sum's order and expf's
 * last bits differ, a few ulp of each element. */

typedef struct {
    int M, N;
    float range; /* inputs in [-range, range) */
} softmax_shape;

static const softmax_shape softmax_shapes[] = {
    { 1, 1, 8 }, { 7, 77, 8 }, { 64, 1000, 8 }, { 3, 4101, 8 }, { 1000, 13, 8 },
    { 5, 300, 80 }, /* most terms underflow to 0 */
};

static void softmax_case(run *r, const void *params)
{
    const softmax_shape *s = params;
    scf_backend *be = r->be;
    const size_t n = (size_t)s->M * s->N;
    const float *x = input(r, n, -s->range, s->range, 1);
    const float *dy = input(r, n, -1, 1, 2);
    float *y = output(r, "softmax", 1e-5, n, -1, 1, 3);
    float *dx = output(r, "softmax dx", 1e-5, n, -1, 1, 4);
    be->softmax_forward(be, y, x, s->M, s->N);
    be->softmax_backward(be, dx, dy, y, s->M, s->N);
    be->softmax_backward(be, NULL, dy, y, s->M, s->N);
}

static void test_softmax(const void *params)
{
    compare(softmax_case, params);
}

/* ---- losses, softplus, sum_squares ----
 * Sizes around the reduction's grid: 1024 blocks x 256 threads = 262144
 * terms per grid-stride pass. Forward rtol 1e-6: the sums are double on both
 * sides and only the float softplus terms differ (an ulp or two). Gradients
 * rtol 1e-6: the same fp32 formula per element; contraction into FMA and
 * expf/log1pf differ by an ulp or two. Each sum is also taken twice and must
 * repeat bit for bit. */

typedef enum { L_MSE, L_HUBER, L_HUBER_WIDE, L_GAN_REAL, L_GAN_FAKE, L_SOFTPLUS, L_SUMSQ } loss_kind;

static const char *const loss_names[] = {
    "mse", "pseudo-huber", "pseudo-huber-c10", "gan-minus", "gan-plus", "softplus",
    "sum-squares",
};
/* pseudo-Huber's c: consistency models' value at 64x64 (0.00054 sqrt(d)), and
 * one far above |a - b| where the naive form would cancel */
#define HUBER_C 0.03f
#define HUBER_C_WIDE 10.0f

typedef struct {
    loss_kind kind;
    size_t n;
} loss_shape;

static const size_t loss_sizes[] = { 1, 1000, 262145, 1000003 };
static loss_shape loss_shapes[G_N_ELEMENTS(loss_names) * G_N_ELEMENTS(loss_sizes)];

static float loss_value(scf_backend *be, loss_kind kind, const float *a, const float *b,
                        size_t n)
{
    switch (kind) {
    case L_MSE:           return be->mse_forward(be, a, b, n);
    case L_HUBER:         return be->pseudo_huber_forward(be, a, b, n, HUBER_C);
    case L_HUBER_WIDE:    return be->pseudo_huber_forward(be, a, b, n, HUBER_C_WIDE);
    case L_GAN_REAL:      return be->gan_logistic_forward(be, a, n, -1.0f);
    case L_GAN_FAKE:      return be->gan_logistic_forward(be, a, n, 1.0f);
    default:              g_assert_not_reached();
    }
}

static void loss_grad(scf_backend *be, loss_kind kind, float *da, const float *a,
                      const float *b, size_t n)
{
    const float dloss = 0.7f;
    switch (kind) {
    case L_MSE:           be->mse_backward(be, da, a, b, n, dloss); return;
    case L_HUBER:         be->pseudo_huber_backward(be, da, a, b, n, HUBER_C, dloss); return;
    case L_HUBER_WIDE:    be->pseudo_huber_backward(be, da, a, b, n, HUBER_C_WIDE, dloss); return;
    case L_GAN_REAL:      be->gan_logistic_backward(be, da, a, n, -1.0f, dloss); return;
    case L_GAN_FAKE:      be->gan_logistic_backward(be, da, a, n, 1.0f, dloss); return;
    default:              g_assert_not_reached();
    }
}

static void loss_case(run *r, const void *params)
{
    const loss_shape *s = params;
    scf_backend *be = r->be;
    /* logits up to +-30 reach softplus's linear and vanishing ends; the
     * regression losses see predictions and targets of unit scale */
    const float range = s->kind == L_MSE || s->kind == L_HUBER || s->kind == L_HUBER_WIDE ? 1 : 30;
    const float *a = input(r, s->n, -range, range, 1);
    const float *b = input(r, s->n, -1, 1, 2);
    const float *dout = input(r, s->n, -1, 1, 3);
    float *grad = output(r, "gradient", 1e-6, s->n, -1, 1, 4);
    if (s->kind == L_SUMSQ) {
        double once = be->sum_squares(be, a, s->n), again = be->sum_squares(be, a, s->n);
        g_assert_true(once == again);
        scalar(r, "sum_squares", 1e-7, (float)once);
    } else if (s->kind == L_SOFTPLUS) {
        float *out = output(r, "softplus", 1e-6, s->n, -1, 1, 5);
        be->softplus_forward(be, out, a, s->n);
        be->softplus_backward(be, grad, dout, a, s->n);
        be->softplus_backward(be, NULL, dout, a, s->n);
    } else {
        float once = loss_value(be, s->kind, a, b, s->n);
        float again = loss_value(be, s->kind, a, b, s->n);
        g_assert_true(once == again);
        scalar(r, "loss", 1e-6, once);
        loss_grad(be, s->kind, grad, a, b, s->n);
        loss_grad(be, s->kind, NULL, a, b, s->n);
    }
}

static void test_loss(const void *params)
{
    compare(loss_case, params);
}

/* ---- AdamW and EMA ----
 * rtol 1e-6: the same fp32 update per element from the same host-formed
 * scalars; only FMA contraction differs, an ulp per step. */

typedef struct {
    size_t n;
    int64_t first_step; /* steps first_step .. first_step + 3 */
} optim_shape;

static const optim_shape optim_shapes[] = { { 1, 1 }, { 100003, 1 }, { 1000003, 1000 } };

static void adamw_case(run *r, const void *params)
{
    const optim_shape *s = params;
    scf_backend *be = r->be;
    float *param = output(r, "param", 1e-6, s->n, -1, 1, 1);
    float *m = output(r, "m", 1e-6, s->n, -0.1f, 0.1f, 2);
    float *v = output(r, "v", 1e-6, s->n, 0, 0.01f, 3);
    for (int step = 0; step < 4; step++) {
        const float *grad = input(r, s->n, -1, 1, 10 + (uint64_t)step);
        be->adamw_update(be, param, grad, m, v, s->n, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f,
                         s->first_step + step);
    }
}

static void test_adamw(const void *params)
{
    compare(adamw_case, params);
}

static void ema_case(run *r, const void *params)
{
    const optim_shape *s = params;
    scf_backend *be = r->be;
    float *ema = output(r, "ema", 1e-6, s->n, -1, 1, 1);
    for (int step = 0; step < 3; step++) {
        const float *param = input(r, s->n, -1, 1, 10 + (uint64_t)step);
        be->ema_update(be, ema, param, s->n, 0.999f);
    }
}

static void test_ema(const void *params)
{
    compare(ema_case, params);
}

/* ---- Philox streams ----
 * The n values go 3 floats into a buffer with 3 spare floats on each side,
 * which must stay as they were. Uniform: rtol 0, exact (integer arithmetic, one rounding of
 * an exact double). Normal: rtol 1e-7, one float ulp: log, cos and sin in
 * double may differ in their last bit between glibc and CUDA, which changes
 * the float only when it lies on a rounding boundary. */

typedef struct {
    int normal;
    size_t n;
    uint64_t seed, offset;
} rng_shape;

static const rng_shape rng_shapes[] = {
    { 0, 1, 1, 0 },          { 1, 1, 1, 0 },
    { 0, 3, 7, 5 },          { 1, 3, 7, 5 },
    { 0, 7, 42, 1 },         { 1, 7, 42, 1 },
    { 0, 1000001, 42, 3 },   { 1, 1000001, 42, 3 },
    /* a 64-bit seed, and blocks past 2^32: the counter's high word */
    { 0, 4097, 0x0123456789abcdefull, ((uint64_t)1 << 34) + 2 },
    { 1, 4097, 0x0123456789abcdefull, ((uint64_t)1 << 34) + 2 },
};

static void rng_case(run *r, const void *params)
{
    const rng_shape *s = params;
    scf_backend *be = r->be;
    float *out = output(r, s->normal ? "normal" : "uniform", s->normal ? 1e-7 : 0.0, s->n + 6,
                        -1, 1, 1);
    if (s->normal)
        be->rng_normal(be, out + 3, s->n, s->seed, s->offset);
    else
        be->rng_uniform(be, out + 3, s->n, s->seed, s->offset);
}

static void test_rng(const void *params)
{
    compare(rng_case, params);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    cc_cuda_or_skip();

    ADD_CASES("/attention", attn_shapes, test_attention, "B%d-Tq%d-Tk%d-H%d-D%d%s", p_->B,
              p_->Tq, p_->Tk, p_->H, p_->D, p_->causal ? "-causal" : "");
    ADD_CASES("/softmax", softmax_shapes, test_softmax, "%dx%d-range%g", p_->M, p_->N,
              (double)p_->range);
    for (size_t i = 0; i < G_N_ELEMENTS(loss_shapes); i++)
        loss_shapes[i] = (loss_shape){ (loss_kind)(i / G_N_ELEMENTS(loss_sizes)),
                                       loss_sizes[i % G_N_ELEMENTS(loss_sizes)] };
    ADD_CASES("/loss", loss_shapes, test_loss, "%s-n%zu", loss_names[p_->kind], p_->n);
    ADD_CASES("/adamw", optim_shapes, test_adamw, "n%zu-t%" G_GINT64_FORMAT, p_->n,
              p_->first_step);
    ADD_CASES("/ema", optim_shapes, test_ema, "n%zu", p_->n);
    ADD_CASES("/rng", rng_shapes, test_rng, "%s-n%zu-seed%" G_GUINT64_FORMAT
              "-offset%" G_GUINT64_FORMAT, p_->normal ? "normal" : "uniform", p_->n, p_->seed,
              p_->offset);
    return g_test_run();
}
