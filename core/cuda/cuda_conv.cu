/* 2-D convolution on the GPU (NCHW, square kernel, zero padding) as im2col
 * into the backend workspace + cuBLAS GEMM (in the backend's precision,
 * cuda_precision.h), and col2im for the input gradient; core/cpu/conv2d.c
 * is the reference.
 *
 * Work goes in tiles that keep the im2col matrix within CONV_COL_FLOATS:
 * a chunk of whole images when one image fits (one strided-batched GEMM per
 * chunk, the weights shared with stride 0), else bands of output rows of one
 * image. A band of the output is a [Cout, rows*Wo] submatrix of the image's
 * [Cout, Ho*Wo] plane (leading dimension Ho*Wo), so GEMMs write NCHW
 * directly. A 1x1 stride-1 unpadded convolution is its own im2col matrix:
 * the input is read in place and no workspace is used.
 *
 * cuBLAS is column-major: a row-major [R, C] array is seen as its transpose
 * (C x R, leading dimension C). Each product below is written out with the
 * views cuBLAS gets. */
#include "cuda_kernels.h"
#include "cuda_precision.h"
#include "cuda_reduce.cuh"

/* 32 Mi floats (128 MiB) of im2col: a whole 64x64 image with 320 channels
 * and a 3x3 kernel (11.8 Mi floats) fits, so SD-sized GEMMs stay large,
 * while the workspace stays small beside the model on an 8 GiB card. */
#define CONV_COL_FLOATS ((size_t)32 << 20)

typedef struct {
    int B, Cin, H, W, Cout, k, stride, pad;
    int Ho, Wo;
    size_t hw;     /* Ho*Wo: output pixels per image */
    int ckk;       /* Cin*k*k: depth of the product, rows of im2col */
    int pointwise; /* 1x1, stride 1, no padding: the input is its own im2col */
    int rows;      /* output rows per tile (Ho unless an image is banded) */
    int images;    /* images per tile (1 when banded) */
} conv_plan;

static conv_plan conv_plan_make(int B, int Cin, int H, int W, int Cout, int k, int stride,
                                int pad)
{
    conv_plan p = { B, Cin, H, W, Cout, k, stride, pad };
    p.Ho = (H + 2 * pad - k) / stride + 1;
    p.Wo = (W + 2 * pad - k) / stride + 1;
    p.hw = (size_t)p.Ho * p.Wo;
    p.ckk = Cin * k * k;
    p.pointwise = k == 1 && stride == 1 && pad == 0;
    const size_t image = (size_t)p.ckk * p.hw;
    if (p.pointwise || image <= CONV_COL_FLOATS) {
        p.rows = p.Ho;
        p.images = p.pointwise ? B : (int)MIN((size_t)B, CONV_COL_FLOATS / image);
    } else {
        p.rows = (int)MAX((size_t)1, CONV_COL_FLOATS / ((size_t)p.ckk * p.Wo));
        p.images = 1;
    }
    return p;
}

/* Floats of workspace a tile's im2col matrix needs (0 when pointwise). */
static size_t conv_col_floats(const conv_plan *p)
{
    return p->pointwise ? 0 : (size_t)p->images * p->ckk * p->rows * p->Wo;
}

/* One tile: images [b0, b0 + nb), output rows [oh0, oh1), n = (oh1-oh0)*Wo
 * output pixels per image. */
typedef struct {
    int b0, nb, oh0, oh1, n;
} conv_tile;

/* col[i][r][(oh - oh0)*Wo + ow] for image b0 + i of the tile: the input that
 * tap r = (c*k + kh)*k + kw of output (oh, ow) reads, zero in the padding
 * (r follows the weight's [Cin, k, k] axes, as in the CPU's conv_im2col).
 * One thread per entry; consecutive threads write consecutive pixels. */
static __global__ void im2col_kernel(conv_plan p, conv_tile t, const float *in, float *col)
{
    const size_t n = (size_t)t.n, per_image = (size_t)p.ckk * n;
    SCF_CUDA_FOR(idx, (size_t)t.nb * per_image) {
        const int q = (int)(idx % n);
        const int r = (int)(idx / n % (size_t)p.ckk);
        const size_t i = idx / per_image;
        const int kw = r % p.k, kh = r / p.k % p.k, c = r / (p.k * p.k);
        const int oh = t.oh0 + q / p.Wo, ow = q % p.Wo;
        const int ih = oh * p.stride - p.pad + kh, iw = ow * p.stride - p.pad + kw;
        float v = 0.0f;
        if (ih >= 0 && ih < p.H && iw >= 0 && iw < p.W)
            v = in[(((size_t)(t.b0 + i) * p.Cin + c) * p.H + ih) * p.W + iw];
        col[idx] = v;
    }
}

