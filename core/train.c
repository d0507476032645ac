#include "train.h"
#include "atomic_file.h"
#include "config.h"
#include "dataset.h"
#include "error.h"
#include "image.h"
#include "model.h"
#include "optim.h"
#include "rng.h"
#include "safetensors.h"
#include "sampler.h"
#include <errno.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#define SAMPLE_PROMPTS 8

struct scf_trainer {
    char *run_dir, *data_dir;
    scf_train_config cfg;
    scf_backend *be;
    scf_model *model;
    scf_dataset *data;
    scf_graph *g;
    float *adam_m, *adam_v, *ema;   /* device buffers of the params layout */
    int64_t step;
    /* per-step buffers, sized once */
    float *host_images, *x0, *eps, *tau, *one_minus_tau;
    const char **captions;
    char *sample_prompts[SAMPLE_PROMPTS];
};

void scf_train_config_defaults(scf_train_config *c)
{
    *c = (scf_train_config){
        .seed = 0, .batch_size = 32, .steps = 20000, .lr = 3e-4, .warmup_steps = 500,
        .weight_decay = 0.01, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .grad_clip = 1.0,
        .ema_decay = 0.999, .caption_dropout = 0.1, .logit_normal = FALSE, .logit_mean = 0,
        .logit_std = 1, .log_every = 10, .sample_every = 1000, .checkpoint_every = 500,
        .keep_checkpoints = 3, .sample_steps = 32, .sample_guidance = 1.5f,
    };
}

static void read_train_config(scf_train_config *t, scf_config *c)
{
    scf_train_config_defaults(t);
    t->seed = (uint64_t)scf_config_int(c, "seed", 0, 0, G_MAXINT64, FALSE);
    t->batch_size = (int)scf_config_int(c, "batch_size", t->batch_size, 1, 4096, FALSE);
    t->steps = scf_config_int(c, "steps", t->steps, 1, G_MAXINT32, FALSE);
    t->lr = scf_config_double(c, "lr", t->lr, 0, 1, FALSE);
    t->warmup_steps = scf_config_int(c, "warmup_steps", t->warmup_steps, 0, G_MAXINT32, FALSE);
    t->weight_decay = scf_config_double(c, "weight_decay", t->weight_decay, 0, 10, FALSE);
    t->beta1 = scf_config_double(c, "beta1", t->beta1, 0, 0.999999, FALSE);
    t->beta2 = scf_config_double(c, "beta2", t->beta2, 0, 0.999999999, FALSE);
    t->eps = scf_config_double(c, "eps", t->eps, 1e-20, 1, FALSE);
    t->grad_clip = scf_config_double(c, "grad_clip", t->grad_clip, 0, 1e9, FALSE);
    t->ema_decay = scf_config_double(c, "ema_decay", t->ema_decay, 0, 1, FALSE);
    t->caption_dropout = scf_config_double(c, "caption_dropout", t->caption_dropout, 0, 1, FALSE);
    g_autofree char *tau = scf_config_string(c, "tau_sampling", "uniform", FALSE);
    t->logit_normal = g_strcmp0(tau, "logit_normal") == 0;
    if (!t->logit_normal && g_strcmp0(tau, "uniform") != 0)
        scf_config_fail(c, "tau_sampling", "expected \"uniform\" or \"logit_normal\", found \"%s\"", tau);
    t->logit_mean = scf_config_double(c, "logit_mean", t->logit_mean, -10, 10, FALSE);
    t->logit_std = scf_config_double(c, "logit_std", t->logit_std, 1e-3, 10, FALSE);
    t->log_every = scf_config_int(c, "log_every", t->log_every, 1, G_MAXINT32, FALSE);
    t->sample_every = scf_config_int(c, "sample_every", t->sample_every, 1, G_MAXINT32, FALSE);
    t->checkpoint_every = scf_config_int(c, "checkpoint_every", t->checkpoint_every, 1, G_MAXINT32, FALSE);
    t->keep_checkpoints = (int)scf_config_int(c, "keep_checkpoints", t->keep_checkpoints, 1, 1000, FALSE);
    t->sample_steps = (int)scf_config_int(c, "sample_steps", t->sample_steps, 1, 1000, FALSE);
    t->sample_guidance = (float)scf_config_double(c, "sample_guidance", t->sample_guidance, 0, 100, FALSE);
}

