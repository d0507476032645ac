#include "train.h"
#include "atomic_file.h"
#include "collective.h"
#include "config.h"
#include "dataset.h"
#include "error.h"
#include "image.h"
#include "model.h"
#include "optim.h"
#include "run.h"
#include "rng.h"
#include "safetensors.h"
#include "sampler.h"
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#define SAMPLE_PROMPTS 8

struct scf_trainer {
    char *run_dir, *data_dir, *init_dir;
    scf_train_config cfg;
    scf_backend *be;
    scf_model *model;
    scf_dataset *data;
    scf_graph *g;
    float *adam_m, *adam_v, *ema;   /* device buffers of the params layout */
    int64_t step;
    /* per-step buffers, sized once: the whole batch's draws on the host,
     * this rank's slice on its device */
    float *host_images, *host_tau, *host_omt;
    const char **captions;
    float *x0, *eps, *tau, *one_minus_tau;
    int local_batch;                /* samples per rank: the batch on one device */
    char *sample_prompts[SAMPLE_PROMPTS];
    /* Data parallelism (NULL: one device). This trainer is rank 0; every
     * other rank has a replica on its device: a trainer with a model,
     * moments and step buffers but no data, EMA or run files of its own. */
    scf_collective *coll;
    scf_trainer **replicas;         /* ranks 1 .. world - 1 */
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
    t->cooldown_steps = scf_config_int(c, "cooldown_steps", 0, 0, t->steps, FALSE);
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
    scf_collective_free_replicas(t->coll, (gpointer *)t->replicas, (GDestroyNotify)scf_trainer_free);
    scf_backend *be = t->be;
    float *device[] = { t->adam_m, t->adam_v, t->ema, t->x0, t->eps, t->tau, t->one_minus_tau };
    for (size_t i = 0; i < G_N_ELEMENTS(device); i++)
        if (device[i])
            be->free(be, device[i]);
    for (int i = 0; i < SAMPLE_PROMPTS; i++)
        g_free(t->sample_prompts[i]);
    g_free(t->host_images);
    g_free(t->host_tau);
    g_free(t->host_omt);
    g_free(t->captions);
    scf_graph_free(t->g);
    scf_dataset_free(t->data);
    scf_model_free(t->model);
    g_free(t->run_dir);
    g_free(t->data_dir);
    g_free(t->init_dir);
    g_free(t);
}

/* The device state of a rank (with_ema: rank 0's, whose EMA is exported). */
static gboolean alloc_state(scf_trainer *t, gboolean with_ema, GError **error)
{
    scf_backend *be = t->be;
    const size_t total = params_total(t) * sizeof(float);
    const size_t batch = (size_t)t->local_batch * image_numel(t) * sizeof(float);
    t->adam_m = be->alloc(be, total);
    t->adam_v = be->alloc(be, total);
    t->ema = with_ema ? be->alloc(be, total) : NULL;
    t->x0 = be->alloc(be, batch);
    t->eps = be->alloc(be, batch);
    t->tau = be->alloc(be, (size_t)t->local_batch * sizeof(float));
    t->one_minus_tau = be->alloc(be, (size_t)t->local_batch * sizeof(float));
    if (!t->adam_m || !t->adam_v || (with_ema && !t->ema) || !t->x0 || !t->eps || !t->tau ||
        !t->one_minus_tau) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_NOMEM, "%s: cannot allocate training state on %s",
                    t->run_dir, be->name);
        return FALSE;
    }
    be->zero(be, t->adam_m, total);
    be->zero(be, t->adam_v, total);
    if (with_ema)
        be->copy(be, t->ema, t->model->params->data, total);
    t->g = scf_graph_new(be);
    return TRUE;
}

