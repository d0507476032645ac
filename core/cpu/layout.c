/* Data movement on the CPU: nearest x2 upsample and channel concat. */
#include "cpu_kernels.h"
#include "kernel_util.h"

/* Input row r = n*H + i of x[N,H,W] becomes output rows 2r and 2r+1 of
 * out[N,2H,2W], which start at 4*W*r. */
void scf_cpu_upsample2x_forward(scf_backend *be, float *out, const float *x, int N, int H, int W)
{
    const long rows = (long)N * H;
#pragma omp parallel for if ((size_t)rows * W * 4 >= SCF_CPU_PAR_MIN)
    for (long r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * W;
        float *top = out + (size_t)r * 4 * W;
        float *bottom = top + 2 * W;
#pragma omp simd
        for (int j = 0; j < W; j++) {
            top[2 * j] = xr[j];
            top[2 * j + 1] = xr[j];
        }
        memcpy(bottom, top, (size_t)2 * W * sizeof(float));
    }
}

void scf_cpu_upsample2x_backward(scf_backend *be, float *dx, const float *dout, int N, int H, int W)
{
    if (!dx)
        return;
    const long rows = (long)N * H;
#pragma omp parallel for if ((size_t)rows * W * 4 >= SCF_CPU_PAR_MIN)
    for (long r = 0; r < rows; r++) {
        float *dr = dx + (size_t)r * W;
        const float *top = dout + (size_t)r * 4 * W;
        const float *bottom = top + 2 * W;
#pragma omp simd
        for (int j = 0; j < W; j++)
            dr[j] += top[2 * j] + top[2 * j + 1] + bottom[2 * j] + bottom[2 * j + 1];
    }
}

/* Concat moves B slices per input; B is often 1 or 2 (inference with CFG),
 * so the threads split each slice rather than the batch. */

/* out's slice of width n at offset (row stride `stride`) = src, per batch item */
static void concat_slice_copy(float *out, const float *src, int B, size_t n,
                              size_t offset, size_t stride)
{
#pragma omp parallel if ((size_t)B * n >= SCF_CPU_PAR_MIN)
    for (int i = 0; i < B; i++) {
        float *o = out + (size_t)i * stride + offset;
        const float *s = src + (size_t)i * n;
#pragma omp for simd schedule(static) nowait
        for (size_t j = 0; j < n; j++)
            o[j] = s[j];
    }
}

/* grad += dout's slice of width n at offset, per batch item */
static void concat_slice_accumulate(float *grad, const float *dout, int B, size_t n,
                                    size_t offset, size_t stride)
{
#pragma omp parallel if ((size_t)B * n >= SCF_CPU_PAR_MIN)
    for (int i = 0; i < B; i++) {
        float *g = grad + (size_t)i * n;
        const float *d = dout + (size_t)i * stride + offset;
#pragma omp for simd schedule(static) nowait
        for (size_t j = 0; j < n; j++)
            g[j] += d[j];
    }
}

void scf_cpu_concat_forward(scf_backend *be, float *out, const float *a, const float *b,
                            int B, int Ca, int Cb, int S)
{
    const size_t na = (size_t)Ca * S, nb = (size_t)Cb * S;
    concat_slice_copy(out, a, B, na, 0, na + nb);
    concat_slice_copy(out, b, B, nb, na, na + nb);
}

void scf_cpu_concat_backward(scf_backend *be, float *da, float *db, const float *dout,
                             int B, int Ca, int Cb, int S)
{
    const size_t na = (size_t)Ca * S, nb = (size_t)Cb * S;
    if (da)
        concat_slice_accumulate(da, dout, B, na, 0, na + nb);
    if (db)
        concat_slice_accumulate(db, dout, B, nb, na, na + nb);
}
