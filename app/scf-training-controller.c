#include "scf-training-controller.h"
#include "collective.h"
#include "device.h"
#include "model-catalog.h"
#include "run.h"
#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#define LOG_NAME "studio.log"
/* The config a new teacher run starts from, under the data folder. */
#define DEFAULT_CONFIG "training" G_DIR_SEPARATOR_S "emoji-32-teacher.json"
/* The distillation settings shipped beside it (those of the embedded
 * student): SCFLOW.md's own defaults are for SD1.5-scale fine-tuning, 5,000
 * steps at lr 1e-5, hours of work on a CPU for this small teacher. */
#define DISTILL_CONFIG "training" G_DIR_SEPARATOR_S "emoji-32-scflow.json"
/* The built-in set's size when the model's config does not say. */
#define DEFAULT_IMAGE_SIZE 32

struct _ScfTrainingController {
    GObject parent_instance;
    GtkApplicationWindow *window;
    ScfTrainingView *view;
    GSettings *settings;
    GSubprocess *process;       /* the run this window started, while it runs */
    GSubprocess *builder;       /* the built-in dataset being built before it */
    GStrv pending_argv;         /* the run to start once the dataset is built */
    char *running_command;      /* its command line */
    gboolean stop_requested;    /* the user stopped it: its exit is no error */
    GCancellable *cancellable;  /* cancelled with the window */
    guint tick;
    gboolean polling;
    char *shown_run;            /* the run folder the page follows */
    goffset metrics_offset;     /* bytes of its metrics.jsonl already shown */
    gint64 step, total;         /* where it stands */
    gboolean finished;          /* the shown run has its model/ */
    gboolean resumable;         /* the shown run has run.json and is not finished */
    char *runs_key;             /* the runs list last shown, to redraw only on change */
    int cuda_gpus;              /* CUDA GPUs present; -1 until the probe answers */
};

G_DEFINE_FINAL_TYPE(ScfTrainingController, scf_training_controller, G_TYPE_OBJECT)

/* The curves drawn from a metrics line, where present. */
static const char *const curve_members[] = { "loss", "l_con", "l_inv", "l_reflow", "l_adv" };

char *scf_training_controller_runs_folder(void)
{
    return g_build_filename(g_get_user_data_dir(), "scflow-studio", "runs", NULL);
}

/* The scflow tool: beside this program (installed or in the build tree's
 * app/), else on PATH. */
static char *scf_training_controller_find_cli(void)
{
    g_autofree char *self_exe = g_file_read_link("/proc/self/exe", NULL);
    if (self_exe) {
        g_autofree char *dir = g_path_get_dirname(self_exe);
        char *beside = g_build_filename(dir, "scflow", NULL);
        if (g_file_test(beside, G_FILE_TEST_IS_EXECUTABLE) && strcmp(beside, self_exe) != 0)
            return beside;
        g_free(beside);
    }
    char *found = g_find_program_in_path("scflow");
    return found ? found : g_strdup("scflow");
}

char *scf_training_controller_builtin_dataset(int image_size)
{
    g_autofree char *name = g_strdup_printf("emoji-%d", image_size);
    return g_build_filename(g_get_user_data_dir(), "scflow-studio", "datasets", name, NULL);
}

/* The "image_size" of the model a run trains: the teacher config's, or the
 * teacher folder's config.json for a distillation (a small file, read as
 * the settings change). */
static int scf_training_controller_image_size(ScfTrainingView *v)
{
    g_autofree char *path =
        scf_training_view_get_kind(v) == SCF_TRAINING_KIND_DISTILL
            ? g_build_filename(scf_training_view_get_path(v, SCF_TRAINING_FIELD_TEACHER),
                               "config.json", NULL)
            : g_strdup(scf_training_view_get_path(v, SCF_TRAINING_FIELD_CONFIG));
    g_autoptr(JsonParser) parser = json_parser_new();
    if (!json_parser_load_from_file(parser, path, NULL) ||
        !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser)))
        return DEFAULT_IMAGE_SIZE;
    gint64 size = json_object_get_int_member_with_default(
        json_node_get_object(json_parser_get_root(parser)), "image_size", DEFAULT_IMAGE_SIZE);
    return size > 0 && size <= 1024 ? (int)size : DEFAULT_IMAGE_SIZE;
}

/* The dataset folder of the view's settings. */
static char *scf_training_controller_data_dir(ScfTrainingView *v)
{
    if (scf_training_view_get_data_source(v) == SCF_TRAINING_DATA_FOLDER)
        return g_strdup(scf_training_view_get_path(v, SCF_TRAINING_FIELD_DATA));
    return scf_training_controller_builtin_dataset(scf_training_controller_image_size(v));
}

/* The built-in set is built once; `scflow dataset` writes dataset.json last. */
static gboolean scf_training_controller_needs_build(ScfTrainingView *v, gboolean resume)
{
    if (resume || scf_training_view_get_data_source(v) != SCF_TRAINING_DATA_BUILTIN)
        return FALSE;
    g_autofree char *dir = scf_training_controller_data_dir(v);
    g_autofree char *manifest = g_build_filename(dir, "dataset.json", NULL);
    return !g_file_test(manifest, G_FILE_TEST_IS_REGULAR);
}

