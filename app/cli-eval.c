/* `scflow eval`: a model (and its teacher) measured on an image+caption
 * folder at several step counts (core/eval.h), written as results.json,
 * results.md and one picture per subset: for its first prompts, the real
 * image under its caption and every model@N sample under its N and its PSNR
 * to the real image, side by side. */
#include "cli.h"
#include "compare-grid.h"
#include "progress.h"
#include "run.h"
#include <errno.h>
#include <stdio.h>

typedef struct {
    gboolean quiet;
    gint64 last_draw;
} eval_view;

static gboolean on_progress(const scf_eval_progress *p, gpointer user)
{
    eval_view *v = user;
    gint64 now = g_get_monotonic_time();
    if (v->quiet || (now - v->last_draw < 250000 && p->images_done < p->images_total))
        return TRUE;
    char eta[32], text[256];
    g_snprintf(text, sizeof text, "%s %s  ETA %s", p->phase, p->label,
               scf_progress_format_duration(p->eta_s, eta, sizeof eta));
    scf_progress_draw(p->images_done, p->images_total, text);
    v->last_draw = now;
    return TRUE;
}

/* Each image enlarged to about 128 pixels, so that labels fit under it. */
static int grid_scale(int size)
{
    return CLAMP(128 / size, 1, 16);
}

/* One line of the picture: the real image, then each row's sample. */
static scf_image *grid_line(const scf_eval_results *r, int split, int k, GError **error)
{
    const size_t img = (size_t)r->channels * r->image_size * r->image_size;
    const int n = 1 + r->n_rows;
    scf_image **tiles = g_new0(scf_image *, n);
    char **labels = g_new0(char *, n + 1);
    const float *real = r->grid_real[split] + k * img;
    gboolean ok = (tiles[0] = scf_image_from_chw(real, r->channels, r->image_size, r->image_size,
                                                 error)) != NULL;
    labels[0] = g_strdup(r->grid_captions[split][k]);
    for (int i = 0; ok && i < r->n_rows; i++) {
        const float *x = r->rows[i].grid[split] + k * img;
        labels[1 + i] = g_strdup_printf("%sN=%d · %.1f dB", r->rows[i].teacher ? "teacher " : "",
                                        r->rows[i].steps, scf_metric_psnr(x, real, img));
        ok = (tiles[1 + i] = scf_image_from_chw(x, r->channels, r->image_size, r->image_size,
                                                error)) != NULL;
    }
    scf_image *line = ok ? scf_compare_grid(tiles, (const char *const *)labels, n,
                                            grid_scale(r->image_size), error)
                         : NULL;
    for (int i = 0; i < n; i++)
        scf_image_free(tiles[i]);
    g_free(tiles);
    g_strfreev(labels);
    return line;
}

static gboolean write_grid(const scf_eval_results *r, int split, const char *path, GError **error)
{
    const int n = r->n_grid[split];
    scf_image **lines = g_new0(scf_image *, n);
    gboolean ok = TRUE;
    for (int k = 0; ok && k < n; k++)
        ok = (lines[k] = grid_line(r, split, k, error)) != NULL;
    if (ok) {
        static const uint8_t white[3] = { 255, 255, 255 };
        scf_image *sheet = scf_image_grid(lines, n, 1, 0, white, error);
        ok = sheet && scf_png_write(path, sheet, NULL, error);
        scf_image_free(sheet);
    }
    for (int k = 0; k < n; k++)
        scf_image_free(lines[k]);
    g_free(lines);
    return ok;
}

static gboolean write_outputs(const scf_eval_results *r, const char *out, GError **error)
{
    if (g_mkdir_with_parents(out, 0755) != 0) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_IO, "cannot create %s: %s", out, g_strerror(errno));
        return FALSE;
    }
    g_autofree char *json = scf_eval_results_to_json(r);
    g_autofree char *md = scf_eval_results_to_markdown(r);
    g_autofree char *json_path = g_build_filename(out, "results.json", NULL);
    g_autofree char *md_path = g_build_filename(out, "results.md", NULL);
    if (!scf_run_write_file(json_path, json, error) || !scf_run_write_file(md_path, md, error))
        return FALSE;
    static const char *const names[SCF_EVAL_N_SPLITS] = { "grid-train.png", "grid-held-out.png" };
    for (int s = 0; s < SCF_EVAL_N_SPLITS; s++) {
        if (!r->n_grid[s])
            continue;
        g_autofree char *path = g_build_filename(out, names[s], NULL);
        if (!write_grid(r, s, path, error))
            return FALSE;
    }
    return TRUE;
}

