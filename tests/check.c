#include "check.h"
#include <glib/gstdio.h>
#include <math.h>
#include <stdio.h>

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void chk_fill(float *x, size_t n, float lo, float hi, uint64_t seed)
{
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++) {
        double u = (double)(splitmix64(&s) >> 11) * 0x1.0p-53;
        x[i] = (float)(lo + (hi - lo) * u);
    }
}

/* max_i |got_i - ref_i| / (|ref_i| + max_j |ref_j|), infinite for NaN. */
static double worst_error(const float *got, const float *ref, size_t n, size_t *at, double *scale_out)
{
    double scale = 0;
    for (size_t i = 0; i < n; i++)
        scale = fmax(scale, fabs(ref[i]));
    double worst = 0;
    *at = 0;
    for (size_t i = 0; i < n; i++) {
        double diff = fabs((double)got[i] - (double)ref[i]);
        double denom = fabs(ref[i]) + scale;
        double e = isnan(diff) ? INFINITY : diff == 0 ? 0 : denom > 0 ? diff / denom : INFINITY;
        if (e > worst) {
            worst = e;
            *at = i;
        }
    }
    *scale_out = scale;
    return worst;
}

gboolean chk_close(const char *what, const float *got, const float *ref, size_t n, double rtol)
{
    size_t worst;
    double scale;
    gboolean ok = worst_error(got, ref, n, &worst, &scale) <= rtol;
    if (!ok)
        g_printerr("%s: mismatch at [%zu]: got %.9g, expected %.9g (rtol %.1e, tensor scale %.3g, n %zu)\n",
                   what, worst, got[worst], ref[worst], rtol, scale, n);
    return ok;
}

double chk_error(const float *got, const float *ref, size_t n)
{
    size_t at;
    double scale;
    return worst_error(got, ref, n, &at, &scale);
}

float *chk_random(size_t n, float lo, float hi, uint64_t seed)
{
    float *x = g_new(float, n);
    chk_fill(x, n, lo, hi, seed);
    return x;
}

void chk_grad_case_run(const chk_grad_case *gc, double h, double tol, int max_probe)
{
    float *grad[CHK_MAX_GRADS] = { 0 };
    chk_grad probes[CHK_MAX_GRADS];
    for (int i = 0; i < gc->n; i++) {
        grad[i] = g_new0(float, gc->sizes[i]);
        probes[i] = (chk_grad){ gc->names[i], gc->wrt[i], grad[i], gc->sizes[i] };
    }
    gc->backward(gc->ctx, grad);
    g_assert_true(chk_gradcheck(gc->op, gc->loss, gc->ctx, probes, gc->n, (float)h, tol,
                                max_probe));
    for (int i = 0; i < gc->n; i++) {
        float *acc = chk_random(gc->sizes[i], -1.0f, 1.0f, 700 + (uint64_t)i);
        float *expect = g_new(float, gc->sizes[i]);
        for (size_t j = 0; j < gc->sizes[i]; j++)
            expect[j] = acc[j] + 2.0f * grad[i][j];
        float *only[CHK_MAX_GRADS] = { 0 };
        only[i] = acc;
        gc->backward(gc->ctx, only);
        gc->backward(gc->ctx, only);
        g_autofree char *what = g_strdup_printf("%s %s accumulated twice", gc->op, gc->names[i]);
        g_assert_true(chk_close(what, acc, expect, gc->sizes[i], 1e-6));
        g_free(acc);
        g_free(expect);
    }
    for (int i = 0; i < gc->n; i++)
        g_free(grad[i]);
}

double chk_dot(const float *out, const float *r, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)out[i] * (double)r[i];
    return s;
}

gboolean chk_gradcheck(const char *op, chk_loss_fn loss, void *ctx,
                       const chk_grad *grads, int ngrads,
                       float h, double tol, int max_probe)
{
    gboolean ok = TRUE;
    uint64_t s = 12345;
    for (int g = 0; g < ngrads; g++) {
        const chk_grad *gr = &grads[g];
        size_t probes = MIN(gr->n, (size_t)max_probe);
        for (size_t p = 0; p < probes; p++) {
            size_t i = probes == gr->n ? p : (size_t)(splitmix64(&s) % gr->n);
            float saved = gr->x[i];
            gr->x[i] = saved + h;
            double lp = loss(ctx);
            gr->x[i] = saved - h;
            double lm = loss(ctx);
            gr->x[i] = saved;
            double numeric = (lp - lm) / (2.0 * h);
            double analytic = gr->grad[i];
            double allowed = tol * fmax(1.0, fmax(fabs(numeric), fabs(analytic)));
            if (!(fabs(numeric - analytic) <= allowed)) {
                g_printerr("%s %s[%zu]: numeric %.6g vs analytic %.6g (tol %.1e)\n",
                           op, gr->name, i, numeric, analytic, tol);
                ok = FALSE;
            }
        }
    }
    return ok;
}

scf_backend *chk_cpu(void)
{
    static scf_backend *be;
    if (!be)
        be = scf_backend_cpu_new(0);
    return be;
}

char *chk_tmpdir(const char *prefix)
{
    const char *base = g_getenv("SCF_TEST_OUT");
    if (!base)
        base = g_get_tmp_dir();
    g_assert_cmpint(g_mkdir_with_parents(base, 0755), ==, 0);
    g_autofree char *name = g_strdup_printf("%s-XXXXXX", prefix);
    char *dir = g_build_filename(base, name, NULL);
    g_assert_nonnull(g_mkdtemp(dir));
    return dir;
}

void chk_tmpdir_free(char *dir)
{
    g_assert_true(chk_remove_tree(dir));
    g_free(dir);
}

gboolean chk_remove_tree(const char *path)
{
    gboolean ok = TRUE;
    g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
    for (const char *name; dir && (name = g_dir_read_name(dir));) {
        g_autofree char *child = g_build_filename(path, name, NULL);
        if (g_file_test(child, G_FILE_TEST_IS_DIR) && !g_file_test(child, G_FILE_TEST_IS_SYMLINK))
            ok &= chk_remove_tree(child);
        else
            ok &= g_remove(child) == 0;
    }
    return g_remove(path) == 0 && ok;
}

void chk_write_file(const char *dir, const char *name, const char *data, gssize len)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);
    g_assert_true(g_file_set_contents(path, data, len, NULL));
}

scf_image *chk_noise_image(int w, int h, int channels, uint64_t seed)
{
    scf_image *img = scf_image_new(w, h, channels, NULL);
    g_assert_nonnull(img);
    size_t n = (size_t)w * (size_t)h * (size_t)channels;
    g_autofree float *f = chk_random(n, 0.0f, 256.0f, seed);
    for (size_t i = 0; i < n; i++)
        img->data[i] = (uint8_t)f[i];
    return img;
}
