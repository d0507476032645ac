#include "tensor.h"
#include "error.h"
#include "check.h"

static void test_measure_then_allocate(void)
{
    scf_arena m;
    scf_arena_init_measure(&m, "activations");
    scf_tensor a = scf_arena_tensor4(&m, 2, 3, 4, 5);
    scf_tensor b = scf_arena_tensor1(&m, 7);
    g_assert_null(a.data);
    g_assert_cmpuint(scf_tensor_numel(&a), ==, 120);
    /* 120 floats = 480 bytes, then 64-byte alignment before b's 28 bytes */
    g_assert_cmpuint(m.used, ==, 512 + 28);
    g_assert_true(scf_arena_check(&m, NULL));

    scf_arena r;
    g_assert_true(scf_arena_init(&r, chk_cpu(), m.used, "activations", NULL));
    scf_tensor a2 = scf_arena_tensor4(&r, 2, 3, 4, 5);
    scf_tensor b2 = scf_arena_tensor1(&r, 7);
    g_assert_nonnull(a2.data);
    g_assert_true((char *)b2.data - (char *)a2.data == 512);
    g_assert_true(((uintptr_t)b2.data % SCF_ARENA_ALIGN) == 0);
    g_assert_true(scf_arena_check(&r, NULL));
    (void)b;
    scf_arena_release(&m);
    scf_arena_release(&r);
}

static void test_overflow_is_sticky_error(void)
{
    scf_arena r;
    g_assert_true(scf_arena_init(&r, chk_cpu(), 256, "gradients", NULL));
    scf_tensor ok = scf_arena_tensor1(&r, 32);
    scf_tensor too_big = scf_arena_tensor2(&r, 100, 100);
    scf_tensor after = scf_arena_tensor1(&r, 8);
    g_assert_nonnull(ok.data);
    g_assert_null(too_big.data);
    g_assert_nonnull(after.data); /* fits in what is left */
    GError *error = NULL;
    g_assert_false(scf_arena_check(&r, &error));
    g_assert_error(error, SCF_ERROR, SCF_ERROR_NOMEM);
    g_assert_nonnull(strstr(error->message, "gradients"));
    g_assert_nonnull(strstr(error->message, "40128")); /* 128 + 64-aligned 40000 */
    g_error_free(error);
    scf_arena_release(&r);
}

static void test_mark_reset_and_zero(void)
{
    scf_arena r;
    g_assert_true(scf_arena_init(&r, chk_cpu(), 4096, "activations", NULL));
    scf_tensor p = scf_arena_tensor1(&r, 16);
    size_t mark = scf_arena_mark(&r);
    scf_tensor s1 = scf_arena_tensor1(&r, 100);
    scf_arena_reset(&r, mark);
    scf_tensor s2 = scf_arena_tensor1(&r, 100);
    g_assert_true(s1.data == s2.data); /* the same memory every step */
    for (int i = 0; i < 16; i++)
        p.data[i] = 1.0f;
    scf_arena_zero(&r);
    for (int i = 0; i < 16; i++)
        g_assert_cmpfloat(p.data[i], ==, 0.0f);
    scf_arena_release(&r);
}

static void test_shape_helpers(void)
{
    scf_tensor t = { NULL, 3, { 2, 77, 768 } };
    char buf[64];
    g_assert_cmpstr(scf_tensor_shape_str(&t, buf, sizeof buf), ==, "[2, 77, 768]");
    scf_tensor u = t;
    g_assert_true(scf_tensor_same_shape(&t, &u));
    u.shape[2] = 1024;
    g_assert_false(scf_tensor_same_shape(&t, &u));
    g_assert_cmpuint(scf_dtype_size(SCF_DTYPE_BF16), ==, 2);
    g_assert_cmpstr(scf_dtype_name(SCF_DTYPE_F16), ==, "F16");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/tensor/measure-then-allocate", test_measure_then_allocate);
    g_test_add_func("/tensor/overflow-is-sticky-error", test_overflow_is_sticky_error);
    g_test_add_func("/tensor/mark-reset-zero", test_mark_reset_and_zero);
    g_test_add_func("/tensor/shape-helpers", test_shape_helpers);
    return g_test_run();
}
