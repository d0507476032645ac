/* Group norm (with an optional fused SiLU) and layer norm, forward and backward.
 *
 * Both are memory-bound. A normalised block (one (image, group) or one row) is
 * small enough to stay in L1/L2 between its statistics pass and its output
 * pass, so each kernel streams its tensors from memory once. Statistics are
 * biased (divide by n), as PyTorch's. */
#include "cpu_kernels.h"
#include "kernel_util.h"
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>

/* mean and 1/sqrt(var + eps) of x[0..n). One pass of sum and sum of squares in
 * double: E[x^2] - E[x]^2 then loses only ~1e-16 * mean^2/var, far below fp32
 * resolution for any activation, where a float one-pass would not be. */
static void norm_moments(const float *x, size_t n, float eps, float *mean, float *rstd)
{
    double s = 0.0, ss = 0.0;
    #pragma omp simd reduction(+:s, ss)
    for (size_t i = 0; i < n; i++) {
        double v = x[i];
        s += v;
        ss += v * v;
    }
    double mu = s / (double)n;
    double var = fmax(ss / (double)n - mu * mu, 0.0);
    *mean = (float)mu;
    *rstd = (float)(1.0 / sqrt(var + (double)eps));
}

static inline float norm_silu(float y)
{
    return y / (1.0f + scf_cpu_expf(-y));
}

/* d silu(y)/dy times dout */
static inline float norm_silu_grad(float dout, float y)
{
    float s = 1.0f / (1.0f + scf_cpu_expf(-y));
    return dout * s * (1.0f + y * (1.0f - s));
}

void scf_cpu_group_norm_forward(scf_backend *be, float *out, float *mean, float *rstd,
                                const float *x, const float *gamma, const float *beta,
                                int B, int C, int HW, int G, float eps, int silu)
{
    (void)be;
    const int Cg = C / G;
    /* (image, group) blocks are contiguous [Cg, HW] slabs and independent. */
    #pragma omp parallel for schedule(static)
    for (int bg = 0; bg < B * G; bg++) {
        const size_t off = (size_t)bg * Cg * HW;
        float mu, rs;
        norm_moments(x + off, (size_t)Cg * HW, eps, &mu, &rs);
        if (mean)
            mean[bg] = mu;
        if (rstd)
            rstd[bg] = rs;
        for (int ci = 0; ci < Cg; ci++) {
            const int c = bg % G * Cg + ci;
            /* gamma*(x - mu)*rs + beta folded into one fma per element */
            const float a = rs * gamma[c], bb = beta[c] - mu * a;
            const float *xc = x + off + (size_t)ci * HW;
            float *oc = out + off + (size_t)ci * HW;
            if (silu) {
                #pragma omp simd
                for (int p = 0; p < HW; p++)
                    oc[p] = norm_silu(fmaf(xc[p], a, bb));
            } else {
                #pragma omp simd
                for (int p = 0; p < HW; p++)
                    oc[p] = fmaf(xc[p], a, bb);
            }
        }
    }
}

/* dL/dy for the pre-activation y = xhat*gamma + beta, given dL/dout. */
static inline float norm_gn_dy(float dout, float y, const int silu)
{
    return silu ? norm_silu_grad(dout, y) : dout;
}

/* Backward of one (image, group) block: x, dout, dx point at its [Cg, HW]
 * slab, gamma/beta/dgamma/dbeta at its first channel. Always inlined with
 * constant silu and want_dx (dx != NULL) so that each variant vectorises
 * without a branch per element.
 *
 * dx = rstd * (gamma*dy - mean(gamma*dy) - xhat * mean(gamma*dy*xhat)). Its
 * first term is added during the pass that takes the means, so dy (which
 * costs an exp with SiLU) is computed once; the second pass, from cache,
 * needs only x. */
static inline __attribute__((always_inline)) void
norm_gn_block_backward(float *dx, float *dgamma, float *dbeta, const float *dout,
                       const float *x, const float *gamma, const float *beta,
                       float mu, float rs, int Cg, int HW, const int silu,
                       const int want_dx)
{
    /* y, the pre-activation, is recomputed from x, mean and rstd */
    double s_gdy = 0.0, s_gdyx = 0.0;
    for (int c = 0; c < Cg; c++) {
        const float a = rs * gamma[c], bb = beta[c] - mu * a;
        const float *xc = x + (size_t)c * HW, *gc = dout + (size_t)c * HW;
        float *dc = want_dx ? dx + (size_t)c * HW : NULL;
        float sdy = 0.0f, sdyx = 0.0f;
        #pragma omp simd reduction(+:sdy, sdyx)
        for (int p = 0; p < HW; p++) {
            float dy = norm_gn_dy(gc[p], fmaf(xc[p], a, bb), silu);
            sdy += dy;
            sdyx += dy * ((xc[p] - mu) * rs);
            if (want_dx)
                dc[p] += a * dy;   /* a = rstd * gamma */
        }
        if (dgamma)
            dgamma[c] += sdyx;
        if (dbeta)
            dbeta[c] += sdy;
        s_gdy += (double)gamma[c] * sdy;
        s_gdyx += (double)gamma[c] * sdyx;
    }
    if (!want_dx)
        return;
    const double n = (double)Cg * HW;
    const float m1 = (float)(s_gdy / n), m2 = (float)(s_gdyx / n);
    #pragma omp simd
    for (size_t i = 0; i < (size_t)Cg * HW; i++)
        dx[i] -= rs * (m1 + (x[i] - mu) * rs * m2);
}

