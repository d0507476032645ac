/* `scflow bench distill`: SCFlow distillation iterations/s for the shipped
 * config (core/distill.c's defaults, batch 16) on a teacher of the embedded
 * emoji-32 shape with random weights, in both phases of the warm-up (every
 * term on; GAN and bidirectional loss still off), and with the ResNet
 * discriminator taking R1 at every step, against
 * tools/distill_twin.py, the PyTorch twin of the same iteration, on the same
 * threads in the same run. The load average goes into the JSON too: the
 * machine may be shared, and other work only ever adds time. */
#include "build-config.h"
#include "bench-distill.h"
#include "bench-util.h"
#include "cli.h"
#include "distill.h"
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

#define TEACHER_CONFIG "training/emoji-32-teacher.json"

typedef struct {
    const char *phase;
    const char *config;    /* the distillation config: keys over the defaults */
} distill_case;

static const distill_case cases[] = {
    { "full: every term on", "{\"warmup_adv\": 0, \"warmup_inv\": 0}" },
    { "warm-up: no GAN, no bidirectional loss", "{}" },
    /* the unconditional discriminator, with R1 at every step (its default is
     * every 16th): our central difference against PyTorch's double backward */
    { "resnet D, R1 every step",
      "{\"warmup_adv\": 0, \"warmup_inv\": 0, \"discriminator\": \"resnet\", \"r1_every\": 1}" },
};

static const char *const captions[] = {
    "grinning face", "red heart", "thumbs up: medium skin tone", "cat face", "rocket",
    "woman technologist: dark skin tone",
};

static void remove_tree(const char *path)
{
    GDir *dir = g_dir_open(path, 0, NULL);
    for (const char *name; dir && (name = g_dir_read_name(dir));) {
        g_autofree char *child = g_build_filename(path, name, NULL);
        if (g_file_test(child, G_FILE_TEST_IS_DIR) && !g_file_test(child, G_FILE_TEST_IS_SYMLINK))
            remove_tree(child);
        else
            g_remove(child);
    }
    if (dir)
        g_dir_close(dir);
    g_rmdir(path);
}

/* A random-weight teacher folder and a data folder of a few captioned
 * images (the draws replace its batches, but a run needs one to open). */
static gboolean write_inputs(const char *work, const char *json, scf_backend *be, size_t *img,
                             GError **error)
{
    scf_tokenizer *tok = scf_tokenizer_build_word(captions, G_N_ELEMENTS(captions), TRUE, 1, error);
    scf_model *m = tok ? scf_model_new(json, tok, be, FALSE, 1, error) : NULL;
    g_autofree char *teacher = g_build_filename(work, "teacher", NULL);
    gboolean ok = m && scf_model_save(m, teacher, NULL, SCF_DTYPE_F32, NULL, error);
    const int size = m ? m->image_size : 0;
    *img = m ? (size_t)m->channels * size * size : 0;
    scf_model_free(m);
    g_autofree char *data = g_build_filename(work, "data", NULL);
    g_mkdir_with_parents(data, 0755);
    for (size_t i = 0; ok && i < G_N_ELEMENTS(captions); i++) {
        scf_image *pic = scf_image_new(size, size, 3, error);
        ok = pic != NULL;
        for (size_t k = 0; ok && k < (size_t)size * size * 3; k++)
            pic->data[k] = (uint8_t)(scf_rng_uniform_at(i, k) * 255);
        g_autofree char *png = g_strdup_printf("%s/%02zu.png", data, i);
        g_autofree char *txt = g_strdup_printf("%s/%02zu.txt", data, i);
        ok = ok && scf_png_write(png, pic, NULL, error) &&
             g_file_set_contents(txt, captions[i], -1, error);
        scf_image_free(pic);
    }
    return ok;
}

/* Fixed random draws for every timed iteration. */
typedef struct {
    float *x0, *eps, *noise, *u;
    const char **captions;
    scf_distill_draws draws;
} bench_draws;

static void draws_init(bench_draws *b, int B, size_t img)
{
    const size_t n = (size_t)B * img;
    b->x0 = g_new(float, n);
    b->eps = g_new(float, n);
    b->noise = g_new(float, n);
    b->u = g_new(float, 3 * (size_t)B);
    b->captions = g_new(const char *, B);
    for (size_t i = 0; i < n; i++) {
        b->x0[i] = 2.0f * scf_rng_uniform_at(1, i) - 1.0f;
        b->eps[i] = scf_rng_normal_at(2, i);
        b->noise[i] = scf_rng_normal_at(3, i);
    }
    for (int i = 0; i < 3 * B; i++)
        b->u[i] = scf_rng_uniform_at(4, (uint64_t)i);
    for (int i = 0; i < B; i++)
        b->captions[i] = captions[(size_t)i % G_N_ELEMENTS(captions)];
    b->draws = (scf_distill_draws){ b->x0, b->captions, b->eps, b->noise, b->u, b->u + B,
                                    b->u + 2 * B };
}

static void draws_clear(bench_draws *b)
{
    g_free(b->x0);
    g_free(b->eps);
    g_free(b->noise);
    g_free(b->u);
    g_free(b->captions);
}

typedef struct {
    scf_distiller *d;
    const scf_distill_draws *draws;
    GError *error;    /* the first failure; later iterations are skipped */
} step_run;

static void step(void *p)
{
    step_run *r = p;
    scf_distill_losses losses;
    if (!r->error)
        scf_distiller_step_with(r->d, r->draws, &losses, &r->error);
}

/* Times one case in the run folder work/run-INDEX, whose run.json then
 * holds the whole distillation config for the twin. */
