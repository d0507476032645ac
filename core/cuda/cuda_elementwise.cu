/* Elementwise arithmetic, channel and per-sample broadcasts on the GPU.
 * All memory-bound: one grid-stride loop each, reductions through
 * cuda_reduce.cuh. Order of operations follows core/cpu/elementwise.c and
 * core/cpu/batch.c. */
#include "cuda_kernels.h"
#include "cuda_reduce.cuh"

static __global__ void add_kernel(float *out, const float *a, const float *b, size_t n)
{
    SCF_CUDA_FOR(i, n)
        out[i] = a[i] + b[i];
}

void scf_cuda_add(scf_backend *be, float *out, const float *a, const float *b, size_t n)
{
    add_kernel<<<SCF_CUDA_GRID(be, n)>>>(out, a, b, n);
    SCF_CUDA_CHECK_LAUNCH();
}

static __global__ void mul_kernel(float *out, const float *a, const float *b, size_t n)
{
    SCF_CUDA_FOR(i, n)
        out[i] = a[i] * b[i];
}

void scf_cuda_mul(scf_backend *be, float *out, const float *a, const float *b, size_t n)
{
    mul_kernel<<<SCF_CUDA_GRID(be, n)>>>(out, a, b, n);
    SCF_CUDA_CHECK_LAUNCH();
}

/* da += dout * b, db += dout * a, each only where wanted */
static __global__ void mul_backward_kernel(float *da, float *db, const float *dout,
                                           const float *a, const float *b, size_t n)
{
    SCF_CUDA_FOR(i, n) {
        const float g = dout[i];
        if (da)
            da[i] += g * b[i];
        if (db)
            db[i] += g * a[i];
    }
}

void scf_cuda_mul_backward(scf_backend *be, float *da, float *db, const float *dout,
                           const float *a, const float *b, size_t n)
{
    if (!da && !db)
        return;
    mul_backward_kernel<<<SCF_CUDA_GRID(be, n)>>>(da, db, dout, a, b, n);
    SCF_CUDA_CHECK_LAUNCH();
}

static __global__ void scale_kernel(float *out, const float *x, float s, size_t n)
{
    SCF_CUDA_FOR(i, n)
        out[i] = s * x[i];
}

void scf_cuda_scale(scf_backend *be, float *out, const float *x, float s, size_t n)
{
    scale_kernel<<<SCF_CUDA_GRID(be, n)>>>(out, x, s, n);
    SCF_CUDA_CHECK_LAUNCH();
}

static __global__ void axpy_kernel(float *y, const float *x, float a, size_t n)
{
    SCF_CUDA_FOR(i, n)
        y[i] += a * x[i];
}

void scf_cuda_axpy(scf_backend *be, float *y, const float *x, float a, size_t n)
{
    axpy_kernel<<<SCF_CUDA_GRID(be, n)>>>(y, x, a, n);
    SCF_CUDA_CHECK_LAUNCH();
}

static __global__ void fill_kernel(float *x, float value, size_t n)
{
    SCF_CUDA_FOR(i, n)
        x[i] = value;
}

void scf_cuda_fill(scf_backend *be, float *x, float value, size_t n)
{
    fill_kernel<<<SCF_CUDA_GRID(be, n)>>>(x, value, n);
    SCF_CUDA_CHECK_LAUNCH();
}

static __global__ void seed_bias_kernel(float *out, const float *bias, size_t n, int C,
                                        size_t inner)
{
    SCF_CUDA_FOR(i, n)
        out[i] = bias[i / inner % (size_t)C];
}

void scf_cuda_seed_bias(scf_backend *be, float *out, const float *bias, size_t n, int C,
                        size_t inner)
{
    seed_bias_kernel<<<SCF_CUDA_GRID(be, n)>>>(out, bias, n, C, inner);
    SCF_CUDA_CHECK_LAUNCH();
}

/* x[r*S + s] += v[r] over the B*C rows r */
static __global__ void add_channel_kernel(float *x, const float *v, size_t n, size_t S)
{
    SCF_CUDA_FOR(i, n)
        x[i] += v[i / S];
}

void scf_cuda_add_channel_forward(scf_backend *be, float *x, const float *v, int B, int C, int S)
{
    const size_t n = (size_t)B * C * S;
    add_channel_kernel<<<SCF_CUDA_GRID(be, n)>>>(x, v, n, (size_t)S);
    SCF_CUDA_CHECK_LAUNCH();
}

void scf_cuda_add_channel_backward(scf_backend *be, float *dv, const float *dout, int B, int C,
                                   int S)
{
    if (!dv)
        return;
    /* dv[r] += the sum of row r: each of the B*C rows is its own segment */
    scf_cuda_segment_sum(be, dv, B * C, 1, (size_t)S, scf_cuda_read{ dout });
}

/* out[b*S + i] = s[b] * x[b*S + i]; out may alias x */
static __global__ void batch_scale_kernel(float *out, const float *x, const float *s, size_t n,
                                          size_t S)
{
    SCF_CUDA_FOR(i, n)
        out[i] = s[i / S] * x[i];
}

/* dx += s[b] * dout over sample b's row */
static __global__ void batch_scale_dx_kernel(float *dx, const float *dout, const float *s,
                                             size_t n, size_t S)
{
    SCF_CUDA_FOR(i, n)
        dx[i] += s[i / S] * dout[i];
}

/* dout[i] * x[i], formed in double as the CPU's: ds[b] is their sum over
 * sample b's row */
struct dot_terms {
    const float *dout, *x;
    __device__ double operator()(size_t i) const { return (double)dout[i] * x[i]; }
};

void scf_cuda_batch_scale_forward(scf_backend *be, float *out, const float *x, const float *s,
                                  int B, int S)
{
    const size_t n = (size_t)B * S;
    batch_scale_kernel<<<SCF_CUDA_GRID(be, n)>>>(out, x, s, n, (size_t)S);
    SCF_CUDA_CHECK_LAUNCH();
}

void scf_cuda_batch_scale_backward(scf_backend *be, float *dx, float *ds, const float *dout,
                                   const float *x, const float *s, int B, int S)
{
    const size_t n = (size_t)B * S;
    if (dx) {
        batch_scale_dx_kernel<<<SCF_CUDA_GRID(be, n)>>>(dx, dout, s, n, (size_t)S);
        SCF_CUDA_CHECK_LAUNCH();
    }
    if (ds)
        scf_cuda_segment_sum(be, ds, B, 1, (size_t)S, dot_terms{ dout, x });
}
