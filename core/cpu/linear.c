/* Fully connected layer: out[M,N] = in[M,K] . w[N,K]^T + b[N].
 * All three products go to OpenBLAS (OpenMP build, so it threads inside the
 * shared pool); only the bias, which is memory-bound, is ours. */
#include "cpu_kernels.h"
#include <cblas.h>
#include <omp.h>

void scf_cpu_linear_forward(scf_backend *be, float *out, const float *in,
                            const float *w, const float *b, int M, int K, int N)
{
    (void)be;
    /* Seeding out with the bias and letting sgemm add to it (beta = 1) costs
     * one write pass; adding the bias afterwards would cost a read and a write. */
    float beta = 0.0f;
    if (b) {
        #pragma omp parallel for schedule(static)
        for (int m = 0; m < M; m++) {
            float *row = out + (size_t)m * N;
            for (int n = 0; n < N; n++)
                row[n] = b[n];
        }
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K,
                1.0f, in, K, w, K, beta, out, N);
}

void scf_cpu_linear_backward(scf_backend *be, float *din, float *dw, float *db,
                             const float *dout, const float *in, const float *w,
                             int M, int K, int N)
{
    (void)be;
    /* beta = 1 everywhere: backward kernels accumulate (backend.h) */
    if (din)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, K, N,
                    1.0f, dout, N, w, K, 1.0f, din, K);
    if (dw)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, K, M,
                    1.0f, dout, N, in, K, 1.0f, dw, K);
    if (db) {
        /* Column sums: each thread owns a block of columns and walks the rows,
         * so the inner loop stays contiguous and no two threads share a db[n]. */
        #pragma omp parallel
        {
            int nt = omp_get_num_threads(), t = omp_get_thread_num();
            int n0 = (int)((long)N * t / nt), n1 = (int)((long)N * (t + 1) / nt);
            for (int m = 0; m < M; m++) {
                const float *row = dout + (size_t)m * N;
                for (int n = n0; n < n1; n++)
                    db[n] += row[n];
            }
        }
    }
}
