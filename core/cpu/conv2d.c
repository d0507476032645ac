/* 2-D convolution (NCHW, square kernel, zero padding) as im2col + sgemm.
 *
 * Work is cut into tiles: a band of output rows of one image. For each tile a
 * thread writes the band's im2col matrix col[Cin*k*k, rows*Wo] into its own
 * slice of the workspace, sized to stay in its core's L2, and multiplies it by
 * the weights with a single-threaded sgemm straight into the NCHW output (the
 * band is a [Cout, rows*Wo] submatrix of the image, leading dimension Ho*Wo).
 * So im2col's k*k-fold copy never goes out to memory, the product needs no
 * re-layout, and the threads meet only at the end of the call. Measured on
 * 2 Zen 4 cores this beat one im2col of the whole batch followed by a
 * threaded sgemm: that copy went through L3 and each step was a barrier.
 *
 * A 1x1 stride-1 unpadded convolution is its own im2col matrix: the band is
 * read in place. OpenBLAS (OpenMP build) runs single-threaded inside our
 * parallel regions. With fewer bands than threads (small maps at batch 1)
 * the threads split the output channels of each band instead; the backward
 * pass of one image runs outside any region so that OpenBLAS threads its
 * products.
 *
 * 3x3 stride-1 pad-1 convolutions go to Winograd F(4x4, 3x3)
 * (conv2d_winograd.c) where it is the faster path. */
#include "cpu_kernels.h"
#include "conv2d_winograd.h"
#include "kernel_util.h"
#include <cblas.h>
#include <omp.h>
#include <string.h>

/* A band's im2col matrix aims at half of a core's 1 MiB L2 (the rest is for
 * sgemm's packed panels) but is at least 128 columns wide, so that repacking
 * the weights for each tile stays cheap. Budgets of 256 KiB to 2 MiB and
 * 64 to 512 columns all measured within noise of these on the UNet shapes. */
#define CONV_TILE_BYTES (512u << 10)
#define CONV_TILE_MIN_COLS 128
/* The input gradient as a convolution (conv_adjoint) from this many input
 * channels on: at 3 (an RGB input) it measured 3x slower than the scatter,
 * at 32 1.6x faster. */
#define CONV_ADJOINT_MIN_CIN 16

typedef struct {
    int B, Cin, H, W, Cout, k, stride, pad;
    int Ho, Wo;
    int hw;        /* Ho*Wo: output pixels per image */
    int ckk;       /* Cin*k*k: depth of the product */
    int pointwise; /* 1x1, stride 1, no padding: the input is its own im2col */
    int rows;      /* output rows per tile */
    int tiles;     /* tiles per image */
    int threads;
} conv_plan;

static conv_plan conv_plan_make(int B, int Cin, int H, int W, int Cout,
                                int k, int stride, int pad)
{
    conv_plan p = { B, Cin, H, W, Cout, k, stride, pad };
    p.Ho = (H + 2 * pad - k) / stride + 1;
    p.Wo = (W + 2 * pad - k) / stride + 1;
    p.hw = p.Ho * p.Wo;
    p.ckk = Cin * k * k;
    p.pointwise = k == 1 && stride == 1 && pad == 0;
    p.threads = omp_get_max_threads();

    size_t row_bytes = (size_t)p.ckk * p.Wo * sizeof(float);
    int rows = (int)MIN((size_t)p.Ho, MAX(1, CONV_TILE_BYTES / row_bytes));
    rows = MAX(rows, MIN(p.Ho, (CONV_TILE_MIN_COLS + p.Wo - 1) / p.Wo));
    int tiles = (p.Ho + rows - 1) / rows;
    /* equal bands: 32 rows in 5 tiles are 7,7,7,7,4, not 8,8,8,8,0 */
    p.rows = (p.Ho + tiles - 1) / tiles;
    p.tiles = (p.Ho + p.rows - 1) / p.rows;
    return p;
}

/* Floats of im2col workspace one thread needs (0 when pointwise). */
static size_t conv_col_floats(const conv_plan *p)
{
    return p->pointwise ? 0 : (size_t)p->ckk * p->rows * p->Wo;
}

/* The output positions o in [0, n_out) whose input position o*stride - pad + kk
 * falls inside [0, n_in): [*lo, *hi). Outside it the padding reads zero. */
