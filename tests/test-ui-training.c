/* The Training page of the real application under Xvfb, running the real
 * `scflow train` as a child process on a tiny emoji dataset the test builds
 * and tests/fixtures/train/tiny-teacher.json: the defaults (built-in emoji
 * set, the shipped teacher config, the embedded model as the teacher) make
 * a runnable command; the file choosers fill the fields and the command
 * line shown follows them; Start runs the 8-step teacher, whose loss curve
 * fills in, to its exported model, which "Open in Generate" hands to the
 * Generate page; Stop on a long run makes the tool checkpoint and exit with
 * status 1 and its "stopped" message, after which the run can be resumed; a
 * run folder another process holds is refused with a banner naming it and
 * the holder's pid; with the built-in set chosen, Start builds it first,
 * once; two GPUs or more make the command data-parallel (--gpus N), and the
 * GPUs choice says why it is closed where there are fewer. The main loop's longest stall is measured while runs train.
 * Screenshots go to $SCF_TEST_OUT.
 *
 * The cases share one application and run in order, in fresh temporary
 * data, config and home folders, with settings in memory. */
#include "build-config.h"
#include "device.h"
#include "model-catalog.h"
#include "run.h"
#include "scf-application.h"
#include "scf-training-controller.h"
#include "scf-window.h"
#include "ui-harness.h"
#include <string.h>

/* Generous: other work may share the machine's two cores. */
#define WAIT_SECONDS 180

static char *data_dir, *long_config, *wide_config;

static ScfTrainingView *view(void)
{
    return scf_window_get_training_view(ui_studio_window());
}

static gboolean action_enabled_cond(gpointer name)
{
    return ui_studio_action_enabled(name);
}

static gboolean builder_running(gpointer data)
{
    return g_str_has_prefix(scf_training_view_get_status(view()), "Building");
}

static gboolean error_shown(gpointer data)
{
    return scf_training_view_get_error(view()) != NULL;
}

static gboolean run_ended(gpointer data)
{
    return g_str_has_prefix(scf_training_view_get_status(view()), "The run ended");
}

static gboolean generate_model_is(gpointer dir)
{
    g_autofree char *model = NULL;
    g_object_get(scf_window_get_generate_view(ui_studio_window()), "model", &model, NULL);
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
    scf_training_view_set_data_source(view(), SCF_TRAINING_DATA_FOLDER);
    scf_training_view_set_path(view(), SCF_TRAINING_FIELD_DATA, data_dir);
    scf_training_view_set_path(view(), SCF_TRAINING_FIELD_CONFIG, config);
    scf_training_view_set_path(view(), SCF_TRAINING_FIELD_RUN, run);
    g_signal_emit_by_name(view(), "changed");
}

static gboolean widget_visible(const char *field)
{
    g_autoptr(GPtrArray) buttons = g_ptr_array_new();
    ui_collect_descendants(GTK_WIDGET(view()), GTK_TYPE_BUTTON, buttons);
    for (guint i = 0; i < buttons->len; i++) {
        GVariant *target = gtk_actionable_get_action_target_value(buttons->pdata[i]);
        if (target && g_variant_is_of_type(target, G_VARIANT_TYPE_STRING) &&
            strcmp(g_variant_get_string(target, NULL), field) == 0)
            return gtk_widget_is_visible(buttons->pdata[i]);
    }
    g_error("no chooser button for %s", field);
}

/* A fresh window can start a teacher run as it stands: the built-in emoji
 * set (built first, once), the shipped config, a new run folder; a
 * distillation would start from the embedded model. */
