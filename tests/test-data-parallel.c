/* Data-parallel training and distillation (core/collective.h) give the
 * run one device gives at the same global batch, up to float rounding:
 * teacher steps, a resume onto the other number of devices, and SCFlow
 * iterations with every term on (the discriminator's step included).
 *
 * By default on two host ranks ("cpu,cpu" against "cpu"), so it runs on any
 * machine; with --cuda on every GPU present against cuda:0, exiting 77 with
 * fewer than two GPUs. */
#include "cuda-check.h"
#include "device-paths.h"
#include "scflow.h"
#include "distill.h"
#include <json-glib/json-glib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What differs between the runs is how gradients are summed: over the
 * whole batch in one backward, or over each rank's slice and then across
 * ranks (and, on the host, OpenMP pools of another size). fp32 summation in
 * another order moves a sum by a few ulp of its terms, ~1e-7 of the
 * tensor's scale; through a backward pass and two optimiser steps that grows
 * to a few 1e-6 (measured: at most 2.4e-6 here). On the host a slice can
 * also take another convolution algorithm than the whole batch: the CPU
 * backend picks Winograd F(4x4, 3x3) by tiles x images (conv2d_winograd.c),
 * whose fp32 results differ from im2col's by ~1e-5 of a layer's scale; the
 * distillation run then differs by up to 3.1e-5 (7e-6 with every
 * convolution on one algorithm). 1e-4 of the tensor's scale leaves room for
 * that and fails on any real error: a sample missed or counted twice, a
 * wrong loss normalisation or a draw from the wrong stream moves gradients
 * by percents.
 *
 * AdamW's first steps move each weight by about lr * sign(gradient): a
 * gradient that is zero but for rounding (the bias before a norm) would turn
 * float noise into a +-lr difference. The configs below use eps = 1e-3, so
 * that an update is smooth in its gradient (lr g / (|g| + eps)) and the
 * weights compare as tightly as the gradients do. */
#define RTOL 1e-4

static dp_env *env;
static char *multi_devices;           /* "cpu,cpu" or every GPU */
static const char *single_device;     /* "cpu" or "cuda:0" */
static int world;

static scf_collective *open_devices(const char *list)
{
    GError *error = NULL;
    scf_collective *c = scf_collective_open(list, 0, NULL, &error);
    g_assert_no_error(error);
    return c;
}

/* A path in the test's folder (the model's parent, removed at the end). */
static char *test_path(const char *name)
{
    g_autofree char *root = g_path_get_dirname(dp_env_model_dir(env));
    return g_build_filename(root, name, NULL);
}

static char *new_run_dir(const char *what)
{
    static int runs;
    g_autofree char *name = g_strdup_printf("%s-%d", what, runs++);
    return test_path(name);
}

static char *write_file(const char *name, const char *text)
{
    char *path = test_path(name);
    GError *error = NULL;
    g_assert_true(g_file_set_contents(path, text, -1, &error));
    return path;
}

/* The tiny teacher fixture (16x16) with training settings for a batch of
 * two samples per rank. */
static char *train_config(void)
{
    g_autofree char *fixture = g_build_filename(g_getenv("SCF_FIXTURES"), "train",
                                                "tiny-teacher.json", NULL);
    g_autoptr(JsonParser) parser = json_parser_new();
    GError *error = NULL;
    g_assert_true(json_parser_load_from_file(parser, fixture, &error));
    g_autofree char *training = g_strdup_printf(
        "{\"seed\": 5, \"batch_size\": %d, \"steps\": 10, \"lr\": 1e-3, \"warmup_steps\": 0,"
        " \"eps\": 1e-3, \"caption_dropout\": 0.5, \"ema_decay\": 0.9, \"log_every\": 1,"
        " \"sample_every\": 100, \"checkpoint_every\": 100}", 2 * world);
    json_object_set_member(json_node_get_object(json_parser_get_root(parser)), "training",
                           json_from_string(training, &error));
    g_assert_no_error(error);
    g_autofree char *text = json_to_string(json_parser_get_root(parser), TRUE);
    return write_file("train.json", text);
}

