/* The CUDA backend's reduced compute precisions (backend.h,
 * core/cuda/cuda_precision.h) against the CPU backend in fp32: linear,
 * conv2d and attention's cuBLAS path, forward and backward, in tf32, bf16
 * and fp16; the 16-bit weight cache across every way the engine writes a
 * parameter and across precision switches; graph recordings, which must
 * neither make nor replay stale 16-bit copies; and a whole 4-step
 * generation of the embedded model. Exits 77 without a GPU.
 *
 * Tolerances (chk_error: max |got - ref| / (|ref_i| + max |ref|)). Operands
 * rounded to a p-bit significand carry a relative error of at most
 * u = 2^-p each (bf16 u = 2^-8 = 3.9e-3; fp16 and tf32 u = 2^-11 = 4.9e-4),
 * and sums stay fp32. For zero-mean inputs a product's sum and its rounding
 * error both grow as sqrt(K), so the error relative to the tensor's scale
 * does not grow with the reduction length K. Emulating the rounding on the
 * CPU (operands rounded, then OpenBLAS) for these shapes gave 1.3e-3 ..
 * 2.4e-3 in bf16 and 1.9e-4 .. 3.2e-4 in fp16/tf32 for linear and conv (K
 * from 33 to 4096), up to 3.5e-3 and 4.3e-4 for attention's gradients.
 * - bf16: rtol 1e-2, about 3x the worst emulated error.
 * - fp16, tf32: rtol 2e-3, about 5x it (tensor cores may truncate to tf32
 *   instead of rounding: twice the error).
 * Each product's output must also differ from fp32 by at least a tenth of
 * the emulated error (2e-4 bf16, 2e-5 fp16): a path that stayed fp32 (about
 * 1e-6 here) fails. Not for tf32: cuBLAS may pick a non-tensor-core kernel
 * for small products, so tf32 is allowed to be exact.
 *
 * Generation: emulated on the CPU, a 4-step guided generation of the
 * embedded model was 66 dB PSNR from fp32 in bf16 (largest pixel difference
 * 2/255) and 86 dB in fp16; the fused attention stays fp32 on the GPU, as
 * in the emulation. Bounds: 50 dB (RMS error 0.3% of the range) in bf16,
 * 65 dB in fp16: room for the GPU's own fp32 differences, while a stale or
 * misread weight falls far below (< 30 dB). */
#include "cuda-check.h"
#include "build-config.h"
#include "scflow.h"
#include <math.h>
#include <string.h>

typedef struct {
    scf_precision p;
    double rtol;   /* the bound above */
    double floor;  /* a product must differ at least this much (0: may be exact) */
} precision_case;

static const precision_case precisions[] = {
    { SCF_PRECISION_TF32, 2e-3, 0 },
    { SCF_PRECISION_BF16, 1e-2, 2e-4 },
    { SCF_PRECISION_FP16, 2e-3, 2e-5 },
};

static scf_backend *cuda_in(scf_precision p)
{
    scf_backend *be = cc_cuda_or_skip();
    GError *error = NULL;
    g_assert_true(scf_backend_set_precision(be, p, &error));
    g_assert_no_error(error);
    g_assert_cmpint(be->precision, ==, p);
    return be;
}

/* ---- one kernel case on a backend: inputs from fixed seeds, outputs
 * downloaded ---- */

enum { MAX_OUT = 6, MAX_IN = 8 };

typedef struct {
    scf_backend *be;
    int n_out, n_in;
    const char *name[MAX_OUT];
    float *dev[MAX_OUT];
    size_t len[MAX_OUT];
    gboolean product[MAX_OUT]; /* made by a matrix product: the floor applies */
    float *in[MAX_IN];
} run;

static const float *input(run *r, size_t n, float lo, float hi, uint64_t seed)
{
    g_assert_cmpint(r->n_in, <, MAX_IN);
    g_autofree float *host = chk_random(n, lo, hi, seed);
    return r->in[r->n_in++] = cc_upload(r->be, host, n);
}

/* An output starting at random values from seed (forward kernels overwrite
 * it, backward kernels add onto it), or at zeros when seed is 0. */
static float *output(run *r, const char *name, size_t n, gboolean product, uint64_t seed)
{
    g_assert_cmpint(r->n_out, <, MAX_OUT);
    g_autofree float *host = seed ? chk_random(n, -1.0f, 1.0f, seed) : NULL;
    r->name[r->n_out] = name;
    r->len[r->n_out] = n;
    r->product[r->n_out] = product;
    return r->dev[r->n_out++] = cc_upload(r->be, host, n);
}

