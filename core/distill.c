#include "distill.h"
#include "collective.h"
#include "config.h"
#include "dataset.h"
#include "discriminator.h"
#include "error.h"
#include "metrics.h"
#include "model.h"
#include "optim.h"
#include "rng.h"
#include "run.h"
#include "sampler.h"
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#define CHECKPOINT_KIND "scflow-distill-checkpoint"
#define SAMPLE_PROMPTS 8
#define PROBE_IMAGES 4
#define MAX_BATCH 1024

void scf_distill_config_defaults(scf_distill_config *c)
{
    *c = (scf_distill_config){
        .seed = 0, .batch_size = 16, .steps = 5000, .lr = 1e-5, .d_lr = 1e-4,
        .weight_decay = 0.01, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .grad_clip = 1.0,
        .delta_max = 0.1, .teacher_guidance = 1.5, .target_ema = 0.9, .eval_ema = 0.999,
        .tau_trunc = 0.1, .huber_c = 0.01, .w_reflow = 0.1, .w_adv = 0.1, .w_inv = 0.1,
        .warmup_reflow = 0, .warmup_adv = 500, .warmup_inv = 500,
        .truncation = TRUE, .bidirectional = TRUE, .reflow = TRUE, .gan = TRUE,
        .discriminator = SCF_DISCRIMINATOR_ENCODER, .resnet_width = 32, .r1_gamma = 0,
        .r1_every = 16, .log_every = 10, .probe_every = 100, .sample_every = 500, .checkpoint_every = 250,
        .keep_checkpoints = 3,
    };
}

static const struct {
    const char *name;
    gboolean truncation, bidirectional, reflow, gan;
} presets[] = {
    { "cd", FALSE, FALSE, FALSE, FALSE },
    { "cd+trunc", TRUE, FALSE, FALSE, FALSE },
    { "cd+trunc+bidir", TRUE, TRUE, FALSE, FALSE },
    { "cd+trunc+bidir+reflow", TRUE, TRUE, TRUE, FALSE },
    { "full", TRUE, TRUE, TRUE, TRUE },
};

gboolean scf_distill_config_ablation(scf_distill_config *c, const char *name)
{
    for (size_t i = 0; i < G_N_ELEMENTS(presets); i++)
        if (strcmp(presets[i].name, name) == 0) {
            c->truncation = presets[i].truncation;
            c->bidirectional = presets[i].bidirectional;
            c->reflow = presets[i].reflow;
            c->gan = presets[i].gan;
            return TRUE;
        }
    return FALSE;
}

const char *scf_distill_config_ablation_name(const scf_distill_config *c)
{
    for (size_t i = 0; i < G_N_ELEMENTS(presets); i++)
        if (presets[i].truncation == c->truncation && presets[i].bidirectional == c->bidirectional &&
            presets[i].reflow == c->reflow && presets[i].gan == c->gan)
            return presets[i].name;
    return "custom";
}

static void read_config(scf_distill_config *d, scf_config *c)
{
    scf_distill_config x;
    scf_distill_config_defaults(&x);
    d->seed = (uint64_t)scf_config_int(c, "seed", (gint64)x.seed, 0, G_MAXINT64, FALSE);
    d->batch_size = (int)scf_config_int(c, "batch_size", x.batch_size, 1, MAX_BATCH, FALSE);
    d->steps = scf_config_int(c, "steps", x.steps, 1, G_MAXINT32, FALSE);
    d->lr = scf_config_double(c, "lr", x.lr, 0, 1, FALSE);
    d->d_lr = scf_config_double(c, "d_lr", x.d_lr, 0, 1, FALSE);
    d->weight_decay = scf_config_double(c, "weight_decay", x.weight_decay, 0, 10, FALSE);
    d->beta1 = scf_config_double(c, "beta1", x.beta1, 0, 0.999999, FALSE);
    d->beta2 = scf_config_double(c, "beta2", x.beta2, 0, 0.999999999, FALSE);
    d->eps = scf_config_double(c, "eps", x.eps, 1e-20, 1, FALSE);
    d->grad_clip = scf_config_double(c, "grad_clip", x.grad_clip, 0, 1e9, FALSE);
    d->delta_max = scf_config_double(c, "delta_max", x.delta_max, 0, 1, FALSE);
    d->teacher_guidance = scf_config_double(c, "teacher_guidance", x.teacher_guidance, 0, 100, FALSE);
    d->target_ema = scf_config_double(c, "target_ema", x.target_ema, 0, 1, FALSE);
    d->eval_ema = scf_config_double(c, "eval_ema", x.eval_ema, 0, 1, FALSE);
    d->tau_trunc = scf_config_double(c, "tau_trunc", x.tau_trunc, 0, 1, FALSE);
    d->huber_c = scf_config_double(c, "huber_c", x.huber_c, 1e-9, 10, FALSE);
    d->w_reflow = scf_config_double(c, "w_reflow", x.w_reflow, 0, 100, FALSE);
    d->w_adv = scf_config_double(c, "w_adv", x.w_adv, 0, 100, FALSE);
    d->w_inv = scf_config_double(c, "w_inv", x.w_inv, 0, 100, FALSE);
    d->warmup_reflow = scf_config_int(c, "warmup_reflow", x.warmup_reflow, 0, G_MAXINT32, FALSE);
    d->warmup_adv = scf_config_int(c, "warmup_adv", x.warmup_adv, 0, G_MAXINT32, FALSE);
    d->warmup_inv = scf_config_int(c, "warmup_inv", x.warmup_inv, 0, G_MAXINT32, FALSE);
    d->truncation = scf_config_bool(c, "truncation", x.truncation);
    d->bidirectional = scf_config_bool(c, "bidirectional", x.bidirectional);
    d->reflow = scf_config_bool(c, "reflow", x.reflow);
    d->gan = scf_config_bool(c, "gan", x.gan);
    g_autofree char *kind = scf_config_string(c, "discriminator",
                                              scf_discriminator_kind_name(x.discriminator), FALSE);
    if (kind && !scf_discriminator_kind_parse(kind, &d->discriminator))
        scf_config_fail(c, "discriminator", "is \"%s\"; it must be \"encoder\" or \"resnet\"", kind);
    d->resnet_width = (int)scf_config_int(c, "resnet_width", x.resnet_width, 1, 4096, FALSE);
    /* R1 belongs to the unconditional variant (SCFLOW.md §3.8, gamma = 1);
     * the text-to-image discriminator is trained without it */
    const double r1_default = d->discriminator == SCF_DISCRIMINATOR_RESNET ? 1.0 : x.r1_gamma;
    d->r1_gamma = scf_config_double(c, "r1_gamma", r1_default, 0, 1e6, FALSE);
    d->r1_every = scf_config_int(c, "r1_every", x.r1_every, 1, G_MAXINT32, FALSE);
    d->log_every = scf_config_int(c, "log_every", x.log_every, 1, G_MAXINT32, FALSE);
    d->probe_every = scf_config_int(c, "probe_every", x.probe_every, 1, G_MAXINT32, FALSE);
    d->sample_every = scf_config_int(c, "sample_every", x.sample_every, 1, G_MAXINT32, FALSE);
    d->checkpoint_every = scf_config_int(c, "checkpoint_every", x.checkpoint_every, 1, G_MAXINT32, FALSE);
    d->keep_checkpoints = (int)scf_config_int(c, "keep_checkpoints", x.keep_checkpoints, 1, 1000, FALSE);
}

