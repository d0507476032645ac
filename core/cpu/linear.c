/* Fully connected layer: out[M,N] = in[M,K] . w[N,K]^T + b[N].
 *
 * The products are thin (K and N of 64 to 1024 against M of thousands of
 * tokens), so the threads split the rows: each runs single-threaded sgemms
 * on its own block of rows (OpenBLAS's OpenMP build does not thread inside
 * our parallel region), and the weight gradient, a sum over rows, is summed
 * per thread and the partial sums added in thread order, so the result
 * depends on the thread count only. One fork and join per call this way,
 * where a threaded sgemm synchronises its threads inside every product.
 * Few rows (inference on one or two tokens' worth) go to OpenBLAS whole. */
#include "cpu_kernels.h"
#include "kernel_util.h"
#include <cblas.h>
#include <omp.h>

/* Rows per thread below which splitting the rows does not pay. */
#define LINEAR_MIN_ROWS 64

static int row_threads(int M)
{
    return MAX(1, MIN(omp_get_max_threads(), M / LINEAR_MIN_ROWS));
}

/* Thread t's rows of M: [*m0, *m1). */
static void row_block(int M, int t, int nt, int *m0, int *m1)
{
    *m0 = (int)((long)M * t / nt);
    *m1 = (int)((long)M * (t + 1) / nt);
}

/* out = in . w^T + b for rows [m0, m1). Seeding out with the bias and
 * letting sgemm add to it (beta = 1) costs one write pass; adding the bias
 * afterwards would cost a read and a write. */
static void linear_rows(float *out, const float *in, const float *w, const float *b,
                        int m0, int m1, int K, int N)
{
    float beta = 0.0f;
    if (b) {
        for (int m = m0; m < m1; m++)
            memcpy(out + (size_t)m * N, b, (size_t)N * sizeof(float));
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m1 - m0, N, K,
                1.0f, in + (size_t)m0 * K, K, w, K, beta, out + (size_t)m0 * N, N);
}

void scf_cpu_linear_forward(scf_backend *be, float *out, const float *in,
                            const float *w, const float *b, int M, int K, int N)
{
    (void)be;
    const int nt = row_threads(M);
    if (nt == 1) {
        linear_rows(out, in, w, b, 0, M, K, N);
        return;
    }
    #pragma omp parallel num_threads(nt)
    {
        int m0, m1;
        row_block(M, omp_get_thread_num(), nt, &m0, &m1);
        linear_rows(out, in, w, b, m0, m1, K, N);
    }
}

/* din += dout . w and dw (=, when fresh, else +=) dout^T . in over rows
 * [m0, m1); beta = 1 where backward accumulates (backend.h). */
static void linear_backward_rows(float *din, float *dw, int fresh, const float *dout,
                                 const float *in, const float *w, int m0, int m1, int K, int N)
{
    if (din)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m1 - m0, K, N,
                    1.0f, dout + (size_t)m0 * N, N, w, K, 1.0f, din + (size_t)m0 * K, K);
    if (dw)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, K, m1 - m0,
                    1.0f, dout + (size_t)m0 * N, N, in + (size_t)m0 * K, K, fresh ? 0.0f : 1.0f,
                    dw, K);
}

void scf_cpu_linear_backward(scf_backend *be, float *din, float *dw, float *db,
                             const float *dout, const float *in, const float *w,
                             int M, int K, int N)
{
    const int nt = row_threads(M);
    const size_t dw_n = (size_t)N * K;
    float *parts = NULL;
    if (dw && nt > 1 &&
        !(parts = scf_cpu_workspace(be, (nt - 1) * dw_n * sizeof(float), "linear backward")))
        return;
    if (nt == 1) {
        linear_backward_rows(din, dw, 0, dout, in, w, 0, M, K, N);
    } else if (din || dw) {
        #pragma omp parallel num_threads(nt)
        {
            const int t = omp_get_thread_num();
            int m0, m1;
            row_block(M, t, nt, &m0, &m1);
            /* thread 0 adds into dw, the others write their partial sums */
            float *dwt = dw && t ? parts + (t - 1) * dw_n : dw;
            linear_backward_rows(din, dwt, t != 0, dout, in, w, m0, m1, K, N);
            if (dw) {
                #pragma omp barrier
                #pragma omp for schedule(static)
                for (size_t i = 0; i < dw_n; i++)
                    for (int p = 0; p < nt - 1; p++)
                        dw[i] += parts[p * dw_n + i];
            }
        }
    }
    if (db) {
        /* Column sums: each thread owns a block of columns and walks the rows,
         * so the inner loop stays contiguous and no two threads share a db[n]. */
        #pragma omp parallel if ((size_t)M * N >= SCF_CPU_PAR_MIN)
        {
            int n0, n1;
            row_block(N, omp_get_thread_num(), omp_get_num_threads(), &n0, &n1);
            for (int m = 0; m < M; m++) {
                const float *row = dout + (size_t)m * N;
                for (int n = n0; n < n1; n++)
                    db[n] += row[n];
            }
        }
    }
}
