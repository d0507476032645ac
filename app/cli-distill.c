/* `scflow distill`: SCFlow distillation of a teacher into a one-step /
 * few-step student, with the same progress and stop behaviour as training. */
#include "cli.h"
#include "cli-run.h"
#include "distill.h"
#include <stdio.h>

int scf_cli_distill(int argc, char **argv)
{
    g_autofree char *teacher = NULL, *data = NULL, *out = NULL, *config = NULL, *ablation = NULL,
                    *device = NULL, *devices = NULL;
    gboolean resume = FALSE, quiet = FALSE;
    int threads = 0, gpus = 0;
    gint64 steps = SCF_CLI_RUN_ALL_STEPS;
    GOptionEntry entries[] = {
        { "teacher", 0, 0, G_OPTION_ARG_FILENAME, &teacher, "Teacher model folder", "DIR" },
        { "data", 0, 0, G_OPTION_ARG_FILENAME, &data, "Folder of images with .txt captions", "DIR" },
        { "out", 0, 0, G_OPTION_ARG_FILENAME, &out, "Run folder", "RUN" },
        { "config", 0, 0, G_OPTION_ARG_FILENAME, &config, "Distillation settings (JSON object; defaults: SCFLOW.md)", "FILE" },
        { "ablation", 0, 0, G_OPTION_ARG_STRING, &ablation, "full, cd, cd+trunc, cd+trunc+bidir or cd+trunc+bidir+reflow", "NAME" },
        { "resume", 0, 0, G_OPTION_ARG_NONE, &resume, "Continue the run in RUN from its last checkpoint", NULL },
        SCF_CLI_RUN_STEPS_OPTION(steps),
        { "device", 0, 0, G_OPTION_ARG_STRING, &device, "auto, cpu, cuda or cuda:N (default auto)", "DEV" },
        SCF_CLI_RUN_DEVICE_OPTIONS(devices, gpus),
        { "threads", 0, 0, G_OPTION_ARG_INT, &threads, "CPU threads (default: all cores)", "N" },
        { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "No progress output", NULL },
        { NULL },
    };
    if (!scf_cli_parse("distill", "distil a teacher into a one-step student with SCFlow", entries,
                       &argc, &argv))
        return SCF_EXIT_USAGE;
    if (!out || (!resume && (!teacher || !data)) || argc != 1 || threads < 0) {
        fprintf(stderr, "scflow distill: needs --out RUN and either --resume or both --teacher DIR "
                        "and --data DIR\nTry 'scflow distill --help'.\n");
        return SCF_EXIT_USAGE;
    }
    steps = scf_cli_run_steps("distill", steps);
    if (steps < 0)
        return SCF_EXIT_USAGE;
    g_autofree char *list = scf_cli_run_device_list("distill", device, devices, gpus);
    if (!list)
        return SCF_EXIT_USAGE;
    gboolean made;
    g_autoptr(scf_run_lock) lock = scf_cli_run_lock("distill", out, !resume, &made);
    if (!lock)
        return SCF_EXIT_RUNTIME;
    scf_collective *devs = scf_cli_run_open_devices("distill", list, threads, quiet);
    if (!devs) {
        if (!resume)
            scf_cli_run_unstart(out, FALSE, made);
        return SCF_EXIT_RUNTIME;
    }
    g_autoptr(GError) error = NULL;
    scf_backend *be = scf_collective_backend(devs, 0);
    scf_distiller *d = resume ? scf_distiller_resume(out, be, &error)
                              : scf_distiller_new(out, teacher, data, config, ablation, be, &error);
    const gboolean started = d != NULL;
    if (d && !scf_distiller_data_parallel(d, devs, &error))
        g_clear_pointer(&d, scf_distiller_free);
    if (!d) {
        if (!resume)
            scf_cli_run_unstart(out, started, made);
        fprintf(stderr, "scflow distill: %s\n", error->message);
        scf_collective_free(devs);
        return SCF_EXIT_RUNTIME;
    }
    const scf_distill_config *c = scf_distiller_config(d);
    if (!quiet)
        fprintf(stderr, "%s run %s (%s) at step %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT " on %s\n",
                resume ? "Resuming" : "Starting", out, scf_distill_config_ablation_name(c),
                scf_distiller_step(d), c->steps, scf_collective_name(devs));
    scf_cli_run_view view;
    scf_cli_run_view_begin(&view, quiet);
    gboolean ok = scf_distiller_run(d, steps, scf_cli_run_progress, &view, &error);
    scf_cli_run_view_end(&view);
    if (!ok)
        fprintf(stderr, "scflow distill: %s\n", error->message);
    else if (!quiet)
        fprintf(stderr, "Stopped at step %" G_GINT64_FORMAT "%s\n", scf_distiller_step(d),
                scf_distiller_step(d) >= c->steps ? " (done; student exported to RUN/model)" : "");
    scf_distiller_free(d);
    scf_collective_free(devs);
    return ok ? SCF_EXIT_OK : SCF_EXIT_RUNTIME;
}
