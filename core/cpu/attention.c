/* Multi-head attention on the CPU.
 *
 * Heads stay interleaved in q/k/v/out ([B, T, H*D], as the projections write
 * them): a head is a strided matrix with leading dimension H*D, which sgemm
 * reads and writes directly, so nothing is copied or transposed.
 *
 * Work is split into tiles of query rows of one (batch, head). OpenMP runs the
 * tiles in parallel and each calls sgemm, which OpenBLAS's OpenMP build then
 * runs single-threaded: at UNet shapes this beat one (batch, head) at a time
 * with threaded sgemm (the products are small, cross-attention ones tiny, and
 * a threaded sgemm per small product pays a fork and barrier each time). The
 * score tile stays near L2 size for softmax and P.V to read back, and without
 * saved probs no B*H*Tq*Tk matrix is ever stored. Head sizes a multiple of 16
 * without a mask (the UNet's) take a fused path on the product kernel of
 * microkernel.h instead (attention_rows_fused). */
#include "cpu_kernels.h"
#include "kernel_util.h"
#include "microkernel.h"
#include <cblas.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static int thread_id(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* Query rows per tile. About 1 MiB of scores (the L2 of a Zen 4 core)
 * amortises sgemm's packing of K and V over more query rows: 5-10% faster
 * than 256 KiB tiles at T = 1024 here. A causal tile computes scores up to the
 * keys of its last row, so the masked part of its block is wasted: causal
 * tiles stop at 64 rows (best of 16/64/256 at T = 256 and 1024). Never 0, so
 * empty inputs give no tiles rather than a division by zero. */
static int tile_rows(int Tq, int Tk, int causal)
{
    int rows = MAX(16, (256 * 1024) / MAX(Tk, 1));
    if (causal)
        rows = MIN(rows, 64);
    return MAX(1, MIN(rows, Tq));
}

/* One scratch tile of rows x Tk floats per thread, from the backend workspace.
 * NULL (after a critical message) when it cannot be allocated. */
static float *thread_tiles(scf_backend *be, const char *kernel, int rows, int Tk)
{
    return scf_cpu_workspace(be, (size_t)scf_get_threads() * rows * Tk * sizeof(float), kernel);
}

/* The fused forward of Tq query rows of one (batch, head), for head sizes a
 * multiple of SCF_MK_NR and no mask: per SCF_MK_MR query
 * rows, their scores against every key by the product kernel (K packed
 * transposed, kt), softmax, and P.V straight into out; only SCF_MK_MR rows of
 * scores (s) exist at a time, or the rows of the saved probs. At the UNet's
 * head sizes (16-32) sgemm's products of K = D spent much of their time
 * packing and clearing: on the emoji teacher's shapes (bench ops, 1 thread)
 * the forward went from 32-34 % of sgemm's peak to 38-43 % (self-attention,
 * 16x16 tokens), 44-46 % to 50-54 % (8x8) and 24 % to 30-32 % (cross). */
static void attention_rows_fused(float *out, float *probs, const float *q, const float *kt,
                                 const float *v, int Tq, int Tk, int ld, int D, float scale,
                                 float *s)
{
    const int panels = (Tk + SCF_MK_NR - 1) / SCF_MK_NR;
    const ptrdiff_t sld = (ptrdiff_t)panels * SCF_MK_NR;
    for (int i = 0; i < Tq; i += SCF_MK_MR) {
        const int mr = MIN(SCF_MK_MR, Tq - i);
        for (int jp = 0; jp < panels; jp++)
            scf_mk_block(D, scale, q + (size_t)i * ld, ld, 1, kt + (size_t)jp * D * SCF_MK_NR,
                         SCF_MK_NR, s + jp * SCF_MK_NR, sld, mr);
        float *p = probs ? probs + (size_t)i * Tk : s;
        const ptrdiff_t pld = probs ? Tk : sld;
        for (int r = 0; r < mr; r++)
            scf_cpu_softmax_row(p + r * pld, s + r * sld, Tk);
        for (int d = 0; d < D; d += SCF_MK_NR)
            scf_mk_block(Tk, 1.0f, p, pld, 1, v + d, ld, out + (size_t)i * ld + d, ld, mr);
    }
}

