/* Group norm (with an optional fused SiLU) and layer norm on the GPU,
 * forward and backward; core/cpu/norm.c is the reference, and the
 * expressions below follow it term by term.
 *
 * Group norm: one block per (image, group), whose [Cg, HW] slab is
 * contiguous. Layer norm: one warp per row. Statistics are biased (divide by
 * n) and summed in double, one pass of sum and sum of squares, as on the CPU
 * (see norm_moments there for why double makes the one-pass form safe).
 * Parameter gradients sum over the batch in a second, fixed-order kernel
 * (cuda_reduce.cuh), not with atomics, so they repeat bit for bit. */
#include "cuda_kernels.h"
#include "cuda_reduce.cuh"

/* Threads per group-norm block: a 64x64 map with 10 channels per group is
 * 40960 elements, 80 per thread. */
#define GN_BLOCK 512
/* Rows (warps) per layer-norm block. */
#define LN_ROWS 8

static __device__ __forceinline__ float norm_silu(float y)
{
    return y / (1.0f + expf(-y));
}

/* dL/dy for the pre-activation y = xhat*gamma + beta, given dL/dout */
static __device__ __forceinline__ float norm_gn_dy(float dout, float y, int silu)
{
    if (!silu)
        return dout;
    const float s = 1.0f / (1.0f + expf(-y));
    return dout * s * (1.0f + y * (1.0f - s));
}

/* mean and 1/sqrt(var + eps) from the block's or warp's sums s, ss over n */
static __device__ __forceinline__ void norm_stats(double s, double ss, double n, float eps,
                                                  float *mean, float *rstd)
{
    const double mu = s / n;
    const double var = fmax(ss / n - mu * mu, 0.0);
    *mean = (float)mu;
    *rstd = (float)(1.0 / sqrt(var + (double)eps));
}

static __global__ void group_norm_forward_kernel(float *out, float *mean, float *rstd,
                                                 const float *x, const float *gamma,
                                                 const float *beta, int BG, int G, int Cg,
                                                 int HW, float eps, int silu)
{
    const size_t n = (size_t)Cg * HW;
    for (int bg = blockIdx.x; bg < BG; bg += gridDim.x) {
        const size_t off = (size_t)bg * n;
        double s = 0.0, ss = 0.0;
        for (size_t i = threadIdx.x; i < n; i += blockDim.x) {
            const double v = x[off + i];
            s += v;
            ss += v * v;
        }
        s = scf_cuda_block_sum(s);
        ss = scf_cuda_block_sum(ss);
        float mu, rs;
        norm_stats(s, ss, (double)n, eps, &mu, &rs);
        if (threadIdx.x == 0) {
            if (mean)
                mean[bg] = mu;
            if (rstd)
                rstd[bg] = rs;
        }
        const int c0 = bg % G * Cg;
        for (size_t i = threadIdx.x; i < n; i += blockDim.x) {
            const int c = c0 + (int)(i / HW);
            /* gamma*(x - mu)*rs + beta folded into one fma, as on the CPU */
            const float a = rs * gamma[c], bb = beta[c] - mu * a;
            const float y = fmaf(x[off + i], a, bb);
            out[off + i] = silu ? norm_silu(y) : y;
        }
    }
}

/* One block per (image, group). */
static unsigned group_norm_blocks(int BG)
{
    return scf_cuda_blocks((size_t)BG * GN_BLOCK, GN_BLOCK);
}

void scf_cuda_group_norm_forward(scf_backend *be, float *out, float *mean, float *rstd,
                                 const float *x, const float *gamma, const float *beta,
                                 int B, int C, int HW, int G, float eps, int silu)
{
    const int BG = B * G;
    group_norm_forward_kernel<<<group_norm_blocks(BG), GN_BLOCK, 0, scf_cuda_stream(be)>>>(
        out, mean, rstd, x, gamma, beta, BG, G, C / G, HW, eps, silu);
    SCF_CUDA_CHECK_LAUNCH();
}

