/* 3x3 stride-1 pad-1 convolutions by Winograd F(4x4, 3x3) (Lavin & Gray,
 * points 0, ±1, ±2, ∞): per 4x4 output tile and channel pair 36 products
 * instead of im2col's 144.
 *
 * A 6x6 input tile d (tiles overlap by 2; the zero padding and the ragged
 * right and bottom edges are read as zeros) becomes V = Bᵀ d B, a filter g
 * becomes U = G g Gᵀ, and for each of the 36 points ξ the sum over input
 * channels is one product M[ξ] = U[ξ] V[ξ] (out channels x in channels times
 * in channels x tiles); an output tile is Aᵀ M A. These products are this
 * file's own (microkernel.h), on U and V laid out as it reads them best:
 * sgemm repacked both on every call and cleared M before adding into it. With
 * that, the 4x4 transposes in vectors (wg_transpose4) and filters
 * transformed once for all threads, forward and input gradient went 13-18 %
 * faster at the teacher's 32 and 64 channels (bench ops, 1 thread), ~3 % at
 * 128 (8x8 maps, where the transforms weigh most) and ~16 % at SD1.5's 320
 * channels; and a tile's result no longer depends on how the batch is split
 * into blocks. The input gradient of this convolution is the same kind of
 * convolution (dout by the filters transposed and flipped), so it goes
 * through the same code; the weight gradient is dU[ξ] = Σ_tiles dM[ξ] V[ξ]ᵀ
 * with dM = A dY Aᵀ (by cblas_sgemm, V then laid out row by row), and then
 * dg = Gᵀ dU G.
 *
 * Nothing is cached between calls: the filters are transformed per call in
 * chunks of output channels, as the transform of SD1.5's 1280x1280 filters
 * alone would take 236 MB. Threads take blocks of tiles (or, with fewer
 * blocks than threads, groups of chunks of output channels); when one chunk
 * holds every filter, all threads transform it together first and share it.
 *
 * Accuracy (max |err| / max |ref| against a float64 direct convolution,
 * N(0,1) input, weights N(0, 1/(9 Cin)), each algorithm modelled in numpy
 * fp32 with its products by OpenBLAS sgemm; this file's kernels measured
 * the same 1e-5 at 320-1280 channels):
 *   Cin x map     32x32²  64x16²  128x16²  320x16²  640x16²  1280x8²
 *   im2col        6.6e-7  4.6e-7  4.1e-7   4.8e-7   3.6e-7   3.3e-7
 *   F(2x2,3x3)    2.7e-7  2.7e-7  4.1e-7   8.9e-7   7.1e-7   5.2e-7
 *   F(4x4,3x3)    4.5e-6  5.9e-6  7.6e-6   1.2e-5   1.1e-5   1.1e-5
 * F(4x4) loses a factor 10-30: the output transform (coefficients up to 8)
 * cancels sums of terms much larger than the output, so the fp32 rounding
 * of the 36 products' sums dominates (summed in double, F(4x4) measured
 * 1.5e-6; U in double, or the points ±1/2 instead of ±2, changed nothing).
 * 1e-5 per layer stays well below the models' tolerances: with every 3x3
 * convolution of the UNet fixtures forced through F(4x4), their errors
 * against diffusers went from 0.4-1.2e-6 to 2.0-2.4e-6 (forward, 1e-4
 * allowed) and from 8.4e-6 to 2.4e-5 (gradients, 1e-3 allowed); a whole
 * forward of the teacher or of an SD1.5-shaped UNet moves by 3-7e-6 of its
 * output's scale. As the path depends on the batch (tiles x images), runs
 * that split a batch differently may differ by that much. F(4x4)'s
 * 2.25x fewer products than F(2x2), and its smaller transformed tiles (2.25
 * instead of 4 floats per output pixel), are the point, so F(4x4) it is. */
#include "conv2d_winograd.h"
#include "kernel_util.h"
#include "microkernel.h"
#include <cblas.h>
#include <omp.h>
#include <string.h>

#define WG_OUT 4   /* output tile side */
#define WG_IN 6    /* input tile side */
#define WG_PTS 36  /* WG_IN * WG_IN transform points */
#define WG_MR SCF_MK_MR  /* the product kernel's output channels (rows of M) */
#define WG_NR SCF_MK_NR  /* the product kernel's tiles (columns of M) */

/* Work-item sizes: a block is about WG_BLOCK_TILES tiles (whole tile rows)
 * and its transformed input at most WG_V_BYTES, unless one tile row is
 * more; a chunk's transformed filters (or their gradient) at most
 * WG_U_BYTES. Below 8 MB the GEMMs of SD1.5's widths got thin (1280
 * channels: 11 output channels x 10 tiles at 2 MB) and measured up to 2.5x
 * slower; at the teacher's widths 64-256 tiles and 2-12 MB were within
 * noise. A thread then holds up to ~20 MB at SD1.5's widths, ~8 MB at the
 * teacher's: guided sampling of the embedded model went from 1.03x to 1.08x
 * its weights plus activations. */
