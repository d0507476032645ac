/* Elementwise arithmetic on the CPU. These are memory-bound: a thread per core
 * helps only on large tensors, hence the SCF_CPU_PAR_MIN threshold. */
#include "cpu_kernels.h"
#include "kernel_util.h"

void scf_cpu_add(scf_backend *be, float *out, const float *a, const float *b, size_t n)
{
#pragma omp parallel for simd if (n >= SCF_CPU_PAR_MIN)
    for (size_t i = 0; i < n; i++)
        out[i] = a[i] + b[i];
}

void scf_cpu_mul(scf_backend *be, float *out, const float *a, const float *b, size_t n)
{
#pragma omp parallel for simd if (n >= SCF_CPU_PAR_MIN)
    for (size_t i = 0; i < n; i++)
        out[i] = a[i] * b[i];
}

/* grad += dout * other: the gradient of a product with respect to one factor */
static void mul_grad_accumulate(float *grad, const float *dout, const float *other, size_t n)
{
#pragma omp parallel for simd if (n >= SCF_CPU_PAR_MIN)
    for (size_t i = 0; i < n; i++)
        grad[i] += dout[i] * other[i];
}

void scf_cpu_mul_backward(scf_backend *be, float *da, float *db, const float *dout,
                          const float *a, const float *b, size_t n)
{
    if (da)
        mul_grad_accumulate(da, dout, b, n);
    if (db)
        mul_grad_accumulate(db, dout, a, n);
}

void scf_cpu_scale(scf_backend *be, float *out, const float *x, float s, size_t n)
{
#pragma omp parallel for simd if (n >= SCF_CPU_PAR_MIN)
    for (size_t i = 0; i < n; i++)
        out[i] = s * x[i];
}

void scf_cpu_axpy(scf_backend *be, float *y, const float *x, float a, size_t n)
{
#pragma omp parallel for simd if (n >= SCF_CPU_PAR_MIN)
    for (size_t i = 0; i < n; i++)
        y[i] += a * x[i];
}

void scf_cpu_fill(scf_backend *be, float *x, float value, size_t n)
{
#pragma omp parallel for simd if (n >= SCF_CPU_PAR_MIN)
    for (size_t i = 0; i < n; i++)
        x[i] = value;
}

void scf_cpu_add_channel_forward(scf_backend *be, float *x, const float *v, int B, int C, int S)
{
    const long rows = (long)B * C;
#pragma omp parallel for if ((size_t)rows * S >= SCF_CPU_PAR_MIN)
    for (long r = 0; r < rows; r++) {
        float *xr = x + (size_t)r * S;
        const float vr = v[r];
#pragma omp simd
        for (int s = 0; s < S; s++)
            xr[s] += vr;
    }
}

void scf_cpu_add_channel_backward(scf_backend *be, float *dv, const float *dout, int B, int C, int S)
{
    if (!dv)
        return;
    const long rows = (long)B * C;
#pragma omp parallel for if ((size_t)rows * S >= SCF_CPU_PAR_MIN)
    for (long r = 0; r < rows; r++) {
        const float *dr = dout + (size_t)r * S;
        float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
        for (int s = 0; s < S; s++)
            sum += dr[s];
        dv[r] += sum;
    }
}

/* Accumulated in double: this feeds gradient-norm clipping over millions of
 * parameters, where a float sum would lose the small contributions. */
double scf_cpu_sum_squares(scf_backend *be, const float *x, size_t n)
{
    double sum = 0.0;
#pragma omp parallel for simd reduction(+ : sum) if (n >= SCF_CPU_PAR_MIN)
    for (size_t i = 0; i < n; i++)
        sum += (double)x[i] * (double)x[i];
    return sum;
}
