/* Losses, softplus, embedding lookup and the timestep embedding: forward
 * values against double-precision formulas, every backward against finite
 * differences of its forward, and the accumulate-into-gradient contract. */
#include "check.h"
#include <float.h>
#include <math.h>
#include <string.h>

/* ---- scalar losses: MSE, pseudo-Huber, logistic GAN ---- */

typedef enum { LOSS_MSE, LOSS_HUBER, LOSS_GAN } loss_kind;

typedef struct {
    loss_kind kind;
    float *a;          /* prediction, or the logits of the GAN loss */
    const float *b;    /* target (unused by the GAN loss) */
    size_t n;
    float c;           /* pseudo-Huber */
    float sign;        /* GAN */
} loss_case;

static float loss_forward(const loss_case *lc)
{
    scf_backend *be = chk_cpu();
    switch (lc->kind) {
    case LOSS_MSE:   return be->mse_forward(be, lc->a, lc->b, lc->n);
    case LOSS_HUBER: return be->pseudo_huber_forward(be, lc->a, lc->b, lc->n, lc->c);
    case LOSS_GAN:   return be->gan_logistic_forward(be, lc->a, lc->n, lc->sign);
    }
    g_assert_not_reached();
}

static void loss_backward(const loss_case *lc, float *da, float dloss)
{
    scf_backend *be = chk_cpu();
    switch (lc->kind) {
    case LOSS_MSE:   be->mse_backward(be, da, lc->a, lc->b, lc->n, dloss); return;
    case LOSS_HUBER: be->pseudo_huber_backward(be, da, lc->a, lc->b, lc->n, lc->c, dloss); return;
    case LOSS_GAN:   be->gan_logistic_backward(be, da, lc->a, lc->n, lc->sign, dloss); return;
    }
}

static double softplus_ref(double x)
{
    return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
}

static double sigmoid_ref(double x)
{
    return 1.0 / (1.0 + exp(-x));
}

/* Per-element term of the loss and its derivative, in double. */
static double loss_term_ref(const loss_case *lc, size_t i, double *deriv)
{
    double a = lc->a[i], d = lc->kind == LOSS_GAN ? 0 : a - lc->b[i], c = lc->c;
    switch (lc->kind) {
    case LOSS_MSE:
        *deriv = 2 * d;
        return d * d;
    case LOSS_HUBER:
        *deriv = d / sqrt(d * d + c * c);
        return d * d / (sqrt(d * d + c * c) + c);   /* sqrt(d^2+c^2)-c, exactly */
    case LOSS_GAN:
        *deriv = lc->sign * sigmoid_ref(lc->sign * a);
        return softplus_ref(lc->sign * a);
    }
    g_assert_not_reached();
}

static double loss_ref(const loss_case *lc)
{
    double sum = 0, deriv;
    for (size_t i = 0; i < lc->n; i++)
        sum += loss_term_ref(lc, i, &deriv);
    return sum / lc->n;
}

/* n * loss, so that each element's gradient is O(1) for the check's tolerance */
static double loss_scaled(void *ctx)
{
    const loss_case *lc = ctx;
    return (double)lc->n * loss_forward(lc);
}

/* Forward within rtol of the double formula; backward adds exactly
 * dloss * dL/da to what the gradient held; finite differences agree. */
static void check_loss(const char *what, loss_case *lc, float h, double tol)
{
    size_t n = lc->n;
    double ref = loss_ref(lc);
    g_assert_cmpfloat(fabs(loss_forward(lc) - ref), <=, 2e-6 * fabs(ref) + 1e-30);

    float *da = g_new(float, n), *want = g_new(float, n);
    const float dloss = 0.75f;
    for (size_t i = 0; i < n; i++) {
        double deriv;
        loss_term_ref(lc, i, &deriv);
        da[i] = 0.25f;
        want[i] = (float)(0.25 + dloss * deriv / n);
    }
    loss_backward(lc, da, dloss);
    g_assert_true(chk_close(what, da, want, n, 1e-6));
    loss_backward(lc, NULL, dloss);   /* an unwanted gradient is skipped */

    memset(da, 0, n * sizeof(float));
    loss_backward(lc, da, (float)n);
    chk_grad g = { "da", lc->a, da, n };
    g_assert_true(chk_gradcheck(what, loss_scaled, lc, &g, 1, h, tol, (int)n));
    g_free(da);
    g_free(want);
}

