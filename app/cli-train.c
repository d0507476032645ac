/* `scflow train`: teacher training from the command line, with a progress
 * bar, and Ctrl+C stopping cleanly after a checkpoint. */
#include "cli.h"
#include "cli-run.h"
#include "scflow.h"
#include "train.h"
#include <stdio.h>

int scf_cli_train(int argc, char **argv)
{
    g_autofree char *data = NULL, *config = NULL, *out = NULL, *device = NULL, *init = NULL,
                    *devices = NULL;
    gboolean resume = FALSE, quiet = FALSE, export_only = FALSE;
    int threads = 0, gpus = 0;
    gint64 steps = SCF_CLI_RUN_ALL_STEPS;
    GOptionEntry entries[] = {
        { "data", 0, 0, G_OPTION_ARG_FILENAME, &data, "Folder of images with .txt captions", "DIR" },
        { "config", 0, 0, G_OPTION_ARG_FILENAME, &config, "Model config (JSON) with an optional \"training\" object", "FILE" },
        { "out", 0, 0, G_OPTION_ARG_FILENAME, &out, "Run folder", "RUN" },
        { "init", 0, 0, G_OPTION_ARG_FILENAME, &init, "Continue from this model folder's weights and tokenizer (the config then gives only the training settings)", "MODEL" },
        { "resume", 0, 0, G_OPTION_ARG_NONE, &resume, "Continue the run in RUN from its last checkpoint", NULL },
        { "export", 0, 0, G_OPTION_ARG_NONE, &export_only, "With --resume: only export the EMA model of the latest checkpoint to RUN/model", NULL },
        SCF_CLI_RUN_STEPS_OPTION(steps),
        { "device", 0, 0, G_OPTION_ARG_STRING, &device, "auto, cpu, cuda or cuda:N (default auto)", "DEV" },
        SCF_CLI_RUN_DEVICE_OPTIONS(devices, gpus),
        { "threads", 0, 0, G_OPTION_ARG_INT, &threads, "CPU threads (default: all cores)", "N" },
        { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "No progress output", NULL },
        { NULL },
    };
    if (!scf_cli_parse("train", "train a flow-matching teacher", entries, &argc, &argv))
        return SCF_EXIT_USAGE;
    if (!out || (!resume && (!data || !config)) || (export_only && !resume) || argc != 1 ||
        threads < 0) {
        fprintf(stderr, "scflow train: needs --out RUN and either --resume or both --data DIR and "
                        "--config FILE\nTry 'scflow train --help'.\n");
        return SCF_EXIT_USAGE;
    }
    steps = scf_cli_run_steps("train", steps);
    if (steps < 0)
        return SCF_EXIT_USAGE;
    g_autofree char *list = scf_cli_run_device_list("train", device, devices, gpus);
    if (!list)
        return SCF_EXIT_USAGE;
    /* Before anything else: a second run must not get as far as reading the
     * folder the first one is writing. */
    gboolean made;
    g_autoptr(scf_run_lock) lock = scf_cli_run_lock("train", out, !resume, &made);
    if (!lock)
        return SCF_EXIT_RUNTIME;
    scf_collective *devs = scf_cli_run_open_devices("train", list, threads, quiet);
    if (!devs) {
        if (!resume)
            scf_cli_run_unstart(out, FALSE, made);
        return SCF_EXIT_RUNTIME;
    }
    g_autoptr(GError) error = NULL;
    scf_backend *be = scf_collective_backend(devs, 0);
    scf_trainer *t = resume ? scf_trainer_resume(out, be, &error)
                            : scf_trainer_new(out, config, data, init, be, &error);
    const gboolean started = t != NULL;
    if (t && !scf_trainer_data_parallel(t, devs, &error))
        g_clear_pointer(&t, scf_trainer_free);
    if (!t) {
        if (!resume)
            scf_cli_run_unstart(out, started, made);
        fprintf(stderr, "scflow train: %s\n", error->message);
        scf_collective_free(devs);
        return SCF_EXIT_RUNTIME;
    }
    if (!quiet)
        fprintf(stderr, "%s run %s at step %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT " on %s\n",
                resume ? "Resuming" : "Starting", out, scf_trainer_step(t),
                scf_trainer_config(t)->steps, scf_collective_name(devs));
    gboolean ok;
    if (export_only) {
        ok = scf_trainer_export(t, &error);
        if (ok && !quiet)
            fprintf(stderr, "exported step %" G_GINT64_FORMAT " to %s/model\n", scf_trainer_step(t), out);
    } else {
        scf_cli_run_view view;
        scf_cli_run_view_begin(&view, quiet);
        ok = scf_trainer_run(t, steps, scf_cli_run_progress, &view, &error);
        scf_cli_run_view_end(&view);
    }
    int rc = SCF_EXIT_OK;
    if (!ok) {
        fprintf(stderr, "scflow train: %s\n", error->message);
        rc = SCF_EXIT_RUNTIME;
    } else if (!quiet && !export_only) {
        fprintf(stderr, "Stopped at step %" G_GINT64_FORMAT "%s\n", scf_trainer_step(t),
                scf_trainer_step(t) >= scf_trainer_config(t)->steps ? " (done; model exported to RUN/model)" : "");
    }
    scf_trainer_free(t);
    scf_collective_free(devs);
    return rc;
}