/* Buffers and sample prompts once model and data are known. */
static gboolean prepare(scf_trainer *t, GError **error)
{
    const int B = t->cfg.batch_size;
    t->local_batch = B;
    if (!alloc_state(t, TRUE, error))
        return FALSE;
    t->host_images = g_new(float, (size_t)B * image_numel(t));
    t->host_tau = g_new(float, B);
    t->host_omt = g_new(float, B);
    t->captions = g_new0(const char *, B);
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

static char *object_to_string(JsonObject *o)
{
    JsonNode *node = json_node_new(JSON_NODE_OBJECT);
    json_node_set_object(node, o);
    char *text = scf_json_to_string(node, TRUE, NULL);
    json_node_unref(node);
    return text;
}

/* run.json = {"model": <model config>, "training": {...}, "data": DIR[, "init": MODEL]} */
static char *run_json(const char *model_json, JsonObject *training, const char *data_dir,
                      const char *init_dir)
{
    g_autofree char *train = training ? object_to_string(training) : g_strdup("{}");
    g_autofree char *data = g_strescape(data_dir, NULL);
    g_autofree char *init = init_dir ? g_strescape(init_dir, NULL) : NULL;
    g_autofree char *init_member = init ? g_strdup_printf(",\n\"init\": \"%s\"", init) : g_strdup("");
    return g_strdup_printf("{\n\"model\": %s,\n\"training\": %s,\n\"data\": \"%s\"%s\n}\n",
                           model_json, train, data, init_member);
}

/* Weights (and with them the EMA) from a model folder: continuing the
 * training of a shipped model. */
static gboolean load_init(scf_trainer *t, GError **error)
{
    g_autofree char *path = g_build_filename(t->init_dir, SCF_MODEL_WEIGHTS, NULL);
    scf_safetensors *st = scf_safetensors_open(path, error);
    gboolean ok = st && scf_params_load(t->model->params, st, NULL, FALSE, error);
    scf_safetensors_close(st);
    if (ok && t->ema)
        t->be->copy(t->be, t->ema, t->model->params->data, params_total(t) * sizeof(float));
    return ok;
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
        t->init_dir = scf_config_string(&c, "init", NULL, FALSE);
        *model_json = object_to_string(json_node_get_object(m));
    }
    ok = scf_config_check(&c, error);
    scf_config_clear(&c);
    return ok;
}

scf_trainer *scf_trainer_new(const char *run_dir, const char *config_path, const char *data_dir,
                             const char *init_dir, scf_backend *be, GError **error)
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
    t->init_dir = init_dir ? g_canonicalize_filename(init_dir, NULL) : NULL;
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
    g_autofree char *full = NULL, *model_json = NULL;
    gboolean ok = scf_config_check(&c, error);
    if (ok && t->init_dir) {
        /* the model is the one continued; the config gives the training */
        g_autofree char *path = g_build_filename(t->init_dir, SCF_MODEL_CONFIG, NULL);
        GError *e = NULL;
        if (!g_file_get_contents(path, &model_json, NULL, &e)) {
            g_set_error(error, SCF_ERROR, SCF_ERROR_IO, "%s: cannot read: %s", path, e->message);
            g_error_free(e);
            ok = FALSE;
        }
    } else if (ok) {
        JsonObject *m = json_object_ref(c.root);
        json_object_remove_member(m, "training");
        model_json = object_to_string(m);
        json_object_unref(m);
    }
    if (ok)
        full = run_json(model_json, training, t->data_dir, t->init_dir);
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
    scf_tokenizer *tok = NULL;
    if (t->init_dir) {
        tok = scf_tokenizer_load(t->init_dir, error);
    } else {
        int n = scf_dataset_count(t->data);
        const char **caps = g_new(const char *, n);
        for (int i = 0; i < n; i++)
            caps[i] = scf_dataset_caption(t->data, i);
        tok = scf_tokenizer_build_word(caps, n, TRUE, 1, error);
        g_free(caps);
    }
    if (!tok)
        goto fail;
    t->model = scf_model_new(model_json, tok, be, TRUE, t->cfg.seed, error);
    if (!t->model || (t->init_dir && !load_init(t, error)))
        goto fail;
    if (!scf_run_make_folders(run_dir, error) || !scf_tokenizer_save(t->model->tok, run_dir, error) || !prepare(t, error) ||
        !scf_run_write_file(runfile, full, error))
        goto fail;
    return t;
fail:
    scf_trainer_free(t);
    return NULL;
}

/* ---- checkpoints ---- */

#define CHECKPOINT_KIND "scflow-checkpoint"

static void state_buffers(scf_trainer *t, scf_run_buffer out[4])
{
    const size_t n = params_total(t);
    out[0] = (scf_run_buffer){ "params", t->model->params->data, n };
    out[1] = (scf_run_buffer){ "adam_m", t->adam_m, n };
    out[2] = (scf_run_buffer){ "adam_v", t->adam_v, n };
    out[3] = (scf_run_buffer){ "ema", t->ema, n };
}