static void test_mse(void)
{
    float a[16], b[16];
    chk_fill(a, 16, -1, 1, 1);
    chk_fill(b, 16, -1, 1, 2);
    loss_case lc = { LOSS_MSE, a, b, 16, 0, 0 };
    check_loss("mse", &lc, 1e-2f, 1e-4);
}

static void test_pseudo_huber(void)
{
    float a[16], b[16];
    chk_fill(a, 16, -1, 1, 3);
    chk_fill(b, 16, -1, 1, 4);
    loss_case wide = { LOSS_HUBER, a, b, 16, 1.0f, 0 };
    check_loss("pseudo-huber c=1", &wide, 1e-2f, 1e-4);

    /* c = 0.01: the curve bends within |d| < c, so the step must be far below c;
     * small inputs keep the fp32 loss's rounding below the step's resolution */
    chk_fill(a, 16, -0.25f, 0.25f, 5);
    chk_fill(b, 16, -0.25f, 0.25f, 6);
    a[0] = b[0] + 0.004f;   /* inside the quadratic region */
    a[1] = b[1] - 0.012f;
    loss_case narrow = { LOSS_HUBER, a, b, 16, 0.01f, 0 };
    check_loss("pseudo-huber c=0.01", &narrow, 2.5e-4f, 2e-3);
}

/* |a - b| << c: the naive sqrt(d^2 + c^2) - c would round to 0 in fp32. */
static void test_pseudo_huber_small_difference(void)
{
    float a[4] = { 1e-4f, -2e-4f, 3e-4f, 0.0f }, b[4] = { 0 };
    loss_case lc = { LOSS_HUBER, a, b, 4, 1.0f, 0 };
    double ref = loss_ref(&lc);   /* about 1.75e-8 */
    g_assert_cmpfloat(fabs(loss_forward(&lc) - ref), <=, 1e-5 * ref);
}

static void test_gan_logistic(void)
{
    float x[16];
    chk_fill(x, 16, -4, 4, 7);
    x[0] = 30.0f;   /* saturated logits on both sides */
    x[1] = -30.0f;
    for (int s = 0; s < 2; s++) {
        loss_case lc = { LOSS_GAN, x, NULL, 16, 0, s ? 1.0f : -1.0f };
        check_loss(s ? "gan sign +1" : "gan sign -1", &lc, 1e-2f, 1e-3);
    }
}

/* Large n: the threaded reductions against the double formulas. */
static void test_large_reductions(void)
{
    const size_t n = 100003;
    float *a = g_new(float, n), *b = g_new(float, n);
    chk_fill(a, n, -3, 3, 8);
    chk_fill(b, n, -3, 3, 9);
    loss_case cases[] = {
        { LOSS_MSE, a, b, n, 0, 0 },
        { LOSS_HUBER, a, b, n, 0.01f, 0 },
        { LOSS_HUBER, a, b, n, 1.0f, 0 },
        { LOSS_GAN, a, NULL, n, 0, 1.0f },
        { LOSS_GAN, a, NULL, n, 0, -1.0f },
    };
    for (size_t k = 0; k < G_N_ELEMENTS(cases); k++) {
        double ref = loss_ref(&cases[k]);
        g_assert_cmpfloat(fabs(loss_forward(&cases[k]) - ref), <=, 1e-6 * fabs(ref));
    }
    g_free(a);
    g_free(b);
}

/* ---- softplus ---- */

typedef struct {
    float *x, *out;
    const float *r;
    size_t n;
} softplus_case;

