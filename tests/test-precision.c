/* The compute-precision setting where no GPU is needed (backend.h,
 * device.h): names parse both ways, the CPU backend keeps fp32 and refuses
 * the others with an error naming the device and the precision, and opening
 * a device with a precision errs on a device asked for by name but falls
 * back to fp32 with a notice where "auto" fell back to the CPU. */
#include "device.h"
#include "error.h"
#include <string.h>

static const scf_precision reduced[] = { SCF_PRECISION_TF32, SCF_PRECISION_BF16,
                                         SCF_PRECISION_FP16 };

static void test_names(void)
{
    const char *names[] = { "fp32", "tf32", "bf16", "fp16" };
    for (int i = 0; i < 4; i++) {
        scf_precision p = SCF_PRECISION_FP32;
        GError *error = NULL;
        g_assert_true(scf_precision_parse(names[i], &p, &error));
        g_assert_no_error(error);
        g_assert_cmpint(p, ==, i);
        g_assert_cmpstr(scf_precision_name(p), ==, names[i]);
    }
    const char *bad[] = { "", "FP32", "bfloat16", "half", "fp8" };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        scf_precision p = SCF_PRECISION_BF16;
        GError *error = NULL;
        g_assert_false(scf_precision_parse(bad[i], &p, &error));
        g_assert_error(error, SCF_ERROR, SCF_ERROR_INVALID);
        g_autofree char *quoted = g_strdup_printf("'%s'", bad[i]);
        g_assert_nonnull(strstr(error->message, quoted));
        g_assert_nonnull(strstr(error->message, "bf16"));
        g_error_free(error);
    }
    g_assert_cmpstr(scf_precision_name((scf_precision)9), ==, "unknown");
}

static void test_cpu_keeps_fp32(void)
{
    scf_backend *be = scf_backend_cpu_new(1);
    g_assert_cmpint(be->precision, ==, SCF_PRECISION_FP32);
    GError *error = NULL;
    g_assert_true(scf_backend_set_precision(be, SCF_PRECISION_FP32, &error));
    g_assert_no_error(error);
    for (size_t i = 0; i < G_N_ELEMENTS(reduced); i++) {
        g_assert_false(scf_backend_set_precision(be, reduced[i], &error));
        g_assert_error(error, SCF_ERROR, SCF_ERROR_UNSUPPORTED);
        g_assert_nonnull(strstr(error->message, "cpu"));
        g_assert_nonnull(strstr(error->message, scf_precision_name(reduced[i])));
        g_test_message("%s", error->message);
        g_clear_error(&error);
        g_assert_cmpint(be->precision, ==, SCF_PRECISION_FP32);
    }
    g_assert_false(scf_backend_set_precision(be, (scf_precision)7, &error));
    g_assert_error(error, SCF_ERROR, SCF_ERROR_INVALID);
    g_clear_error(&error);
    scf_backend_free(be);
}

static void test_open_cpu_by_name(void)
{
    GError *error = NULL;
    char *notice = NULL;
    scf_backend *be = scf_device_open_precision("cpu", SCF_PRECISION_FP32, 1, &notice, &error);
    g_assert_no_error(error);
    g_assert_null(notice);
    scf_backend_free(be);
    for (size_t i = 0; i < G_N_ELEMENTS(reduced); i++) {
        g_assert_null(scf_device_open_precision("cpu", reduced[i], 1, &notice, &error));
        g_assert_error(error, SCF_ERROR, SCF_ERROR_UNSUPPORTED);
        g_assert_null(notice);
        g_clear_error(&error);
    }
}

/* auto on a machine without a GPU is the CPU in fp32, and says so; with a
 * GPU it is CUDA in the precision asked for. */
static void test_open_auto(void)
{
    GError *error = NULL;
    char *notice = NULL;
    scf_backend *be = scf_device_open_precision("auto", SCF_PRECISION_BF16, 1, &notice, &error);
    g_assert_no_error(error);
    g_assert_nonnull(be);
    if (be->kind == SCF_DEVICE_CPU) {
        g_assert_cmpint(be->precision, ==, SCF_PRECISION_FP32);
        g_assert_nonnull(notice);
        g_assert_nonnull(strstr(notice, "fp32"));
        g_assert_nonnull(strstr(notice, "bf16"));
        g_test_message("auto: %s", notice);
    } else {
        g_assert_cmpint(be->precision, ==, SCF_PRECISION_BF16);
        g_assert_null(notice);
    }
    g_free(notice);
    scf_backend_free(be);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/precision/names", test_names);
    g_test_add_func("/precision/cpu-keeps-fp32", test_cpu_keeps_fp32);
    g_test_add_func("/precision/open-cpu-by-name", test_open_cpu_by_name);
    g_test_add_func("/precision/open-auto", test_open_auto);
    return g_test_run();
}
