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
 *   uniform u_i = (r_i + 0.5) * 2^-32  in (0, 1), computed in double
 *   uniform stream: element = u_l stored as float, except that a value that
 *       rounds to 1.0f is stored as 1 - 2^-24, the largest float below 1,
 *       so the stream stays inside the open interval (0, 1)
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
#include <math.h>
#include <glib.h>

G_BEGIN_DECLS

#ifdef __CUDACC__
#define SCF_HD __host__ __device__
#else
#define SCF_HD
#endif

typedef struct { uint32_t v[4]; } scf_philox_block;

/* The full generator: any 128-bit counter and 64-bit key (k0, k1). Kept apart
 * from the engine's block form so Random123's known-answer vectors, which use
 * all four counter words, can check it. */
static inline SCF_HD scf_philox_block scf_philox4x32_10_full(scf_philox_block ctr,
                                                             uint32_t k0, uint32_t k1)
{
    uint32_t c0 = ctr.v[0], c1 = ctr.v[1], c2 = ctr.v[2], c3 = ctr.v[3];
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

/* The engine's use: counter (block lo, block hi, 0, 0), key = seed. */
static inline SCF_HD scf_philox_block scf_philox4x32_10(uint64_t block, uint64_t seed)
{
    scf_philox_block ctr = {{(uint32_t)block, (uint32_t)(block >> 32), 0, 0}};
    return scf_philox4x32_10_full(ctr, (uint32_t)seed, (uint32_t)(seed >> 32));
}

static inline SCF_HD double scf_rng_u01(uint32_t r)
{
    return ((double)r + 0.5) * (1.0 / 4294967296.0);
}

/* The four elements of one block of each stream: the single definition that
 * the per-element references, the CPU kernels and the CUDA kernels share. */
static inline SCF_HD void scf_rng_uniform_block(uint64_t seed, uint64_t block, float out[4])
{
    scf_philox_block r = scf_philox4x32_10(block, seed);
    for (int l = 0; l < 4; l++) {
        /* the top 128 values of r round to 1.0f: keep them inside (0, 1) */
        float u = (float)scf_rng_u01(r.v[l]);
        out[l] = u < 1.0f ? u : 0x1.fffffep-1f;
    }
}

static inline SCF_HD void scf_rng_normal_block(uint64_t seed, uint64_t block, float out[4])
{
    const double two_pi = 6.283185307179586476925;
    scf_philox_block r = scf_philox4x32_10(block, seed);
    double rad_a = sqrt(-2.0 * log(scf_rng_u01(r.v[0])));
    double rad_b = sqrt(-2.0 * log(scf_rng_u01(r.v[2])));
    double ang_a = two_pi * scf_rng_u01(r.v[1]);
    double ang_b = two_pi * scf_rng_u01(r.v[3]);
    out[0] = (float)(rad_a * cos(ang_a));
    out[1] = (float)(rad_a * sin(ang_a));
    out[2] = (float)(rad_b * cos(ang_b));
    out[3] = (float)(rad_b * sin(ang_b));
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