gboolean scf_trainer_checkpoint(scf_trainer *t, GError **error)
{
    scf_run_buffer bufs[4];
    state_buffers(t, bufs);
    return scf_run_save_checkpoint(t->run_dir, CHECKPOINT_KIND, t->step, t->be, bufs, 4,
                                   t->cfg.keep_checkpoints, error);
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
    scf_run_buffer bufs[4];
    state_buffers(t, bufs);
    if (!scf_run_load_latest(run_dir, CHECKPOINT_KIND, be, bufs, 4, &t->step, error) ||
        (t->step == 0 && t->init_dir && !load_init(t, error)) ||
        !scf_run_trim_metrics(run_dir, t->step, error))
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

/* The step's batch on the host: images, captions with dropout, and times.
 * Every draw is a function of the sample's index in the run's stream
 * (step * batch + b), so a rank's slice draws what one device would. */
static gboolean draw(scf_trainer *t, GError **error)
{
    const scf_train_config *c = &t->cfg;
    const int B = c->batch_size;
    const uint64_t first = (uint64_t)t->step * (uint64_t)B;
    if (!scf_dataset_batch(t->data, t->step, B, t->host_images, t->captions, error))
        return FALSE;
    for (int b = 0; b < B; b++) {
        if (scf_rng_uniform_at(stream_seed(c->seed, STREAM_DROPOUT), first + b) < c->caption_dropout)
            t->captions[b] = "";
        double u = c->logit_normal
            ? 1.0 / (1.0 + exp(-(c->logit_mean + c->logit_std *
                                 scf_rng_normal_at(stream_seed(c->seed, STREAM_TAU), first + b))))
            : scf_rng_uniform_at(stream_seed(c->seed, STREAM_TAU), first + b);
        t->host_tau[b] = (float)u;
        t->host_omt[b] = 1.0f - t->host_tau[b];
    }
    return TRUE;
}

/* Forward and backward of rank's slice of the batch t drew, on the rank's
 * trainer r (t itself for rank 0): the loss is the slice's mean. */
static gboolean forward_backward(scf_trainer *r, const scf_trainer *t, int rank, double *value,
                                 GError **error)
{
    scf_backend *be = r->be;
    scf_model *m = r->model;
    const int B = r->local_batch, lo = rank * B;
    const size_t img = image_numel(r);
    const uint64_t first = (uint64_t)t->step * (uint64_t)t->cfg.batch_size + (uint64_t)lo;

    be->upload(be, r->x0, t->host_images + (size_t)lo * img, (size_t)B * img * sizeof(float));
    be->upload(be, r->tau, t->host_tau + lo, (size_t)B * sizeof(float));
    be->upload(be, r->one_minus_tau, t->host_omt + lo, (size_t)B * sizeof(float));
    be->rng_normal(be, r->eps, (size_t)B * img, stream_seed(t->cfg.seed, STREAM_NOISE), first * img);

    scf_graph *g = r->g;
    scf_graph_reset(g);
    const int64_t shape[4] = { B, m->channels, m->image_size, m->image_size };
    /* x_tau = tau eps + (1 - tau) x0; target v* = eps - x0 (no gradient) */
    float *xt = scf_graph_scratch(g, (size_t)B * img * sizeof(float));
    float *tmp = scf_graph_scratch(g, (size_t)B * img * sizeof(float));
    float *target = scf_graph_scratch(g, (size_t)B * img * sizeof(float));
    if (!xt || !tmp || !target)
        return scf_graph_check(g, error);
    be->batch_scale_forward(be, xt, r->eps, r->tau, B, (int)img);
    be->batch_scale_forward(be, tmp, r->x0, r->one_minus_tau, B, (int)img);
    be->add(be, xt, xt, tmp, (size_t)B * img);
    be->copy(be, target, r->eps, (size_t)B * img * sizeof(float));
    be->axpy(be, target, r->x0, -1.0f, (size_t)B * img);

    scf_var *x = scf_graph_wrap(g, (scf_tensor){ xt, 4, { shape[0], shape[1], shape[2], shape[3] } });
    scf_var *tv = scf_graph_wrap(g, (scf_tensor){ r->tau, 1, { B } });
    scf_var *tg = scf_graph_wrap(g, (scf_tensor){ target, 4, { shape[0], shape[1], shape[2], shape[3] } });
    scf_var *ctx = scf_model_encode_text(m, g, t->captions + lo, B);
    scf_var *loss = scf_mse(g, scf_model_velocity(m, g, x, tv, ctx), tg);
    scf_params_zero_grad(m->params);
    scf_graph_backward(g, loss);
    if (!scf_graph_check(g, error))
        return FALSE;
    *value = scf_graph_scalar(g, loss);
    if (!isfinite(*value)) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_INVALID,
                    "%s: the loss became %g at step %" G_GINT64_FORMAT
                    " (try a lower lr); the last checkpoint is intact", r->run_dir, *value, r->step);
        return FALSE;
    }
    return TRUE;
}