static void run_free(run *r)
{
    for (int i = 0; i < r->n_out; i++)
        r->be->free(r->be, r->dev[i]);
    for (int i = 0; i < r->n_in; i++)
        r->be->free(r->be, r->in[i]);
}

typedef struct {
    int M, K, N;
} linear_p;

static void linear_case(run *r, const void *params)
{
    const linear_p *p = params;
    const size_t nin = (size_t)p->M * p->K, nw = (size_t)p->N * p->K, nout = (size_t)p->M * p->N;
    const float *in = input(r, nin, -1, 1, 1), *w = input(r, nw, -0.5f, 0.5f, 2),
                *b = input(r, p->N, -1, 1, 3), *dout = input(r, nout, -1, 1, 4);
    scf_backend *be = r->be;
    be->linear_forward(be, output(r, "out", nout, TRUE, 5), in, w, b, p->M, p->K, p->N);
    be->linear_backward(be, output(r, "din", nin, TRUE, 6), output(r, "dw", nw, TRUE, 7),
                        output(r, "db", p->N, FALSE, 8), dout, in, w, p->M, p->K, p->N);
}

typedef struct {
    int B, Cin, H, W, Cout, k, stride, pad;
} conv_p;

static void conv_case(run *r, const void *params)
{
    const conv_p *p = params;
    const int Ho = (p->H + 2 * p->pad - p->k) / p->stride + 1,
              Wo = (p->W + 2 * p->pad - p->k) / p->stride + 1;
    const size_t nin = (size_t)p->B * p->Cin * p->H * p->W,
                 nw = (size_t)p->Cout * p->Cin * p->k * p->k,
                 nout = (size_t)p->B * p->Cout * Ho * Wo;
    const float *in = input(r, nin, -1, 1, 11), *w = input(r, nw, -0.5f, 0.5f, 12),
                *b = input(r, p->Cout, -1, 1, 13), *dout = input(r, nout, -1, 1, 14);
    scf_backend *be = r->be;
    be->conv2d_forward(be, output(r, "out", nout, TRUE, 15), in, w, b, p->B, p->Cin, p->H, p->W,
                       p->Cout, p->k, p->stride, p->pad);
    be->conv2d_backward(be, output(r, "din", nin, TRUE, 16), output(r, "dw", nw, TRUE, 17),
                        output(r, "db", p->Cout, FALSE, 18), dout, in, w, p->B, p->Cin, p->H,
                        p->W, p->Cout, p->k, p->stride, p->pad);
}

typedef struct {
    int B, Tq, Tk, H, D, causal;
} attention_p;

/* The cuBLAS path: forward keeping probs (training) and its backward. The
 * gradients start at zero: attention's are small beside random contents,
 * which would hide their rounding. */
static void attention_case(run *r, const void *params)
{
    const attention_p *p = params;
    const size_t nq = (size_t)p->B * p->Tq * p->H * p->D, nk = (size_t)p->B * p->Tk * p->H * p->D,
                 np = (size_t)p->B * p->H * p->Tq * p->Tk;
    const float *q = input(r, nq, -1, 1, 21), *k = input(r, nk, -1, 1, 22),
                *v = input(r, nk, -1, 1, 23), *dout = input(r, nq, -1, 1, 24);
    scf_backend *be = r->be;
    float *probs = output(r, "probs", np, TRUE, 25);
    be->attention_forward(be, output(r, "out", nq, TRUE, 26), probs, q, k, v, p->B, p->Tq, p->Tk,
                          p->H, p->D, p->causal);
    be->attention_backward(be, output(r, "dq", nq, TRUE, 0), output(r, "dk", nk, TRUE, 0),
                           output(r, "dv", nk, TRUE, 0), dout, q, k, v, probs, p->B, p->Tq,
                           p->Tk, p->H, p->D);
}

/* Inference with a head size the fused kernel does not take (> 160): the
 * chunked cuBLAS path without probs. */
static void attention_wide_case(run *r, const void *params)
{
    const attention_p *p = params;
    const size_t nq = (size_t)p->B * p->Tq * p->H * p->D, nk = (size_t)p->B * p->Tk * p->H * p->D;
    const float *q = input(r, nq, -1, 1, 31), *k = input(r, nk, -1, 1, 32),
                *v = input(r, nk, -1, 1, 33);
    r->be->attention_forward(r->be, output(r, "out", nq, TRUE, 34), NULL, q, k, v, p->B, p->Tq,
                             p->Tk, p->H, p->D, p->causal);
}

