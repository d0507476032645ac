/* Fully connected layer on the GPU: out[M,N] = in[M,K] . w[N,K]^T + b[N],
 * all three products in cuBLAS (fp32, default math mode).
 *
 * cuBLAS is column-major. A row-major [R, C] array read column-major is its
 * transpose: a C x R matrix with leading dimension C. So each row-major
 * product P = X . Y is computed as the column-major P^T = Y^T . X^T, the
 * operands passed in swapped order, and "transposed" flags name what must be
 * undone on those views. */
#include "cuda_kernels.h"
#include "cuda_reduce.cuh"

void scf_cuda_linear_forward(scf_backend *be, float *out, const float *in,
                             const float *w, const float *b, int M, int K, int N)
{
    /* As on the CPU: seed out with the bias rows and let the GEMM add onto
     * them (beta = 1), one write pass instead of a read and a write. */
    float beta = 0.0f;
    const float one = 1.0f;
    if (b) {
        scf_cuda_seed_bias(be, out, b, (size_t)M * N, N, 1);
        beta = 1.0f;
    }
    /* out^T [N x M, ld N] = w [N x K] . in^T [K x M].
     * w's view is w^T [K x N, ld K] -> OP_T; in's view is in^T [K x M, ld K] -> OP_N. */
    SCF_CUBLAS_CHECK(cublasSgemm(scf_cuda_blas(be), CUBLAS_OP_T, CUBLAS_OP_N, N, M, K,
                                 &one, w, K, in, K, &beta, out, N));
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
    const float one = 1.0f; /* alpha, and beta: backward kernels accumulate */
    cublasHandle_t blas = scf_cuda_blas(be);
    /* din [M,K] += dout [M,N] . w [N,K]
     * column-major: din^T [K x M, ld K] += w^T [K x N] . dout^T [N x M];
     * w's view is w^T [K x N, ld K] -> OP_N; dout's is dout^T [N x M, ld N] -> OP_N. */
    if (din)
        SCF_CUBLAS_CHECK(cublasSgemm(blas, CUBLAS_OP_N, CUBLAS_OP_N, K, M, N,
                                     &one, w, K, dout, N, &one, din, K));
    /* dw [N,K] += dout^T [N,M] . in [M,K]
     * column-major: dw^T [K x N, ld K] += in^T [K x M] . dout [M x N];
     * in's view is in^T [K x M, ld K] -> OP_N; dout's is dout^T [N x M, ld N] -> OP_T. */
    if (dw)
        SCF_CUBLAS_CHECK(cublasSgemm(blas, CUBLAS_OP_N, CUBLAS_OP_T, K, N, M,
                                     &one, in, K, dout, N, &one, dw, K));
    if (db)
        scf_cuda_column_sum(be, db, NULL, M, N, linear_db_terms{ dout, N });
}