typedef struct {
    scf_trainer *t;
    double loss, grad_norm;    /* rank 0's, after the average */
} step_job;

/* One rank's step: its slice's forward and backward, the loss and
 * gradients averaged over the ranks (the mean over the whole batch, as one
 * device computes it), then the same clipping and AdamW step on every rank
 * from the same gradients, so replicas stay identical without a broadcast;
 * rank 0 alone keeps the EMA. */
static gboolean rank_step(scf_collective *coll, int rank, gpointer user, GError **error)
{
    step_job *job = user;
    scf_trainer *t = job->t, *r = rank ? t->replicas[rank - 1] : t;
    scf_backend *be = r->be;
    scf_params *p = r->model->params;
    const scf_train_config *c = &r->cfg;
    const size_t total = params_total(r);
    double loss = NAN;
    gboolean ok = forward_backward(r, t, rank, &loss, error);
    if (!scf_collective_average(coll, rank, ok, &loss, 1, p->grad, total, error))
        return FALSE;
    double grad_norm = scf_clip_grad_norm(be, p->grad, total, c->grad_clip);
    double lr = scf_lr_schedule(c->lr, r->step, c->steps, c->warmup_steps, c->cooldown_steps);
    be->adamw_update(be, p->data, p->grad, r->adam_m, r->adam_v, total, (float)lr,
                     (float)c->beta1, (float)c->beta2, (float)c->eps, (float)c->weight_decay,
                     r->step + 1);
    if (r->ema) {
        /* EMA warm-up (1+n)/(10+n): early averages are not dominated by the init */
        double decay = MIN(c->ema_decay, (1.0 + r->step) / (10.0 + r->step));
        be->ema_update(be, r->ema, p->data, total, (float)decay);
    }
    r->step++;
    if (rank == 0) {
        job->loss = loss;
        job->grad_norm = grad_norm;
    }
    return TRUE;
}

static double train_step(scf_trainer *t, double *grad_norm, GError **error)
{
    step_job job = { t, NAN, 0 };
    if (!draw(t, error) || !scf_collective_run(t->coll, rank_step, &job, error))
        return NAN;
    *grad_norm = job.grad_norm;
    return job.loss;
}

/* ---- data parallelism ---- */

/* Rank's replica of t: the same model (its layout and tokenizer from the
 * run folder) with step buffers for its slice. */
static gboolean make_replica(scf_trainer *t, scf_collective *c, int rank, GError **error)
{
    scf_trainer *r = g_new0(scf_trainer, 1);
    t->replicas[rank - 1] = r;
    r->run_dir = g_strdup(t->run_dir);
    r->cfg = t->cfg;
    r->be = scf_collective_backend(c, rank);
    r->step = t->step;
    r->local_batch = t->local_batch;
    scf_tokenizer *tok = scf_tokenizer_load(t->run_dir, error);
    r->model = tok ? scf_model_new(t->model->config_json, tok, r->be, TRUE, t->cfg.seed, error)
                   : NULL;
    return r->model && alloc_state(r, FALSE, error);
}

/* Every rank: its replica made, then rank 0's weights and moments copied in. */
static gboolean replicate(scf_collective *c, int rank, gpointer user, GError **error)
{
    scf_trainer *t = user;
    gboolean ok = rank == 0 || make_replica(t, c, rank, error);
    if (!scf_collective_average(c, rank, ok, NULL, 0, NULL, 0, error))
        return FALSE;
    scf_run_buffer bufs[4];
    state_buffers(rank ? t->replicas[rank - 1] : t, bufs);
    /* params and moments; the EMA (last) is rank 0's alone */
    for (int i = 0; i < 3; i++)
        if (!scf_collective_broadcast(c, rank, bufs[i].data, bufs[i].n, error))
            return FALSE;
    return TRUE;
}

gboolean scf_trainer_data_parallel(scf_trainer *t, scf_collective *c, GError **error)
{
    g_return_val_if_fail(!t->replicas && scf_collective_backend(c, 0) == t->be, FALSE);
    const int world = scf_collective_world(c);
    int slice;
    if (!scf_collective_split_batch(c, t->cfg.batch_size, t->run_dir, &slice, error))
        return FALSE;
    if (world == 1)
        return TRUE;
    t->local_batch = slice;
    t->replicas = g_new0(scf_trainer *, world - 1);
    if (!scf_collective_run(c, replicate, t, error)) {
        scf_collective_free_replicas(c, (gpointer *)g_steal_pointer(&t->replicas),
                                     (GDestroyNotify)scf_trainer_free);
        t->local_batch = t->cfg.batch_size;
        return FALSE;
    }
    t->coll = c;
    return TRUE;
}