static inline void conv_valid_range(int n_in, int n_out, int stride, int pad, int kk,
                                    int *lo, int *hi)
{
    int first = pad - kk;                 /* o*stride >= pad - kk */
    int l = first > 0 ? (first + stride - 1) / stride : 0;
    int last = n_in - 1 + pad - kk;       /* o*stride <= n_in - 1 + pad - kk */
    int h = last < 0 ? 0 : MIN(n_out, last / stride + 1);
    *lo = MIN(l, h);
    *hi = h;
}

/* Where the rows r = (c*k + kh)*k + kw of a band's im2col matrix read from,
 * for one (kh, kw) and every c (r follows the weight's [Cin, k, k] axes):
 * output (oh, ow) reads input index c*H*W + in0 + oh*stride*W + ow*stride of
 * the image when oh is in [a, e) and ow in [ow0, ow1), and zero padding
 * elsewhere. */
typedef struct {
    ptrdiff_t in0;
    int a, e;
    int ow0, ow1;
    /* With stride 1 and Wo == W (the "same" 3x3 convolution) the tap is one
     * contiguous shift of the flattened image: band rows [a, e) move as one
     * block, output flat indices [j0, j1), and only their padding columns
     * need fixing, so 9 block copies per channel replace 9*rows short ones. */
    gboolean flat;
    ptrdiff_t j0, j1;
} conv_tap;

static conv_tap conv_tap_make(const conv_plan *p, int kh, int kw, int oh0, int oh1)
{
    conv_tap t;
    int vh0, vh1;
    conv_valid_range(p->H, p->Ho, p->stride, p->pad, kh, &vh0, &vh1);
    conv_valid_range(p->W, p->Wo, p->stride, p->pad, kw, &t.ow0, &t.ow1);
    t.a = CLAMP(vh0, oh0, oh1);
    t.e = CLAMP(vh1, t.a, oh1);
    t.in0 = (ptrdiff_t)(kh - p->pad) * p->W + (kw - p->pad);
    t.flat = p->stride == 1 && p->Wo == p->W && t.a < t.e && t.ow0 < t.ow1;
    t.j0 = (ptrdiff_t)t.a * p->Wo + t.ow0;
    t.j1 = (ptrdiff_t)(t.e - 1) * p->Wo + t.ow1;
    return t;
}

/* Zeroes the padding columns of band rows [a, e) (row oh at band + (oh - oh0)*Wo). */
static void conv_tap_zero_pad_cols(const conv_plan *p, const conv_tap *t, int oh0, float *band)
{
    for (int oh = t->a; oh < t->e; oh++) {
        float *row = band + (size_t)(oh - oh0) * p->Wo;
        for (int ow = 0; ow < t->ow0; ow++)
            row[ow] = 0.0f;
        for (int ow = t->ow1; ow < p->Wo; ow++)
            row[ow] = 0.0f;
    }
}

/* col[r, (oh - oh0)*Wo + ow] = the input that tap r of output (oh, ow) reads,
 * for the output rows [oh0, oh1) of one image. */
static void conv_im2col(const conv_plan *p, const float *img, int oh0, int oh1, float *col)
{
    const int n = (oh1 - oh0) * p->Wo, kk = p->k * p->k;
    for (int tap = 0; tap < kk; tap++) {
        const conv_tap t = conv_tap_make(p, tap / p->k, tap % p->k, oh0, oh1);
        for (int c = 0; c < p->Cin; c++) {
            float *band = col + (size_t)(c * kk + tap) * n;
            const float *plane = img + (size_t)c * p->H * p->W;
            memset(band, 0, (size_t)(t.a - oh0) * p->Wo * sizeof(float));
            memset(band + (size_t)(t.e - oh0) * p->Wo, 0,
                   (size_t)(oh1 - t.e) * p->Wo * sizeof(float));
            if (t.flat) {
                memcpy(band + (t.j0 - (ptrdiff_t)oh0 * p->Wo), plane + (t.in0 + t.j0),
                       (size_t)(t.j1 - t.j0) * sizeof(float));
            } else {
                for (int oh = t.a; oh < t.e; oh++) {
                    float *row = band + (size_t)(oh - oh0) * p->Wo;
                    const ptrdiff_t base = t.in0 + (ptrdiff_t)oh * p->stride * p->W;
                    for (int ow = t.ow0; ow < t.ow1; ow++)
                        row[ow] = plane[base + (ptrdiff_t)ow * p->stride];
                }
            }
            /* after the block copy, which filled them from neighbouring rows */
            conv_tap_zero_pad_cols(p, &t, oh0, band);
        }
    }
}

/* The adjoint of conv_im2col: dimg += every col entry at the place it was
 * read from (col is clobbered). Bands of one image overlap in dimg, so one
 * thread must handle all of an image's bands. */
