/* CUDA kernels of the backend table, second group: attention, softmax,
 * losses, optimisers and the Philox streams (one .cu file per group).
 * Signatures are those of the scf_backend table (backend.h), which documents
 * them; core/cpu/ holds the reference each kernel matches.
 *
 * Everything runs on the legacy default stream, like the memory layer, so
 * kernels, cuBLAS calls and copies are ordered without events. Launches are
 * grid-stride loops over size_t indices with a capped grid, so no size
 * reaches the grid limits. Errors (launch failures, cuBLAS statuses, a
 * workspace that cannot grow) print a critical message naming the kernel:
 * table kernels return void and leave their outputs unchanged then. */
#pragma once
#include <cuda_runtime.h>
#include <cublas_v2.h>
#include <math.h>
#include "cuda_kernels.h"

/* ---- helpers shared by these files (static inline: one copy per file) ---- */


#define SCF_CUDAB_THREADS 256
/* Enough blocks to fill any current GPU several times over; larger inputs
 * loop (grid-stride), so the grid stays far below its 2^31 - 1 limit. */
#define SCF_CUDAB_MAX_BLOCKS 65536

static inline unsigned scf_cudab_blocks(size_t items, unsigned per_block)
{
    size_t blocks = (items + per_block - 1) / per_block;
    return (unsigned)(blocks < SCF_CUDAB_MAX_BLOCKS ? (blocks ? blocks : 1) : SCF_CUDAB_MAX_BLOCKS);
}

/* After a launch: a launch error is reported once, naming the kernel. */
static inline bool scf_cudab_check(const char *kernel)
{
    cudaError_t st = cudaGetLastError();
    if (st != cudaSuccess)
        g_critical("%s: CUDA launch failed: %s", kernel, cudaGetErrorString(st));
    return st == cudaSuccess;
}

static inline bool scf_cudab_blas_check(cublasStatus_t st, const char *kernel)
{
    if (st != CUBLAS_STATUS_SUCCESS)
        g_critical("%s: cuBLAS failed: %s", kernel, cublasGetStatusString(st));
    return st == CUBLAS_STATUS_SUCCESS;
}

/* The backend workspace for a kernel; NULL after a critical message. */
static inline void *scf_cudab_workspace(scf_backend *be, size_t bytes, const char *kernel)
{
    void *ws = scf_backend_workspace(be, bytes);
    if (!ws)
        g_critical("%s: cannot allocate a %zu-byte device workspace; outputs left unchanged",
                   kernel, bytes);
    return ws;
}

/* f(i) for every i < n: the elementwise kernels are functors run by this. */
template <class F>
__global__ void scf_cudab_foreach_kernel(size_t n, F f)
{
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
        f(i);
}

template <class F>
static inline void scf_cudab_foreach(size_t n, F f, const char *kernel)
{
    if (n == 0)
        return;
    scf_cudab_foreach_kernel<<<scf_cudab_blocks(n, SCF_CUDAB_THREADS), SCF_CUDAB_THREADS>>>(n, f);
    scf_cudab_check(kernel);
}

struct scf_cudab_sum {
    template <class T> __device__ T operator()(T a, T b) const { return a + b; }
};
/* as the CPU's softmax compares, so a NaN is dropped the same way */
struct scf_cudab_max {
    template <class T> __device__ T operator()(T a, T b) const { return b > a ? b : a; }
};

/* Reduces v over the block (blockDim.x a multiple of 32, at most 1024) in a
 * fixed order, and returns the result to every thread: the same inputs give
 * the same bits on every run. Every thread of the block must call it. */
template <class T, class Op>
__device__ T scf_cudab_block_reduce(T v, Op op, T identity)
{
    __shared__ T warp_part[32];
    __shared__ T total;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    for (int o = 16; o > 0; o >>= 1)
        v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
    __syncthreads(); /* an earlier call's readers of total are done */
    if (lane == 0)
        warp_part[warp] = v;
    __syncthreads();
    if (warp == 0) {
        v = lane < (int)(blockDim.x >> 5) ? warp_part[lane] : identity;
        for (int o = 16; o > 0; o >>= 1)
            v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
        if (lane == 0)
            total = v;
    }
    __syncthreads();
    return total;
}

/* Softmax rows, shared by the softmax kernels and attention's cuBLAS path.
 * Row r of `rows` lives in group r / group_rows at row r % group_rows, i.e.
 * at base + (r / group_rows) * group_stride + (r % group_rows) * N: a plain
 * [M, N] matrix is one group of M rows, attention's scores are one group of
 * query rows per head. */
void scf_cudab_softmax_rows(float *y, const float *x, size_t rows, int group_rows,
                            size_t group_stride, int N, int causal, int first_query);
/* g = y * (dy - sum(dy * y)) per row; dx, dy contiguous [rows, N], y grouped
 * as above. Adds g into dx when accumulate, else stores it (dx may equal dy). */
void scf_cudab_softmax_rows_backward(float *dx, const float *dy, const float *y, size_t rows,
                                     int group_rows, size_t group_stride, int N, int accumulate);

/* ---- table kernels ---- */

/* cuda_softmax.cu */
void scf_cuda_softmax_forward(scf_backend *be, float *out, const float *x, int M, int N);
void scf_cuda_softmax_backward(scf_backend *be, float *dx, const float *dout,
                               const float *out, int M, int N);
/* cuda_attention.cu */
void scf_cuda_attention_forward(scf_backend *be, float *out, float *probs,
                                const float *q, const float *k, const float *v,
                                int B, int Tq, int Tk, int H, int D, int causal);
void scf_cuda_attention_backward(scf_backend *be, float *dq, float *dk, float *dv,
                                 const float *dout, const float *q, const float *k,
                                 const float *v, const float *probs,
                                 int B, int Tq, int Tk, int H, int D);
/* cuda_loss.cu: losses and the other reductions that return a host value */
double scf_cuda_sum_squares(scf_backend *be, const float *x, size_t n);
float scf_cuda_mse_forward(scf_backend *be, const float *a, const float *b, size_t n);
void scf_cuda_mse_backward(scf_backend *be, float *da, const float *a, const float *b,
                           size_t n, float dloss);
float scf_cuda_pseudo_huber_forward(scf_backend *be, const float *a, const float *b,
                                    size_t n, float c);
void scf_cuda_pseudo_huber_backward(scf_backend *be, float *da, const float *a,
                                    const float *b, size_t n, float c, float dloss);
void scf_cuda_softplus_forward(scf_backend *be, float *out, const float *x, size_t n);
void scf_cuda_softplus_backward(scf_backend *be, float *dx, const float *dout,
                                const float *x, size_t n);
float scf_cuda_gan_logistic_forward(scf_backend *be, const float *x, size_t n, float sign);
void scf_cuda_gan_logistic_backward(scf_backend *be, float *dx, const float *x, size_t n,
                                    float sign, float dloss);
/* cuda_optim.cu */
void scf_cuda_adamw_update(scf_backend *be, float *param, const float *grad, float *m,
                           float *v, size_t n, float lr, float beta1, float beta2,
                           float eps, float weight_decay, int64_t t);
void scf_cuda_ema_update(scf_backend *be, float *ema, const float *param, size_t n,
                         float decay);
/* cuda_rng.cu */
void scf_cuda_rng_normal(scf_backend *be, float *out, size_t n, uint64_t seed, uint64_t offset);
void scf_cuda_rng_uniform(scf_backend *be, float *out, size_t n, uint64_t seed,
                          uint64_t offset);