static void test_defaults(void)
{
    ui_studio_activate(WAIT_SECONDS);
    gtk_window_set_default_size(GTK_WINDOW(ui_studio_window()), 1100, 720);
    gtk_widget_activate_action(GTK_WIDGET(ui_studio_window()), "win.page", "s", "training");

    g_assert_cmpint(scf_training_view_get_kind(view()), ==, SCF_TRAINING_KIND_TEACHER);
    g_assert_cmpint(scf_training_view_get_data_source(view()), ==, SCF_TRAINING_DATA_BUILTIN);
    g_assert_false(widget_visible("data"));
    g_assert_true(widget_visible("config"));
    g_assert_true(widget_visible("run"));
    g_assert_false(widget_visible("teacher"));
    g_autofree char *config = g_build_filename(SCF_SOURCE_DATADIR, "training",
                                               "emoji-32-teacher.json", NULL);
    g_autofree char *teacher = g_build_filename(SCF_SOURCE_DATADIR, "models", "emoji-32-teacher",
                                                NULL);
    g_assert_cmpstr(scf_training_view_get_path(view(), SCF_TRAINING_FIELD_CONFIG), ==, config);
    g_assert_cmpstr(scf_training_view_get_path(view(), SCF_TRAINING_FIELD_TEACHER), ==, teacher);
    const char *run = scf_training_view_get_path(view(), SCF_TRAINING_FIELD_RUN);
    g_autofree char *runs = scf_training_controller_runs_folder();
    g_assert_true(g_str_has_prefix(run, runs));
    g_assert_true(ui_studio_action_enabled("training-start"));

    /* The config's image_size (32) names the set to build; the run uses the
     * preferences' device (this harness sets cpu). */
    g_autofree char *cli = g_find_program_in_path("scflow");
    g_autofree char *builtin = scf_training_controller_builtin_dataset(32);
    g_autofree char *expected = g_strdup_printf(
        "%s dataset emoji --size 32 --force --out %s && %s train --data %s --config %s --out %s "
        "--device cpu", cli, builtin, cli, builtin, config, run);
    g_assert_cmpstr(scf_training_view_get_command(view()), ==, expected);

    ui_wait_drawn(GTK_WIDGET(ui_studio_window()));
    /* no runs yet: the list says so (its placeholder survived the refresh,
     * done by now, that found no runs) */
    GtkWidget *runs_list = ui_find_named(GTK_WIDGET(view()), "runs_list");
    g_assert_nonnull(runs_list);
    g_assert_null(gtk_list_box_get_row_at_index(GTK_LIST_BOX(runs_list), 0));
    GtkWidget *empty = ui_find_descendant(runs_list, GTK_TYPE_LABEL);
    g_assert_nonnull(empty);
    g_assert_true(gtk_widget_get_mapped(empty));
    g_assert_cmpstr(gtk_label_get_label(GTK_LABEL(empty)), ==, "No runs yet");

    ui_save_screenshot(GTK_WIDGET(ui_studio_window()), "training-defaults.png");
}

static void test_command_preview(void)
{
    g_autofree char *config = fixture("tiny-teacher.json");
    g_autofree char *run = run_path("teacher-a");
    enter_teacher_settings(config, run);
    g_autofree char *cli = g_find_program_in_path("scflow");
    g_autofree char *expected = g_strdup_printf("%s train --data %s --config %s --out %s --device cpu", cli,
                                                data_dir, config, run);
    g_assert_cmpstr(scf_training_view_get_command(view()), ==, expected);
    g_assert_true(ui_studio_action_enabled("training-start"));
    g_assert_false(ui_studio_action_enabled("training-stop"));

    /* Distillation names the teacher and the preset, with the shipped
     * distillation settings instead of the teacher's config. */
    scf_training_view_set_kind(view(), SCF_TRAINING_KIND_DISTILL);
    scf_training_view_set_path(view(), SCF_TRAINING_FIELD_TEACHER, "/models/my teacher");
    scf_training_view_set_ablation(view(), "cd+trunc");
    g_signal_emit_by_name(view(), "changed");
    g_autofree char *settings = scf_model_catalog_data_path("training/emoji-32-scflow.json");
    g_assert_nonnull(settings);
    g_autofree char *distill = g_strdup_printf(
        "%s distill --teacher '/models/my teacher' --data %s --ablation cd+trunc --config %s --out %s"
        " --device cpu", cli, data_dir, settings, run);
    g_assert_cmpstr(scf_training_view_get_command(view()), ==, distill);
}