static double softplus_loss(void *ctx)
{
    softplus_case *sc = ctx;
    chk_cpu()->softplus_forward(chk_cpu(), sc->out, sc->x, sc->n);
    return chk_dot(sc->out, sc->r, sc->n);
}

/* Forward within 1e-6 of each element's own value (softplus(-30) is 9.4e-14;
 * below ~1e-38 fp32 is subnormal and only its spacing is attainable) and backward adding exactly dout * sigmoid(x) to what dx held. */
static void check_softplus_formulas(const float *x, const float *r, size_t n)
{
    float *out = g_new(float, n), *dx = g_new(float, n), *want = g_new(float, n);
    chk_cpu()->softplus_forward(chk_cpu(), out, x, n);
    for (size_t i = 0; i < n; i++) {
        double ref = softplus_ref(x[i]);
        if (!(fabs(out[i] - ref) <= 1e-6 * ref + FLT_TRUE_MIN))
            g_error("softplus(%g) = %.9g, expected %.9g", x[i], out[i], ref);
    }
    for (size_t i = 0; i < n; i++) {
        dx[i] = 0.25f;
        want[i] = (float)(0.25 + r[i] * sigmoid_ref(x[i]));
    }
    chk_cpu()->softplus_backward(chk_cpu(), dx, r, x, n);
    g_assert_true(chk_close("softplus dx", dx, want, n, 1e-6));
    chk_cpu()->softplus_backward(chk_cpu(), NULL, r, x, n);
    g_free(out);
    g_free(dx);
    g_free(want);
}

static void test_softplus(void)
{
    enum { N = 24 };
    float x[N], out[N], r[N], dx[N];
    chk_fill(x, N, -6, 6, 10);
    chk_fill(r, N, -1, 1, 11);
    x[0] = 30.0f;
    x[1] = -30.0f;
    x[2] = 0.0f;
    check_softplus_formulas(x, r, N);

    memset(dx, 0, sizeof dx);
    chk_cpu()->softplus_backward(chk_cpu(), dx, r, x, N);
    softplus_case sc = { x, out, r, N };
    chk_grad g = { "dx", x, dx, N };
    g_assert_true(chk_gradcheck("softplus", softplus_loss, &sc, &g, 1, 1e-2f, 2e-4, N));

    /* e^x overflows fp32 beyond 88 and vanishes below -103: the naive
     * log(1 + e^x) would give inf or lose the value */
    const float extreme[] = { 88.5f, -88.5f, 100.0f, -100.0f, 1e4f, -1e4f, 1e30f, -1e30f };
    check_softplus_formulas(extreme, r, G_N_ELEMENTS(extreme));
}

/* ---- embedding lookup ---- */

typedef struct {
    float *table, *out;
    const float *r;
    const int32_t *ids;
    int N, D;
} lookup_case;

static double lookup_loss(void *ctx)
{
    lookup_case *lc = ctx;
    chk_cpu()->embedding_forward(chk_cpu(), lc->out, lc->ids, lc->table, lc->N, lc->D);
    return chk_dot(lc->out, lc->r, (size_t)lc->N * lc->D);
}

/* Forward copies rows; backward adds each token's gradient into its row on top
 * of what dtable held (repeated ids sum); finite differences agree. */