/* The command that builds the built-in set; --force replaces what an
 * interrupted build left. */
static GStrv scf_training_controller_build_argv(ScfTrainingView *v)
{
    g_autofree char *cli = scf_training_controller_find_cli();
    g_autofree char *size = g_strdup_printf("%d", scf_training_controller_image_size(v));
    g_autofree char *dir = scf_training_controller_data_dir(v);
    const char *argv[] = { cli, "dataset", "emoji", "--size", size, "--force", "--out", dir, NULL };
    return g_strdupv((char **)argv);
}

GStrv scf_training_controller_argv(ScfTrainingView *v, const char *device, int gpus,
                                   gboolean resume)
{
    gboolean distill = scf_training_view_get_kind(v) == SCF_TRAINING_KIND_DISTILL;
    g_autoptr(GStrvBuilder) b = g_strv_builder_new();
    g_autofree char *cli = scf_training_controller_find_cli();
    g_autofree char *data = scf_training_controller_data_dir(v);
    g_strv_builder_add_many(b, cli, distill ? "distill" : "train", NULL);
    if (resume) {
        g_strv_builder_add(b, "--resume");
    } else if (distill) {
        g_strv_builder_add_many(b, "--teacher", scf_training_view_get_path(v, SCF_TRAINING_FIELD_TEACHER),
                                "--data", data, "--ablation", scf_training_view_get_ablation(v),
                                NULL);
        g_autofree char *settings = scf_model_catalog_data_path(DISTILL_CONFIG);
        if (settings)
            g_strv_builder_add_many(b, "--config", settings, NULL);
    } else {
        g_strv_builder_add_many(b, "--data", data, "--config",
                                scf_training_view_get_path(v, SCF_TRAINING_FIELD_CONFIG), NULL);
    }
    g_strv_builder_add_many(b, "--out", scf_training_view_get_path(v, SCF_TRAINING_FIELD_RUN), NULL);
    /* --gpus replaces --device (the tools take one of them); auto is their own default */
    if (gpus > 1) {
        g_autofree char *n = g_strdup_printf("%d", gpus);
        g_strv_builder_add_many(b, "--gpus", n, NULL);
    } else if (device && *device && strcmp(device, "auto") != 0) {
        g_strv_builder_add_many(b, "--device", device, NULL);
    }
    return g_strv_builder_end(b);
}

/* How many GPUs a run may use and, when why is not NULL, why (the GPUs
 * choice's note): the preferences' device must allow CUDA, and there must be
 * more than one. */
static int scf_training_controller_gpu_limit(ScfTrainingController *self, char **why)
{
    g_autofree char *device = g_settings_get_string(self->settings, "device");
    gboolean cpu = g_strcmp0(device, "cpu") == 0;
    const gboolean nccl = scf_collective_has_nccl();
    int n = self->cuda_gpus, limit = cpu || !nccl ? 1 : MAX(n, 1);
    if (!why)
        return limit;
    if (cpu)
        *why = g_strdup(_("The device in Preferences is the processor (CPU)"));
    else if (n < 0)
        *why = g_strdup(_("Looking for CUDA GPUs…"));
    else if (n == 0)
        *why = g_strdup(_("No CUDA GPU found"));
    else if (n == 1)
        *why = g_strdup(_("1 GPU found: training on several needs more than one"));
    else if (!nccl)
        *why = g_strdup_printf(_("%d GPUs found, but this build has no NCCL, which training on "
                                 "several needs"), n);
    else
        *why = g_strdup_printf(ngettext("Train data-parallel on up to %d GPU at once",
                                        "Train data-parallel on up to %d GPUs at once", n), n);
    return limit;
}

/* The command for the view's settings; resume continues the run folder. */
static GStrv scf_training_controller_command(ScfTrainingController *self, gboolean resume)
{
    g_autofree char *device = g_settings_get_string(self->settings, "device");
    int gpus = scf_training_controller_gpu_limit(self, NULL) > 1
                   ? scf_training_view_get_gpus(self->view) : 1;
    return scf_training_controller_argv(self->view, device, gpus, resume);
}

/* As a shell would take it: quoted only where needed. */
static char *scf_training_controller_command_text(const char *const *argv)
{
    GString *s = g_string_new(NULL);
    for (gsize i = 0; argv[i]; i++) {
        gboolean plain = *argv[i] != 0;
        for (const char *c = argv[i]; *c && plain; c++)
            plain = g_ascii_isalnum(*c) || strchr("/._-+=:,@%", *c);
        g_autofree char *quoted = plain ? g_strdup(argv[i]) : g_shell_quote(argv[i]);
        g_string_append_printf(s, "%s%s", i ? " " : "", quoted);
    }
    return g_string_free(s, FALSE);
}