static GtkWidget *gpus_spin(void)
{
    GtkWidget *spin = ui_find_named(GTK_WIDGET(view()), "gpus");
    g_assert_true(GTK_IS_SPIN_BUTTON(spin));
    return spin;
}

static gboolean gpus_tooltip_is(gpointer text)
{
    return g_strcmp0(gtk_widget_get_tooltip_text(gpus_spin()), text) == 0;
}

/* The position of arg in argv, or -1. */
static int argv_index(char **argv, const char *arg)
{
    for (int i = 0; argv[i]; i++)
        if (strcmp(argv[i], arg) == 0)
            return i;
    return -1;
}

/* The command a GPU count makes: --gpus N in place of --device from 2 GPUs
 * on, nothing from 1; resuming on several GPUs too. */
static void test_gpus_command(void)
{
    g_autofree char *config = fixture("tiny-teacher.json");
    g_autofree char *run = run_path("teacher-gpus");
    enter_teacher_settings(config, run);
    const char *devices[] = { "auto", "cuda" };
    for (gsize d = 0; d < G_N_ELEMENTS(devices); d++) {
        for (int resume = 0; resume < 2; resume++) {
            g_auto(GStrv) argv = scf_training_controller_argv(view(), devices[d], 2, resume);
            int at = argv_index(argv, "--gpus");
            g_assert_cmpint(at, >, 0);
            g_assert_cmpstr(argv[at + 1], ==, "2");
            g_assert_cmpint(argv_index(argv, "--device"), ==, -1);
            g_assert_cmpint(argv_index(argv, "--resume"), ==, resume ? 2 : -1);
        }
    }
    g_auto(GStrv) cuda = scf_training_controller_argv(view(), "cuda", 1, FALSE);
    g_assert_cmpint(argv_index(cuda, "--gpus"), ==, -1);
    g_assert_cmpstr(cuda[argv_index(cuda, "--device") + 1], ==, "cuda");
    g_auto(GStrv) automatic = scf_training_controller_argv(view(), "auto", 1, FALSE);
    g_assert_cmpint(argv_index(automatic, "--gpus"), ==, -1);
    g_assert_cmpint(argv_index(automatic, "--device"), ==, -1);
    g_autofree char *cli = g_find_program_in_path("scflow");
    g_auto(GStrv) four = scf_training_controller_argv(view(), "auto", 4, FALSE);
    g_autofree char *line = g_strjoinv(" ", four);
    g_autofree char *expected = g_strdup_printf("%s train --data %s --config %s --out %s --gpus 4",
                                                cli, data_dir, config, run);
    g_assert_cmpstr(line, ==, expected);
}

/* The GPUs choice opens only for a CUDA-capable device with two GPUs or
 * more: here (no GPU) it stays at 1, insensitive, saying why, and the
 * command line never gets --gpus. */