/* Independent streams of the run's randomness, each indexed by step. */
enum { STREAM_NOISE = 1, STREAM_TAU, STREAM_DROPOUT };

static uint64_t stream_seed(uint64_t seed, int stream)
{
    uint64_t z = seed + 0x9E3779B97F4A7C15ull * (uint64_t)stream;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static size_t image_numel(const scf_trainer *t)
{
    return (size_t)t->model->channels * t->model->image_size * t->model->image_size;
}

static size_t params_total(const scf_trainer *t)
{
    return t->model->params->total;
}

static char *path_in(const scf_trainer *t, const char *a, const char *b)
{
    return g_build_filename(t->run_dir, a, b, NULL);
}

void scf_trainer_free(scf_trainer *t)
{
    if (!t)
        return;
    scf_backend *be = t->be;
    float *device[] = { t->adam_m, t->adam_v, t->ema, t->x0, t->eps, t->tau, t->one_minus_tau };
    for (size_t i = 0; i < G_N_ELEMENTS(device); i++)
        if (device[i])
            be->free(be, device[i]);
    for (int i = 0; i < SAMPLE_PROMPTS; i++)
        g_free(t->sample_prompts[i]);
    g_free(t->host_images);
    g_free(t->captions);
    scf_graph_free(t->g);
    scf_dataset_free(t->data);
    scf_model_free(t->model);
    g_free(t->run_dir);
    g_free(t->data_dir);
    g_free(t);
}

/* Buffers and sample prompts once model and data are known. */
static gboolean prepare(scf_trainer *t, GError **error)
{
    scf_backend *be = t->be;
    const size_t total = params_total(t) * sizeof(float);
    const size_t batch = (size_t)t->cfg.batch_size * image_numel(t) * sizeof(float);
    t->adam_m = be->alloc(be, total);
    t->adam_v = be->alloc(be, total);
    t->ema = be->alloc(be, total);
    t->x0 = be->alloc(be, batch);
    t->eps = be->alloc(be, batch);
    t->tau = be->alloc(be, (size_t)t->cfg.batch_size * sizeof(float));
    t->one_minus_tau = be->alloc(be, (size_t)t->cfg.batch_size * sizeof(float));
    if (!t->adam_m || !t->adam_v || !t->ema || !t->x0 || !t->eps || !t->tau || !t->one_minus_tau) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_NOMEM, "%s: cannot allocate training state on %s",
                    t->run_dir, be->name);
        return FALSE;
    }
    be->zero(be, t->adam_m, total);
    be->zero(be, t->adam_v, total);
    be->copy(be, t->ema, t->model->params->data, total);
    t->host_images = g_new(float, (size_t)t->cfg.batch_size * image_numel(t));
    t->captions = g_new0(const char *, t->cfg.batch_size);
    t->g = scf_graph_new(be);
    /* fixed prompts for the sample grids: evenly spaced training captions */
    int n = scf_dataset_count(t->data);
    for (int i = 0; i < SAMPLE_PROMPTS; i++)
        t->sample_prompts[i] = g_strdup(scf_dataset_caption(t->data, (int)((int64_t)i * n / SAMPLE_PROMPTS)));
    return TRUE;
}

static gboolean open_data(scf_trainer *t, GError **error)
{
    t->data = scf_dataset_open(t->data_dir, t->model->image_size, SCF_DATASET_TRAIN, t->cfg.seed,
                               error);
    return t->data != NULL;
}