/* What Start or Resume runs, as one shell line: the dataset build first
 * when the built-in set is not built yet. */
static char *scf_training_controller_preview(ScfTrainingController *self, gboolean resume)
{
    g_auto(GStrv) argv = scf_training_controller_command(self, resume);
    g_autofree char *run = scf_training_controller_command_text((const char *const *)argv);
    if (!scf_training_controller_needs_build(self->view, resume))
        return g_steal_pointer(&run);
    g_auto(GStrv) build = scf_training_controller_build_argv(self->view);
    g_autofree char *first = scf_training_controller_command_text((const char *const *)build);
    return g_strconcat(first, " && ", run, NULL);
}

static gboolean scf_training_controller_inputs_complete(ScfTrainingController *self)
{
    ScfTrainingView *v = self->view;
    ScfTrainingField needed = scf_training_view_get_kind(v) == SCF_TRAINING_KIND_DISTILL
                                  ? SCF_TRAINING_FIELD_TEACHER : SCF_TRAINING_FIELD_CONFIG;
    return (scf_training_view_get_data_source(v) == SCF_TRAINING_DATA_BUILTIN ||
            *scf_training_view_get_path(v, SCF_TRAINING_FIELD_DATA)) &&
           *scf_training_view_get_path(v, needed) &&
           *scf_training_view_get_path(v, SCF_TRAINING_FIELD_RUN);
}

static void scf_training_controller_enable(ScfTrainingController *self, const char *name,
                                           gboolean enabled)
{
    GAction *action = g_action_map_lookup_action(G_ACTION_MAP(self->window), name);
    g_simple_action_set_enabled(G_SIMPLE_ACTION(action), enabled);
}

/* The page's GPUs choice, for the device and the GPUs found. */
static void scf_training_controller_show_gpus(ScfTrainingController *self)
{
    g_autofree char *why = NULL;
    int limit = scf_training_controller_gpu_limit(self, &why);
    scf_training_view_set_gpu_limit(self->view, limit, why);
}

static void scf_training_controller_update(ScfTrainingController *self)
{
    gboolean running = self->process || self->builder;
    if (running) {
        scf_training_view_set_command(self->view, self->running_command);
    } else {
        g_autofree char *text = scf_training_controller_preview(self, self->resumable);
        scf_training_view_set_command(self->view, text);
    }
    scf_training_controller_enable(self, "training-start",
                                   !running && !self->resumable && !self->finished &&
                                       scf_training_controller_inputs_complete(self));
    scf_training_controller_enable(self, "training-stop", running);
    scf_training_controller_enable(self, "training-resume", !running && self->resumable);
    scf_training_controller_enable(self, "training-open", !running && self->finished);
}

/* ---- following the run folder, off the main thread ---- */

typedef struct {
    double step, value;
    const char *series;   /* one of curve_members */
} ScfCurvePoint;

typedef struct {
    char *run, *runs_folder;
    goffset offset;          /* in: metrics bytes already read; out: now read */
    GArray *points;          /* ScfCurvePoint */
    gint64 step, total;
    char *rate;              /* "N images/s · ETA T" of the last progress line */
    char *message;           /* the last line that is not progress */
    char *sample;            /* the newest sample grid */
    gboolean has_run, finished;
    gboolean rewound;        /* the metrics were cut back (a resume): read from the start */
    GPtrArray *run_dirs, *run_texts;
} ScfPoll;

static void scf_poll_free(ScfPoll *p)
{
    g_free(p->run);
    g_free(p->runs_folder);
    g_array_unref(p->points);
    g_free(p->rate);
    g_free(p->message);
    g_free(p->sample);
    g_ptr_array_unref(p->run_dirs);
    g_ptr_array_unref(p->run_texts);
    g_free(p);
}

/* The total steps run.json asks for (teacher or distillation). */
static gint64 scf_poll_total(const char *run)
{
    g_autofree char *path = g_build_filename(run, "run.json", NULL);
    g_autoptr(JsonParser) parser = json_parser_new();
    if (!json_parser_load_from_file(parser, path, NULL) || !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser)))
        return 0;
    JsonObject *root = json_node_get_object(json_parser_get_root(parser));
    const char *sections[] = { "training", "distillation" };
    for (gsize i = 0; i < G_N_ELEMENTS(sections); i++) {
        JsonNode *node = json_object_get_member(root, sections[i]);
        JsonObject *o = node && JSON_NODE_HOLDS_OBJECT(node) ? json_node_get_object(node) : NULL;
        if (o && json_object_has_member(o, "steps"))
            return json_object_get_int_member(o, "steps");
    }
    return 0;
}

