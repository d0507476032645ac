/* `scflow bench train`: teacher training images/s for the shipped config
 * (data/training/emoji-32-teacher.json) at its training batch size: the
 * engine's own step (scf_trainer_advance: caption dropout, tau, noise, text
 * encoder and UNet forward, flow-matching loss, backward, gradient clipping,
 * AdamW, EMA) on random weights and a folder of random images with emoji-like
 * captions, against the same step in PyTorch (tools/bench_train.py) on the
 * same threads in the same run. A step takes seconds, so each side runs one
 * warm-up and a few timed steps, and both the fastest and the median count. */
#include "build-config.h"
#include "bench-train.h"
#include "bench-util.h"
#include "cli.h"
#include <errno.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

#define CONFIG_FILE "training/emoji-32-teacher.json"   /* under data/ */
#define DATA_IMAGES 64
#define WARMUP 1
#define MIN_RUNS 3

static const char *const caption_words[] = {
    "grinning", "face", "thumbs", "up", "medium", "skin", "tone", "red", "heart", "cat",
    "woman", "technologist", "dark", "light", "hand", "flag", "rocket", "smiling", "eyes", "person",
};

/* DATA_IMAGES images of uniform random pixels, each with a caption of 2-7
 * words (the emoji set averages four), drawn from the engine's RNG. */
static gboolean write_data(const char *dir, int size, GError **error)
{
    const size_t bytes = (size_t)size * size * 3;
    for (int i = 0; i < DATA_IMAGES; i++) {
        g_autoptr(scf_image) img = scf_image_new(size, size, 3, error);
        if (!img)
            return FALSE;
        for (size_t k = 0; k < bytes; k++)
            img->data[k] = (uint8_t)(256.0f * scf_rng_uniform_at(1, (uint64_t)i * bytes + k));
        GString *caption = g_string_new(NULL);
        int words = 2 + (int)(6.0f * scf_rng_uniform_at(2, (uint64_t)i * 8));
        for (int w = 0; w < words; w++) {
            float u = scf_rng_uniform_at(2, (uint64_t)i * 8 + 1 + w);
            g_string_append_printf(caption, "%s%s", w ? " " : "",
                                   caption_words[(int)(u * G_N_ELEMENTS(caption_words))]);
        }
        g_autofree char *png = g_strdup_printf("%s/%03d.png", dir, i);
        g_autofree char *txt = g_strdup_printf("%s/%03d.txt", dir, i);
        gboolean ok = scf_png_write(png, img, NULL, error) &&
                      g_file_set_contents(txt, caption->str, -1, error);
        g_string_free(caption, TRUE);
        if (!ok)
            return FALSE;
    }
    return TRUE;
}

static void remove_tree(const char *path)
{
    GDir *d = g_file_test(path, G_FILE_TEST_IS_DIR) ? g_dir_open(path, 0, NULL) : NULL;
    if (d) {
        const char *name;
        while ((name = g_dir_read_name(d))) {
            g_autofree char *child = g_build_filename(path, name, NULL);
            remove_tree(child);
        }
        g_dir_close(d);
    }
    g_remove(path);
}

typedef struct {
    scf_trainer *t;
    GError *error;
} train_run;

static void train_step(void *p)
{
    train_run *r = p;
    double loss, grad_norm;
    if (!r->error)
        scf_trainer_advance(r->t, &loss, &grad_norm, &r->error);
}

/* Times our step on a fresh trainer; *batch gets its batch size. */
static gboolean time_ours(scf_backend *be, const char *config_path, double min_s,
                          scf_bench_timing *timing, int *batch, GError **error)
{
    g_autofree char *root = g_dir_make_tmp("scflow-bench-train-XXXXXX", error);
    if (!root)
        return FALSE;
    g_autofree char *data = g_build_filename(root, "data", NULL);
    g_autofree char *run_dir = g_build_filename(root, "run", NULL);
    scf_config c;
    gboolean ok = scf_config_load(&c, config_path, error);
    if (ok) {
        int size = (int)scf_config_int(&c, "image_size", 0, 8, 4096, TRUE);
        ok = scf_config_check(&c, error);
        scf_config_clear(&c);
        if (ok && g_mkdir(data, 0755) != 0) {
            g_set_error(error, SCF_ERROR, SCF_ERROR_IO, "%s: cannot create: %s", data,
                        g_strerror(errno));
            ok = FALSE;
        }
        ok = ok && write_data(data, size, error);
    }
    train_run r = { NULL, NULL };
    if (ok)
        ok = (r.t = scf_trainer_new(run_dir, config_path, data, NULL, be, error)) != NULL;
    if (ok) {
        *batch = scf_trainer_config(r.t)->batch_size;
        *timing = scf_bench_time(train_step, &r, WARMUP, MIN_RUNS, min_s);
        if (r.error) {
            g_propagate_error(error, r.error);
            ok = FALSE;
        }
    }
    scf_trainer_free(r.t);
    remove_tree(root);
    return ok;
}