/* run.json = {"model": <model config without "training">, "training": {...}, "data": DIR} */
static char *run_json(JsonObject *model, JsonObject *training, const char *data_dir)
{
    JsonObject *root = json_object_new();
    JsonObject *m = json_object_ref(model);
    json_object_remove_member(m, "training");
    json_object_set_object_member(root, "model", m);
    json_object_set_object_member(root, "training", training ? json_object_ref(training)
                                                                : json_object_new());
    json_object_set_string_member(root, "data", data_dir);
    JsonNode *node = json_node_new(JSON_NODE_OBJECT);
    json_node_take_object(node, root);
    JsonGenerator *gen = json_generator_new();
    json_generator_set_pretty(gen, TRUE);
    json_generator_set_root(gen, node);
    char *text = json_generator_to_data(gen, NULL);
    g_object_unref(gen);
    json_node_unref(node);
    return text;
}

static char *object_to_string(JsonObject *o)
{
    JsonNode *node = json_node_new(JSON_NODE_OBJECT);
    json_node_set_object(node, o);
    char *text = json_to_string(node, TRUE);
    json_node_unref(node);
    return text;
}

static gboolean write_file(const char *path, const char *text, GError **error)
{
    scf_atomic_file f;
    FILE *fp = scf_atomic_file_open(&f, path, error);
    if (!fp)
        return FALSE;
    fputs(text, fp);
    return scf_atomic_file_commit(&f, error);
}

/* Reads run.json's parts: the model config text and the training settings. */
static gboolean read_run(scf_trainer *t, const char *path, char **model_json, GError **error)
{
    scf_config c, training;
    if (!scf_config_load(&c, path, error))
        return FALSE;
    gboolean ok = FALSE;
    JsonNode *m = scf_config_has(&c, "model") ? json_object_get_member(c.root, "model") : NULL;
    if (!m || !JSON_NODE_HOLDS_OBJECT(m)) {
        scf_config_fail(&c, "model", "missing or not an object");
    } else if (scf_config_child(&c, "training", &training)) {
        read_train_config(&t->cfg, &training);
        scf_config_check(&training, &c.error);
        scf_config_clear(&training);
        t->data_dir = scf_config_string(&c, "data", NULL, TRUE);
        *model_json = object_to_string(json_node_get_object(m));
    }
    ok = scf_config_check(&c, error);
    scf_config_clear(&c);
    return ok;
}