static void check_lookup(const int32_t *ids, int N, int V, int D, gboolean gradcheck)
{
    size_t nt = (size_t)V * D, no = (size_t)N * D;
    float *table = g_new(float, nt), *out = g_new(float, no), *r = g_new(float, no);
    float *dtable = g_new(float, nt), *want = g_new(float, nt);
    chk_fill(table, nt, -1, 1, 12);
    chk_fill(r, no, -1, 1, 13);

    chk_cpu()->embedding_forward(chk_cpu(), out, ids, table, N, D);
    for (int n = 0; n < N; n++)
        g_assert_cmpmem(out + (size_t)n * D, D * sizeof(float),
                        table + (size_t)ids[n] * D, D * sizeof(float));

    for (size_t i = 0; i < nt; i++)
        dtable[i] = want[i] = 0.5f;
    for (int n = 0; n < N; n++)
        for (int d = 0; d < D; d++)
            want[(size_t)ids[n] * D + d] += r[(size_t)n * D + d];
    chk_cpu()->embedding_backward(chk_cpu(), dtable, r, ids, N, D);
    g_assert_true(chk_close("embedding dtable", dtable, want, nt, 1e-6));
    chk_cpu()->embedding_backward(chk_cpu(), NULL, r, ids, N, D);

    if (gradcheck) {
        memset(dtable, 0, nt * sizeof(float));
        chk_cpu()->embedding_backward(chk_cpu(), dtable, r, ids, N, D);
        lookup_case lc = { table, out, r, ids, N, D };
        chk_grad g = { "dtable", table, dtable, nt };
        g_assert_true(chk_gradcheck("embedding", lookup_loss, &lc, &g, 1, 1e-2f, 1e-4, (int)nt));
    }
    g_free(table);
    g_free(out);
    g_free(r);
    g_free(dtable);
    g_free(want);
}

static void test_embedding_lookup(void)
{
    /* row 3 three times, row 0 twice, row 4 never */
    const int32_t ids[] = { 3, 0, 3, 1, 2, 0, 3 };
    check_lookup(ids, G_N_ELEMENTS(ids), 5, 19, TRUE);
}

/* Enough work for the threaded path, and a width that is not a multiple of
 * the threads' 16-float column slices. */
static void test_embedding_lookup_threaded(void)
{
    enum { N = 700, V = 9, D = 77 };
    int32_t ids[N];
    for (int n = 0; n < N; n++)
        ids[n] = (n * 7 + n / 5) % V;
    check_lookup(ids, N, V, D, FALSE);
}

/* ---- timestep embedding ---- */

/* Produced with torch 2.x (fp32, CPU) in /work/main/.venv by diffusers'
 * get_timestep_embedding copied verbatim (diffusers is not installed there):
 *   get_timestep_embedding(torch.tensor([0, 1, 0.5, 999.]), dim, flip, shift)
 * printed with "%.9g". */
static const float t_ref[4] = { 0.0f, 1.0f, 0.5f, 999.0f };
static const struct {
    int dim, flip;
    float shift;
    float emb[4][8];
} torch_ref[] = {
    { 8, 0, 1, {
        { 0, 0, 0, 0, 1, 1, 1, 1 },
        { 0.841470957f, 0.0463992283f, 0.00215443317f, 9.99999902e-05f, 0.540302336f, 0.998922944f, 0.999997675f, 1 },
        { 0.47942555f, 0.0232058633f, 0.00107721717f, 4.99999951e-05f, 0.87758255f, 0.999730706f, 0.999999404f, 1 },
        { -0.0264607519f, 0.684861422f, 0.835648477f, 0.0997339115f, 0.999649823f, -0.728673339f, -0.549264669f, 0.995014131f } } },
    { 8, 1, 0, {
        { 1, 1, 1, 1, 0, 0, 0, 0 },
        { 0.540302336f, 0.995004177f, 0.999949992f, 0.999999523f, 0.841470957f, 0.099833414f, 0.00999983307f, 0.000999999815f },
        { 0.87758255f, 0.998750269f, 0.999987483f, 0.999999881f, 0.47942555f, 0.0499791652f, 0.00499997893f, 0.000499999966f },
        { 0.999649823f, 0.807455063f, -0.844469786f, 0.541143537f, -0.0264607519f, -0.589929104f, -0.535603166f, 0.840930223f } } },
    { 7, 1, 1, {
        { 1, 1, 1, 0, 0, 0, 0 },
        { 0.540302336f, 0.999949992f, 1, 0.841470957f, 0.00999983307f, 9.99999902e-05f, 0 },
        { 0.87758255f, 0.999987483f, 1, 0.47942555f, 0.00499997893f, 4.99999951e-05f, 0 },
        { 0.999649823f, -0.844469786f, 0.995014131f, -0.0264607519f, -0.535603166f, 0.0997339115f, 0 } } },
    { 7, 0, 0, {
        { 0, 0, 0, 1, 1, 1, 0 },
        { 0.841470957f, 0.0463992283f, 0.00215443317f, 0.540302336f, 0.998922944f, 0.999997675f, 0 },
        { 0.47942555f, 0.0232058633f, 0.00107721717f, 0.87758255f, 0.999730706f, 0.999999404f, 0 },
        { -0.0264607519f, 0.684861422f, 0.835648477f, 0.999649823f, -0.728673339f, -0.549264669f, 0 } } },
};