static void conv_col2im_add(const conv_plan *p, float *col, int oh0, int oh1, float *dimg)
{
    const int n = (oh1 - oh0) * p->Wo, kk = p->k * p->k;
    for (int tap = 0; tap < kk; tap++) {
        const conv_tap t = conv_tap_make(p, tap / p->k, tap % p->k, oh0, oh1);
        for (int c = 0; c < p->Cin; c++) {
            float *band = col + (size_t)(c * kk + tap) * n;
            float *plane = dimg + (size_t)c * p->H * p->W;
            if (t.flat) {
                /* padding entries would land on neighbouring pixels in a block add */
                conv_tap_zero_pad_cols(p, &t, oh0, band);
                const float *restrict src = band + (t.j0 - (ptrdiff_t)oh0 * p->Wo);
                float *restrict dst = plane + (t.in0 + t.j0);
                for (ptrdiff_t j = 0; j < t.j1 - t.j0; j++)
                    dst[j] += src[j];
            } else {
                for (int oh = t.a; oh < t.e; oh++) {
                    const float *row = band + (size_t)(oh - oh0) * p->Wo;
                    const ptrdiff_t base = t.in0 + (ptrdiff_t)oh * p->stride * p->W;
                    for (int ow = t.ow0; ow < t.ow1; ow++)
                        plane[base + (ptrdiff_t)ow * p->stride] += row[ow];
                }
            }
        }
    }
}

static float *conv_workspace(scf_backend *be, size_t floats, const char *op)
{
    return scf_cpu_workspace(be, floats * sizeof(float), op);
}

/* Band t (a band of output rows of one image) as the product's right-hand
 * side: its im2col matrix, written to col, or for a 1x1 convolution the
 * input itself. Sets *n to the band's pixels and *lda to the matrix's
 * leading dimension. */
static const float *conv_band_input(const conv_plan *p, const float *in, int t, float *col,
                                    int *n, int *lda)
{
    const int bi = t / p->tiles, oh0 = t % p->tiles * p->rows;
    const int oh1 = MIN(p->Ho, oh0 + p->rows);
    *n = (oh1 - oh0) * p->Wo;
    if (p->pointwise) {
        *lda = p->hw;
        return in + (size_t)bi * p->Cin * p->hw + (size_t)oh0 * p->Wo;
    }
    conv_im2col(p, in + (size_t)bi * p->Cin * p->H * p->W, oh0, oh1, col);
    *lda = *n;
    return col;
}

/* Output channels [co0, co1) of band t from its right-hand side a. */
static void conv_band_product(const conv_plan *p, float *out, const float *w, const float *b,
                              int t, const float *a, int n, int lda, int co0, int co1)
{
    const int bi = t / p->tiles, oh0 = t % p->tiles * p->rows;
    /* Seed the band with the bias and let sgemm add onto it (beta = 1). */
    float *o = out + ((size_t)bi * p->Cout + co0) * p->hw + (size_t)oh0 * p->Wo;
    float beta = 0.0f;
    if (b) {
        for (int co = co0; co < co1; co++)
            for (int q = 0; q < n; q++)
                o[(size_t)(co - co0) * p->hw + q] = b[co];
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, co1 - co0, n, p->ckk,
                1.0f, w + (size_t)co0 * p->ckk, p->ckk, a, lda, beta, o, p->hw);
}

/* Fewer bands than threads (SD1.5's 8x8 and 4x4 maps at batch 1): the
 * threads split each band's output channels, so each packs only its share
 * of the weights. Splitting the band's pixels instead made every thread
 * pack all of the weights for a few columns (1280 channels at 4x4: 7.4 ms
 * against 5.7 ms split by channels, 8x8: 16.4 against 14.4). */
static void conv_forward_split_channels(const conv_plan *p, float *out, const float *in,
                                        const float *w, const float *b, float *col)
{
    for (int t = 0; t < p->B * p->tiles; t++) {
        int n, lda;
        const float *a = conv_band_input(p, in, t, col, &n, &lda);
        #pragma omp parallel num_threads(p->threads)
        {
            const int tid = omp_get_thread_num(), nt = omp_get_num_threads();
            const int co0 = (int)((long)p->Cout * tid / nt);
            const int co1 = (int)((long)p->Cout * (tid + 1) / nt);
            if (co1 > co0)
                conv_band_product(p, out, w, b, t, a, n, lda, co0, co1);
        }
    }
}

