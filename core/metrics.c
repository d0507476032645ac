#include "metrics.h"
#include <math.h>
#include <string.h>

/* fmax returns its other argument for NaN, so NaN reads as -1 */
static double unit(float x)
{
    return (fmin(fmax((double)x, -1.0), 1.0) + 1.0) * 0.5;
}

double scf_metric_mad(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += fabs(unit(a[i]) - unit(b[i]));
    return n ? s / (double)n : 0;
}

double scf_metric_psnr(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        double d = unit(a[i]) - unit(b[i]);
        s += d * d;
    }
    double mse = n ? s / (double)n : 0;
    return mse > 0 ? fmin(100.0, -10.0 * log10(mse)) : 100.0;
}

static double luminance(const float *rgb, size_t plane, size_t i)
{
    return 0.299 * unit(rgb[i]) + 0.587 * unit(rgb[plane + i]) + 0.114 * unit(rgb[2 * plane + i]);
}

double scf_metric_laplacian_variance(const float *rgb, int height, int width)
{
    if (height < 3 || width < 3)
        return 0;
    const size_t plane = (size_t)height * width;
    double *y = g_new(double, plane);
    for (size_t i = 0; i < plane; i++)
        y[i] = luminance(rgb, plane, i);
    double sum = 0, sum2 = 0;
    for (int r = 1; r < height - 1; r++)
        for (int c = 1; c < width - 1; c++) {
            const double *p = y + (size_t)r * width + c;
            double l = p[-width] + p[width] + p[-1] + p[1] - 4 * p[0];
            sum += l;
            sum2 += l * l;
        }
    g_free(y);
    const double n = (double)(height - 2) * (width - 2), mean = sum / n;
    return fmax(0.0, sum2 / n - mean * mean);
}

double scf_metric_mean_saturation(const float *rgb, int height, int width)
{
    const size_t plane = (size_t)height * width;
    double s = 0;
    for (size_t i = 0; i < plane; i++) {
        double r = unit(rgb[i]), g = unit(rgb[plane + i]), b = unit(rgb[2 * plane + i]);
        double hi = fmax(r, fmax(g, b)), lo = fmin(r, fmin(g, b));
        s += hi > 0 ? (hi - lo) / hi : 0;
    }
    return plane ? s / (double)plane : 0;
}

double scf_metric_clipped_fraction(const float *x, size_t n)
{
    size_t clipped = 0;
    for (size_t i = 0; i < n; i++) {
        double v = unit(x[i]) * 255.0;
        clipped += v < 0.5 || v >= 254.5;
    }
    return n ? (double)clipped / (double)n : 0;
}

/* Squared L2 distance with 16 float partial sums, so the compiler
 * vectorises it without reassociation flags; the search streams every
 * reference image once per query. */
static double distance2(const float *a, const float *b, size_t n)
{
    enum { LANES = 16 };
    float acc[LANES] = { 0 };
    size_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++) {
            float e = a[i + j] - b[i + j];
            acc[j] += e * e;
        }
    double d = 0;
    for (int j = 0; j < LANES; j++)
        d += acc[j];
    for (; i < n; i++)
        d += (double)(a[i] - b[i]) * (a[i] - b[i]);
    return d;
}

int scf_metric_nearest(const float *img, const float *refs, int count, size_t n)
{
    float *q = g_new(float, n);
    for (size_t i = 0; i < n; i++)
        q[i] = (float)(2.0 * unit(img[i]) - 1.0);
    int best = -1;
    double best_d = INFINITY;
    for (int k = 0; k < count; k++) {
        double d = distance2(q, refs + (size_t)k * n, n);
        if (d < best_d) {
            best_d = d;
            best = k;
        }
    }
    g_free(q);
    return best;
}

gboolean scf_metric_retrieved(const float *refs, int count, size_t n, int nearest, int target)
{
    if (nearest < 0 || nearest >= count || target < 0 || target >= count)
        return FALSE;
    return nearest == target ||
           memcmp(refs + (size_t)nearest * n, refs + (size_t)target * n, n * sizeof(float)) == 0;
}
