/* `scflow train`: teacher training from the command line, with a progress
 * bar, and Ctrl+C stopping cleanly after a checkpoint. */
#include "cli.h"
#include "progress.h"
#include "scflow.h"
#include "train.h"
#include <glib-unix.h>
#include <stdio.h>

static volatile gboolean stop_requested;

static gboolean on_signal(gpointer data)
{
    stop_requested = TRUE;
    return G_SOURCE_CONTINUE;
}

typedef struct {
    gboolean quiet;
    gint64 last_line;
} train_view;

static gboolean on_progress(const scf_train_progress *p, gpointer user)
{
    train_view *v = user;
    /* signals arrive through the main context; the loop is ours */
    while (g_main_context_iteration(NULL, FALSE))
        ;
    if (p->event) {
        if (!v->quiet) {
            scf_progress_finish();
            fprintf(stderr, "%s: %s\n", p->event, p->path);
        }
        return !stop_requested;
    }
    gint64 now = g_get_monotonic_time();
    if (!v->quiet && (now - v->last_line > 250000 || p->step == p->total)) {
        char eta[32], text[160];
        g_snprintf(text, sizeof text, "loss %.4f  |g| %.3f  %.1f img/s  ETA %s", p->loss,
                   p->grad_norm, p->images_per_s,
                   scf_progress_format_duration(p->eta_s, eta, sizeof eta));
        scf_progress_draw(p->step, p->total, text);
        v->last_line = now;
    }
    return !stop_requested;
}

int scf_cli_train(int argc, char **argv)
{
    g_autofree char *data = NULL, *config = NULL, *out = NULL, *device = NULL, *init = NULL;
    gboolean resume = FALSE, quiet = FALSE;
    int threads = 0;
    gint64 steps = 0;
    GOptionEntry entries[] = {
        { "data", 0, 0, G_OPTION_ARG_FILENAME, &data, "Folder of images with .txt captions", "DIR" },
        { "config", 0, 0, G_OPTION_ARG_FILENAME, &config, "Model config (JSON) with an optional \"training\" object", "FILE" },
        { "out", 0, 0, G_OPTION_ARG_FILENAME, &out, "Run folder", "RUN" },
        { "init", 0, 0, G_OPTION_ARG_FILENAME, &init, "Continue from this model folder's weights and tokenizer (the config then gives only the training settings)", "MODEL" },
        { "resume", 0, 0, G_OPTION_ARG_NONE, &resume, "Continue the run in RUN from its last checkpoint", NULL },
        { "steps", 0, 0, G_OPTION_ARG_INT64, &steps, "Stop after this many more steps (default: run to the end)", "N" },
        { "device", 0, 0, G_OPTION_ARG_STRING, &device, "auto, cpu, cuda or cuda:N (default auto)", "DEV" },
        { "threads", 0, 0, G_OPTION_ARG_INT, &threads, "CPU threads (default: all cores)", "N" },
        { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "No progress output", NULL },
        { NULL },
    };
    if (!scf_cli_parse("train", "train a flow-matching teacher", entries, &argc, &argv))
        return SCF_EXIT_USAGE;
    if (!out || (!resume && (!data || !config)) || argc != 1 || steps < 0 || threads < 0) {
        fprintf(stderr, "scflow train: needs --out RUN and either --resume or both --data DIR and "
                        "--config FILE\nTry 'scflow train --help'.\n");
        return SCF_EXIT_USAGE;
    }
    g_autoptr(GError) error = NULL;
    g_autofree char *notice = NULL;
    scf_backend *be = scf_device_open(device ? device : "auto", threads, &notice, &error);
    if (!be) {
        fprintf(stderr, "scflow train: %s\n", error->message);
        return SCF_EXIT_RUNTIME;
    }
    if (notice && !quiet)
        fprintf(stderr, "scflow train: %s\n", notice);
    scf_trainer *t = resume ? scf_trainer_resume(out, be, &error)
                            : scf_trainer_new(out, config, data, init, be, &error);
    if (!t) {
        fprintf(stderr, "scflow train: %s\n", error->message);
        scf_backend_free(be);
        return SCF_EXIT_RUNTIME;
    }
    if (!quiet)
        fprintf(stderr, "%s run %s at step %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT " on %s\n",
                resume ? "Resuming" : "Starting", out, scf_trainer_step(t),
                scf_trainer_config(t)->steps, be->name);
    guint sigint = g_unix_signal_add(SIGINT, on_signal, NULL);
    guint sigterm = g_unix_signal_add(SIGTERM, on_signal, NULL);
    train_view view = { quiet, 0 };
    gboolean ok = scf_trainer_run(t, steps, on_progress, &view, &error);
    scf_progress_finish();
    g_source_remove(sigint);
    g_source_remove(sigterm);
    int rc = SCF_EXIT_OK;
    if (!ok) {
        fprintf(stderr, "scflow train: %s\n", error->message);
        rc = SCF_EXIT_RUNTIME;
    } else if (!quiet) {
        fprintf(stderr, "Stopped at step %" G_GINT64_FORMAT "%s\n", scf_trainer_step(t),
                scf_trainer_step(t) >= scf_trainer_config(t)->steps ? " (done; model exported to RUN/model)" : "");
    }
    scf_trainer_free(t);
    scf_backend_free(be);
    return rc;
}
