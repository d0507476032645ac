/* Device safety without a GPU: the remote backend (tests/remote-backend.h)
 * faults on any host access to its memory and refuses host pointers, and
 * every real model path of the engine (tests/device-paths.h) runs on it
 * bit-identically to the CPU backend and frees all it allocated, so no host
 * code of the engine touches device memory directly. Its recordings stand
 * in for CUDA graphs: the sampler's recorded steps give the plain images. */
#include "device-paths.h"
#include "check.h"
#include "remote-backend.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static dp_env *env;

static float *alloc_floats(scf_backend *be, size_t n)
{
    float *p = be->alloc(be, n * sizeof(float));
    g_assert_nonnull(p);
    return p;
}

static void test_memory(void)
{
    scf_backend *be = rb_backend_new();
    const size_t n = 3000;   /* not a whole page */
    float *host = chk_random(n, -1, 1, 1), *back = g_new(float, n);
    float *a = alloc_floats(be, n), *b = alloc_floats(be, n);
    g_assert_cmpuint(rb_backend_live_bytes(be), ==, 2 * n * sizeof(float));

    /* new memory reads as NaN, as unset device memory may hold anything */
    be->download(be, back, a, n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        g_assert_true(isnan(back[i]));

    be->upload(be, a, host, n * sizeof(float));
    be->copy(be, b + 10, a + 20, 100 * sizeof(float));   /* interior pointers */
    be->zero(be, b, 10 * sizeof(float));
    be->download(be, back, b, 110 * sizeof(float));
    for (size_t i = 0; i < 10; i++)
        g_assert_cmpfloat(back[i], ==, 0.0f);
    g_assert_cmpint(memcmp(back + 10, host + 20, 100 * sizeof(float)), ==, 0);

    be->free(be, a);
    be->free(be, b);
    g_assert_cmpuint(rb_backend_live_bytes(be), ==, 0);
    g_free(host);
    g_free(back);
    scf_backend_free(be);
}

/* Kernels see the read-write view, interior pointers included, and give
 * the CPU backend's results. */
static void test_kernels(void)
{
    scf_backend *be = rb_backend_new(), *cpu = chk_cpu();
    const size_t n = 1000;
    float *host = chk_random(2 * n, -2, 2, 2), *ref = g_new(float, n), *got = g_new(float, n);
    float *x = alloc_floats(be, 2 * n), *out = alloc_floats(be, n);
    be->upload(be, x, host, 2 * n * sizeof(float));
    be->add(be, out, x, x + n, n);
    cpu->add(cpu, ref, host, host + n, n);
    be->download(be, got, out, n * sizeof(float));
    g_assert_cmpint(memcmp(got, ref, n * sizeof(float)), ==, 0);

    g_assert_cmpfloat(be->sum_squares(be, x + 5, 17), ==, cpu->sum_squares(cpu, host + 5, 17));
    be->rng_normal(be, out, n, 9, 100);
    cpu->rng_normal(cpu, ref, n, 9, 100);
    be->download(be, got, out, n * sizeof(float));
    g_assert_cmpint(memcmp(got, ref, n * sizeof(float)), ==, 0);

    be->free(be, x);
    be->free(be, out);
    g_free(host);
    g_free(ref);
    g_free(got);
    scf_backend_free(be);
}

/* What the backend exists for: host code reading or writing device memory
 * dies on the spot (in a child process). */
static void test_host_access_faults(gconstpointer write)
{
    if (g_test_subprocess()) {
        scf_backend *be = rb_backend_new();
        volatile float *p = alloc_floats(be, 16);
        if (write)
            p[3] = 1.0f;
        else
            g_printerr("read %g\n", p[3]);
        return;   /* not reached */
    }
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_failed();
    /* the report says what was hit and where the host code was */
    g_test_trap_assert_stderr("*host code touched device memory at * (byte 12 of an allocation of 64)"
                              "; backtrace:*");
}

/* A host array handed to a kernel, a free of an interior pointer and an
 * upload past the end of an allocation are refused with what and where. */
static void test_misuse_named(void)
{
    if (g_test_subprocess()) {
        scf_backend *be = rb_backend_new();
        float host[4] = { 0 };
        float *dev = alloc_floats(be, 4);
        switch (atoi(g_getenv("RB_MISUSE"))) {
        case 0: be->fill(be, host, 1.0f, 4); break;
        case 1: be->free(be, dev + 1); break;
        case 2: be->upload(be, dev + 2, host, 4 * sizeof(float)); break;
        }
        return;
    }
    const char *expect[] = { "*fill: x = * is not device memory*",
                             "*free: * is not the start of an allocation*",
                             "*upload: dst = *: 16 bytes do not fit an allocation of 16 (8 left)*" };
    for (int i = 0; i < 3; i++) {
        g_autofree char *value = g_strdup_printf("%d", i);
        g_setenv("RB_MISUSE", value, TRUE);
        g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
        g_test_trap_assert_failed();
        g_test_trap_assert_stderr(expect[i]);
    }
}

/* The sampler's recorded steps replay here as they would on a GPU. */
static void test_graph_replay(void)
{
    scf_backend *be = rb_backend_new();
    dp_check_graph_replay(be, env, FALSE);
    scf_backend_free(be);
}

/* Recordings that fail (a broken capture): one notice, then plain launches
 * that give the same images. */
static void test_graph_fallback(void)
{
    scf_backend *be = rb_backend_new();
    rb_backend_fail_recordings(be, TRUE);
    g_test_expect_message(NULL, G_LOG_LEVEL_MESSAGE, "remote: recording the sampling steps as "
                          "a graph failed; they run as plain launches");
    dp_check_graph_replay(be, env, TRUE);
    g_test_assert_expected_messages();
    scf_backend_free(be);
}

static void test_path(gconstpointer data)
{
    const dp_path *path = data;
    dp_result ref, got;
    dp_result_init(&ref);
    dp_result_init(&got);
    path->run(chk_cpu(), env, &ref);
    scf_backend *be = rb_backend_new();
    path->run(be, env, &got);
    /* every object of the path is gone: all its device memory with it */
    g_assert_cmpuint(rb_backend_live_bytes(be), ==, 0);
    scf_backend_free(be);
    dp_assert_identical(&got, &ref);
    dp_result_clear(&ref);
    dp_result_clear(&got);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/remote/memory", test_memory);
    g_test_add_func("/remote/kernels", test_kernels);
    g_test_add_data_func("/remote/host-read-faults", GINT_TO_POINTER(0), test_host_access_faults);
    g_test_add_data_func("/remote/host-write-faults", GINT_TO_POINTER(1), test_host_access_faults);
    g_test_add_func("/remote/misuse-named", test_misuse_named);
    g_test_add_func("/remote/graph-replay", test_graph_replay);
    g_test_add_func("/remote/graph-fallback", test_graph_fallback);
    for (int i = 0; i < dp_n_paths; i++) {
        g_autofree char *name = g_strdup_printf("/remote/path/%s", dp_paths[i].name);
        g_test_add_data_func(name, &dp_paths[i], test_path);
    }
    /* the subprocesses of the fault tests need no folders */
    env = g_test_subprocess() ? NULL : dp_env_new();
    int status = g_test_run();
    if (env)
        dp_env_free(env);
    return status;
}