/* kt[j/NR*(D*NR) + d*NR + j%NR] = k[j*ld + d], keys past Tk zero: K^T in
 * the panels the product kernel reads. */
static void attention_pack_keys(float *kt, const float *k, int Tk, int ld, int D)
{
    const int panels = (Tk + SCF_MK_NR - 1) / SCF_MK_NR;
    for (int jp = 0; jp < panels; jp++)
        for (int d = 0; d < D; d++)
            for (int j = 0; j < SCF_MK_NR; j++) {
                const int key = jp * SCF_MK_NR + j;
                kt[((size_t)jp * D + d) * SCF_MK_NR + j] = key < Tk ? k[(size_t)key * ld + d] : 0.0f;
            }
}

void scf_cpu_attention_forward(scf_backend *be, float *out, float *probs,
                               const float *q, const float *k, const float *v,
                               int B, int Tq, int Tk, int H, int D, int causal)
{
    const int ld = H * D;
    const float scale = 1.0f / sqrtf((float)D);
    if (!causal && D % SCF_MK_NR == 0) {
        /* Items are a (batch, head)'s query rows, whole heads where there
         * are enough of them for the threads; each packs its K^T (Tk x D,
         * small next to its rows' products) and SCF_MK_MR rows of scores. */
        const int heads = B * H, threads = scf_get_threads();
        const int per_head = MAX(1, MIN((Tq + 47) / 48, (4 * threads + heads - 1) / heads));
        const int rows = ((Tq + per_head - 1) / per_head + SCF_MK_MR - 1) / SCF_MK_MR * SCF_MK_MR;
        const int panels = (Tk + SCF_MK_NR - 1) / SCF_MK_NR;
        const size_t per_thread = (size_t)panels * SCF_MK_NR * (D + SCF_MK_MR);
        float *fws = scf_cpu_workspace(be, threads * per_thread * sizeof(float),
                                       "attention_forward");
        if (!fws) {
            scf_cpu_fill(be, out, NAN, (size_t)B * Tq * ld);
            return;
        }
#pragma omp parallel for schedule(dynamic) if (heads * per_head > 1)
        for (int it = 0; it < heads * per_head; it++) {
            const int bh = it / per_head, b = bh / H, h = bh % H, i0 = it % per_head * rows;
            if (i0 >= Tq)
                continue;
            float *kt = fws + (size_t)thread_id() * per_thread;
            attention_pack_keys(kt, k + (size_t)b * Tk * ld + (size_t)h * D, Tk, ld, D);
            attention_rows_fused(out + ((size_t)b * Tq + i0) * ld + (size_t)h * D,
                                 probs ? probs + ((size_t)bh * Tq + i0) * Tk : NULL,
                                 q + ((size_t)b * Tq + i0) * ld + (size_t)h * D, kt,
                                 v + (size_t)b * Tk * ld + (size_t)h * D, MIN(rows, Tq - i0), Tk,
                                 ld, D, scale, kt + (size_t)panels * SCF_MK_NR * D);
        }
        return;
    }

    const int rows = tile_rows(Tq, Tk, causal);
    const int tiles = (Tq + rows - 1) / rows;
    const long items = (long)B * H * tiles;
    float *ws = NULL;
    if (!probs) {
        ws = thread_tiles(be, "attention_forward", rows, Tk);
        if (!ws) {
            /* make the failure visible downstream instead of leaving stale output */
            scf_cpu_fill(be, out, NAN, (size_t)B * Tq * ld);
            return;
        }
    }

#pragma omp parallel for schedule(dynamic) if (items > 1)
    for (long it = 0; it < items; it++) {
        const int b = (int)(it / ((long)H * tiles));
        const int h = (int)(it / tiles % H);
        const int i0 = (int)(it % tiles) * rows;
        const int nr = MIN(rows, Tq - i0);
        /* causal: no row of this tile sees keys past its last query */
        const int kn = causal ? i0 + nr : Tk;
        const float *qt = q + ((size_t)b * Tq + i0) * ld + (size_t)h * D;
        const float *kb = k + (size_t)b * Tk * ld + (size_t)h * D;
        const float *vb = v + (size_t)b * Tk * ld + (size_t)h * D;
        float *ot = out + ((size_t)b * Tq + i0) * ld + (size_t)h * D;
        float *s = probs ? probs + (((size_t)b * H + h) * Tq + i0) * Tk
                         : ws + (size_t)thread_id() * rows * Tk;

        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nr, kn, D,
                    scale, qt, ld, kb, ld, 0.0f, s, Tk);
        /* saved probs must be complete rows (zeros where masked) for backward;
         * a scratch tile only needs the kn columns P.V reads */
        const int width = probs ? Tk : kn;
        for (int r = 0; r < nr; r++) {
            float *row = s + (size_t)r * Tk;
            const int visible = causal ? i0 + r + 1 : Tk;
            scf_cpu_softmax_row(row, row, visible);
            memset(row + visible, 0, (size_t)(width - visible) * sizeof(float));
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nr, D, kn,
                    1.0f, s, Tk, vb, ld, 0.0f, ot, ld);
    }
}