static void conv_im2col(scf_backend *be, const conv_plan *p, const conv_tile *t, const float *in,
                        float *col)
{
    const size_t total = (size_t)t->nb * p->ckk * t->n;
    im2col_kernel<<<SCF_CUDA_GRID(be, total)>>>(*p, *t, in, col);
    SCF_CUDA_CHECK_LAUNCH();
}

/* The adjoint of im2col: din += every col entry at the input place it was
 * read from. Gathered per input element (each sums the taps that read it),
 * so no two threads write one place and no atomics are needed. Only input
 * rows that the tile's output rows read are visited: those from
 * oh0*stride - pad to (oh1-1)*stride - pad + k - 1. */
static __global__ void col2im_add_kernel(conv_plan p, conv_tile t, int ih0, int nh,
                                         const float *col, float *din)
{
    const size_t plane = (size_t)nh * p.W;
    SCF_CUDA_FOR(idx, (size_t)t.nb * p.Cin * plane) {
        const int iw = (int)(idx % p.W);
        const int ih = ih0 + (int)(idx / p.W % (size_t)nh);
        const size_t ic = idx / plane; /* i * Cin + c */
        const int c = (int)(ic % (size_t)p.Cin);
        const size_t i = ic / p.Cin;
        const float *ci = col + (i * p.ckk + (size_t)c * p.k * p.k) * t.n;
        float sum = 0.0f;
        for (int kh = 0; kh < p.k; kh++) {
            const int th = ih + p.pad - kh; /* = oh * stride */
            if (th < 0 || th % p.stride)
                continue;
            const int oh = th / p.stride;
            if (oh < t.oh0 || oh >= t.oh1)
                continue;
            for (int kw = 0; kw < p.k; kw++) {
                const int tw = iw + p.pad - kw;
                if (tw < 0 || tw % p.stride || tw / p.stride >= p.Wo)
                    continue;
                const int ow = tw / p.stride;
                sum += ci[(size_t)(kh * p.k + kw) * t.n + (size_t)(oh - t.oh0) * p.Wo + ow];
            }
        }
        din[(((size_t)(t.b0 + i) * p.Cin + c) * p.H + ih) * p.W + iw] += sum;
    }
}

static void conv_col2im_add(scf_backend *be, const conv_plan *p, const conv_tile *t,
                            const float *col, float *din)
{
    const int ih0 = MAX(0, t->oh0 * p->stride - p->pad);
    const int ih1 = MIN(p->H, (t->oh1 - 1) * p->stride - p->pad + p->k);
    if (ih1 <= ih0)
        return;
    const size_t total = (size_t)t->nb * p->Cin * (ih1 - ih0) * p->W;
    col2im_add_kernel<<<SCF_CUDA_GRID(be, total)>>>(*p, *t, ih0, ih1 - ih0, col, din);
    SCF_CUDA_CHECK_LAUNCH();
}

/* The tile's im2col matrix: the input itself when pointwise (leading
 * dimension hw, image stride Cin*hw), else built in col (leading dimension
 * n, image stride ckk*n). */
static const float *conv_tile_col(scf_backend *be, const conv_plan *p, const conv_tile *t,
                                  const float *in, float *col, int *ld, long long *stride)
{
    if (p->pointwise) {
        *ld = (int)p->hw;
        *stride = (long long)p->Cin * p->hw;
        return in + (size_t)t->b0 * p->Cin * p->hw + (size_t)t->oh0 * p->Wo;
    }
    conv_im2col(be, p, t, in, col);
    *ld = t->n;
    *stride = (long long)p->ckk * t->n;
    return col;
}

/* Tiles of the plan, images outermost: chunk index / bands, band index % bands. */
static int conv_tile_count(const conv_plan *p)
{
    const int chunks = (p->B + p->images - 1) / p->images;
    return chunks * ((p->Ho + p->rows - 1) / p->rows);
}

static conv_tile conv_tile_at(const conv_plan *p, int index)
{
    const int bands = (p->Ho + p->rows - 1) / p->rows;
    conv_tile t;
    t.b0 = index / bands * p->images;
    t.nb = MIN(p->images, p->B - t.b0);
    t.oh0 = index % bands * p->rows;
    t.oh1 = MIN(p->Ho, t.oh0 + p->rows);
    t.n = (t.oh1 - t.oh0) * p->Wo;
    return t;
}

