/* CPU <-> CUDA parity of the CUDA kernels of issue 8, part A: linear, conv2d,
 * group and layer norm, activations, GEGLU, upsample, timestep embedding,
 * embedding, concat, the elementwise ops, add_channel, batch_scale and
 * transpose, forward and backward.
 *
 * Each case is written once as a function of a backend: it uploads its
 * inputs from the same host arrays (chk_random, fixed seeds), runs the
 * kernel, and names its outputs. It runs on the CPU backend (the reference)
 * and on the CUDA backend, and every output is compared with cc_close.
 * Outputs start as random values, not zeros: forward kernels must overwrite
 * them, backward kernels must add onto them (backend.h). Gradients that a
 * case does not want are passed as NULL.
 *
 * Tolerances (cc_close: |got - ref| <= rtol * (|ref_i| + max |ref|)):
 * - 1e-5 for elementwise, layout and lookup kernels: a handful of float
 *   operations per element, CUDA's expf/erfcf within 2 ulp of glibc's.
 * - 1e-4 for GEMM, convolution and norms: cuBLAS and OpenBLAS sum the
 *   products of dot products hundreds to thousands long in different orders
 *   (and the norms' rstd magnifies the difference of their sums), and the
 *   parameter gradients sum over the whole batch; float rounding of such
 *   sums reaches a few 1e-6 of their scale.
 * - 1e-4 for the timestep embedding: at t ~ 1000 one ulp of the angle
 *   (6e-5) moves sin/cos by as much, and an exp one ulp apart is allowed.
 *
 * Without a GPU (or without CUDA in the build) the test exits 77: skipped. */
#include "cuda-check.h"
#include <string.h>

enum { MAX_BUFS = 12 };

/* What one run of a case made on a backend: the outputs to compare and the
 * inputs to free. */
typedef struct {
    scf_backend *be;
    int n_out, n_tmp;
    const char *name[MAX_BUFS];
    float *out[MAX_BUFS];
    size_t len[MAX_BUFS];
    void *tmp[MAX_BUFS];
} run;

static void *keep_tmp(run *r, void *dev)
{
    g_assert_cmpint(r->n_tmp, <, MAX_BUFS);
    r->tmp[r->n_tmp++] = dev;
    return dev;
}

/* An input of n values uniform in [lo, hi) from seed. */
static float *input(run *r, size_t n, float lo, float hi, uint64_t seed)
{
    float *host = chk_random(n, lo, hi, seed);
    float *dev = cc_upload(r->be, host, n);
    g_free(host);
    return keep_tmp(r, dev);
}

/* An output to compare, starting as values in [-1, 1) from seed. */
static float *output(run *r, const char *name, size_t n, uint64_t seed)
{
    g_assert_cmpint(r->n_out, <, MAX_BUFS);
    float *host = chk_random(n, -1.0f, 1.0f, seed);
    float *dev = cc_upload(r->be, host, n);
    g_free(host);
    r->name[r->n_out] = name;
    r->out[r->n_out] = dev;
    r->len[r->n_out++] = n;
    return dev;
}

/* A gradient output when `bit` is in `want`, else NULL (not wanted). */
static float *grad(run *r, const char *name, size_t n, unsigned want, unsigned bit,
                   uint64_t seed)
{
    return want & bit ? output(r, name, n, seed) : NULL;
}

/* Gradient selections of the backward cases. */
enum { G1 = 1, G2 = 2, G3 = 4, GALL = 7 };

static void run_free(run *r)
{
    for (int i = 0; i < r->n_out; i++)
        r->be->free(r->be, r->out[i]);
    for (int i = 0; i < r->n_tmp; i++)
        r->be->free(r->be, r->tmp[i]);
}

typedef void (*case_fn)(run *r, const void *params);

typedef struct {
    const char *path;
    case_fn fn;
    const void *params;
    double rtol;
} parity_case;

static void check_parity(gconstpointer data)
{
    const parity_case *c = data;
    run cpu = { .be = chk_cpu() }, gpu = { .be = cc_cuda_or_skip() };
    c->fn(&cpu, c->params);
    c->fn(&gpu, c->params);
    g_assert_cmpint(cpu.n_out, ==, gpu.n_out);
    g_assert_cmpint(cpu.n_out, >, 0);
    gboolean ok = TRUE;
    for (int i = 0; i < cpu.n_out; i++) {
        g_autofree char *what = g_strdup_printf("%s %s", c->path, cpu.name[i]);
        ok &= cc_close(what, gpu.be, gpu.out[i], cpu.out[i], cpu.len[i], c->rtol);
    }
    run_free(&cpu);
    run_free(&gpu);
    g_assert_true(ok);
}

/* ---- linear: in[M,K], w[N,K], b[N]; backward grads G1 din, G2 dw, G3 db ---- */
typedef struct {
    int M, K, N, bias;
    unsigned want;
} linear_p;

static void linear_forward(run *r, const void *params)
{
    const linear_p *p = params;
    const float *in = input(r, (size_t)p->M * p->K, -1, 1, 1);
    const float *w = input(r, (size_t)p->N * p->K, -0.5f, 0.5f, 2);
    const float *b = p->bias ? input(r, p->N, -1, 1, 3) : NULL;
    float *out = output(r, "out", (size_t)p->M * p->N, 4);
    r->be->linear_forward(r->be, out, in, w, b, p->M, p->K, p->N);
}