void scf_cpu_group_norm_backward(scf_backend *be, float *dx, float *dgamma, float *dbeta,
                                 const float *dout, const float *x, const float *mean,
                                 const float *rstd, const float *gamma, const float *beta,
                                 int B, int C, int HW, int G, int silu)
{
    (void)be;
    const int Cg = C / G;
    /* Threads split the groups and each walks the batch itself: a group's
     * dgamma/dbeta channels then have one owner, so they need no reduction. */
    #pragma omp parallel for schedule(static)
    for (int g = 0; g < G; g++) {
        const int c0 = g * Cg;
        float *dg = dgamma ? dgamma + c0 : NULL, *dbt = dbeta ? dbeta + c0 : NULL;
        for (int b = 0; b < B; b++) {
            const int bg = b * G + g;
            const size_t off = (size_t)bg * Cg * HW;
            float *dxb = dx ? dx + off : NULL;
            const float *gblk = dout + off, *xblk = x + off, *gam = gamma + c0, *bet = beta + c0;
            const float mu = mean[bg], rs = rstd[bg];
            if (silu && dx)
                norm_gn_block_backward(dxb, dg, dbt, gblk, xblk, gam, bet, mu, rs, Cg, HW, 1, 1);
            else if (silu)
                norm_gn_block_backward(dxb, dg, dbt, gblk, xblk, gam, bet, mu, rs, Cg, HW, 1, 0);
            else if (dx)
                norm_gn_block_backward(dxb, dg, dbt, gblk, xblk, gam, bet, mu, rs, Cg, HW, 0, 1);
            else
                norm_gn_block_backward(dxb, dg, dbt, gblk, xblk, gam, bet, mu, rs, Cg, HW, 0, 0);
        }
    }
}

void scf_cpu_layer_norm_forward(scf_backend *be, float *out, float *mean, float *rstd,
                                const float *x, const float *gamma, const float *beta,
                                int M, int C, float eps)
{
    (void)be;
    #pragma omp parallel for schedule(static)
    for (int m = 0; m < M; m++) {
        const float *xr = x + (size_t)m * C;
        float *orow = out + (size_t)m * C;
        float mu, rs;
        norm_moments(xr, (size_t)C, eps, &mu, &rs);
        if (mean)
            mean[m] = mu;
        if (rstd)
            rstd[m] = rs;
        #pragma omp simd
        for (int c = 0; c < C; c++)
            orow[c] = (xr[c] - mu) * rs * gamma[c] + beta[c];
    }
}

void scf_cpu_layer_norm_backward(scf_backend *be, float *dx, float *dgamma, float *dbeta,
                                 const float *dout, const float *x, const float *mean,
                                 const float *rstd, const float *gamma, int M, int C)
{
    /* dgamma/dbeta sum over rows, which the threads split: each thread sums
     * its rows into its own [2, C] slice of the workspace, and the slices are
     * added in thread order afterwards (deterministic for a thread count).
     * The slices are kept even when neither is wanted, so the row loop has
     * no branch to stop it vectorising. */
    const size_t part_bytes = (size_t)omp_get_max_threads() * 2 * C * sizeof(float);
    float *part = scf_cpu_workspace(be, part_bytes, "layer norm backward");
    if (!part)
        return;
    #pragma omp parallel
    {
        const int nt = omp_get_num_threads();
        float *pg = part + (size_t)omp_get_thread_num() * 2 * C, *pb = pg + C;
        memset(pg, 0, 2 * (size_t)C * sizeof(float));
        #pragma omp for schedule(static)
        for (int m = 0; m < M; m++) {
            const float *xr = x + (size_t)m * C, *gr = dout + (size_t)m * C;
            const float mu = mean[m], rs = rstd[m];
            float s1 = 0.0f, s2 = 0.0f;
            #pragma omp simd reduction(+:s1, s2)
            for (int c = 0; c < C; c++) {
                float xhat = (xr[c] - mu) * rs;
                float gdy = gamma[c] * gr[c];
                s1 += gdy;
                s2 += gdy * xhat;
                pg[c] += gr[c] * xhat;
                pb[c] += gr[c];
            }
            if (dx) {
                /* dx = rstd * (gamma*dout - mean(gamma*dout) - xhat * mean(gamma*dout*xhat)) */
                const float m1 = s1 / (float)C, m2 = s2 / (float)C;
                float *dr = dx + (size_t)m * C;
                #pragma omp simd
                for (int c = 0; c < C; c++) {
                    float xhat = (xr[c] - mu) * rs;
                    dr[c] += rs * (gamma[c] * gr[c] - m1 - xhat * m2);
                }
            }
        }
        /* the implicit barrier of the omp for has completed every slice */
        #pragma omp for schedule(static)
        for (int c = 0; c < C; c++) {
            float sg = 0.0f, sb = 0.0f;
            for (int t = 0; t < nt; t++) {
                sg += part[(size_t)t * 2 * C + c];
                sb += part[(size_t)t * 2 * C + C + c];
            }
            if (dgamma)
                dgamma[c] += sg;
            if (dbeta)
                dbeta[c] += sb;
        }
    }
}