#define WG_BLOCK_TILES 128
#define WG_V_BYTES (8u << 20)
#define WG_U_BYTES (8u << 20)
/* Where the Winograd path pays (scf_cpu_conv2d_winograd_pays), from
 * best-of-5 process CPU times against im2col on the 2 shared Zen 3 cores
 * (load 3-6), per count of tiles (4x4 output tiles x images):
 * - forward and input gradient (one convolution): 16 tiles (a 16x16 map at
 *   batch 1) 0.75x at 320 channels, 0.9x at 640; 32 tiles 1.0-1.2x at
 *   16-128 channels, 1.35-1.5x at 320-1280; 64 and more 1.3-2.4x (8x8 maps
 *   at batch 1, 1-4 tiles: 0.25-0.5x, the transformed filters dominate).
 *   Below 16 channels the transforms cost about what the products save
 *   (8 channels: 0.9-1.05x).
 * - weight gradient: 32 tiles 1.0-1.2x, 64 tiles 1.25-1.5x; from 1280 input
 *   channels dU (36 x Cout x Cin) needs ~28 chunks, each redoing the input
 *   transform: 0.8-0.95x even at 256 tiles. */
#define WG_MIN_CHANNELS 16
#define WG_MIN_TILES 32
#define WG_MIN_TILES_DW 64
#define WG_MAX_CIN_DW 640

typedef float wg_v4 __attribute__((vector_size(16), aligned(4)));
typedef int wg_i4 __attribute__((vector_size(16)));

/* ---- the 1-D transforms (the 2-D ones apply them along columns, then rows) ---- */

/* Input k at d[off[k]], output i at o[i*os]: offsets, as the columns of a
 * tile are not evenly spaced in a phase-split strip (wg_gather_row). */
typedef void (*wg_1d)(const float *d, const ptrdiff_t *off, float *o, ptrdiff_t os);

/* Bᵀ: 6 -> 6, the input tile */
static inline void wg_bt(const float *d, const ptrdiff_t *off, float *o, ptrdiff_t os)
{
    const float d0 = d[off[0]], d1 = d[off[1]], d2 = d[off[2]];
    const float d3 = d[off[3]], d4 = d[off[4]], d5 = d[off[5]];
    o[0] = 4.0f * d0 - 5.0f * d2 + d4;
    o[os] = -4.0f * (d1 + d2) + d3 + d4;
    o[2 * os] = 4.0f * (d1 - d2) - d3 + d4;
    o[3 * os] = 2.0f * (d3 - d1) - d2 + d4;
    o[4 * os] = 2.0f * (d1 - d3) - d2 + d4;
    o[5 * os] = 4.0f * d1 - 5.0f * d3 + d5;
}

/* Aᵀ: 6 -> 4, the output tile */
static inline void wg_at(const float *d, const ptrdiff_t *off, float *o, ptrdiff_t os)
{
    const float p12 = d[off[1]] + d[off[2]], m12 = d[off[1]] - d[off[2]];
    const float p34 = d[off[3]] + d[off[4]], m34 = d[off[3]] - d[off[4]];
    o[0] = d[off[0]] + p12 + p34;
    o[os] = m12 + 2.0f * m34;
    o[2 * os] = p12 + 4.0f * p34;
    o[3 * os] = m12 + 8.0f * m34 + d[off[5]];
}

/* A: 4 -> 6, the adjoint of Aᵀ: an output-gradient tile */
static inline void wg_a(const float *d, const ptrdiff_t *off, float *o, ptrdiff_t os)
{
    const float y0 = d[off[0]], y1 = d[off[1]], y2 = d[off[2]], y3 = d[off[3]];
    const float p02 = y0 + y2, p13 = y1 + y3;
    const float q02 = y0 + 4.0f * y2, q13 = 2.0f * y1 + 8.0f * y3;
    o[0] = y0;
    o[os] = p02 + p13;
    o[2 * os] = p02 - p13;
    o[3 * os] = q02 + q13;
    o[4 * os] = q02 - q13;
    o[5 * os] = y3;
}

/* G: 3 -> 6, the filter */
static inline void wg_g(const float *d, const ptrdiff_t *off, float *o, ptrdiff_t os)
{
    const float g0 = d[off[0]], g1 = d[off[1]], g2 = d[off[2]];
    const float t = (1.0f / 24.0f) * g0 + (1.0f / 6.0f) * g2;
    o[0] = 0.25f * g0;
    o[os] = -(g0 + g1 + g2) * (1.0f / 6.0f);
    o[2 * os] = -(g0 - g1 + g2) * (1.0f / 6.0f);
    o[3 * os] = t + (1.0f / 12.0f) * g1;
    o[4 * os] = t - (1.0f / 12.0f) * g1;
    o[5 * os] = g2;
}