static void linear_backward(run *r, const void *params)
{
    const linear_p *p = params;
    const float *dout = input(r, (size_t)p->M * p->N, -1, 1, 5);
    const float *in = input(r, (size_t)p->M * p->K, -1, 1, 1);
    const float *w = input(r, (size_t)p->N * p->K, -0.5f, 0.5f, 2);
    float *din = grad(r, "din", (size_t)p->M * p->K, p->want, G1, 6);
    float *dw = grad(r, "dw", (size_t)p->N * p->K, p->want, G2, 7);
    float *db = grad(r, "db", p->N, p->want, G3, 8);
    r->be->linear_backward(r->be, din, dw, db, dout, in, w, p->M, p->K, p->N);
}

/* ---- conv2d; backward grads G1 din, G2 dw, G3 db ---- */
typedef struct {
    int B, Cin, H, W, Cout, k, stride, pad, bias;
    unsigned want;
} conv_p;

static int conv_out(int n, const conv_p *p)
{
    return (n + 2 * p->pad - p->k) / p->stride + 1;
}

static void conv_forward(run *r, const void *params)
{
    const conv_p *p = params;
    const size_t nin = (size_t)p->B * p->Cin * p->H * p->W;
    const size_t nw = (size_t)p->Cout * p->Cin * p->k * p->k;
    const size_t nout = (size_t)p->B * p->Cout * conv_out(p->H, p) * conv_out(p->W, p);
    const float *in = input(r, nin, -1, 1, 11);
    const float *w = input(r, nw, -0.3f, 0.3f, 12);
    const float *b = p->bias ? input(r, p->Cout, -1, 1, 13) : NULL;
    float *out = output(r, "out", nout, 14);
    r->be->conv2d_forward(r->be, out, in, w, b, p->B, p->Cin, p->H, p->W, p->Cout, p->k,
                          p->stride, p->pad);
}

static void conv_backward(run *r, const void *params)
{
    const conv_p *p = params;
    const size_t nin = (size_t)p->B * p->Cin * p->H * p->W;
    const size_t nw = (size_t)p->Cout * p->Cin * p->k * p->k;
    const size_t nout = (size_t)p->B * p->Cout * conv_out(p->H, p) * conv_out(p->W, p);
    const float *dout = input(r, nout, -1, 1, 15);
    const float *in = input(r, nin, -1, 1, 11);
    const float *w = input(r, nw, -0.3f, 0.3f, 12);
    float *din = grad(r, "din", nin, p->want, G1, 16);
    float *dw = grad(r, "dw", nw, p->want, G2, 17);
    float *db = grad(r, "db", p->Cout, p->want, G3, 18);
    r->be->conv2d_backward(r->be, din, dw, db, dout, in, w, p->B, p->Cin, p->H, p->W, p->Cout,
                           p->k, p->stride, p->pad);
}

/* ---- group norm; stats: forward saves mean/rstd; backward grads G1 dx,
 * G2 dgamma, G3 dbeta ---- */
typedef struct {
    int B, C, HW, G, silu, stats;
    unsigned want;
} gn_p;

/* x off zero (mean 2.5) so that the mean's removal is exercised */
static void gn_inputs(run *r, const gn_p *p, const float **x, const float **gamma,
                      const float **beta)
{
    *x = input(r, (size_t)p->B * p->C * p->HW, 1.5f, 3.5f, 21);
    *gamma = input(r, p->C, 0.5f, 1.5f, 22);
    *beta = input(r, p->C, -0.5f, 0.5f, 23);
}

static void gn_forward(run *r, const void *params)
{
    const gn_p *p = params;
    const float *x, *gamma, *beta;
    gn_inputs(r, p, &x, &gamma, &beta);
    float *out = output(r, "out", (size_t)p->B * p->C * p->HW, 24);
    float *mean = p->stats ? output(r, "mean", (size_t)p->B * p->G, 25) : NULL;
    float *rstd = p->stats ? output(r, "rstd", (size_t)p->B * p->G, 26) : NULL;
    r->be->group_norm_forward(r->be, out, mean, rstd, x, gamma, beta, p->B, p->C, p->HW, p->G,
                              1e-5f, p->silu);
}

static void gn_backward(run *r, const void *params)
{
    const gn_p *p = params;
    const size_t n = (size_t)p->B * p->C * p->HW;
    const float *x, *gamma, *beta;
    gn_inputs(r, p, &x, &gamma, &beta);
    /* this backend's own statistics, as a training step has them */
    float *out = keep_tmp(r, cc_upload(r->be, NULL, n));
    float *mean = keep_tmp(r, cc_upload(r->be, NULL, (size_t)p->B * p->G));
    float *rstd = keep_tmp(r, cc_upload(r->be, NULL, (size_t)p->B * p->G));
    r->be->group_norm_forward(r->be, out, mean, rstd, x, gamma, beta, p->B, p->C, p->HW, p->G,
                              1e-5f, p->silu);
    const float *dout = input(r, n, -1, 1, 27);
    float *dx = grad(r, "dx", n, p->want, G1, 28);
    float *dgamma = grad(r, "dgamma", p->C, p->want, G2, 29);
    float *dbeta = grad(r, "dbeta", p->C, p->want, G3, 30);
    r->be->group_norm_backward(r->be, dx, dgamma, dbeta, dout, x, mean, rstd, gamma, beta, p->B,
                               p->C, p->HW, p->G, p->silu);
}