static char *config_to_json(const scf_distill_config *d)
{
    return g_strdup_printf(
        "{\"seed\": %" G_GUINT64_FORMAT ", \"batch_size\": %d, \"steps\": %" G_GINT64_FORMAT
        ", \"lr\": %.9g, \"d_lr\": %.9g, \"weight_decay\": %.9g, \"beta1\": %.9g, \"beta2\": %.12g"
        ", \"eps\": %.9g, \"grad_clip\": %.9g, \"delta_max\": %.9g, \"teacher_guidance\": %.9g"
        ", \"target_ema\": %.9g, \"eval_ema\": %.9g, \"tau_trunc\": %.9g, \"huber_c\": %.9g"
        ", \"w_reflow\": %.9g, \"w_adv\": %.9g, \"w_inv\": %.9g, \"warmup_reflow\": %" G_GINT64_FORMAT
        ", \"warmup_adv\": %" G_GINT64_FORMAT ", \"warmup_inv\": %" G_GINT64_FORMAT
        ", \"truncation\": %s, \"bidirectional\": %s, \"reflow\": %s, \"gan\": %s"
        ", \"discriminator\": \"%s\", \"resnet_width\": %d, \"r1_gamma\": %.9g"
        ", \"r1_every\": %" G_GINT64_FORMAT
        ", \"ablation\": \"%s\", \"log_every\": %" G_GINT64_FORMAT ", \"probe_every\": %" G_GINT64_FORMAT
        ", \"sample_every\": %" G_GINT64_FORMAT ", \"checkpoint_every\": %" G_GINT64_FORMAT
        ", \"keep_checkpoints\": %d}",
        d->seed, d->batch_size, d->steps, d->lr, d->d_lr, d->weight_decay, d->beta1, d->beta2,
        d->eps, d->grad_clip, d->delta_max, d->teacher_guidance, d->target_ema, d->eval_ema,
        d->tau_trunc, d->huber_c, d->w_reflow, d->w_adv, d->w_inv, d->warmup_reflow,
        d->warmup_adv, d->warmup_inv, d->truncation ? "true" : "false",
        d->bidirectional ? "true" : "false", d->reflow ? "true" : "false",
        d->gan ? "true" : "false", scf_discriminator_kind_name(d->discriminator),
        d->resnet_width, d->r1_gamma, d->r1_every, scf_distill_config_ablation_name(d), d->log_every,
        d->probe_every, d->sample_every, d->checkpoint_every, d->keep_checkpoints);
}

/* ---- the distiller ---- */

struct scf_distiller {
    char *run_dir, *teacher_dir, *data_dir;
    scf_distill_config cfg;
    scf_backend *be;
    scf_model *teacher, *student;
    scf_discriminator *disc;
    scf_dataset *data;
    scf_graph *g, *gd;
    size_t unet_n;                        /* the trained prefix of the student's buffer */
    float *adam_m, *adam_v, *target, *eval;
    float *d_m, *d_v;
    int64_t step;
    float *host_images, *host_eps, *host_noise, *host_u;   /* this step's draws */
    const char **captions, **empty;
    char *sample_prompts[SAMPLE_PROMPTS];
    /* device per-sample scalars */
    float *tau, *omt, *tau_dn, *tau_up, *dn, *up, *ones, *s_d, *oms_d;
    float *x0, *eps, *noise;
    int batch;                            /* samples per rank: the batch on one device */
    scf_distill_losses last;              /* of the latest step, for the metrics */
    double probe_mad;                     /* the latest step-consistency probe */
    double r1_latest;                     /* the latest R1 figure (taken every r1_every steps) */
    /* Data parallelism (NULL: one device). This distiller is rank 0; every
     * other rank has a replica on its device: teacher, student, moments,
     * target EMA and discriminator, but no data, evaluation EMA or run files. */
    scf_collective *coll;
    scf_distiller **replicas;             /* ranks 1 .. world - 1 */
};

static size_t image_numel(const scf_distiller *d)
{
    return (size_t)d->student->channels * d->student->image_size * d->student->image_size;
}

void scf_distiller_free(scf_distiller *d)
{
    if (!d)
        return;
    scf_collective_free_replicas(d->coll, (gpointer *)d->replicas,
                                 (GDestroyNotify)scf_distiller_free);
    scf_backend *be = d->be;
    float *bufs[] = { d->adam_m, d->adam_v, d->target, d->eval, d->d_m, d->d_v, d->tau, d->omt,
                      d->tau_dn, d->tau_up, d->dn, d->up, d->ones, d->s_d, d->oms_d, d->x0,
                      d->eps, d->noise };
    for (size_t i = 0; i < G_N_ELEMENTS(bufs); i++)
        if (bufs[i])
            be->free(be, bufs[i]);
    for (int i = 0; i < SAMPLE_PROMPTS; i++)
        g_free(d->sample_prompts[i]);
    g_free(d->host_images);
    g_free(d->host_eps);
    g_free(d->host_noise);
    g_free(d->host_u);
    g_free(d->captions);
    g_free(d->empty);
    scf_graph_free(d->g);
    scf_graph_free(d->gd);
    scf_dataset_free(d->data);
    scf_discriminator_free(d->disc);
    scf_model_free(d->student);
    scf_model_free(d->teacher);
    g_free(d->run_dir);
    g_free(d->teacher_dir);
    g_free(d->data_dir);
    g_free(d);
}

/* The UNet's parameters come first in a model's buffer (model.c registers
 * them before the text encoder's): only they are distilled. */
