/* Parity of the CPU kernels with PyTorch: each kernel runs on the inputs of a
 * committed fixture (tests/fixtures/parity/<op>.safetensors, written by
 * tools/fixtures.py, which documents the layout) and its outputs and every
 * gradient must match PyTorch's. The references are float64 results rounded
 * to fp32, so the tolerances below bound the kernel's own fp32 error. */
#include <math.h>
#include <string.h>
#include "safetensors.h"
#include "check.h"

/* One tolerance for every comparison: fp32 kernels on these small shapes
 * (sums of at most a few hundred terms) measured below 5e-7 of a tensor's
 * scale, except AdamW's parameter change at 3e-5, most of it because lr and
 * the betas reach the kernel as floats (1 - 0.999f is 1.3e-5 off 1e-3). */
#define RTOL 1e-4

typedef struct parity_op parity_op;

typedef struct {
    const parity_op *op;
    scf_safetensors *st;
    const char *name;   /* the case */
    GPtrArray *owned;   /* buffers freed when the case is done */
} fx_case;

struct parity_op {
    const char *name;
    void (*run)(fx_case *c);
    int arg;            /* op variant, e.g. the scf_activation */
};

/* Every accessor below marks the test failed on a missing or malformed entry
 * and hands back a harmless stand-in (zeros, 1), so a broken fixture fails
 * the test with a message instead of crashing the binary. */

static float *fx_zeros(fx_case *c, size_t n)
{
    float *p = g_new0(float, MAX(n, 1));
    g_ptr_array_add(c->owned, p);
    return p;
}

static const char *fx_meta(fx_case *c, const char *key)
{
    g_autofree char *full = g_strdup_printf("%s.%s", c->name, key);
    const char *value = scf_safetensors_metadata(c->st, full);
    if (!value)
        g_test_fail_printf("%s: no metadata \"%s\"", scf_safetensors_path(c->st), full);
    return value;
}

static double fx_num(fx_case *c, const char *key)
{
    const char *value = fx_meta(c, key);
    char *end = NULL;
    double x = value ? g_ascii_strtod(value, &end) : 1.0;
    if (value && (end == value || *end)) {
        g_test_fail_printf("%s: metadata %s.%s = \"%s\" is not a number",
                           scf_safetensors_path(c->st), c->name, key, value);
        return 1.0;
    }
    return x;
}

static int fx_int(fx_case *c, const char *key)
{
    return (int)fx_num(c, key);
}

static const scf_st_tensor *fx_find(fx_case *c, const char *key, size_t n, scf_st_dtype dtype)
{
    g_autofree char *full = g_strdup_printf("%s.%s", c->name, key);
    const scf_st_tensor *t = scf_safetensors_find(c->st, full);
    if (!t)
        g_test_fail_printf("%s: no tensor \"%s\"", scf_safetensors_path(c->st), full);
    else if (t->numel != n || t->dtype != dtype)
        g_test_fail_printf("%s: tensor \"%s\" is %s with %zu elements, expected %s with %zu",
                           scf_safetensors_path(c->st), full, scf_st_dtype_name(t->dtype),
                           t->numel, scf_st_dtype_name(dtype), n);
    else
        return t;
    return NULL;
}

/* A writable fp32 copy of tensor "<case>.<key>", which must have n elements. */
static float *fx_tensor(fx_case *c, const char *key, size_t n)
{
    float *dst = fx_zeros(c, n);
    const scf_st_tensor *t = fx_find(c, key, n, SCF_ST_F32);
    GError *error = NULL;
    if (t && !scf_safetensors_read_f32(c->st, t, dst, &error)) {
        g_test_fail_printf("%s", error->message);
        g_error_free(error);
    }
    return dst;
}

