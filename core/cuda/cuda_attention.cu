/* Multi-head attention on the GPU, matching core/cpu/attention.c.
 *
 * Layout: q[B,Tq,H*D], k,v[B,Tk,H*D], heads interleaved per token, so head h
 * of batch b is a row-major matrix starting at h*D with row stride ld = H*D.
 *
 * Two paths:
 * - probs given (training) or D > FUSED_MAX_D: cuBLAS products batched over
 *   the heads of one batch (strided batches: head h+1 starts D floats after
 *   head h), a row softmax kernel between them. Backward is the same
 *   products and the softmax-backward row kernel.
 * - probs NULL and D <= FUSED_MAX_D (inference): one fused kernel with an
 *   online softmax, so no Tq x Tk score matrix is ever stored.
 *
 * cuBLAS is column-major. A row-major r x c matrix with row stride ld is, to
 * cuBLAS, its c x r transpose with leading dimension ld. Per (b, h), writing
 * Q (nr x D), K, V (Tk x D), S, P, dS (nr x Tk), O (nr x D):
 *   S  = scale Q K^T   ->  S^T  (Tk x nr, ld Tk) = K (op T of the D x Tk view) . Q^T (D x nr)
 *   O  = P V           ->  O^T  (D x nr, ld ld)  = V^T (D x Tk) . P^T (Tk x nr)
 *   dV += P^T dO       ->  dV^T (D x Tk)         = dO^T (D x Tq) . P (op T of P^T)
 *   dP = dO V^T        ->  dP^T (Tk x nr)        = V (op T) . dO^T (D x nr)
 *   dQ += scale dS K   ->  dQ^T (D x nr)         = K^T (D x Tk) . dS^T (Tk x nr)
 *   dK += scale dS^T Q ->  dK^T (D x Tk)         = Q^T (D x nr) . dS (op T of dS^T)
 * Each head's output columns are disjoint from the others', so the strided
 * batch writes interleaved heads of dQ/dK/dV/O without overlap. */
#include "cuda_kernels.h"

/* Scores kept at once by the chunked paths (the backward's dS, and the
 * forward for head sizes the fused kernel does not take): query rows are
 * processed in chunks of at most this many bytes of H x rows x Tk floats. */
#define CHUNK_BYTES ((size_t)32 << 20)

/* ---------------------------------------------------------------------------
 * The fused kernel.
 *
 * A block of FA_THREADS threads takes FA_BQ query rows of one (batch, head):
 * each row is owned by a quad of 4 adjacent lanes, and quad lane g owns the
 * head columns d = g, g+4, g+8, ... (NC of them, NC = ceil(D/4) rounded up to
 * a compiled size). The quad holds its row's q and output accumulator in
 * registers, NC floats each per thread.
 *
 * Keys are taken FA_BK at a time: the block copies the K and V rows of the
 * tile into shared memory (zeros past D and past the last key), then each
 * quad
 *   1. computes its row's FA_BK scores: a partial dot product per lane over
 *      its columns, summed over the quad with two shuffles, times 1/sqrt(D);
 *      masked keys (past Tk, or causal j > i) get -inf;
 *   2. updates the online softmax: m' = max(m, tile max), rescales the
 *      running sum l and the accumulator by e^(m - m'), then adds
 *      p_j = e^(s_j - m') to l and p_j * V[j] to the accumulator.
 * After the last tile the row is acc / l. A causal block stops at the keys of
 * its last row.
 *
 * Shared memory: K and V tiles of FA_BK x 4*NC floats = 2*32*160*4 = 40 KiB at
 * NC = 40 (D <= 160), under the 48 KiB a block may use without opting in.
 * Reads are conflict-free: at each step a quad reads 4 consecutive words of
 * one key row and all quads of a warp read the same key (broadcast).
 * Registers: q, acc (NC each) and the tile's scores (FA_BK), 112 floats at
 * NC = 40; ptxas (CUDA 13, sm_90) gives 220 registers there and no spills.
 * ------------------------------------------------------------------------- */
#define FA_BQ 32
#define FA_BK 32
#define FA_THREADS (FA_BQ * 4)
#define FUSED_MAX_D 160