/* New complete metrics lines from offset on, as points; the last step seen. */
static gint64 scf_poll_metrics(ScfPoll *p)
{
    g_autofree char *path = g_build_filename(p->run, "metrics.jsonl", NULL);
    g_autofree char *text = NULL;
    gsize length = 0;
    gint64 last = -1;
    if (!g_file_get_contents(path, &text, &length, NULL))
        return last;
    if ((goffset)length < p->offset) {
        p->offset = 0;
        p->rewound = TRUE;
    }
    char *line = text + p->offset;
    for (char *end; (end = strchr(line, '\n')); line = end + 1) {
        *end = 0;
        g_autoptr(JsonParser) parser = json_parser_new();
        if (!json_parser_load_from_data(parser, line, -1, NULL) ||
            !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser)))
            continue;
        JsonObject *o = json_node_get_object(json_parser_get_root(parser));
        last = json_object_get_int_member_with_default(o, "step", 0);
        for (gsize i = 0; i < G_N_ELEMENTS(curve_members); i++)
            if (json_object_has_member(o, curve_members[i])) {
                ScfCurvePoint pt = { last, json_object_get_double_member(o, curve_members[i]),
                                     curve_members[i] };
                g_array_append_val(p->points, pt);
            }
    }
    p->offset = line - text;
    return last;
}

/* The tool's last progress line ("12/100 loss 0.5 |g| 0.3 9.1 img/s ETA 1m02s")
 * and its last other line. */
static void scf_poll_log(ScfPoll *p)
{
    g_autofree char *path = g_build_filename(p->run, LOG_NAME, NULL);
    g_autofree char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, NULL))
        return;
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    for (gsize i = 0; lines[i]; i++) {
        gint64 step, total;
        double loss, grad, ips;
        char eta[32];
        if (sscanf(lines[i], "%" G_GINT64_FORMAT "/%" G_GINT64_FORMAT " loss %lf |g| %lf %lf img/s ETA %31s",
                   &step, &total, &loss, &grad, &ips, eta) == 6) {
            p->step = MAX(p->step, step);
            p->total = total;
            g_free(p->rate);
            p->rate = g_strdup_printf(_("%.1f images/s · %s left"), ips, eta);
        } else if (*g_strstrip(lines[i])) {
            g_free(p->message);
            p->message = g_strdup(lines[i]);
        }
    }
}

/* The newest file of dir whose name starts with prefix and ends in suffix
 * (names carry zero-padded steps, so the newest sorts last). */
static char *scf_poll_newest(const char *dir, const char *prefix, const char *suffix)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    char *best = NULL;
    for (const char *name; d && (name = g_dir_read_name(d));)
        if (g_str_has_prefix(name, prefix) && g_str_has_suffix(name, suffix) &&
            (!best || strcmp(name, best) > 0)) {
            g_free(best);
            best = g_strdup(name);
        }
    return best;
}

/* Where a run folder stands, without its log: last step and total. */
static void scf_poll_describe(const char *run, gint64 *step, gint64 *total, gboolean *finished)
{
    g_autofree char *model = g_build_filename(run, "model", "config.json", NULL);
    g_autofree char *checkpoints = g_build_filename(run, "checkpoints", NULL);
    g_autofree char *newest = scf_poll_newest(checkpoints, "step-", ".safetensors");
    *total = scf_poll_total(run);
    *finished = g_file_test(model, G_FILE_TEST_IS_REGULAR);
    *step = newest ? g_ascii_strtoll(newest + strlen("step-"), NULL, 10) : 0;
    if (*finished)
        *step = *total;
}

static int scf_poll_compare_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void scf_poll_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancel)
{
    ScfPoll *p = data;
    if (*p->run) {
        g_autofree char *runfile = g_build_filename(p->run, "run.json", NULL);
        p->has_run = g_file_test(runfile, G_FILE_TEST_IS_REGULAR);
        scf_poll_describe(p->run, &p->step, &p->total, &p->finished);
        gint64 logged = scf_poll_metrics(p);
        p->step = MAX(p->step, logged);
        scf_poll_log(p);
        g_autofree char *samples = g_build_filename(p->run, "samples", NULL);
        g_autofree char *sample = scf_poll_newest(samples, "step-", ".png");
        p->sample = sample ? g_build_filename(samples, sample, NULL) : NULL;
    }
    g_autoptr(GDir) d = g_dir_open(p->runs_folder, 0, NULL);
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    for (const char *name; d && (name = g_dir_read_name(d));)
        g_ptr_array_add(names, g_strdup(name));
    g_ptr_array_sort(names, scf_poll_compare_names);
    for (guint i = 0; i < names->len; i++) {
        char *run = g_build_filename(p->runs_folder, names->pdata[i], NULL);
        g_autofree char *runfile = g_build_filename(run, "run.json", NULL);
        if (!g_file_test(runfile, G_FILE_TEST_IS_REGULAR)) {
            g_free(run);
            continue;
        }
        gint64 step, total;
        gboolean finished;
        scf_poll_describe(run, &step, &total, &finished);
        g_ptr_array_add(p->run_dirs, run);
        /* A run goes on from its last checkpoint, which is what is saved. */
        g_ptr_array_add(p->run_texts,
                        finished ? g_strdup_printf(_("Finished: %lld steps"), (long long)total)
                                 : g_strdup_printf(_("Saved at step %lld of %lld"),
                                                   (long long)step, (long long)total));
    }
    g_task_return_boolean(task, TRUE);
}

