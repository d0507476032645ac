/* The CUDA backend's kernels, one group per file; signatures are those of the
 * scf_backend table (backend.h), which documents them, and the CPU kernels in
 * core/cpu/ are their reference.
 *
 * Streams: the backend owns one non-blocking stream (scf_cuda_stream) and
 * every kernel, cuBLAS call and copy goes to it, so they are ordered among
 * themselves without events, never wait on other libraries' work on the
 * legacy default stream, and can be captured into a CUDA graph (graph_begin
 * in backend_cuda.cu). Functions that return a value to the host synchronise
 * that stream; nothing else does, which is what makes a capture legal.
 *
 * Computation is fp32 throughout (cuBLAS in its default math mode, no TF32),
 * so results match the CPU backend to float rounding, unless the backend is
 * set to another precision, which changes the matrix products only
 * (cuda_precision.h). Launches are
 * grid-stride loops over size_t indices with a capped grid (scf_cuda_blocks),
 * so no size reaches the grid limits. Reductions run in a fixed order (no
 * float atomics: cuda_reduce.cuh), so they repeat bit for bit.
 *
 * Errors (a failed launch, a cuBLAS status, a workspace that cannot grow)
 * print a critical message naming the call or kernel; table kernels return
 * void and leave their outputs undefined or unchanged then, as the CPU
 * kernels do on a failed workspace. Nothing aborts. Inside a capture a
 * failure is not reported but fails the capture, which the caller sees at
 * graph_end and falls back from. */
#pragma once
#include <cuda_runtime.h>
#include <cublas_v2.h>
#include <stddef.h>
#include <stdint.h>
#include "../backend.h"

typedef struct scf_cuda_precision scf_cuda_precision; /* cuda_precision.cu */

typedef struct {
    int device;
    cudaStream_t stream;    /* every kernel, cuBLAS call and copy */
    cublasHandle_t blas;    /* bound to stream, with blas_workspace */
    void *blas_workspace;   /* cuBLAS's own scratch, fixed: it never allocates in a capture */
    bool capture_failed;    /* a call failed or allocated since graph_begin */
    GPtrArray *deferred_frees; /* frees asked for during a capture, done at graph_end */
    char name[64];
    scf_cuda_precision *precision; /* the compute-precision layer */
} scf_cuda_ctx;

static inline cudaStream_t scf_cuda_stream(scf_backend *be)
{
    return ((scf_cuda_ctx *)be->ctx)->stream;
}

static inline cublasHandle_t scf_cuda_blas(scf_backend *be)
{
    return ((scf_cuda_ctx *)be->ctx)->blas;
}

/* Whether this thread is capturing be's stream into a graph (graph_begin):
 * work issued now is recorded, not run. */
bool scf_cuda_capturing(scf_backend *be);

/* Reports a failure of `what` (a call or kernel) for `reason`: a critical
 * message, or, while this thread captures a graph, a failed capture. */
void scf_cuda_report(const char *what, const char *reason);

/* TRUE when the call succeeded, else reported (scf_cuda_report). */
static inline bool scf_cuda_ok(cudaError_t st, const char *what)
{
    if (st == cudaSuccess)
        return true;
    cudaGetLastError(); /* reported here, not again by the next launch check */
    scf_cuda_report(what, cudaGetErrorString(st));
    return false;
}

static inline bool scf_cublas_ok(cublasStatus_t st, const char *what)
{
    if (st != CUBLAS_STATUS_SUCCESS)
        scf_cuda_report(what, cublasGetStatusString(st));
    return st == CUBLAS_STATUS_SUCCESS;
}

/* Expressions: TRUE on success, else reported with file, line and call. */
#define SCF_CUDA_CHECK(call) scf_cuda_ok((call), G_STRLOC ": " #call)
#define SCF_CUBLAS_CHECK(call) scf_cublas_ok((call), G_STRLOC ": " #call)
/* After a <<<...>>> launch: a bad configuration shows up here, not later. */
#define SCF_CUDA_CHECK_LAUNCH() SCF_CUDA_CHECK(cudaGetLastError())

/* Threads per block of the elementwise kernels. */
#define SCF_CUDA_BLOCK 256
/* Grids stop growing here and the threads loop (grid-stride): 8192 blocks
 * fill any current GPU several times over (an H100 holds 132 x 32 resident
 * blocks), and indices stay size_t however large the tensor. */