/* Every SCFlow term from the first iteration (warm-ups 0), on batches of
 * two samples per rank; extra: more settings (the discriminator's). */
static char *distill_config(const char *extra)
{
    g_autofree char *text = g_strdup_printf(
        "{\"seed\": 3, \"batch_size\": %d, \"steps\": 10, \"lr\": 1e-3, \"d_lr\": 1e-3,"
        " \"eps\": 1e-3, \"warmup_adv\": 0, \"warmup_inv\": 0, \"warmup_reflow\": 0,"
        " \"log_every\": 1, \"probe_every\": 100, \"sample_every\": 100,"
        " \"checkpoint_every\": 100%s}", 2 * world, extra);
    return write_file("distill.json", text);
}

static void assert_close_scalar(const char *what, double got, double ref)
{
    g_test_message("%s: %.9g and %.9g", what, got, ref);
    if (!(fabs(got - ref) <= RTOL * fabs(ref)))
        g_error("%s: %.9g on %d devices, %.9g on one", what, got, world, ref);
}

/* Every tensor of checkpoint got against the one of ref. */
static void assert_close_checkpoints(const char *got, const char *ref)
{
    GError *error = NULL;
    scf_safetensors *a = scf_safetensors_open(got, &error), *b = scf_safetensors_open(ref, &error);
    g_assert_no_error(error);
    g_assert_cmpint(scf_safetensors_count(a), ==, scf_safetensors_count(b));
    gboolean ok = TRUE;
    for (int i = 0; i < scf_safetensors_count(b); i++) {
        const scf_st_tensor *tb = scf_safetensors_get(b, i);
        const scf_st_tensor *ta = scf_safetensors_expect(a, tb->name, tb->ndim, tb->shape, &error);
        g_assert_no_error(error);
        float *x = g_new(float, tb->numel), *y = g_new(float, tb->numel);
        g_assert_true(scf_safetensors_read_f32(a, ta, x, &error));
        g_assert_true(scf_safetensors_read_f32(b, tb, y, &error));
        g_test_message("%s: error %.2e of the tensor's scale", tb->name,
                       chk_error(x, y, tb->numel));
        ok &= chk_close(tb->name, x, y, tb->numel, RTOL);
        g_free(x);
        g_free(y);
    }
    scf_safetensors_close(a);
    scf_safetensors_close(b);
    g_assert_true(ok);
}

/* A trainer on the devices of c: a new run from config, or (config NULL)
 * run resumed. */
static scf_trainer *open_trainer(const char *run, const char *config, scf_collective *c)
{
    GError *error = NULL;
    scf_backend *be = scf_collective_backend(c, 0);
    scf_trainer *t = config ? scf_trainer_new(run, config, dp_env_data_dir(env), NULL, be, &error)
                            : scf_trainer_resume(run, be, &error);
    g_assert_no_error(error);
    g_assert_true(scf_trainer_data_parallel(t, c, &error));
    g_assert_no_error(error);
    return t;
}

/* One step on both trainers: the same loss and gradient norm. */
static void advance_both(scf_trainer *multi, scf_trainer *single)
{
    double loss[2], norm[2];
    GError *error = NULL;
    g_assert_true(scf_trainer_advance(multi, &loss[0], &norm[0], &error));
    g_assert_true(scf_trainer_advance(single, &loss[1], &norm[1], &error));
    g_assert_no_error(error);
    assert_close_scalar("loss", loss[0], loss[1]);
    assert_close_scalar("gradient norm", norm[0], norm[1]);
}

static void checkpoint_and_compare(scf_trainer *multi, scf_trainer *single, const char *run_multi,
                                   const char *run_single)
{
    GError *error = NULL;
    g_assert_true(scf_trainer_checkpoint(multi, &error));
    g_assert_true(scf_trainer_checkpoint(single, &error));
    g_assert_no_error(error);
    g_assert_cmpint(scf_trainer_step(multi), ==, scf_trainer_step(single));
    g_autofree char *a = scf_run_checkpoint_path(run_multi, scf_trainer_step(multi));
    g_autofree char *b = scf_run_checkpoint_path(run_single, scf_trainer_step(single));
    assert_close_checkpoints(a, b);
}