/* Whether this pass is Winograd's (conv2d_winograd.h). */
static gboolean conv_winograd(int B, int Cin, int H, int W, int Cout, int k, int stride, int pad,
                              gboolean weight_grad)
{
    return k == 3 && stride == 1 && pad == 1 &&
           scf_cpu_conv2d_winograd_pays(B, Cin, H, W, Cout, weight_grad);
}

void scf_cpu_conv2d_forward(scf_backend *be, float *out, const float *in,
                            const float *w, const float *b, int B, int Cin,
                            int H, int W, int Cout, int k, int stride, int pad)
{
    if (conv_winograd(B, Cin, H, W, Cout, k, stride, pad, FALSE)) {
        scf_cpu_conv2d_winograd_forward(be, out, in, w, b, B, Cin, H, W, Cout);
        return;
    }
    const conv_plan p = conv_plan_make(B, Cin, H, W, Cout, k, stride, pad);
    const int tiles = B * p.tiles;
    const size_t per_thread = conv_col_floats(&p);
    float *ws = NULL;
    if (per_thread && !(ws = conv_workspace(be, per_thread * p.threads, "conv2d forward")))
        return;

    if (tiles < p.threads) {
        conv_forward_split_channels(&p, out, in, w, b, ws);
        return;
    }
    #pragma omp parallel num_threads(p.threads)
    {
        float *col = ws ? ws + per_thread * omp_get_thread_num() : NULL;
        /* dynamic: tiles are equal, but another process may hold a core */
        #pragma omp for schedule(dynamic, 1)
        for (int t = 0; t < tiles; t++) {
            int n, lda;
            const float *a = conv_band_input(&p, in, t, col, &n, &lda);
            conv_band_product(&p, out, w, b, t, a, n, lda, 0, p.Cout);
        }
    }
}

/* The input gradient of a stride-1 "same" convolution is itself such a
 * convolution: of dout, by the weights with in and out channels swapped and
 * the taps flipped, wflip[ci, (co*k + kh)*k + kw] = w[co, ci, k-1-kh, k-1-kw].
 * As a forward pass its product is deep (Cout*k*k) and writes din straight
 * (beta = 1), where the adjoint of im2col multiplies over only Cout and
 * scatters k*k times into din. */
typedef struct {
    conv_plan plan;      /* the convolution dout -> din */
    float *wflip;        /* [Cin, Cout*k*k] */
} conv_adjoint;

static gboolean conv_has_adjoint(const conv_plan *p)
{
    /* Cin is the product's height: a few rows (an RGB input) waste sgemm's
     * register tiles, and the scatter is cheap there anyway */
    return !p->pointwise && p->stride == 1 && p->Ho == p->H && p->Wo == p->W &&
           p->Cin >= CONV_ADJOINT_MIN_CIN;
}

static void conv_flip_weights(const conv_plan *p, const float *w, float *wflip)
{
    const int kk = p->k * p->k;
    #pragma omp parallel for schedule(static) if ((size_t)p->Cout * p->ckk >= SCF_CPU_PAR_MIN)
    for (int ci = 0; ci < p->Cin; ci++)
        for (int co = 0; co < p->Cout; co++)
            for (int tap = 0; tap < kk; tap++)
                wflip[((size_t)ci * p->Cout + co) * kk + tap] =
                    w[((size_t)co * p->Cin + ci) * kk + (kk - 1 - tap)];
}

/* dw += and din += the contributions of image bi, band by band. */
static void conv_backward_image(const conv_plan *p, const conv_adjoint *adj, float *din,
                                float *dw, const float *dout, const float *in, const float *w,
                                int bi, float *col)
{
    const float *img = in + (size_t)bi * p->Cin * p->H * p->W;
    const float *gimg = dout + (size_t)bi * p->Cout * p->hw;
    float *dimg = din ? din + (size_t)bi * p->Cin * p->H * p->W : NULL;
    for (int t = 0; t < p->tiles; t++) {
        const int oh0 = t * p->rows, oh1 = MIN(p->Ho, oh0 + p->rows);
        const int n = (oh1 - oh0) * p->Wo;
        const size_t band = (size_t)oh0 * p->Wo;
        /* the band of dout is a [Cout, n] submatrix with ld = hw */
        const float *g = gimg + band;
        if (dw) {
            const float *a = img + band;
            int lda = p->hw;
            if (!p->pointwise) {
                conv_im2col(p, img, oh0, oh1, col);
                a = col;
                lda = n;
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, p->Cout, p->ckk, n,
                        1.0f, g, p->hw, a, lda, 1.0f, dw, p->ckk);
        }
        if (!dimg)
            continue;
        if (p->pointwise) {
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, p->Cin, n, p->Cout,
                        1.0f, w, p->Cin, g, p->hw, 1.0f, dimg + band, p->hw);
        } else if (adj) {
            /* col is free again: it now takes the band's im2col of dout */
            conv_im2col(&adj->plan, gimg, oh0, oh1, col);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, p->Cin, n, adj->plan.ckk,
                        1.0f, adj->wflip, adj->plan.ckk, col, n, 1.0f, dimg + band, p->hw);
        } else {
            /* col is free again: it now takes the band's column gradient */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, p->ckk, n, p->Cout,
                        1.0f, w, p->ckk, g, p->hw, 0.0f, col, n);
            conv_col2im_add(p, col, oh0, oh1, dimg);
        }
    }
}