template <int NC>
__global__ static void __launch_bounds__(FA_THREADS)
fused_attention_kernel(float *out, const float *q, const float *k, const float *v,
                       int B, int Tq, int Tk, int H, int D, float scale, int causal)
{
    constexpr int W = 4 * NC; /* padded head width in shared memory */
    static_assert(2 * FA_BK * W * sizeof(float) <= 48 * 1024, "K/V tiles exceed 48 KiB");
    __shared__ float ks[FA_BK][W];
    __shared__ float vs[FA_BK][W];

    const int ld = H * D;
    const int g = threadIdx.x & 3;   /* lane in the quad: columns g + 4c */
    const int row = threadIdx.x >> 2; /* the quad's query row in the block */
    const int tiles = (Tq + FA_BQ - 1) / FA_BQ;
    const size_t items = (size_t)B * H * tiles;

    for (size_t it = blockIdx.x; it < items; it += gridDim.x) {
        const int b = (int)(it / ((size_t)H * tiles));
        const int h = (int)(it / tiles % H);
        const int i0 = (int)(it % tiles) * FA_BQ;
        const int i = i0 + row;
        /* rows past Tq still run (the shuffles and barriers need every lane)
         * on zero queries, and store nothing */
        const bool row_ok = i < Tq;
        const size_t head = (size_t)h * D;
        const float *kb = k + (size_t)b * Tk * ld + head;
        const float *vb = v + (size_t)b * Tk * ld + head;

        float qr[NC], acc[NC];
#pragma unroll
        for (int c = 0; c < NC; c++) {
            const int d = g + 4 * c;
            qr[c] = row_ok && d < D ? q[((size_t)b * Tq + i) * ld + head + d] : 0.0f;
            acc[c] = 0.0f;
        }
        float m = -INFINITY, l = 0.0f;
        /* causal needs Tq == Tk: the block's last row i0 + FA_BQ - 1 sees keys < i0 + FA_BQ */
        const int kn = causal ? min(Tk, i0 + FA_BQ) : Tk;

        for (int j0 = 0; j0 < kn; j0 += FA_BK) {
            const int nk = min(FA_BK, kn - j0);
            __syncthreads(); /* the previous tile (or item) is no longer read */
            for (int e = threadIdx.x; e < FA_BK * W; e += FA_THREADS) {
                const int jj = e / W, d = e % W;
                const bool in = jj < nk && d < D;
                const size_t at = (size_t)(j0 + jj) * ld + d;
                ks[jj][d] = in ? kb[at] : 0.0f;
                vs[jj][d] = in ? vb[at] : 0.0f;
            }
            __syncthreads();

            float s[FA_BK];
            float tile_max = -INFINITY;
#pragma unroll
            for (int jj = 0; jj < FA_BK; jj++) {
                float part = 0.0f;
#pragma unroll
                for (int c = 0; c < NC; c++)
                    part += qr[c] * ks[jj][g + 4 * c];
                part += __shfl_xor_sync(0xffffffffu, part, 1);
                part += __shfl_xor_sync(0xffffffffu, part, 2);
                const int j = j0 + jj;
                const bool visible = jj < nk && (!causal || j <= i);
                s[jj] = visible ? part * scale : -INFINITY;
                tile_max = fmaxf(tile_max, s[jj]);
            }
            const float m_new = fmaxf(m, tile_max);
            /* a row with nothing visible yet keeps p = 0 instead of e^(-inf + inf) */
            const float m_ref = m_new == -INFINITY ? 0.0f : m_new;
            const float corr = expf(m - m_ref);
            l *= corr;
#pragma unroll
            for (int c = 0; c < NC; c++)
                acc[c] *= corr;
#pragma unroll
            for (int jj = 0; jj < FA_BK; jj++) {
                const float p = expf(s[jj] - m_ref);
                l += p;
#pragma unroll
                for (int c = 0; c < NC; c++)
                    acc[c] += p * vs[jj][g + 4 * c];
            }
            m = m_new;
        }
        if (row_ok) {
            float *orow = out + ((size_t)b * Tq + i) * ld + head;
            const float inv = 1.0f / l;
#pragma unroll
            for (int c = 0; c < NC; c++)
                if (g + 4 * c < D)
                    orow[g + 4 * c] = acc[c] * inv;
        }
    }
}