static gboolean time_case(const char *work, int index, size_t img, scf_backend *be, double min_s,
                          double *ms, GError **error)
{
    g_autofree char *teacher = g_build_filename(work, "teacher", NULL);
    g_autofree char *data = g_build_filename(work, "data", NULL);
    g_autofree char *config = g_strdup_printf("%s/case-%d.json", work, index);
    g_autofree char *run = g_strdup_printf("%s/run-%d", work, index);
    if (!g_file_set_contents(config, cases[index].config, -1, error))
        return FALSE;
    scf_distiller *d = scf_distiller_new(run, teacher, data, config, NULL, be, error);
    if (!d)
        return FALSE;
    bench_draws b;
    draws_init(&b, scf_distiller_config(d)->batch_size, img);
    step_run r = { d, &b.draws, NULL };
    /* the first iteration also grows the graph's memory: a warm-up */
    *ms = scf_bench_best_ms(step, &r, 1, 2, min_s);
    draws_clear(&b);
    scf_distiller_free(d);
    if (r.error)
        g_propagate_error(error, r.error);
    return r.error == NULL;
}

int scf_bench_distill(int threads, const char *device, const char *python, const char *out_path,
                      double min_s)
{
    scf_backend *be = scf_cli_open_device("bench", device, threads, FALSE);
    if (!be)
        return SCF_EXIT_RUNTIME;
    threads = scf_get_threads();
    const guint n = G_N_ELEMENTS(cases);
    double ms[G_N_ELEMENTS(cases)] = { 0 }, load_before = scf_bench_load_average();
    scf_distill_config defaults;
    scf_distill_config_defaults(&defaults);
    const int batch = defaults.batch_size;
    g_autoptr(GError) error = NULL;
    g_autofree char *model = NULL;
    g_autofree char *model_path = g_build_filename(SCF_SOURCE_DATADIR, TEACHER_CONFIG, NULL);
    g_autofree char *work = g_file_get_contents(model_path, &model, NULL, &error)
        ? g_dir_make_tmp("scflow-bench-distill-XXXXXX", &error) : NULL;
    size_t img = 0;
    gboolean ok = work && write_inputs(work, model, be, &img, &error);
    /* The twin reads the files themselves: json-glib 1.6 writes 1e-08 back
     * as "1e-08.0", which is not JSON. */
    JsonBuilder *spec = json_builder_new();
    json_builder_begin_array(spec);
    for (guint i = 0; ok && i < n; i++) {
        fprintf(stderr, "  %u/%u %s\n", i + 1, n, cases[i].phase);
        if (!(ok = time_case(work, (int)i, img, be, min_s, &ms[i], &error)))
            break;
        g_autofree char *teacher = g_build_filename(work, "teacher", SCF_MODEL_CONFIG, NULL);
        g_autofree char *run = g_strdup_printf("%s/run-%u/run.json", work, i);
        json_builder_begin_object(spec);
        scf_bench_add_string(spec, "teacher", teacher);
        scf_bench_add_string(spec, "run", run);
        json_builder_end_object(spec);
    }
    json_builder_end_array(spec);
    g_autoptr(JsonNode) spec_root = json_builder_get_root(spec);
    g_object_unref(spec);
    g_autofree char *why = NULL;
    JsonArray *torch = ok && python ? scf_bench_python(python, "distill_twin.py", spec_root, n,
                                                       threads, min_s, &why) : NULL;
    if (!torch && why)
        fprintf(stderr, "scflow bench: %s\n", why);
    if (work)
        remove_tree(work);
    if (!ok) {
        fprintf(stderr, "scflow bench: %s\n", error->message);
        scf_backend_free(be);
        return SCF_EXIT_RUNTIME;
    }

    JsonBuilder *b = scf_bench_result_begin(be->name, threads, load_before);
    scf_bench_add_string(b, "teacher", TEACHER_CONFIG);
    scf_bench_add_int(b, "batch", batch);
    json_builder_set_member_name(b, "cases");
    json_builder_begin_array(b);
    printf("\n%-40s %5s %10s %8s %10s %8s %7s\n", "SCFlow iteration (emoji-32 teacher)", "batch",
           "ms", "it/s", "torch ms", "it/s", "ratio");
    for (guint i = 0; i < n; i++) {
        double tms = torch ? json_object_get_double_member(json_array_get_object_element(torch, i), "ms") : 0;
        char tcol[32] = "-", tits[32] = "-", rcol[32] = "-";
        if (torch) {
            g_snprintf(tcol, sizeof tcol, "%.0f", tms);
            g_snprintf(tits, sizeof tits, "%.3f", 1e3 / tms);
            g_snprintf(rcol, sizeof rcol, "%.2fx", tms / ms[i]);
        }
        printf("%-40s %5d %10.0f %8.3f %10s %8s %7s\n", cases[i].phase, batch, ms[i], 1e3 / ms[i],
               tcol, tits, rcol);
        json_builder_begin_object(b);
        scf_bench_add_string(b, "phase", cases[i].phase);
        scf_bench_add_double(b, "ms", ms[i]);
        scf_bench_add_double(b, "iterations_per_s", 1e3 / ms[i]);
        if (torch) {
            scf_bench_add_double(b, "torch_ms", tms);
            scf_bench_add_double(b, "torch_iterations_per_s", 1e3 / tms);
            scf_bench_add_double(b, "speed_ratio_vs_torch", tms / ms[i]);
        }
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    if (torch)
        json_array_unref(torch);
    scf_backend_free(be);
    printf("\nratio = PyTorch time / scflow time (above 1: scflow is faster; the goal is 1.5); "
           "load average %.2f before, %.2f after\n", load_before, scf_bench_load_average());
    if (!scf_bench_result_finish(b, out_path))
        return SCF_EXIT_RUNTIME;
    printf("wrote %s\n", out_path);
    return SCF_EXIT_OK;
}