static void test_gpus_choice(void)
{
    g_autofree char *config = fixture("tiny-teacher.json");
    g_autofree char *run = run_path("teacher-gpus");
    enter_teacher_settings(config, run);
    /* the harness's device is the processor */
    g_assert_false(gtk_widget_get_sensitive(gpus_spin()));
    g_assert_true(gpus_tooltip_is("The device in Preferences is the processor (CPU)"));
    g_assert_cmpint(scf_training_view_get_gpus(view()), ==, 1);

    g_settings_set_string(ui_studio.settings, "device", "auto");
    int present = scf_device_cuda_count();
    g_test_message("CUDA GPUs here: %d", present);
    const char *why = present == 0 ? "No CUDA GPU found"
                      : present == 1 ? "1 GPU found: training on several needs more than one"
                                     : NULL;
    if (why) {
        g_assert_true(ui_wait_until(gpus_tooltip_is, (gpointer)why, WAIT_SECONDS));
        g_assert_false(gtk_widget_get_sensitive(gpus_spin()));
        /* a count asked for from code is held to what there is */
        scf_training_view_set_gpus(view(), 2);
        g_signal_emit_by_name(view(), "changed");
        g_assert_cmpint(scf_training_view_get_gpus(view()), ==, 1);
        g_assert_null(strstr(scf_training_view_get_command(view()), "--gpus"));
        ui_studio_screenshot("training-gpus.png");
    } else {
        g_autofree char *open = g_strdup_printf("Train data-parallel on up to %d GPUs at once",
                                                present);
        g_assert_true(ui_wait_until(gpus_tooltip_is, open, WAIT_SECONDS));
        g_assert_true(gtk_widget_get_sensitive(gpus_spin()));
        scf_training_view_set_gpus(view(), 2);
        g_signal_emit_by_name(view(), "changed");
        g_assert_nonnull(strstr(scf_training_view_get_command(view()), " --gpus 2"));
        scf_training_view_set_gpus(view(), 1);
    }
    g_settings_set_string(ui_studio.settings, "device", "cpu");
    g_assert_true(gpus_tooltip_is("The device in Preferences is the processor (CPU)"));
    g_assert_false(gtk_widget_get_sensitive(gpus_spin()));
    g_assert_null(strstr(scf_training_view_get_command(view()), "--gpus"));
    g_assert_true(g_str_has_suffix(scf_training_view_get_command(view()), " --device cpu"));
}

static void test_train_to_end(void)
{
    g_autofree char *config = fixture("tiny-teacher.json");
    g_autofree char *run = run_path("teacher-a");
    enter_teacher_settings(config, run);
    ui_stall_monitor stall;
    ui_stall_start(&stall);
    gint64 start = g_get_monotonic_time();
    g_action_group_activate_action(G_ACTION_GROUP(ui_studio_window()), "training-start", NULL);
    g_assert_true(ui_studio_action_enabled("training-stop"));
    g_assert_false(ui_studio_action_enabled("training-start"));
    g_assert_true(ui_wait_until(run_ended, NULL, WAIT_SECONDS));
    g_assert_true(ui_wait_until(has_points, GUINT_TO_POINTER(8), WAIT_SECONDS));
    double stall_ms = ui_stall_stop_ms(&stall);
    g_printerr("# train: 8 steps from Start to the curve in %.2f s; longest main-loop stall "
               "%.1f ms, main thread busy at most %.1f ms of it (goal < 50 ms)\n",
               (g_get_monotonic_time() - start) / 1e6, stall_ms, stall.longest_busy / 1e3);
    g_assert_cmpfloat(stall.longest_busy / 1e3, <, UI_BUSY_LIMIT_MS);
    g_assert_cmpfloat(stall_ms, <, UI_STALL_LIMIT_MS);
    g_test_message("status: %s", scf_training_view_get_status(view()));
    g_assert_null(strstr(scf_training_view_get_status(view()), "exit status"));
    g_assert_nonnull(strstr(scf_training_view_get_status(view()), "done"));

    /* log_every 1: a loss point per step, all 8 read from metrics.jsonl */
    g_assert_cmpuint(scf_training_view_count_points(view()), ==, 8);
    g_assert_cmpstr(gtk_progress_bar_get_text(progress_bar()), ==, "Step 8 of 8");
    g_assert_cmpfloat(gtk_progress_bar_get_fraction(progress_bar()), ==, 1.0);
    g_assert_true(ui_wait_until(action_enabled_cond, "training-open", WAIT_SECONDS));
    g_assert_false(ui_studio_action_enabled("training-resume"));
    ui_studio_screenshot("training-finished.png");

    g_action_group_activate_action(G_ACTION_GROUP(ui_studio_window()), "training-open", NULL);
    g_autofree char *folder = g_settings_get_string(ui_studio.settings, "models-folder");
    g_assert_cmpstr(folder, ==, run);
    g_autofree char *model = g_settings_get_string(ui_studio.settings, "default-model");
    g_assert_cmpstr(model, ==, "model");
    GVariant *state = g_action_group_get_action_state(G_ACTION_GROUP(ui_studio_window()), "page");
    g_assert_cmpstr(g_variant_get_string(state, NULL), ==, "generate");
    g_variant_unref(state);
    /* The Generate page lists the run's model and has it chosen. */
    g_autofree char *model_dir = g_build_filename(run, "model", NULL);
    g_assert_true(ui_wait_until(generate_model_is, model_dir, WAIT_SECONDS));
    gtk_widget_activate_action(GTK_WIDGET(ui_studio_window()), "win.page", "s", "training");
}

