/* Sinusoidal timestep embedding and table lookup. */
#include "cpu_kernels.h"
#include <math.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* diffusers' get_timestep_embedding. The frequencies and the angle t * freq
 * are formed in fp32 step by step as PyTorch does: at t ~ 1000 the angle's
 * fp32 rounding alone moves sin/cos by ~1e-4, so a double-precision angle
 * would differ from the PyTorch-trained weights' view of time by more than
 * the float error of everything else. sin/cos themselves run in double and
 * round once, which is what an accurate fp32 sin/cos gives. */
void scf_cpu_timestep_embedding(scf_backend *be, float *out, const float *t, int B, int dim,
                                int flip_sin_to_cos, float freq_shift)
{
    int half = dim / 2;
    float neg_log_period = (float)-log(10000.0);
    float denom = (float)half - freq_shift;
    #pragma omp parallel for schedule(static) if ((size_t)B * dim >= 16384)
    for (int bi = 0; bi < B; bi++) {
        float *row = out + (size_t)bi * dim;
        float *sin_part = row + (flip_sin_to_cos ? half : 0);
        float *cos_part = row + (flip_sin_to_cos ? 0 : half);
        for (int i = 0; i < half; i++) {
            float exponent = neg_log_period * (float)i / denom;
            float angle = t[bi] * expf(exponent);
            sin_part[i] = (float)sin((double)angle);
            cos_part[i] = (float)cos((double)angle);
        }
        if (dim % 2)
            row[dim - 1] = 0.0f;
    }
}

void scf_cpu_embedding_forward(scf_backend *be, float *out, const int32_t *ids,
                               const float *table, int N, int D)
{
    #pragma omp parallel for schedule(static) if ((size_t)N * D >= 16384)
    for (int n = 0; n < N; n++)
        memcpy(out + (size_t)n * D, table + (size_t)ids[n] * D, (size_t)D * sizeof(float));
}

/* Repeated ids add into the same row, so threads split the D columns rather
 * than the N tokens: no two threads ever write one element, no atomics, and
 * the sum order per element is fixed (deterministic for any thread count). */
void scf_cpu_embedding_backward(scf_backend *be, float *dtable, const float *dout,
                                const int32_t *ids, int N, int D)
{
    if (!dtable)
        return;
    #pragma omp parallel if ((size_t)N * D >= 16384)
    {
        int nth = 1, me = 0;
#ifdef _OPENMP
        nth = omp_get_num_threads();
        me = omp_get_thread_num();
#endif
        /* slices in multiples of 16 floats (a cache line) to limit false sharing */
        int lines = (D + 15) / 16;
        int lo = MIN(D, lines * me / nth * 16), hi = MIN(D, lines * (me + 1) / nth * 16);
        for (int n = 0; n < N; n++) {
            float *dst = dtable + (size_t)ids[n] * D;
            const float *src = dout + (size_t)n * D;
            for (int d = lo; d < hi; d++)
                dst[d] += src[d];
        }
    }
}
