/* The dense kernels of the CPU backend (linear, conv2d, group norm, layer norm):
 * forward against naive double-precision loops written here, every input and
 * parameter gradient against central finite differences, the += contract of
 * backward, and NULL gradients.
 *
 * Tolerances. The loss is L = sum(out * r), summed in double from fp32
 * outputs, so a central difference carries the rounding of every output the
 * probed input reaches (an ulp of |out| each, adding up as sqrt(count) with
 * random r), divided by 2h. For conv dW at 32x32 that is ~6e-6 / h.
 * - linear and conv are linear in each input: a difference has no truncation
 *   error, so h can be large; h = 3e-2 puts the rounding term at ~2e-4.
 * - the norms are nonlinear: h = 3e-3 keeps the O(h^2) truncation small for
 *   inputs of order one while the rounding term (fewer outputs per input)
 *   stays below ~1e-4.
 * Both pass at 3e-4; tol = 2e-3 leaves a margin for other BLAS builds and
 * still fails any wrong index or missing term, which are off by >= 1e-2.
 * Forward references: rtol 1e-5 (fp32 sums of at most a few hundred
 * products, judged against the tensor's scale as chk_close does). */
#include <math.h>
#include <string.h>
#include "check.h"

#define MAX_PROBE 24

#define LINEAR_H 3e-2
#define LINEAR_TOL 2e-3
#define NORM_H 3e-3
#define NORM_TOL 2e-3


/* ---- linear ---- */

typedef struct {
    int M, K, N;
    float *in, *w, *b, *out, *r;
} linear_ctx;

static double linear_loss(void *p)
{
    linear_ctx *c = p;
    scf_backend *be = chk_cpu();
    be->linear_forward(be, c->out, c->in, c->w, c->b, c->M, c->K, c->N);
    return chk_dot(c->out, c->r, (size_t)c->M * c->N);
}

static void linear_backward(void *p, float *const *g)
{
    linear_ctx *c = p;
    scf_backend *be = chk_cpu();
    be->linear_backward(be, g[0], g[1], c->b ? g[2] : NULL, c->r, c->in, c->w,
                        c->M, c->K, c->N);
}

/* A few rows run as one product; hundreds are split between the threads,
 * whose weight-gradient partial sums are then added. */
typedef struct {
    const char *path;
    int M, K, N, bias;
} linear_case;

static const linear_case linear_cases[] = {
    { "/dense/linear/bias", 5, 7, 3, 1 },
    { "/dense/linear/nobias", 5, 7, 3, 0 },
    { "/dense/linear/row-split", 300, 33, 17, 1 },
};

static void test_linear(gconstpointer data)
{
    const linear_case *lc = data;
    const gboolean bias = lc->bias;
    linear_ctx c = { .M = lc->M, .K = lc->K, .N = lc->N };
    c.in = chk_random((size_t)c.M * c.K, -1, 1, 1);
    c.w = chk_random((size_t)c.N * c.K, -1, 1, 2);
    c.b = bias ? chk_random(c.N, -1, 1, 3) : NULL;
    c.out = g_new(float, (size_t)c.M * c.N);
    c.r = chk_random((size_t)c.M * c.N, -1, 1, 4);

    float *ref = g_new(float, (size_t)c.M * c.N);
    for (int m = 0; m < c.M; m++)
        for (int n = 0; n < c.N; n++) {
            double s = c.b ? c.b[n] : 0.0;
            for (int k = 0; k < c.K; k++)
                s += (double)c.in[m * c.K + k] * c.w[n * c.K + k];
            ref[m * c.N + n] = (float)s;
        }
    linear_loss(&c);
    g_assert_true(chk_close("linear forward", c.out, ref, (size_t)c.M * c.N, 1e-5));

    chk_grad_case gc = { "linear", linear_loss, linear_backward, &c, bias ? 3 : 2,
                     { "din", "dw", "db" }, { c.in, c.w, c.b },
                     { (size_t)c.M * c.K, (size_t)c.N * c.K, (size_t)c.N } };
    chk_grad_case_run(&gc, LINEAR_H, LINEAR_TOL, MAX_PROBE);
    g_free(c.in); g_free(c.w); g_free(c.b); g_free(c.out); g_free(c.r); g_free(ref);
}

/* ---- conv2d ---- */

typedef struct {
    const char *path;
    int B, Cin, H, W, Cout, k, stride, pad, bias;
} conv_case;