scf_trainer *scf_trainer_new(const char *run_dir, const char *config_path, const char *data_dir,
                             scf_backend *be, GError **error)
{
    scf_config c;
    if (!scf_config_load(&c, config_path, error))
        return NULL;
    g_autofree char *runfile = g_build_filename(run_dir, "run.json", NULL);
    if (g_file_test(runfile, G_FILE_TEST_EXISTS)) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_INVALID,
                    "%s: a run already exists there (use --resume to continue it)", run_dir);
        scf_config_clear(&c);
        return NULL;
    }
    scf_trainer *t = g_new0(scf_trainer, 1);
    t->run_dir = g_strdup(run_dir);
    t->data_dir = g_canonicalize_filename(data_dir, NULL);
    t->be = be;
    JsonObject *training = NULL;
    scf_config tc;
    if (scf_config_has(&c, "training") && scf_config_child(&c, "training", &tc)) {
        read_train_config(&t->cfg, &tc);
        scf_config_check(&tc, &c.error);
        training = json_object_ref(tc.root);
        scf_config_clear(&tc);
    } else {
        scf_train_config_defaults(&t->cfg);
    }
    g_autofree char *full = NULL, *model_json = NULL, *checkpoints = NULL, *samples = NULL;
    gboolean ok = scf_config_check(&c, error);
    if (ok) {
        full = run_json(c.root, training, t->data_dir);
        JsonObject *m = json_object_ref(c.root);
        json_object_remove_member(m, "training");
        model_json = object_to_string(m);
        json_object_unref(m);
    }
    if (training)
        json_object_unref(training);
    scf_config_clear(&c);
    if (!ok)
        goto fail;

    /* The model's size must be known to open the data: read it from the
     * config first, then build the tokenizer from the training captions. */
    scf_config mc;
    if (!scf_config_load_data(&mc, model_json, config_path, error))
        goto fail;
    int size = (int)scf_config_int(&mc, "image_size", 0, 8, 4096, TRUE);
    ok = scf_config_check(&mc, error);
    scf_config_clear(&mc);
    if (!ok)
        goto fail;
    t->data = scf_dataset_open(t->data_dir, size, SCF_DATASET_TRAIN, t->cfg.seed, error);
    if (!t->data)
        goto fail;
    int n = scf_dataset_count(t->data);
    const char **caps = g_new(const char *, n);
    for (int i = 0; i < n; i++)
        caps[i] = scf_dataset_caption(t->data, i);
    scf_tokenizer *tok = scf_tokenizer_build_word(caps, n, TRUE, 1, error);
    g_free(caps);
    if (!tok)
        goto fail;
    t->model = scf_model_new(model_json, tok, be, TRUE, t->cfg.seed, error);
    if (!t->model)
        goto fail;
    checkpoints = g_build_filename(run_dir, "checkpoints", NULL);
    samples = g_build_filename(run_dir, "samples", NULL);
    if (g_mkdir_with_parents(checkpoints, 0755) != 0 || g_mkdir_with_parents(samples, 0755) != 0) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_IO, "%s: cannot create the run folder: %s",
                    run_dir, g_strerror(errno));
        goto fail;
    }
    if (!scf_tokenizer_save(t->model->tok, run_dir, error) || !prepare(t, error) ||
        !write_file(runfile, full, error))
        goto fail;
    return t;
fail:
    scf_trainer_free(t);
    return NULL;
}

/* ---- checkpoints ---- */

static char *checkpoint_path(const scf_trainer *t, int64_t step)
{
    g_autofree char *name = g_strdup_printf("step-%08" G_GINT64_FORMAT ".safetensors", step);
    return path_in(t, "checkpoints", name);
}

/* Steps of the checkpoints present, newest first. */
static GArray *list_checkpoints(const char *run_dir)
{
    GArray *steps = g_array_new(FALSE, FALSE, sizeof(gint64));
    g_autofree char *dir = g_build_filename(run_dir, "checkpoints", NULL);
    GDir *d = g_dir_open(dir, 0, NULL);
    const char *name;
    while (d && (name = g_dir_read_name(d))) {
        gint64 step;
        char tail[32];
        if (sscanf(name, "step-%" G_GINT64_FORMAT ".%31s", &step, tail) == 2 &&
            strcmp(tail, "safetensors") == 0)
            g_array_append_val(steps, step);
    }
    if (d)
        g_dir_close(d);
    for (guint i = 1; i < steps->len; i++) /* insertion sort, descending */
        for (guint j = i; j > 0 && g_array_index(steps, gint64, j) > g_array_index(steps, gint64, j - 1); j--) {
            gint64 tmp = g_array_index(steps, gint64, j);
            g_array_index(steps, gint64, j) = g_array_index(steps, gint64, j - 1);
            g_array_index(steps, gint64, j - 1) = tmp;
        }
    return steps;
}

static const char *const state_names[] = { "params", "adam_m", "adam_v", "ema" };

static float **state_buffers(scf_trainer *t, float *out[4])
{
    out[0] = t->model->params->data;
    out[1] = t->adam_m;
    out[2] = t->adam_v;
    out[3] = t->ema;
    return out;
}