static size_t unet_prefix(const scf_params *p)
{
    size_t end = p->total;
    for (int i = 0; i < scf_params_count(p); i++) {
        const scf_param_entry *e = scf_params_entry(p, i);
        if (!g_str_has_prefix(e->name, "unet.") && e->offset < end)
            end = e->offset;
    }
    return end;
}

static float *device_alloc(scf_distiller *d, size_t floats, gboolean *ok)
{
    float *p = d->be->alloc(d->be, MAX(floats, 1) * sizeof(float));
    if (!p)
        *ok = FALSE;
    return p;
}

/* A rank's models and device state for its d->batch samples (with_eval:
 * rank 0's, which keeps the evaluation EMA). */
static gboolean setup_rank(scf_distiller *d, gboolean with_eval, GError **error)
{
    scf_backend *be = d->be;
    d->teacher = scf_model_load(d->teacher_dir, be, FALSE, error);
    d->student = d->teacher ? scf_model_load(d->teacher_dir, be, TRUE, error) : NULL;
    if (!d->student)
        return FALSE;
    d->disc = scf_discriminator_new(d->teacher, d->cfg.discriminator, d->cfg.resnet_width, be,
                                    d->cfg.seed, error);
    if (!d->disc)
        return FALSE;
    const size_t total = d->student->params->total, dtotal = scf_discriminator_params(d->disc)->total;
    const size_t B = (size_t)d->batch, img = image_numel(d);
    gboolean ok = TRUE;
    d->unet_n = unet_prefix(d->student->params);
    d->adam_m = device_alloc(d, total, &ok);
    d->adam_v = device_alloc(d, total, &ok);
    d->target = device_alloc(d, total, &ok);
    d->eval = with_eval ? device_alloc(d, total, &ok) : NULL;
    d->d_m = device_alloc(d, dtotal, &ok);
    d->d_v = device_alloc(d, dtotal, &ok);
    float **scalars[] = { &d->tau, &d->omt, &d->tau_dn, &d->tau_up, &d->dn, &d->up, &d->ones,
                          &d->s_d, &d->oms_d };
    for (size_t i = 0; i < G_N_ELEMENTS(scalars); i++)
        *scalars[i] = device_alloc(d, B, &ok);
    d->x0 = device_alloc(d, B * img, &ok);
    d->eps = device_alloc(d, B * img, &ok);
    d->noise = device_alloc(d, B * img, &ok);
    if (!ok) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_NOMEM, "%s: cannot allocate the distillation "
                    "state on %s", d->run_dir, be->name);
        return FALSE;
    }
    /* both EMAs start from the teacher, not from random weights */
    be->zero(be, d->adam_m, total * sizeof(float));
    be->zero(be, d->adam_v, total * sizeof(float));
    be->copy(be, d->target, d->student->params->data, total * sizeof(float));
    if (with_eval)
        be->copy(be, d->eval, d->student->params->data, total * sizeof(float));
    be->zero(be, d->d_m, dtotal * sizeof(float));
    be->zero(be, d->d_v, dtotal * sizeof(float));
    be->fill(be, d->ones, 1.0f, B);
    d->empty = g_new(const char *, B);
    for (size_t b = 0; b < B; b++)
        d->empty[b] = "";
    d->g = scf_graph_new(be);
    d->gd = scf_graph_new(be);
    return TRUE;
}

/* Rank 0: its state, the data, the buffers of a whole batch's draws and the
 * sample prompts. */
static gboolean setup(scf_distiller *d, GError **error)
{
    const size_t B = (size_t)d->cfg.batch_size;
    d->batch = d->cfg.batch_size;
    if (!setup_rank(d, TRUE, error))
        return FALSE;
    d->data = scf_dataset_open(d->data_dir, d->student->image_size, SCF_DATASET_TRAIN, d->cfg.seed,
                               error);
    if (!d->data)
        return FALSE;
    const size_t img = image_numel(d);
    d->host_images = g_new(float, B * img);
    d->host_eps = g_new(float, B * img);
    d->host_noise = g_new(float, B * img);
    d->host_u = g_new(float, 3 * B);
    d->captions = g_new0(const char *, B);
    int n = scf_dataset_count(d->data);
    for (int i = 0; i < SAMPLE_PROMPTS; i++)
        d->sample_prompts[i] = g_strdup(scf_dataset_caption(d->data, (int)((int64_t)i * n / SAMPLE_PROMPTS)));
    return TRUE;
}

#define STATE_BUFFERS 8
#define EVAL_BUFFER 4     /* rank 0's alone */

static void state_buffers(scf_distiller *d, scf_run_buffer out[STATE_BUFFERS])
{
    const size_t n = d->student->params->total;
    scf_params *dp = scf_discriminator_params(d->disc);
    out[0] = (scf_run_buffer){ "student", d->student->params->data, n };
    out[1] = (scf_run_buffer){ "adam_m", d->adam_m, n };
    out[2] = (scf_run_buffer){ "adam_v", d->adam_v, n };
    out[3] = (scf_run_buffer){ "target_ema", d->target, n };
    out[EVAL_BUFFER] = (scf_run_buffer){ "eval_ema", d->eval, n };
    out[5] = (scf_run_buffer){ "discriminator", dp->data, dp->total };
    out[6] = (scf_run_buffer){ "disc_adam_m", d->d_m, dp->total };
    out[7] = (scf_run_buffer){ "disc_adam_v", d->d_v, dp->total };
}

static gboolean checkpoint(scf_distiller *d, GError **error)
{
    scf_run_buffer bufs[STATE_BUFFERS];
    state_buffers(d, bufs);
    return scf_run_save_checkpoint(d->run_dir, CHECKPOINT_KIND, d->step, d->be, bufs,
                                   STATE_BUFFERS, d->cfg.keep_checkpoints, error);
}

static char *run_json(const scf_distiller *d)
{
    g_autofree char *cfg = config_to_json(&d->cfg);
    g_autofree char *teacher = g_strescape(d->teacher_dir, NULL);
    g_autofree char *data = g_strescape(d->data_dir, NULL);
    return g_strdup_printf("{\n  \"teacher\": \"%s\",\n  \"data\": \"%s\",\n  \"distillation\": %s\n}\n",
                           teacher, data, cfg);
}