/* Besides the kernel sizes, strides and odd/even maps, the shapes cover the
 * kernel's tiling: one band per image (small maps), several bands per image
 * whose column gradients overlap in din (Cin = 16 at 32x32 is more than one
 * band's workspace budget), and a single image (split into bands so that two
 * threads share it; backward then runs on one thread). 1x1 stride 1 skips
 * im2col. Stride-1 "same" convolutions with 16 or more input channels take
 * din as the convolution of dout by the flipped weights (the -adjoint cases,
 * "banded" too); the others scatter columns back. */
static const conv_case conv_cases[] = {
    { "/dense/conv2d/1x1-s1",               2, 3, 5, 4, 4, 1, 1, 0, 1 },
    { "/dense/conv2d/1x1-s1-nobias",        2, 3, 5, 4, 4, 1, 1, 0, 0 },
    { "/dense/conv2d/1x1-s1-one-image",     1, 3, 5, 7, 2, 1, 1, 0, 1 },
    { "/dense/conv2d/3x3-s1-p1",            2, 3, 5, 6, 4, 3, 1, 1, 1 },
    { "/dense/conv2d/3x3-s1-p1-nobias",     2, 4, 6, 5, 3, 3, 1, 1, 0 },
    { "/dense/conv2d/3x3-s1-p1-banded",     2, 16, 32, 32, 3, 3, 1, 1, 1 },
    { "/dense/conv2d/3x3-s2-p1-odd",        2, 3, 7, 7, 4, 3, 2, 1, 1 },
    { "/dense/conv2d/3x3-s2-p1-even",       3, 2, 6, 8, 3, 3, 2, 1, 0 },
    { "/dense/conv2d/3x3-s2-p1-one-image",  1, 3, 9, 9, 2, 3, 2, 1, 1 },
    { "/dense/conv2d/5x5-s1-p2",            2, 2, 6, 6, 3, 5, 1, 2, 1 },
    { "/dense/conv2d/3x3-s1-p1-adjoint",    3, 24, 5, 7, 6, 3, 1, 1, 1 },
    { "/dense/conv2d/5x5-s1-p2-adjoint",    2, 16, 7, 6, 5, 5, 1, 2, 0 },
    { "/dense/conv2d/3x3-adjoint-one-image", 1, 17, 9, 8, 3, 3, 1, 1, 1 },
};

typedef struct {
    const conv_case *s;
    int Ho, Wo;
    float *in, *w, *b, *out, *r;
} conv_ctx;

static size_t conv_out_size(const conv_ctx *c)
{
    return (size_t)c->s->B * c->s->Cout * c->Ho * c->Wo;
}

static double conv_loss(void *p)
{
    conv_ctx *c = p;
    const conv_case *s = c->s;
    scf_backend *be = chk_cpu();
    be->conv2d_forward(be, c->out, c->in, c->w, c->b, s->B, s->Cin, s->H, s->W,
                       s->Cout, s->k, s->stride, s->pad);
    return chk_dot(c->out, c->r, conv_out_size(c));
}

static void conv_backward(void *p, float *const *g)
{
    conv_ctx *c = p;
    const conv_case *s = c->s;
    scf_backend *be = chk_cpu();
    be->conv2d_backward(be, g[0], g[1], c->b ? g[2] : NULL, c->r, c->in, c->w,
                        s->B, s->Cin, s->H, s->W, s->Cout, s->k, s->stride, s->pad);
}

/* The textbook loop, in double. */
static void conv_reference(const conv_ctx *c, float *ref)
{
    const conv_case *s = c->s;
    for (int b = 0; b < s->B; b++)
        for (int co = 0; co < s->Cout; co++)
            for (int oh = 0; oh < c->Ho; oh++)
                for (int ow = 0; ow < c->Wo; ow++) {
                    double acc = c->b ? c->b[co] : 0.0;
                    for (int ci = 0; ci < s->Cin; ci++)
                        for (int kh = 0; kh < s->k; kh++)
                            for (int kw = 0; kw < s->k; kw++) {
                                int ih = oh * s->stride - s->pad + kh;
                                int iw = ow * s->stride - s->pad + kw;
                                if (ih < 0 || ih >= s->H || iw < 0 || iw >= s->W)
                                    continue;
                                acc += (double)c->in[((b * s->Cin + ci) * s->H + ih) * s->W + iw]
                                       * c->w[((co * s->Cin + ci) * s->k + kh) * s->k + kw];
                            }
                    ref[((b * s->Cout + co) * c->Ho + oh) * c->Wo + ow] = (float)acc;
                }
}