gboolean scf_trainer_checkpoint(scf_trainer *t, GError **error)
{
    const size_t total = params_total(t);
    float *bufs[4], *host = g_new(float, total);
    state_buffers(t, bufs);
    scf_safetensors_writer *w = scf_safetensors_writer_new();
    g_autofree char *step = g_strdup_printf("%" G_GINT64_FORMAT, t->step);
    scf_safetensors_writer_set_metadata(w, "format", "scflow-checkpoint");
    scf_safetensors_writer_set_metadata(w, "step", step);
    gboolean ok = TRUE;
    for (int i = 0; ok && i < 4; i++) {
        t->be->download(t->be, host, bufs[i], total * sizeof(float));
        ok = scf_safetensors_writer_add(w, state_names[i], SCF_DTYPE_F32, 1,
                                        (int64_t[]){ (int64_t)total }, host, error);
    }
    g_free(host);
    g_autofree char *path = checkpoint_path(t, t->step);
    ok = ok && scf_safetensors_writer_save(w, path, error);
    scf_safetensors_writer_free(w);
    if (!ok)
        return FALSE;
    /* only once the new one is safely on disk do older ones go */
    GArray *steps = list_checkpoints(t->run_dir);
    for (guint i = (guint)t->cfg.keep_checkpoints; i < steps->len; i++) {
        g_autofree char *old = checkpoint_path(t, g_array_index(steps, gint64, i));
        g_unlink(old);
    }
    g_array_free(steps, TRUE);
    return TRUE;
}

static gboolean load_checkpoint(scf_trainer *t, int64_t step, GError **error)
{
    g_autofree char *path = checkpoint_path(t, step);
    scf_safetensors *st = scf_safetensors_open(path, error);
    if (!st)
        return FALSE;
    const size_t total = params_total(t);
    const char *format = scf_safetensors_metadata(st, "format");
    const char *meta_step = scf_safetensors_metadata(st, "step");
    gboolean ok = TRUE;
    if (g_strcmp0(format, "scflow-checkpoint") != 0 || !meta_step ||
        g_ascii_strtoll(meta_step, NULL, 10) != step) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_FORMAT,
                    "%s: not a checkpoint of step %" G_GINT64_FORMAT, path, step);
        ok = FALSE;
    }
    float *bufs[4], *host = g_new(float, total);
    state_buffers(t, bufs);
    for (int i = 0; ok && i < 4; i++) {
        const scf_st_tensor *tensor = scf_safetensors_expect(st, state_names[i], 1,
                                                             (int64_t[]){ (int64_t)total }, error);
        ok = tensor && scf_safetensors_read_f32(st, tensor, host, error);
        if (ok)
            t->be->upload(t->be, bufs[i], host, total * sizeof(float));
    }
    g_free(host);
    scf_safetensors_close(st);
    if (ok)
        t->step = step;
    return ok;
}

/* Keeps the metrics of steps up to the checkpoint: lines a killed run wrote
 * after it would otherwise appear twice. */
static gboolean trim_metrics(scf_trainer *t, GError **error)
{
    g_autofree char *path = path_in(t, "metrics.jsonl", NULL);
    g_autofree char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, NULL))
        return TRUE;
    GString *kept = g_string_new(NULL);
    char **lines = g_strsplit(text, "\n", -1);
    for (char **l = lines; *l; l++) {
        const char *s = strstr(*l, "\"step\":");
        if (s && g_ascii_strtoll(s + 7, NULL, 10) <= t->step)
            g_string_append_printf(kept, "%s\n", *l);
    }
    g_strfreev(lines);
    gboolean ok = write_file(path, kept->str, error);
    g_string_free(kept, TRUE);
    return ok;
}