static void add_timing(JsonBuilder *b, const char *member, const scf_bench_timing *t, int batch)
{
    json_builder_set_member_name(b, member);
    json_builder_begin_object(b);
    scf_bench_add_double(b, "best_ms", t->best_ms);
    scf_bench_add_double(b, "median_ms", t->median_ms);
    scf_bench_add_int(b, "runs", t->runs);
    scf_bench_add_double(b, "images_per_s", batch / (t->best_ms * 1e-3));
    scf_bench_add_double(b, "images_per_s_median", batch / (t->median_ms * 1e-3));
    json_builder_end_object(b);
}

static void print_timing(const char *who, const scf_bench_timing *t, int batch)
{
    printf("%-10s %10.0f %10.0f %5d %12.2f %12.2f\n", who, t->best_ms, t->median_ms, t->runs,
           batch / (t->best_ms * 1e-3), batch / (t->median_ms * 1e-3));
}

/* The spec of tools/bench_train.py: the whole model config (with its
 * "training" object) and the same step schedule. */
static JsonNode *torch_spec(const char *config_json, int batch)
{
    JsonBuilder *b = json_builder_new();
    json_builder_begin_array(b);
    json_builder_begin_object(b);
    scf_bench_add_string(b, "config", config_json);
    scf_bench_add_int(b, "batch", batch);
    scf_bench_add_int(b, "warmup", WARMUP);
    scf_bench_add_int(b, "min_runs", MIN_RUNS);
    json_builder_end_object(b);
    json_builder_end_array(b);
    JsonNode *root = json_builder_get_root(b);
    g_object_unref(b);
    return root;
}

static scf_bench_timing timing_from_json(JsonObject *o)
{
    return (scf_bench_timing){ json_object_get_double_member(o, "ms"),
                               json_object_get_double_member(o, "median_ms"),
                               (int)json_object_get_int_member(o, "runs") };
}

int scf_bench_train(int threads, const char *device, const char *python, const char *out_path,
                    double min_s)
{
    scf_backend *be = scf_cli_open_device("bench", device, threads, FALSE);
    if (!be)
        return SCF_EXIT_RUNTIME;
    threads = scf_get_threads();
    g_autofree char *config_path = g_build_filename(SCF_SOURCE_DATADIR, CONFIG_FILE, NULL);
    g_autofree char *config_json = NULL;
    double load_before = scf_bench_load_average();
    g_autoptr(GError) error = NULL;
    scf_bench_timing ours = { 0 }, torch = { 0 };
    int batch = 0;
    fprintf(stderr, "  scflow: training steps of %s on %d thread(s)\n", CONFIG_FILE, threads);
    if (!g_file_get_contents(config_path, &config_json, NULL, &error) ||
        !time_ours(be, config_path, min_s, &ours, &batch, &error)) {
        fprintf(stderr, "scflow bench: %s\n", error->message);
        scf_backend_free(be);
        return SCF_EXIT_RUNTIME;
    }
    gboolean have_torch = FALSE;
    if (python) {
        fprintf(stderr, "  PyTorch: the same steps (tools/bench_train.py)\n");
        g_autoptr(JsonNode) spec = torch_spec(config_json, batch);
        g_autofree char *why = NULL;
        JsonArray *res = scf_bench_python(python, "bench_train.py", spec, 1, threads, min_s, &why);
        if (res) {
            torch = timing_from_json(json_array_get_object_element(res, 0));
            have_torch = TRUE;
            json_array_unref(res);
        } else {
            fprintf(stderr, "scflow bench: %s\n", why);
        }
    }
    JsonBuilder *b = scf_bench_result_begin(be->name, threads, load_before);
    scf_bench_add_string(b, "config", "data/" CONFIG_FILE);
    scf_bench_add_int(b, "batch", batch);
    add_timing(b, "scflow", &ours, batch);
    if (have_torch) {
        add_timing(b, "pytorch", &torch, batch);
        scf_bench_add_double(b, "speed_ratio_vs_pytorch", torch.best_ms / ours.best_ms);
        scf_bench_add_double(b, "speed_ratio_vs_pytorch_median", torch.median_ms / ours.median_ms);
    }

    printf("\nTeacher training step, %s, batch %d, %d thread(s)\n", CONFIG_FILE, batch, threads);
    printf("%-10s %10s %10s %5s %12s %12s\n", "", "best ms", "median ms", "runs", "images/s",
           "(median)");
    print_timing("scflow", &ours, batch);
    if (have_torch) {
        print_timing("PyTorch", &torch, batch);
        printf("ratio = PyTorch time / scflow time: %.2fx fastest, %.2fx median "
               "(above 1: scflow is faster)\n", torch.best_ms / ours.best_ms,
               torch.median_ms / ours.median_ms);
    }
    printf("load average (1 min): %.2f before, %.2f after\n", load_before,
           scf_bench_load_average());
    scf_backend_free(be);
    if (!scf_bench_result_finish(b, out_path))
        return SCF_EXIT_RUNTIME;
    printf("wrote %s\n", out_path);
    return SCF_EXIT_OK;
}
