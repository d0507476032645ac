/* Teacher training really learns: a small model overfits 8 emoji (captions
 * "grinning face", "grinning face with big eyes", ... — eight similar faces,
 * so the text must steer) within a CI-sized budget, and its 8-step samples
 * are within 20 dB PSNR of the emoji they were prompted with, and nearer to
 * it than to any of the other seven. */
#include "scflow.h"
#include <stdio.h>
#include <stdlib.h>

static char *build_dataset(const char *root)
{
    char *dir = g_build_filename(root, "data", NULL);
    const char *argv[] = { g_getenv("SCFLOW"), "dataset", "emoji", "--size", "16", "--limit", "8",
                           "--out", dir, NULL };
    int status = 0;
    GError *error = NULL;
    g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                               NULL, NULL, &status, &error));
    g_assert_no_error(error);
    g_assert_true(g_spawn_check_wait_status(status, NULL));
    return dir;
}

static void test_overfit(void)
{
    g_autofree char *root = g_dir_make_tmp("overfit-XXXXXX", NULL);
    g_autofree char *data = build_dataset(root);
    g_autofree char *run = g_build_filename(root, "run", NULL);
    g_autofree char *config = g_build_filename(g_getenv("SCF_FIXTURES"), "train", "overfit-8.json", NULL);
    scf_backend *be = scf_backend_cpu_new(0);
    GError *error = NULL;
    gint64 t0 = g_get_monotonic_time();
    scf_trainer *t = scf_trainer_new(run, config, data, NULL, be, &error);
    g_assert_no_error(error);
    g_assert_true(scf_trainer_run(t, 0, NULL, NULL, &error));
    g_assert_no_error(error);
    scf_trainer_free(t);
    double train_s = (g_get_monotonic_time() - t0) / 1e6;

    g_autofree char *model_dir = g_build_filename(run, "model", NULL);
    scf_model *m = scf_model_load(model_dir, be, FALSE, &error);
    g_assert_no_error(error);
    scf_dataset *ds = scf_dataset_open(data, m->image_size, SCF_DATASET_ALL, 0, &error);
    g_assert_no_error(error);
    const int n = scf_dataset_count(ds);
    g_assert_cmpint(n, ==, 8);
    const size_t img = (size_t)m->channels * m->image_size * m->image_size;
    float *real = g_new(float, n * img), *sample = g_new(float, img);
    for (int i = 0; i < n; i++)
        scf_dataset_image_chw(ds, i, real + i * img);
    scf_sampler *s = scf_sampler_new(m);
    double worst = 100, sum = 0;
    for (int i = 0; i < n; i++) {
        scf_sample_request r = { scf_dataset_caption(ds, i), NULL, 8, 1.0f, (uint64_t)i, 1 };
        g_assert_true(scf_sampler_run(s, &r, sample, NULL, NULL, &error));
        double own = scf_metric_psnr(sample, real + i * img, img);
        int nearest = 0;
        double best = -1;
        for (int j = 0; j < n; j++) {
            double p = scf_metric_psnr(sample, real + j * img, img);
            if (p > best) {
                best = p;
                nearest = j;
            }
        }
        g_test_message("\"%s\": %.1f dB, nearest real image %d", scf_dataset_caption(ds, i), own, nearest);
        g_assert_cmpint(nearest, ==, i);
        worst = MIN(worst, own);
        sum += own;
    }
    printf("# trained in %.1f s; 8-step PSNR to the prompted emoji: mean %.1f dB, worst %.1f dB\n",
           train_s, sum / n, worst);
    g_assert_cmpfloat(worst, >=, 20.0);
    scf_sampler_free(s);
    g_free(real);
    g_free(sample);
    scf_dataset_free(ds);
    scf_model_free(m);
    scf_backend_free(be);
    g_autofree char *rm = g_strdup_printf("rm -rf '%s'", root);
    g_assert_cmpint(system(rm), ==, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/train/overfit-8-emoji", test_overfit);
    return g_test_run();
}