/* Gᵀ: 6 -> 3, the adjoint of G: a filter gradient */
static inline void wg_gt(const float *d, const ptrdiff_t *off, float *o, ptrdiff_t os)
{
    const float p12 = d[off[1]] + d[off[2]], m12 = d[off[2]] - d[off[1]];
    const float p34 = d[off[3]] + d[off[4]], m34 = d[off[3]] - d[off[4]];
    o[0] = 0.25f * d[off[0]] - (1.0f / 6.0f) * p12 + (1.0f / 24.0f) * p34;
    o[os] = (1.0f / 6.0f) * m12 + (1.0f / 12.0f) * m34;
    o[2 * os] = (1.0f / 6.0f) * (p34 - p12) + d[off[5]];
}

/* f over n lanes: inputs at d + x + off[k], outputs at o + x + i*os. Inlined
 * with a constant f the loop vectorises; omp simd as the outputs' 6 streams
 * would need more runtime alias checks than GCC makes. */
static inline __attribute__((always_inline)) void
wg_apply(wg_1d f, const float *d, const ptrdiff_t *off, float *o, ptrdiff_t os, int n)
{
    #pragma omp simd
    for (int x = 0; x < n; x++)
        f(d + x, off, o + x, os);
}

/* off[k] = k*stride for k < WG_IN: rows of a strip, points of a transform */
static void wg_offsets(ptrdiff_t *off, ptrdiff_t stride)
{
    for (int k = 0; k < WG_IN; k++)
        off[k] = k * stride;
}

/* ---- plans ---- */

typedef struct {
    int B, Cin, H, W, Cout;
    int th, tw;       /* tiles down and across an image */
    int rows;         /* tile rows per block; rows are numbered img*th + ty over the batch */
    int nblocks;
    int tb;           /* tiles in a full block: rows * tw */
    int tp;           /* tb rounded up to whole panels of WG_NR tiles */
    int cb, nchunks;  /* output channels per chunk */
    int groups;       /* the forward's items per block: groups of its chunks */
    int threads;
    /* Strides between the 36 points of the transformed filters (U, dU),
     * input (V) and products (M, dM) of a work item (wg_stride). */
    size_t us, vs, ms;
} wg_plan;

/* The stride between the points of a transform whose points hold n floats
 * each: an odd multiple of 64 bytes, so that the 36 points fall in distinct
 * L1 sets. With n a multiple of 4 KiB (32 channels x 128 tiles) they would
 * all share one set, and the transforms, which touch every point per tile,
 * measured 3-4x slower. */
static size_t wg_stride(size_t n)
{
    return (n + 31) / 32 * 32 + 16;
}

/* The tile transforms' planes (wg_tiles_in, wg_tiles_out) are a block's
 * tiles plus a spare slot (wg_gather_row). */
static size_t wg_phase_stride(const wg_plan *p)
{
    return (size_t)p->tp + 1;
}

/* Floats of workspace per thread: U or dU, V, M or dM, and the scratch of
 * the transforms: two sets of 36 planes of tiles, or a panel of filters
 * (27 x WG_MR x Cin: wg_filter_chunk), and an image row. */
static size_t wg_thread_floats(const wg_plan *p)
{
    const size_t filters = (27 * WG_MR + 2 * WG_PTS - 1) / (2 * WG_PTS) * (size_t)p->Cin;
    const size_t planes = MAX(wg_phase_stride(p), filters);
    return WG_PTS * (p->us + p->vs + p->ms + 2 * planes) + (size_t)WG_OUT * (p->tw + 1);
}

/* Blocks of whole tile rows, about WG_BLOCK_TILES tiles, a multiple of the
 * threads where the batch has the rows (the threads take blocks); chunks of
 * output channels whose transformed filters stay within WG_U_BYTES. With
 * fewer blocks than threads, a convolution's threads (share_chunks) take
 * groups of chunks of a block instead. */
