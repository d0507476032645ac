/* CPU <-> CUDA parity of the engine's real model paths (tests/device-paths.h):
 * UNet and CLIP forward and backward, generation at 1/2/4 steps with CFG,
 * the discriminator, teacher training and SCFlow distillation steps with
 * resume, checkpoints and export, and evaluation, each run on the GPU and on
 * the CPU and compared within fp32 tolerances (device-paths.c says which).
 * Exits 77 without a GPU. */
#include "cuda-check.h"
#include "device-paths.h"

static dp_env *env;

static void test_path(gconstpointer data)
{
    const dp_path *path = data;
    dp_result ref, got;
    dp_result_init(&ref);
    dp_result_init(&got);
    path->run(chk_cpu(), env, &ref);
    path->run(cc_cuda_or_skip(), env, &got);
    dp_assert_close(&got, &ref);
    dp_result_clear(&ref);
    dp_result_clear(&got);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    cc_cuda_or_skip();
    for (int i = 0; i < dp_n_paths; i++) {
        g_autofree char *name = g_strdup_printf("/cuda/path/%s", dp_paths[i].name);
        g_test_add_data_func(name, &dp_paths[i], test_path);
    }
    env = dp_env_new();
    int status = g_test_run();
    dp_env_free(env);
    return status;
}