static void scf_training_controller_polled(GObject *source, GAsyncResult *result, gpointer data)
{
    if (!g_task_propagate_boolean(G_TASK(result), NULL))
        return;  /* the window is gone */
    ScfTrainingController *self = SCF_TRAINING_CONTROLLER(source);
    ScfPoll *p = g_task_get_task_data(G_TASK(result));
    self->polling = FALSE;
    if (g_strcmp0(p->run, self->shown_run) != 0)
        return;  /* the run folder changed meanwhile; the next tick reads the new one */
    if (p->rewound)
        scf_training_view_clear_curves(self->view);
    self->metrics_offset = p->offset;
    for (guint i = 0; i < p->points->len; i++) {
        ScfCurvePoint *pt = &g_array_index(p->points, ScfCurvePoint, i);
        scf_training_view_add_point(self->view, pt->series, pt->step, pt->value);
    }
    self->step = p->step;
    self->total = p->total;
    scf_training_view_set_progress(self->view, p->step, p->total,
                                   self->process ? p->rate : NULL);
    if (self->process && p->message)
        scf_training_view_set_status(self->view, p->message);
    g_autoptr(GFile) sample = p->sample ? g_file_new_for_path(p->sample) : NULL;
    scf_training_view_set_sample(self->view, sample);
    self->finished = p->finished;
    self->resumable = p->has_run && !p->finished;

    GString *key = g_string_new(NULL);
    for (guint i = 0; i < p->run_dirs->len; i++)
        g_string_append_printf(key, "%s\n%s\n", (char *)p->run_dirs->pdata[i],
                               (char *)p->run_texts->pdata[i]);
    g_autofree char *runs_key = g_string_free(key, FALSE);
    if (g_strcmp0(runs_key, self->runs_key) != 0) {
        g_free(self->runs_key);
        self->runs_key = g_steal_pointer(&runs_key);
        scf_training_view_set_runs(self->view, (const char *const *)p->run_dirs->pdata,
                                   (const char *const *)p->run_texts->pdata, p->run_dirs->len);
    }
    scf_training_controller_update(self);
}

static void scf_training_controller_poll(ScfTrainingController *self)
{
    if (self->polling)
        return;
    self->polling = TRUE;
    ScfPoll *p = g_new0(ScfPoll, 1);
    p->run = g_strdup(self->shown_run);
    p->runs_folder = scf_training_controller_runs_folder();
    p->offset = self->metrics_offset;
    p->points = g_array_new(FALSE, FALSE, sizeof(ScfCurvePoint));
    p->run_dirs = g_ptr_array_new_with_free_func(g_free);
    p->run_texts = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GTask) task = g_task_new(self, self->cancellable, scf_training_controller_polled, NULL);
    g_task_set_task_data(task, p, (GDestroyNotify)scf_poll_free);
    g_task_set_return_on_cancel(task, TRUE);
    g_task_run_in_thread(task, scf_poll_thread);
}

static gboolean scf_training_controller_tick(gpointer data)
{
    scf_training_controller_poll(data);
    return G_SOURCE_CONTINUE;
}

/* The run folder in the view is the run the page follows. */
static void scf_training_controller_follow(ScfTrainingController *self)
{
    const char *run = scf_training_view_get_path(self->view, SCF_TRAINING_FIELD_RUN);
    if (g_strcmp0(run, self->shown_run) == 0)
        return;
    g_free(self->shown_run);
    self->shown_run = g_strdup(run);
    self->metrics_offset = 0;
    self->step = self->total = 0;
    self->finished = self->resumable = FALSE;
    scf_training_view_clear_curves(self->view);
    scf_training_view_set_sample(self->view, NULL);
    scf_training_view_set_progress(self->view, 0, 0, NULL);
    if (!self->process)
        scf_training_view_set_status(self->view, NULL);
    scf_training_controller_poll(self);
}

static void scf_training_controller_changed(ScfTrainingController *self)
{
    scf_training_controller_show_gpus(self);
    scf_training_controller_follow(self);
    scf_training_controller_update(self);
}

/* The kind and inputs of a run picked from the list, from its run.json. */
static void scf_training_controller_run_selected(ScfTrainingController *self, const char *run)
{
    g_autofree char *path = g_build_filename(run, "run.json", NULL);
    g_autoptr(JsonParser) parser = json_parser_new();
    if (json_parser_load_from_file(parser, path, NULL) &&
        JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser))) {
        JsonObject *o = json_node_get_object(json_parser_get_root(parser));
        gboolean distill = json_object_has_member(o, "teacher");
        scf_training_view_set_kind(self->view, distill ? SCF_TRAINING_KIND_DISTILL
                                                       : SCF_TRAINING_KIND_TEACHER);
        const char *data = json_object_get_string_member_with_default(o, "data", "");
        g_autofree char *datasets = scf_training_controller_builtin_dataset(DEFAULT_IMAGE_SIZE);
        g_autofree char *datasets_dir = g_path_get_dirname(datasets);
        g_autofree char *data_parent = g_path_get_dirname(data);
        gboolean builtin = g_strcmp0(data_parent, datasets_dir) == 0;
        scf_training_view_set_data_source(self->view, builtin ? SCF_TRAINING_DATA_BUILTIN
                                                              : SCF_TRAINING_DATA_FOLDER);
        if (!builtin)
            scf_training_view_set_path(self->view, SCF_TRAINING_FIELD_DATA, data);
        if (distill)
            scf_training_view_set_path(self->view, SCF_TRAINING_FIELD_TEACHER,
                                       json_object_get_string_member_with_default(o, "teacher", ""));
    }
    scf_training_view_set_path(self->view, SCF_TRAINING_FIELD_RUN, run);
    scf_training_controller_changed(self);
}

