#include "half.h"
#include <string.h>
#if defined(__F16C__)
#include <immintrin.h>
#endif

/* The scalar functions are the portable definition. They are written with
 * selects rather than early returns so that the array loops built on them
 * vectorise where no conversion instructions exist; with F16C the array
 * versions use the hardware instead, which the tests check bit for bit
 * against these. */

static inline uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* cond ? a : b as bit masks: GCC keeps some ternaries as branches, which
 * stops the loop from vectorising. */
static inline uint32_t pick(int cond, uint32_t a, uint32_t b)
{
    uint32_t mask = 0u - (uint32_t)(cond != 0);
    return (a & mask) | (b & ~mask);
}

static inline uint16_t f32_to_f16_bits(uint32_t x)
{
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t ax = x & 0x7fffffffu;

    /* Normal range: rebias the exponent (127 -> 15) and round the 13 dropped
     * mantissa bits to nearest even; a carry correctly bumps the exponent. */
    uint32_t normal = (ax - 0x38000000u + 0xfffu + ((ax >> 13) & 1u)) >> 13;

    /* Below 2^-14 the result is a multiple of 2^-24: shift the full
     * significand down to that unit, with the same round-to-even trick.
     * The shift is clamped to [14, 31] so that it is defined for every input
     * (the result is only used below 2^-14, and below 2^-25 it is 0 anyway). */
    uint32_t e = ax >> 23;
    uint32_t shift = 126u - e;          /* wraps for e > 126: clamped below */
    shift = pick(shift > 31u, 31u, shift);
    shift = pick(shift < 14u, 14u, shift);
    uint32_t m = (ax & 0x7fffffu) | 0x800000u;
    uint32_t half = 1u << (shift - 1u);
    uint32_t sub = (m + (half - 1u) + ((m >> shift) & 1u)) >> shift;

    /* Keep the top payload bits and force the quiet bit, so a NaN whose
     * payload sits only in the low bits does not turn into infinity. */
    uint32_t nan = 0x7e00u | ((ax >> 13) & 0x3ffu);

    uint32_t h = pick(ax < 0x38800000u, sub, normal);
    h = pick(ax >= 0x477ff000u, 0x7c00u, h);   /* 65520 and up round to infinity */
    h = pick(ax > 0x7f800000u, nan, h);
    return (uint16_t)(sign | h);
}

static inline float f16_bits_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t e = h & 0x7c00u;
    uint32_t m = h & 0x3ffu;
    uint32_t normal = ((uint32_t)(h & 0x7fffu) << 13) + 0x38000000u;
    /* Subnormals: m * 2^-24 is exact in fp32. */
    uint32_t sub = f32_bits((float)m * 0x1p-24f);
    /* Quieting a signalling NaN matches what F16C does. */
    uint32_t infnan = 0x7f800000u | (m << 13) | pick(m != 0, 0x400000u, 0);
    uint32_t u = pick(e == 0, sub, normal);
    u = pick(e == 0x7c00u, infnan, u);
    return bits_f32(sign | u);
}

static inline uint16_t f32_to_bf16_bits(uint32_t x)
{
    uint32_t rounded = (x + 0x7fffu + ((x >> 16) & 1u)) >> 16;
    uint32_t nan = (x >> 16) | 0x40u;
    return (uint16_t)pick((x & 0x7fffffffu) > 0x7f800000u, nan, rounded);
}

uint16_t scf_f32_to_f16(float f)
{
    return f32_to_f16_bits(f32_bits(f));
}

float scf_f16_to_f32(uint16_t h)
{
    return f16_bits_to_f32(h);
}

uint16_t scf_f32_to_bf16(float f)
{
    return f32_to_bf16_bits(f32_bits(f));
}

float scf_bf16_to_f32(uint16_t h)
{
    return bits_f32((uint32_t)h << 16);
}

void scf_f16_to_f32_n(float *dst, const uint16_t *src, size_t n)
{
    size_t i = 0;
#if defined(__F16C__)
    for (; i + 8 <= n; i += 8) {
        __m128i h = _mm_loadu_si128((const __m128i *)(src + i));
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
    }
#endif
    for (; i < n; i++)
        dst[i] = f16_bits_to_f32(src[i]);
}

void scf_f32_to_f16_n(uint16_t *dst, const float *src, size_t n)
{
    size_t i = 0;
#if defined(__F16C__)
    for (; i + 8 <= n; i += 8) {
        __m256 f = _mm256_loadu_ps(src + i);
        _mm_storeu_si128((__m128i *)(dst + i),
                         _mm256_cvtps_ph(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    }
#endif
    for (; i < n; i++)
        dst[i] = f32_to_f16_bits(f32_bits(src[i]));
}

void scf_bf16_to_f32_n(float *dst, const uint16_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = bits_f32((uint32_t)src[i] << 16);
}

void scf_f32_to_bf16_n(uint16_t *dst, const float *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = f32_to_bf16_bits(f32_bits(src[i]));
}