static void test_stop(void)
{
    g_autofree char *run = run_path("teacher-b");
    enter_teacher_settings(long_config, run);
    ui_stall_monitor stall;
    ui_stall_start(&stall);
    g_action_group_activate_action(G_ACTION_GROUP(ui_studio_window()), "training-start", NULL);
    /* running: a few steps logged, and then some more while it trains */
    g_assert_true(ui_wait_until(has_points, GUINT_TO_POINTER(3), WAIT_SECONDS));
    g_assert_true(ui_wait_until(rate_shown, NULL, WAIT_SECONDS));
    guint points = scf_training_view_count_points(view());
    g_assert_true(ui_wait_until(has_points, GUINT_TO_POINTER(points + 20), WAIT_SECONDS));
    g_assert_false(run_ended(NULL));
    g_action_group_activate_action(G_ACTION_GROUP(ui_studio_window()), "training-stop", NULL);
    g_assert_true(ui_wait_until(run_ended, NULL, WAIT_SECONDS));
    double stall_ms = ui_stall_stop_ms(&stall);
    g_printerr("# stop: %u steps trained, then stopped; longest main-loop stall %.1f ms, main "
               "thread busy at most %.1f ms of it (goal < 50 ms)\n",
               scf_training_view_count_points(view()), stall_ms, stall.longest_busy / 1e3);
    g_assert_cmpfloat(stall.longest_busy / 1e3, <, UI_BUSY_LIMIT_MS);
    g_assert_cmpfloat(stall_ms, <, UI_STALL_LIMIT_MS);
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
    g_assert_false(ui_studio_action_enabled("training-start"));
    g_assert_nonnull(strstr(scf_training_view_get_command(view()), " train --resume --out "));
    ui_studio_screenshot("training-stopped.png");
}

/* ---- the file choosers ---- */

static GtkFileChooser *open_chooser_dialog(void)
{
    GtkFileChooser *found = NULL;
    GListModel *toplevels = gtk_window_get_toplevels();
    for (guint i = 0; i < g_list_model_get_n_items(toplevels) && !found; i++) {
        g_autoptr(GtkWindow) w = g_list_model_get_item(toplevels, i);
        if (GTK_IS_FILE_CHOOSER_DIALOG(w) && gtk_widget_get_mapped(GTK_WIDGET(w)))
            found = GTK_FILE_CHOOSER(w);
    }
    return found;
}

static gboolean chooser_open(gpointer data)
{
    return open_chooser_dialog() != NULL;
}

/* The chooser shows files as its folder loads: a file is selected once
 * that is done. */
static gboolean chooser_selected(gpointer file)
{
    GtkFileChooser *chooser = open_chooser_dialog();
    g_autoptr(GFile) selected = chooser ? gtk_file_chooser_get_file(chooser) : NULL;
    return selected && g_file_equal(selected, file);
}

static gboolean chooser_closed(gpointer data)
{
    return open_chooser_dialog() == NULL;
}

static gboolean chooser_loaded(gpointer data)
{
    g_autoptr(GFile) folder = gtk_file_chooser_get_current_folder(open_chooser_dialog());
    return folder != NULL;
}

/* The user clicks field's chooser button, which opens in the folder start,
 * or (start NULL) in the recent files, from where the user goes to path's
 * folder; picks path and presses Choose. */