template <int NC>
static void launch_fused(scf_backend *be, float *out, const float *q, const float *k,
                         const float *v, int B, int Tq, int Tk, int H, int D, int causal)
{
    const size_t items = (size_t)B * H * ((Tq + FA_BQ - 1) / FA_BQ);
    const float scale = 1.0f / sqrtf((float)D);
    fused_attention_kernel<NC><<<scf_cuda_blocks(items, 1), FA_THREADS, 0, scf_cuda_stream(be)>>>(
        out, q, k, v, B, Tq, Tk, H, D, scale, causal);
    SCF_CUDA_CHECK_LAUNCH();
}

/* The compiled widths: the common head sizes 40, 64, 80, 128 and 160 exactly,
 * others rounded up to the next one (padding columns are zeros). */
static void fused_attention(scf_backend *be, float *out, const float *q, const float *k,
                            const float *v, int B, int Tq, int Tk, int H, int D, int causal)
{
    if (D <= 40)
        launch_fused<10>(be, out, q, k, v, B, Tq, Tk, H, D, causal);
    else if (D <= 64)
        launch_fused<16>(be, out, q, k, v, B, Tq, Tk, H, D, causal);
    else if (D <= 80)
        launch_fused<20>(be, out, q, k, v, B, Tq, Tk, H, D, causal);
    else if (D <= 128)
        launch_fused<32>(be, out, q, k, v, B, Tq, Tk, H, D, causal);
    else
        launch_fused<40>(be, out, q, k, v, B, Tq, Tk, H, D, causal);
}

/* ---- the cuBLAS path ---- */

/* C = alpha op(A) op(B) + beta C for the H heads of one batch, operand X of
 * head h at X + h * sX: D for the interleaved q/k/v/out rows, the per-head
 * matrix size for scores. */
static bool heads_gemm(cublasHandle_t blas, cublasOperation_t ta, cublasOperation_t tb,
                       int m, int n, int kk, float alpha, const float *A, int lda,
                       long long sa, const float *Bm, int ldb, long long sb, float beta,
                       float *C, int ldc, long long sc, int H)
{
    return SCF_CUBLAS_CHECK(cublasSgemmStridedBatched(blas, ta, tb, m, n, kk, &alpha, A, lda, sa,
                                                      Bm, ldb, sb, &beta, C, ldc, sc, H));
}

/* Query rows at a time so that H x rows x Tk scores fit in CHUNK_BYTES. */
static int chunk_rows(int Tq, int Tk, int H)
{
    size_t rows = CHUNK_BYTES / ((size_t)H * Tk * sizeof(float));
    return (int)MAX((size_t)1, MIN(rows, (size_t)Tq));
}

/* Attention of query rows i0 .. i0+nr-1 of batch b, every head. S holds the
 * scores of head h at S + h*s_head (nr x Tk, row stride Tk): either the saved
 * probs (s_head = Tq*Tk, all rows) or workspace (s_head = nr*Tk). */
static bool attention_rows(scf_backend *be, float *out, float *S, long long s_head,
                           const float *q, const float *k, const float *v, int b, int i0,
                           int nr, int Tq, int Tk, int H, int D, int causal)
{
    const int ld = H * D;
    const float scale = 1.0f / sqrtf((float)D);
    const float *qb = q + ((size_t)b * Tq + i0) * ld;
    const float *kb = k + (size_t)b * Tk * ld;
    const float *vb = v + (size_t)b * Tk * ld;
    float *ob = out + ((size_t)b * Tq + i0) * ld;
    cublasHandle_t blas = scf_cuda_blas(be);
    if (!heads_gemm(blas, CUBLAS_OP_T, CUBLAS_OP_N, Tk, nr, D, scale, kb, ld, D, qb, ld, D,
                    0.0f, S, Tk, s_head, H))
        return false;
    scf_cuda_softmax_rows(be, S, S, (size_t)H * nr, nr, (size_t)s_head, Tk, causal, i0);
    return heads_gemm(blas, CUBLAS_OP_N, CUBLAS_OP_N, D, nr, Tk, 1.0f, vb, ld, D, S, Tk, s_head,
                      0.0f, ob, ld, D, H);
}