static wg_plan wg_plan_make(int B, int Cin, int H, int W, int Cout, gboolean share_chunks)
{
    wg_plan p = { B, Cin, H, W, Cout };
    p.th = (H + WG_OUT - 1) / WG_OUT;
    p.tw = (W + WG_OUT - 1) / WG_OUT;
    p.threads = omp_get_max_threads();

    const int total = B * p.th;
    int rows = MAX(1, WG_BLOCK_TILES / p.tw);
    rows = MIN(rows, (int)MAX(1, WG_V_BYTES / ((size_t)WG_PTS * Cin * p.tw * sizeof(float))));
    p.nblocks = (total + rows - 1) / rows;
    p.nblocks = MIN(total, (p.nblocks + p.threads - 1) / p.threads * p.threads);
    p.rows = (total + p.nblocks - 1) / p.nblocks;
    p.nblocks = (total + p.rows - 1) / p.rows;
    p.tb = p.rows * p.tw;
    p.tp = (p.tb + WG_NR - 1) / WG_NR * WG_NR;

    const size_t per_channel = (size_t)WG_PTS * Cin * sizeof(float);
    const int per_chunk = (int)MAX(1, WG_U_BYTES / per_channel);
    p.nchunks = (Cout + per_chunk - 1) / per_chunk;
    p.groups = 1;
    if (share_chunks && p.nblocks < p.threads) {
        p.nchunks = MAX(p.nchunks, MIN(p.threads, Cout));
        p.groups = MIN(p.threads, p.nchunks);
    }
    p.cb = (Cout + p.nchunks - 1) / p.nchunks;
    p.nchunks = (Cout + p.cb - 1) / p.cb;

    p.us = wg_stride((size_t)(p.cb + WG_MR - 1) / WG_MR * WG_MR * Cin);
    p.vs = wg_stride((size_t)Cin * p.tp);
    p.ms = wg_stride((size_t)p.cb * p.tp);
    return p;
}

/* Tile rows [r0, r1) of block b. */
static void wg_block_rows(const wg_plan *p, int b, int *r0, int *r1)
{
    *r0 = b * p->rows;
    *r1 = MIN(p->B * p->th, *r0 + p->rows);
}

/* ---- the 2-D transforms of a block's tiles, for one channel ----
 * A block's tiles are the lanes: the column pass runs over every tile of the
 * block at once and so does the row pass, whatever the width of the map. */

/* dst[k*ds + j] = src[j*ss + k] for j, k < 4: a 4x4 transpose in vectors,
 * between a row of tiles' pixels and their phases (wg_gather_row,
 * wg_tiles_out), which GCC's plain loops left scalar: on small maps the
 * transforms' costliest part. */
static inline void wg_transpose4(const float *src, size_t ss, float *dst, size_t ds)
{
    const wg_v4 r0 = *(const wg_v4 *)src, r1 = *(const wg_v4 *)(src + ss);
    const wg_v4 r2 = *(const wg_v4 *)(src + 2 * ss), r3 = *(const wg_v4 *)(src + 3 * ss);
    const wg_v4 t0 = __builtin_shuffle(r0, r1, (wg_i4){ 0, 4, 1, 5 });
    const wg_v4 t1 = __builtin_shuffle(r0, r1, (wg_i4){ 2, 6, 3, 7 });
    const wg_v4 t2 = __builtin_shuffle(r2, r3, (wg_i4){ 0, 4, 1, 5 });
    const wg_v4 t3 = __builtin_shuffle(r2, r3, (wg_i4){ 2, 6, 3, 7 });
    *(wg_v4 *)dst = __builtin_shuffle(t0, t2, (wg_i4){ 0, 1, 4, 5 });
    *(wg_v4 *)(dst + ds) = __builtin_shuffle(t0, t2, (wg_i4){ 2, 3, 6, 7 });
    *(wg_v4 *)(dst + 2 * ds) = __builtin_shuffle(t1, t3, (wg_i4){ 0, 1, 4, 5 });
    *(wg_v4 *)(dst + 3 * ds) = __builtin_shuffle(t1, t3, (wg_i4){ 2, 3, 6, 7 });
}

/* Row y of a plane under the tiles of one tile row, by column phase: phase
 * k of tile tx (k < nk) is column 4 tx + k - off, zero outside the plane,
 * and goes to dst[k*np + tx]. Phases 0-3 are a transpose of the row; 4 and 5
 * (the overlap of 6-wide tiles) are 0 and 1 of the next tile, gathered one
 * tile further: that spills into dst[k*np + tw], the next tile row's slot
 * (or a spare one), before it is written. */
static void wg_gather_row(const wg_plan *p, const float *plane, int y, int off, int nk,
                          float *dst, size_t np, float *line)
{
    if (y < 0 || y >= p->H) {
        for (int k = 0; k < nk; k++)
            memset(dst + k * np, 0, (size_t)p->tw * sizeof(float));
        return;
    }
    /* plain loops: on small maps libc calls would cost more than the copy */
    const int n = nk > WG_OUT ? p->tw + 1 : p->tw;
    const float *src = plane + (size_t)y * p->W;
    for (int x = 0; x < off; x++)
        line[x] = 0.0f;
    for (int x = 0; x < p->W; x++)
        line[off + x] = src[x];
    for (int x = off + p->W; x < WG_OUT * n; x++)
        line[x] = 0.0f;
    int x = 0;
    for (; x + 4 <= n; x += 4)
        wg_transpose4(line + WG_OUT * x, WG_OUT, dst + x, np);
    for (; x < n; x++)
        for (int q = 0; q < WG_OUT; q++)
            dst[q * np + x] = line[WG_OUT * x + q];
    for (int k = WG_OUT; k < nk; k++)
        for (int x = 0; x < p->tw; x++)
            dst[k * np + x] = dst[(k - WG_OUT) * np + x + 1];
}