typedef void (*case_fn)(run *r, const void *params);

typedef struct {
    const char *name;
    case_fn fn;
    const void *params;
} kernel_case;

static const kernel_case kernel_cases[] = {
    { "linear/7x33x65", linear_case, &(linear_p){ 7, 33, 65 } },
    { "linear/sd-512x320x1280", linear_case, &(linear_p){ 512, 320, 1280 } },
    { "linear/long-k-64x4096x64", linear_case, &(linear_p){ 64, 4096, 64 } },
    { "conv/3x3-s1-p1", conv_case, &(conv_p){ 2, 5, 7, 9, 6, 3, 1, 1 } },
    { "conv/3x3-s2-p1", conv_case, &(conv_p){ 3, 4, 9, 8, 5, 3, 2, 1 } },
    { "conv/1x1", conv_case, &(conv_p){ 2, 37, 5, 6, 19, 1, 1, 0 } },
    { "conv/sd-2x320x16x16", conv_case, &(conv_p){ 2, 320, 16, 16, 320, 3, 1, 1 } },
    { "attention/self-2x256x256-h2-d64", attention_case, &(attention_p){ 2, 256, 256, 2, 64, 0 } },
    { "attention/cross-1x300x77-h2-d40", attention_case, &(attention_p){ 1, 300, 77, 2, 40, 0 } },
    { "attention/causal-2x77-h4-d64", attention_case, &(attention_p){ 2, 77, 77, 4, 64, 1 } },
    { "attention/wide-1x300x77-h2-d192", attention_wide_case,
      &(attention_p){ 1, 300, 77, 2, 192, 0 } },
};

typedef struct {
    const kernel_case *kc;
    const precision_case *pc;
} kernel_test;

static void test_kernel(gconstpointer data)
{
    const kernel_test *t = data;
    run ref = { .be = chk_cpu() };
    t->kc->fn(&ref, t->kc->params);
    run got = { .be = cuda_in(t->pc->p) };
    t->kc->fn(&got, t->kc->params);
    g_assert_cmpint(ref.n_out, ==, got.n_out);
    gboolean ok = TRUE;
    for (int i = 0; i < ref.n_out; i++) {
        g_autofree float *host = cc_download(got.be, got.dev[i], got.len[i]);
        g_autofree char *what = g_strdup_printf("%s %s %s", scf_precision_name(t->pc->p),
                                                t->kc->name, ref.name[i]);
        const double err = chk_error(host, ref.dev[i], ref.len[i]);
        g_test_message("%s: error %.2e (bound %.0e)", what, err, t->pc->rtol);
        ok &= chk_close(what, host, ref.dev[i], ref.len[i], t->pc->rtol);
        if (ref.product[i] && err < t->pc->floor) {
            g_test_message("%s: error %.2e below %.0e: the product did not run in %s", what, err,
                           t->pc->floor, scf_precision_name(t->pc->p));
            ok = FALSE;
        }
    }
    run_free(&ref);
    run_free(&got);
    scf_backend_set_precision(got.be, SCF_PRECISION_FP32, NULL);
    g_assert_true(ok);
}

/* ---- the weight cache ---- */

enum { CM = 64, CK = 256, CN = 128, CW = CN * CK };

/* A write to the weight w[CW] through one entry of the table, the same on
 * both backends; other is a second device buffer of CW values. */
typedef void (*writer_fn)(scf_backend *be, float *w, const float *other);

static void write_upload(scf_backend *be, float *w, const float *other)
{
    (void)other;
    g_autofree float *host = chk_random(CW, -0.5f, 0.5f, 41);
    be->upload(be, w, host, CW * sizeof(float));
}

/* only the second half: a write that starts inside the cached span */
static void write_upload_half(scf_backend *be, float *w, const float *other)
{
    (void)other;
    g_autofree float *host = chk_random(CW / 2, -0.5f, 0.5f, 42);
    be->upload(be, w + CW / 2, host, CW / 2 * sizeof(float));
}

static void write_copy(scf_backend *be, float *w, const float *other)
{
    be->copy(be, w, other, CW * sizeof(float));
}

static void write_zero(scf_backend *be, float *w, const float *other)
{
    (void)other;
    be->zero(be, w, CW * sizeof(float));
}

