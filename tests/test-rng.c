/* The Philox4x32-10 streams of rng.h: the generator against Random123's
 * known answers, the statistics of both streams, and the CPU kernels against
 * the per-element definition for any offset, length and thread count. */
#include "rng.h"
#include "check.h"
#include <math.h>
#include <string.h>

static void check_block(scf_philox_block got, const uint32_t want[4])
{
    for (int i = 0; i < 4; i++)
        g_assert_cmphex(got.v[i], ==, want[i]);
}

/* Random123 1.14, tests/kat_vectors, the three "philox4x32 10" lines. */
static void test_known_answers(void)
{
    const uint32_t zero_want[4] = { 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8 };
    scf_philox_block zero = {{ 0, 0, 0, 0 }};
    check_block(scf_philox4x32_10_full(zero, 0, 0), zero_want);
    check_block(scf_philox4x32_10(0, 0), zero_want);

    const uint32_t ones_want[4] = { 0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd };
    scf_philox_block ones = {{ 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff }};
    check_block(scf_philox4x32_10_full(ones, 0xffffffff, 0xffffffff), ones_want);

    const uint32_t pi_want[4] = { 0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1 };
    scf_philox_block pi = {{ 0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344 }};
    check_block(scf_philox4x32_10_full(pi, 0xa4093822, 0x299f31d0), pi_want);
}

/* The engine's (block, seed) form puts the block in counter words 0-1 and the
 * seed's low half in key word 0. */
static void test_block_and_seed_layout(void)
{
    uint64_t block = 0x0000000512345678ull, seed = 0x89abcdef01234567ull;
    scf_philox_block ctr = {{ 0x12345678, 0x5, 0, 0 }};
    scf_philox_block want = scf_philox4x32_10_full(ctr, 0x01234567, 0x89abcdef);
    check_block(scf_philox4x32_10(block, seed), want.v);
}

static void test_normal_statistics(void)
{
    const size_t n = 1000000;
    float *z = g_new(float, n);
    chk_cpu()->rng_normal(chk_cpu(), z, n, 42, 0);
    double sum = 0, sum2 = 0;
    size_t within1 = 0;
    for (size_t i = 0; i < n; i++) {
        g_assert_true(isfinite(z[i]));
        sum += z[i];
        sum2 += (double)z[i] * z[i];
        within1 += fabsf(z[i]) < 1.0f;
    }
    double mean = sum / n, var = sum2 / n - mean * mean;
    double frac1 = (double)within1 / n, p1 = erf(1.0 / sqrt(2.0));
    /* 5 standard errors: sd(mean) = 1/sqrt(n), sd(var) = sqrt(2/n),
     * sd(fraction) = sqrt(p(1-p)/n) */
    g_assert_cmpfloat(fabs(mean), <, 5.0 / sqrt((double)n));
    g_assert_cmpfloat(fabs(var - 1.0), <, 5.0 * sqrt(2.0 / n));
    g_assert_cmpfloat(fabs(frac1 - p1), <, 5.0 * sqrt(p1 * (1 - p1) / n));
    g_free(z);
}

static void test_uniform_statistics(void)
{
    const size_t n = 1000000;
    float *u = g_new(float, n);
    chk_cpu()->rng_uniform(chk_cpu(), u, n, 7, 12);
    double sum = 0;
    size_t below_quarter = 0;
    for (size_t i = 0; i < n; i++) {
        g_assert_cmpfloat(u[i], >, 0.0f);
        g_assert_cmpfloat(u[i], <, 1.0f);
        sum += u[i];
        below_quarter += u[i] < 0.25f;
    }
    g_assert_cmpfloat(fabs(sum / n - 0.5), <, 5.0 * sqrt(1.0 / 12.0 / n));
    g_assert_cmpfloat(fabs((double)below_quarter / n - 0.25), <, 5.0 * sqrt(0.25 * 0.75 / n));
    g_free(u);
}

/* Raw outputs of 2^32 - 128 or more would round to 1.0f. Seed 2024 has one at
 * index 63333999 (found by scanning blocks with scf_philox4x32_10). */
static void test_uniform_never_one(void)
{
    uint64_t seed = 2024, index = 63333999;
    scf_philox_block r = scf_philox4x32_10(index / 4, seed);
    g_assert_cmphex(r.v[index % 4], >=, 0xffffff80u);
    float u = scf_rng_uniform_at(seed, index);
    g_assert_cmpfloat(u, ==, 0x1.fffffep-1f);
    float k;
    chk_cpu()->rng_uniform(chk_cpu(), &k, 1, seed, index);
    g_assert_cmpfloat(k, ==, u);
}

/* Kernel output must equal the per-element reference bit for bit, touch
 * nothing past n, and handle cut first and last blocks. */