/* T X Tᵀ of the block's tiles for one channel, f applying T (nk -> 6): Bᵀ
 * for input tiles (nk = 6, off = 1: the padding), A for output-gradient
 * tiles (nk = 4, off = 0). Tile t of block rows [r0, r1) reads rows and
 * columns from 4 ty - off, 4 tx - off of its image's plane, at
 * plane + img*img_stride; point ξ goes to dst[ξ*xs + t], or with a
 * panel_stride, to dst[ξ*xs + t/WG_NR*panel_stride + t%WG_NR] (the kernel's
 * layout: the last panel's lanes past the block's tiles are finite filler). */
static inline __attribute__((always_inline)) void
wg_tiles_in(const wg_plan *p, wg_1d f, int nk, int off, const float *plane,
            size_t img_stride, int r0, int r1, float *dst, size_t xs, size_t panel_stride,
            float *scratch)
{
    const size_t np = wg_phase_stride(p);
    const int n = (r1 - r0) * p->tw;
    float *x = scratch, *col = x + WG_PTS * np, *line = col + WG_PTS * np;
    const int lanes = panel_stride ? (n + WG_NR - 1) / WG_NR * WG_NR : n;
    for (int k = 0; k < WG_IN * nk && lanes > n; k++)
        memset(x + k * np + n, 0, (size_t)(lanes - n) * sizeof(float));
    /* x[(r*nk + k)*np + t]: row r, column k of tile t */
    for (int r = r0; r < r1; r++) {
        const int img = r / p->th, ty = r % p->th;
        for (int i = 0; i < nk; i++)
            wg_gather_row(p, plane + img * img_stride, WG_OUT * ty - off + i, off, nk,
                          x + (size_t)i * nk * np + (size_t)(r - r0) * p->tw, np, line);
    }
    ptrdiff_t rows[WG_IN], cols[WG_IN];
    wg_offsets(rows, (ptrdiff_t)(nk * np));
    wg_offsets(cols, (ptrdiff_t)np);
    /* col[(i*nk + k)*np + t]: T along the columns */
    for (int k = 0; k < nk; k++)
        wg_apply(f, x + k * np, rows, col + k * np, (ptrdiff_t)(nk * np), lanes);
    for (int i = 0; i < WG_IN; i++) {
        const float *src = col + (size_t)i * nk * np;
        float *out = dst + (size_t)i * WG_IN * xs;
        if (!panel_stride) {
            wg_apply(f, src, cols, out, (ptrdiff_t)xs, lanes);
            continue;
        }
        for (int t = 0; t < lanes; t += WG_NR)
            wg_apply(f, src + t, cols, out + (size_t)t / WG_NR * panel_stride, (ptrdiff_t)xs,
                     WG_NR);
    }
}

/* Y = Aᵀ M A of the block's tiles (point ξ of tile t at m[ξ*xs + t]) into
 * one output channel (image img's plane at plane + img*img_stride), plus
 * bias, onto the planes' contents when accumulate. */
static void wg_tiles_out(const wg_plan *p, const float *m, size_t xs, float bias,
                         int accumulate, float *plane, size_t img_stride, int r0, int r1,
                         float *scratch)
{
    const size_t np = wg_phase_stride(p);
    const int n = (r1 - r0) * p->tw;
    float *row = scratch, *y = row + WG_PTS * np, *line = y + WG_PTS * np;
    ptrdiff_t points[WG_IN], rows[WG_IN];
    wg_offsets(points, (ptrdiff_t)xs);
    wg_offsets(rows, (ptrdiff_t)(WG_OUT * np));
    /* row[(i*4 + j)*np + t], then y[(r*4 + j)*np + t]: pixel (4ty + r, 4tx + j) */
    for (int i = 0; i < WG_IN; i++)
        wg_apply(wg_at, m + (size_t)i * WG_IN * xs, points, row + (size_t)i * WG_OUT * np,
                 (ptrdiff_t)np, n);
    for (int j = 0; j < WG_OUT; j++)
        wg_apply(wg_at, row + j * np, rows, y + j * np, (ptrdiff_t)(WG_OUT * np), n);
    for (int r = r0; r < r1; r++) {
        const int img = r / p->th, ty = r % p->th;
        const float *tiles = y + (size_t)(r - r0) * p->tw;
        for (int i = 0; i < MIN(WG_OUT, p->H - WG_OUT * ty); i++) {
            const float *pix = tiles + (size_t)i * WG_OUT * np;
            int x = 0;
            for (; x + 4 <= p->tw; x += 4)
                wg_transpose4(pix + x, np, line + WG_OUT * x, WG_OUT);
            for (; x < p->tw; x++)
                for (int j = 0; j < WG_OUT; j++)
                    line[WG_OUT * x + j] = pix[(size_t)j * np + x];
            float *restrict dst = plane + img * img_stride + (size_t)(WG_OUT * ty + i) * p->W;
            if (accumulate) {
                for (int x = 0; x < p->W; x++)
                    dst[x] += line[x] + bias;
            } else {
                for (int x = 0; x < p->W; x++)
                    dst[x] = line[x] + bias;
            }
        }
    }
}