scf_distiller *scf_distiller_new(const char *run_dir, const char *teacher_dir,
                                 const char *data_dir, const char *config_path,
                                 const char *ablation, scf_backend *be, GError **error)
{
    scf_distiller *d = g_new0(scf_distiller, 1);
    d->run_dir = g_strdup(run_dir);
    d->teacher_dir = g_canonicalize_filename(teacher_dir, NULL);
    d->data_dir = g_canonicalize_filename(data_dir, NULL);
    d->be = be;
    d->probe_mad = -1;
    scf_distill_config_defaults(&d->cfg);
    g_autofree char *runfile = g_build_filename(run_dir, "run.json", NULL);
    g_autofree char *json = NULL;
    if (g_file_test(runfile, G_FILE_TEST_EXISTS)) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_INVALID,
                    "%s: a run already exists there (use --resume to continue it)", run_dir);
        goto fail;
    }
    if (config_path) {
        scf_config c;
        if (!scf_config_load(&c, config_path, error))
            goto fail;
        read_config(&d->cfg, &c);
        gboolean ok = scf_config_check(&c, error);
        scf_config_clear(&c);
        if (!ok)
            goto fail;
    }
    if (ablation && !scf_distill_config_ablation(&d->cfg, ablation)) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_INVALID, "unknown ablation '%s' (expected full, "
                    "cd, cd+trunc, cd+trunc+bidir or cd+trunc+bidir+reflow)", ablation);
        goto fail;
    }
    if (!setup(d, error) || !scf_run_make_folders(run_dir, error))
        goto fail;
    json = run_json(d);
    if (!scf_run_write_file(runfile, json, error))
        goto fail;
    return d;
fail:
    scf_distiller_free(d);
    return NULL;
}

scf_distiller *scf_distiller_resume(const char *run_dir, scf_backend *be, GError **error)
{
    scf_distiller *d = g_new0(scf_distiller, 1);
    d->run_dir = g_strdup(run_dir);
    d->be = be;
    d->probe_mad = -1;
    g_autofree char *runfile = g_build_filename(run_dir, "run.json", NULL);
    scf_config c, dc;
    if (!scf_config_load(&c, runfile, error))
        goto fail;
    d->teacher_dir = scf_config_string(&c, "teacher", NULL, TRUE);
    d->data_dir = scf_config_string(&c, "data", NULL, TRUE);
    if (scf_config_child(&c, "distillation", &dc)) {
        read_config(&d->cfg, &dc);
        scf_config_check(&dc, &c.error);
        scf_config_clear(&dc);
    }
    gboolean ok = scf_config_check(&c, error);
    scf_config_clear(&c);
    if (!ok || !setup(d, error))
        goto fail;
    scf_run_buffer bufs[STATE_BUFFERS];
    state_buffers(d, bufs);
    if (!scf_run_load_latest(run_dir, CHECKPOINT_KIND, be, bufs, STATE_BUFFERS, &d->step, error) ||
        !scf_run_trim_metrics(run_dir, d->step, error))
        goto fail;
    return d;
fail:
    scf_distiller_free(d);
    return NULL;
}

int64_t scf_distiller_step(const scf_distiller *d)
{
    return d->step;
}

const scf_distill_config *scf_distiller_config(const scf_distiller *d)
{
    return &d->cfg;
}

/* ---- one iteration ---- */

enum { STREAM_NOISE = 11, STREAM_TAU, STREAM_DOWN, STREAM_UP, STREAM_DNOISE };

static uint64_t stream_seed(uint64_t seed, int stream)
{
    uint64_t z = seed + 0x9E3779B97F4A7C15ull * (uint64_t)stream;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}


static scf_var *wrap_images(scf_distiller *d, scf_graph *g, float *data)
{
    const int64_t B = d->batch, C = d->student->channels, S = d->student->image_size;
    return scf_graph_wrap(g, (scf_tensor){ data, 4, { B, C, S, S } });
}

static scf_var *wrap_times(scf_distiller *d, scf_graph *g, float *data)
{
    return scf_graph_wrap(g, (scf_tensor){ data, 1, { d->batch } });
}

/* f(x, tau) = x - tau v(x, tau, c): the clean-sample readout. */
static scf_var *readout(scf_model *m, scf_graph *g, scf_var *x, scf_var *tau, scf_var *ctx)
{
    scf_var *v = scf_model_velocity(m, g, x, tau, ctx);
    return scf_add(g, x, scf_scale(g, scf_batch_scale(g, v, tau), -1.0f));
}

/* out = a * x + b * y per sample (a, b device scalars per sample): the
 * interpolants and the teacher's Euler steps, with no gradient. */
static float *combine(scf_distiller *d, scf_graph *g, const float *x, const float *a,
                      const float *y, const float *b)
{
    scf_backend *be = d->be;
    const int B = d->batch;
    const size_t img = image_numel(d);
    float *out = scf_graph_scratch(g, (size_t)B * img * sizeof(float));
    float *tmp = scf_graph_scratch(g, (size_t)B * img * sizeof(float));
    if (!out || !tmp)
        return NULL;
    if (a)
        be->batch_scale_forward(be, out, x, a, B, (int)img);
    else
        be->copy(be, out, x, (size_t)B * img * sizeof(float));
    be->batch_scale_forward(be, tmp, y, b, B, (int)img);
    be->add(be, out, out, tmp, (size_t)B * img);
    return out;
}

static float *scratch_copy(scf_distiller *d, scf_graph *g, const float *src)
{
    size_t bytes = (size_t)d->batch * image_numel(d) * sizeof(float);
    float *out = scf_graph_scratch(g, bytes);
    if (out)
        d->be->copy(d->be, out, src, bytes);
    return out;
}

static double mean_of(scf_distiller *d, scf_var *logits)
{
    float host[MAX_BATCH];
    size_t n = scf_tensor_numel(&logits->value);
    d->be->download(d->be, host, logits->value.data, n * sizeof(float));
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += host[i];
    return s / (double)n;
}

static void adamw(scf_distiller *d, float *param, float *grad, float *m, float *v, size_t n,
                  double lr)
{
    const scf_distill_config *c = &d->cfg;
    d->be->adamw_update(d->be, param, grad, m, v, n, (float)lr, (float)c->beta1, (float)c->beta2,
                        (float)c->eps, (float)c->weight_decay, d->step + 1);
}

/* One discriminator step on detached fakes: L_D = mean softplus(-D(real))
 * + mean softplus(D(fake)), both noised with the same noise at s = tau_down.
 * Over several devices (rank of c), the ranks' losses, scores and
 * gradients are averaged before every rank takes the same step. */
