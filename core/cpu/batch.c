/* Per-sample scaling and per-batch transposes. */
#include "cpu_kernels.h"

void scf_cpu_batch_scale_forward(scf_backend *be, float *out, const float *x, const float *s,
                                 int B, int S)
{
    #pragma omp parallel for if ((size_t)B * S > 32768)
    for (int b = 0; b < B; b++) {
        const float sb = s[b];
        const float *xb = x + (size_t)b * S;
        float *ob = out + (size_t)b * S;
        #pragma omp simd
        for (int i = 0; i < S; i++)
            ob[i] = sb * xb[i];
    }
}

void scf_cpu_batch_scale_backward(scf_backend *be, float *dx, float *ds, const float *dout,
                                  const float *x, const float *s, int B, int S)
{
    #pragma omp parallel for if ((size_t)B * S > 32768)
    for (int b = 0; b < B; b++) {
        const float *gb = dout + (size_t)b * S;
        if (dx) {
            float *dxb = dx + (size_t)b * S;
            const float sb = s[b];
            #pragma omp simd
            for (int i = 0; i < S; i++)
                dxb[i] += sb * gb[i];
        }
        if (ds) {
            const float *xb = x + (size_t)b * S;
            double acc = 0;
            #pragma omp simd reduction(+:acc)
            for (int i = 0; i < S; i++)
                acc += (double)gb[i] * xb[i];
            ds[b] += (float)acc;
        }
    }
}

/* Tiled so that both the reads and the writes stay within cache lines. */
void scf_cpu_transpose(scf_backend *be, float *out, const float *x, int B, int R, int C,
                       int accumulate)
{
    enum { TILE = 32 };
    const int tiles_r = (R + TILE - 1) / TILE, tiles_c = (C + TILE - 1) / TILE;
    #pragma omp parallel for collapse(3) if ((size_t)B * R * C > 32768)
    for (int b = 0; b < B; b++)
        for (int tr = 0; tr < tiles_r; tr++)
            for (int tc = 0; tc < tiles_c; tc++) {
                const float *xb = x + (size_t)b * R * C;
                float *ob = out + (size_t)b * R * C;
                const int r1 = MIN(R, (tr + 1) * TILE), c1 = MIN(C, (tc + 1) * TILE);
                for (int c = tc * TILE; c < c1; c++)
                    for (int r = tr * TILE; r < r1; r++) {
                        float v = xb[(size_t)r * C + c];
                        float *o = &ob[(size_t)c * R + r];
                        *o = accumulate ? *o + v : v;
                    }
            }
}