/* Two teacher steps on world devices and on one, then each run resumed on
 * the other number of devices for a third step: weights, moments and EMA
 * agree after each. */
static void test_train(void)
{
    scf_collective *multi = open_devices(multi_devices), *single = open_devices(single_device);
    g_autofree char *config = train_config();
    g_autofree char *run_m = new_run_dir("train-multi"), *run_s = new_run_dir("train-single");
    scf_trainer *tm = open_trainer(run_m, config, multi), *ts = open_trainer(run_s, config, single);
    for (int i = 0; i < 2; i++)
        advance_both(tm, ts);
    checkpoint_and_compare(tm, ts, run_m, run_s);
    scf_trainer_free(tm);
    scf_trainer_free(ts);

    /* the run of many devices goes on on one, and the other way round */
    ts = open_trainer(run_m, NULL, single);
    tm = open_trainer(run_s, NULL, multi);
    g_assert_cmpint(scf_trainer_step(tm), ==, 2);
    advance_both(tm, ts);
    checkpoint_and_compare(tm, ts, run_s, run_m);
    scf_trainer_free(tm);
    scf_trainer_free(ts);
    scf_collective_free(multi);
    scf_collective_free(single);
}

/* A metrics line's figures, in the order of keys. */
static void metrics_values(const char *run_dir, int64_t step, const char *const *keys, int n,
                           double *out)
{
    g_autofree char *path = g_build_filename(run_dir, "metrics.jsonl", NULL);
    g_autofree char *text = NULL;
    GError *error = NULL;
    g_assert_true(g_file_get_contents(path, &text, NULL, &error));
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    g_assert_cmpuint(g_strv_length(lines), >, (guint)step);
    g_autoptr(JsonNode) node = json_from_string(lines[step - 1], &error);
    g_assert_no_error(error);
    JsonObject *o = json_node_get_object(node);
    g_assert_cmpint(json_object_get_int_member(o, "step"), ==, step);
    for (int i = 0; i < n; i++)
        out[i] = json_object_get_double_member(o, keys[i]);
}

/* Two SCFlow iterations with every term on: student, moments, both EMAs,
 * discriminator and its moments, and the logged losses agree. With the
 * ResNet discriminator, R1 is taken at both steps: each rank's share of it
 * (a central difference, which amplifies rounding by 1/2e) is averaged. */
static void test_distill(gconstpointer data)
{
    const char *extra = data;
    scf_collective *multi = open_devices(multi_devices), *single = open_devices(single_device);
    g_autofree char *config = distill_config(extra);
    g_autofree char *run_m = new_run_dir("distill-multi"), *run_s = new_run_dir("distill-single");
    const char *runs[2] = { run_m, run_s };
    scf_collective *devices[2] = { multi, single };
    GError *error = NULL;
    for (int i = 0; i < 2; i++) {
        scf_distiller *d = scf_distiller_new(runs[i], dp_env_model_dir(env), dp_env_data_dir(env),
                                             config, "full", scf_collective_backend(devices[i], 0),
                                             &error);
        g_assert_no_error(error);
        g_assert_true(scf_distiller_data_parallel(d, devices[i], &error));
        g_assert_true(scf_distiller_run(d, 2, NULL, NULL, &error));
        g_assert_no_error(error);
        scf_distiller_free(d);
    }
    g_autofree char *a = scf_run_checkpoint_path(run_m, 2), *b = scf_run_checkpoint_path(run_s, 2);
    assert_close_checkpoints(a, b);
    /* The log keeps 6 significant digits: up to 5e-6 of rounding each. The
     * pseudo-Huber terms add an absolute floor: sqrt(d^2 + c^2) - c cancels
     * to ~ulp(c) = 1e-9 per element (c = 0.01), so one ulp of difference in
     * a network output between the runs moves a term as small as step 1's
     * l_inv (~5e-5) by ~5e-5 of itself; 1e-8 is that floor with room, while
     * a sample counted wrong moves l_inv by percents (~1e-6). */
    static const char *const keys[] = { "loss", "l_con", "l_inv", "l_reflow", "l_adv", "d_loss",
                                        "d_real", "d_fake", "d_r1", "grad_norm" };
    const int n = G_N_ELEMENTS(keys);
    for (int64_t step = 1; step <= 2; step++) {
        double got[G_N_ELEMENTS(keys)], ref[G_N_ELEMENTS(keys)];
        metrics_values(run_m, step, keys, n, got);
        metrics_values(run_s, step, keys, n, ref);
        for (int i = 0; i < n; i++) {
            g_test_message("step %" G_GINT64_FORMAT " %s: %.6g and %.6g", step, keys[i], got[i],
                           ref[i]);
            if (!(fabs(got[i] - ref[i]) <= 2e-5 * fabs(ref[i]) + 1e-8))
                g_error("step %" G_GINT64_FORMAT " %s: %.6g on %d devices, %.6g on one", step,
                        keys[i], got[i], world, ref[i]);
        }
    }
    scf_collective_free(multi);
    scf_collective_free(single);
}