static void write_fill(scf_backend *be, float *w, const float *other)
{
    (void)other;
    be->fill(be, w, 0.25f, CW);
}

static void write_rng(scf_backend *be, float *w, const float *other)
{
    (void)other;
    be->rng_normal(be, w, CW, 43, 0);
}

/* a big step, so that every weight moves by far more than bf16's rounding */
static void write_adamw(scf_backend *be, float *w, const float *other)
{
    float *m = cc_upload(be, NULL, CW), *v = cc_upload(be, NULL, CW);
    be->adamw_update(be, w, other, m, v, CW, 0.1f, 0.9f, 0.999f, 1e-8f, 0.0f, 1);
    be->free(be, m);
    be->free(be, v);
}

static void write_ema(scf_backend *be, float *w, const float *other)
{
    be->ema_update(be, w, other, CW, 0.5f);
}

/* freed and allocated again: the allocator may give the same address */
static float *reallocate(scf_backend *be, float *w)
{
    be->free(be, w);
    g_autofree float *host = chk_random(CW, -0.5f, 0.5f, 44);
    return cc_upload(be, host, CW);
}

typedef struct {
    const char *name;
    writer_fn write; /* NULL: reallocate */
} writer_case;

static const writer_case writers[] = {
    { "upload", write_upload }, { "upload-half", write_upload_half }, { "copy", write_copy },
    { "zero", write_zero },     { "fill", write_fill },               { "rng", write_rng },
    { "adamw", write_adamw },   { "ema", write_ema },                 { "free", NULL },
};

/* out[CM,CN] = linear(in, w) after the weight was used once and then
 * written by the writer, on be (host copy). */
static float *linear_after_write(scf_backend *be, const writer_case *wc)
{
    g_autofree float *hin = chk_random((size_t)CM * CK, -1, 1, 51),
                     *hw = chk_random(CW, -0.5f, 0.5f, 52), *hother = chk_random(CW, -1, 1, 53);
    float *in = cc_upload(be, hin, (size_t)CM * CK), *w = cc_upload(be, hw, CW),
          *other = cc_upload(be, hother, CW), *out = cc_upload(be, NULL, (size_t)CM * CN);
    be->linear_forward(be, out, in, w, NULL, CM, CK, CN); /* caches w's 16-bit copy */
    if (wc->write)
        wc->write(be, w, other);
    else
        w = reallocate(be, w);
    be->linear_forward(be, out, in, w, NULL, CM, CK, CN);
    float *host = cc_download(be, out, (size_t)CM * CN);
    float *bufs[] = { in, w, other, out };
    for (int i = 0; i < 4; i++)
        be->free(be, bufs[i]);
    return host;
}

static void test_weight_cache(gconstpointer data)
{
    const writer_case *wc = data;
    g_autofree float *ref = linear_after_write(chk_cpu(), wc);
    scf_backend *be = cuda_in(SCF_PRECISION_BF16);
    g_autofree float *got = linear_after_write(be, wc);
    scf_backend_set_precision(be, SCF_PRECISION_FP32, NULL);
    g_autofree char *what = g_strdup_printf("bf16 linear after %s", wc->name);
    g_assert_true(chk_close(what, got, ref, (size_t)CM * CN, 1e-2));
}

/* bf16 -> fp16 -> fp32 -> bf16 with the same weight: each product is as
 * exact as its precision (a copy left in the other 16-bit format would be
 * garbage), and fp32 is exact again. */
static void test_precision_switch(void)
{
    const scf_precision seq[] = { SCF_PRECISION_BF16, SCF_PRECISION_FP16, SCF_PRECISION_FP32,
                                  SCF_PRECISION_BF16 };
    const double rtol[] = { 1e-2, 2e-3, 1e-4, 1e-2 };
    g_autofree float *hin = chk_random((size_t)CM * CK, -1, 1, 61),
                     *hw = chk_random(CW, -0.5f, 0.5f, 62);
    scf_backend *cpu = chk_cpu();
    g_autofree float *ref = g_new(float, (size_t)CM * CN);
    cpu->linear_forward(cpu, ref, hin, hw, NULL, CM, CK, CN);
    scf_backend *be = cc_cuda_or_skip();
    float *in = cc_upload(be, hin, (size_t)CM * CK), *w = cc_upload(be, hw, CW),
          *out = cc_upload(be, NULL, (size_t)CM * CN);
    for (size_t i = 0; i < G_N_ELEMENTS(seq); i++) {
        cuda_in(seq[i]);
        be->linear_forward(be, out, in, w, NULL, CM, CK, CN);
        g_autofree char *what = g_strdup_printf("step %zu, %s", i, scf_precision_name(seq[i]));
        g_assert_true(cc_close(what, be, out, ref, (size_t)CM * CN, rtol[i]));
    }
    scf_backend_set_precision(be, SCF_PRECISION_FP32, NULL);
    be->free(be, in);
    be->free(be, w);
    be->free(be, out);
}

