/* The recording tape: a small network touching every op, gradient-checked end
 * to end through scf_graph_backward; frozen parameters record nothing;
 * memory stops growing after the first pass, and its epoch stays until a
 * pass outgrows it; shape errors are reported. */
#include "graph.h"
#include "error.h"
#include "check.h"
#include <string.h>

enum { B = 2, C = 4, H = 6, W = 6, E = 8 };

typedef struct {
    const char *name;
    int ndim;
    int64_t shape[4];
} param_spec;

static const param_spec specs[] = {
    { "conv_in.weight", 4, { C, 3, 3, 3 } },
    { "conv_in.bias", 1, { C } },
    { "norm.weight", 1, { C } },
    { "norm.bias", 1, { C } },
    { "temb.weight", 2, { C, E } },
    { "temb.bias", 1, { C } },
    { "ln.weight", 1, { C } },
    { "ln.bias", 1, { C } },
    { "ff.weight", 2, { 2 * C, C } },
    { "q.weight", 2, { C, C } },
    { "kv.weight", 2, { C, 5 } },
    { "conv_out.weight", 4, { 3, C + 3, 3, 3 } },
    { "table", 2, { 7, 5 } },
};
enum { NPARAMS = G_N_ELEMENTS(specs) };

typedef struct {
    scf_graph *g;
    float *values[NPARAMS], *grads[NPARAMS];
    scf_var params[NPARAMS];
    float x[B * 3 * H * W], target[B * 3 * 2 * H * 2 * W], t[B], noise_t[B];
    int32_t ids[B * 3];
} net;

static size_t spec_numel(const param_spec *s)
{
    size_t n = 1;
    for (int i = 0; i < s->ndim; i++)
        n *= (size_t)s->shape[i];
    return n;
}

static void net_init(net *n, gboolean trainable)
{
    memset(n, 0, sizeof *n);
    n->g = scf_graph_new(chk_cpu());
    for (int i = 0; i < NPARAMS; i++) {
        size_t k = spec_numel(&specs[i]);
        n->values[i] = g_new(float, k);
        n->grads[i] = g_new0(float, k);
        chk_fill(n->values[i], k, -0.5f, 0.5f, 100 + (uint64_t)i);
        if (strstr(specs[i].name, "norm.weight") || strstr(specs[i].name, "ln.weight"))
            for (size_t j = 0; j < k; j++)
                n->values[i][j] += 1.0f;
        scf_tensor t = { n->values[i], specs[i].ndim, { 0 } };
        memcpy(t.shape, specs[i].shape, sizeof t.shape);
        n->params[i] = scf_param(t, n->grads[i], trainable);
    }
    chk_fill(n->x, G_N_ELEMENTS(n->x), -1, 1, 1);
    chk_fill(n->target, G_N_ELEMENTS(n->target), -1, 1, 2);
    chk_fill(n->t, B, 0, 1, 3);
    chk_fill(n->noise_t, B, 0.1f, 0.9f, 4);
    for (int i = 0; i < B * 3; i++)
        n->ids[i] = (i * 3) % 7;
}

static void net_free(net *n)
{
    for (int i = 0; i < NPARAMS; i++) {
        g_free(n->values[i]);
        g_free(n->grads[i]);
    }
    scf_graph_free(n->g);
}

/* conv -> GN+SiLU (+ time embedding) -> tokens -> LN -> GEGLU -> cross
 * attention on embedded ids -> back to NCHW -> upsample -> concat with the
 * upsampled input -> conv -> per-sample scale -> MSE + pseudo-Huber + GAN. */
