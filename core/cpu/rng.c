/* CPU kernels of the Philox streams: one Philox call per block of 4 outputs,
 * blocks spread over threads. Each element depends only on (seed, index), so
 * the output does not depend on the thread count. */
#include "cpu_kernels.h"
#include "../rng.h"
#include <string.h>

/* A flag rather than a function pointer keeps both block functions inlined. */
static void rng_fill(float *out, size_t n, uint64_t seed, uint64_t offset, gboolean normal)
{
    if (n == 0)
        return;
    uint64_t first = offset / 4, last = (offset + n - 1) / 4;
    /* below ~1k blocks the thread start-up costs more than the work */
    #pragma omp parallel for schedule(static) if (last - first >= 1024)
    for (uint64_t b = first; b <= last; b++) {
        float block[4];
        if (normal)
            scf_rng_normal_block(seed, b, block);
        else
            scf_rng_uniform_block(seed, b, block);
        /* the first and last blocks may be cut by offset and n */
        uint64_t lo = MAX(b * 4, offset), hi = MIN(b * 4 + 4, offset + n);
        memcpy(out + (lo - offset), block + (lo - b * 4), (size_t)(hi - lo) * sizeof(float));
    }
}

void scf_cpu_rng_normal(scf_backend *be, float *out, size_t n, uint64_t seed, uint64_t offset)
{
    rng_fill(out, n, seed, offset, TRUE);
}

void scf_cpu_rng_uniform(scf_backend *be, float *out, size_t n, uint64_t seed, uint64_t offset)
{
    rng_fill(out, n, seed, offset, FALSE);
}