gboolean scf_trainer_advance(scf_trainer *t, double *loss, double *grad_norm, GError **error)
{
    *loss = train_step(t, grad_norm, error);
    return !isnan(*loss);
}

/* ---- samples, metrics, export ---- */

/* Sample grids show the EMA weights, the ones that get exported. */
static gboolean write_samples(scf_trainer *t, char **path_out, GError **error)
{
    scf_model *m = t->model;
    g_autofree char *name = g_strdup_printf("step-%08" G_GINT64_FORMAT ".png", t->step);
    *path_out = path_in(t, "samples", name);
    scf_params_swap_data(m->params, &t->ema);
    scf_params_set_trainable(m->params, FALSE);
    gboolean ok = scf_run_sample_grid(m, (const char *const *)t->sample_prompts, SAMPLE_PROMPTS,
                                      t->cfg.sample_steps, t->cfg.sample_guidance, *path_out, error);
    scf_params_set_trainable(m->params, TRUE);
    scf_params_swap_data(m->params, &t->ema);
    return ok;
}

static gboolean export_model(scf_trainer *t, GError **error)
{
    const scf_train_config *c = &t->cfg;
    g_autofree char *dir = path_in(t, "model", NULL);
    g_autofree char *cool = c->cooldown_steps > 0
        ? g_strdup_printf(", linear cool-down to 0 from step %" G_GINT64_FORMAT " to %" G_GINT64_FORMAT,
                          c->steps - c->cooldown_steps, c->steps)
        : g_strdup(", then constant");
    g_autofree char *card = g_strdup_printf(
        "# %s\n\nA text-to-image flow model trained by SCFlow Studio (`scflow train`).\n\n"
        "- steps: %" G_GINT64_FORMAT ", batch size %d, lr %g (warm-up %" G_GINT64_FORMAT
        " steps%s), EMA decay %g\n"
        "- data: %s\n- weights: EMA, fp16\n",
        t->model->name, t->step, c->batch_size, c->lr, c->warmup_steps, cool, c->ema_decay,
        t->data_dir);
    return scf_model_save(t->model, dir, t->ema, SCF_DTYPE_F16, card, error);
}

static int64_t trainer_current(gpointer run)
{
    return ((scf_trainer *)run)->step;
}

static gboolean trainer_step(gpointer run, scf_train_progress *p, GError **error)
{
    scf_trainer *t = run;
    const scf_train_config *c = &t->cfg;
    p->loss = train_step(t, &p->grad_norm, error);
    p->lr = scf_lr_schedule(c->lr, t->step - 1, c->steps, c->warmup_steps, c->cooldown_steps);
    return !isnan(p->loss);
}

static char *trainer_metrics(gpointer run, const scf_train_progress *p)
{
    return g_strdup_printf("{\"step\":%" G_GINT64_FORMAT ",\"loss\":%.6g,\"lr\":%.6g,"
                           "\"grad_norm\":%.6g,\"images_per_s\":%.4g,\"time\":%" G_GINT64_FORMAT "}",
                           p->step, p->loss, p->lr, p->grad_norm, p->images_per_s,
                           g_get_real_time() / 1000000);
}

static gboolean trainer_samples(gpointer run, char **path, GError **error)
{
    return write_samples(run, path, error);
}

static gboolean trainer_checkpoint(gpointer run, GError **error)
{
    return scf_trainer_checkpoint(run, error);
}

static gboolean trainer_finish(gpointer run, GError **error)
{
    return export_model(run, error);
}

gboolean scf_trainer_export(scf_trainer *t, GError **error)
{
    return export_model(t, error);
}

gboolean scf_trainer_run(scf_trainer *t, int64_t max_steps, scf_train_progress_fn progress,
                         gpointer user, GError **error)
{
    static const scf_run_ops ops = { trainer_current, trainer_step, trainer_metrics,
                                     trainer_samples, trainer_checkpoint, trainer_finish };
    const scf_train_config *c = &t->cfg;
    scf_run_schedule s = { t->run_dir, c->steps, c->log_every, c->sample_every,
                           c->checkpoint_every, c->batch_size };
    return scf_run_loop(&s, &ops, t, max_steps, progress, user, error);
}
