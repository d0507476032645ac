/* Reductions shared by the CUDA kernel files: warp and block reductions,
 * and two reduction kernels over a value functor (a small struct with a
 * __device__ operator(), so one kernel serves bias gradients, norm
 * parameters and per-sample dot products).
 *
 * All of them combine in a fixed order (no atomics), so results repeat bit
 * for bit from run to run; the sums over many terms run in double: they span
 * up to millions of terms, and the CPU reference sums long runs in double
 * too. */
#pragma once
#include "cuda_kernels.h"

struct scf_cuda_sum_op {
    template <class T> __device__ T operator()(T a, T b) const { return a + b; }
};
/* as the CPU's softmax compares, so a NaN is dropped the same way */
struct scf_cuda_max_op {
    template <class T> __device__ T operator()(T a, T b) const { return b > a ? b : a; }
};

/* op over the 32 lanes of a warp (butterfly). Every lane gets the same value
 * for a commutative op such as the sum; scf_cuda_block_reduce broadcasts
 * lane 0's so that it holds for max's NaN rule too. */
template <typename T, class Op> __device__ __forceinline__ T scf_cuda_warp_reduce(T v, Op op)
{
    for (int off = 16; off > 0; off >>= 1)
        v = op(v, __shfl_xor_sync(0xffffffffu, v, off));
    return v;
}

template <typename T> __device__ __forceinline__ T scf_cuda_warp_sum(T v)
{
    return scf_cuda_warp_reduce(v, scf_cuda_sum_op());
}

/* op over a 1-D block, in every thread; identity pads the missing warps.
 * blockDim.x must be a multiple of 32 (at most 1024) and every thread of
 * the block must call it. */
template <typename T, class Op> __device__ T scf_cuda_block_reduce(T v, Op op, T identity)
{
    __shared__ T part[32];
    const unsigned lane = threadIdx.x & 31u, warp = threadIdx.x >> 5;
    const unsigned nwarps = blockDim.x >> 5;
    v = scf_cuda_warp_reduce(v, op);
    __syncthreads(); /* a previous call's readers are done with part */
    if (lane == 0)
        part[warp] = v;
    __syncthreads();
    /* every warp reduces the partials itself: no third barrier to broadcast */
    v = scf_cuda_warp_reduce(lane < nwarps ? part[lane] : identity, op);
    return __shfl_sync(0xffffffffu, v, 0);
}

template <typename T> __device__ T scf_cuda_block_sum(T v)
{
    return scf_cuda_block_reduce(v, scf_cuda_sum_op(), T(0));
}

/* out[c] += sum over b < nb, i < L of f((b*C + c)*L + i): per-channel sums
 * of [nb, C, L] tensors. One block per c, its threads striding over i. */
template <typename F>
__global__ void scf_cuda_segment_sum_kernel(float *out, int C, int nb, size_t L, F f)
{
    for (int c = blockIdx.x; c < C; c += gridDim.x) {
        double s = 0.0;
        for (int b = 0; b < nb; b++) {
            const size_t base = ((size_t)b * C + c) * L;
            for (size_t i = threadIdx.x; i < L; i += blockDim.x)
                s += f(base + i);
        }
        s = scf_cuda_block_sum(s);
        if (threadIdx.x == 0)
            out[c] += (float)s;
    }
}

template <typename F>
static void scf_cuda_segment_sum(scf_backend *be, float *out, int C, int nb, size_t L, F f)
{
    if (C <= 0)
        return;
    scf_cuda_segment_sum_kernel<<<scf_cuda_blocks((size_t)C * SCF_CUDA_BLOCK, SCF_CUDA_BLOCK),
                                  SCF_CUDA_BLOCK, 0, scf_cuda_stream(be)>>>(out, C, nb, L, f);
    SCF_CUDA_CHECK_LAUNCH();
}

/* Rows of the column-sum block: 32 columns x 16 row strides = 512 threads. */
#define SCF_CUDA_COLSUM_ROWS 16

/* out0[n] += sum over m < M of f(m, n).x, and out1[n] likewise of .y (either
 * output may be NULL): column sums of row-major [M, N] data. A block takes 32
 * adjacent columns (coalesced reads along a row) and 16 threads per column
 * stride over the rows; their partial sums meet in shared memory. */
template <typename F>
__global__ void scf_cuda_column_sum_kernel(float *out0, float *out1, int M, int N, F f)
{
    __shared__ double part[2][SCF_CUDA_COLSUM_ROWS][33]; /* +1: no bank conflicts */
    const int tx = threadIdx.x, ty = threadIdx.y;
    for (int n0 = blockIdx.x * 32; n0 < N; n0 += gridDim.x * 32) {
        const int n = n0 + tx;
        double s0 = 0.0, s1 = 0.0;
        if (n < N) {
            for (int m = ty; m < M; m += SCF_CUDA_COLSUM_ROWS) {
                const float2 v = f(m, n);
                s0 += v.x;
                s1 += v.y;
            }
        }
        part[0][ty][tx] = s0;
        part[1][ty][tx] = s1;
        __syncthreads();
        if (ty == 0 && n < N) {
            double t0 = 0.0, t1 = 0.0;
            for (int r = 0; r < SCF_CUDA_COLSUM_ROWS; r++) {
                t0 += part[0][r][tx];
                t1 += part[1][r][tx];
            }
            if (out0)
                out0[n] += (float)t0;
            if (out1)
                out1[n] += (float)t1;
        }
        __syncthreads(); /* part is rewritten by the next column block */
    }
}

template <typename F>
static void scf_cuda_column_sum(scf_backend *be, float *out0, float *out1, int M, int N, F f)
{
    if (N <= 0 || (!out0 && !out1))
        return;
    const dim3 block(32, SCF_CUDA_COLSUM_ROWS);
    scf_cuda_column_sum_kernel<<<scf_cuda_blocks((size_t)N, 32), block, 0, scf_cuda_stream(be)>>>(
        out0, out1, M, N, f);
    SCF_CUDA_CHECK_LAUNCH();
}

/* Reads x[i]: the plain sum for scf_cuda_segment_sum. */
struct scf_cuda_read {
    const float *x;
    __device__ float operator()(size_t i) const { return x[i]; }
};
