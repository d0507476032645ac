/* Host side of the Philox streams defined in rng.h. */
#include "rng.h"

float scf_rng_uniform_at(uint64_t seed, uint64_t index)
{
    float block[4];
    scf_rng_uniform_block(seed, index / 4, block);
    return block[index % 4];
}

float scf_rng_normal_at(uint64_t seed, uint64_t index)
{
    float block[4];
    scf_rng_normal_block(seed, index / 4, block);
    return block[index % 4];
}

void scf_rng_init(scf_rng *r, uint64_t seed)
{
    r->seed = seed;
    r->offset = 0;
}

uint64_t scf_rng_advance(scf_rng *r, size_t n)
{
    uint64_t at = r->offset;
    r->offset += ((uint64_t)n + 3) & ~(uint64_t)3;
    return at;
}
