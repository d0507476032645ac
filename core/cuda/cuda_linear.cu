/* Fully connected layer on the GPU: out[M,N] = in[M,K] . w[N,K]^T + b[N],
 * all three products in cuBLAS, in the backend's precision (cuda_precision.h).
 *
 * cuBLAS is column-major. A row-major [R, C] array read column-major is its
 * transpose: a C x R matrix with leading dimension C. So each row-major
 * product P = X . Y is computed as the column-major P^T = Y^T . X^T, the
 * operands passed in swapped order, and "transposed" flags name what must be
 * undone on those views. */
#include "cuda_kernels.h"
#include "cuda_precision.h"
#include "cuda_reduce.cuh"

void scf_cuda_linear_forward(scf_backend *be, float *out, const float *in,
                             const float *w, const float *b, int M, int K, int N)
{
    /* As on the CPU: seed out with the bias rows and let the GEMM add onto
     * them (beta = 1), one write pass instead of a read and a write. */
    float beta = 0.0f;
    if (b) {
        scf_cuda_seed_bias(be, out, b, (size_t)M * N, N, 1);
        beta = 1.0f;
    }
    /* out^T [N x M, ld N] = w [N x K] . in^T [K x M].
     * w's view is w^T [K x N, ld K] -> OP_T; in's view is in^T [K x M, ld K] -> OP_N. */
    scf_cuda_gemm(be, CUBLAS_OP_T, CUBLAS_OP_N, N, M, K, 1.0f, scf_cuda_weight(w, K),
                  scf_cuda_act(in, K, 0), beta, out, N, 0, 1, "linear_forward");
}

/* (dout[m, n], 0): the bias gradient is dout's column sums */
struct linear_db_terms {
    const float *dout;
    int N;
    __device__ float2 operator()(int m, int n) const
    {
        return make_float2(dout[(size_t)m * N + n], 0.0f);
    }
};

void scf_cuda_linear_backward(scf_backend *be, float *din, float *dw, float *db,
                              const float *dout, const float *in, const float *w,
                              int M, int K, int N)
{
    /* din [M,K] += dout [M,N] . w [N,K]
     * column-major: din^T [K x M, ld K] += w^T [K x N] . dout^T [N x M];
     * w's view is w^T [K x N, ld K] -> OP_N; dout's is dout^T [N x M, ld N] -> OP_N. */
    if (din)
        scf_cuda_gemm(be, CUBLAS_OP_N, CUBLAS_OP_N, K, M, N, 1.0f, scf_cuda_weight(w, K),
                      scf_cuda_act(dout, N, 0), 1.0f, din, K, 0, 1, "linear_backward");
    /* dw [N,K] += dout^T [N,M] . in [M,K]
     * column-major: dw^T [K x N, ld K] += in^T [K x M] . dout [M x N];
     * in's view is in^T [K x M, ld K] -> OP_N; dout's is dout^T [N x M, ld N] -> OP_T. */
    if (dw)
        scf_cuda_gemm(be, CUBLAS_OP_N, CUBLAS_OP_T, K, N, M, 1.0f, scf_cuda_act(in, K, 0),
                      scf_cuda_act(dout, N, 0), 1.0f, dw, K, 0, 1, "linear_backward");
    if (db)
        scf_cuda_column_sum(be, db, NULL, M, N, linear_db_terms{ dout, N });
}