/* ---- graph recordings (backend.h: graph_begin) ---- */

/* out = linear(in, w) recorded in bf16: NULL when the recording failed. */
static scf_backend_graph *record_linear(scf_backend *be, float *out, const float *in,
                                        const float *w)
{
    g_assert_true(be->graph_begin(be));
    be->linear_forward(be, out, in, w, NULL, CM, CK, CN);
    return be->graph_end(be);
}

/* A recording of a bf16 product holds the weight's 16-bit copy and the
 * operand scratch but makes neither: before a plain run has made them, or
 * after the weight was written, the capture fails cleanly (NULL, no
 * critical message, nothing ran), and the write advances recording_epoch,
 * which tells the sampler not to replay what it recorded before. */
static void test_capture(void)
{
    const size_t n_out = (size_t)CM * CN;
    g_autofree float *hin = chk_random((size_t)CM * CK, -1, 1, 71),
                     *hw = chk_random(CW, -0.5f, 0.5f, 72), *hw2 = chk_random(CW, -0.5f, 0.5f, 73);
    scf_backend *be = cuda_in(SCF_PRECISION_BF16);
    float *in = cc_upload(be, hin, (size_t)CM * CK), *w = cc_upload(be, hw, CW),
          *out = cc_upload(be, NULL, n_out);
    g_assert_null(record_linear(be, out, in, w));
    be->linear_forward(be, out, in, w, NULL, CM, CK, CN);
    g_autofree float *want = cc_download(be, out, n_out);
    const guint64 epoch = be->recording_epoch;
    be->zero(be, out, n_out * sizeof(float));
    scf_backend_graph *graph = record_linear(be, out, in, w);
    g_assert_nonnull(graph);
    g_assert_true(be->graph_launch(be, graph));
    g_autofree float *got = cc_download(be, out, n_out);
    g_assert_true(chk_close("recorded bf16 linear", got, want, n_out, 1e-6));
    g_assert_cmpuint(be->recording_epoch, ==, epoch);
    be->upload(be, w, hw2, CW * sizeof(float));
    g_assert_cmpuint(be->recording_epoch, !=, epoch);
    g_assert_null(record_linear(be, out, in, w));
    be->graph_free(be, graph);
    scf_backend_set_precision(be, SCF_PRECISION_FP32, NULL);
    be->free(be, in);
    be->free(be, w);
    be->free(be, out);
}

/* ---- a whole generation ---- */

enum { GEN_BATCH = 2 };

static scf_model *load_model(scf_backend *be)
{
    g_autofree char *dir = g_build_filename(SCF_SOURCE_DATADIR, "models", "emoji-32-teacher",
                                            NULL);
    GError *error = NULL;
    scf_model *m = scf_model_load(dir, be, FALSE, &error);
    g_assert_no_error(error);
    return m;
}

static size_t pixel_count(const scf_model *m)
{
    return (size_t)GEN_BATCH * m->channels * m->image_size * m->image_size;
}

/* 4 guided steps of m by s, as [0, 1] pixels. */
static float *sample(scf_sampler *s, const scf_model *m)
{
    const size_t n = pixel_count(m);
    float *pixels = g_new(float, n);
    const scf_sample_request r = { "grinning face", NULL, 4, 1.5f, 7, GEN_BATCH };
    GError *error = NULL;
    g_assert_true(scf_sampler_run(s, &r, pixels, NULL, NULL, &error));
    g_assert_no_error(error);
    for (size_t i = 0; i < n; i++)
        pixels[i] = CLAMP(0.5f * (pixels[i] + 1.0f), 0.0f, 1.0f);
    return pixels;
}

static float *generate(scf_backend *be, size_t *n)
{
    scf_model *m = load_model(be);
    scf_sampler *s = scf_sampler_new(m);
    *n = pixel_count(m);
    float *pixels = sample(s, m);
    scf_sampler_free(s);
    scf_model_free(m);
    return pixels;
}

static double largest_difference(const float *a, const float *b, size_t n)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++)
        worst = MAX(worst, fabsf(a[i] - b[i]));
    return worst;
}

