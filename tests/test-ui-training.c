/* The Training page of the real application under Xvfb, running the real
 * `scflow train` as a child process on a tiny emoji dataset the test builds
 * and tests/fixtures/train/tiny-teacher.json: the command line shown matches
 * the inputs; Start runs the 8-step teacher, whose loss curve fills in, to
 * its exported model, which "Open in Generate" hands to the Generate page;
 * Stop on a long run makes the tool checkpoint and exit with status 1 and
 * its "stopped" message, after which the run can be resumed. Screenshots go
 * to $SCF_TEST_OUT.
 *
 * The cases share one application and run in order, in fresh temporary
 * data, config and home folders, with settings in memory. */
#include "build-config.h"
#include "scf-application.h"
#include "scf-training-controller.h"
#include "scf-window.h"
#include "ui-harness.h"
#include <string.h>

/* Generous: other work may share the machine's two cores. */
#define WAIT_SECONDS 180

static ScfApplication *app;
static GSettings *settings;
static char *root, *data_dir, *long_config;

static ScfWindow *main_window(void)
{
    GtkWindow *window = ui_app_window_of_type(GTK_APPLICATION(app), SCF_TYPE_WINDOW);
    g_assert_nonnull(window);
    return SCF_WINDOW(window);
}

static ScfTrainingView *view(void)
{
    return scf_window_get_training_view(main_window());
}

static gboolean main_window_mapped(gpointer data)
{
    return ui_app_window_of_type(GTK_APPLICATION(app), SCF_TYPE_WINDOW) != NULL;
}

static gboolean action_enabled(const char *name)
{
    return g_action_group_get_action_enabled(G_ACTION_GROUP(main_window()), name);
}

static gboolean action_enabled_cond(gpointer name)
{
    return action_enabled(name);
}

static gboolean run_ended(gpointer data)
{
    return g_str_has_prefix(scf_training_view_get_status(view()), "The run ended");
}

static gboolean generate_model_is(gpointer dir)
{
    g_autofree char *model = NULL;
    g_object_get(scf_window_get_generate_view(main_window()), "model", &model, NULL);
    return g_strcmp0(model, dir) == 0;
}

static gboolean has_points(gpointer n)
{
    return scf_training_view_count_points(view()) >= GPOINTER_TO_UINT(n);
}

static GtkProgressBar *progress_bar(void)
{
    return GTK_PROGRESS_BAR(ui_find_descendant(GTK_WIDGET(view()), GTK_TYPE_PROGRESS_BAR));
}

/* Images/s and time left, parsed from the tool's progress lines. */
static gboolean progress_is(gpointer text)
{
    return g_strcmp0(gtk_progress_bar_get_text(progress_bar()), text) == 0;
}

static gboolean rate_shown(gpointer data)
{
    g_autoptr(GPtrArray) labels = g_ptr_array_new();
    ui_collect_descendants(GTK_WIDGET(view()), GTK_TYPE_LABEL, labels);
    for (guint i = 0; i < labels->len; i++) {
        const char *text = gtk_label_get_text(labels->pdata[i]);
        if (strstr(text, " images/s · ") && g_str_has_suffix(text, " left"))
            return TRUE;
    }
    return FALSE;
}

static char *fixture(const char *name)
{
    return g_build_filename(g_getenv("SCF_FIXTURES"), "train", name, NULL);
}

static char *run_path(const char *name)
{
    g_autofree char *runs = scf_training_controller_runs_folder();
    return g_build_filename(runs, name, NULL);
}

/* The settings as a user enters them. */
static void enter_teacher_settings(const char *config, const char *run)
{
    scf_training_view_set_kind(view(), SCF_TRAINING_KIND_TEACHER);
    scf_training_view_set_path(view(), SCF_TRAINING_FIELD_DATA, data_dir);
    scf_training_view_set_path(view(), SCF_TRAINING_FIELD_CONFIG, config);
    scf_training_view_set_path(view(), SCF_TRAINING_FIELD_RUN, run);
    g_signal_emit_by_name(view(), "changed");
}

static void screenshot(const char *name)
{
    ui_wait_drawn(GTK_WIDGET(main_window()));
    ui_save_screenshot(GTK_WIDGET(main_window()), name);
}

