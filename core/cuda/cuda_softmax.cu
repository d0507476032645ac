/* Softmax over rows on the GPU: one block per row (block-stride over rows),
 * the row's max, sum and dot product reduced in a fixed order. The same row
 * kernels serve softmax_forward/backward and attention's cuBLAS path, whose
 * score rows are grouped per head and may be causally masked. Matches
 * scf_cpu_softmax_row / _row_backward (core/cpu/kernel_util.h). */
#include "cuda_kernels.h"
#include "cuda_reduce.cuh"

/* Start of row r in the grouped layout (see cuda_kernels.h). */
__device__ static inline size_t row_start(size_t r, int group_rows, size_t group_stride, int N)
{
    return r / group_rows * group_stride + r % group_rows * (size_t)N;
}

/* A warp's worth of threads for short rows, up to 256 for long ones (a
 * multiple of 32, as the block reduction needs). */
static unsigned row_threads(int N)
{
    unsigned t = ((unsigned)N + 31) / 32 * 32;
    return t < 32 ? 32 : (t > SCF_CUDA_BLOCK ? SCF_CUDA_BLOCK : t);
}

/* Causal rows (attention): query first_query + r % group_rows sees the keys up
 * to itself and the rest of the row is stored as zeros, as the CPU's saved
 * probabilities are. */
__global__ static void softmax_rows_kernel(float *y, const float *x, size_t rows, int group_rows,
                                           size_t group_stride, int N, int causal,
                                           int first_query)
{
    for (size_t r = blockIdx.x; r < rows; r += gridDim.x) {
        const size_t at = row_start(r, group_rows, group_stride, N);
        const float *xr = x + at;
        float *yr = y + at;
        int visible = N;
        if (causal) {
            const int query = first_query + (int)(r % group_rows);
            visible = query + 1 < N ? query + 1 : N;
        }
        float mx = -INFINITY;
        for (int j = threadIdx.x; j < visible; j += blockDim.x)
            mx = scf_cuda_max_op()(mx, xr[j]);
        mx = scf_cuda_block_reduce(mx, scf_cuda_max_op(), -INFINITY);
        /* each thread rereads and rewrites only its own elements, so y may be x */
        float sum = 0.0f;
        for (int j = threadIdx.x; j < visible; j += blockDim.x) {
            const float e = expf(xr[j] - mx);
            yr[j] = e;
            sum += e;
        }
        sum = scf_cuda_block_sum(sum);
        const float inv = 1.0f / sum;
        for (int j = threadIdx.x; j < N; j += blockDim.x)
            yr[j] = j < visible ? yr[j] * inv : 0.0f;
    }
}

__global__ static void softmax_rows_backward_kernel(float *dx, const float *dy, const float *y,
                                                    size_t rows, int group_rows,
                                                    size_t group_stride, int N, int accumulate)
{
    for (size_t r = blockIdx.x; r < rows; r += gridDim.x) {
        const float *yr = y + row_start(r, group_rows, group_stride, N);
        const float *dyr = dy + r * N;
        float *dxr = dx + r * N;
        float dot = 0.0f;
        for (int j = threadIdx.x; j < N; j += blockDim.x)
            dot += dyr[j] * yr[j];
        dot = scf_cuda_block_sum(dot);
        /* dy is read before dx is written at the same j by the same thread */
        for (int j = threadIdx.x; j < N; j += blockDim.x) {
            const float g = yr[j] * (dyr[j] - dot);
            dxr[j] = accumulate ? dxr[j] + g : g;
        }
    }
}

void scf_cuda_softmax_rows(scf_backend *be, float *y, const float *x, size_t rows,
                           int group_rows, size_t group_stride, int N, int causal,
                           int first_query)
{
    if (rows == 0 || N <= 0)
        return;
    softmax_rows_kernel<<<scf_cuda_blocks(rows, 1), row_threads(N), 0, scf_cuda_stream(be)>>>(
        y, x, rows, group_rows, group_stride, N, causal, first_query);
    SCF_CUDA_CHECK_LAUNCH();
}

void scf_cuda_softmax_rows_backward(scf_backend *be, float *dx, const float *dy,
                                    const float *y, size_t rows, int group_rows,
                                    size_t group_stride, int N, int accumulate)
{
    if (rows == 0 || N <= 0)
        return;
    softmax_rows_backward_kernel<<<scf_cuda_blocks(rows, 1), row_threads(N), 0,
                                   scf_cuda_stream(be)>>>(dx, dy, y, rows, group_rows,
                                                          group_stride, N, accumulate);
    SCF_CUDA_CHECK_LAUNCH();
}

void scf_cuda_softmax_forward(scf_backend *be, float *out, const float *x, int M, int N)
{
    scf_cuda_softmax_rows(be, out, x, (size_t)M, M, 0, N, 0, 0);
}

void scf_cuda_softmax_backward(scf_backend *be, float *dx, const float *dout,
                               const float *out, int M, int N)
{
    if (!dx)
        return;
    scf_cuda_softmax_rows_backward(be, dx, dout, out, (size_t)M, M, 0, N, 1);
}