int scf_cli_eval(int argc, char **argv)
{
    g_autofree char *model_dir = NULL, *teacher_dir = NULL, *data = NULL, *steps_text = NULL,
                    *teacher_steps_text = NULL, *out = NULL, *device = NULL;
    scf_eval_options o;
    scf_eval_options_defaults(&o);
    gint64 seed = 0;
    double guidance = -1;
    int threads = 0;
    gboolean quiet = FALSE;
    GOptionEntry entries[] = {
        { "model", 'm', 0, G_OPTION_ARG_FILENAME, &model_dir, "Model folder (default: the embedded model)", "DIR" },
        { "data", 0, 0, G_OPTION_ARG_FILENAME, &data, "Folder of images with .txt captions (and split.json)", "DIR" },
        { "steps", 's', 0, G_OPTION_ARG_STRING, &steps_text, "The model's step counts (default 1,2,4)", "N,N,..." },
        { "teacher", 0, 0, G_OPTION_ARG_FILENAME, &teacher_dir, "A teacher model to measure too", "DIR" },
        { "teacher-steps", 0, 0, G_OPTION_ARG_STRING, &teacher_steps_text, "The teacher's step counts (default: its own)", "N,N,..." },
        { "limit", 0, 0, G_OPTION_ARG_INT, &o.limit, "Prompts per subset, training and held-out (default 200)", "N" },
        { "seed", 0, 0, G_OPTION_ARG_INT64, &seed, "Prompt p uses seed S + p (default 0)", "S" },
        { "guidance", 'g', 0, G_OPTION_ARG_DOUBLE, &guidance, "Guidance scale (default: each model's)", "W" },
        { "speed-batch", 0, 0, G_OPTION_ARG_INT, &o.speed_batch, "Images per timed batch, 0 for no timing (default 16)", "B" },
        { "grid", 0, 0, G_OPTION_ARG_INT, &o.grid, "Prompts per subset in the pictures (default 16)", "N" },
        { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Folder for results.json, results.md and the pictures", "DIR" },
        { "device", 'd', 0, G_OPTION_ARG_STRING, &device, "auto, cpu, cuda or cuda:N (default auto)", "DEV" },
        { "threads", 't', 0, G_OPTION_ARG_INT, &threads, "CPU threads (default: all cores)", "N" },
        { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "No progress output", NULL },
        { NULL },
    };
    if (!scf_cli_parse("eval", "measure a model at 1, 2, 4 … steps on an image folder", entries,
                       &argc, &argv))
        return SCF_EXIT_USAGE;
    if (!data || !out || argc != 1) {
        fprintf(stderr, "scflow eval: --data DIR and --out DIR are required\n"
                        "Try 'scflow eval --help'.\n");
        return SCF_EXIT_USAGE;
    }
    if (!scf_cli_parse_steps(steps_text ? steps_text : "1,2,4", o.steps, SCF_EVAL_MAX_STEPS,
                             &o.n_steps) ||
        (teacher_steps_text && !scf_cli_parse_steps(teacher_steps_text, o.teacher_steps,
                                                    SCF_EVAL_MAX_STEPS, &o.n_teacher_steps))) {
        fprintf(stderr, "scflow eval: --steps and --teacher-steps take up to %d numbers from 1 to "
                        "1000, comma-separated\n", SCF_EVAL_MAX_STEPS);
        return SCF_EXIT_USAGE;
    }
    o.seed = (uint64_t)seed;
    o.guidance = (float)guidance;
    g_autoptr(GError) error = NULL;
    if (seed < 0 || threads < 0 || (teacher_steps_text && !teacher_dir) ||
        !scf_eval_options_check(&o, &error)) {
        fprintf(stderr, "scflow eval: %s\n", error ? error->message
                                                  : "--seed and --threads must not be negative; "
                                                    "--teacher-steps needs --teacher");
        return SCF_EXIT_USAGE;
    }
    if (!g_file_test(data, G_FILE_TEST_IS_DIR)) {
        fprintf(stderr, "scflow eval: data folder %s does not exist\n", data);
        return SCF_EXIT_RUNTIME;
    }
    scf_backend *be = scf_cli_open_device("eval", device, threads, quiet);
    if (!be)
        return SCF_EXIT_RUNTIME;
    scf_model *model = scf_cli_load_model("eval", model_dir, be);
    scf_model *teacher = model && teacher_dir ? scf_cli_load_model("eval", teacher_dir, be) : NULL;
    int rc = SCF_EXIT_RUNTIME;
    if (model && (!teacher_dir || teacher)) {
        scf_eval_results r;
        eval_view view = { quiet, 0 };
        gboolean ok = scf_eval_run(model, teacher, data, &o, &r, on_progress, &view, &error);
        scf_progress_finish();
        if (ok) {
            ok = write_outputs(&r, out, &error);
            if (ok && !quiet) {
                g_autofree char *md = scf_eval_results_to_markdown(&r);
                printf("%s\nwrote %s/results.json, results.md and the sample grids\n", md, out);
            }
            scf_eval_results_clear(&r);
        }
        if (!ok)
            fprintf(stderr, "scflow eval: %s\n", error->message);
        rc = ok ? SCF_EXIT_OK : SCF_EXIT_RUNTIME;
    }
    scf_model_free(teacher);
    scf_model_free(model);
    scf_backend_free(be);
    return rc;
}