static int32_t *fx_ids(fx_case *c, const char *key, size_t n, int32_t limit)
{
    int32_t *ids = g_new0(int32_t, MAX(n, 1));
    g_ptr_array_add(c->owned, ids);
    const scf_st_tensor *t = fx_find(c, key, n, SCF_ST_I32);
    if (!t)
        return ids;
    memcpy(ids, t->data, n * sizeof *ids);   /* the mapping may be unaligned */
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= limit) {
            g_test_fail_printf("%s: %s.%s[%zu] = %d is outside [0, %d)",
                               scf_safetensors_path(c->st), c->name, key, i, ids[i], limit);
            ids[i] = 0;
        }
    }
    return ids;
}

/* Compares got[n] with the reference tensor "<case>.<key>". */
static void fx_expect(fx_case *c, const char *key, const float *got, size_t n, double rtol)
{
    const float *ref = fx_tensor(c, key, n);
    g_autofree char *what = g_strdup_printf("%s/%s %s", c->op->name, c->name, key);
    if (!chk_close(what, got, ref, n, rtol))
        g_test_fail();
}

/* For state updated in small steps (AdamW, EMA) the value itself would hide an
 * error in the step: also compare got - start with reference - start. */
static void fx_expect_change(fx_case *c, const char *key, const float *got,
                             const float *start, size_t n, double rtol)
{
    const float *ref = fx_tensor(c, key, n);
    float *dgot = fx_zeros(c, n), *dref = fx_zeros(c, n);
    for (size_t i = 0; i < n; i++) {
        dgot[i] = got[i] - start[i];
        dref[i] = ref[i] - start[i];
    }
    g_autofree char *what = g_strdup_printf("%s/%s %s (change)", c->op->name, c->name, key);
    if (!chk_close(what, dgot, dref, n, rtol))
        g_test_fail();
    fx_expect(c, key, got, n, rtol);
}

static void run_linear(fx_case *c)
{
    scf_backend *be = chk_cpu();
    int M = fx_int(c, "M"), K = fx_int(c, "K"), N = fx_int(c, "N");
    gboolean bias = fx_int(c, "bias");
    const float *x = fx_tensor(c, "x", M * K), *w = fx_tensor(c, "w", N * K);
    const float *b = bias ? fx_tensor(c, "b", N) : NULL;
    float *out = fx_zeros(c, M * N);
    be->linear_forward(be, out, x, w, b, M, K, N);
    fx_expect(c, "out", out, M * N, RTOL);

    float *dx = fx_zeros(c, M * K), *dw = fx_zeros(c, N * K);
    float *db = bias ? fx_zeros(c, N) : NULL;
    be->linear_backward(be, dx, dw, db, fx_tensor(c, "dout", M * N), x, w, M, K, N);
    fx_expect(c, "dx", dx, M * K, RTOL);
    fx_expect(c, "dw", dw, N * K, RTOL);
    if (bias)
        fx_expect(c, "db", db, N, RTOL);
}

static void run_conv2d(fx_case *c)
{
    scf_backend *be = chk_cpu();
    int B = fx_int(c, "B"), Cin = fx_int(c, "Cin"), H = fx_int(c, "H"), W = fx_int(c, "W");
    int Cout = fx_int(c, "Cout"), k = fx_int(c, "k");
    int stride = fx_int(c, "stride"), pad = fx_int(c, "pad");
    gboolean bias = fx_int(c, "bias");
    int Ho = (H + 2 * pad - k) / stride + 1, Wo = (W + 2 * pad - k) / stride + 1;
    size_t nx = (size_t)B * Cin * H * W, nw = (size_t)Cout * Cin * k * k;
    size_t nout = (size_t)B * Cout * Ho * Wo;
    const float *x = fx_tensor(c, "x", nx), *w = fx_tensor(c, "w", nw);
    const float *b = bias ? fx_tensor(c, "b", Cout) : NULL;
    float *out = fx_zeros(c, nout);
    be->conv2d_forward(be, out, x, w, b, B, Cin, H, W, Cout, k, stride, pad);
    fx_expect(c, "out", out, nout, RTOL);

    float *dx = fx_zeros(c, nx), *dw = fx_zeros(c, nw);
    float *db = bias ? fx_zeros(c, Cout) : NULL;
    be->conv2d_backward(be, dx, dw, db, fx_tensor(c, "dout", nout), x, w,
                        B, Cin, H, W, Cout, k, stride, pad);
    fx_expect(c, "dx", dx, nx, RTOL);
    fx_expect(c, "dw", dw, nw, RTOL);
    if (bias)
        fx_expect(c, "db", db, Cout, RTOL);
}