void scf_cuda_attention_forward(scf_backend *be, float *out, float *probs,
                                const float *q, const float *k, const float *v,
                                int B, int Tq, int Tk, int H, int D, int causal)
{
    if ((size_t)B * Tq * H * D == 0 || Tk <= 0)
        return;
    if (!probs && D <= FUSED_MAX_D) {
        fused_attention(be, out, q, k, v, B, Tq, Tk, H, D, causal);
        return;
    }
    if (probs) {
        const long long s_head = (long long)Tq * Tk;
        for (int b = 0; b < B; b++)
            if (!attention_rows(be, out, probs + (size_t)b * H * s_head, s_head, q, k, v, b, 0,
                                Tq, Tq, Tk, H, D, causal))
                return;
        return;
    }
    const int rows = chunk_rows(Tq, Tk, H);
    float *ws = scf_cuda_workspace(be, (size_t)H * rows * Tk, "attention_forward");
    if (!ws)
        return;
    for (int b = 0; b < B; b++)
        for (int i0 = 0; i0 < Tq; i0 += rows) {
            const int nr = MIN(rows, Tq - i0);
            if (!attention_rows(be, out, ws, (long long)nr * Tk, q, k, v, b, i0, nr, Tq, Tk,
                                H, D, causal))
                return;
        }
}

/* Per batch: dV += P^T dO over all query rows; then per chunk of query rows
 * dP = dO V^T into workspace, dS = softmax backward of it in place,
 * dQ += scale dS K and dK += scale dS^T Q. */
void scf_cuda_attention_backward(scf_backend *be, float *dq, float *dk, float *dv,
                                 const float *dout, const float *q, const float *k,
                                 const float *v, const float *probs,
                                 int B, int Tq, int Tk, int H, int D)
{
    if ((size_t)B * Tq * Tk * H * D == 0 || !(dq || dk || dv))
        return;
    cublasHandle_t blas = scf_cuda_blas(be);
    const int ld = H * D;
    const float scale = 1.0f / sqrtf((float)D);
    const long long p_head = (long long)Tq * Tk;
    const int rows = chunk_rows(Tq, Tk, H);
    float *ds = NULL;
    if ((dq || dk) &&
        !(ds = scf_cuda_workspace(be, (size_t)H * rows * Tk, "attention_backward")))
        return;

    for (int b = 0; b < B; b++) {
        const float *pb = probs + (size_t)b * H * p_head;
        const float *dob = dout + (size_t)b * Tq * ld;
        const float *qb = q + (size_t)b * Tq * ld;
        const float *kb = k + (size_t)b * Tk * ld;
        const float *vb = v + (size_t)b * Tk * ld;
        if (dv && !heads_gemm(blas, CUBLAS_OP_N, CUBLAS_OP_T, D, Tk, Tq, 1.0f, dob, ld, D, pb,
                              Tk, p_head, 1.0f, dv + (size_t)b * Tk * ld, ld, D, H))
            return;
        if (!ds)
            continue;
        for (int i0 = 0; i0 < Tq; i0 += rows) {
            const int nr = MIN(rows, Tq - i0);
            const long long s_head = (long long)nr * Tk;
            if (!heads_gemm(blas, CUBLAS_OP_T, CUBLAS_OP_N, Tk, nr, D, 1.0f, vb, ld, D,
                            dob + (size_t)i0 * ld, ld, D, 0.0f, ds, Tk, s_head, H))
                return;
            scf_cuda_softmax_rows_backward(be, ds, ds, pb + (size_t)i0 * Tk, (size_t)H * nr, nr,
                                           (size_t)p_head, Tk, 0);
            if (dq && !heads_gemm(blas, CUBLAS_OP_N, CUBLAS_OP_N, D, nr, Tk, scale, kb, ld, D,
                                  ds, Tk, s_head, 1.0f, dq + ((size_t)b * Tq + i0) * ld, ld, D,
                                  H))
                return;
            if (dk && !heads_gemm(blas, CUBLAS_OP_N, CUBLAS_OP_T, D, Tk, nr, scale,
                                  qb + (size_t)i0 * ld, ld, D, ds, Tk, s_head, 1.0f,
                                  dk + (size_t)b * Tk * ld, ld, D, H))
                return;
        }
    }
}