/* ---- layer norm over x[M,C]; backward grads G1 dx, G2 dgamma, G3 dbeta ---- */
typedef struct {
    int M, C, stats;
    unsigned want;
} ln_p;

static void ln_inputs(run *r, const ln_p *p, const float **x, const float **gamma,
                      const float **beta)
{
    *x = input(r, (size_t)p->M * p->C, -2.0f, 4.0f, 31);
    *gamma = input(r, p->C, 0.5f, 1.5f, 32);
    *beta = input(r, p->C, -0.5f, 0.5f, 33);
}

static void ln_forward(run *r, const void *params)
{
    const ln_p *p = params;
    const float *x, *gamma, *beta;
    ln_inputs(r, p, &x, &gamma, &beta);
    float *out = output(r, "out", (size_t)p->M * p->C, 34);
    float *mean = p->stats ? output(r, "mean", p->M, 35) : NULL;
    float *rstd = p->stats ? output(r, "rstd", p->M, 36) : NULL;
    r->be->layer_norm_forward(r->be, out, mean, rstd, x, gamma, beta, p->M, p->C, 1e-5f);
}

static void ln_backward(run *r, const void *params)
{
    const ln_p *p = params;
    const size_t n = (size_t)p->M * p->C;
    const float *x, *gamma, *beta;
    ln_inputs(r, p, &x, &gamma, &beta);
    float *out = keep_tmp(r, cc_upload(r->be, NULL, n));
    float *mean = keep_tmp(r, cc_upload(r->be, NULL, p->M));
    float *rstd = keep_tmp(r, cc_upload(r->be, NULL, p->M));
    r->be->layer_norm_forward(r->be, out, mean, rstd, x, gamma, beta, p->M, p->C, 1e-5f);
    const float *dout = input(r, n, -1, 1, 37);
    float *dx = grad(r, "dx", n, p->want, G1, 38);
    float *dgamma = grad(r, "dgamma", p->C, p->want, G2, 39);
    float *dbeta = grad(r, "dbeta", p->C, p->want, G3, 40);
    r->be->layer_norm_backward(r->be, dx, dgamma, dbeta, dout, x, mean, rstd, gamma, p->M, p->C);
}

/* ---- activations: x in [-8, 8) reaches both tails ---- */
typedef struct {
    size_t n;
    scf_activation act;
} act_p;

static void act_forward(run *r, const void *params)
{
    const act_p *p = params;
    const float *x = input(r, p->n, -8, 8, 41);
    float *out = output(r, "out", p->n, 42);
    r->be->activation_forward(r->be, out, x, p->n, p->act);
}

static void act_forward_in_place(run *r, const void *params)
{
    const act_p *p = params;
    float *x = output(r, "x", p->n, 43);
    r->be->scale(r->be, x, x, 8.0f, p->n);
    r->be->activation_forward(r->be, x, x, p->n, p->act);
}

static void act_backward(run *r, const void *params)
{
    const act_p *p = params;
    const float *x = input(r, p->n, -8, 8, 41);
    const float *dout = input(r, p->n, -1, 1, 44);
    float *dx = output(r, "dx", p->n, 45);
    r->be->activation_backward(r->be, dx, dout, x, p->n, p->act);
}

/* ---- GEGLU: x[M,2N] -> out[M,N] ---- */
typedef struct {
    int M, N;
} geglu_p;

static void geglu_forward(run *r, const void *params)
{
    const geglu_p *p = params;
    const float *x = input(r, (size_t)p->M * 2 * p->N, -5, 5, 51);
    float *out = output(r, "out", (size_t)p->M * p->N, 52);
    r->be->geglu_forward(r->be, out, x, p->M, p->N);
}

static void geglu_backward(run *r, const void *params)
{
    const geglu_p *p = params;
    const float *x = input(r, (size_t)p->M * 2 * p->N, -5, 5, 51);
    const float *dout = input(r, (size_t)p->M * p->N, -1, 1, 53);
    float *dx = output(r, "dx", (size_t)p->M * 2 * p->N, 54);
    r->be->geglu_backward(r->be, dx, dout, x, p->M, p->N);
}

/* ---- nearest x2 upsample of x[N,H,W] ---- */
typedef struct {
    int N, H, W;
} up_p;

static void upsample_forward(run *r, const void *params)
{
    const up_p *p = params;
    const float *x = input(r, (size_t)p->N * p->H * p->W, -1, 1, 61);
    float *out = output(r, "out", (size_t)p->N * p->H * p->W * 4, 62);
    r->be->upsample2x_forward(r->be, out, x, p->N, p->H, p->W);
}

static void upsample_backward(run *r, const void *params)
{
    const up_p *p = params;
    const float *dout = input(r, (size_t)p->N * p->H * p->W * 4, -1, 1, 63);
    float *dx = output(r, "dx", (size_t)p->N * p->H * p->W, 64);
    r->be->upsample2x_backward(r->be, dx, dout, p->N, p->H, p->W);
}