scf_trainer *scf_trainer_resume(const char *run_dir, scf_backend *be, GError **error)
{
    scf_trainer *t = g_new0(scf_trainer, 1);
    t->run_dir = g_strdup(run_dir);
    t->be = be;
    g_autofree char *runfile = g_build_filename(run_dir, "run.json", NULL);
    g_autofree char *model_json = NULL;
    if (!read_run(t, runfile, &model_json, error))
        goto fail;
    scf_tokenizer *tok = scf_tokenizer_load(run_dir, error);
    if (!tok)
        goto fail;
    t->model = scf_model_new(model_json, tok, be, TRUE, t->cfg.seed, error);
    if (!t->model || !open_data(t, error) || !prepare(t, error))
        goto fail;
    GArray *steps = list_checkpoints(run_dir);
    GString *skipped = g_string_new(NULL);
    gboolean loaded = steps->len == 0; /* no checkpoint yet: start again from step 0 */
    for (guint i = 0; !loaded && i < steps->len; i++) {
        GError *e = NULL;
        loaded = load_checkpoint(t, g_array_index(steps, gint64, i), &e);
        if (!loaded) {
            g_string_append_printf(skipped, "%s%s", skipped->len ? "; " : "", e->message);
            g_error_free(e);
        }
    }
    if (skipped->len)
        g_warning("%s: skipped unreadable checkpoints: %s", run_dir, skipped->str);
    if (!loaded)
        g_set_error(error, SCF_ERROR, SCF_ERROR_FORMAT, "%s: no readable checkpoint: %s",
                    run_dir, skipped->str);
    g_string_free(skipped, TRUE);
    g_array_free(steps, TRUE);
    if (!loaded || !trim_metrics(t, error))
        goto fail;
    return t;
fail:
    scf_trainer_free(t);
    return NULL;
}

int64_t scf_trainer_step(const scf_trainer *t)
{
    return t->step;
}

const scf_train_config *scf_trainer_config(const scf_trainer *t)
{
    return &t->cfg;
}

/* ---- one step ---- */

static double train_step(scf_trainer *t, double *grad_norm, GError **error)
{
    scf_backend *be = t->be;
    scf_model *m = t->model;
    const scf_train_config *c = &t->cfg;
    const int B = c->batch_size;
    const size_t img = image_numel(t), total = params_total(t);
    const uint64_t first = (uint64_t)t->step * (uint64_t)B;

    if (!scf_dataset_batch(t->data, t->step, B, t->host_images, t->captions, error))
        return NAN;
    float tau[4096], omt[4096];
    for (int b = 0; b < B; b++) {
        if (scf_rng_uniform_at(stream_seed(c->seed, STREAM_DROPOUT), first + b) < c->caption_dropout)
            t->captions[b] = "";
        double u = c->logit_normal
            ? 1.0 / (1.0 + exp(-(c->logit_mean + c->logit_std *
                                 scf_rng_normal_at(stream_seed(c->seed, STREAM_TAU), first + b))))
            : scf_rng_uniform_at(stream_seed(c->seed, STREAM_TAU), first + b);
        tau[b] = (float)u;
        omt[b] = 1.0f - tau[b];
    }
    be->upload(be, t->x0, t->host_images, (size_t)B * img * sizeof(float));
    be->upload(be, t->tau, tau, (size_t)B * sizeof(float));
    be->upload(be, t->one_minus_tau, omt, (size_t)B * sizeof(float));
    be->rng_normal(be, t->eps, (size_t)B * img, stream_seed(c->seed, STREAM_NOISE), first * img);

    scf_graph *g = t->g;
    scf_graph_reset(g);
    const int64_t shape[4] = { B, m->channels, m->image_size, m->image_size };
    /* x_tau = tau eps + (1 - tau) x0; target v* = eps - x0 (no gradient) */
    float *xt = scf_graph_scratch(g, (size_t)B * img * sizeof(float));
    float *tmp = scf_graph_scratch(g, (size_t)B * img * sizeof(float));
    float *target = scf_graph_scratch(g, (size_t)B * img * sizeof(float));
    if (!xt || !tmp || !target)
        return scf_graph_check(g, error), NAN;
    be->batch_scale_forward(be, xt, t->eps, t->tau, B, (int)img);
    be->batch_scale_forward(be, tmp, t->x0, t->one_minus_tau, B, (int)img);
    be->add(be, xt, xt, tmp, (size_t)B * img);
    be->copy(be, target, t->eps, (size_t)B * img * sizeof(float));
    be->axpy(be, target, t->x0, -1.0f, (size_t)B * img);

    scf_var *x = scf_graph_wrap(g, (scf_tensor){ xt, 4, { shape[0], shape[1], shape[2], shape[3] } });
    scf_var *tv = scf_graph_wrap(g, (scf_tensor){ t->tau, 1, { B } });
    scf_var *tg = scf_graph_wrap(g, (scf_tensor){ target, 4, { shape[0], shape[1], shape[2], shape[3] } });
    scf_var *ctx = scf_model_encode_text(m, g, t->captions, B);
    scf_var *loss = scf_mse(g, scf_model_velocity(m, g, x, tv, ctx), tg);
    scf_params_zero_grad(m->params);
    scf_graph_backward(g, loss);
    if (!scf_graph_check(g, error))
        return NAN;
    double value = scf_graph_scalar(g, loss);
    if (!isfinite(value)) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_INVALID,
                    "%s: the loss became %g at step %" G_GINT64_FORMAT
                    " (try a lower lr); the last checkpoint is intact", t->run_dir, value, t->step);
        return NAN;
    }
    *grad_norm = scf_clip_grad_norm(be, m->params->grad, total, c->grad_clip);
    double lr = c->lr * (c->warmup_steps > 0 ? MIN(1.0, (double)(t->step + 1) / c->warmup_steps) : 1.0);
    be->adamw_update(be, m->params->data, m->params->grad, t->adam_m, t->adam_v, total, (float)lr,
                     (float)c->beta1, (float)c->beta2, (float)c->eps, (float)c->weight_decay,
                     t->step + 1);
    /* EMA warm-up (1+n)/(10+n): early averages are not dominated by the init */
    double decay = MIN(c->ema_decay, (1.0 + t->step) / (10.0 + t->step));
    be->ema_update(be, t->ema, m->params->data, total, (float)decay);
    t->step++;
    return value;
}

