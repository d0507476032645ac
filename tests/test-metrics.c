/* The evaluation's image metrics (core/metrics.h) on synthetic images whose
 * answers are known in closed form. */
#include "metrics.h"
#include "image.h"
#include "check.h"
#include <math.h>
#include <string.h>

enum { S = 24, PLANE = S * S, IMG = 3 * PLANE };

/* every channel of every pixel set to one value */
static void fill_rgb(float *img, float r, float g, float b, int plane)
{
    for (int i = 0; i < plane; i++) {
        img[i] = r;
        img[plane + i] = g;
        img[2 * plane + i] = b;
    }
}

/* 3x3 box blur of each plane, edges clamped */
static void box_blur(const float *src, float *dst)
{
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++) {
                double sum = 0;
                for (int dy = -1; dy <= 1; dy++)
                    for (int dx = -1; dx <= 1; dx++) {
                        int yy = CLAMP(y + dy, 0, S - 1), xx = CLAMP(x + dx, 0, S - 1);
                        sum += src[c * PLANE + yy * S + xx];
                    }
                dst[c * PLANE + y * S + x] = (float)(sum / 9);
            }
}

static void test_psnr_and_mad_identical(void)
{
    g_autofree float *a = chk_random(IMG, -1, 1, 1);
    g_assert_cmpfloat(scf_metric_psnr(a, a, IMG), ==, 100.0);
    g_assert_cmpfloat(scf_metric_mad(a, a, IMG), ==, 0.0);
    /* black vs white: every intensity differs by 1, so MSE 1 and PSNR 0 dB */
    float black[IMG], white[IMG];
    fill_rgb(black, -1, -1, -1, PLANE);
    fill_rgb(white, 1, 1, 1, PLANE);
    g_assert_cmpfloat_with_epsilon(scf_metric_psnr(black, white, IMG), 0.0, 1e-12);
    g_assert_cmpfloat_with_epsilon(scf_metric_mad(black, white, IMG), 1.0, 1e-12);
}

/* One white pixel in the middle of a black 5x5 image: over the 3x3 interior
 * the Laplacian is -4 at the pixel, 1 at its 4 neighbours and 0 at the
 * corners, so the mean is 0 and the variance (16 + 4) / 9. */
static void test_laplacian_known_answer(void)
{
    enum { N = 5, P = N * N };
    float img[3 * P];
    fill_rgb(img, -1, -1, -1, P);
    for (int c = 0; c < 3; c++)
        img[c * P + 2 * N + 2] = 1;
    g_assert_cmpfloat_with_epsilon(scf_metric_laplacian_variance(img, N, N), 20.0 / 9.0, 1e-12);
    /* luminance weights: a pure green dot is 0.587 as bright, variance scales by its square */
    fill_rgb(img, -1, -1, -1, P);
    img[P + 2 * N + 2] = 1;
    g_assert_cmpfloat_with_epsilon(scf_metric_laplacian_variance(img, N, N),
                                   0.587 * 0.587 * 20.0 / 9.0, 1e-12);
    /* flat images have none; images too small for a 3x3 kernel give 0 */
    fill_rgb(img, 0.3f, -0.2f, 0.9f, P);
    g_assert_cmpfloat_with_epsilon(scf_metric_laplacian_variance(img, N, N), 0.0, 1e-12);
    g_assert_cmpfloat(scf_metric_laplacian_variance(img, 2, 2), ==, 0.0);
}

static void test_blur_lowers_laplacian_variance(void)
{
    g_autofree float *sharp = chk_random(IMG, -1, 1, 2);
    float blurred[IMG], twice[IMG];
    box_blur(sharp, blurred);
    box_blur(blurred, twice);
    double v0 = scf_metric_laplacian_variance(sharp, S, S);
    double v1 = scf_metric_laplacian_variance(blurred, S, S);
    double v2 = scf_metric_laplacian_variance(twice, S, S);
    g_test_message("Laplacian variance: sharp %.4f, blurred %.4f, twice %.4f", v0, v1, v2);
    /* a box blur removes most of white noise's high frequencies: well below half */
    g_assert_cmpfloat(v1, <, 0.5 * v0);
    g_assert_cmpfloat(v2, <, v1);
}

