/* `scflow compare`: one prompt and seed at several step counts (and a
 * teacher), side by side with the time per image, and the step-consistency
 * figure SCFlow is about: how far the N-step images are from one another. */
#include "cli.h"
#include "compare-grid.h"
#include "generation-params.h"
#include <stdio.h>
#include <string.h>

#define MAX_COLUMNS 16

typedef struct {
    scf_model *model;
    int steps;
    float *pixels;
    double ms;
    char *label;
} column;

static gboolean run_column(column *c, const scf_sample_request *base, GError **error)
{
    scf_sample_request r = *base;
    r.steps = c->steps;
    r.guidance = base->guidance >= 0 ? base->guidance : c->model->default_guidance;
    scf_sampler *s = scf_sampler_new(c->model);
    size_t n = (size_t)c->model->channels * c->model->image_size * c->model->image_size;
    c->pixels = g_new(float, n);
    /* the first call sizes memory and fills the prompt cache: time the second */
    gboolean ok = scf_sampler_run(s, &r, c->pixels, NULL, NULL, error);
    gint64 t0 = g_get_monotonic_time();
    ok = ok && scf_sampler_run(s, &r, c->pixels, NULL, NULL, error);
    c->ms = (g_get_monotonic_time() - t0) / 1e3;
    scf_sampler_free(s);
    return ok;
}