static void test_conv2d(gconstpointer data)
{
    const conv_case *s = data;
    conv_ctx c = { .s = s };
    c.Ho = (s->H + 2 * s->pad - s->k) / s->stride + 1;
    c.Wo = (s->W + 2 * s->pad - s->k) / s->stride + 1;
    const size_t nin = (size_t)s->B * s->Cin * s->H * s->W;
    const size_t nw = (size_t)s->Cout * s->Cin * s->k * s->k;
    const size_t nout = conv_out_size(&c);
    c.in = chk_random(nin, -1, 1, 11);
    c.w = chk_random(nw, -1, 1, 12);
    c.b = s->bias ? chk_random(s->Cout, -1, 1, 13) : NULL;
    c.out = g_new(float, nout);
    c.r = chk_random(nout, -1, 1, 14);

    float *ref = g_new(float, nout);
    conv_reference(&c, ref);
    conv_loss(&c);
    g_assert_true(chk_close("conv2d forward", c.out, ref, nout, 1e-5));

    chk_grad_case gc = { "conv2d", conv_loss, conv_backward, &c, s->bias ? 3 : 2,
                     { "din", "dw", "db" }, { c.in, c.w, c.b }, { nin, nw, (size_t)s->Cout } };
    chk_grad_case_run(&gc, LINEAR_H, LINEAR_TOL, MAX_PROBE);
    g_free(c.in); g_free(c.w); g_free(c.b); g_free(c.out); g_free(c.r); g_free(ref);
}

/* ---- group norm and layer norm ---- */

/* out[i] = (x[i] - mean) * rstd over x[0..n), two-pass in double. */
static void norm_reference(const float *x, size_t n, double eps, double *xhat,
                           double *mean, double *rstd)
{
    double mu = 0.0, var = 0.0;
    for (size_t i = 0; i < n; i++)
        mu += x[i];
    mu /= (double)n;
    for (size_t i = 0; i < n; i++)
        var += (x[i] - mu) * (x[i] - mu);
    var /= (double)n;
    *mean = mu;
    *rstd = 1.0 / sqrt(var + eps);
    for (size_t i = 0; i < n; i++)
        xhat[i] = (x[i] - mu) * *rstd;
}

typedef struct {
    int B, C, HW, G, silu;   /* layer norm: M = B rows of C, HW = G = 1 unused */
    float eps;
    float *x, *gamma, *beta, *out, *mean, *rstd, *r;
} norm_ctx;

static double group_norm_loss(void *p)
{
    norm_ctx *c = p;
    scf_backend *be = chk_cpu();
    be->group_norm_forward(be, c->out, c->mean, c->rstd, c->x, c->gamma, c->beta,
                           c->B, c->C, c->HW, c->G, c->eps, c->silu);
    return chk_dot(c->out, c->r, (size_t)c->B * c->C * c->HW);
}

static void group_norm_backward(void *p, float *const *g)
{
    norm_ctx *c = p;
    scf_backend *be = chk_cpu();
    group_norm_loss(c);   /* mean/rstd of the unperturbed input */
    be->group_norm_backward(be, g[0], g[1], g[2], c->r, c->x, c->mean, c->rstd,
                            c->gamma, c->beta, c->B, c->C, c->HW, c->G, c->silu);
}

static void norm_ctx_init(norm_ctx *c, size_t nx, size_t rows)
{
    c->eps = 1e-5f;
    c->x = chk_random(nx, -2, 3, 21);   /* off-centre: the mean matters */
    c->gamma = chk_random(c->C, 0.5f, 1.5f, 22);
    c->beta = chk_random(c->C, -0.5f, 0.5f, 23);
    c->out = g_new(float, nx);
    c->r = chk_random(nx, -1, 1, 24);
    c->mean = g_new(float, rows);
    c->rstd = g_new(float, rows);
}

static void norm_ctx_clear(norm_ctx *c)
{
    g_free(c->x); g_free(c->gamma); g_free(c->beta); g_free(c->out);
    g_free(c->r); g_free(c->mean); g_free(c->rstd);
}