/* The fp32 angle is formed as PyTorch forms it, so the only differences left
 * are sin/cos/exp last-bit rounding, magnified at t = 999 by the angle. */
static void test_timestep_embedding_matches_torch(void)
{
    for (size_t k = 0; k < G_N_ELEMENTS(torch_ref); k++) {
        int dim = torch_ref[k].dim;
        float out[4 * 8];
        chk_cpu()->timestep_embedding(chk_cpu(), out, t_ref, 4, dim, torch_ref[k].flip,
                                      torch_ref[k].shift);
        for (int b = 0; b < 4; b++)
            for (int i = 0; i < dim; i++)
                if (!(fabsf(out[b * dim + i] - torch_ref[k].emb[b][i]) <= 2e-6f))
                    g_error("timestep embedding dim %d flip %d shift %g t %g [%d]: %.9g, torch %.9g",
                            dim, torch_ref[k].flip, torch_ref[k].shift, t_ref[b], i,
                            out[b * dim + i], torch_ref[k].emb[b][i]);
    }
}

/* Against the formula in double over diffusion-sized times. The fp32 exponent
 * carries ~1e-7 relative error on values up to ln(10000) = 9.2, so the
 * frequency and hence the angle are off by up to ~1e-6 of the angle (measured
 * up to 5.3e-7): the allowance grows with the angle. */
static void test_timestep_embedding_formula(void)
{
    enum { B = 33, DIM = 321 };
    float t[B], *out = g_new(float, B * DIM);
    chk_fill(t, B, 0, 1000, 14);
    t[0] = 0;
    for (int flip = 0; flip < 2; flip++) {
        for (int shift = 0; shift < 2; shift++) {
            chk_cpu()->timestep_embedding(chk_cpu(), out, t, B, DIM, flip, (float)shift);
            int half = DIM / 2;
            for (int b = 0; b < B; b++) {
                const float *row = out + b * DIM;
                g_assert_cmpfloat(row[DIM - 1], ==, 0.0f);
                for (int i = 0; i < half; i++) {
                    double angle = t[b] * exp(-log(10000.0) * i / (half - shift));
                    double s = sin(angle), c = cos(angle);
                    double got_s = row[flip ? half + i : i], got_c = row[flip ? i : half + i];
                    double allowed = 2e-7 + 1e-6 * angle;
                    if (!(fabs(got_s - s) <= allowed && fabs(got_c - c) <= allowed))
                        g_error("timestep embedding t %g i %d: sin %.9g vs %.9g, cos %.9g vs %.9g",
                                t[b], i, got_s, s, got_c, c);
                }
            }
        }
    }
    g_free(out);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/loss/mse", test_mse);
    g_test_add_func("/loss/pseudo-huber", test_pseudo_huber);
    g_test_add_func("/loss/pseudo-huber-small-difference", test_pseudo_huber_small_difference);
    g_test_add_func("/loss/gan-logistic", test_gan_logistic);
    g_test_add_func("/loss/large-reductions", test_large_reductions);
    g_test_add_func("/loss/softplus", test_softplus);
    g_test_add_func("/embedding/lookup", test_embedding_lookup);
    g_test_add_func("/embedding/lookup-threaded", test_embedding_lookup_threaded);
    g_test_add_func("/embedding/timestep-matches-torch", test_timestep_embedding_matches_torch);
    g_test_add_func("/embedding/timestep-formula", test_timestep_embedding_formula);
    return g_test_run();
}