static void run_group_norm(fx_case *c)
{
    scf_backend *be = chk_cpu();
    int B = fx_int(c, "B"), C = fx_int(c, "C"), HW = fx_int(c, "HW"), G = fx_int(c, "G");
    int silu = fx_int(c, "silu");
    float eps = (float)fx_num(c, "eps");
    size_t n = (size_t)B * C * HW;
    const float *x = fx_tensor(c, "x", n);
    const float *gamma = fx_tensor(c, "gamma", C), *beta = fx_tensor(c, "beta", C);
    float *out = fx_zeros(c, n), *mean = fx_zeros(c, B * G), *rstd = fx_zeros(c, B * G);
    be->group_norm_forward(be, out, mean, rstd, x, gamma, beta, B, C, HW, G, eps, silu);
    fx_expect(c, "out", out, n, RTOL);
    fx_expect(c, "mean", mean, B * G, RTOL);
    fx_expect(c, "rstd", rstd, B * G, RTOL);

    float *dx = fx_zeros(c, n), *dgamma = fx_zeros(c, C), *dbeta = fx_zeros(c, C);
    be->group_norm_backward(be, dx, dgamma, dbeta, fx_tensor(c, "dout", n), x, mean, rstd,
                            gamma, beta, B, C, HW, G, silu);
    fx_expect(c, "dx", dx, n, RTOL);
    fx_expect(c, "dgamma", dgamma, C, RTOL);
    fx_expect(c, "dbeta", dbeta, C, RTOL);
}

static void run_layer_norm(fx_case *c)
{
    scf_backend *be = chk_cpu();
    int M = fx_int(c, "M"), C = fx_int(c, "C");
    float eps = (float)fx_num(c, "eps");
    size_t n = (size_t)M * C;
    const float *x = fx_tensor(c, "x", n);
    const float *gamma = fx_tensor(c, "gamma", C), *beta = fx_tensor(c, "beta", C);
    float *out = fx_zeros(c, n), *mean = fx_zeros(c, M), *rstd = fx_zeros(c, M);
    be->layer_norm_forward(be, out, mean, rstd, x, gamma, beta, M, C, eps);
    fx_expect(c, "out", out, n, RTOL);
    fx_expect(c, "mean", mean, M, RTOL);
    fx_expect(c, "rstd", rstd, M, RTOL);

    float *dx = fx_zeros(c, n), *dgamma = fx_zeros(c, C), *dbeta = fx_zeros(c, C);
    be->layer_norm_backward(be, dx, dgamma, dbeta, fx_tensor(c, "dout", n), x, mean, rstd,
                            gamma, M, C);
    fx_expect(c, "dx", dx, n, RTOL);
    fx_expect(c, "dgamma", dgamma, C, RTOL);
    fx_expect(c, "dbeta", dbeta, C, RTOL);
}

static void run_activation(fx_case *c)
{
    scf_backend *be = chk_cpu();
    scf_activation act = (scf_activation)c->op->arg;
    size_t n = fx_int(c, "n");
    const float *x = fx_tensor(c, "x", n);
    float *out = fx_zeros(c, n), *dx = fx_zeros(c, n);
    be->activation_forward(be, out, x, n, act);
    fx_expect(c, "out", out, n, RTOL);
    be->activation_backward(be, dx, fx_tensor(c, "dout", n), x, n, act);
    fx_expect(c, "dx", dx, n, RTOL);
}