/* Backward of one (image, group) block per CUDA block.
 * dx += rstd * (gamma*dy - mean(gamma*dy) - xhat * mean(gamma*dy*xhat)).
 * Pass 1 gives a warp one channel at a time: its sums of dy and dy*xhat go
 * to part[b][c] (for dgamma/dbeta, when part is not NULL) and, weighted by
 * gamma, into the block's two means. Pass 2 recomputes dy (cheaper on a GPU
 * than a second read-modify-write of dx) and adds the whole dx term. */
static __global__ void group_norm_backward_kernel(float *dx, float *part, const float *dout,
                                                  const float *x, const float *mean,
                                                  const float *rstd, const float *gamma,
                                                  const float *beta, int BG, int G, int Cg,
                                                  int HW, int silu)
{
    const size_t n = (size_t)Cg * HW;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
    for (int bg = blockIdx.x; bg < BG; bg += gridDim.x) {
        const size_t off = (size_t)bg * n;
        const float mu = mean[bg], rs = rstd[bg];
        const int c0 = bg % G * Cg;
        double s_gdy = 0.0, s_gdyx = 0.0;
        for (int ci = warp; ci < Cg; ci += nwarps) {
            const int c = c0 + ci;
            const float a = rs * gamma[c], bb = beta[c] - mu * a;
            const float *xc = x + off + (size_t)ci * HW, *gc = dout + off + (size_t)ci * HW;
            float sdy = 0.0f, sdyx = 0.0f;
            for (int p = lane; p < HW; p += 32) {
                const float dy = norm_gn_dy(gc[p], fmaf(xc[p], a, bb), silu);
                sdy += dy;
                sdyx += dy * ((xc[p] - mu) * rs);
            }
            sdy = scf_cuda_warp_sum(sdy);
            sdyx = scf_cuda_warp_sum(sdyx);
            if (part && lane == 0) {
                float *pc = part + 2 * ((size_t)(bg / G) * G * Cg + c);
                pc[0] = sdy;
                pc[1] = sdyx;
            }
            s_gdy += (double)gamma[c] * sdy;
            s_gdyx += (double)gamma[c] * sdyx;
        }
        if (!dx)
            continue;
        /* every lane of a warp holds its warp's sums: count lane 0's only */
        s_gdy = scf_cuda_block_sum(lane == 0 ? s_gdy : 0.0);
        s_gdyx = scf_cuda_block_sum(lane == 0 ? s_gdyx : 0.0);
        const float m1 = (float)(s_gdy / (double)n), m2 = (float)(s_gdyx / (double)n);
        for (size_t i = threadIdx.x; i < n; i += blockDim.x) {
            const int c = c0 + (int)(i / HW);
            const float a = rs * gamma[c], bb = beta[c] - mu * a;
            const float xv = x[off + i];
            const float dy = norm_gn_dy(dout[off + i], fmaf(xv, a, bb), silu);
            dx[off + i] += a * dy - rs * (m1 + (xv - mu) * rs * m2);
        }
    }
}

/* (dgamma, dbeta) terms of part[b][c] = (sum dy, sum dy*xhat) */
struct gn_param_terms {
    const float *part;
    int C;
    __device__ float2 operator()(int b, int c) const
    {
        const float *pc = part + 2 * ((size_t)b * C + c);
        return make_float2(pc[1], pc[0]);
    }
};

void scf_cuda_group_norm_backward(scf_backend *be, float *dx, float *dgamma, float *dbeta,
                                  const float *dout, const float *x, const float *mean,
                                  const float *rstd, const float *gamma, const float *beta,
                                  int B, int C, int HW, int G, int silu)
{
    float *part = NULL;
    if (dgamma || dbeta) {
        part = scf_cuda_workspace(be, (size_t)2 * B * C, "group norm backward");
        if (!part)
            return;
    } else if (!dx) {
        return;
    }
    const int BG = B * G;
    group_norm_backward_kernel<<<group_norm_blocks(BG), GN_BLOCK, 0, scf_cuda_stream(be)>>>(
        dx, part, dout, x, mean, rstd, gamma, beta, BG, G, C / G, HW, silu);
    SCF_CUDA_CHECK_LAUNCH();
    /* each channel's parameter gradients: the sum over the batch of part[b][c] */
    if (part)
        scf_cuda_column_sum(be, dgamma, dbeta, B, C, gn_param_terms{ part, C });
}

