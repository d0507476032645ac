/* The Philox streams on the GPU: one thread per block of 4 outputs, computed
 * by the same scf_rng_*_block functions (core/rng.h, host and device) as the
 * CPU kernels, so a (seed, offset) gives the same numbers on both. */
#include "cuda_kernels.h"
#include "../rng.h"

/* Blocks first .. first+blocks-1 of the stream; the first and last may be cut
 * by offset and n, exactly as core/cpu/rng.c cuts them. */
__global__ static void rng_kernel(float *out, size_t n, uint64_t seed, uint64_t offset,
                                  uint64_t first, uint64_t blocks, int normal)
{
    const uint64_t stride = (uint64_t)gridDim.x * blockDim.x;
    for (uint64_t t = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x; t < blocks; t += stride) {
        const uint64_t b = first + t;
        float block[4];
        if (normal)
            scf_rng_normal_block(seed, b, block);
        else
            scf_rng_uniform_block(seed, b, block);
        const uint64_t lo = b * 4 > offset ? b * 4 : offset;
        const uint64_t hi = b * 4 + 4 < offset + n ? b * 4 + 4 : offset + n;
        for (uint64_t g = lo; g < hi; g++)
            out[g - offset] = block[g - b * 4];
    }
}

static void rng_fill(scf_backend *be, float *out, size_t n, uint64_t seed, uint64_t offset,
                     int normal)
{
    if (n == 0)
        return;
    const uint64_t first = offset / 4, last = (offset + n - 1) / 4;
    const uint64_t blocks = last - first + 1;
    rng_kernel<<<SCF_CUDA_GRID(be, blocks)>>>(out, n, seed, offset, first, blocks, normal);
    SCF_CUDA_CHECK_LAUNCH();
}

void scf_cuda_rng_normal(scf_backend *be, float *out, size_t n, uint64_t seed, uint64_t offset)
{
    rng_fill(be, out, n, seed, offset, 1);
}

void scf_cuda_rng_uniform(scf_backend *be, float *out, size_t n, uint64_t seed, uint64_t offset)
{
    rng_fill(be, out, n, seed, offset, 0);
}