/* Per (batch, head), with P the saved probabilities and dO the output
 * gradient: dV += P^T dO; then per query-row tile dP = dO V^T, dS = softmax
 * backward of dP (in place), dQ += scale dS K, dK += scale dS^T Q. Tiles of one
 * (batch, head) run on one thread because they all add into its dK and dV. */
void scf_cpu_attention_backward(scf_backend *be, float *dq, float *dk, float *dv,
                                const float *dout, const float *q, const float *k,
                                const float *v, const float *probs,
                                int B, int Tq, int Tk, int H, int D)
{
    const int ld = H * D;
    const float scale = 1.0f / sqrtf((float)D);
    const int rows = tile_rows(Tq, Tk, 0);
    const int want_ds = dq || dk;
    float *ws = NULL;
    if (want_ds && !(ws = thread_tiles(be, "attention_backward", rows, Tk)))
        return;

#pragma omp parallel for schedule(dynamic) if (B * H > 1)
    for (int bh = 0; bh < B * H; bh++) {
        const int b = bh / H, h = bh % H;
        const size_t head = (size_t)h * D;
        const float *pb = probs + (size_t)bh * Tq * Tk;
        const float *dob = dout + (size_t)b * Tq * ld + head;
        const float *qb = q + (size_t)b * Tq * ld + head;
        const float *kb = k + (size_t)b * Tk * ld + head;
        const float *vb = v + (size_t)b * Tk * ld + head;

        if (dv)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Tk, D, Tq,
                        1.0f, pb, Tk, dob, ld, 1.0f, dv + (size_t)b * Tk * ld + head, ld);
        if (!want_ds)
            continue;
        float *ds = ws + (size_t)thread_id() * rows * Tk;
        for (int i0 = 0; i0 < Tq; i0 += rows) {
            const int nr = MIN(rows, Tq - i0);
            const float *pt = pb + (size_t)i0 * Tk;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nr, Tk, D,
                        1.0f, dob + (size_t)i0 * ld, ld, vb, ld, 0.0f, ds, Tk);
            for (int r = 0; r < nr; r++)
                scf_cpu_softmax_row_backward(ds + (size_t)r * Tk, ds + (size_t)r * Tk,
                                             pt + (size_t)r * Tk, Tk, 0);
            if (dq)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nr, D, Tk,
                            scale, ds, Tk, kb, ld, 1.0f,
                            dq + ((size_t)b * Tq + i0) * ld + head, ld);
            if (dk)
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Tk, D, nr,
                            scale, ds, Tk, qb + (size_t)i0 * ld, ld, 1.0f,
                            dk + (size_t)b * Tk * ld + head, ld);
        }
    }
}