/* ---- filters ---- */

/* The 3x3 filter from input channel i to output channel o of the
 * convolution computed is w[base + o*so + i*si + kh*sh + kw*sw]: the input
 * gradient's convolution reads the forward filters transposed and flipped. */
typedef struct {
    ptrdiff_t base, so, si, sh, sw;
} wg_filter;

/* U = G g Gᵀ of output channels [o0, o0 + cb) from all nin input channels,
 * in panels of WG_MR channels for the product kernel: point ξ of (o, i), o counted
 * from o0, goes to u[ξ*xs + o/WG_MR*(nin*WG_MR) + i*WG_MR + o%WG_MR], the
 * last panel padded with zero filters. A panel's filters are first laid out
 * tap by tap in that same order (g[tap*lanes + i*WG_MR + o%WG_MR]), so the
 * transforms run over a panel at once and write it as it stays. */
static void wg_filter_chunk(const wg_filter *f, const float *w, int o0, int cb, int nin,
                            float *u, size_t xs, float *scratch)
{
    const int lanes = nin * WG_MR;
    float *g = scratch, *t = g + 9 * lanes;
    ptrdiff_t rows[WG_IN], cols[WG_IN];
    wg_offsets(rows, 3 * (ptrdiff_t)lanes);
    wg_offsets(cols, lanes);
    for (int q = 0; q < cb; q += WG_MR) {
        for (int r = 0; r < WG_MR; r++)
            for (int tap = 0; tap < 9; tap++) {
                float *gt = g + tap * lanes + r;
                if (q + r >= cb) {
                    for (int i = 0; i < nin; i++)
                        gt[i * WG_MR] = 0.0f;
                    continue;
                }
                const float *wt = w + f->base + (o0 + q + r) * f->so + tap / 3 * f->sh +
                                  tap % 3 * f->sw;
                for (int i = 0; i < nin; i++)
                    gt[i * WG_MR] = wt[i * f->si];
            }
        /* t[(a*3 + kw)*lanes + l] = (G g)[a][kw], then U = (G g) Gᵀ */
        for (int kw = 0; kw < 3; kw++)
            wg_apply(wg_g, g + kw * lanes, rows, t + kw * lanes, 3 * (ptrdiff_t)lanes, lanes);
        for (int a = 0; a < WG_IN; a++)
            wg_apply(wg_g, t + a * 3 * lanes, cols, u + a * WG_IN * xs + (size_t)q * nin,
                     (ptrdiff_t)xs, lanes);
    }
}

/* ---- the convolution: forward, and input gradient ---- */

/* V of the tiles of block b for all Cin input planes: in panels for the
 * product kernel, v[ξ*vs + t/WG_NR*(Cin*WG_NR) + c*WG_NR + t%WG_NR]; or, for
 * sgemm, row by row, v[ξ*vs + c*n + t]. */
static void wg_input_block(const wg_plan *p, const float *in, int b, gboolean panels, float *v,
                           float *scratch)
{
    int r0, r1;
    wg_block_rows(p, b, &r0, &r1);
    const int n = (r1 - r0) * p->tw;
    const size_t hw = (size_t)p->H * p->W;
    const size_t panel = (size_t)p->Cin * WG_NR;
    for (int c = 0; c < p->Cin; c++) {
        if (panels)
            wg_tiles_in(p, wg_bt, WG_IN, 1, in + c * hw, p->Cin * hw, r0, r1,
                        v + (size_t)c * WG_NR, p->vs, panel, scratch);
        else
            wg_tiles_in(p, wg_bt, WG_IN, 1, in + c * hw, p->Cin * hw, r0, r1,
                        v + (size_t)c * n, p->vs, 0, scratch);
    }
}

/* M = U V for the output channels of a chunk and the tiles of block b,
 * then the output tiles. */
static void wg_conv_chunk(const wg_plan *p, float *out, const float *bias, int accumulate,
                          int chunk, int b, const float *u, const float *v, float *m,
                          float *scratch)
{
    int r0, r1;
    wg_block_rows(p, b, &r0, &r1);
    const int n = (r1 - r0) * p->tw;
    const int o0 = chunk * p->cb, cb = MIN(p->cb, p->Cout - o0);
    const int lanes = (n + WG_NR - 1) / WG_NR * WG_NR;
    const size_t hw = (size_t)p->H * p->W;
    /* a panel of V (Cin x WG_NR) stays in L1 while U's panels pass by */
    for (int x = 0; x < WG_PTS; x++)
        for (int t = 0; t < lanes; t += WG_NR)
            for (int o = 0; o < cb; o += WG_MR)
                scf_mk_block(p->Cin, 1.0f, u + x * p->us + (size_t)o * p->Cin, 1, WG_MR,
                             v + x * p->vs + (size_t)t * p->Cin, WG_NR,
                             m + x * p->ms + (size_t)o * lanes + t, lanes, MIN(WG_MR, cb - o));
    for (int o = 0; o < cb; o++)
        wg_tiles_out(p, m + (size_t)o * lanes, p->ms, bias ? bias[o0 + o] : 0.0f, accumulate,
                     out + (o0 + o) * hw, p->Cout * hw, r0, r1, scratch);
}