static void run_geglu(fx_case *c)
{
    scf_backend *be = chk_cpu();
    int M = fx_int(c, "M"), N = fx_int(c, "N");
    const float *x = fx_tensor(c, "x", 2 * M * N);
    float *out = fx_zeros(c, M * N), *dx = fx_zeros(c, 2 * M * N);
    be->geglu_forward(be, out, x, M, N);
    fx_expect(c, "out", out, M * N, RTOL);
    be->geglu_backward(be, dx, fx_tensor(c, "dout", M * N), x, M, N);
    fx_expect(c, "dx", dx, 2 * M * N, RTOL);
}

static void run_softmax(fx_case *c)
{
    scf_backend *be = chk_cpu();
    int M = fx_int(c, "M"), N = fx_int(c, "N");
    const float *x = fx_tensor(c, "x", M * N);
    float *out = fx_zeros(c, M * N), *dx = fx_zeros(c, M * N);
    be->softmax_forward(be, out, x, M, N);
    fx_expect(c, "out", out, M * N, RTOL);
    be->softmax_backward(be, dx, fx_tensor(c, "dout", M * N), out, M, N);
    fx_expect(c, "dx", dx, M * N, RTOL);
}

static void run_attention(fx_case *c)
{
    scf_backend *be = chk_cpu();
    int B = fx_int(c, "B"), Tq = fx_int(c, "Tq"), Tk = fx_int(c, "Tk");
    int H = fx_int(c, "H"), D = fx_int(c, "D"), causal = fx_int(c, "causal");
    size_t nq = (size_t)B * Tq * H * D, nk = (size_t)B * Tk * H * D;
    size_t np = (size_t)B * H * Tq * Tk;
    const float *q = fx_tensor(c, "q", nq), *k = fx_tensor(c, "k", nk);
    const float *v = fx_tensor(c, "v", nk);
    float *out = fx_zeros(c, nq), *probs = fx_zeros(c, np);
    be->attention_forward(be, out, probs, q, k, v, B, Tq, Tk, H, D, causal);
    fx_expect(c, "out", out, nq, RTOL);
    fx_expect(c, "probs", probs, np, RTOL);

    float *dq = fx_zeros(c, nq), *dk = fx_zeros(c, nk), *dv = fx_zeros(c, nk);
    be->attention_backward(be, dq, dk, dv, fx_tensor(c, "dout", nq), q, k, v, probs,
                           B, Tq, Tk, H, D);
    fx_expect(c, "dq", dq, nq, RTOL);
    fx_expect(c, "dk", dk, nk, RTOL);
    fx_expect(c, "dv", dv, nk, RTOL);
}

static void run_upsample2x(fx_case *c)
{
    scf_backend *be = chk_cpu();
    int N = fx_int(c, "N"), H = fx_int(c, "H"), W = fx_int(c, "W");
    size_t nx = (size_t)N * H * W, nout = 4 * nx;
    const float *x = fx_tensor(c, "x", nx);
    float *out = fx_zeros(c, nout), *dx = fx_zeros(c, nx);
    be->upsample2x_forward(be, out, x, N, H, W);
    fx_expect(c, "out", out, nout, RTOL);
    be->upsample2x_backward(be, dx, fx_tensor(c, "dout", nout), N, H, W);
    fx_expect(c, "dx", dx, nx, RTOL);
}

static void run_timestep_embedding(fx_case *c)
{
    scf_backend *be = chk_cpu();
    int B = fx_int(c, "B"), dim = fx_int(c, "dim");
    int flip = fx_int(c, "flip_sin_to_cos");
    float shift = (float)fx_num(c, "freq_shift");
    float *out = fx_zeros(c, (size_t)B * dim);
    be->timestep_embedding(be, out, fx_tensor(c, "t", B), B, dim, flip, shift);
    fx_expect(c, "out", out, (size_t)B * dim, RTOL);
}

static void run_embedding(fx_case *c)
{
    scf_backend *be = chk_cpu();
    int N = fx_int(c, "N"), D = fx_int(c, "D"), V = fx_int(c, "V");
    const int32_t *ids = fx_ids(c, "ids", N, V);
    const float *table = fx_tensor(c, "table", V * D);
    float *out = fx_zeros(c, N * D), *dtable = fx_zeros(c, V * D);
    be->embedding_forward(be, out, ids, table, N, D);
    fx_expect(c, "out", out, N * D, RTOL);
    be->embedding_backward(be, dtable, fx_tensor(c, "dout", N * D), ids, N, D);
    fx_expect(c, "dtable", dtable, V * D, RTOL);
}