#define SCF_CUDA_MAX_BLOCKS 8192u

/* Blocks for n items at `per_block` items each, at least 1 and at most
 * SCF_CUDA_MAX_BLOCKS; kernels cover the rest with a grid-stride loop. */
static inline unsigned scf_cuda_blocks(size_t n, unsigned per_block)
{
    size_t g = (n + per_block - 1) / per_block;
    return g == 0 ? 1u : g > SCF_CUDA_MAX_BLOCKS ? SCF_CUDA_MAX_BLOCKS : (unsigned)g;
}

/* The launch configuration of an elementwise kernel over n items on be's
 * stream: kernel<<<SCF_CUDA_GRID(be, n)>>>(...). */
#define SCF_CUDA_GRID(be, n)                                                          \
    scf_cuda_blocks((n), SCF_CUDA_BLOCK), SCF_CUDA_BLOCK, 0, scf_cuda_stream(be)

/* for (size_t i = this thread; i < n; i += all threads of the grid) */
#define SCF_CUDA_FOR(i, n)                                                            \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (size_t)(n);   \
         i += (size_t)blockDim.x * gridDim.x)

/* The backend workspace for a kernel as `count` values of T: device memory,
 * since the workspace comes from the backend's alloc. When it cannot be had,
 * the failure is reported naming the kernel and it leaves its outputs
 * unchanged (the caller returns on NULL), as the CPU kernels do. */
template <typename T = float>
static inline T *scf_cuda_workspace(scf_backend *be, size_t count, const char *kernel)
{
    T *ws = (T *)scf_backend_workspace(be, count * sizeof(T));
    if (!ws)
        scf_cuda_report(kernel, "cannot allocate the device workspace; outputs left unchanged");
    return ws;
}

/* f(i) for every i < n: elementwise passes written as functors (a small
 * struct with a __device__ operator()(size_t)). */
template <class F> __global__ void scf_cuda_foreach_kernel(size_t n, F f)
{
    SCF_CUDA_FOR(i, n)
        f(i);
}

template <class F> static inline void scf_cuda_foreach(scf_backend *be, size_t n, F f)
{
    if (n == 0)
        return;
    scf_cuda_foreach_kernel<<<SCF_CUDA_GRID(be, n)>>>(n, f);
    SCF_CUDA_CHECK_LAUNCH();
}

/* out[i] = bias[(i / inner) % C] for i < n: a bias row ([M, C], inner 1) or
 * per-channel planes ([B, C, inner]) that a GEMM then adds onto (beta = 1). */
void scf_cuda_seed_bias(scf_backend *be, float *out, const float *bias, size_t n, int C,
                        size_t inner);

/* Softmax rows, shared by the softmax kernels and attention's cuBLAS path.
 * Row r of `rows` lives in group r / group_rows at row r % group_rows, i.e.
 * at base + (r / group_rows) * group_stride + (r % group_rows) * N: a plain
 * [M, N] matrix is one group of M rows, attention's scores are one group of
 * query rows per head. Causal rows see keys up to query first_query + r %
 * group_rows. */
void scf_cuda_softmax_rows(scf_backend *be, float *y, const float *x, size_t rows,
                           int group_rows, size_t group_stride, int N, int causal,
                           int first_query);
/* g = y * (dy - sum(dy * y)) per row; dx, dy contiguous [rows, N], y grouped
 * as above. Adds g into dx when accumulate, else stores it (dx may equal dy). */
void scf_cuda_softmax_rows_backward(scf_backend *be, float *dx, const float *dy,
                                    const float *y, size_t rows, int group_rows,
                                    size_t group_stride, int N, int accumulate);

/* ---- table kernels ---- */

/* cuda_linear.cu */
void scf_cuda_linear_forward(scf_backend *be, float *out, const float *in,
                             const float *w, const float *b, int M, int K, int N);
void scf_cuda_linear_backward(scf_backend *be, float *din, float *dw, float *db,
                              const float *dout, const float *in, const float *w,
                              int M, int K, int N);