static void test_saturation_known_answers(void)
{
    float img[IMG];
    fill_rgb(img, 1, -1, -1, PLANE); /* pure red */
    g_assert_cmpfloat_with_epsilon(scf_metric_mean_saturation(img, S, S), 1.0, 1e-12);
    fill_rgb(img, 0.88f, 0.88f, 0.88f, PLANE); /* the dataset's grey background */
    g_assert_cmpfloat_with_epsilon(scf_metric_mean_saturation(img, S, S), 0.0, 1e-12);
    fill_rgb(img, -1, -1, -1, PLANE); /* black: max 0, saturation 0 by convention */
    g_assert_cmpfloat(scf_metric_mean_saturation(img, S, S), ==, 0.0);
    fill_rgb(img, 1, 0, 0, PLANE); /* intensities (1, 0.5, 0.5): (1 - 0.5) / 1 */
    g_assert_cmpfloat_with_epsilon(scf_metric_mean_saturation(img, S, S), 0.5, 1e-12);
    /* half red (out of range, clamped), half grey: the mean of 1 and 0 */
    fill_rgb(img, 0.88f, 0.88f, 0.88f, PLANE);
    for (int i = 0; i < PLANE / 2; i++) {
        img[i] = 3;
        img[PLANE + i] = -2;
        img[2 * PLANE + i] = -1;
    }
    g_assert_cmpfloat_with_epsilon(scf_metric_mean_saturation(img, S, S), 0.5, 1e-12);
}

/* Clipped means exactly "0 or 255 once written as a PNG". */
static void test_clipped_matches_8bit(void)
{
    const float edges[] = { -1, -0.9961f, -0.996f, 0, 0.996f, 0.9961f, 1, 2, -5, NAN };
    const double want = 7.0 / 10; /* all but -0.996, 0 and 0.996 */
    g_assert_cmpfloat_with_epsilon(scf_metric_clipped_fraction(edges, 10), want, 1e-12);

    enum { N = 3 * 64 * 64 };
    g_autofree float *x = chk_random(N, -1.02f, 1.02f, 3);
    g_autoptr(scf_image) png = scf_image_from_chw(x, 3, 64, 64, NULL);
    g_assert_nonnull(png);
    size_t extremes = 0;
    for (size_t i = 0; i < N; i++)
        extremes += png->data[i] == 0 || png->data[i] == 255;
    g_assert_cmpuint(extremes, >, 0);
    g_assert_cmpfloat_with_epsilon(scf_metric_clipped_fraction(x, N), (double)extremes / N, 1e-12);
}

static void test_nearest(void)
{
    enum { K = 20 };
    g_autofree float *refs = chk_random((size_t)K * IMG, -1, 1, 4);
    /* images 3 and 9 are the same picture: ties go to the lower index */
    memcpy(refs + 9 * IMG, refs + 3 * IMG, IMG * sizeof(float));
    float q[IMG];
    memcpy(q, refs + 7 * IMG, sizeof q);
    g_assert_cmpint(scf_metric_nearest(q, refs, K, IMG), ==, 7);
    memcpy(q, refs + 9 * IMG, sizeof q);
    g_assert_cmpint(scf_metric_nearest(q, refs, K, IMG), ==, 3);
    /* a noisy copy (noise 0.2 peak against image differences of ~0.8 rms)
     * with some values pushed out of range, which clamping takes back */
    g_autofree float *noise = chk_random(IMG, -0.2f, 0.2f, 5);
    for (int i = 0; i < IMG; i++)
        q[i] = refs[13 * IMG + i] + noise[i];
    for (int i = 0; i < IMG; i += 7)
        q[i] = q[i] > 0 ? 5.0f : -5.0f;
    g_assert_cmpint(scf_metric_nearest(q, refs, K, IMG), ==, 13);
    g_assert_cmpint(scf_metric_nearest(q, refs, 0, IMG), ==, -1);
    /* 37 values: a length with a tail after the blocks of 16 */
    enum { ODD = 37 };
    float near[ODD];
    for (int i = 0; i < ODD; i++)
        near[i] = refs[2 * ODD + i] + noise[i] * 0.1f;
    g_assert_cmpint(scf_metric_nearest(near, refs, K, ODD), ==, 2);

    /* retrieval: the twin of the target counts, a merely close image does not */
    memcpy(q, refs + 3 * IMG, sizeof q);
    int nearest = scf_metric_nearest(q, refs, K, IMG);
    g_assert_true(scf_metric_retrieved(refs, K, IMG, nearest, 9));
    g_assert_true(scf_metric_retrieved(refs, K, IMG, nearest, 3));
    g_assert_false(scf_metric_retrieved(refs, K, IMG, nearest, 4));
    refs[9 * IMG + 5] += 1e-3f;  /* 9 is no longer 3's twin */
    g_assert_false(scf_metric_retrieved(refs, K, IMG, nearest, 9));
    g_assert_false(scf_metric_retrieved(refs, K, IMG, -1, 3));   /* no images searched */
    g_assert_false(scf_metric_retrieved(refs, K, IMG, nearest, K));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/metrics/psnr-mad-identical", test_psnr_and_mad_identical);
    g_test_add_func("/metrics/laplacian-known-answer", test_laplacian_known_answer);
    g_test_add_func("/metrics/blur-lowers-laplacian", test_blur_lowers_laplacian_variance);
    g_test_add_func("/metrics/saturation", test_saturation_known_answers);
    g_test_add_func("/metrics/clipped", test_clipped_matches_8bit);
    g_test_add_func("/metrics/nearest", test_nearest);
    return g_test_run();
}