static void choose(const char *field, const char *title, GtkFileChooserAction mode,
                   const char *start, const char *path)
{
    g_assert_true(gtk_widget_activate_action(GTK_WIDGET(view()), "training.choose", "s", field));
    g_assert_true(ui_wait_until(chooser_open, NULL, WAIT_SECONDS));
    GtkFileChooser *chooser = open_chooser_dialog();
    if (!start) {
        g_autofree char *parent = g_path_get_dirname(path);
        g_autoptr(GFile) folder = g_file_new_for_path(parent);
        g_assert_true(gtk_file_chooser_set_current_folder(chooser, folder, NULL));
    }
    /* a file picked before the folder has loaded would be lost */
    g_assert_true(ui_wait_until(chooser_loaded, NULL, WAIT_SECONDS));
    if (start) {
        g_autoptr(GFile) folder = gtk_file_chooser_get_current_folder(chooser);
        g_autofree char *shown = g_file_get_path(folder);
        g_assert_cmpstr(shown, ==, start);
    }
    g_assert_cmpstr(gtk_window_get_title(GTK_WINDOW(chooser)), ==, title);
    g_assert_cmpint(gtk_file_chooser_get_action(chooser), ==, mode);
    g_assert_true(gtk_window_get_transient_for(GTK_WINDOW(chooser)) ==
                  GTK_WINDOW(ui_studio_window()));
    g_autoptr(GFile) file = g_file_new_for_path(path);
    g_autoptr(GError) error = NULL;
    g_assert_true(gtk_file_chooser_set_file(chooser, file, &error));
    g_assert_no_error(error);
    g_assert_true(ui_wait_until(chooser_selected, file, WAIT_SECONDS));
    gtk_widget_activate(gtk_dialog_get_widget_for_response(GTK_DIALOG(chooser),
                                                           GTK_RESPONSE_ACCEPT));
    g_assert_true(ui_wait_until(chooser_closed, NULL, WAIT_SECONDS));
}

/* Each path picked in a chooser lands in its field, and the command line
 * shown follows at once. */
static void test_choosers(void)
{
    scf_training_view_set_kind(view(), SCF_TRAINING_KIND_TEACHER);
    scf_training_view_set_data_source(view(), SCF_TRAINING_DATA_BUILTIN);
    g_signal_emit_by_name(view(), "changed");

    /* it opens beside the config in the field */
    g_autofree char *config = fixture("tiny-teacher.json");
    g_autofree char *config_dir = g_path_get_dirname(
        scf_training_view_get_path(view(), SCF_TRAINING_FIELD_CONFIG));
    choose("config", "Choose the Model Config", GTK_FILE_CHOOSER_ACTION_OPEN, config_dir, config);
    g_assert_cmpstr(scf_training_view_get_path(view(), SCF_TRAINING_FIELD_CONFIG), ==, config);

    /* a folder for the dataset is also choosing the folder over the set */
    choose("data", "Choose the Dataset Folder", GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER, data_dir,
           data_dir);
    g_assert_cmpint(scf_training_view_get_data_source(view()), ==, SCF_TRAINING_DATA_FOLDER);
    g_assert_cmpstr(scf_training_view_get_path(view(), SCF_TRAINING_FIELD_DATA), ==, data_dir);
    g_assert_true(widget_visible("data"));

    g_autofree char *run = run_path("chosen run");
    g_assert_cmpint(g_mkdir_with_parents(run, 0755), ==, 0);
    /* the run folder in the field is not made yet: it opens beside it */
    g_autofree char *runs = scf_training_controller_runs_folder();
    choose("run", "Choose the Run Folder", GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER, runs, run);
    g_assert_cmpstr(scf_training_view_get_path(view(), SCF_TRAINING_FIELD_RUN), ==, run);
    g_autofree char *cli = g_find_program_in_path("scflow");
    g_autofree char *quoted = g_shell_quote(run);
    g_autofree char *expected = g_strdup_printf("%s train --data %s --config %s --out %s --device cpu", cli,
                                                data_dir, config, quoted);
    g_assert_cmpstr(scf_training_view_get_command(view()), ==, expected);

    scf_training_view_set_kind(view(), SCF_TRAINING_KIND_DISTILL);
    g_signal_emit_by_name(view(), "changed");
    g_assert_true(widget_visible("teacher"));
    g_autofree char *teacher = g_build_filename(ui_studio.root, "teacher model", NULL);
    g_assert_cmpint(g_mkdir_with_parents(teacher, 0755), ==, 0);
    choose("teacher", "Choose the Teacher Model Folder", GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER,
           NULL, teacher);
    g_assert_cmpstr(scf_training_view_get_path(view(), SCF_TRAINING_FIELD_TEACHER), ==, teacher);
    g_assert_nonnull(strstr(scf_training_view_get_command(view()), " distill --teacher '"));
    scf_training_view_set_kind(view(), SCF_TRAINING_KIND_TEACHER);
    g_signal_emit_by_name(view(), "changed");
}

