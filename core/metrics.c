#include "metrics.h"
#include <math.h>

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