static gboolean discriminator_step(scf_distiller *d, scf_collective *c, int rank, const float *fake,
                                   scf_var *ctx_values, scf_distill_losses *st, GError **error)
{
    scf_graph *g = d->gd;
    const scf_distill_config *cfg = &d->cfg;
    scf_params *dp = scf_discriminator_params(d->disc);
    scf_params_zero_grad(dp);
    double r1 = 0;
    if (cfg->r1_gamma > 0 && d->step % cfg->r1_every == 0) {
        scf_graph_reset(g);
        float *real = combine(d, g, d->noise, d->s_d, d->x0, d->oms_d);
        if (!real)
            return scf_graph_check(g, error);
        if (!scf_discriminator_r1(d->disc, g, real, d->batch,
                                  (scf_tensor){ d->s_d, 1, { d->batch } }, ctx_values->value,
                                  (float)(cfg->r1_gamma * (double)cfg->r1_every), &r1, error))
            return FALSE;
    }
    scf_graph_reset(g);
    float *real_n = combine(d, g, d->noise, d->s_d, d->x0, d->oms_d);
    float *fake_n = combine(d, g, d->noise, d->s_d, fake, d->oms_d);
    if (!real_n || !fake_n)
        return scf_graph_check(g, error);
    scf_var *ctx = scf_graph_wrap(g, ctx_values->value);
    scf_var *s = wrap_times(d, g, d->s_d);
    scf_var *lr = scf_discriminator_forward(d->disc, g, wrap_images(d, g, real_n), s, ctx);
    scf_var *lf = scf_discriminator_forward(d->disc, g, wrap_images(d, g, fake_n), s, ctx);
    scf_var *loss = scf_add(g, scf_gan_logistic(g, lr, -1.0f), scf_gan_logistic(g, lf, 1.0f));
    scf_graph_backward(g, loss);
    if (!scf_graph_check(g, error))
        return FALSE;
    double v[4] = { scf_graph_scalar(g, loss), mean_of(d, lr), mean_of(d, lf), r1 };
    if (!scf_collective_average(c, rank, TRUE, v, 4, dp->grad, dp->total, error))
        return FALSE;
    st->d_loss = v[0];
    st->d_real = v[1];
    st->d_fake = v[2];
    st->d_r1 = v[3];
    scf_clip_grad_norm(d->be, dp->grad, dp->total, d->cfg.grad_clip);
    adamw(d, dp->data, dp->grad, d->d_m, d->d_v, dp->total, d->cfg.d_lr);
    return TRUE;
}

/* n elements of a normal stream from offset, as be->rng_normal draws them
 * (the draws live on the host, where a test can give its own instead). */
static void host_normals(float *out, size_t n, uint64_t seed, uint64_t offset)
{
    float block[4];
    for (size_t i = 0; i < n; i++) {
        uint64_t j = offset + i;
        if (i == 0 || j % 4 == 0)
            scf_rng_normal_block(seed, j / 4, block);
        out[i] = block[j % 4];
    }
}

/* This step's draws: a pure function of (seed, step), so resume is exact. */
static gboolean draw(scf_distiller *d, scf_distill_draws *dr, GError **error)
{
    const scf_distill_config *c = &d->cfg;
    const int B = c->batch_size;
    const size_t img = image_numel(d);
    const uint64_t first = (uint64_t)d->step * (uint64_t)B;
    if (!scf_dataset_batch(d->data, (uint64_t)d->step, B, d->host_images, d->captions, error))
        return FALSE;
    float *u = d->host_u;
    for (int b = 0; b < B; b++) {
        u[b] = scf_rng_uniform_at(stream_seed(c->seed, STREAM_TAU), first + b);
        u[B + b] = scf_rng_uniform_at(stream_seed(c->seed, STREAM_DOWN), first + b);
        u[2 * B + b] = scf_rng_uniform_at(stream_seed(c->seed, STREAM_UP), first + b);
    }
    host_normals(d->host_eps, (size_t)B * img, stream_seed(c->seed, STREAM_NOISE), first * img);
    host_normals(d->host_noise, (size_t)B * img, stream_seed(c->seed, STREAM_DNOISE), first * img);
    *dr = (scf_distill_draws){ d->host_images, d->captions, d->host_eps, d->host_noise,
                               u, u + B, u + 2 * B };
    return TRUE;
}

/* Per-sample times and teacher steps (SCFLOW.md §3.1) from the draws. */
static void set_times(scf_distiller *d, const scf_distill_draws *dr, gboolean *truncate)
{
    const scf_distill_config *c = &d->cfg;
    const int B = d->batch;
    float tau[MAX_BATCH], omt[MAX_BATCH], tdn[MAX_BATCH], tup[MAX_BATCH], dn[MAX_BATCH],
          up[MAX_BATCH], oms[MAX_BATCH];
    for (int b = 0; b < B; b++) {
        double t = dr->u_tau[b];
        double down = dr->u_down[b] * MIN(t, c->delta_max);
        double upw = dr->u_up[b] * MIN(1.0 - t, c->delta_max);
        tau[b] = (float)t;
        omt[b] = (float)(1.0 - t);
        tdn[b] = (float)(t - down);
        tup[b] = (float)(t + upw);
        dn[b] = (float)-down;
        up[b] = (float)upw;
        oms[b] = 1.0f - tdn[b];
        truncate[b] = c->truncation && tdn[b] < c->tau_trunc;
    }
    scf_backend *be = d->be;
    be->upload(be, d->tau, tau, B * sizeof(float));
    be->upload(be, d->omt, omt, B * sizeof(float));
    be->upload(be, d->tau_dn, tdn, B * sizeof(float));
    be->upload(be, d->tau_up, tup, B * sizeof(float));
    be->upload(be, d->dn, dn, B * sizeof(float));
    be->upload(be, d->up, up, B * sizeof(float));
    be->upload(be, d->s_d, tdn, B * sizeof(float));
    be->upload(be, d->oms_d, oms, B * sizeof(float));
}

/* One iteration of rank (of coll) on its slice dr of the batch, its
 * losses and gradients averaged over the ranks before each step. */