/* A folder another process trains in (here this test holds its lock, as
 * `scflow train` in a terminal would) is refused before any tool starts,
 * with a banner naming the folder and the holder's pid. */
static void test_locked(void)
{
    g_autofree char *config = fixture("tiny-teacher.json");
    g_autofree char *run = run_path("held");
    g_assert_cmpint(g_mkdir_with_parents(run, 0755), ==, 0);
    g_autoptr(GError) error = NULL;
    scf_run_lock *lock = scf_run_lock_acquire(run, &error);
    g_assert_no_error(error);
    enter_teacher_settings(config, run);
    g_action_group_activate_action(G_ACTION_GROUP(ui_studio_window()), "training-start", NULL);
    g_assert_true(ui_wait_until(error_shown, NULL, WAIT_SECONDS));
    const char *message = scf_training_view_get_error(view());
    g_test_message("banner: %s", message);
    g_autofree char *holder = g_strdup_printf("(process %d)", (int)getpid());
    g_assert_true(g_str_has_prefix(message, run));
    g_assert_nonnull(strstr(message, holder));
    g_assert_false(ui_studio_action_enabled("training-stop"));
    g_assert_true(ui_studio_action_enabled("training-start"));
    g_autofree char *log = g_build_filename(run, "studio.log", NULL);
    g_assert_false(g_file_test(log, G_FILE_TEST_EXISTS));
    ui_studio_screenshot("training-locked.png");

    gtk_widget_activate_action(GTK_WIDGET(view()), "training.dismiss-error", NULL);
    g_assert_null(scf_training_view_get_error(view()));
    scf_run_lock_release(lock);
}

/* With the built-in set chosen and not built yet, Start builds it, then
 * trains on it; afterwards it is built, and the command says so. */
static void test_builtin_dataset(void)
{
    const char *config = wide_config;
    g_autofree char *run = run_path("teacher-builtin");
    enter_teacher_settings(config, run);
    scf_training_view_set_data_source(view(), SCF_TRAINING_DATA_BUILTIN);
    g_signal_emit_by_name(view(), "changed");
    /* the config's image_size is 16 */
    g_autofree char *builtin = scf_training_controller_builtin_dataset(16);
    g_autofree char *cli = g_find_program_in_path("scflow");
    g_autofree char *expected = g_strdup_printf(
        "%s dataset emoji --size 16 --force --out %s && %s train --data %s --config %s --out %s --device cpu",
        cli, builtin, cli, builtin, config, run);
    g_assert_cmpstr(scf_training_view_get_command(view()), ==, expected);

    g_action_group_activate_action(G_ACTION_GROUP(ui_studio_window()), "training-start", NULL);
    g_assert_true(builder_running(NULL));
    g_assert_true(ui_studio_action_enabled("training-stop"));
    g_assert_false(ui_studio_action_enabled("training-start"));
    g_assert_true(ui_wait_until(run_ended, NULL, WAIT_SECONDS));
    g_test_message("status: %s", scf_training_view_get_status(view()));
    g_assert_nonnull(strstr(scf_training_view_get_status(view()), "done"));
    g_assert_null(scf_training_view_get_error(view()));
    g_autofree char *manifest = g_build_filename(builtin, "dataset.json", NULL);
    g_assert_true(g_file_test(manifest, G_FILE_TEST_IS_REGULAR));
    g_autofree char *runfile = g_build_filename(run, "run.json", NULL);
    g_autofree char *text = NULL;
    g_assert_true(g_file_get_contents(runfile, &text, NULL, NULL));
    g_assert_nonnull(strstr(text, builtin));

    /* a new run on it starts training straight away */
    g_autofree char *next = run_path("teacher-builtin-2");
    scf_training_view_set_path(view(), SCF_TRAINING_FIELD_RUN, next);
    g_signal_emit_by_name(view(), "changed");
    g_autofree char *direct = g_strdup_printf("%s train --data %s --config %s --out %s --device cpu", cli,
                                              builtin, config, next);
    g_assert_cmpstr(scf_training_view_get_command(view()), ==, direct);
}

