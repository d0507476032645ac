/* The Winograd F(4x4, 3x3) convolution (core/cpu/conv2d_winograd.c) against
 * a direct convolution in double: forward, input and weight gradients on
 * maps that are not multiples of the 4x4 tile (5x7, 9x9, 2x3, 1x1), channel
 * counts 1, 16 and 33, batch 1 and 3, with and without bias, gradients
 * accumulated onto prior contents and each asked for alone; shapes that make
 * several blocks of tiles (crossing images) and several chunks of output
 * channels; and conv2d.c handing a shape its rule picks to it.
 *
 * Tolerance: chk_close's measure (relative to the element plus the tensor's
 * largest). F(4x4) in fp32 measured up to 1.2e-5 against double on UNet
 * shapes (Cin 32..1280, see conv2d_winograd.c) and at most ~1e-5 here;
 * 5e-5 leaves room for other compilers' contractions, while a wrong tap, a
 * lost edge tile or a gradient overwritten instead of accumulated is off by
 * O(1). */
#include "check.h"
#include "cpu/conv2d_winograd.h"
#include <string.h>

#define RTOL 5e-5

typedef struct {
    int B, Cin, H, W, Cout;
    gboolean bias;
} shape;

typedef struct {
    shape s;
    size_t n_in, n_out, n_w;
    float *in, *w, *b, *dout;
    /* references: out, and the gradients of L = sum(out * dout) */
    float *out, *din, *dw, *db;
} conv_case;

/* The direct convolution (zero padding 1) and its gradients, summed in double. */
static void conv_reference(conv_case *c)
{
    const shape *s = &c->s;
    double *out = g_new0(double, c->n_out), *din = g_new0(double, c->n_in);
    double *dw = g_new0(double, c->n_w), *db = g_new0(double, s->Cout);
    for (int b = 0; b < s->B; b++)
        for (int o = 0; o < s->Cout; o++)
            for (int i = 0; i < s->Cin; i++)
                for (int y = 0; y < s->H; y++)
                    for (int x = 0; x < s->W; x++) {
                        const size_t at = (((size_t)b * s->Cout + o) * s->H + y) * s->W + x;
                        for (int kh = 0; kh < 3; kh++)
                            for (int kw = 0; kw < 3; kw++) {
                                const int yi = y + kh - 1, xi = x + kw - 1;
                                if (yi < 0 || yi >= s->H || xi < 0 || xi >= s->W)
                                    continue;
                                const size_t ai =
                                    (((size_t)b * s->Cin + i) * s->H + yi) * s->W + xi;
                                const size_t aw = (((size_t)o * s->Cin + i) * 3 + kh) * 3 + kw;
                                out[at] += (double)c->in[ai] * c->w[aw];
                                din[ai] += (double)c->dout[at] * c->w[aw];
                                dw[aw] += (double)c->dout[at] * c->in[ai];
                            }
                    }
    for (size_t j = 0; j < c->n_out; j++) {
        const int o = (int)(j / ((size_t)s->H * s->W) % s->Cout);
        c->out[j] = (float)(out[j] + (s->bias ? c->b[o] : 0.0));
        db[o] += c->dout[j];
    }
    for (int o = 0; o < s->Cout; o++)
        c->db[o] = (float)db[o];
    for (size_t j = 0; j < c->n_in; j++)
        c->din[j] = (float)din[j];
    for (size_t j = 0; j < c->n_w; j++)
        c->dw[j] = (float)dw[j];
    g_free(out);
    g_free(din);
    g_free(dw);
    g_free(db);
}

static conv_case conv_case_new(shape s, uint64_t seed)
{
    conv_case c = { s };
    c.n_in = (size_t)s.B * s.Cin * s.H * s.W;
    c.n_out = (size_t)s.B * s.Cout * s.H * s.W;
    c.n_w = (size_t)s.Cout * s.Cin * 9;
    c.in = chk_random(c.n_in, -1.0f, 1.0f, seed);
    c.w = chk_random(c.n_w, -1.0f, 1.0f, seed + 1);
    c.b = s.bias ? chk_random(s.Cout, -1.0f, 1.0f, seed + 2) : NULL;
    c.dout = chk_random(c.n_out, -1.0f, 1.0f, seed + 3);
    c.out = g_new(float, c.n_out);
    c.din = g_new(float, c.n_in);
    c.dw = g_new(float, c.n_w);
    c.db = g_new(float, s.Cout);
    conv_reference(&c);
    return c;
}

static void conv_case_free(conv_case *c)
{
    g_free(c->in);
    g_free(c->w);
    g_free(c->b);
    g_free(c->dout);
    g_free(c->out);
    g_free(c->din);
    g_free(c->dw);
    g_free(c->db);
}

/* ref + prior, where a kernel adds onto prior */
static float *plus(const float *ref, const float *prior, size_t n)
{
    float *sum = g_new(float, n);
    for (size_t i = 0; i < n; i++)
        sum[i] = ref[i] + prior[i];
    return sum;
}