static void test_command_preview(void)
{
    g_application_activate(G_APPLICATION(app));
    g_assert_true(ui_wait_until(main_window_mapped, NULL, WAIT_SECONDS));
    gtk_window_set_default_size(GTK_WINDOW(main_window()), 1100, 720);
    gtk_widget_activate_action(GTK_WIDGET(main_window()), "win.page", "s", "training");

    g_autofree char *config = fixture("tiny-teacher.json");
    g_autofree char *run = run_path("teacher-a");
    enter_teacher_settings(config, run);
    g_autofree char *cli = g_find_program_in_path("scflow");
    g_autofree char *expected = g_strdup_printf("%s train --data %s --config %s --out %s", cli,
                                                data_dir, config, run);
    g_assert_cmpstr(scf_training_view_get_command(view()), ==, expected);
    g_assert_true(action_enabled("training-start"));
    g_assert_false(action_enabled("training-stop"));

    /* Distillation names the teacher and the preset instead of a config. */
    scf_training_view_set_kind(view(), SCF_TRAINING_KIND_DISTILL);
    scf_training_view_set_path(view(), SCF_TRAINING_FIELD_TEACHER, "/models/my teacher");
    scf_training_view_set_ablation(view(), "cd+trunc");
    g_signal_emit_by_name(view(), "changed");
    g_autofree char *distill = g_strdup_printf(
        "%s distill --teacher '/models/my teacher' --data %s --ablation cd+trunc --out %s", cli,
        data_dir, run);
    g_assert_cmpstr(scf_training_view_get_command(view()), ==, distill);
}

static void test_train_to_end(void)
{
    g_autofree char *config = fixture("tiny-teacher.json");
    g_autofree char *run = run_path("teacher-a");
    enter_teacher_settings(config, run);
    g_action_group_activate_action(G_ACTION_GROUP(main_window()), "training-start", NULL);
    g_assert_true(action_enabled("training-stop"));
    g_assert_false(action_enabled("training-start"));
    g_assert_true(ui_wait_until(run_ended, NULL, WAIT_SECONDS));
    g_test_message("status: %s", scf_training_view_get_status(view()));
    g_assert_null(strstr(scf_training_view_get_status(view()), "exit status"));
    g_assert_nonnull(strstr(scf_training_view_get_status(view()), "done"));

    /* log_every 1: a loss point per step, all 8 read from metrics.jsonl */
    g_assert_true(ui_wait_until(has_points, GUINT_TO_POINTER(8), WAIT_SECONDS));
    g_assert_cmpuint(scf_training_view_count_points(view()), ==, 8);
    g_assert_cmpstr(gtk_progress_bar_get_text(progress_bar()), ==, "Step 8 of 8");
    g_assert_cmpfloat(gtk_progress_bar_get_fraction(progress_bar()), ==, 1.0);
    g_assert_true(ui_wait_until(action_enabled_cond, "training-open", WAIT_SECONDS));
    g_assert_false(action_enabled("training-resume"));
    screenshot("training-finished.png");

    g_action_group_activate_action(G_ACTION_GROUP(main_window()), "training-open", NULL);
    g_autofree char *folder = g_settings_get_string(settings, "models-folder");
    g_assert_cmpstr(folder, ==, run);
    g_autofree char *model = g_settings_get_string(settings, "default-model");
    g_assert_cmpstr(model, ==, "model");
    GVariant *state = g_action_group_get_action_state(G_ACTION_GROUP(main_window()), "page");
    g_assert_cmpstr(g_variant_get_string(state, NULL), ==, "generate");
    g_variant_unref(state);
    /* The Generate page lists the run's model and has it chosen. */
    g_autofree char *model_dir = g_build_filename(run, "model", NULL);
    g_assert_true(ui_wait_until(generate_model_is, model_dir, WAIT_SECONDS));
    gtk_widget_activate_action(GTK_WIDGET(main_window()), "win.page", "s", "training");
}