int scf_cli_compare(int argc, char **argv)
{
    g_autofree char *model_dir = NULL, *teacher_dir = NULL, *prompt = NULL, *negative = NULL,
                    *steps_text = NULL, *out = NULL, *device = NULL, *precision_text = NULL;
    gint64 seed = 0;
    int teacher_steps = 0, threads = 0, scale = 4;
    double guidance = -1;
    GOptionEntry entries[] = {
        { "model", 'm', 0, G_OPTION_ARG_FILENAME, &model_dir, "Model folder (default: the embedded model)", "DIR" },
        { "prompt", 'p', 0, G_OPTION_ARG_STRING, &prompt, "What to draw", "TEXT" },
        { "negative", 'n', 0, G_OPTION_ARG_STRING, &negative, "Negative prompt", "TEXT" },
        { "seed", 0, 0, G_OPTION_ARG_INT64, &seed, "Seed, the same noise for every column (default 0)", "S" },
        { "steps", 's', 0, G_OPTION_ARG_STRING, &steps_text, "Step counts, comma-separated (default 1,2,4)", "N,N,..." },
        { "guidance", 'g', 0, G_OPTION_ARG_DOUBLE, &guidance, "Guidance scale (default: each model's)", "W" },
        { "teacher", 0, 0, G_OPTION_ARG_FILENAME, &teacher_dir, "A teacher model to show beside them", "DIR" },
        { "teacher-steps", 0, 0, G_OPTION_ARG_INT, &teacher_steps, "The teacher's steps (default: its own)", "N" },
        { "scale", 0, 0, G_OPTION_ARG_INT, &scale, "Enlarge each image this many times, 1-16 (default 4)", "K" },
        { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Output PNG", "FILE" },
        { "device", 'd', 0, G_OPTION_ARG_STRING, &device, "auto, cpu, cuda or cuda:N (default auto)", "DEV" },
        SCF_CLI_PRECISION_OPTION(precision_text),
        { "threads", 't', 0, G_OPTION_ARG_INT, &threads, "CPU threads (default: all cores)", "N" },
        { NULL },
    };
    if (!scf_cli_parse("compare", "one prompt and seed at 1, 2, 4 … steps, side by side", entries,
                       &argc, &argv))
        return SCF_EXIT_USAGE;
    int steps[MAX_COLUMNS], n = 0;
    if (!prompt || !out || argc != 1) {
        fprintf(stderr, "scflow compare: --prompt TEXT and --out FILE are required\n"
                        "Try 'scflow compare --help'.\n");
        return SCF_EXIT_USAGE;
    }
    if (!scf_cli_parse_steps(steps_text ? steps_text : "1,2,4", steps, MAX_COLUMNS - 1, &n) ||
        seed < 0 || teacher_steps < 0 || teacher_steps > 1000 || scale < 1 || scale > 16 || threads < 0) {
        fprintf(stderr, "scflow compare: --steps takes up to %d numbers from 1 to 1000; --seed, "
                        "--teacher-steps (<= 1000), --scale (1-16) and --threads must be in range\n",
                MAX_COLUMNS - 1);
        return SCF_EXIT_USAGE;
    }
    scf_precision precision;
    if (!scf_cli_parse_precision("compare", precision_text, &precision))
        return SCF_EXIT_USAGE;
    scf_backend *be = scf_cli_open_device_precision("compare", device, precision, threads, FALSE);
    if (!be)
        return SCF_EXIT_RUNTIME;
    scf_model *student = scf_cli_load_model("compare", model_dir, be);
    scf_model *teacher = student && teacher_dir ? scf_cli_load_model("compare", teacher_dir, be) : NULL;
    int rc = SCF_EXIT_RUNTIME;
    column cols[MAX_COLUMNS] = { 0 };
    int ncols = 0;
    g_autoptr(GError) error = NULL;
    if (!student || (teacher_dir && !teacher))
        goto done;
    if (teacher && teacher->image_size != student->image_size) {
        fprintf(stderr, "scflow compare: the teacher makes %dx%d images, the model %dx%d\n",
                teacher->image_size, teacher->image_size, student->image_size, student->image_size);
        goto done;
    }
    for (int i = 0; i < n; i++)
        cols[ncols++] = (column){ student, steps[i] };
    if (teacher)
        cols[ncols++] = (column){ teacher, teacher_steps ? teacher_steps : teacher->default_steps };
    scf_sample_request base = { prompt, negative, 1, (float)guidance, (uint64_t)seed, 1 };
    scf_image *tiles[MAX_COLUMNS] = { 0 };
    const char *labels[MAX_COLUMNS];
    gboolean ok = TRUE;
    for (int i = 0; ok && i < ncols; i++) {
        ok = run_column(&cols[i], &base, &error);
        if (!ok)
            break;
        cols[i].label = scf_compare_grid_label(cols[i].model == teacher, cols[i].steps, cols[i].ms);
        labels[i] = cols[i].label;
        tiles[i] = scf_image_from_chw(cols[i].pixels, student->channels, student->image_size,
                                      student->image_size, &error);
        ok = tiles[i] != NULL;
        printf("%-22s %8.1f ms\n", cols[i].label, cols[i].ms);
    }
    if (ok) {
        /* step consistency: every pair of columns */
        size_t npix = (size_t)student->channels * student->image_size * student->image_size;
        printf("\nmean absolute difference (0-1 intensity) between columns:\n");
        for (int i = 0; i < ncols; i++)
            for (int j = i + 1; j < ncols; j++)
                printf("  %-22s vs %-22s %.4f\n", cols[i].label, cols[j].label,
                       scf_metric_mad(cols[i].pixels, cols[j].pixels, npix));
        scf_image *grid = scf_compare_grid(tiles, labels, ncols, scale, &error);
        scf_gen_params p;
        scf_generation_fill_params(&p, student, be, &(scf_sample_request){ prompt, negative, steps[0],
                                   guidance >= 0 ? (float)guidance : student->default_guidance,
                                   (uint64_t)seed, 1 }, 0);
        g_autofree char *list = steps_text ? g_strdup(steps_text) : g_strdup("1,2,4");
        scf_gen_params_set_extra(&p, "Compare steps", list);
        ok = grid && scf_png_write(out, grid, &p, &error);
        scf_gen_params_clear(&p);
        scf_image_free(grid);
        if (ok)
            printf("\nwrote %s\n", out);
    }
    for (int i = 0; i < ncols; i++) {
        scf_image_free(tiles[i]);
        g_free(cols[i].pixels);
        g_free(cols[i].label);
    }
    if (!ok)
        fprintf(stderr, "scflow compare: %s\n", error->message);
    rc = ok ? SCF_EXIT_OK : SCF_EXIT_RUNTIME;
done:
    scf_model_free(teacher);
    scf_model_free(student);
    scf_backend_free(be);
    return rc;
}
