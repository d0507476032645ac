/* CPU <-> CUDA parity of the engine's real model paths (tests/device-paths.h):
 * UNet and CLIP forward and backward, generation at 1/2/4 steps with CFG,
 * the discriminator, teacher training and SCFlow distillation steps with
 * resume, checkpoints and export, and evaluation, each run on the GPU and on
 * the CPU and compared within fp32 tolerances (device-paths.c says which);
 * and the sampling loop replayed as a CUDA graph against plain launches.
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

/* The sampling loop with its UNet pass captured as a CUDA graph gives the
 * plain launches' images bit for bit: a replay launches the very kernels the
 * capture recorded, with the same arguments on the same memory in the same
 * order, on one stream, and every kernel of a forward pass is deterministic
 * (fixed-order reductions, no atomics; cuBLAS is reproducible on one stream
 * with a fixed workspace), so nothing may differ, not even the last bit.
 * Another seed reuses the recording (device-paths.h says what else). */
static void test_graph_replay(void)
{
    dp_check_graph_replay(cc_cuda_or_skip(), env, FALSE);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    cc_cuda_or_skip();
    for (int i = 0; i < dp_n_paths; i++) {
        g_autofree char *name = g_strdup_printf("/cuda/path/%s", dp_paths[i].name);
        g_test_add_data_func(name, &dp_paths[i], test_path);
    }
    g_test_add_func("/cuda/sampler-graph-replay", test_graph_replay);
    env = dp_env_new();
    int status = g_test_run();
    dp_env_free(env);
    return status;
}