static void check_kernel_matches_reference(uint64_t seed, uint64_t offset, size_t n)
{
    float *got = g_new(float, n + 4);
    for (int normal = 0; normal < 2; normal++) {
        for (size_t i = 0; i < n + 4; i++)
            got[i] = -1234.0f;
        if (normal)
            chk_cpu()->rng_normal(chk_cpu(), got, n, seed, offset);
        else
            chk_cpu()->rng_uniform(chk_cpu(), got, n, seed, offset);
        for (size_t i = 0; i < n; i++) {
            float want = normal ? scf_rng_normal_at(seed, offset + i)
                                : scf_rng_uniform_at(seed, offset + i);
            if (memcmp(&got[i], &want, sizeof want) != 0)
                g_error("%s seed %" G_GUINT64_FORMAT " offset %" G_GUINT64_FORMAT
                        " n %zu: element %zu is %.9g, reference %.9g",
                        normal ? "normal" : "uniform", seed, offset, n, i, got[i], want);
        }
        for (size_t i = n; i < n + 4; i++)
            g_assert_cmpfloat(got[i], ==, -1234.0f);
    }
    g_free(got);
}

static void test_kernel_offsets_and_lengths(void)
{
    const uint64_t offsets[] = { 0, 1, 2, 3, 4, 5, 4099, (1ull << 34) + 6 };
    /* 5001 spans more than 1024 blocks, so it runs the threaded path */
    const size_t lengths[] = { 0, 1, 2, 3, 4, 5, 7, 13, 5001 };
    for (size_t o = 0; o < G_N_ELEMENTS(offsets); o++)
        for (size_t l = 0; l < G_N_ELEMENTS(lengths); l++)
            check_kernel_matches_reference(0x0123456789abcdefull, offsets[o], lengths[l]);
}

/* An element is its own (seed, index): splitting a draw gives the same numbers. */
static void test_split_draw_is_contiguous(void)
{
    float whole[19], parts[19];
    chk_cpu()->rng_normal(chk_cpu(), whole, 19, 5, 3);
    chk_cpu()->rng_normal(chk_cpu(), parts, 6, 5, 3);
    chk_cpu()->rng_normal(chk_cpu(), parts + 6, 13, 5, 9);
    g_assert_cmpmem(whole, sizeof whole, parts, sizeof parts);
}

static void test_thread_count_independent(void)
{
    const size_t n = 100003;
    float *one = g_new(float, n), *two = g_new(float, n);
    int saved = scf_get_threads();
    scf_set_threads(1);
    chk_cpu()->rng_normal(chk_cpu(), one, n, 99, 1);
    scf_set_threads(2);
    chk_cpu()->rng_normal(chk_cpu(), two, n, 99, 1);
    g_assert_cmpmem(one, n * sizeof(float), two, n * sizeof(float));
    scf_set_threads(1);
    chk_cpu()->rng_uniform(chk_cpu(), one, n, 99, 1);
    scf_set_threads(2);
    chk_cpu()->rng_uniform(chk_cpu(), two, n, 99, 1);
    g_assert_cmpmem(one, n * sizeof(float), two, n * sizeof(float));
    scf_set_threads(saved);
    g_free(one);
    g_free(two);
}

static void test_advance_rounds_to_blocks(void)
{
    scf_rng r;
    scf_rng_init(&r, 77);
    g_assert_cmpuint(r.seed, ==, 77);
    g_assert_cmpuint(scf_rng_advance(&r, 5), ==, 0);
    g_assert_cmpuint(r.offset, ==, 8);
    g_assert_cmpuint(scf_rng_advance(&r, 4), ==, 8);
    g_assert_cmpuint(scf_rng_advance(&r, 0), ==, 12);
    g_assert_cmpuint(r.offset, ==, 12);
    g_assert_cmpuint(scf_rng_advance(&r, 1), ==, 12);
    g_assert_cmpuint(scf_rng_advance(&r, 3), ==, 16);
    g_assert_cmpuint(r.offset, ==, 20);
    g_assert_cmpuint(r.seed, ==, 77);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/rng/known-answers", test_known_answers);
    g_test_add_func("/rng/block-and-seed-layout", test_block_and_seed_layout);
    g_test_add_func("/rng/normal-statistics", test_normal_statistics);
    g_test_add_func("/rng/uniform-statistics", test_uniform_statistics);
    g_test_add_func("/rng/uniform-never-one", test_uniform_never_one);
    g_test_add_func("/rng/kernel-offsets-and-lengths", test_kernel_offsets_and_lengths);
    g_test_add_func("/rng/split-draw-is-contiguous", test_split_draw_is_contiguous);
    g_test_add_func("/rng/thread-count-independent", test_thread_count_independent);
    g_test_add_func("/rng/advance-rounds-to-blocks", test_advance_rounds_to_blocks);
    return g_test_run();
}
