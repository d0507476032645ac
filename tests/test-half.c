#include "half.h"
#include <math.h>
#include <string.h>

static uint32_t bits_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float float_of(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static gboolean f16_is_nan(uint16_t h)
{
    return (h & 0x7c00u) == 0x7c00u && (h & 0x3ffu) != 0;
}

static gboolean bf16_is_nan(uint16_t h)
{
    return (h & 0x7f80u) == 0x7f80u && (h & 0x7fu) != 0;
}

/* Every fp16 value survives fp16 -> fp32 -> fp16 bit for bit; a NaN keeps its
 * sign and payload and comes back quiet. */
static void test_f16_exhaustive_round_trip(void)
{
    for (uint32_t i = 0; i < 65536; i++) {
        uint16_t h = (uint16_t)i;
        float f = scf_f16_to_f32(h);
        uint16_t back = scf_f32_to_f16(f);
        if (f16_is_nan(h)) {
            g_assert_true(isnan(f));
            g_assert_cmphex(back, ==, h | 0x200u);
        } else {
            g_assert_cmphex(back, ==, h);
        }
    }
}

static void test_f16_rounding(void)
{
    static const struct { float f; uint16_t h; } cases[] = {
        { 1.0f + 0x1p-11f, 0x3c00 },          /* halfway 1 .. 1+2^-10: to even (down) */
        { 1.0f + 3 * 0x1p-11f, 0x3c02 },      /* halfway, odd below: up */
        { 1.0f + 0x1p-11f + 0x1p-23f, 0x3c01 }, /* just past halfway: up */
        { 65504.0f, 0x7bff },                 /* largest finite */
        { 65519.99609375f, 0x7bff },          /* just below the 65520 midpoint */
        { 65520.0f, 0x7c00 },                 /* midpoint 65504 .. 65536 rounds to even = inf */
        { -65520.0f, 0xfc00 },
        { 1e9f, 0x7c00 },
        { INFINITY, 0x7c00 },
        { -INFINITY, 0xfc00 },
        { 0x1p-24f, 0x0001 },                 /* smallest subnormal */
        { 0x1p-25f, 0x0000 },                 /* halfway 0 .. 2^-24: to even (0) */
        { 0x1.000002p-25f, 0x0001 },          /* just past halfway */
        { 3 * 0x1p-25f, 0x0002 },             /* halfway 1 .. 2 units: to even (2) */
        { 5 * 0x1p-25f, 0x0002 },             /* halfway 2 .. 3 units: to even (2) */
        { 1023 * 0x1p-24f, 0x03ff },          /* largest subnormal */
        { 1023.5f * 0x1p-24f, 0x0400 },       /* halfway to the smallest normal: even */
        { 0x1p-14f, 0x0400 },                 /* smallest normal */
        { 1e-40f, 0x0000 },                   /* fp32 subnormal */
        { -1e-40f, 0x8000 },
        { -0.0f, 0x8000 },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++)
        g_assert_cmphex(scf_f32_to_f16(cases[i].f), ==, cases[i].h);

    /* The smallest subnormal and the largest finite value convert back exactly. */
    g_assert_cmpfloat(scf_f16_to_f32(0x0001), ==, 0x1p-24f);
    g_assert_cmpfloat(scf_f16_to_f32(0x7bff), ==, 65504.0f);
    g_assert_cmpfloat(scf_f16_to_f32(0x83ff), ==, -1023 * 0x1p-24f);

    /* NaN: sign and top payload bits kept, quiet bit set, never infinity. */
    g_assert_cmphex(scf_f32_to_f16(float_of(0x7fc00000u)), ==, 0x7e00);
    g_assert_cmphex(scf_f32_to_f16(float_of(0xff800001u)), ==, 0xfe00);   /* payload only in low bits */
    g_assert_cmphex(scf_f32_to_f16(float_of(0x7f802000u)), ==, 0x7e01);
    g_assert_cmphex(bits_of(scf_f16_to_f32(0x7c01)), ==, 0x7fc02000u);      /* signalling -> quiet */
}

/* Produced with numpy 2.4.6:
 *   np.array(vals, dtype=np.float32).astype(np.float16).view(np.uint16) */
static void test_f16_numpy_reference(void)
{
    static const struct { float f; uint16_t h; } ref[] = {
        { 0x1.99999ap-4f, 0x2e66 },    /* 0.1 */
        { -0x1.555556p-2f, 0xb555 },   /* -1/3 */
        { 0x1.921fb6p+1f, 0x4248 },    /* pi */
        { 0x1.ffdep+15f, 0x7bff },     /* 65519 */
        { -0x1.86ap+16f, 0xfc00 },     /* -1e5 */
        { 0x1.ffb48p-15f, 0x03ff },    /* 6.1e-5 */
        { 0x1.ad7f2ap-24f, 0x0002 },   /* 1e-7 */
        { 0x1.fff5cap-26f, 0x0000 },   /* 2.98e-8 */
        { 0x1.fff5cap-25f, 0x0001 },   /* 5.96e-8 */
        { 0x1.a36e2ep-14f, 0x068e },   /* 1e-4 */
        { 0x1.edd2f2p+6f, 0x57b7 },    /* 123.456 */
    };
    for (size_t i = 0; i < G_N_ELEMENTS(ref); i++) {
        g_assert_cmphex(scf_f32_to_f16(ref[i].f), ==, ref[i].h);
        /* Back to fp32 within half an fp16 ulp (2^-11 relative) unless it overflowed. */
        float back = scf_f16_to_f32(ref[i].h);
        if (isfinite(back) && fabsf(ref[i].f) >= 0x1p-14f)
            g_assert_cmpfloat(fabsf(back - ref[i].f), <=, fabsf(ref[i].f) * 0x1p-11f);
    }
}

static void test_bf16_round_trip_and_rounding(void)
{
    for (uint32_t i = 0; i < 65536; i++) {
        uint16_t h = (uint16_t)i;
        float f = scf_bf16_to_f32(h);
        g_assert_cmphex(bits_of(f), ==, (uint32_t)h << 16);
        uint16_t back = scf_f32_to_bf16(f);
        if (bf16_is_nan(h))
            g_assert_cmphex(back, ==, h | 0x40u);
        else
            g_assert_cmphex(back, ==, h);
    }

    static const struct { uint32_t f; uint16_t h; } cases[] = {
        { 0x3f808000u, 0x3f80 },   /* 1 + 2^-8: halfway, to even (down) */
        { 0x3f818000u, 0x3f82 },   /* 1 + 3*2^-8: halfway, to even (up) */
        { 0x3f808001u, 0x3f81 },   /* just past halfway */
        { 0x3f807fffu, 0x3f80 },   /* just below halfway */
        { 0x7f7fffffu, 0x7f80 },   /* FLT_MAX overflows to infinity */
        { 0x7f7f8000u, 0x7f80 },   /* halfway to infinity, odd below: infinity */
        { 0x7f7f7fffu, 0x7f7f },
        { 0x7f800000u, 0x7f80 },   /* infinity stays */
        { 0x7f800001u, 0x7fc0 },   /* NaN with low payload only: still NaN */
        { 0xffc12345u, 0xffc1 },   /* sign and top payload kept */
        { 0x00008000u, 0x0000 },   /* subnormal halfway to even */
        { 0x80018000u, 0x8002 },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++)
        g_assert_cmphex(scf_f32_to_bf16(float_of(cases[i].f)), ==, cases[i].h);
}

/* Produced with torch 2.15:
 *   torch.tensor(vals, dtype=torch.float32).to(torch.bfloat16).view(torch.int16) */
static void test_bf16_torch_reference(void)
{
    static const struct { float f; uint16_t h; } ref[] = {
        { 0x1.99999ap-4f, 0x3dcd },    /* 0.1 */
        { -0x1.555556p-2f, 0xbeab },   /* -1/3 */
        { 0x1.921fb6p+1f, 0x4049 },    /* pi */
        { 0x1.93e594p+99f, 0x714a },   /* 1e30 */
        { -0x1.b38fcp-129f, 0x801b },  /* -2.5e-39 (fp32 subnormal) */
        { 0x1.fep+127f, 0x7f7f },      /* largest bf16 */
        { 0x1.fffep+15f, 0x4780 },     /* 65535 */
        { 0x1.01p+0f, 0x3f80 },        /* 1.00390625 */
        { 0x1.03p+0f, 0x3f82 },        /* 1.01171875 */
        { 0x1.86ap+16f, 0x47c3 },      /* 1e5 */
    };
    for (size_t i = 0; i < G_N_ELEMENTS(ref); i++)
        g_assert_cmphex(scf_f32_to_bf16(ref[i].f), ==, ref[i].h);
}

/* The array versions (F16C where the build has it, otherwise the portable
 * loops) must agree bit for bit with the scalar definitions: every fp16 and
 * bf16 pattern, and a sweep through all fp32 patterns with a prime stride.
 * The odd chunk length exercises the remainder loops too. */
static void test_arrays_match_scalar(void)
{
    enum { N = 65536, CHUNK = 4099, STRIDE = 509 };
    uint16_t *h = g_new(uint16_t, N), *h2 = g_new(uint16_t, N);
    float *f = g_new(float, N);

    for (uint32_t i = 0; i < N; i++)
        h[i] = (uint16_t)i;
    scf_f16_to_f32_n(f, h, N);
    for (uint32_t i = 0; i < N; i++)
        g_assert_cmphex(bits_of(f[i]), ==, bits_of(scf_f16_to_f32(h[i])));
    scf_bf16_to_f32_n(f, h, N);
    for (uint32_t i = 0; i < N; i++)
        g_assert_cmphex(bits_of(f[i]), ==, bits_of(scf_bf16_to_f32(h[i])));

    uint64_t u = 0;
    while (u < (1ull << 32)) {
        size_t n = 0;
        for (; n < CHUNK && u < (1ull << 32); n++, u += STRIDE)
            f[n] = float_of((uint32_t)u);
        scf_f32_to_f16_n(h, f, n);
        scf_f32_to_bf16_n(h2, f, n);
        for (size_t i = 0; i < n; i++) {
            if (h[i] != scf_f32_to_f16(f[i]) || h2[i] != scf_f32_to_bf16(f[i]))
                g_error("array conversion differs from scalar for 0x%08x: f16 %04x vs %04x, bf16 %04x vs %04x",
                        bits_of(f[i]), h[i], scf_f32_to_f16(f[i]), h2[i], scf_f32_to_bf16(f[i]));
        }
    }
    g_free(h);
    g_free(h2);
    g_free(f);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/half/f16-exhaustive-round-trip", test_f16_exhaustive_round_trip);
    g_test_add_func("/half/f16-rounding", test_f16_rounding);
    g_test_add_func("/half/f16-numpy-reference", test_f16_numpy_reference);
    g_test_add_func("/half/bf16-round-trip-and-rounding", test_bf16_round_trip_and_rounding);
    g_test_add_func("/half/bf16-torch-reference", test_bf16_torch_reference);
    g_test_add_func("/half/arrays-match-scalar", test_arrays_match_scalar);
    return g_test_run();
}