static void run_concat(fx_case *c)
{
    scf_backend *be = chk_cpu();
    int B = fx_int(c, "B"), Ca = fx_int(c, "Ca"), Cb = fx_int(c, "Cb"), S = fx_int(c, "S");
    size_t na = (size_t)B * Ca * S, nb = (size_t)B * Cb * S, nout = na + nb;
    float *out = fx_zeros(c, nout), *da = fx_zeros(c, na), *db = fx_zeros(c, nb);
    be->concat_forward(be, out, fx_tensor(c, "a", na), fx_tensor(c, "b", nb), B, Ca, Cb, S);
    fx_expect(c, "out", out, nout, RTOL);
    be->concat_backward(be, da, db, fx_tensor(c, "dout", nout), B, Ca, Cb, S);
    fx_expect(c, "da", da, na, RTOL);
    fx_expect(c, "db", db, nb, RTOL);
}

static void run_mul(fx_case *c)
{
    scf_backend *be = chk_cpu();
    size_t n = fx_int(c, "n");
    const float *a = fx_tensor(c, "a", n), *b = fx_tensor(c, "b", n);
    float *out = fx_zeros(c, n), *da = fx_zeros(c, n), *db = fx_zeros(c, n);
    be->mul(be, out, a, b, n);
    fx_expect(c, "out", out, n, RTOL);
    be->mul_backward(be, da, db, fx_tensor(c, "dout", n), a, b, n);
    fx_expect(c, "da", da, n, RTOL);
    fx_expect(c, "db", db, n, RTOL);
}

static void run_add_channel(fx_case *c)
{
    scf_backend *be = chk_cpu();
    int B = fx_int(c, "B"), C = fx_int(c, "C"), S = fx_int(c, "S");
    size_t n = (size_t)B * C * S;
    float *x = fx_tensor(c, "x", n), *dv = fx_zeros(c, B * C);
    be->add_channel_forward(be, x, fx_tensor(c, "v", B * C), B, C, S);   /* in place */
    fx_expect(c, "out", x, n, RTOL);
    be->add_channel_backward(be, dv, fx_tensor(c, "dout", n), B, C, S);
    fx_expect(c, "dv", dv, B * C, RTOL);
}

static void run_add(fx_case *c)
{
    scf_backend *be = chk_cpu();
    size_t n = fx_int(c, "n");
    float *out = fx_zeros(c, n);
    be->add(be, out, fx_tensor(c, "a", n), fx_tensor(c, "b", n), n);
    fx_expect(c, "out", out, n, RTOL);
}

static void run_scale(fx_case *c)
{
    scf_backend *be = chk_cpu();
    size_t n = fx_int(c, "n");
    float *out = fx_zeros(c, n);
    be->scale(be, out, fx_tensor(c, "x", n), (float)fx_num(c, "s"), n);
    fx_expect(c, "out", out, n, RTOL);
}

static void run_axpy(fx_case *c)
{
    scf_backend *be = chk_cpu();
    size_t n = fx_int(c, "n");
    float *y = fx_tensor(c, "y", n);
    be->axpy(be, y, fx_tensor(c, "x", n), (float)fx_num(c, "a"), n);
    fx_expect(c, "out", y, n, RTOL);
}

static void run_sum_squares(fx_case *c)
{
    scf_backend *be = chk_cpu();
    size_t n = fx_int(c, "n");
    float sum = (float)be->sum_squares(be, fx_tensor(c, "x", n), n);
    fx_expect(c, "out", &sum, 1, RTOL);
}

