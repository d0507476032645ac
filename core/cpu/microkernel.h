/* The register-blocked product kernel behind the CPU's own matrix products
 * (the Winograd convolution's, the fused attention's): a block of up to
 * SCF_MK_MR rows by SCF_MK_NR columns of C = alpha A B, with K summed in 12
 * vector accumulators. Per k: two vector loads of B's row and SCF_MK_MR
 * broadcasts of A's column, the register blocking of BLIS's Haswell sgemm
 * kernel. Operands are read where they lie, through strides, so nothing is
 * packed and C is written, not added to, so nothing clears it first: at the
 * sizes these callers have (K of 16-256, a few hundred columns) sgemm's
 * packing and clearing took a third of its time.
 *
 * GCC vector extensions, so the build for any x86-64 (or other) target
 * compiles it; with AVX2 and FMA (-march=native here) the inner loop is 2
 * loads, 6 broadcasts and 12 FMAs. */
#pragma once
#include <stddef.h>

#define SCF_MK_MR 6   /* rows of C: broadcasts of A */
#define SCF_MK_NR 16  /* columns of C: two 8-float vectors */

typedef float scf_mk_vec __attribute__((vector_size(32), aligned(4)));

/* c[i*ldc + j] = alpha * Σ_k a[i*a_row + k*a_col] b[k*ldb + j] for i < mr,
 * j < SCF_MK_NR. Rows i >= mr are not read (row 0 stands in) nor written.
 * Inlined, so constant strides fold into the addressing. */
static inline __attribute__((always_inline)) void
scf_mk_block(int K, float alpha, const float *a, ptrdiff_t a_row, ptrdiff_t a_col,
             const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc, int mr)
{
    const float *ar[SCF_MK_MR];
    for (int i = 0; i < SCF_MK_MR; i++)
        ar[i] = a + (i < mr ? i : 0) * a_row;
    scf_mk_vec acc[SCF_MK_MR][2];
    for (int i = 0; i < SCF_MK_MR; i++)
        acc[i][0] = acc[i][1] = (scf_mk_vec){ 0 };
    for (ptrdiff_t k = 0; k < K; k++) {
        const scf_mk_vec b0 = *(const scf_mk_vec *)(b + k * ldb);
        const scf_mk_vec b1 = *(const scf_mk_vec *)(b + k * ldb + 8);
        for (int i = 0; i < SCF_MK_MR; i++) {
            const float x = ar[i][k * a_col];
            acc[i][0] += x * b0;
            acc[i][1] += x * b1;
        }
    }
    for (int i = 0; i < mr; i++) {
        *(scf_mk_vec *)(c + i * ldc) = alpha * acc[i][0];
        *(scf_mk_vec *)(c + i * ldc + 8) = alpha * acc[i][1];
    }
}
