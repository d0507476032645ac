/* `scflow generate`: prompt to PNG(s) with the settings embedded, so that
 * dropping a file on the app (or any A1111-aware tool) restores them. */
#include "build-config.h"
#include "cli.h"
#include "generation-params.h"
#include "progress.h"
#include <stdio.h>
#include <string.h>

typedef struct {
    gboolean quiet;
    gint64 start;
} step_view;

static gboolean on_step(int step, int steps, gpointer user)
{
    step_view *v = user;
    if (!v->quiet) {
        char text[64];
        g_snprintf(text, sizeof text, "steps  %.0f ms", (g_get_monotonic_time() - v->start) / 1e3);
        scf_progress_draw(step, steps, text);
    }
    return TRUE;
}

/* FILE.png -> FILE-3.png for the images of a batch after the first. */
static char *batch_path(const char *out, int index)
{
    if (index == 0)
        return g_strdup(out);
    const char *dot = strrchr(out, '.');
    const char *slash = strrchr(out, '/');
    if (!dot || (slash && dot < slash))
        return g_strdup_printf("%s-%d", out, index + 1);
    return g_strdup_printf("%.*s-%d%s", (int)(dot - out), out, index + 1, dot);
}

/* Samples, writes the PNGs (and gallery rows when gallery is not NULL) and
 * reports; returns the exit status. */
static int generate(scf_model *m, scf_backend *be, const scf_sample_request *req, const char *out,
                    scf_gallery *gallery, gboolean quiet)
{
    scf_sample_request r = *req;
    g_autoptr(GError) error = NULL;
    if (!scf_sample_request_check(&r, &error)) {
        fprintf(stderr, "scflow generate: %s\n", error->message);
        return SCF_EXIT_USAGE;
    }
    g_autofree char *default_out = g_strdup_printf("scflow-%" G_GUINT64_FORMAT ".png", r.seed);
    const char *path = out ? out : default_out;
    const size_t img = (size_t)m->channels * m->image_size * m->image_size;
    float *pixels = g_new(float, (size_t)r.batch * img);
    scf_sampler *s = scf_sampler_new(m);
    step_view view = { quiet, g_get_monotonic_time() };
    gboolean ok = scf_sampler_run(s, &r, pixels, on_step, &view, &error);
    scf_progress_finish();
    double ms = (g_get_monotonic_time() - view.start) / 1e3;
    for (int b = 0; ok && b < r.batch; b++) {
        g_autofree char *file = batch_path(path, b);
        scf_gen_params p;
        scf_generation_fill_params(&p, m, be, &r, b);
        scf_image *image = scf_image_from_chw(pixels + (size_t)b * img, m->channels,
                                              m->image_size, m->image_size, &error);
        gint64 id = 0;
        ok = image && scf_png_write(file, image, &p, &error) &&
             (!gallery || scf_gallery_insert(gallery, image, &p, (gint64)(ms / r.batch), &id, &error));
        scf_image_free(image);
        scf_gen_params_clear(&p);
        if (ok)
            printf(quiet ? "%s\n" : "wrote %s (seed %" G_GUINT64_FORMAT ")\n", file,
                   r.seed + (uint64_t)b);
        if (ok && gallery && !quiet)
            printf("kept in the gallery as %" G_GINT64_FORMAT "\n", id);
    }
    if (ok && !quiet)
        printf("%d image%s, %d step%s, %.0f ms on %s (%s)\n", r.batch, r.batch > 1 ? "s" : "",
               r.steps, r.steps > 1 ? "s" : "", ms, be->name, scf_precision_name(be->precision));
    if (!ok)
        fprintf(stderr, "scflow generate: %s\n", error->message);
    scf_sampler_free(s);
    g_free(pixels);
    return ok ? SCF_EXIT_OK : SCF_EXIT_RUNTIME;
}