void scf_cuda_conv2d_forward(scf_backend *be, float *out, const float *in,
                             const float *w, const float *b, int B, int Cin,
                             int H, int W, int Cout, int k, int stride, int pad)
{
    const conv_plan p = conv_plan_make(B, Cin, H, W, Cout, k, stride, pad);
    float *col = NULL;
    if (!p.pointwise && !(col = scf_cuda_workspace(be, conv_col_floats(&p), "conv2d forward")))
        return;
    /* Seed out with the bias and let every GEMM add onto it (beta = 1). */
    float beta = 0.0f;
    if (b) {
        scf_cuda_seed_bias(be, out, b, (size_t)B * Cout * p.hw, Cout, p.hw);
        beta = 1.0f;
    }
    for (int ti = 0; ti < conv_tile_count(&p); ti++) {
        const conv_tile t = conv_tile_at(&p, ti);
        int lda;
        long long stride_a;
        const float *a = conv_tile_col(be, &p, &t, in, col, &lda, &stride_a);
        /* per image: out_band [Cout, n] = w [Cout, ckk] . col [ckk, n]
         * column-major: out_band^T [n x Cout, ld hw] = col^T [n x ckk] . w^T [ckk x Cout];
         * col's view is col^T [n x ckk, ld lda] -> OP_N;
         * w's view is w^T [ckk x Cout, ld ckk] -> OP_N. */
        scf_cuda_gemm(be, CUBLAS_OP_N, CUBLAS_OP_N, t.n, Cout, p.ckk, 1.0f,
                      scf_cuda_act(a, lda, stride_a), scf_cuda_weight(w, p.ckk), beta,
                      out + (size_t)t.b0 * Cout * p.hw + (size_t)t.oh0 * p.Wo, (int)p.hw,
                      (long long)Cout * p.hw, t.nb, "conv2d_forward");
    }
}

void scf_cuda_conv2d_backward(scf_backend *be, float *din, float *dw, float *db,
                              const float *dout, const float *in, const float *w,
                              int B, int Cin, int H, int W, int Cout, int k,
                              int stride, int pad)
{
    const conv_plan p = conv_plan_make(B, Cin, H, W, Cout, k, stride, pad);
    /* db[co] += the sum of dout over every image's plane co */
    if (db)
        scf_cuda_segment_sum(be, db, Cout, B, p.hw, scf_cuda_read{ dout });
    if (!din && !dw)
        return;
    float *col = NULL;
    if (!p.pointwise && !(col = scf_cuda_workspace(be, conv_col_floats(&p), "conv2d backward")))
        return;
    for (int ti = 0; ti < conv_tile_count(&p); ti++) {
        const conv_tile t = conv_tile_at(&p, ti);
        /* the band of image b's dout: a [Cout, n] submatrix with ld hw */
        const float *g = dout + (size_t)t.b0 * Cout * p.hw + (size_t)t.oh0 * p.Wo;
        if (dw) {
            int lda;
            long long stride_a;
            const float *a = conv_tile_col(be, &p, &t, in, col, &lda, &stride_a);
            /* dw [Cout, ckk] += g_band [Cout, n] . col [ckk, n]^T, image by image
             * (in stream order, so the sum is deterministic)
             * column-major: dw^T [ckk x Cout, ld ckk] += col [ckk x n] . g_band^T [n x Cout];
             * col's view is col^T [n x ckk, ld lda] -> OP_T;
             * g's view is g^T [n x Cout, ld hw] -> OP_N. */
            for (int i = 0; i < t.nb; i++)
                scf_cuda_gemm(be, CUBLAS_OP_T, CUBLAS_OP_N, p.ckk, Cout, t.n, 1.0f,
                              scf_cuda_act(a + (size_t)i * stride_a, lda, 0),
                              scf_cuda_act(g + (size_t)i * Cout * p.hw, (int)p.hw, 0), 1.0f, dw,
                              p.ckk, 0, 1, "conv2d_backward");
        }
        if (!din)
            continue;
        /* per image: dcol [ckk, n] = w^T [ckk, Cout] . g_band [Cout, n]
         * column-major: dcol^T [n x ckk] = g_band^T [n x Cout] . w [Cout x ckk];
         * g's view is g^T [n x Cout, ld hw] -> OP_N; w's is w^T [ckk x Cout, ld ckk] -> OP_T.
         * Pointwise, dcol is din's band itself (ld hw) and the GEMM adds onto it;
         * otherwise it goes to col (free again: dw is done with it) and col2im adds it. */
        float *c = col;
        int ldc = t.n;
        long long stride_c = (long long)p.ckk * t.n;
        float beta = 0.0f;
        if (p.pointwise) {
            c = din + (size_t)t.b0 * Cin * p.hw + (size_t)t.oh0 * p.Wo;
            ldc = (int)p.hw;
            stride_c = (long long)Cin * p.hw;
            beta = 1.0f;
        }
        scf_cuda_gemm(be, CUBLAS_OP_N, CUBLAS_OP_T, t.n, p.ckk, Cout, 1.0f,
                      scf_cuda_act(g, (int)p.hw, (long long)Cout * p.hw),
                      scf_cuda_weight(w, p.ckk), beta, c, ldc, stride_c, t.nb, "conv2d_backward");
        if (!p.pointwise)
            conv_col2im_add(be, &p, &t, col, din);
    }
}