/* cuda_conv.cu */
void scf_cuda_conv2d_forward(scf_backend *be, float *out, const float *in,
                             const float *w, const float *b, int B, int Cin,
                             int H, int W, int Cout, int k, int stride, int pad);
void scf_cuda_conv2d_backward(scf_backend *be, float *din, float *dw, float *db,
                              const float *dout, const float *in, const float *w,
                              int B, int Cin, int H, int W, int Cout, int k,
                              int stride, int pad);
/* cuda_norm.cu */
void scf_cuda_group_norm_forward(scf_backend *be, float *out, float *mean, float *rstd,
                                 const float *x, const float *gamma, const float *beta,
                                 int B, int C, int HW, int G, float eps, int silu);
void scf_cuda_group_norm_backward(scf_backend *be, float *dx, float *dgamma, float *dbeta,
                                  const float *dout, const float *x, const float *mean,
                                  const float *rstd, const float *gamma, const float *beta,
                                  int B, int C, int HW, int G, int silu);
void scf_cuda_layer_norm_forward(scf_backend *be, float *out, float *mean, float *rstd,
                                 const float *x, const float *gamma, const float *beta,
                                 int M, int C, float eps);
void scf_cuda_layer_norm_backward(scf_backend *be, float *dx, float *dgamma, float *dbeta,
                                  const float *dout, const float *x, const float *mean,
                                  const float *rstd, const float *gamma, int M, int C);
/* cuda_activation.cu: activations, GEGLU */
void scf_cuda_activation_forward(scf_backend *be, float *out, const float *x, size_t n,
                                 scf_activation act);
void scf_cuda_activation_backward(scf_backend *be, float *dx, const float *dout,
                                  const float *x, size_t n, scf_activation act);
void scf_cuda_geglu_forward(scf_backend *be, float *out, const float *x, int M, int N);
void scf_cuda_geglu_backward(scf_backend *be, float *dx, const float *dout,
                             const float *x, int M, int N);
/* cuda_layout.cu: upsample, concat, transpose */
void scf_cuda_upsample2x_forward(scf_backend *be, float *out, const float *x, int N, int H, int W);
void scf_cuda_upsample2x_backward(scf_backend *be, float *dx, const float *dout, int N, int H,
                                  int W);
void scf_cuda_concat_forward(scf_backend *be, float *out, const float *a, const float *b,
                             int B, int Ca, int Cb, int S);
void scf_cuda_concat_backward(scf_backend *be, float *da, float *db, const float *dout,
                              int B, int Ca, int Cb, int S);
void scf_cuda_transpose(scf_backend *be, float *out, const float *x, int B, int R, int C,
                        int accumulate);
/* cuda_embedding.cu: timestep embedding, lookup */
void scf_cuda_timestep_embedding(scf_backend *be, float *out, const float *t, int B, int dim,
                                 int flip_sin_to_cos, float freq_shift);
void scf_cuda_embedding_forward(scf_backend *be, float *out, const int32_t *ids,
                                const float *table, int N, int D);
void scf_cuda_embedding_backward(scf_backend *be, float *dtable, const float *dout,
                                 const int32_t *ids, int N, int D);
/* cuda_elementwise.cu */
void scf_cuda_add(scf_backend *be, float *out, const float *a, const float *b, size_t n);
void scf_cuda_mul(scf_backend *be, float *out, const float *a, const float *b, size_t n);
void scf_cuda_mul_backward(scf_backend *be, float *da, float *db, const float *dout,
                           const float *a, const float *b, size_t n);
void scf_cuda_scale(scf_backend *be, float *out, const float *x, float s, size_t n);
void scf_cuda_axpy(scf_backend *be, float *y, const float *x, float a, size_t n);
void scf_cuda_fill(scf_backend *be, float *x, float value, size_t n);
void scf_cuda_add_channel_forward(scf_backend *be, float *x, const float *v, int B, int C, int S);
void scf_cuda_add_channel_backward(scf_backend *be, float *dv, const float *dout, int B, int C,
                                   int S);
void scf_cuda_batch_scale_forward(scf_backend *be, float *out, const float *x, const float *s,
                                  int B, int S);
void scf_cuda_batch_scale_backward(scf_backend *be, float *dx, float *ds, const float *dout,
                                   const float *x, const float *s, int B, int S);
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