/* The collective calls themselves, on buffers of each rank's device. */
#define CALL_N 1000

typedef struct {
    gboolean fail_rank_1;   /* rank 1 fails before the exchange */
    double values[2];       /* rank 0's after the average */
} call_job;

/* Rank r's buffer: r + 1 + i / 64, exact in float, so sums are exact. */
static float *rank_values(int rank)
{
    float *x = g_new(float, CALL_N);
    for (int i = 0; i < CALL_N; i++)
        x[i] = (float)(rank + 1) + (float)i / 64.0f;
    return x;
}

static gboolean run_calls(scf_collective *c, int rank, gpointer user, GError **error)
{
    call_job *job = user;
    if (job->fail_rank_1 && rank == 1) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_IO, "rank 1 failed on purpose");
        return FALSE;
    }
    scf_backend *be = scf_collective_backend(c, rank);
    g_autofree float *host = rank_values(rank);
    float *buf = cc_upload(be, host, CALL_N), *grad = cc_upload(be, host, CALL_N);
    double values[2] = { rank + 1.0, 10.0 * (rank + 1) };
    gboolean ok = scf_collective_average(c, rank, TRUE, values, 2, grad, CALL_N, error) &&
                  scf_collective_all_reduce_sum(c, rank, buf, CALL_N, error);
    if (ok) {
        g_autofree float *sum = cc_download(be, buf, CALL_N), *mean = cc_download(be, grad, CALL_N);
        const double ranks_sum = world * (world + 1) / 2.0;
        for (int i = 0; i < CALL_N; i++) {
            g_assert_cmpfloat(sum[i], ==, (float)(ranks_sum + world * (i / 64.0)));
            g_assert_cmpfloat(fabs(mean[i] - (ranks_sum / world + i / 64.0)), <=, 1e-6 * mean[i]);
        }
        if (rank == 0)
            memcpy(job->values, values, sizeof values);
        /* every rank ends with rank 0's values */
        be->upload(be, buf, host, CALL_N * sizeof(float));
        ok = scf_collective_broadcast(c, rank, buf, CALL_N, error);
        g_autofree float *copy = cc_download(be, buf, CALL_N), *first = rank_values(0);
        g_assert_true(!ok || memcmp(copy, first, CALL_N * sizeof(float)) == 0);
    }
    be->free(be, buf);
    be->free(be, grad);
    return ok;
}

/* Sums, averages and broadcasts give every rank the exact results; a rank
 * that fails before an exchange stops the others there with its own error,
 * and the world works on afterwards. */
static void test_collective(void)
{
    scf_collective *c = open_devices(multi_devices);
    g_assert_cmpint(scf_collective_world(c), ==, world);
    GError *error = NULL;
    call_job job = { FALSE, { 0, 0 } };
    g_assert_true(scf_collective_run(c, run_calls, &job, &error));
    g_assert_no_error(error);
    g_assert_cmpfloat(job.values[0], ==, (world + 1) / 2.0);
    g_assert_cmpfloat(job.values[1], ==, 10.0 * (world + 1) / 2.0);

    job.fail_rank_1 = TRUE;
    g_assert_false(scf_collective_run(c, run_calls, &job, &error));
    g_assert_error(error, SCF_ERROR, SCF_ERROR_IO);
    g_assert_cmpstr(error->message, ==, "rank 1 failed on purpose");
    g_clear_error(&error);

    job.fail_rank_1 = FALSE;
    g_assert_true(scf_collective_run(c, run_calls, &job, &error));
    g_assert_no_error(error);
    scf_collective_free(c);
}