/* ---- running ---- */

static void scf_training_controller_child_setup(gpointer data)
{
    /* Its own session: Ctrl+C in the terminal that started the studio, or
     * the terminal closing, does not reach the run. */
    setsid();
}

/* The last line a tool wrote: why it stopped. */
static char *scf_training_controller_last_line(const char *text)
{
    g_auto(GStrv) lines = g_strsplit_set(text ? text : "", "\r\n", -1);
    for (guint i = g_strv_length(lines); i > 0; i--)
        if (*g_strstrip(lines[i - 1]))
            return g_strdup(lines[i - 1]);
    return g_strdup("");
}

static void scf_training_controller_exited(GObject *source, GAsyncResult *result, gpointer data)
{
    g_autoptr(GError) error = NULL;
    if (!g_subprocess_wait_finish(G_SUBPROCESS(source), result, &error) &&
        g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;  /* the window is gone; the run goes on */
    ScfTrainingController *self = data;
    int status = g_subprocess_get_if_exited(G_SUBPROCESS(source))
                     ? g_subprocess_get_exit_status(G_SUBPROCESS(source)) : -1;
    g_clear_object(&self->process);
    scf_training_view_set_progress(self->view, self->step, self->total, NULL);
    /* The tool's own last line says why; read it before saying so. */
    g_autofree char *log = g_build_filename(self->shown_run, LOG_NAME, NULL);
    g_autofree char *text = NULL;
    g_file_get_contents(log, &text, NULL, NULL);
    g_autofree char *last = scf_training_controller_last_line(text);
    g_autofree char *line = status == 0
        ? g_strdup_printf(_("The run ended: %s"), last)
        : g_strdup_printf(_("The run ended (exit status %d): %s"), status, last);
    scf_training_view_set_status(self->view, line);
    /* A stop the user asked for is how a run pauses; anything else that
     * ends it early is an error (another run holds the folder, a bad
     * config, a crash). */
    if (status != 0 && !self->stop_requested)
        scf_training_view_show_error(self->view, *last ? last : line);
    scf_training_controller_poll(self);
    scf_training_controller_update(self);
}

static void scf_training_controller_fail(ScfTrainingController *self, const char *message)
{
    scf_training_view_show_error(self->view, message);
    scf_training_view_set_status(self->view, NULL);
    scf_training_controller_update(self);
}

static void scf_training_controller_spawn(ScfTrainingController *self, const char *const *argv,
                                          gboolean resume)
{
    const char *run = scf_training_view_get_path(self->view, SCF_TRAINING_FIELD_RUN);
    g_autoptr(GError) error = NULL;
    /* The tool takes the folder's lock itself; asking first keeps a refused
     * start from truncating the log of the run that holds it. */
    g_autoptr(scf_run_lock) lock = scf_run_lock_acquire(run, &error);
    if (!lock) {
        scf_training_controller_fail(self, error->message);
        return;
    }
    g_clear_pointer(&lock, scf_run_lock_release);
    g_autofree char *log = g_build_filename(run, LOG_NAME, NULL);
    g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
    g_subprocess_launcher_set_stderr_file_path(launcher, log);
    g_subprocess_launcher_set_child_setup(launcher, scf_training_controller_child_setup, NULL, NULL);
    self->process = g_subprocess_launcher_spawnv(launcher, argv, &error);
    if (!self->process) {
        g_autofree char *text = g_strdup_printf(_("Cannot start %s: %s"), argv[0], error->message);
        scf_training_controller_fail(self, text);
        return;
    }
    self->stop_requested = FALSE;
    g_free(self->running_command);
    self->running_command = scf_training_controller_command_text(argv);
    g_subprocess_wait_async(self->process, self->cancellable, scf_training_controller_exited, self);
    scf_training_view_set_status(self->view, resume ? _("Resuming…") : _("Starting…"));
    /* A resumed run rewrites its metrics back to the checkpoint. */
    g_clear_pointer(&self->shown_run, g_free);
    scf_training_controller_follow(self);
    scf_training_controller_update(self);
}

static void scf_training_controller_built(GObject *source, GAsyncResult *result, gpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *err = NULL;
    gboolean communicated = g_subprocess_communicate_utf8_finish(G_SUBPROCESS(source), result,
                                                                 NULL, &err, &error);
    if (!communicated && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;  /* the window is gone */
    ScfTrainingController *self = data;
    g_clear_object(&self->builder);
    g_auto(GStrv) argv = g_steal_pointer(&self->pending_argv);
    if (communicated && g_subprocess_get_successful(G_SUBPROCESS(source))) {
        scf_training_controller_spawn(self, (const char *const *)argv, FALSE);
        return;
    }
    if (self->stop_requested) {
        scf_training_view_set_status(self->view, _("Stopped before the run started"));
        scf_training_controller_update(self);
        return;
    }
    g_autofree char *last = communicated ? scf_training_controller_last_line(err)
                                         : g_strdup(error->message);
    g_autofree char *text = g_strdup_printf(_("The built-in emoji set could not be built: %s"),
                                            last);
    scf_training_controller_fail(self, text);
}

/* Builds the built-in set, then starts the run argv (taken). */
static void scf_training_controller_build(ScfTrainingController *self, GStrv argv)
{
    g_auto(GStrv) build = scf_training_controller_build_argv(self->view);
    g_autoptr(GError) error = NULL;
    self->builder = g_subprocess_newv((const char *const *)build,
                                      G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
                                          G_SUBPROCESS_FLAGS_STDERR_PIPE,
                                      &error);
    if (!self->builder) {
        g_autofree char *text = g_strdup_printf(_("Cannot start %s: %s"), build[0], error->message);
        scf_training_controller_fail(self, text);
        g_strfreev(argv);
        return;
    }
    self->stop_requested = FALSE;
    self->pending_argv = argv;
    g_free(self->running_command);
    self->running_command = scf_training_controller_preview(self, FALSE);
    g_subprocess_communicate_utf8_async(self->builder, NULL, self->cancellable,
                                        scf_training_controller_built, self);
    scf_training_view_set_status(self->view, _("Building the built-in emoji set (once)…"));
    scf_training_controller_update(self);
}

static void scf_training_controller_launch(ScfTrainingController *self, gboolean resume)
{
    const char *run = scf_training_view_get_path(self->view, SCF_TRAINING_FIELD_RUN);
    g_autofree char *runfile = g_build_filename(run, "run.json", NULL);
    scf_training_view_show_error(self->view, NULL);
    if (!resume && g_file_test(runfile, G_FILE_TEST_EXISTS)) {
        g_autofree char *text = g_strdup_printf(_("%s already holds a run: resume it, or choose another run folder"), run);
        scf_training_controller_fail(self, text);
        return;
    }
    if (g_mkdir_with_parents(run, 0755) != 0) {
        g_autofree char *text = g_strdup_printf(_("Cannot make the run folder %s: %s"), run,
                                                g_strerror(errno));
        scf_training_controller_fail(self, text);
        return;
    }
    GStrv argv = scf_training_controller_command(self, resume);
    if (scf_training_controller_needs_build(self->view, resume)) {
        scf_training_controller_build(self, argv);
        return;
    }
    scf_training_controller_spawn(self, (const char *const *)argv, resume);
    g_strfreev(argv);
}

static void scf_training_controller_start_activated(GSimpleAction *a, GVariant *p, gpointer data)
{
    scf_training_controller_launch(data, FALSE);
}

static void scf_training_controller_resume_activated(GSimpleAction *a, GVariant *p, gpointer data)
{
    scf_training_controller_launch(data, TRUE);
}

static void scf_training_controller_stop_activated(GSimpleAction *a, GVariant *p, gpointer data)
{
    ScfTrainingController *self = data;
    GSubprocess *child = self->process ? self->process : self->builder;
    if (!child)
        return;
    self->stop_requested = TRUE;
    /* The tool takes SIGTERM as "checkpoint, then stop"; a dataset build
     * just ends (its files are written atomically). */
    g_subprocess_send_signal(child, SIGTERM);
    scf_training_view_set_status(self->view, self->process ? _("Stopping after a checkpoint…")
                                                           : _("Stopping…"));
}

/* The finished run's model on the Generate page: the run folder becomes the
 * models folder, and its model/ the model chosen. */
static void scf_training_controller_open_activated(GSimpleAction *a, GVariant *p, gpointer data)
{
    ScfTrainingController *self = data;
    g_settings_set_string(self->settings, "default-model", "model");
    g_settings_set_string(self->settings, "models-folder", self->shown_run);
    gtk_widget_activate_action(GTK_WIDGET(self->window), "win.page", "s", "generate");
}

static const GActionEntry training_actions[] = {
    { .name = "training-start", .activate = scf_training_controller_start_activated },
    { .name = "training-stop", .activate = scf_training_controller_stop_activated },
    { .name = "training-resume", .activate = scf_training_controller_resume_activated },
    { .name = "training-open", .activate = scf_training_controller_open_activated },
};

static void scf_training_controller_dispose(GObject *object)
{
    ScfTrainingController *self = SCF_TRAINING_CONTROLLER(object);
    g_clear_handle_id(&self->tick, g_source_remove);
    g_clear_object(&self->process);
    g_clear_object(&self->builder);
    g_clear_pointer(&self->pending_argv, g_strfreev);
    g_clear_object(&self->cancellable);
    g_clear_object(&self->settings);
    G_OBJECT_CLASS(scf_training_controller_parent_class)->dispose(object);
}

static void scf_training_controller_finalize(GObject *object)
{
    ScfTrainingController *self = SCF_TRAINING_CONTROLLER(object);
    g_free(self->shown_run);
    g_free(self->runs_key);
    g_free(self->running_command);
    G_OBJECT_CLASS(scf_training_controller_parent_class)->finalize(object);
}

static void scf_training_controller_class_init(ScfTrainingControllerClass *klass)
{
    G_OBJECT_CLASS(klass)->dispose = scf_training_controller_dispose;
    G_OBJECT_CLASS(klass)->finalize = scf_training_controller_finalize;
}

static void scf_training_controller_init(ScfTrainingController *self)
{
    self->cancellable = g_cancellable_new();
    self->cuda_gpus = -1;
}

static void scf_training_controller_probe_thread(GTask *task, gpointer source, gpointer data,
                                                 GCancellable *cancel)
{
    g_task_return_int(task, scf_device_cuda_count());
}

static void scf_training_controller_probed(GObject *source, GAsyncResult *result, gpointer data)
{
    gssize n = g_task_propagate_int(G_TASK(result), NULL);
    if (n < 0)
        return;  /* the window is gone */
    ScfTrainingController *self = SCF_TRAINING_CONTROLLER(source);
    self->cuda_gpus = (int)n;
    scf_training_controller_show_gpus(self);
    scf_training_controller_update(self);
}

/* Counts the GPUs off the main thread: the first CUDA call starts the
 * runtime, which takes a while on a machine that has GPUs. */
static void scf_training_controller_probe_gpus(ScfTrainingController *self)
{
    g_autoptr(GTask) task = g_task_new(self, self->cancellable, scf_training_controller_probed,
                                       NULL);
    g_task_set_return_on_cancel(task, TRUE);
    g_task_run_in_thread(task, scf_training_controller_probe_thread);
}

/* The window is going: nothing more reaches its view; a run goes on. */
static void scf_training_controller_detach(gpointer data)
{
    ScfTrainingController *self = data;
    g_cancellable_cancel(self->cancellable);
    g_clear_handle_id(&self->tick, g_source_remove);
    g_object_unref(self);
}

ScfTrainingController *scf_training_controller_attach(GtkApplicationWindow *window,
                                                      ScfTrainingView *view, GSettings *settings)
{
    ScfTrainingController *self = g_object_new(SCF_TYPE_TRAINING_CONTROLLER, NULL);
    self->window = window;
    self->view = view;
    self->settings = g_object_ref(settings);
    g_object_set_data_full(G_OBJECT(window), "scf-training-controller", self,
                           scf_training_controller_detach);
    g_action_map_add_action_entries(G_ACTION_MAP(window), training_actions,
                                    G_N_ELEMENTS(training_actions), self);
    /* A first run works as it stands: the shipped teacher config, the
     * embedded teacher as the one to distil, the built-in emoji set. */
    g_autofree char *config = scf_model_catalog_data_path(DEFAULT_CONFIG);
    g_autofree char *teacher = scf_model_catalog_embedded_teacher_dir();
    if (config && !*scf_training_view_get_path(view, SCF_TRAINING_FIELD_CONFIG))
        scf_training_view_set_path(view, SCF_TRAINING_FIELD_CONFIG, config);
    if (teacher && !*scf_training_view_get_path(view, SCF_TRAINING_FIELD_TEACHER))
        scf_training_view_set_path(view, SCF_TRAINING_FIELD_TEACHER, teacher);
    if (!*scf_training_view_get_path(view, SCF_TRAINING_FIELD_RUN)) {
        g_autofree char *runs = scf_training_controller_runs_folder();
        g_autoptr(GDateTime) now = g_date_time_new_now_local();
        g_autofree char *name = g_date_time_format(now, "run-%Y%m%d-%H%M%S");
        g_autofree char *run = g_build_filename(runs, name, NULL);
        scf_training_view_set_path(view, SCF_TRAINING_FIELD_RUN, run);
    }
    g_signal_connect_object(view, "changed", G_CALLBACK(scf_training_controller_changed), self,
                            G_CONNECT_SWAPPED);
    g_signal_connect_object(view, "run-selected", G_CALLBACK(scf_training_controller_run_selected),
                            self, G_CONNECT_SWAPPED);
    g_signal_connect_object(settings, "changed::device", G_CALLBACK(scf_training_controller_changed),
                            self, G_CONNECT_SWAPPED);
    self->tick = g_timeout_add_seconds(1, scf_training_controller_tick, self);
    scf_training_controller_probe_gpus(self);
    scf_training_controller_changed(self);
    return self;
}