/* out = (or += when accumulate) the convolution of in by the filters f,
 * plus bias (may be NULL). */
static void wg_conv(scf_backend *be, const wg_plan *p, float *out, const float *in,
                    const float *w, const wg_filter *f, const float *bias, int accumulate,
                    const char *op)
{
    const int items = p->nblocks * p->groups;
    const int nt = MIN(p->threads, items);
    const size_t per_thread = wg_thread_floats(p);
    /* Filters of one chunk are transformed once, by all threads, into U
     * that all share: each thread transforming them for itself cost as much
     * as the products on 8x8 maps (128 channels, 64 tiles a thread), and
     * did not shrink with more threads. */
    const gboolean shared = p->nchunks == 1;
    const size_t shared_u = shared ? WG_PTS * p->us : 0;
    float *ws = scf_cpu_workspace(be, (shared_u + per_thread * nt) * sizeof(float), op);
    if (!ws)
        return;

    #pragma omp parallel num_threads(nt) if (nt > 1)
    {
        float *u = ws + shared_u + per_thread * omp_get_thread_num();
        float *v = u + WG_PTS * p->us, *m = v + WG_PTS * p->vs, *scratch = m + WG_PTS * p->ms;
        int have_chunk = -1, have_block = -1;
        if (shared) {
            #pragma omp for schedule(static)
            for (int o = 0; o < p->Cout; o += WG_MR)
                wg_filter_chunk(f, w, o, MIN(WG_MR, p->Cout - o), p->Cin, ws + (size_t)o * p->Cin,
                                p->us, scratch);
            u = ws;
            have_chunk = 0;
        }
        /* An item is a block and a group of chunks: the input transform of a
         * block is its costliest part to redo (per tile, 36 points per input
         * channel against the products' 36 per output channel of the chunk);
         * the filters' is small next to a block's products. Dynamic, as
         * another process may hold a core. */
        #pragma omp for schedule(dynamic, 1)
        for (int it = 0; it < items; it++) {
            const int b = it / p->groups, g = it % p->groups;
            if (b != have_block) {
                wg_input_block(p, in, b, TRUE, v, scratch);
                have_block = b;
            }
            const int c0 = g * p->nchunks / p->groups, c1 = (g + 1) * p->nchunks / p->groups;
            for (int chunk = c0; chunk < c1; chunk++) {
                if (chunk != have_chunk) {
                    const int o0 = chunk * p->cb;
                    wg_filter_chunk(f, w, o0, MIN(p->cb, p->Cout - o0), p->Cin, u, p->us,
                                    scratch);
                    have_chunk = chunk;
                }
                wg_conv_chunk(p, out, bias, accumulate, chunk, b, u, v, m, scratch);
            }
        }
    }
}

/* ---- the weight gradient ---- */

/* dU[ξ] = (beta = 1: +=) dM[ξ] V[ξ]ᵀ over the tiles of block b, for the cb
 * output channels from o0. */
static void wg_weight_grad_block(const wg_plan *p, const float *dout, const float *in, int o0,
                                 int cb, int b, float beta, float *du, float *v, float *dm,
                                 float *scratch)
{
    int r0, r1;
    wg_block_rows(p, b, &r0, &r1);
    const int n = (r1 - r0) * p->tw;
    const size_t hw = (size_t)p->H * p->W;
    wg_input_block(p, in, b, FALSE, v, scratch);
    for (int o = 0; o < cb; o++)
        wg_tiles_in(p, wg_a, WG_OUT, 0, dout + (o0 + o) * hw, p->Cout * hw, r0, r1,
                    dm + (size_t)o * n, p->ms, 0, scratch);
    for (int x = 0; x < WG_PTS; x++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, cb, p->Cin, n, 1.0f,
                    dm + x * p->ms, n, v + x * p->vs, n, beta, du + x * p->us, p->Cin);
}

/* dw[o0 + o] += Gᵀ dU G, dU the sum of the nt threads' partial sums (at
 * du + k*du_stride, added in thread order: the result depends on the thread
 * count only). The input channels are the lanes. */