/* A sampler that recorded its steps in bf16, then every weight written (as
 * a checkpoint load would): its next generation must use the new weights,
 * as a sampler without recordings does, not replay their stale 16-bit
 * copies. It runs its first step plain (the copies converted again), then
 * records and replays. */
static void test_generation_after_write(void)
{
    scf_backend *be = cuda_in(SCF_PRECISION_BF16);
    scf_model *m = load_model(be);
    const size_t n = pixel_count(m);
    scf_sampler *graphed = scf_sampler_new(m), *plain = scf_sampler_new(m);
    scf_sampler_set_graph_replay(plain, FALSE);
    g_autofree float *before = sample(graphed, m);
    const size_t total = m->params->total;
    g_autofree float *weights = cc_download(be, m->params->data, total);
    for (size_t i = 0; i < total; i++)
        weights[i] *= 1.1f; /* far beyond bf16's rounding (0.4%) */
    be->upload(be, m->params->data, weights, total * sizeof(float));
    g_autofree float *got = sample(graphed, m), *want = sample(plain, m);
    int recorded, replayed;
    scf_sampler_graph_counts(graphed, &recorded, &replayed);
    g_test_message("recorded %d, replayed %d; new weights moved pixels by up to %.4f", recorded,
                   replayed, largest_difference(want, before, n));
    g_assert_cmpint(recorded, ==, 2);
    g_assert_cmpint(replayed, ==, 4);
    g_assert_cmpfloat(largest_difference(want, before, n), >, 1e-3);
    g_assert_true(chk_close("replayed after the weights changed", got, want, n, 1e-6));
    scf_sampler_free(graphed);
    scf_sampler_free(plain);
    scf_model_free(m);
    scf_backend_set_precision(be, SCF_PRECISION_FP32, NULL);
}

typedef struct {
    scf_precision p;
    double min_psnr;
} generation_case;

static void test_generation(gconstpointer data)
{
    const generation_case *gc = data;
    static float *ref;
    static size_t n_ref;
    if (!ref)
        ref = generate(chk_cpu(), &n_ref);
    size_t n = 0;
    scf_backend *be = cuda_in(gc->p);
    g_autofree float *got = generate(be, &n);
    scf_backend_set_precision(be, SCF_PRECISION_FP32, NULL);
    g_assert_cmpuint(n, ==, n_ref);
    const double worst = largest_difference(got, ref, n);
    const double psnr = scf_metric_psnr(got, ref, n);
    g_test_message("4 steps in %s: PSNR %.1f dB (bound %.0f), largest difference %.4f",
                   scf_precision_name(gc->p), psnr, gc->min_psnr, worst);
    g_assert_cmpfloat(psnr, >=, gc->min_psnr);
}

static const generation_case generations[] = {
    { SCF_PRECISION_BF16, 50.0 },
    { SCF_PRECISION_FP16, 65.0 },
};

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    cc_cuda_or_skip();
    static kernel_test kernel_tests[G_N_ELEMENTS(precisions) * G_N_ELEMENTS(kernel_cases)];
    int nt = 0;
    for (size_t p = 0; p < G_N_ELEMENTS(precisions); p++)
        for (size_t k = 0; k < G_N_ELEMENTS(kernel_cases); k++) {
            kernel_tests[nt] = (kernel_test){ &kernel_cases[k], &precisions[p] };
            g_autofree char *path = g_strdup_printf("/cuda/precision/%s/%s",
                                                    scf_precision_name(precisions[p].p),
                                                    kernel_cases[k].name);
            g_test_add_data_func(path, &kernel_tests[nt++], test_kernel);
        }
    for (size_t i = 0; i < G_N_ELEMENTS(writers); i++) {
        g_autofree char *path = g_strdup_printf("/cuda/precision/weight-cache/%s",
                                                writers[i].name);
        g_test_add_data_func(path, &writers[i], test_weight_cache);
    }
    g_test_add_func("/cuda/precision/switch", test_precision_switch);
    g_test_add_func("/cuda/precision/capture", test_capture);
    for (size_t i = 0; i < G_N_ELEMENTS(generations); i++) {
        g_autofree char *path = g_strdup_printf("/cuda/precision/generation/%s",
                                                scf_precision_name(generations[i].p));
        g_test_add_data_func(path, &generations[i], test_generation);
    }
    g_test_add_func("/cuda/precision/generation/after-write", test_generation_after_write);
    return g_test_run();
}