static gboolean iteration(scf_distiller *d, scf_collective *coll, int rank,
                          const scf_distill_draws *dr, scf_distill_losses *st, GError **error)
{
    const scf_distill_config *c = &d->cfg;
    scf_backend *be = d->be;
    const int B = d->batch;
    const size_t img = image_numel(d), bytes = (size_t)B * img * sizeof(float);
    scf_graph *g = d->g;
    memset(st, 0, sizeof *st);

    gboolean truncate[MAX_BATCH];
    set_times(d, dr, truncate);
    be->upload(be, d->x0, dr->x0, bytes);
    be->upload(be, d->eps, dr->eps, bytes);
    be->upload(be, d->noise, dr->noise, bytes);

    scf_graph_reset(g);
    scf_var *tau = wrap_times(d, g, d->tau);
    /* the text encoder is the teacher's, frozen: only the UNet is distilled */
    scf_var *ctx = scf_model_encode_text(d->teacher, g, dr->captions, B);
    float *xt = combine(d, g, d->eps, d->tau, d->x0, d->omt);
    if (!ctx || !xt)
        return scf_graph_check(g, error);
    scf_var *x_tau = wrap_images(d, g, xt);

    /* 2-3. the teacher's guided velocity and its Euler steps down and up */
    scf_var *v_t = scf_model_velocity(d->teacher, g, x_tau, tau, ctx);
    if (c->teacher_guidance != 1.0) {
        scf_var *ctx0 = scf_model_encode_text(d->teacher, g, d->empty, B);
        scf_var *v_0 = scf_model_velocity(d->teacher, g, x_tau, tau, ctx0);
        v_t = scf_add(g, scf_scale(g, v_0, (float)(1.0 - c->teacher_guidance)),
                      scf_scale(g, v_t, (float)c->teacher_guidance));
    }
    if (!v_t)
        return scf_graph_check(g, error);
    /* terms off or still warming up cost nothing: their passes are skipped */
    const gboolean inv_on = c->bidirectional && d->step >= c->warmup_inv && c->w_inv > 0;
    const gboolean reflow_on = c->reflow && d->step >= c->warmup_reflow && c->w_reflow > 0;
    const gboolean adv_on = c->gan && d->step >= c->warmup_adv && c->w_adv > 0;
    float *x_dn = combine(d, g, xt, NULL, v_t->value.data, d->dn);
    float *x_up = inv_on ? combine(d, g, xt, NULL, v_t->value.data, d->up) : NULL;
    if (!x_dn || (inv_on && !x_up))
        return scf_graph_check(g, error);

    /* 4. targets from the target EMA, no gradient; truncation near the data */
    scf_params *sp = d->student->params;
    scf_params_swap_data(sp, &d->target);
    scf_params_set_trainable(sp, FALSE);
    scf_var *y_dn = readout(d->student, g, wrap_images(d, g, x_dn), wrap_times(d, g, d->tau_dn), ctx);
    scf_var *y_up = inv_on
        ? readout(d->student, g, wrap_images(d, g, x_up), wrap_times(d, g, d->tau_up), ctx) : NULL;
    scf_params_set_trainable(sp, TRUE);
    scf_params_swap_data(sp, &d->target);
    if (!y_dn || (inv_on && !y_up))
        return scf_graph_check(g, error);
    for (int b = 0; b < B; b++)
        if (truncate[b])
            be->copy(be, y_dn->value.data + (size_t)b * img, d->x0 + (size_t)b * img,
                     img * sizeof(float));

    /* 5-6. consistency and bidirectional losses on f(x_tau, tau) */
    scf_var *f_cur = readout(d->student, g, x_tau, tau, ctx);
    scf_var *l_con = scf_pseudo_huber(g, f_cur, y_dn, (float)c->huber_c);
    scf_var *loss = l_con;
    scf_var *l_inv = inv_on ? scf_pseudo_huber(g, f_cur, y_up, (float)c->huber_c) : NULL;
    if (l_inv)
        loss = scf_add(g, loss, scf_scale(g, l_inv, (float)c->w_inv));

    /* 7. self-correction on the student's own one-step sample; only the
     * generator loss differentiates through it, reflow takes a copy */
    scf_var *x_hat = NULL, *l_reflow = NULL, *l_adv = NULL;
    if (reflow_on || adv_on) {
        scf_params_set_trainable(sp, adv_on);
        x_hat = readout(d->student, g, wrap_images(d, g, d->eps), wrap_times(d, g, d->ones), ctx);
        scf_params_set_trainable(sp, TRUE);
    }
    if (reflow_on && x_hat) {
        float *x_hat_sg = scratch_copy(d, g, x_hat->value.data);
        float *x_tilde = x_hat_sg ? combine(d, g, d->eps, d->tau, x_hat_sg, d->omt) : NULL;
        if (!x_tilde)
            return scf_graph_check(g, error);
        scf_var *f_tilde = readout(d->student, g, wrap_images(d, g, x_tilde), tau, ctx);
        l_reflow = scf_mse(g, f_tilde, wrap_images(d, g, x_hat_sg));
        loss = scf_add(g, loss, scf_scale(g, l_reflow, (float)c->w_reflow));
    }

    /* 8. one discriminator step on detached fakes, then the generator loss
     * through the updated, frozen discriminator */
    if (adv_on && x_hat) {
        float *fake = scratch_copy(d, g, x_hat->value.data);
        if (!fake || !discriminator_step(d, coll, rank, fake, ctx, st, error))
            return fake ? FALSE : scf_graph_check(g, error);
        scf_params *dp = scf_discriminator_params(d->disc);
        scf_params_set_trainable(dp, FALSE);
        scf_var *s = wrap_times(d, g, d->s_d);
        scf_var *noised = scf_add(g, scf_batch_scale(g, x_hat, wrap_times(d, g, d->oms_d)),
                                  scf_batch_scale(g, wrap_images(d, g, d->noise), s));
        scf_var *logits = scf_discriminator_forward(d->disc, g, noised, s, ctx);
        l_adv = scf_gan_logistic(g, logits, -1.0f);
        loss = scf_add(g, loss, scf_scale(g, l_adv, (float)c->w_adv));
    }

    /* 9. one student step, then both EMAs */
    scf_params_zero_grad(sp);
    scf_graph_backward(g, loss);
    if (adv_on)
        scf_params_set_trainable(scf_discriminator_params(d->disc), TRUE);
    if (!scf_graph_check(g, error))
        return FALSE;
    st->total = scf_graph_scalar(g, loss);
    st->con = scf_graph_scalar(g, l_con);
    st->inv = l_inv ? scf_graph_scalar(g, l_inv) : 0;
    st->reflow = l_reflow ? scf_graph_scalar(g, l_reflow) : 0;
    st->adv = l_adv ? scf_graph_scalar(g, l_adv) : 0;
    if (!isfinite(st->total)) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_INVALID,
                    "%s: the loss became %g at step %" G_GINT64_FORMAT
                    "; the last checkpoint is intact", d->run_dir, st->total, d->step);
        return FALSE;
    }
    double v[5] = { st->total, st->con, st->inv, st->reflow, st->adv };
    if (!scf_collective_average(coll, rank, TRUE, v, 5, sp->grad, d->unet_n, error))
        return FALSE;
    st->total = v[0];
    st->con = v[1];
    st->inv = v[2];
    st->reflow = v[3];
    st->adv = v[4];
    st->grad_norm = scf_clip_grad_norm(be, sp->grad, d->unet_n, c->grad_clip);
    adamw(d, sp->data, sp->grad, d->adam_m, d->adam_v, d->unet_n, c->lr);
    be->ema_update(be, d->target, sp->data, d->unet_n, (float)c->target_ema);
    if (d->eval) {
        double decay = MIN(c->eval_ema, (1.0 + d->step) / (10.0 + d->step));
        be->ema_update(be, d->eval, sp->data, d->unet_n, (float)decay);
    }
    d->step++;
    return TRUE;
}