/* ---- timestep embedding of t in [0, 1000) ---- */
typedef struct {
    int B, dim, flip;
    float shift;
} temb_p;

static void timestep_embedding(run *r, const void *params)
{
    const temb_p *p = params;
    const float *t = input(r, p->B, 0, 1000, 71);
    float *out = output(r, "out", (size_t)p->B * p->dim, 72);
    r->be->timestep_embedding(r->be, out, t, p->B, p->dim, p->flip, p->shift);
}

/* ---- embedding: N ids into a [V, D] table, with repeats (N > V) ---- */
typedef struct {
    int V, N, D;
} emb_p;

/* ids as the backend wants them: host memory for the CPU, device for CUDA */
static const int32_t *emb_ids(run *r, const emb_p *p)
{
    int32_t *host = g_new(int32_t, p->N);
    for (int n = 0; n < p->N; n++)
        host[n] = (int32_t)((n * 7 + 3) % p->V);
    int32_t *dev = r->be->alloc(r->be, (size_t)p->N * sizeof(int32_t));
    g_assert_nonnull(dev);
    r->be->upload(r->be, dev, host, (size_t)p->N * sizeof(int32_t));
    g_free(host);
    return keep_tmp(r, dev);
}

static void embedding_forward(run *r, const void *params)
{
    const emb_p *p = params;
    const int32_t *ids = emb_ids(r, p);
    const float *table = input(r, (size_t)p->V * p->D, -1, 1, 81);
    float *out = output(r, "out", (size_t)p->N * p->D, 82);
    r->be->embedding_forward(r->be, out, ids, table, p->N, p->D);
}

static void embedding_backward(run *r, const void *params)
{
    const emb_p *p = params;
    const int32_t *ids = emb_ids(r, p);
    const float *dout = input(r, (size_t)p->N * p->D, -1, 1, 83);
    float *dtable = output(r, "dtable", (size_t)p->V * p->D, 84);
    r->be->embedding_backward(r->be, dtable, dout, ids, p->N, p->D);
}

/* ---- concat a[B,Ca,S], b[B,Cb,S]; backward grads G1 da, G2 db ---- */
typedef struct {
    int B, Ca, Cb, S;
    unsigned want;
} concat_p;

static void concat_forward(run *r, const void *params)
{
    const concat_p *p = params;
    const float *a = input(r, (size_t)p->B * p->Ca * p->S, -1, 1, 91);
    const float *b = input(r, (size_t)p->B * p->Cb * p->S, -1, 1, 92);
    float *out = output(r, "out", (size_t)p->B * (p->Ca + p->Cb) * p->S, 93);
    r->be->concat_forward(r->be, out, a, b, p->B, p->Ca, p->Cb, p->S);
}

static void concat_backward(run *r, const void *params)
{
    const concat_p *p = params;
    const float *dout = input(r, (size_t)p->B * (p->Ca + p->Cb) * p->S, -1, 1, 94);
    float *da = grad(r, "da", (size_t)p->B * p->Ca * p->S, p->want, G1, 95);
    float *db = grad(r, "db", (size_t)p->B * p->Cb * p->S, p->want, G2, 96);
    r->be->concat_backward(r->be, da, db, dout, p->B, p->Ca, p->Cb, p->S);
}

/* ---- elementwise over n values; mul_backward grads G1 da, G2 db ---- */
typedef struct {
    size_t n;
    unsigned want;
} ew_p;

static void ew_add(run *r, const void *params)
{
    const ew_p *p = params;
    const float *a = input(r, p->n, -1, 1, 101), *b = input(r, p->n, -1, 1, 102);
    r->be->add(r->be, output(r, "out", p->n, 103), a, b, p->n);
}

/* out aliasing its first input, as residual adds use it */
static void ew_add_in_place(run *r, const void *params)
{
    const ew_p *p = params;
    float *a = output(r, "a", p->n, 104);
    r->be->add(r->be, a, a, input(r, p->n, -1, 1, 102), p->n);
}

static void ew_mul(run *r, const void *params)
{
    const ew_p *p = params;
    const float *a = input(r, p->n, -1, 1, 101), *b = input(r, p->n, -1, 1, 102);
    r->be->mul(r->be, output(r, "out", p->n, 105), a, b, p->n);
}

static void ew_mul_backward(run *r, const void *params)
{
    const ew_p *p = params;
    const float *a = input(r, p->n, -1, 1, 101), *b = input(r, p->n, -1, 1, 102);
    const float *dout = input(r, p->n, -1, 1, 106);
    float *da = grad(r, "da", p->n, p->want, G1, 107);
    float *db = grad(r, "db", p->n, p->want, G2, 108);
    r->be->mul_backward(r->be, da, db, dout, a, b, p->n);
}

static void ew_scale(run *r, const void *params)
{
    const ew_p *p = params;
    const float *x = input(r, p->n, -1, 1, 101);
    r->be->scale(r->be, output(r, "out", p->n, 109), x, -0.37f, p->n);
}