void scf_cpu_conv2d_backward(scf_backend *be, float *din, float *dw, float *db,
                             const float *dout, const float *in, const float *w,
                             int B, int Cin, int H, int W, int Cout, int k,
                             int stride, int pad)
{
    const conv_plan p = conv_plan_make(B, Cin, H, W, Cout, k, stride, pad);

    if (db) {
        #pragma omp parallel for schedule(static)
        for (int co = 0; co < Cout; co++) {
            double sum = 0.0;
            for (int bi = 0; bi < B; bi++) {
                const float *plane = dout + ((size_t)bi * Cout + co) * p.hw;
                float part = 0.0f;
                #pragma omp simd reduction(+:part)
                for (int q = 0; q < p.hw; q++)
                    part += plane[q];
                sum += part;
            }
            db[co] += (float)sum;
        }
    }
    /* The input gradient is a convolution of dout, with the channels swapped. */
    float *wg_din = din && conv_winograd(B, Cout, H, W, Cin, k, stride, pad, FALSE) ? din : NULL;
    float *wg_dw = dw && conv_winograd(B, Cin, H, W, Cout, k, stride, pad, TRUE) ? dw : NULL;
    if (wg_din || wg_dw) {
        scf_cpu_conv2d_winograd_backward(be, wg_din, wg_dw, dout, in, w, B, Cin, H, W, Cout);
        if (wg_din)
            din = NULL;
        if (wg_dw)
            dw = NULL;
    }
    if (!din && !dw)
        return;

    /* Threads own whole images, as the bands of one image overlap in din.
     * Each sums its dW into a private copy (thread 0 straight into dw); the
     * copies are added at the end in thread order, so the result depends on
     * the thread count only. */
    const int nt = MIN(p.threads, B);
    conv_adjoint adj_store, *adj = NULL;
    size_t col_n = conv_col_floats(&p), flip_n = 0;
    if (din && conv_has_adjoint(&p)) {
        adj = &adj_store;
        adj->plan = conv_plan_make(B, Cout, H, W, Cin, k, 1, pad);
        /* the same bands, so one pass over them serves both gradients */
        adj->plan.rows = p.rows;
        adj->plan.tiles = p.tiles;
        col_n = MAX(col_n, conv_col_floats(&adj->plan));
        flip_n = (size_t)Cout * p.ckk;
    }
    const size_t dw_n = dw ? (size_t)Cout * p.ckk : 0;
    const size_t per_thread = col_n + dw_n;
    float *ws = NULL;
    if (per_thread + flip_n &&
        !(ws = conv_workspace(be, per_thread * nt + flip_n, "conv2d backward")))
        return;
    if (adj) {
        adj->wflip = ws + per_thread * nt;
        conv_flip_weights(&p, w, adj->wflip);
    }

    if (nt == 1) {
        /* a single image: OpenBLAS threads the products instead */
        for (int bi = 0; bi < B; bi++)
            conv_backward_image(&p, adj, din, dw, dout, in, w, bi, ws);
        return;
    }
    #pragma omp parallel num_threads(nt)
    {
        const int tid = omp_get_thread_num();
        float *col = ws ? ws + per_thread * tid : NULL;
        float *dwt = NULL;
        if (dw) {
            dwt = tid == 0 ? dw : col + col_n;
            if (tid != 0)
                memset(dwt, 0, dw_n * sizeof(float));
        }
        #pragma omp for schedule(static)
        for (int bi = 0; bi < B; bi++)
            conv_backward_image(&p, adj, din, dwt, dout, in, w, bi, col);
        if (dw) {
            #pragma omp for schedule(static)
            for (size_t i = 0; i < dw_n; i++)
                for (int t = 1; t < nt; t++)
                    dw[i] += ws[per_thread * t + col_n + i];
        }
    }
}