/* ---- data parallelism ---- */

typedef struct {
    scf_distiller *d;
    const scf_distill_draws *draws;   /* the whole batch's */
} iteration_job;

/* Rank's iteration on its slice of the batch. */
static gboolean rank_iteration(scf_collective *c, int rank, gpointer user, GError **error)
{
    const iteration_job *job = user;
    scf_distiller *d = job->d, *r = rank ? d->replicas[rank - 1] : d;
    const scf_distill_draws *dr = job->draws;
    const int lo = rank * r->batch;
    const size_t at = (size_t)lo * image_numel(r);
    const scf_distill_draws slice = { dr->x0 + at, dr->captions + lo, dr->eps + at,
                                      dr->noise + at, dr->u_tau + lo, dr->u_down + lo,
                                      dr->u_up + lo };
    return iteration(r, c, rank, &slice, &r->last, error);
}

/* One iteration on every rank; d->last holds its losses. */
static gboolean step_all(scf_distiller *d, const scf_distill_draws *draws, GError **error)
{
    iteration_job job = { d, draws };
    return scf_collective_run(d->coll, rank_iteration, &job, error);
}

/* Rank's replica of d, made on its device. */
static gboolean make_replica(scf_distiller *d, scf_collective *c, int rank, GError **error)
{
    scf_distiller *r = g_new0(scf_distiller, 1);
    d->replicas[rank - 1] = r;
    r->run_dir = g_strdup(d->run_dir);
    r->teacher_dir = g_strdup(d->teacher_dir);
    r->cfg = d->cfg;
    r->be = scf_collective_backend(c, rank);
    r->step = d->step;
    r->batch = d->batch;
    return setup_rank(r, FALSE, error);
}

/* Every rank: its replica made, then rank 0's state copied in. */
static gboolean replicate(scf_collective *c, int rank, gpointer user, GError **error)
{
    scf_distiller *d = user;
    gboolean ok = rank == 0 || make_replica(d, c, rank, error);
    if (!scf_collective_average(c, rank, ok, NULL, 0, NULL, 0, error))
        return FALSE;
    scf_run_buffer bufs[STATE_BUFFERS];
    state_buffers(rank ? d->replicas[rank - 1] : d, bufs);
    for (int i = 0; i < STATE_BUFFERS; i++)
        if (i != EVAL_BUFFER && !scf_collective_broadcast(c, rank, bufs[i].data, bufs[i].n, error))
            return FALSE;
    return TRUE;
}

gboolean scf_distiller_data_parallel(scf_distiller *d, scf_collective *c, GError **error)
{
    g_return_val_if_fail(!d->replicas && scf_collective_backend(c, 0) == d->be, FALSE);
    int slice;
    if (!scf_collective_split_batch(c, d->cfg.batch_size, d->run_dir, &slice, error))
        return FALSE;
    if (scf_collective_world(c) == 1)
        return TRUE;
    d->batch = slice;
    d->replicas = g_new0(scf_distiller *, scf_collective_world(c) - 1);
    if (!scf_collective_run(c, replicate, d, error)) {
        scf_collective_free_replicas(c, (gpointer *)g_steal_pointer(&d->replicas),
                                     (GDestroyNotify)scf_distiller_free);
        d->batch = d->cfg.batch_size;
        return FALSE;
    }
    d->coll = c;
    return TRUE;
}

/* ---- evaluation during the run ---- */

/* The step-consistency probe: mean absolute difference between the 1-step
 * and 4-step samples of the evaluation EMA from the same noise. */
static gboolean probe(scf_distiller *d, double *mad, GError **error)
{
    scf_model *m = d->student;
    scf_params_swap_data(m->params, &d->eval);
    scf_params_set_trainable(m->params, FALSE);
    scf_sampler *s = scf_sampler_new(m);
    const size_t img = image_numel(d);
    float *one = g_new(float, img), *four = g_new(float, img);
    gboolean ok = TRUE;
    double sum = 0;
    for (int i = 0; ok && i < PROBE_IMAGES; i++) {
        scf_sample_request r1 = { d->sample_prompts[i], NULL, 1, 1.0f, (uint64_t)i, 1 };
        scf_sample_request r4 = r1;
        r4.steps = 4;
        ok = scf_sampler_run(s, &r1, one, NULL, NULL, error) &&
             scf_sampler_run(s, &r4, four, NULL, NULL, error);
        sum += ok ? scf_metric_mad(one, four, img) : 0;
    }
    scf_sampler_free(s);
    g_free(one);
    g_free(four);
    scf_params_set_trainable(m->params, TRUE);
    scf_params_swap_data(m->params, &d->eval);
    *mad = sum / PROBE_IMAGES;
    return ok;
}

static gboolean write_samples(scf_distiller *d, char **path_out, GError **error)
{
    scf_model *m = d->student;
    scf_params_swap_data(m->params, &d->eval);
    scf_params_set_trainable(m->params, FALSE);
    gboolean ok = TRUE;
    const int steps[] = { 1, 4 };
    for (int i = 0; ok && i < 2; i++) {
        g_autofree char *name = g_strdup_printf("step-%08" G_GINT64_FORMAT "-%dstep.png", d->step,
                                                steps[i]);
        g_free(*path_out);
        *path_out = g_build_filename(d->run_dir, "samples", name, NULL);
        ok = scf_run_sample_grid(m, (const char *const *)d->sample_prompts, SAMPLE_PROMPTS,
                                 steps[i], 1.0f, *path_out, error);
    }
    scf_params_set_trainable(m->params, TRUE);
    scf_params_swap_data(m->params, &d->eval);
    return ok;
}