static void ew_axpy(run *r, const void *params)
{
    const ew_p *p = params;
    const float *x = input(r, p->n, -1, 1, 101);
    r->be->axpy(r->be, output(r, "y", p->n, 110), x, 1.75f, p->n);
}

static void ew_fill(run *r, const void *params)
{
    const ew_p *p = params;
    r->be->fill(r->be, output(r, "x", p->n, 111), 0.625f, p->n);
}

/* ---- add_channel: x[B,C,S] += v[B,C]; batch_scale: x[B,S] * s[B]
 * (backward grads G1 dx, G2 ds) ---- */
typedef struct {
    int B, C, S;
    unsigned want;
} bcs_p;

static void add_channel_forward(run *r, const void *params)
{
    const bcs_p *p = params;
    const float *v = input(r, (size_t)p->B * p->C, -1, 1, 121);
    float *x = output(r, "x", (size_t)p->B * p->C * p->S, 122);
    r->be->add_channel_forward(r->be, x, v, p->B, p->C, p->S);
}

static void add_channel_backward(run *r, const void *params)
{
    const bcs_p *p = params;
    const float *dout = input(r, (size_t)p->B * p->C * p->S, -1, 1, 123);
    float *dv = output(r, "dv", (size_t)p->B * p->C, 124);
    r->be->add_channel_backward(r->be, dv, dout, p->B, p->C, p->S);
}

static void batch_scale_forward(run *r, const void *params)
{
    const bcs_p *p = params;
    const float *x = input(r, (size_t)p->B * p->S, -1, 1, 131);
    const float *s = input(r, p->B, -2, 2, 132);
    float *out = output(r, "out", (size_t)p->B * p->S, 133);
    r->be->batch_scale_forward(r->be, out, x, s, p->B, p->S);
}

static void batch_scale_backward(run *r, const void *params)
{
    const bcs_p *p = params;
    const float *x = input(r, (size_t)p->B * p->S, -1, 1, 131);
    const float *s = input(r, p->B, -2, 2, 132);
    const float *dout = input(r, (size_t)p->B * p->S, -1, 1, 134);
    float *dx = grad(r, "dx", (size_t)p->B * p->S, p->want, G1, 135);
    float *ds = grad(r, "ds", p->B, p->want, G2, 136);
    r->be->batch_scale_backward(r->be, dx, ds, dout, x, s, p->B, p->S);
}

/* ---- transpose x[B,R,C] -> out[B,C,R], overwriting or accumulating ---- */
typedef struct {
    int B, R, C, accumulate;
} tr_p;

static void transpose(run *r, const void *params)
{
    const tr_p *p = params;
    const size_t n = (size_t)p->B * p->R * p->C;
    const float *x = input(r, n, -1, 1, 141);
    r->be->transpose(r->be, output(r, "out", n, 142), x, p->B, p->R, p->C, p->accumulate);
}

/* More than the 8192 x 256 threads of a capped elementwise grid: the
 * grid-stride loops go round more than once. */
#define BIG ((size_t)(1u << 21) + 12345)

/* the tolerances of the header comment */
#define TOL_FEW_OPS 1e-5
#define TOL_LONG_SUMS 1e-4
#define TOL_TIME 1e-4