static void check(const conv_case *c, const char *what, const float *got, const float *ref,
                  size_t n)
{
    const shape *s = &c->s;
    g_autofree char *name = g_strdup_printf("B%d %d->%d %dx%d%s %s", s->B, s->Cin, s->Cout,
                                            s->H, s->W, s->bias ? " bias" : "", what);
    g_test_message("%s: error %.2e", name, chk_error(got, ref, n));
    if (!chk_close(name, got, ref, n, RTOL))
        g_test_fail();
}

/* The gradients onto random prior contents: both at once, then each alone
 * (the other NULL). */
static void check_backward(const conv_case *c, scf_backend *be)
{
    const shape *s = &c->s;
    for (int want = 3; want >= 1; want--) {
        float *din = want & 1 ? chk_random(c->n_in, -1.0f, 1.0f, 77) : NULL;
        float *dw = want & 2 ? chk_random(c->n_w, -1.0f, 1.0f, 78) : NULL;
        g_autofree float *din_ref = din ? plus(c->din, din, c->n_in) : NULL;
        g_autofree float *dw_ref = dw ? plus(c->dw, dw, c->n_w) : NULL;
        scf_cpu_conv2d_winograd_backward(be, din, dw, c->dout, c->in, c->w, s->B, s->Cin,
                                         s->H, s->W, s->Cout);
        if (din)
            check(c, want == 3 ? "din" : "din alone", din, din_ref, c->n_in);
        if (dw)
            check(c, want == 3 ? "dw" : "dw alone", dw, dw_ref, c->n_w);
        g_free(din);
        g_free(dw);
    }
}

static void check_shape(shape s, uint64_t seed)
{
    scf_backend *be = chk_cpu();
    conv_case c = conv_case_new(s, seed);
    /* the forward overwrites whatever was there */
    float *out = chk_random(c.n_out, 1e3f, 2e3f, seed + 9);
    scf_cpu_conv2d_winograd_forward(be, out, c.in, c.w, c.b, s.B, s.Cin, s.H, s.W, s.Cout);
    check(&c, "out", out, c.out, c.n_out);
    g_free(out);
    check_backward(&c, be);
    conv_case_free(&c);
}

static void test_odd_shapes(void)
{
    static const shape shapes[] = {
        { 1, 16, 5, 7, 16, TRUE },  { 3, 16, 5, 7, 16, FALSE }, { 1, 33, 9, 9, 16, TRUE },
        { 3, 1, 9, 9, 33, FALSE },  { 3, 33, 1, 1, 1, TRUE },   { 1, 16, 2, 3, 33, TRUE },
        { 3, 16, 2, 3, 1, FALSE },  { 1, 1, 1, 1, 1, FALSE },
    };
    for (guint i = 0; i < G_N_ELEMENTS(shapes); i++)
        check_shape(shapes[i], 100 + 10 * i);
}

/* 61 columns are 16 tiles a row, so 3 images of 4 tile rows make blocks of
 * a few tile rows, some spanning two images; 256x256 filters transform to
 * 9.4 MB, more than one chunk of output channels (8 MB), and one block of
 * tiles at batch 1 makes the threads share out the chunks. */
static void test_blocks_and_chunks(void)
{
    check_shape((shape){ 3, 16, 13, 61, 16, TRUE }, 300);
    check_shape((shape){ 1, 256, 5, 6, 256, FALSE }, 310);
}

/* conv2d.c sends a shape the rule picks to Winograd, with the bias gradient
 * its own; through the backend table, onto prior contents. */
static void test_dispatch(void)
{
    const shape s = { 4, 16, 16, 16, 16, TRUE };
    g_assert_true(scf_cpu_conv2d_winograd_pays(s.B, s.Cin, s.H, s.W, s.Cout, FALSE));
    g_assert_true(scf_cpu_conv2d_winograd_pays(s.B, s.Cin, s.H, s.W, s.Cout, TRUE));
    scf_backend *be = chk_cpu();
    conv_case c = conv_case_new(s, 400);
    float *out = chk_random(c.n_out, 1e3f, 2e3f, 409);
    be->conv2d_forward(be, out, c.in, c.w, c.b, s.B, s.Cin, s.H, s.W, s.Cout, 3, 1, 1);
    check(&c, "out (table)", out, c.out, c.n_out);

    float *din = chk_random(c.n_in, -1.0f, 1.0f, 77), *dw = chk_random(c.n_w, -1.0f, 1.0f, 78);
    float *db = chk_random(s.Cout, -1.0f, 1.0f, 79);
    g_autofree float *din_ref = plus(c.din, din, c.n_in), *dw_ref = plus(c.dw, dw, c.n_w);
    g_autofree float *db_ref = plus(c.db, db, s.Cout);
    be->conv2d_backward(be, din, dw, db, c.dout, c.in, c.w, s.B, s.Cin, s.H, s.W, s.Cout, 3, 1,
                        1);
    check(&c, "din (table)", din, din_ref, c.n_in);
    check(&c, "dw (table)", dw, dw_ref, c.n_w);
    check(&c, "db (table)", db, db_ref, s.Cout);
    g_free(out);
    g_free(din);
    g_free(dw);
    g_free(db);
    conv_case_free(&c);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/conv-winograd/odd-shapes", test_odd_shapes);
    g_test_add_func("/conv-winograd/blocks-and-chunks", test_blocks_and_chunks);
    g_test_add_func("/conv-winograd/dispatch", test_dispatch);
    return g_test_run();
}
