#include "device.h"
#include "error.h"
#include <stdlib.h>
#include <string.h>

static void test_cpu_and_auto(void)
{
    GError *error = NULL;
    scf_backend *be = scf_device_open("cpu", 1, NULL, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(be->name, ==, "cpu");
    scf_backend_free(be);

    char *notice = NULL;
    be = scf_device_open("auto", 0, &notice, &error);
    g_assert_no_error(error);
    g_assert_nonnull(be);
    if (be->kind == SCF_DEVICE_CPU) {
        /* the fallback always says why */
        g_assert_nonnull(notice);
        g_test_message("auto: %s", notice);
    }
    g_free(notice);
    scf_backend_free(be);
}

static void test_bad_specs(void)
{
    const char *bad[] = { "gpu", "cuda:", "cuda:x", "cuda:-1", "cudax", "cpu0" };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        GError *error = NULL;
        g_assert_null(scf_device_open(bad[i], 1, NULL, &error));
        g_assert_nonnull(error);
        g_assert_nonnull(strstr(error->message, bad[i]));
        g_error_free(error);
    }
}

static void test_cuda_without_gpu_is_clear_error(void)
{
    GError *error = NULL;
    scf_backend *be = scf_device_open("cuda:7", 1, NULL, &error);
    if (be) { /* a machine with 8 GPUs and the CUDA kernels */
        scf_backend_free(be);
        return;
    }
    g_assert_error(error, SCF_ERROR, error->code);
    g_assert_true(error->code == SCF_ERROR_DEVICE || error->code == SCF_ERROR_UNSUPPORTED);
    g_test_message("cuda:7: %s", error->message);
    g_error_free(error);
}

/* The count the app offers for multi-GPU training agrees with what opens:
 * cuda:N-1 opens and cuda:N does not; no GPU (or no CUDA build) is 0. */
static void test_cuda_count_matches_open(void)
{
    int n = scf_device_cuda_count();
    g_test_message("CUDA GPUs: %d", n);
    g_assert_cmpint(n, >=, 0);
    if (!scf_device_cuda_built())
        g_assert_cmpint(n, ==, 0);
    g_autofree char *past = g_strdup_printf("cuda:%d", n);
    GError *error = NULL;
    g_assert_null(scf_device_open(past, 1, NULL, &error));
    g_assert_nonnull(error);
    g_clear_error(&error);
    if (n > 0) {
        g_autofree char *last = g_strdup_printf("cuda:%d", n - 1);
        scf_backend *be = scf_device_open(last, 1, NULL, &error);
        g_assert_no_error(error);
        scf_backend_free(be);
    }
}

/* The CUDA backend must be compiled in every build where nvcc exists
 * (meson passes what it found independently of the build option's outcome). */
static void test_cuda_built_when_nvcc_exists(void)
{
    const char *nvcc = g_getenv("SCF_NVCC_FOUND");
    const char *opt = g_getenv("SCF_CUDA_OPTION");
    g_assert_nonnull(nvcc);
    g_assert_nonnull(opt);
    gboolean expect = strcmp(nvcc, "1") == 0 && strcmp(opt, "disabled") != 0;
    g_test_message("nvcc found: %s, cuda option: %s, CUDA built: %d", nvcc, opt,
                   scf_device_cuda_built());
    g_assert_cmpint(scf_device_cuda_built(), ==, expect);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/device/cpu-and-auto", test_cpu_and_auto);
    g_test_add_func("/device/bad-specs", test_bad_specs);
    g_test_add_func("/device/cuda-without-gpu", test_cuda_without_gpu_is_clear_error);
    g_test_add_func("/device/cuda-count", test_cuda_count_matches_open);
    g_test_add_func("/device/cuda-built-when-nvcc-exists", test_cuda_built_when_nvcc_exists);
    return g_test_run();
}