int scf_cli_generate(int argc, char **argv)
{
    g_autofree char *model_dir = NULL, *prompt = NULL, *negative = NULL, *out = NULL,
                    *device = NULL, *precision_text = NULL;
    int steps = 0, batch = 1, threads = 0;
    gint64 seed = -1;
    double guidance = -1;
    gboolean quiet = FALSE, to_gallery = FALSE;
    GOptionEntry entries[] = {
        { "model", 'm', 0, G_OPTION_ARG_FILENAME, &model_dir, "Model folder (default: the embedded model)", "DIR" },
        { "prompt", 'p', 0, G_OPTION_ARG_STRING, &prompt, "What to draw", "TEXT" },
        { "negative", 'n', 0, G_OPTION_ARG_STRING, &negative, "What to steer away from (with guidance)", "TEXT" },
        { "steps", 's', 0, G_OPTION_ARG_INT, &steps, "Euler steps, 1-1000 (default: the model's)", "N" },
        { "seed", 0, 0, G_OPTION_ARG_INT64, &seed, "Seed; image i of a batch uses seed+i (default: random)", "S" },
        { "guidance", 'g', 0, G_OPTION_ARG_DOUBLE, &guidance, "Classifier-free guidance scale, 1 = off (default: the model's)", "W" },
        { "batch", 'b', 0, G_OPTION_ARG_INT, &batch, "Images to make, 1-64 (default 1)", "B" },
        { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Output PNG (default scflow-SEED.png); a batch adds -2, -3 ...", "FILE" },
        { "device", 'd', 0, G_OPTION_ARG_STRING, &device, "auto, cpu, cuda or cuda:N (default auto)", "DEV" },
        SCF_CLI_PRECISION_OPTION(precision_text),
        { "threads", 't', 0, G_OPTION_ARG_INT, &threads, "CPU threads (default: all cores)", "N" },
        { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "Print only the written file names", NULL },
        { "gallery", 0, 0, G_OPTION_ARG_NONE, &to_gallery, "Also keep the images in the gallery (scflow gallery list)", NULL },
        { NULL },
    };
    if (!scf_cli_parse("generate", "make an image from a prompt", entries, &argc, &argv))
        return SCF_EXIT_USAGE;
    if (!prompt || argc != 1) {
        fprintf(stderr, "scflow generate: --prompt TEXT is required\nTry 'scflow generate --help'.\n");
        return SCF_EXIT_USAGE;
    }
    if (seed < -1 || threads < 0) {
        fprintf(stderr, "scflow generate: --seed and --threads must not be negative\n");
        return SCF_EXIT_USAGE;
    }
    scf_precision precision;
    if (!scf_cli_parse_precision("generate", precision_text, &precision))
        return SCF_EXIT_USAGE;
    g_autoptr(GError) error = NULL;
    g_autofree char *gallery_dir = to_gallery ? scf_gallery_default_dir() : NULL;
    g_autoptr(scf_gallery) gallery = to_gallery ? scf_gallery_open(gallery_dir, NULL, &error) : NULL;
    if (to_gallery && !gallery) {
        fprintf(stderr, "scflow generate: %s\n", error->message);
        return SCF_EXIT_RUNTIME;
    }
    scf_backend *be = scf_cli_open_device_precision("generate", device, precision, threads, quiet);
    if (!be)
        return SCF_EXIT_RUNTIME;
    scf_model *m = scf_cli_load_model("generate", model_dir, be);
    if (!m) {
        scf_backend_free(be);
        return SCF_EXIT_RUNTIME;
    }
    scf_sample_request r = {
        .prompt = prompt, .negative = negative,
        .steps = steps > 0 ? steps : m->default_steps,
        .guidance = guidance >= 0 ? (float)guidance : m->default_guidance,
        .seed = seed >= 0 ? (uint64_t)seed : ((uint64_t)g_random_int() << 16 ^ g_random_int()),
        .batch = batch,
    };
    if (steps < 0)
        r.steps = steps; /* let the request check name the bad value */
    int rc = generate(m, be, &r, out, gallery, quiet);
    scf_model_free(m);
    scf_backend_free(be);
    return rc;
}