static void run_batch_scale(fx_case *c)
{
    scf_backend *be = chk_cpu();
    int B = fx_int(c, "B"), S = fx_int(c, "S");
    size_t n = (size_t)B * S;
    const float *x = fx_tensor(c, "x", n), *s = fx_tensor(c, "s", B);
    float *out = fx_zeros(c, n), *dx = fx_zeros(c, n), *ds = fx_zeros(c, B);
    be->batch_scale_forward(be, out, x, s, B, S);
    fx_expect(c, "out", out, n, RTOL);
    be->batch_scale_backward(be, dx, ds, fx_tensor(c, "dout", n), x, s, B, S);
    fx_expect(c, "dx", dx, n, RTOL);
    fx_expect(c, "ds", ds, B, RTOL);
}

static void run_transpose(fx_case *c)
{
    scf_backend *be = chk_cpu();
    int B = fx_int(c, "B"), R = fx_int(c, "R"), C = fx_int(c, "C");
    int accumulate = fx_int(c, "accumulate");
    size_t n = (size_t)B * R * C;
    float *out = fx_tensor(c, "base", n), *dx = fx_zeros(c, n);
    be->transpose(be, out, fx_tensor(c, "x", n), B, R, C, accumulate);
    fx_expect(c, "out", out, n, RTOL);
    be->transpose(be, dx, fx_tensor(c, "dout", n), B, C, R, 1);
    fx_expect(c, "dx", dx, n, RTOL);
}

enum { LOSS_MSE, LOSS_PSEUDO_HUBER };

/* A loss of prediction a against target b (op->arg says which): its value,
 * and da for a given dloss. */
static void run_pair_loss(fx_case *c)
{
    scf_backend *be = chk_cpu();
    size_t n = fx_int(c, "n");
    float dloss = (float)fx_num(c, "dloss");
    const float *a = fx_tensor(c, "a", n), *b = fx_tensor(c, "b", n);
    float loss, *da = fx_zeros(c, n);
    if (c->op->arg == LOSS_PSEUDO_HUBER) {
        float hc = (float)fx_num(c, "c");
        loss = be->pseudo_huber_forward(be, a, b, n, hc);
        be->pseudo_huber_backward(be, da, a, b, n, hc, dloss);
    } else {
        loss = be->mse_forward(be, a, b, n);
        be->mse_backward(be, da, a, b, n, dloss);
    }
    fx_expect(c, "loss", &loss, 1, RTOL);
    fx_expect(c, "da", da, n, RTOL);
}

static void run_softplus(fx_case *c)
{
    scf_backend *be = chk_cpu();
    size_t n = fx_int(c, "n");
    const float *x = fx_tensor(c, "x", n);
    float *out = fx_zeros(c, n), *dx = fx_zeros(c, n);
    be->softplus_forward(be, out, x, n);
    fx_expect(c, "out", out, n, RTOL);
    be->softplus_backward(be, dx, fx_tensor(c, "dout", n), x, n);
    fx_expect(c, "dx", dx, n, RTOL);
}

static void run_gan_logistic(fx_case *c)
{
    scf_backend *be = chk_cpu();
    size_t n = fx_int(c, "n");
    float sign = (float)fx_num(c, "sign"), dloss = (float)fx_num(c, "dloss");
    const float *x = fx_tensor(c, "x", n);
    float loss = be->gan_logistic_forward(be, x, n, sign), *dx = fx_zeros(c, n);
    fx_expect(c, "loss", &loss, 1, RTOL);
    be->gan_logistic_backward(be, dx, x, n, sign, dloss);
    fx_expect(c, "dx", dx, n, RTOL);
}

static void run_adamw(fx_case *c)
{
    scf_backend *be = chk_cpu();
    size_t n = fx_int(c, "n");
    int steps = fx_int(c, "steps");
    float lr = (float)fx_num(c, "lr"), beta1 = (float)fx_num(c, "beta1");
    float beta2 = (float)fx_num(c, "beta2"), eps = (float)fx_num(c, "eps");
    float wd = (float)fx_num(c, "weight_decay");
    const float *param0 = fx_tensor(c, "param0", n);
    float *param = fx_tensor(c, "param0", n), *m = fx_zeros(c, n), *v = fx_zeros(c, n);
    for (int t = 1; t <= steps; t++) {
        g_autofree char *key = g_strdup_printf("grad%d", t);
        be->adamw_update(be, param, fx_tensor(c, key, n), m, v, n, lr, beta1, beta2, eps, wd, t);
    }
    fx_expect_change(c, "param", param, param0, n, RTOL);
    fx_expect(c, "m", m, n, RTOL);
    fx_expect(c, "v", v, n, RTOL);
}