static void assert_open_fails(const char *list, const char *message)
{
    GError *error = NULL;
    g_assert_null(scf_collective_open(list, 0, NULL, &error));
    g_assert_nonnull(error);
    g_test_message("%s: %s", list, error->message);
    g_assert_nonnull(strstr(error->message, message));
    g_error_free(error);
}

/* Lists that cannot make a world, and a batch that does not split. */
static void test_errors(void)
{
    assert_open_fails("cpu,cuda:0", "cannot share a run");
    assert_open_fails("cuda:1,cuda:1", "cuda:1 is listed twice");
    assert_open_fails("cuda,cuda:0", "cuda:0 is listed twice");
    assert_open_fails("cpu,,cpu", "an empty entry");
    assert_open_fails("cpu,auto", "auto is for one device");
    assert_open_fails("cpu,tpu", "'tpu'");

    scf_collective *three = open_devices("cpu,cpu,cpu");
    g_assert_cmpint(scf_collective_world(three), ==, 3);
    g_assert_cmpstr(scf_collective_name(three), ==, "cpu,cpu,cpu");
    g_autofree char *config = train_config();   /* batch 4 */
    g_autofree char *run = new_run_dir("train-three");
    GError *error = NULL;
    scf_trainer *t = scf_trainer_new(run, config, dp_env_data_dir(env), NULL,
                                     scf_collective_backend(three, 0), &error);
    g_assert_no_error(error);
    g_assert_false(scf_trainer_data_parallel(t, three, &error));
    g_assert_error(error, SCF_ERROR, SCF_ERROR_INVALID);
    g_assert_nonnull(strstr(error->message, "batch size 4 does not split evenly over the 3 "
                                            "devices cpu,cpu,cpu"));
    g_clear_error(&error);
    scf_trainer_free(t);
    scf_collective_free(three);
}

/* The GPUs present, counted by opening them; exits 77 below two. */
static int count_gpus_or_skip(void)
{
    cc_cuda_or_skip();
    int n = 0;
    for (;; n++) {
        g_autofree char *spec = g_strdup_printf("cuda:%d", n);
        scf_backend *be = scf_device_open(spec, 0, NULL, NULL);
        if (!be)
            break;
        scf_backend_free(be);
    }
    if (n < 2) {
        printf("1..0 # SKIP data parallelism needs 2 GPUs, %d present\n", n);
        exit(77);
    }
    return n;
}

int main(int argc, char **argv)
{
    gboolean cuda = FALSE;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--cuda") == 0) {
            cuda = TRUE;
            memmove(&argv[i], &argv[i + 1], (size_t)(argc - i) * sizeof *argv);
            argc--;
            break;
        }
    g_test_init(&argc, &argv, NULL);
    if (cuda) {
        world = count_gpus_or_skip();
        multi_devices = scf_collective_gpu_list(world);
        single_device = "cuda:0";
    } else {
        world = 2;
        multi_devices = g_strdup("cpu,cpu");
        single_device = "cpu";
        g_test_add_func("/data-parallel/errors", test_errors);
    }
    g_test_add_func("/data-parallel/collective", test_collective);
    g_test_add_func("/data-parallel/train", test_train);
    g_test_add_data_func("/data-parallel/distill", "", test_distill);
    g_test_add_data_func("/data-parallel/distill-resnet-r1",
                         ", \"discriminator\": \"resnet\", \"resnet_width\": 8, \"r1_every\": 1",
                         test_distill);
    env = dp_env_new();
    int status = g_test_run();
    dp_env_free(env);
    g_free(multi_devices);
    return status;
}