static void test_stop(void)
{
    g_autofree char *run = run_path("teacher-b");
    enter_teacher_settings(long_config, run);
    g_action_group_activate_action(G_ACTION_GROUP(main_window()), "training-start", NULL);
    /* running: a few steps logged */
    g_assert_true(ui_wait_until(has_points, GUINT_TO_POINTER(3), WAIT_SECONDS));
    g_assert_true(ui_wait_until(rate_shown, NULL, WAIT_SECONDS));
    g_assert_false(run_ended(NULL));
    g_action_group_activate_action(G_ACTION_GROUP(main_window()), "training-stop", NULL);
    g_assert_true(ui_wait_until(run_ended, NULL, WAIT_SECONDS));
    const char *status = scf_training_view_get_status(view());
    g_test_message("status: %s", status);
    g_assert_nonnull(strstr(status, "exit status 1"));
    const char *at = strstr(status, "stopped at step ");
    g_assert_nonnull(at);
    gint64 stopped = g_ascii_strtoll(at + strlen("stopped at step "), NULL, 10);
    g_assert_cmpint(stopped, >=, 3);
    g_autofree char *step_text = g_strdup_printf("Step %" G_GINT64_FORMAT " of 100000", stopped);
    g_assert_true(ui_wait_until(progress_is, step_text, WAIT_SECONDS));
    g_assert_false(rate_shown(NULL));

    g_autofree char *checkpoints = g_build_filename(run, "checkpoints", NULL);
    g_autoptr(GDir) dir = g_dir_open(checkpoints, 0, NULL);
    g_assert_nonnull(dir);
    g_assert_nonnull(g_dir_read_name(dir));

    g_assert_true(ui_wait_until(action_enabled_cond, "training-resume", WAIT_SECONDS));
    g_assert_false(action_enabled("training-start"));
    g_assert_nonnull(strstr(scf_training_view_get_command(view()), " train --resume --out "));
    screenshot("training-stopped.png");
}

static void test_quit(void)
{
    ui_app_quit(GTK_APPLICATION(app), WAIT_SECONDS);
}

/* The emoji dataset and a config like the fixture's but with 100000 steps. */
static void prepare_inputs(void)
{
    const char *scflow = g_getenv("SCFLOW");
    data_dir = g_build_filename(root, "emoji", NULL);
    const char *argv[] = { scflow, "dataset", "emoji", "--size", "16", "--limit", "12",
                           "--out", data_dir, NULL };
    int status = -1;
    g_autoptr(GError) error = NULL;
    g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL |
                               G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, NULL, NULL, &status,
                               &error));
    g_assert_no_error(error);
    g_assert_true(g_spawn_check_wait_status(status, NULL));

    g_autofree char *fixture_path = fixture("tiny-teacher.json");
    g_autofree char *text = NULL;
    g_assert_true(g_file_get_contents(fixture_path, &text, NULL, NULL));
    const char *old = "\"steps\": 8,\n    \"lr\"";
    char *at = strstr(text, old);
    g_assert_nonnull(at);
    *at = 0;
    g_autofree char *longer = g_strconcat(text, "\"steps\": 100000,\n    \"lr\"",
                                          at + strlen(old), NULL);
    long_config = g_build_filename(root, "long-teacher.json", NULL);
    g_assert_true(g_file_set_contents(long_config, longer, -1, NULL));
}

int main(int argc, char **argv)
{
    const char *scflow = g_getenv("SCFLOW");
    if (!scflow) {
        g_printerr("scf-ui-training: SCFLOW must name the scflow tool\n");
        return 1;
    }
    /* The studio finds the tool on PATH when it is not beside it, as here.
     * Set before any thread starts: setenv is not thread-safe. */
    g_autofree char *bin = g_path_get_dirname(scflow);
    g_autofree char *path = g_strconcat(bin, ":", g_getenv("PATH"), NULL);
    g_setenv("PATH", path, TRUE);
    int early = ui_test_begin("scf-ui-training", &argc, &argv, &root);
    if (early >= 0)
        return early;
    g_assert_true(scf_application_schema_installed());
    prepare_inputs();

    settings = g_settings_new(SCF_APP_ID);
    g_settings_set_string(settings, "device", "cpu");
    app = scf_application_new(G_APPLICATION_NON_UNIQUE);
    ui_app_register(G_APPLICATION(app));

    g_test_add_func("/ui/training/command-preview", test_command_preview);
    g_test_add_func("/ui/training/train-to-end", test_train_to_end);
    g_test_add_func("/ui/training/stop", test_stop);
    g_test_add_func("/ui/training/quit", test_quit);
    int status = g_test_run();

    g_object_unref(app);
    g_object_unref(settings);
    ui_remove_tree(root);
    g_free(root);
    g_free(data_dir);
    g_free(long_config);
    return status;
}
