/* Scalar losses (mean over n elements) and softplus. Sums run in double so
 * that a mean over millions of elements keeps fp32's precision. */
#include "cpu_kernels.h"
#include <math.h>

/* below this the thread start-up costs more than the loop */
#define LOSS_PARALLEL_MIN 16384

/* log(1 + e^x) without overflow for large x or loss of e^x for very negative x */
static inline float softplus(float x)
{
    return fmaxf(x, 0.0f) + log1pf(expf(-fabsf(x)));
}

static inline float sigmoid(float x)
{
    /* exp of a non-positive argument only, so nothing overflows */
    float e = expf(-fabsf(x));
    return x >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
}

float scf_cpu_mse_forward(scf_backend *be, const float *a, const float *b, size_t n)
{
    double sum = 0.0;
    #pragma omp parallel for reduction(+:sum) schedule(static) if (n >= LOSS_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        sum += d * d;
    }
    return (float)(sum / (double)n);
}

void scf_cpu_mse_backward(scf_backend *be, float *da, const float *a, const float *b,
                          size_t n, float dloss)
{
    if (!da)
        return;
    float k = (float)(2.0 * dloss / (double)n);
    #pragma omp parallel for schedule(static) if (n >= LOSS_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++)
        da[i] += k * (a[i] - b[i]);
}

/* sqrt(d^2 + c^2) - c written as d^2 / (sqrt(d^2 + c^2) + c): the same value
 * without the cancellation that loses every digit when |d| << c. */
float scf_cpu_pseudo_huber_forward(scf_backend *be, const float *a, const float *b,
                                   size_t n, float c)
{
    double sum = 0.0, c2 = (double)c * c;
    #pragma omp parallel for reduction(+:sum) schedule(static) if (n >= LOSS_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++) {
        double d2 = ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        sum += d2 / (sqrt(d2 + c2) + c);
    }
    return (float)(sum / (double)n);
}

void scf_cpu_pseudo_huber_backward(scf_backend *be, float *da, const float *a,
                                   const float *b, size_t n, float c, float dloss)
{
    if (!da)
        return;
    float k = (float)(dloss / (double)n), c2 = c * c;
    #pragma omp parallel for schedule(static) if (n >= LOSS_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++) {
        float d = a[i] - b[i];
        da[i] += k * d / sqrtf(d * d + c2);
    }
}

void scf_cpu_softplus_forward(scf_backend *be, float *out, const float *x, size_t n)
{
    #pragma omp parallel for schedule(static) if (n >= LOSS_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++)
        out[i] = softplus(x[i]);
}

void scf_cpu_softplus_backward(scf_backend *be, float *dx, const float *dout,
                               const float *x, size_t n)
{
    if (!dx)
        return;
    #pragma omp parallel for schedule(static) if (n >= LOSS_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++)
        dx[i] += dout[i] * sigmoid(x[i]);
}

float scf_cpu_gan_logistic_forward(scf_backend *be, const float *x, size_t n, float sign)
{
    double sum = 0.0;
    #pragma omp parallel for reduction(+:sum) schedule(static) if (n >= LOSS_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++)
        sum += softplus(sign * x[i]);
    return (float)(sum / (double)n);
}

void scf_cpu_gan_logistic_backward(scf_backend *be, float *dx, const float *x, size_t n,
                                   float sign, float dloss)
{
    if (!dx)
        return;
    float k = (float)(dloss * sign / (double)n);
    #pragma omp parallel for schedule(static) if (n >= LOSS_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++)
        dx[i] += k * sigmoid(sign * x[i]);
}
