/* Per-sample scaling and per-batch transpose: forward values and
 * finite-difference gradients. */
#include "check.h"
#include <math.h>
#include <string.h>

enum { B = 3, R = 37, C = 45 };

typedef struct {
    float x[B * R * C], s[B], out[B * R * C], r[B * R * C];
} scale_ctx;

static double scale_loss(void *p)
{
    scale_ctx *c = p;
    chk_cpu()->batch_scale_forward(chk_cpu(), c->out, c->x, c->s, B, R * C);
    return chk_dot(c->out, c->r, B * R * C);
}

static void test_batch_scale(void)
{
    scf_backend *be = chk_cpu();
    static scale_ctx c;
    chk_fill(c.x, B * R * C, -1, 1, 1);
    chk_fill(c.s, B, -2, 2, 2);
    chk_fill(c.r, B * R * C, -1, 1, 3);
    scale_loss(&c);
    for (int b = 0; b < B; b++)
        for (int i = 0; i < R * C; i++)
            g_assert_cmpfloat(c.out[b * R * C + i], ==, c.s[b] * c.x[b * R * C + i]);
    static float dx[B * R * C];
    float ds[B];
    /* accumulation: prior contents are kept */
    for (int i = 0; i < B * R * C; i++)
        dx[i] = 0.5f;
    for (int b = 0; b < B; b++)
        ds[b] = 0.25f;
    be->batch_scale_backward(be, dx, ds, c.r, c.x, c.s, B, R * C);
    for (int i = 0; i < B * R * C; i++)
        dx[i] -= 0.5f;
    for (int b = 0; b < B; b++)
        ds[b] -= 0.25f;
    chk_grad grads[] = { { "dx", c.x, dx, B * R * C }, { "ds", c.s, ds, B } };
    /* fp32 sums of ~1,700 products: 1e-3 relative leaves room for the
     * central difference's rounding, far below any real error */
    g_assert_true(chk_gradcheck("batch_scale", scale_loss, &c, grads, 2, 1e-2f, 1e-3, 64));
    /* NULL gradients are allowed */
    be->batch_scale_backward(be, NULL, NULL, c.r, c.x, c.s, B, R * C);
}

typedef struct {
    float x[B * R * C], out[B * R * C], r[B * R * C];
} transpose_ctx;

static double transpose_loss(void *p)
{
    transpose_ctx *c = p;
    chk_cpu()->transpose(chk_cpu(), c->out, c->x, B, R, C, 0);
    return chk_dot(c->out, c->r, B * R * C);
}

static void test_transpose(void)
{
    scf_backend *be = chk_cpu();
    static transpose_ctx c;
    chk_fill(c.x, B * R * C, -1, 1, 4);
    chk_fill(c.r, B * R * C, -1, 1, 5);
    transpose_loss(&c);
    for (int b = 0; b < B; b++)
        for (int i = 0; i < R; i++)
            for (int j = 0; j < C; j++)
                g_assert_cmpfloat(c.out[(b * C + j) * R + i], ==, c.x[(b * R + i) * C + j]);
    /* backward is the reverse transpose, accumulating */
    static float dx[B * R * C];
    for (int i = 0; i < B * R * C; i++)
        dx[i] = 1.0f;
    be->transpose(be, dx, c.r, B, C, R, 1);
    for (int i = 0; i < B * R * C; i++)
        dx[i] -= 1.0f;
    chk_grad grads[] = { { "dx", c.x, dx, B * R * C } };
    g_assert_true(chk_gradcheck("transpose", transpose_loss, &c, grads, 1, 1e-2f, 1e-3, 64));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/batch/scale", test_batch_scale);
    g_test_add_func("/batch/transpose", test_transpose);
    return g_test_run();
}