static void run_ema(fx_case *c)
{
    scf_backend *be = chk_cpu();
    size_t n = fx_int(c, "n");
    int steps = fx_int(c, "steps");
    float decay = (float)fx_num(c, "decay");
    const float *ema0 = fx_tensor(c, "ema0", n);
    float *ema = fx_tensor(c, "ema0", n);
    for (int s = 1; s <= steps; s++) {
        g_autofree char *key = g_strdup_printf("param%d", s);
        be->ema_update(be, ema, fx_tensor(c, key, n), n, decay);
    }
    fx_expect_change(c, "ema", ema, ema0, n, RTOL);
}

static const parity_op parity_ops[] = {
    { "linear", run_linear, 0 },
    { "conv2d", run_conv2d, 0 },
    { "group_norm", run_group_norm, 0 },
    { "layer_norm", run_layer_norm, 0 },
    { "silu", run_activation, SCF_ACT_SILU },
    { "gelu", run_activation, SCF_ACT_GELU },
    { "gelu_tanh", run_activation, SCF_ACT_GELU_TANH },
    { "quick_gelu", run_activation, SCF_ACT_QUICK_GELU },
    { "geglu", run_geglu, 0 },
    { "softmax", run_softmax, 0 },
    { "attention", run_attention, 0 },
    { "upsample2x", run_upsample2x, 0 },
    { "timestep_embedding", run_timestep_embedding, 0 },
    { "embedding", run_embedding, 0 },
    { "concat", run_concat, 0 },
    { "mul", run_mul, 0 },
    { "add_channel", run_add_channel, 0 },
    { "add", run_add, 0 },
    { "scale", run_scale, 0 },
    { "axpy", run_axpy, 0 },
    { "sum_squares", run_sum_squares, 0 },
    { "batch_scale", run_batch_scale, 0 },
    { "transpose", run_transpose, 0 },
    { "mse", run_pair_loss, LOSS_MSE },
    { "pseudo_huber", run_pair_loss, LOSS_PSEUDO_HUBER },
    { "softplus", run_softplus, 0 },
    { "gan_logistic", run_gan_logistic, 0 },
    { "adamw", run_adamw, 0 },
    { "ema", run_ema, 0 },
};

/* Runs every case of one fixture file; a missing file is a failure, not a skip. */
static void test_parity(gconstpointer data)
{
    const parity_op *op = data;
    const char *dir = g_getenv("SCF_FIXTURES");
    if (!dir) {
        g_test_fail_printf("SCF_FIXTURES is not set");
        return;
    }
    g_autofree char *path = g_strdup_printf("%s/parity/%s.safetensors", dir, op->name);
    GError *error = NULL;
    scf_safetensors *st = scf_safetensors_open(path, &error);
    if (!st) {
        g_test_fail_printf("%s", error->message);
        g_error_free(error);
        return;
    }
    const char *cases = scf_safetensors_metadata(st, "cases");
    if (!cases || !*cases) {
        g_test_fail_printf("%s: no \"cases\" in the metadata", path);
    } else {
        g_auto(GStrv) names = g_strsplit(cases, ",", -1);
        for (int i = 0; names[i]; i++) {
            fx_case c = { op, st, names[i], g_ptr_array_new_with_free_func(g_free) };
            op->run(&c);
            g_ptr_array_unref(c.owned);
        }
    }
    scf_safetensors_close(st);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(parity_ops); i++) {
        g_autofree char *name = g_strdup_printf("/parity/%s", parity_ops[i].name);
        g_test_add_data_func(name, &parity_ops[i], test_parity);
    }
    return g_test_run();
}