static const parity_case cases[] = {
    /* linear: odd sizes; K = 1; SD-like (64x64 tokens, 320 -> 1280) */
    { "/linear/forward/7x33x65", linear_forward, &(linear_p){ 7, 33, 65, 1 }, TOL_LONG_SUMS },
    { "/linear/forward/no-bias-5x1x3", linear_forward, &(linear_p){ 5, 1, 3, 0 }, TOL_LONG_SUMS },
    { "/linear/forward/sd-4096x320x1280", linear_forward,
      &(linear_p){ 4096, 320, 1280, 1 }, TOL_LONG_SUMS },
    { "/linear/backward/7x33x65", linear_backward,
      &(linear_p){ 7, 33, 65, 1, GALL }, TOL_LONG_SUMS },
    { "/linear/backward/dw-only", linear_backward, &(linear_p){ 9, 17, 31, 1, G2 }, TOL_LONG_SUMS },
    { "/linear/backward/din-db", linear_backward,
      &(linear_p){ 9, 17, 31, 1, G1 | G3 }, TOL_LONG_SUMS },
    { "/linear/backward/sd-4096x320x1280", linear_backward,
      &(linear_p){ 4096, 320, 1280, 1, GALL }, TOL_LONG_SUMS },

    /* conv2d: 3x3 "same" on odd maps; stride-2 downsample; 1x1 pointwise;
     * 1x1 stride 2 (not pointwise: im2col); 5x5 stride 3 pad 2 on a
     * non-square map; even kernel; padding wider than the kernel;
     * SD-like channels; several image chunks; an image in row bands */
    { "/conv/forward/3x3-s1-p1", conv_forward,
      &(conv_p){ 2, 5, 7, 9, 6, 3, 1, 1, 1 }, TOL_LONG_SUMS },
    { "/conv/forward/3x3-s2-p1", conv_forward,
      &(conv_p){ 3, 4, 9, 8, 5, 3, 2, 1, 1 }, TOL_LONG_SUMS },
    { "/conv/forward/1x1", conv_forward, &(conv_p){ 2, 37, 5, 6, 19, 1, 1, 0, 1 }, TOL_LONG_SUMS },
    { "/conv/forward/1x1-no-bias", conv_forward,
      &(conv_p){ 2, 37, 5, 6, 19, 1, 1, 0, 0 }, TOL_LONG_SUMS },
    { "/conv/forward/1x1-s2", conv_forward, &(conv_p){ 2, 6, 7, 5, 4, 1, 2, 0, 1 }, TOL_LONG_SUMS },
    { "/conv/forward/5x5-s3-p2", conv_forward,
      &(conv_p){ 2, 3, 11, 13, 7, 5, 3, 2, 1 }, TOL_LONG_SUMS },
    { "/conv/forward/4x4-s2-p1", conv_forward,
      &(conv_p){ 1, 3, 8, 10, 5, 4, 2, 1, 0 }, TOL_LONG_SUMS },
    { "/conv/forward/2x2-p3", conv_forward, &(conv_p){ 2, 2, 3, 4, 3, 2, 1, 3, 1 }, TOL_LONG_SUMS },
    { "/conv/forward/sd-320x32x32", conv_forward,
      &(conv_p){ 2, 320, 32, 32, 320, 3, 1, 1, 1 }, TOL_LONG_SUMS },
    { "/conv/forward/chunks-8x128x64x64", conv_forward,
      &(conv_p){ 8, 128, 64, 64, 8, 3, 1, 1, 1 }, TOL_LONG_SUMS },
    { "/conv/forward/bands-64x256x256", conv_forward,
      &(conv_p){ 1, 64, 256, 256, 8, 3, 1, 1, 1 }, TOL_LONG_SUMS },
    { "/conv/backward/3x3-s1-p1", conv_backward,
      &(conv_p){ 2, 5, 7, 9, 6, 3, 1, 1, 1, GALL }, TOL_LONG_SUMS },
    { "/conv/backward/3x3-s2-p1", conv_backward,
      &(conv_p){ 3, 4, 9, 8, 5, 3, 2, 1, 1, GALL }, TOL_LONG_SUMS },
    { "/conv/backward/1x1", conv_backward,
      &(conv_p){ 2, 37, 5, 6, 19, 1, 1, 0, 1, GALL }, TOL_LONG_SUMS },
    { "/conv/backward/1x1-din-only", conv_backward,
      &(conv_p){ 2, 37, 5, 6, 19, 1, 1, 0, 1, G1 }, TOL_LONG_SUMS },
    { "/conv/backward/1x1-s2", conv_backward,
      &(conv_p){ 2, 6, 7, 5, 4, 1, 2, 0, 1, GALL }, TOL_LONG_SUMS },
    { "/conv/backward/5x5-s3-p2", conv_backward,
      &(conv_p){ 2, 3, 11, 13, 7, 5, 3, 2, 1, GALL }, TOL_LONG_SUMS },
    { "/conv/backward/4x4-s2-p1", conv_backward,
      &(conv_p){ 1, 3, 8, 10, 5, 4, 2, 1, 0, GALL }, TOL_LONG_SUMS },
    { "/conv/backward/2x2-p3", conv_backward,
      &(conv_p){ 2, 2, 3, 4, 3, 2, 1, 3, 1, GALL }, TOL_LONG_SUMS },
    { "/conv/backward/din-only", conv_backward,
      &(conv_p){ 2, 5, 7, 9, 6, 3, 1, 1, 1, G1 }, TOL_LONG_SUMS },
    { "/conv/backward/dw-db", conv_backward,
      &(conv_p){ 2, 5, 7, 9, 6, 3, 1, 1, 1, G2 | G3 }, TOL_LONG_SUMS },
    { "/conv/backward/sd-320x32x32", conv_backward,
      &(conv_p){ 2, 320, 32, 32, 320, 3, 1, 1, 1, GALL }, TOL_LONG_SUMS },
    { "/conv/backward/chunks-8x128x64x64", conv_backward,
      &(conv_p){ 8, 128, 64, 64, 8, 3, 1, 1, 1, GALL }, TOL_LONG_SUMS },
    { "/conv/backward/bands-64x256x256", conv_backward,
      &(conv_p){ 1, 64, 256, 256, 8, 3, 1, 1, 1, GALL }, TOL_LONG_SUMS },

    /* group norm: small odd groups; Cg = 5 with tiny maps; one channel per
     * group; SD-like 320 channels in 32 groups on 64x64 */
    { "/group-norm/forward/2x6x35-g3", gn_forward, &(gn_p){ 2, 6, 35, 3, 0, 1 }, TOL_LONG_SUMS },
    { "/group-norm/forward/silu-2x6x35-g3", gn_forward,
      &(gn_p){ 2, 6, 35, 3, 1, 1 }, TOL_LONG_SUMS },
    { "/group-norm/forward/no-stats-3x40x7-g8", gn_forward,
      &(gn_p){ 3, 40, 7, 8, 1, 0 }, TOL_LONG_SUMS },
    { "/group-norm/forward/g-equals-c", gn_forward, &(gn_p){ 2, 12, 33, 12, 0, 1 }, TOL_LONG_SUMS },
    { "/group-norm/forward/sd-2x320x4096-g32", gn_forward,
      &(gn_p){ 2, 320, 4096, 32, 1, 1 }, TOL_LONG_SUMS },
    { "/group-norm/backward/2x6x35-g3", gn_backward,
      &(gn_p){ 2, 6, 35, 3, 0, 1, GALL }, TOL_LONG_SUMS },
    { "/group-norm/backward/silu-2x6x35-g3", gn_backward,
      &(gn_p){ 2, 6, 35, 3, 1, 1, GALL }, TOL_LONG_SUMS },
    { "/group-norm/backward/silu-3x40x7-g8", gn_backward,
      &(gn_p){ 3, 40, 7, 8, 1, 1, GALL }, TOL_LONG_SUMS },
    { "/group-norm/backward/dx-only", gn_backward,
      &(gn_p){ 3, 40, 7, 8, 1, 1, G1 }, TOL_LONG_SUMS },
    { "/group-norm/backward/params-only", gn_backward,
      &(gn_p){ 3, 40, 7, 8, 0, 1, G2 | G3 }, TOL_LONG_SUMS },
    { "/group-norm/backward/g-equals-c", gn_backward,
      &(gn_p){ 2, 12, 33, 12, 1, 1, GALL }, TOL_LONG_SUMS },
    { "/group-norm/backward/sd-2x320x4096-g32", gn_backward,
      &(gn_p){ 2, 320, 4096, 32, 1, 1, GALL }, TOL_LONG_SUMS },

    /* layer norm: odd width; CLIP-like 77 tokens x 768; width 5 */
    { "/layer-norm/forward/7x33", ln_forward, &(ln_p){ 7, 33, 1 }, TOL_LONG_SUMS },
    { "/layer-norm/forward/no-stats-77x768", ln_forward, &(ln_p){ 77, 768, 0 }, TOL_LONG_SUMS },
    { "/layer-norm/forward/3x5", ln_forward, &(ln_p){ 3, 5, 1 }, TOL_LONG_SUMS },
    { "/layer-norm/backward/7x33", ln_backward, &(ln_p){ 7, 33, 1, GALL }, TOL_LONG_SUMS },
    { "/layer-norm/backward/clip-154x768", ln_backward,
      &(ln_p){ 154, 768, 1, GALL }, TOL_LONG_SUMS },
    { "/layer-norm/backward/dx-only", ln_backward, &(ln_p){ 7, 33, 1, G1 }, TOL_LONG_SUMS },
    { "/layer-norm/backward/params-only", ln_backward,
      &(ln_p){ 300, 33, 1, G2 | G3 }, TOL_LONG_SUMS },

    { "/activation/forward/silu-big", act_forward, &(act_p){ BIG, SCF_ACT_SILU }, TOL_FEW_OPS },
    { "/activation/forward/gelu", act_forward, &(act_p){ 10007, SCF_ACT_GELU }, TOL_FEW_OPS },
    { "/activation/forward/gelu-tanh", act_forward,
      &(act_p){ 10007, SCF_ACT_GELU_TANH }, TOL_FEW_OPS },
    { "/activation/forward/quick-gelu", act_forward,
      &(act_p){ 10007, SCF_ACT_QUICK_GELU }, TOL_FEW_OPS },
    { "/activation/forward/gelu-in-place", act_forward_in_place,
      &(act_p){ 1001, SCF_ACT_GELU }, TOL_FEW_OPS },
    { "/activation/backward/silu-big", act_backward, &(act_p){ BIG, SCF_ACT_SILU }, TOL_FEW_OPS },
    { "/activation/backward/gelu", act_backward, &(act_p){ 10007, SCF_ACT_GELU }, TOL_FEW_OPS },
    { "/activation/backward/gelu-tanh", act_backward,
      &(act_p){ 10007, SCF_ACT_GELU_TANH }, TOL_FEW_OPS },
    { "/activation/backward/quick-gelu", act_backward,
      &(act_p){ 10007, SCF_ACT_QUICK_GELU }, TOL_FEW_OPS },

    /* GEGLU: odd; SD-like (1024 tokens, 1280 wide) */
    { "/geglu/forward/5x37", geglu_forward, &(geglu_p){ 5, 37 }, TOL_FEW_OPS },
    { "/geglu/forward/sd-1024x1280", geglu_forward, &(geglu_p){ 1024, 1280 }, TOL_FEW_OPS },
    { "/geglu/backward/5x37", geglu_backward, &(geglu_p){ 5, 37 }, TOL_FEW_OPS },
    { "/geglu/backward/sd-1024x1280", geglu_backward, &(geglu_p){ 1024, 1280 }, TOL_FEW_OPS },

    { "/upsample2x/forward/6x5x7", upsample_forward, &(up_p){ 6, 5, 7 }, TOL_FEW_OPS },
    { "/upsample2x/forward/640x16x16", upsample_forward, &(up_p){ 640, 16, 16 }, TOL_FEW_OPS },
    { "/upsample2x/backward/6x5x7", upsample_backward, &(up_p){ 6, 5, 7 }, TOL_FEW_OPS },
    { "/upsample2x/backward/640x16x16", upsample_backward, &(up_p){ 640, 16, 16 }, TOL_FEW_OPS },

    { "/timestep-embedding/320", timestep_embedding, &(temb_p){ 5, 320, 1, 0.0f }, TOL_TIME },
    { "/timestep-embedding/shift-no-flip", timestep_embedding,
      &(temb_p){ 5, 320, 0, 1.0f }, TOL_TIME },
    { "/timestep-embedding/odd-33", timestep_embedding, &(temb_p){ 3, 33, 1, 1.0f }, TOL_TIME },
    { "/timestep-embedding/dim-1", timestep_embedding, &(temb_p){ 3, 1, 0, 0.0f }, TOL_TIME },

    { "/embedding/forward/77x33", embedding_forward, &(emb_p){ 50, 77, 33 }, TOL_FEW_OPS },
    { "/embedding/backward/77x33", embedding_backward, &(emb_p){ 50, 77, 33 }, TOL_FEW_OPS },
    { "/embedding/backward/repeats-1000x512", embedding_backward,
      &(emb_p){ 13, 1000, 512 }, TOL_FEW_OPS },

    { "/concat/forward/2x3x5x7", concat_forward, &(concat_p){ 2, 3, 5, 7 }, TOL_FEW_OPS },
    { "/concat/forward/2x640x320x256", concat_forward,
      &(concat_p){ 2, 640, 320, 256 }, TOL_FEW_OPS },
    { "/concat/backward/2x3x5x7", concat_backward, &(concat_p){ 2, 3, 5, 7, GALL }, TOL_FEW_OPS },
    { "/concat/backward/db-only", concat_backward, &(concat_p){ 2, 3, 5, 7, G2 }, TOL_FEW_OPS },
    { "/concat/backward/da-only", concat_backward, &(concat_p){ 3, 4, 1, 9, G1 }, TOL_FEW_OPS },

    { "/add/big", ew_add, &(ew_p){ BIG }, TOL_FEW_OPS },
    { "/add/in-place", ew_add_in_place, &(ew_p){ 1001 }, TOL_FEW_OPS },
    { "/mul/big", ew_mul, &(ew_p){ BIG }, TOL_FEW_OPS },
    { "/mul/backward/big", ew_mul_backward, &(ew_p){ BIG, GALL }, TOL_FEW_OPS },
    { "/mul/backward/da-only", ew_mul_backward, &(ew_p){ 1001, G1 }, TOL_FEW_OPS },
    { "/mul/backward/db-only", ew_mul_backward, &(ew_p){ 1001, G2 }, TOL_FEW_OPS },
    { "/scale/big", ew_scale, &(ew_p){ BIG }, TOL_FEW_OPS },
    { "/axpy/big", ew_axpy, &(ew_p){ BIG }, TOL_FEW_OPS },
    { "/fill/big", ew_fill, &(ew_p){ BIG }, TOL_FEW_OPS },
    { "/fill/one", ew_fill, &(ew_p){ 1 }, TOL_FEW_OPS },

    { "/add-channel/forward/2x37x33", add_channel_forward, &(bcs_p){ 2, 37, 33 }, TOL_FEW_OPS },
    { "/add-channel/forward/s1", add_channel_forward, &(bcs_p){ 3, 5, 1 }, TOL_FEW_OPS },
    { "/add-channel/backward/2x37x33", add_channel_backward, &(bcs_p){ 2, 37, 33 }, TOL_FEW_OPS },
    { "/add-channel/backward/2x320x4096", add_channel_backward,
      &(bcs_p){ 2, 320, 4096 }, TOL_LONG_SUMS },
    { "/add-channel/backward/s1", add_channel_backward, &(bcs_p){ 3, 5, 1 }, TOL_FEW_OPS },

    /* batch_scale uses C = 1: x[B, S] */
    { "/batch-scale/forward/3x1001", batch_scale_forward, &(bcs_p){ 3, 1, 1001 }, TOL_FEW_OPS },
    { "/batch-scale/backward/3x1001", batch_scale_backward,
      &(bcs_p){ 3, 1, 1001, GALL }, TOL_FEW_OPS },
    { "/batch-scale/backward/ds-only-4x12288", batch_scale_backward,
      &(bcs_p){ 4, 1, 12288, G2 }, TOL_LONG_SUMS },
    { "/batch-scale/backward/dx-only", batch_scale_backward,
      &(bcs_p){ 3, 1, 1001, G1 }, TOL_FEW_OPS },

    { "/transpose/2x37x65", transpose, &(tr_p){ 2, 37, 65, 0 }, TOL_FEW_OPS },
    { "/transpose/accumulate-2x37x65", transpose, &(tr_p){ 2, 37, 65, 1 }, TOL_FEW_OPS },
    { "/transpose/1x1x300", transpose, &(tr_p){ 1, 1, 300, 1 }, TOL_FEW_OPS },
    { "/transpose/2x4096x320", transpose, &(tr_p){ 2, 4096, 320, 0 }, TOL_FEW_OPS },
};

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    /* before any test is listed: without a GPU the whole binary skips (77) */
    cc_cuda_or_skip();
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *path = g_strconcat("/cuda-kernels-a", cases[i].path, NULL);
        g_test_add_data_func(path, &cases[i], check_parity);
    }
    return g_test_run();
}
