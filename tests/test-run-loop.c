/* The run loop (core/run.h) keeps training progress through failures of its
 * outputs: when the metrics log or a sample grid cannot be written the run
 * stops with that reason, after checkpointing the steps it took; and the
 * run's samples/ and checkpoints/ folders are made again when they were
 * deleted while it ran. Driven by fake steps, so it runs in milliseconds. */
#include "run.h"
#include "error.h"
#include <glib/gstdio.h>
#include <string.h>

typedef struct {
    char *dir;
    int64_t step;
    int64_t fail_samples_at;     /* 0: never */
    gboolean fail_checkpoints;
    int64_t delete_folders_at;   /* 0: never */
    GArray *checkpoints;         /* the steps checkpointed */
} fake_run;

static int64_t fake_current(gpointer run)
{
    return ((fake_run *)run)->step;
}

static void remove_folder(const char *dir, const char *name)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);
    GDir *d = g_dir_open(path, 0, NULL);
    for (const char *f; d && (f = g_dir_read_name(d));) {
        g_autofree char *file = g_build_filename(path, f, NULL);
        g_remove(file);
    }
    if (d)
        g_dir_close(d);
    g_rmdir(path);
}

static gboolean fake_step(gpointer run, scf_train_progress *p, GError **error)
{
    fake_run *r = run;
    r->step++;
    if (r->step == r->delete_folders_at) {
        remove_folder(r->dir, "samples");
        remove_folder(r->dir, "checkpoints");
    }
    p->loss = 1.0 / (double)r->step;
    return TRUE;
}

static char *fake_metrics(gpointer run, const scf_train_progress *p)
{
    return g_strdup_printf("{\"step\":%" G_GINT64_FORMAT ",\"loss\":%g}", p->step, p->loss);
}

/* a file in the folder, as the real writers put theirs */
static gboolean write_into(const fake_run *r, const char *folder, GError **error)
{
    g_autofree char *name = g_strdup_printf("step-%" G_GINT64_FORMAT, r->step);
    g_autofree char *path = g_build_filename(r->dir, folder, name, NULL);
    return g_file_set_contents(path, "x", 1, error);
}

static gboolean fake_samples(gpointer run, char **path, GError **error)
{
    fake_run *r = run;
    if (r->step == r->fail_samples_at) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_IO, "samples: no space left on device");
        return FALSE;
    }
    *path = g_strdup("samples");
    return write_into(r, "samples", error);
}

static gboolean fake_checkpoint(gpointer run, GError **error)
{
    fake_run *r = run;
    if (r->fail_checkpoints) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_IO, "checkpoint: no space left on device");
        return FALSE;
    }
    g_array_append_val(r->checkpoints, r->step);
    return write_into(r, "checkpoints", error);
}

static gboolean fake_finish(gpointer run, GError **error)
{
    return TRUE;
}

static const scf_run_ops ops = { fake_current, fake_step, fake_metrics, fake_samples,
                                 fake_checkpoint, fake_finish };

static void fake_open(fake_run *r)
{
    memset(r, 0, sizeof *r);
    g_autoptr(GError) error = NULL;
    r->dir = g_dir_make_tmp("run-loop-XXXXXX", &error);
    g_assert_no_error(error);
    r->checkpoints = g_array_new(FALSE, FALSE, sizeof(int64_t));
}

static void fake_close(fake_run *r)
{
    remove_folder(r->dir, "samples");
    remove_folder(r->dir, "checkpoints");
    g_autofree char *metrics = g_build_filename(r->dir, "metrics.jsonl", NULL);
    if (g_file_test(metrics, G_FILE_TEST_IS_DIR))
        g_rmdir(metrics);
    else
        g_remove(metrics);
    g_assert_cmpint(g_rmdir(r->dir), ==, 0);
    g_free(r->dir);
    g_array_free(r->checkpoints, TRUE);
}

static gboolean loop(fake_run *r, GError **error)
{
    const scf_run_schedule s = { r->dir, 10, 1, 4, 100, 1 };
    return scf_run_loop(&s, &ops, r, 0, NULL, NULL, error);
}

static int64_t checkpoint_at(const fake_run *r, guint i)
{
    return g_array_index(r->checkpoints, int64_t, i);
}

/* A sample grid that cannot be written stops the run at its step, which is
 * checkpointed, and the error says both. */
static void test_sample_failure(void)
{
    fake_run r;
    fake_open(&r);
    r.fail_samples_at = 8;
    GError *error = NULL;
    g_assert_false(loop(&r, &error));
    g_assert_error(error, SCF_ERROR, SCF_ERROR_IO);
    g_test_message("%s", error->message);
    g_assert_nonnull(strstr(error->message, "no space left"));
    g_assert_nonnull(strstr(error->message, "step 8 is checkpointed"));
    g_assert_cmpint(r.step, ==, 8);
    g_assert_cmpuint(r.checkpoints->len, ==, 1);
    g_assert_cmpint(checkpoint_at(&r, 0), ==, 8);
    g_clear_error(&error);
    fake_close(&r);
}

/* So does a metrics log that cannot be appended to (its path is a folder). */
static void test_metrics_failure(void)
{
    fake_run r;
    fake_open(&r);
    g_autofree char *metrics = g_build_filename(r.dir, "metrics.jsonl", NULL);
    g_assert_cmpint(g_mkdir(metrics, 0755), ==, 0);
    GError *error = NULL;
    g_assert_false(loop(&r, &error));
    g_test_message("%s", error->message);
    g_assert_nonnull(strstr(error->message, "metrics.jsonl"));
    g_assert_nonnull(strstr(error->message, "step 1 is checkpointed"));
    g_assert_cmpuint(r.checkpoints->len, ==, 1);
    g_assert_cmpint(checkpoint_at(&r, 0), ==, 1);
    g_clear_error(&error);
    fake_close(&r);
}

/* When the checkpoint fails too, the error carries both reasons. */
static void test_both_fail(void)
{
    fake_run r;
    fake_open(&r);
    r.fail_samples_at = 4;
    r.fail_checkpoints = TRUE;
    GError *error = NULL;
    g_assert_false(loop(&r, &error));
    g_test_message("%s", error->message);
    g_assert_nonnull(strstr(error->message, "samples: no space left"));
    g_assert_nonnull(strstr(error->message, "nor could step 4 be checkpointed: checkpoint: no space"));
    g_clear_error(&error);
    fake_close(&r);
}

/* samples/ and checkpoints/ deleted mid-run come back, and the run ends. */
static void test_folders_remade(void)
{
    fake_run r;
    fake_open(&r);
    r.delete_folders_at = 6;
    GError *error = NULL;
    g_assert_true(loop(&r, &error));
    g_assert_no_error(error);
    g_assert_cmpint(r.step, ==, 10);
    g_autofree char *sample = g_build_filename(r.dir, "samples", "step-8", NULL);
    g_autofree char *last = g_build_filename(r.dir, "checkpoints", "step-10", NULL);
    g_assert_true(g_file_test(sample, G_FILE_TEST_EXISTS));
    g_assert_true(g_file_test(last, G_FILE_TEST_EXISTS));
    fake_close(&r);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/run-loop/sample-failure", test_sample_failure);
    g_test_add_func("/run-loop/metrics-failure", test_metrics_failure);
    g_test_add_func("/run-loop/both-fail", test_both_fail);
    g_test_add_func("/run-loop/folders-remade", test_folders_remade);
    return g_test_run();
}
