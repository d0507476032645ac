/* The CUDA backend's kernels, one group per file; signatures are those of the
 * scf_backend table (backend.h), which documents them, and the CPU kernels in
 * core/cpu/ are their reference.
 *
 * Everything runs on the default stream, so kernels, cuBLAS calls and copies
 * are ordered without events; functions that return a value to the host
 * synchronise. Computation is fp32 throughout (cuBLAS in its default math
 * mode, no TF32), so results match the CPU backend to float rounding, unless
 * the backend is set to another precision (cuda_precision.h). */
#pragma once
#include <cuda_runtime.h>
#include <cublas_v2.h>
#include <stddef.h>
#include <stdint.h>
#include "../backend.h"

typedef struct scf_cuda_precision scf_cuda_precision; /* cuda_precision.cu */

typedef struct {
    int device;
    cublasHandle_t blas;
    char name[64];
    scf_cuda_precision *precision;
} scf_cuda_ctx;

static inline cublasHandle_t scf_cuda_blas(scf_backend *be)
{
    return ((scf_cuda_ctx *)be->ctx)->blas;
}

/* A failed CUDA or cuBLAS call cannot be returned through the void kernel
 * table: it is reported (file, line, call, reason) and the kernel goes on,
 * leaving its outputs undefined, as the CPU kernels do on a failed
 * workspace. Nothing aborts. */
#define SCF_CUDA_CHECK(call)                                                          \
    do {                                                                              \
        cudaError_t scf_cuda_err_ = (call);                                           \
        if (scf_cuda_err_ != cudaSuccess)                                             \
            g_critical("%s:%d: %s: %s", __FILE__, __LINE__, #call,                    \
                       cudaGetErrorString(scf_cuda_err_));                            \
    } while (0)

#define SCF_CUBLAS_CHECK(call)                                                        \
    do {                                                                              \
        cublasStatus_t scf_cublas_st_ = (call);                                       \
        if (scf_cublas_st_ != CUBLAS_STATUS_SUCCESS)                                  \
            g_critical("%s:%d: %s: %s", __FILE__, __LINE__, #call,                    \
                       cublasGetStatusString(scf_cublas_st_));                        \
    } while (0)

/* After a <<<...>>> launch: a bad configuration shows up here, not later. */
#define SCF_CUDA_CHECK_LAUNCH() SCF_CUDA_CHECK(cudaGetLastError())

/* Threads per block of the elementwise kernels. */
#define SCF_CUDA_BLOCK 256
/* Elementwise grids stop growing here and the threads loop (grid-stride):
 * 8192 blocks of 256 threads fill any current GPU several times over, and
 * indices stay size_t however large the tensor. */
#define SCF_CUDA_MAX_BLOCKS 8192u

/* Blocks for n elements at `block` threads each, at least 1 and at most
 * SCF_CUDA_MAX_BLOCKS; kernels cover the rest with a grid-stride loop. */
static inline unsigned scf_cuda_blocks(size_t n, unsigned block)
{
    size_t g = (n + block - 1) / block;
    return g == 0 ? 1u : g > SCF_CUDA_MAX_BLOCKS ? SCF_CUDA_MAX_BLOCKS : (unsigned)g;
}

/* for (size_t i = this thread; i < n; i += all threads of the grid) */
#define SCF_CUDA_FOR(i, n)                                                            \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (size_t)(n);   \
         i += (size_t)blockDim.x * gridDim.x)

/* The backend workspace for a kernel: device memory, since the workspace
 * comes from the backend's alloc. When it cannot be had, a critical message
 * names the kernel and it leaves its outputs unchanged (the caller returns on
 * NULL), as the CPU kernels do. */
static inline float *scf_cuda_workspace(scf_backend *be, size_t floats, const char *kernel)
{
    float *ws = (float *)scf_backend_workspace(be, floats * sizeof(float));
    if (!ws)
        g_critical("%s: cannot allocate a %zu-float device workspace; outputs left unchanged",
                   kernel, floats);
    return ws;
}

/* out[i] = bias[(i / inner) % C] for i < n: a bias row ([M, C], inner 1) or
 * per-channel planes ([B, C, inner]) that a GEMM then adds onto (beta = 1). */
void scf_cuda_seed_bias(float *out, const float *bias, size_t n, int C, size_t inner);

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