static void test_group_norm(gconstpointer data)
{
    /* 3 groups of 2 channels, HW = 15: not a multiple of any vector width */
    norm_ctx c = { .B = 2, .C = 6, .HW = 15, .G = 3, .silu = GPOINTER_TO_INT(data) };
    const size_t nx = (size_t)c.B * c.C * c.HW, rows = (size_t)c.B * c.G;
    norm_ctx_init(&c, nx, rows);

    const int Cg = c.C / c.G;
    const size_t blk = (size_t)Cg * c.HW;
    float *ref = g_new(float, nx), *ref_mean = g_new(float, rows), *ref_rstd = g_new(float, rows);
    double *xhat = g_new(double, blk);
    for (size_t bg = 0; bg < rows; bg++) {
        double mu, rs;
        norm_reference(c.x + bg * blk, blk, c.eps, xhat, &mu, &rs);
        ref_mean[bg] = (float)mu;
        ref_rstd[bg] = (float)rs;
        for (size_t i = 0; i < blk; i++) {
            int ch = (int)(bg % c.G) * Cg + (int)(i / c.HW);
            double y = xhat[i] * c.gamma[ch] + c.beta[ch];
            ref[bg * blk + i] = (float)(c.silu ? y / (1.0 + exp(-y)) : y);
        }
    }
    group_norm_loss(&c);
    g_assert_true(chk_close("group norm forward", c.out, ref, nx, 1e-5));
    g_assert_true(chk_close("group norm mean", c.mean, ref_mean, rows, 1e-5));
    g_assert_true(chk_close("group norm rstd", c.rstd, ref_rstd, rows, 1e-5));
    /* inference passes no mean/rstd and gets the same output */
    memset(c.out, 0, nx * sizeof(float));
    chk_cpu()->group_norm_forward(chk_cpu(), c.out, NULL, NULL, c.x, c.gamma, c.beta,
                                  c.B, c.C, c.HW, c.G, c.eps, c.silu);
    g_assert_true(chk_close("group norm forward without statistics", c.out, ref, nx, 1e-5));

    chk_grad_case gc = { c.silu ? "group norm + silu" : "group norm", group_norm_loss,
                     group_norm_backward, &c, 3, { "dx", "dgamma", "dbeta" },
                     { c.x, c.gamma, c.beta }, { nx, (size_t)c.C, (size_t)c.C } };
    chk_grad_case_run(&gc, NORM_H, NORM_TOL, MAX_PROBE);
    norm_ctx_clear(&c);
    g_free(ref); g_free(ref_mean); g_free(ref_rstd); g_free(xhat);
}

static double layer_norm_loss(void *p)
{
    norm_ctx *c = p;
    scf_backend *be = chk_cpu();
    be->layer_norm_forward(be, c->out, c->mean, c->rstd, c->x, c->gamma, c->beta,
                           c->B, c->C, c->eps);
    return chk_dot(c->out, c->r, (size_t)c->B * c->C);
}

static void layer_norm_backward(void *p, float *const *g)
{
    norm_ctx *c = p;
    scf_backend *be = chk_cpu();
    layer_norm_loss(c);
    be->layer_norm_backward(be, g[0], g[1], g[2], c->r, c->x, c->mean, c->rstd,
                            c->gamma, c->B, c->C);
}

static void test_layer_norm(void)
{
    /* 7 rows split over the threads; C = 37 leaves a vector remainder */
    norm_ctx c = { .B = 7, .C = 37 };
    const size_t nx = (size_t)c.B * c.C;
    norm_ctx_init(&c, nx, c.B);

    float *ref = g_new(float, nx);
    double *xhat = g_new(double, c.C);
    for (int m = 0; m < c.B; m++) {
        double mu, rs;
        norm_reference(c.x + (size_t)m * c.C, c.C, c.eps, xhat, &mu, &rs);
        for (int ch = 0; ch < c.C; ch++)
            ref[(size_t)m * c.C + ch] = (float)(xhat[ch] * c.gamma[ch] + c.beta[ch]);
    }
    layer_norm_loss(&c);
    g_assert_true(chk_close("layer norm forward", c.out, ref, nx, 1e-5));

    chk_grad_case gc = { "layer norm", layer_norm_loss, layer_norm_backward, &c, 3,
                     { "dx", "dgamma", "dbeta" }, { c.x, c.gamma, c.beta },
                     { nx, (size_t)c.C, (size_t)c.C } };
    chk_grad_case_run(&gc, NORM_H, NORM_TOL, MAX_PROBE);
    norm_ctx_clear(&c);
    g_free(ref); g_free(xhat);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(linear_cases); i++)
        g_test_add_data_func(linear_cases[i].path, &linear_cases[i], test_linear);
    for (size_t i = 0; i < G_N_ELEMENTS(conv_cases); i++)
        g_test_add_data_func(conv_cases[i].path, &conv_cases[i], test_conv2d);
    g_test_add_data_func("/dense/group-norm/plain", GINT_TO_POINTER(0), test_group_norm);
    g_test_add_data_func("/dense/group-norm/silu", GINT_TO_POINTER(1), test_group_norm);
    g_test_add_func("/dense/layer-norm", test_layer_norm);
    return g_test_run();
}
