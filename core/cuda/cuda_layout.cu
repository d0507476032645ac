/* Data movement on the GPU: nearest x2 upsample, channel concat and the
 * per-batch transpose; core/cpu/layout.c and core/cpu/batch.c are the
 * reference. */
#include "cuda_kernels.h"

/* Output row R of out[N,2H,2W] (R = n*2H + oy) repeats input row R/2
 * (= n*H + oy/2), each input column twice. */
static __global__ void upsample2x_kernel(float *out, const float *x, int W, size_t n)
{
    const size_t W2 = 2 * (size_t)W;
    SCF_CUDA_FOR(o, n)
        out[o] = x[o / W2 / 2 * W + o % W2 / 2];
}

void scf_cuda_upsample2x_forward(scf_backend *be, float *out, const float *x, int N, int H, int W)
{
    const size_t n = (size_t)N * H * W * 4;
    upsample2x_kernel<<<SCF_CUDA_GRID(be, n)>>>(out, x, W, n);
    SCF_CUDA_CHECK_LAUNCH();
}

/* dx[r*W + j] += the four outputs it was copied to: input row r becomes
 * output rows 2r and 2r+1, which start at 4*W*r */
static __global__ void upsample2x_backward_kernel(float *dx, const float *dout, int W, size_t n)
{
    SCF_CUDA_FOR(i, n) {
        const size_t r = i / W, j = i % W;
        const float *top = dout + r * 4 * W, *bottom = top + 2 * (size_t)W;
        dx[i] += top[2 * j] + top[2 * j + 1] + bottom[2 * j] + bottom[2 * j + 1];
    }
}

void scf_cuda_upsample2x_backward(scf_backend *be, float *dx, const float *dout, int N, int H,
                                  int W)
{
    if (!dx)
        return;
    const size_t n = (size_t)N * H * W;
    upsample2x_backward_kernel<<<SCF_CUDA_GRID(be, n)>>>(dx, dout, W, n);
    SCF_CUDA_CHECK_LAUNCH();
}

/* out[B, na+nb] = [a[B, na] | b[B, nb]] per batch item (na = Ca*S, nb = Cb*S) */
static __global__ void concat_kernel(float *out, const float *a, const float *b, size_t na,
                                     size_t nb, size_t n)
{
    const size_t row = na + nb;
    SCF_CUDA_FOR(o, n) {
        const size_t i = o / row, j = o % row;
        out[o] = j < na ? a[i * na + j] : b[i * nb + (j - na)];
    }
}

void scf_cuda_concat_forward(scf_backend *be, float *out, const float *a, const float *b,
                             int B, int Ca, int Cb, int S)
{
    const size_t na = (size_t)Ca * S, nb = (size_t)Cb * S, n = (size_t)B * (na + nb);
    concat_kernel<<<SCF_CUDA_GRID(be, n)>>>(out, a, b, na, nb, n);
    SCF_CUDA_CHECK_LAUNCH();
}

/* da += dout's first na of each row, db += its last nb (each where wanted) */
static __global__ void concat_backward_kernel(float *da, float *db, const float *dout,
                                              size_t na, size_t nb, size_t n)
{
    const size_t row = na + nb;
    SCF_CUDA_FOR(o, n) {
        const size_t i = o / row, j = o % row;
        if (j < na) {
            if (da)
                da[i * na + j] += dout[o];
        } else if (db) {
            db[i * nb + (j - na)] += dout[o];
        }
    }
}

void scf_cuda_concat_backward(scf_backend *be, float *da, float *db, const float *dout,
                              int B, int Ca, int Cb, int S)
{
    if (!da && !db)
        return;
    const size_t na = (size_t)Ca * S, nb = (size_t)Cb * S, n = (size_t)B * (na + nb);
    concat_backward_kernel<<<SCF_CUDA_GRID(be, n)>>>(da, db, dout, na, nb, n);
    SCF_CUDA_CHECK_LAUNCH();
}

#define TRANSPOSE_TILE 32
#define TRANSPOSE_ROWS 8 /* threads per tile column: each moves 4 elements */
/* grid.y and grid.z stop at this (and grid.x at SCF_CUDA_MAX_BLOCKS); the
 * kernel loops over the tiles beyond */
#define TRANSPOSE_MAX_GRID_YZ 65535

/* out[b][c][r] (+)= x[b][r][c] through a shared 32x32 tile (+1 column so the
 * transposed reads hit distinct banks): reads run along x's rows and writes
 * along out's rows, both coalesced. */
static __global__ void transpose_kernel(float *out, const float *x, int B, int R, int C,
                                        int accumulate)
{
    __shared__ float tile[TRANSPOSE_TILE][TRANSPOSE_TILE + 1];
    const int tiles_r = (R + TRANSPOSE_TILE - 1) / TRANSPOSE_TILE;
    const int tiles_c = (C + TRANSPOSE_TILE - 1) / TRANSPOSE_TILE;
    for (int b = blockIdx.z; b < B; b += gridDim.z) {
        const float *xb = x + (size_t)b * R * C;
        float *ob = out + (size_t)b * R * C;
        for (int tr = blockIdx.y; tr < tiles_r; tr += gridDim.y)
            for (int tc = blockIdx.x; tc < tiles_c; tc += gridDim.x) {
                const int r0 = tr * TRANSPOSE_TILE, c0 = tc * TRANSPOSE_TILE;
                for (int dr = threadIdx.y; dr < TRANSPOSE_TILE; dr += TRANSPOSE_ROWS) {
                    const int r = r0 + dr, c = c0 + threadIdx.x;
                    if (r < R && c < C)
                        tile[dr][threadIdx.x] = xb[(size_t)r * C + c];
                }
                __syncthreads();
                for (int dc = threadIdx.y; dc < TRANSPOSE_TILE; dc += TRANSPOSE_ROWS) {
                    const int c = c0 + dc, r = r0 + threadIdx.x;
                    if (r < R && c < C) {
                        float *o = &ob[(size_t)c * R + r];
                        const float v = tile[threadIdx.x][dc];
                        *o = accumulate ? *o + v : v;
                    }
                }
                __syncthreads(); /* the tile is refilled next round */
            }
    }
}

void scf_cuda_transpose(scf_backend *be, float *out, const float *x, int B, int R, int C,
                        int accumulate)
{
    if (B <= 0 || R <= 0 || C <= 0)
        return;
    const dim3 grid(MIN((C + TRANSPOSE_TILE - 1) / TRANSPOSE_TILE, (int)SCF_CUDA_MAX_BLOCKS),
                    MIN((R + TRANSPOSE_TILE - 1) / TRANSPOSE_TILE, TRANSPOSE_MAX_GRID_YZ),
                    MIN(B, TRANSPOSE_MAX_GRID_YZ));
    transpose_kernel<<<grid, dim3(TRANSPOSE_TILE, TRANSPOSE_ROWS), 0, scf_cuda_stream(be)>>>(
        out, x, B, R, C, accumulate);
    SCF_CUDA_CHECK_LAUNCH();
}