static scf_var *net_forward(net *n)
{
    scf_graph *g = n->g;
    scf_var *p = n->params;
    scf_graph_reset(g);
    scf_var *x = scf_graph_wrap(g, (scf_tensor){ n->x, 4, { B, 3, H, W } });
    scf_var *t = scf_graph_wrap(g, (scf_tensor){ n->t, 1, { B } });
    scf_var *h = scf_conv2d(g, x, &p[0], &p[1], 1, 1);
    h = scf_group_norm(g, h, &p[2], &p[3], 2, 1e-5f, TRUE);
    scf_var *temb = scf_timestep_embedding(g, t, E, TRUE, 0);
    temb = scf_act(g, scf_linear(g, temb, &p[4], &p[5]), SCF_ACT_SILU);
    h = scf_add_channel(g, h, temb);
    scf_var *tok = scf_transpose(g, scf_graph_reshape(g, h, 3, (int64_t[]){ B, C, H * W }));
    scf_var *y = scf_layer_norm(g, tok, &p[6], &p[7], 1e-5f);
    y = scf_geglu(g, scf_linear(g, y, &p[8], NULL));
    scf_var *ctx = scf_graph_reshape(g, scf_embedding(g, n->ids, B * 3, &p[12]), 3,
                                     (int64_t[]){ B, 3, 5 });
    scf_var *q = scf_linear(g, y, &p[9], NULL);
    scf_var *kv = scf_linear(g, ctx, &p[10], NULL);
    scf_var *a = scf_attention(g, q, kv, kv, 2, FALSE);
    tok = scf_add(g, tok, scf_mul(g, a, y));
    h = scf_graph_reshape(g, scf_transpose(g, tok), 4, (int64_t[]){ B, C, H, W });
    h = scf_concat(g, scf_upsample2x(g, h), scf_upsample2x(g, x));
    h = scf_conv2d(g, h, &p[11], NULL, 1, 1);
    scf_var *s = scf_graph_wrap(g, (scf_tensor){ n->noise_t, 1, { B } });
    h = scf_batch_scale(g, h, s);
    scf_var *target = scf_graph_wrap(g, (scf_tensor){ n->target, 4, { B, 3, 2 * H, 2 * W } });
    scf_var *loss = scf_add(g, scf_mse(g, h, target),
                            scf_scale(g, scf_pseudo_huber(g, h, target, 0.1f), 0.5f));
    scf_var *logits = scf_scale(g, h, 4.0f);
    return scf_add(g, loss, scf_scale(g, scf_gan_logistic(g, logits, -1.0f), 0.1f));
}

static double net_loss(void *ctx)
{
    net *n = ctx;
    return scf_graph_scalar(n->g, net_forward(n));
}

static void test_end_to_end_gradients(void)
{
    net n;
    net_init(&n, TRUE);
    scf_var *loss = net_forward(&n);
    g_assert_nonnull(loss);
    scf_graph_backward(n.g, loss);
    g_assert_true(scf_graph_check(n.g, NULL));
    chk_grad grads[NPARAMS];
    for (int i = 0; i < NPARAMS; i++)
        grads[i] = (chk_grad){ specs[i].name, n.values[i], n.grads[i], spec_numel(&specs[i]) };
    /* The loss sums about 1,700 terms in fp32 through a dozen ops: with
     * h = 1e-2 the central difference's rounding error is ~1e-4 of the loss
     * and its truncation error ~h^2; 2e-2 relative holds with margin while a
     * wrong backward (sign, missing term, wrong index) is off by far more. */
    g_assert_true(chk_gradcheck("graph", net_loss, &n, grads, NPARAMS, 1e-2f, 2e-2, 12));
    net_free(&n);
}

static void test_frozen_params_record_nothing(void)
{
    net n;
    net_init(&n, FALSE);
    scf_var *loss = net_forward(&n);
    g_assert_nonnull(loss);
    g_assert_false(loss->requires_grad);
    GError *error = NULL;
    scf_graph_backward(n.g, loss);
    g_assert_false(scf_graph_check(n.g, &error));
    g_assert_nonnull(strstr(error->message, "does not depend"));
    g_error_free(error);
    for (int i = 0; i < NPARAMS; i++)
        for (size_t j = 0; j < spec_numel(&specs[i]); j++)
            g_assert_cmpfloat(n.grads[i][j], ==, 0.0f);
    net_free(&n);
}

static void test_memory_settles_after_first_pass(void)
{
    net n;
    net_init(&n, TRUE);
    float first = scf_graph_scalar(n.g, net_forward(&n));
    scf_graph_backward(n.g, net_forward(&n));
    net_forward(&n);
    size_t settled = scf_graph_memory(n.g);
    const guint64 epoch = scf_graph_memory_epoch(n.g);
    for (int i = 0; i < 3; i++) {
        scf_var *loss = net_forward(&n);
        g_assert_cmpfloat(scf_graph_scalar(n.g, loss), ==, first);
        scf_graph_backward(n.g, loss);
        g_assert_cmpuint(scf_graph_memory(n.g), ==, settled);
        g_assert_cmpuint(scf_graph_memory_epoch(n.g), ==, epoch);
    }
    /* a pass that needs more moves the memory: recordings of it are stale */
    scf_graph_reset(n.g);
    const int64_t more = (int64_t)(settled / sizeof(float)) + 1;
    g_assert_nonnull(scf_graph_new_var(n.g, 1, &more));
    g_assert_cmpuint(scf_graph_memory_epoch(n.g), !=, epoch);
    net_free(&n);
}