static void wg_weight_grad_finish(const wg_plan *p, float *dw, int o0, int o, const float *du,
                                  size_t du_stride, int nt, float *scratch)
{
    const int nin = p->Cin;
    float *s = scratch, *t = s + WG_PTS * nin, *g = t + 3 * WG_IN * nin;
    for (int x = 0; x < WG_PTS; x++) {
        const float *src = du + x * p->us + (size_t)o * nin;
        float *restrict sum = s + x * nin;
        memcpy(sum, src, (size_t)nin * sizeof(float));
        for (int k = 1; k < nt; k++)
            for (int i = 0; i < nin; i++)
                sum[i] += src[k * du_stride + i];
    }
    ptrdiff_t points[WG_IN], rows[WG_IN];
    wg_offsets(points, nin);
    wg_offsets(rows, 3 * (ptrdiff_t)nin);
    /* t[(a*3 + kw)*nin + i] = (dU G)[a][kw], then g[(kh*3 + kw)*nin + i] = Gᵀ dU G */
    for (int a = 0; a < WG_IN; a++)
        wg_apply(wg_gt, s + a * WG_IN * nin, points, t + a * 3 * nin, nin, nin);
    for (int kw = 0; kw < 3; kw++)
        wg_apply(wg_gt, t + kw * nin, rows, g + kw * nin, 3 * (ptrdiff_t)nin, nin);
    float *dwo = dw + (size_t)(o0 + o) * nin * 9;
    for (int i = 0; i < nin; i++)
        for (int tap = 0; tap < 9; tap++)
            dwo[i * 9 + tap] += g[tap * nin + i];
}

/* dw += the weight gradient, chunk by chunk of output channels; threads
 * take blocks and keep private sums of dU. */
static void wg_weight_grad(scf_backend *be, const wg_plan *p, float *dw, const float *dout,
                           const float *in)
{
    const int nt = MIN(p->threads, p->nblocks);
    const size_t per_thread = wg_thread_floats(p);
    float *ws = scf_cpu_workspace(be, per_thread * nt * sizeof(float), "conv2d winograd dw");
    if (!ws)
        return;

    for (int chunk = 0; chunk < p->nchunks; chunk++) {
        const int o0 = chunk * p->cb, cb = MIN(p->cb, p->Cout - o0);
        #pragma omp parallel num_threads(nt) if (nt > 1)
        {
            float *du = ws + per_thread * omp_get_thread_num();
            float *v = du + WG_PTS * p->us, *dm = v + WG_PTS * p->vs;
            float *scratch = dm + WG_PTS * p->ms;
            float beta = 0.0f; /* the thread's first block starts its sums */
            /* static: which thread sums which block must not vary, and
             * every thread has a block */
            #pragma omp for schedule(static)
            for (int b = 0; b < p->nblocks; b++) {
                wg_weight_grad_block(p, dout, in, o0, cb, b, beta, du, v, dm, scratch);
                beta = 1.0f;
            }
            #pragma omp for schedule(static)
            for (int o = 0; o < cb; o++)
                wg_weight_grad_finish(p, dw, o0, o, ws, per_thread, nt, scratch);
        }
    }
}

/* ---- entry points ---- */

gboolean scf_cpu_conv2d_winograd_pays(int B, int Cin, int H, int W, int Cout,
                                      gboolean weight_grad)
{
    const int tiles = B * ((H + WG_OUT - 1) / WG_OUT) * ((W + WG_OUT - 1) / WG_OUT);
    if (Cin < WG_MIN_CHANNELS || Cout < WG_MIN_CHANNELS)
        return FALSE;
    if (weight_grad)
        return tiles >= WG_MIN_TILES_DW && Cin <= WG_MAX_CIN_DW;
    return tiles >= WG_MIN_TILES;
}

void scf_cpu_conv2d_winograd_forward(scf_backend *be, float *out, const float *in,
                                     const float *w, const float *b, int B, int Cin, int H,
                                     int W, int Cout)
{
    const wg_plan p = wg_plan_make(B, Cin, H, W, Cout, TRUE);
    const wg_filter f = { 0, (ptrdiff_t)Cin * 9, 9, 3, 1 };
    wg_conv(be, &p, out, in, w, &f, b, 0, "conv2d winograd forward");
}

void scf_cpu_conv2d_winograd_backward(scf_backend *be, float *din, float *dw,
                                      const float *dout, const float *in, const float *w,
                                      int B, int Cin, int H, int W, int Cout)
{
    if (dw) {
        const wg_plan p = wg_plan_make(B, Cin, H, W, Cout, FALSE);
        wg_weight_grad(be, &p, dw, dout, in);
    }
    if (din) {
        /* dout -> din: channels swapped, din's filter (ci <- co) is w[co, ci] flipped */
        const wg_plan p = wg_plan_make(B, Cout, H, W, Cin, TRUE);
        const wg_filter f = { 8, 9, (ptrdiff_t)Cin * 9, -3, -1 };
        wg_conv(be, &p, din, dout, w, &f, NULL, 1, "conv2d winograd din");
    }
}