/* The student's config: the teacher's with kind, name and sampling defaults
 * of a one-step model (guidance is distilled in: the student runs at 1),
 * and the teacher's name, so that a comparison can put it beside. */
static char *student_config(const scf_model *teacher)
{
    JsonParser *parser = json_parser_new();
    char *out = NULL;
    if (json_parser_load_from_data(parser, teacher->config_json, -1, NULL)) {
        JsonObject *o = json_node_get_object(json_parser_get_root(parser));
        /* "emoji-32-teacher" -> "emoji-32-scflow" */
        g_autofree char *base = g_str_has_suffix(teacher->name, "-teacher")
            ? g_strndup(teacher->name, strlen(teacher->name) - strlen("-teacher"))
            : g_strdup(teacher->name);
        g_autofree char *name = g_strconcat(base, "-scflow", NULL);
        json_object_set_string_member(o, "name", name);
        json_object_set_string_member(o, "kind", "student");
        json_object_set_string_member(o, "teacher", teacher->name);
        JsonObject *def = json_object_new();
        json_object_set_int_member(def, "steps", 1);
        json_object_set_double_member(def, "guidance", 1.0);
        json_object_set_object_member(o, "defaults", def);
        out = scf_json_to_string(json_parser_get_root(parser), TRUE, NULL);
    }
    g_object_unref(parser);
    return out ? out : g_strdup(teacher->config_json);
}

static gboolean export_student(scf_distiller *d, GError **error)
{
    scf_model *m = d->student;
    g_autofree char *dir = g_build_filename(d->run_dir, "model", NULL);
    g_autofree char *cfg = student_config(d->teacher);
    g_free(m->config_json);
    m->config_json = g_steal_pointer(&cfg);
    g_autofree char *card = g_strdup_printf(
        "# SCFlow student of %s\n\nDistilled by SCFlow Studio (`scflow distill`, ablation \"%s\") "
        "for one-step and few-step generation.\n\n- steps: %" G_GINT64_FORMAT ", batch %d, "
        "lr %g, teacher guidance %g\n- weights: evaluation EMA (%g), fp16\n- teacher: %s\n- data: %s\n",
        d->teacher->name, scf_distill_config_ablation_name(&d->cfg), d->step, d->cfg.batch_size,
        d->cfg.lr, d->cfg.teacher_guidance, d->cfg.eval_ema, d->teacher_dir, d->data_dir);
    return scf_model_save(m, dir, d->eval, SCF_DTYPE_F16, card, error);
}

static int64_t distiller_current(gpointer run)
{
    return ((scf_distiller *)run)->step;
}

static gboolean distiller_step(gpointer run, scf_train_progress *p, GError **error)
{
    scf_distiller *d = run;
    scf_distill_draws dr;
    if (!draw(d, &dr, error) || !step_all(d, &dr, error))
        return FALSE;
    if (d->last.d_r1 > 0)   /* a squared gradient norm: 0 where R1 was not taken */
        d->r1_latest = d->last.d_r1;
    if ((d->step % d->cfg.probe_every == 0 || d->step == 1) && !probe(d, &d->probe_mad, error))
        return FALSE;
    p->loss = d->last.total;
    p->grad_norm = d->last.grad_norm;
    p->lr = d->cfg.lr;
    return TRUE;
}

static char *distiller_metrics(gpointer run, const scf_train_progress *p)
{
    scf_distiller *d = run;
    const scf_distill_losses *st = &d->last;
    return g_strdup_printf(
        "{\"step\":%" G_GINT64_FORMAT ",\"loss\":%.6g,\"l_con\":%.6g,\"l_inv\":%.6g,"
        "\"l_reflow\":%.6g,\"l_adv\":%.6g,\"d_loss\":%.6g,\"d_real\":%.6g,\"d_fake\":%.6g,"
        "\"d_r1\":%.6g,\"grad_norm\":%.6g,\"consistency_mad_1v4\":%.6g,\"images_per_s\":%.4g,\"time\":%"
        G_GINT64_FORMAT "}",
        p->step, st->total, st->con, st->inv, st->reflow, st->adv, st->d_loss, st->d_real,
        st->d_fake, d->r1_latest, st->grad_norm, d->probe_mad, p->images_per_s, g_get_real_time() / 1000000);
}

static gboolean distiller_samples(gpointer run, char **path, GError **error)
{
    return write_samples(run, path, error);
}

static gboolean distiller_checkpoint(gpointer run, GError **error)
{
    return checkpoint(run, error);
}

static gboolean distiller_finish(gpointer run, GError **error)
{
    return export_student(run, error);
}

gboolean scf_distiller_step_with(scf_distiller *d, const scf_distill_draws *draws,
                                 scf_distill_losses *losses, GError **error)
{
    const float *u[] = { draws->u_tau, draws->u_down, draws->u_up };
    static const char *const names[] = { "u_tau", "u_down", "u_up" };
    for (int k = 0; k < 3; k++)
        for (int b = 0; b < d->cfg.batch_size; b++)
            if (!(u[k][b] >= 0.0f && u[k][b] <= 1.0f)) {
                g_set_error(error, SCF_ERROR, SCF_ERROR_INVALID, "%s: draw %s[%d] = %g is "
                            "outside [0, 1]", d->run_dir, names[k], b, u[k][b]);
                return FALSE;
            }
    if (!step_all(d, draws, error))
        return FALSE;
    *losses = d->last;
    return TRUE;
}

scf_params *scf_distiller_student_params(scf_distiller *d)
{
    return d->student->params;
}

scf_params *scf_distiller_discriminator_params(scf_distiller *d)
{
    return scf_discriminator_params(d->disc);
}

gboolean scf_distiller_run(scf_distiller *d, int64_t max_steps, scf_train_progress_fn progress,
                           gpointer user, GError **error)
{
    static const scf_run_ops ops = { distiller_current, distiller_step, distiller_metrics,
                                     distiller_samples, distiller_checkpoint, distiller_finish };
    const scf_distill_config *c = &d->cfg;
    scf_run_schedule s = { d->run_dir, c->steps, c->log_every, c->sample_every,
                           c->checkpoint_every, c->batch_size };
    return scf_run_loop(&s, &ops, d, max_steps, progress, user, error);
}