static void test_shape_error_is_sticky_and_named(void)
{
    net n;
    net_init(&n, TRUE);
    scf_graph *g = n.g;
    scf_var *x = scf_graph_wrap(g, (scf_tensor){ n.x, 2, { B, 3 * H * W } });
    scf_var *y = scf_linear(g, x, &n.params[4], NULL); /* weight [4, 8] needs K = 8 */
    g_assert_null(y);
    g_assert_null(scf_act(g, y, SCF_ACT_SILU));
    GError *error = NULL;
    g_assert_false(scf_graph_check(g, &error));
    g_assert_error(error, SCF_ERROR, SCF_ERROR_INVALID);
    g_assert_nonnull(strstr(error->message, "[2, 108]"));
    g_assert_nonnull(strstr(error->message, "[4, 8]"));
    g_error_free(error);
    scf_graph_reset(g);
    g_assert_true(scf_graph_check(g, NULL));
    net_free(&n);
}

/* Pass-through ops (add, scale, add_channel's input) hand their output's
 * gradient buffer on instead of adding it into a zeroed one: a self-add, a
 * leaf that takes a buffer and then gets more added into it, the second
 * input of an add when the first took the buffer, and when the first needs
 * no gradient. With c constant, q = c + 3 (x + 2 x w) and L = mean((q - t)^2):
 * dL/dx = g 3 (1 + 2w), dL/dw = g 6 x with g = 2 (q - t) / n. */
static void test_gradient_buffers_passed_on(void)
{
    enum { N = 4096 };
    g_autofree float *xv = chk_random(N, -1, 1, 31);
    g_autofree float *wv = chk_random(N, -1, 1, 32);
    g_autofree float *cv = chk_random(N, -1, 1, 33);
    g_autofree float *tv = chk_random(N, -1, 1, 34);
    g_autofree float *wgrad = g_new0(float, N);
    scf_graph *g = scf_graph_new(chk_cpu());
    scf_var w = scf_param((scf_tensor){ wv, 1, { N } }, wgrad, TRUE);
    scf_var *x = scf_graph_wrap(g, (scf_tensor){ xv, 1, { N } });
    x->requires_grad = TRUE;
    scf_var *xw = scf_mul(g, x, &w);
    scf_var *z = scf_add(g, xw, xw);
    scf_var *v = scf_scale(g, scf_add(g, x, z), 3.0f);
    scf_var *q = scf_add(g, scf_graph_wrap(g, (scf_tensor){ cv, 1, { N } }), v);
    scf_graph_backward(g, scf_mse(g, q, scf_graph_wrap(g, (scf_tensor){ tv, 1, { N } })));
    g_assert_true(scf_graph_check(g, NULL));
    g_autofree float *want_x = g_new(float, N);
    g_autofree float *want_w = g_new(float, N);
    for (int i = 0; i < N; i++) {
        double qi = cv[i] + 3.0 * ((double)xv[i] + 2.0 * xv[i] * wv[i]);
        double gi = 2.0 * (qi - tv[i]) / N;
        want_x[i] = (float)(gi * 3.0 * (1.0 + 2.0 * wv[i]));
        want_w[i] = (float)(gi * 6.0 * xv[i]);
    }
    /* a few fp32 roundings per element (worst seen 9e-8); a buffer taken
     * twice or a term dropped is off by O(1) */
    g_assert_true(chk_close("dL/dx", x->grad, want_x, N, 1e-6));
    g_assert_true(chk_close("dL/dw", wgrad, want_w, N, 1e-6));
    scf_graph_free(g);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/graph/end-to-end-gradients", test_end_to_end_gradients);
    g_test_add_func("/graph/gradient-buffers-passed-on", test_gradient_buffers_passed_on);
    g_test_add_func("/graph/frozen-params-record-nothing", test_frozen_params_record_nothing);
    g_test_add_func("/graph/memory-settles", test_memory_settles_after_first_pass);
    g_test_add_func("/graph/shape-error", test_shape_error_is_sticky_and_named);
    return g_test_run();
}