static __global__ void layer_norm_forward_kernel(float *out, float *mean, float *rstd,
                                                 const float *x, const float *gamma,
                                                 const float *beta, int M, int C, float eps)
{
    const int lane = threadIdx.x & 31;
    for (int m = blockIdx.x * LN_ROWS + (threadIdx.x >> 5); m < M; m += gridDim.x * LN_ROWS) {
        const float *xr = x + (size_t)m * C;
        double s = 0.0, ss = 0.0;
        for (int c = lane; c < C; c += 32) {
            const double v = xr[c];
            s += v;
            ss += v * v;
        }
        s = scf_cuda_warp_sum(s);
        ss = scf_cuda_warp_sum(ss);
        float mu, rs;
        norm_stats(s, ss, (double)C, eps, &mu, &rs);
        if (lane == 0) {
            if (mean)
                mean[m] = mu;
            if (rstd)
                rstd[m] = rs;
        }
        float *orow = out + (size_t)m * C;
        for (int c = lane; c < C; c += 32)
            orow[c] = (xr[c] - mu) * rs * gamma[c] + beta[c];
    }
}

/* Whole warps per row: the grid is sized in rows, LN_ROWS to a block. */
static unsigned layer_norm_blocks(int M)
{
    return scf_cuda_blocks((size_t)M * 32, 32 * LN_ROWS);
}

void scf_cuda_layer_norm_forward(scf_backend *be, float *out, float *mean, float *rstd,
                                 const float *x, const float *gamma, const float *beta,
                                 int M, int C, float eps)
{
    layer_norm_forward_kernel<<<layer_norm_blocks(M), 32 * LN_ROWS, 0, scf_cuda_stream(be)>>>(
        out, mean, rstd, x, gamma, beta, M, C, eps);
    SCF_CUDA_CHECK_LAUNCH();
}

/* dx += rstd * (gamma*dout - mean(gamma*dout) - xhat * mean(gamma*dout*xhat)), a warp per row */
static __global__ void layer_norm_dx_kernel(float *dx, const float *dout, const float *x,
                                            const float *mean, const float *rstd,
                                            const float *gamma, int M, int C)
{
    const int lane = threadIdx.x & 31;
    for (int m = blockIdx.x * LN_ROWS + (threadIdx.x >> 5); m < M; m += gridDim.x * LN_ROWS) {
        const float *xr = x + (size_t)m * C, *gr = dout + (size_t)m * C;
        const float mu = mean[m], rs = rstd[m];
        float s1 = 0.0f, s2 = 0.0f;
        for (int c = lane; c < C; c += 32) {
            const float xhat = (xr[c] - mu) * rs;
            const float gdy = gamma[c] * gr[c];
            s1 += gdy;
            s2 += gdy * xhat;
        }
        const float m1 = scf_cuda_warp_sum(s1) / (float)C, m2 = scf_cuda_warp_sum(s2) / (float)C;
        float *dr = dx + (size_t)m * C;
        for (int c = lane; c < C; c += 32) {
            const float xhat = (xr[c] - mu) * rs;
            dr[c] += rs * (gamma[c] * gr[c] - m1 - xhat * m2);
        }
    }
}

/* (dout * xhat, dout) at row m, column c: dgamma and dbeta are their column sums */
struct ln_param_terms {
    const float *dout, *x, *mean, *rstd;
    int C;
    __device__ float2 operator()(int m, int c) const
    {
        const size_t i = (size_t)m * C + c;
        const float xhat = (x[i] - mean[m]) * rstd[m];
        return make_float2(dout[i] * xhat, dout[i]);
    }
};

void scf_cuda_layer_norm_backward(scf_backend *be, float *dx, float *dgamma, float *dbeta,
                                  const float *dout, const float *x, const float *mean,
                                  const float *rstd, const float *gamma, int M, int C)
{
    if (dx) {
        layer_norm_dx_kernel<<<layer_norm_blocks(M), 32 * LN_ROWS, 0, scf_cuda_stream(be)>>>(
            dx, dout, x, mean, rstd, gamma, M, C);
        SCF_CUDA_CHECK_LAUNCH();
    }
    scf_cuda_column_sum(be, dgamma, dbeta, M, C, ln_param_terms{ dout, x, mean, rstd, C });
}
