/* The engine's random numbers: counter-based Philox4x32-10, so the same seed
 * gives the same numbers on every backend and thread count, and any element
 * can be computed independently.
 *
 * Definition (the CUDA backend implements exactly this):
 *   key     = (seed & 0xffffffff, seed >> 32)
 *   element j of a stream at `offset` uses global index g = offset + j,
 *   block b = g / 4, lane l = g % 4;
 *   counter = (b & 0xffffffff, b >> 32, 0, 0)
 *   (r0, r1, r2, r3) = Philox4x32-10(counter, key)   [Salmon et al. 2011,
 *       multipliers 0xD2511F53, 0xCD9E8D57; key bumps 0x9E3779B9, 0xBB67AE85]
 *   uniform u_i = (r_i + 0.5) * 2^-32  in (0, 1), computed in double, stored as float
 *   uniform stream: element = u_l
 *   normal stream (Box-Muller, in double, stored as float):
 *       rad_a = sqrt(-2 ln u0), rad_b = sqrt(-2 ln u2)
 *       z0 = rad_a cos(2 pi u1), z1 = rad_a sin(2 pi u1)
 *       z2 = rad_b cos(2 pi u3), z3 = rad_b sin(2 pi u3)
 *       element = z_l
 * Double precision in Box-Muller makes the float results identical on CPU and
 * GPU in practice (both round the same correctly-rounded-ish double).
 *
 * A stream state is (seed, offset); drawing n numbers advances offset by n,
 * rounded up to a multiple of 4 so that successive draws never share a block. */
#pragma once
#include <stdint.h>
#include <stddef.h>
#include <glib.h>

G_BEGIN_DECLS

#ifdef __CUDACC__
#define SCF_HD __host__ __device__
#else
#define SCF_HD
#endif

typedef struct { uint32_t v[4]; } scf_philox_block;

static inline SCF_HD scf_philox_block scf_philox4x32_10(uint64_t block, uint64_t seed)
{
    uint32_t c0 = (uint32_t)block, c1 = (uint32_t)(block >> 32), c2 = 0, c3 = 0;
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int round = 0; round < 10; round++) {
        uint64_t p0 = (uint64_t)0xD2511F53u * c0;
        uint64_t p1 = (uint64_t)0xCD9E8D57u * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        uint32_t n1 = (uint32_t)p1;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        uint32_t n3 = (uint32_t)p0;
        c0 = n0; c1 = n1; c2 = n2; c3 = n3;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    scf_philox_block r = {{c0, c1, c2, c3}};
    return r;
}

/* Host reference for one element of each stream (used by the CPU backend and tests). */
float scf_rng_uniform_at(uint64_t seed, uint64_t index);
float scf_rng_normal_at(uint64_t seed, uint64_t index);

typedef struct {
    uint64_t seed;
    uint64_t offset;
} scf_rng;

void scf_rng_init(scf_rng *r, uint64_t seed);
/* Returns the offset to draw n numbers at and advances the state. */
uint64_t scf_rng_advance(scf_rng *r, size_t n);

G_END_DECLS