static void test_quit(void)
{
    ui_app_quit(GTK_APPLICATION(ui_studio.app), WAIT_SECONDS);
}

/* A copy of the fixture's config with one change. */
static char *fixture_variant(const char *name, const char *old, const char *new)
{
    g_autofree char *fixture_path = fixture("tiny-teacher.json");
    g_autofree char *text = NULL;
    g_assert_true(g_file_get_contents(fixture_path, &text, NULL, NULL));
    char *at = strstr(text, old);
    g_assert_nonnull(at);
    *at = 0;
    g_autofree char *changed = g_strconcat(text, new, at + strlen(old), NULL);
    char *path = g_build_filename(ui_studio.root, name, NULL);
    g_assert_true(g_file_set_contents(path, changed, -1, NULL));
    return path;
}

/* The emoji dataset, a config like the fixture's but with 100000 steps,
 * and one whose text encoder has room for the whole built-in set's words. */
static void prepare_inputs(void)
{
    const char *scflow = g_getenv("SCFLOW");
    data_dir = g_build_filename(ui_studio.root, "emoji", NULL);
    const char *argv[] = { scflow, "dataset", "emoji", "--size", "16", "--limit", "12",
                           "--out", data_dir, NULL };
    int status = -1;
    g_autoptr(GError) error = NULL;
    g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL |
                               G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, NULL, NULL, &status,
                               &error));
    g_assert_no_error(error);
    g_assert_true(g_spawn_check_wait_status(status, NULL));

    long_config = fixture_variant("long-teacher.json", "\"steps\": 8,\n    \"lr\"",
                                  "\"steps\": 100000,\n    \"lr\"");
    wide_config = fixture_variant("wide-teacher.json", "\"vocab_size\": 256",
                                  "\"vocab_size\": 4096");
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
    /* The shipped config and embedded model are the page's defaults. */
    g_setenv("SCFLOW_DATADIR", SCF_SOURCE_DATADIR, TRUE);
    int early = ui_studio_begin("scf-ui-training", &argc, &argv);
    if (early >= 0)
        return early;
    prepare_inputs();
    g_settings_set_string(ui_studio.settings, "device", "cpu");
    ui_studio_start();

    g_test_add_func("/ui/training/defaults", test_defaults);
    g_test_add_func("/ui/training/command-preview", test_command_preview);
    g_test_add_func("/ui/training/gpus-command", test_gpus_command);
    g_test_add_func("/ui/training/gpus-choice", test_gpus_choice);
    g_test_add_func("/ui/training/choosers", test_choosers);
    g_test_add_func("/ui/training/train-to-end", test_train_to_end);
    g_test_add_func("/ui/training/stop", test_stop);
    g_test_add_func("/ui/training/locked", test_locked);
    g_test_add_func("/ui/training/builtin-dataset", test_builtin_dataset);
    g_test_add_func("/ui/training/quit", test_quit);
    int status = ui_studio_run();
    g_free(data_dir);
    g_free(long_config);
    g_free(wide_config);
    return status;
}