/* ---- samples, metrics, export ---- */

static gboolean write_samples(scf_trainer *t, char **path_out, GError **error)
{
    scf_model *m = t->model;
    scf_params_swap_data(m->params, &t->ema);
    scf_params_set_trainable(m->params, FALSE);
    scf_sampler *s = scf_sampler_new(m);
    const size_t img = image_numel(t);
    float *out = g_new(float, img);
    scf_image *tiles[SAMPLE_PROMPTS] = { 0 };
    gboolean ok = TRUE;
    for (int i = 0; ok && i < SAMPLE_PROMPTS; i++) {
        scf_sample_request r = { t->sample_prompts[i], NULL, t->cfg.sample_steps,
                                 t->cfg.sample_guidance, (uint64_t)i, 1 };
        ok = scf_sampler_run(s, &r, out, NULL, NULL, error);
        if (ok)
            ok = (tiles[i] = scf_image_from_chw(out, m->channels, m->image_size, m->image_size,
                                                error)) != NULL;
    }
    scf_sampler_free(s);
    scf_params_set_trainable(m->params, TRUE);
    scf_params_swap_data(m->params, &t->ema);
    g_free(out);
    if (ok) {
        static const uint8_t white[3] = { 255, 255, 255 };
        scf_image *grid = scf_image_grid(tiles, SAMPLE_PROMPTS, SAMPLE_PROMPTS / 2, 2, white, error);
        g_autofree char *name = g_strdup_printf("step-%08" G_GINT64_FORMAT ".png", t->step);
        *path_out = path_in(t, "samples", name);
        ok = grid && scf_png_write(*path_out, grid, NULL, error);
        scf_image_free(grid);
    }
    for (int i = 0; i < SAMPLE_PROMPTS; i++)
        scf_image_free(tiles[i]);
    return ok;
}

static gboolean append_metrics(scf_trainer *t, const scf_train_progress *p, GError **error)
{
    g_autofree char *path = path_in(t, "metrics.jsonl", NULL);
    FILE *fp = fopen(path, "a");
    if (!fp) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_IO, "%s: cannot append: %s", path, g_strerror(errno));
        return FALSE;
    }
    fprintf(fp, "{\"step\":%" G_GINT64_FORMAT ",\"loss\":%.6g,\"lr\":%.6g,\"grad_norm\":%.6g,"
            "\"images_per_s\":%.4g,\"time\":%" G_GINT64_FORMAT "}\n",
            p->step, p->loss, p->lr, p->grad_norm, p->images_per_s, g_get_real_time() / 1000000);
    gboolean ok = fflush(fp) == 0;
    fclose(fp);
    if (!ok)
        g_set_error(error, SCF_ERROR, SCF_ERROR_IO, "%s: cannot write: %s", path, g_strerror(errno));
    return ok;
}

static gboolean export_model(scf_trainer *t, GError **error)
{
    g_autofree char *dir = path_in(t, "model", NULL);
    g_autofree char *card = g_strdup_printf(
        "# %s\n\nA text-to-image flow model trained by SCFlow Studio (`scflow train`).\n\n"
        "- steps: %" G_GINT64_FORMAT ", batch size %d, lr %g, EMA decay %g\n"
        "- data: %s\n- weights: EMA, fp16\n",
        t->model->name, t->step, t->cfg.batch_size, t->cfg.lr, t->cfg.ema_decay, t->data_dir);
    return scf_model_save(t->model, dir, t->ema, SCF_DTYPE_F16, card, error);
}

gboolean scf_trainer_run(scf_trainer *t, int64_t max_steps, scf_train_progress_fn progress,
                         gpointer user, GError **error)
{
    const scf_train_config *c = &t->cfg;
    const int64_t end = max_steps > 0 ? MIN(c->steps, t->step + max_steps) : c->steps;
    gint64 window_start = g_get_monotonic_time();
    int64_t window_steps = 0;
    double ips = 0;
    while (t->step < end) {
        double grad_norm = 0;
        double loss = train_step(t, &grad_norm, error);
        if (isnan(loss))
            return FALSE;
        window_steps++;
        gint64 now = g_get_monotonic_time();
        if (now - window_start > 2000000 || t->step % c->log_every == 0) {
            ips = (double)window_steps * c->batch_size / ((now - window_start) * 1e-6);
            window_start = now;
            window_steps = 0;
        }
        scf_train_progress p = {
            .step = t->step, .total = c->steps, .loss = loss, .grad_norm = grad_norm,
            .lr = c->lr * (c->warmup_steps > 0 ? MIN(1.0, (double)t->step / c->warmup_steps) : 1.0),
            .images_per_s = ips,
            .eta_s = ips > 0 ? (double)(c->steps - t->step) * c->batch_size / ips : 0,
        };
        if (t->step % c->log_every == 0 && !append_metrics(t, &p, error))
            return FALSE;
        g_autofree char *sample_path = NULL;
        if (t->step % c->sample_every == 0 || t->step == c->steps) {
            if (!write_samples(t, &sample_path, error))
                return FALSE;
            p.event = "samples";
            p.path = sample_path;
        }
        gboolean keep_going = !progress || progress(&p, user);
        if (t->step % c->checkpoint_every == 0 || t->step == end || !keep_going) {
            if (!scf_trainer_checkpoint(t, error))
                return FALSE;
            if (progress) {
                g_autofree char *path = checkpoint_path(t, t->step);
                scf_train_progress cp = p;
                cp.event = "checkpoint";
                cp.path = path;
                progress(&cp, user);
            }
        }
        if (!keep_going) {
            g_set_error(error, SCF_ERROR, SCF_ERROR_CANCELLED,
                        "stopped at step %" G_GINT64_FORMAT "; resume with --resume", t->step);
            return FALSE;
        }
    }
    if (t->step >= c->steps && !export_model(t, error))
        return FALSE;
    return TRUE;
}
