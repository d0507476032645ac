/* Teacher training: rectified-flow / flow-matching (SCFLOW.md §1) of a model
 * folder's UNet and text encoder, jointly, from scratch.
 *
 * A run folder holds:
 *   run.json            the model config and the training settings, as started
 *   word_vocab.json     the tokenizer built from the training captions
 *   metrics.jsonl       one JSON object per logged step
 *   samples/step-N.png  sample grids from fixed prompts and seeds (EMA weights)
 *   checkpoints/step-N.safetensors   parameters, AdamW moments, EMA; atomic;
 *                       the last keep_checkpoints are kept
 *   model/              the EMA model (fp16) exported at the end
 *
 * Every random draw is a function of (seed, step): noise, times, caption
 * dropout and the data order. A checkpoint therefore needs no RNG state, and
 * a resumed run computes exactly what an uninterrupted one would. */
#pragma once
#include <glib.h>
#include "backend.h"
#include "collective.h"
#include "run.h"

G_BEGIN_DECLS

typedef struct {
    uint64_t seed;
    int batch_size;
    int64_t steps;
    double lr;
    int64_t warmup_steps;
    int64_t cooldown_steps;      /* linear decay to 0 over the run's last steps */
    double weight_decay, beta1, beta2, eps;
    double grad_clip;            /* <= 0: no clipping */
    double ema_decay;
    double caption_dropout;
    gboolean logit_normal;       /* tau ~ sigmoid(N(mean, std)) instead of U(0, 1) */
    double logit_mean, logit_std;
    int64_t log_every, sample_every, checkpoint_every;
    int keep_checkpoints;
    int sample_steps;
    float sample_guidance;
} scf_train_config;

/* The defaults, overridden by the "training" object of a model config. */
void scf_train_config_defaults(scf_train_config *c);


typedef struct scf_trainer scf_trainer;

/* Starts a new run in run_dir (created; an existing run there is an error)
 * from a model config file with an optional "training" object, on the
 * image+caption folder data_dir. With init_dir (may be NULL), the model,
 * its tokenizer and its weights come from that model folder, and the
 * config file gives only the training settings: training continues from a
 * shipped model. */
scf_trainer *scf_trainer_new(const char *run_dir, const char *config_path, const char *data_dir,
                             const char *init_dir, scf_backend *be, GError **error);
/* Reopens a run at its latest readable checkpoint (a corrupt newest one is
 * reported and the one before it used). */
scf_trainer *scf_trainer_resume(const char *run_dir, scf_backend *be, GError **error);
void scf_trainer_free(scf_trainer *t);

int64_t scf_trainer_step(const scf_trainer *t);
const scf_train_config *scf_trainer_config(const scf_trainer *t);

/* Trains until the configured number of steps (or until max_steps more
 * steps when > 0), checkpointing and sampling on schedule; at the end
 * exports run_dir/model. Stopping through progress writes a checkpoint. */
gboolean scf_trainer_run(scf_trainer *t, int64_t max_steps, scf_train_progress_fn progress,
                         gpointer user, GError **error);

/* Exports the EMA weights as a model folder (fp16) at RUN/model now, with a
 * model card; the end of a run does this by itself. */
gboolean scf_trainer_export(scf_trainer *t, GError **error);

/* One optimisation step on the next batch, outside the run's schedule (no
 * metrics, samples or checkpoints): the step scf_trainer_run repeats, for
 * callers that time it (`scflow bench train`). Gives the batch's loss and
 * the gradient norm before clipping. */
gboolean scf_trainer_advance(scf_trainer *t, double *loss, double *grad_norm, GError **error);

/* Writes a checkpoint of the current step now. */
gboolean scf_trainer_checkpoint(scf_trainer *t, GError **error);

/* Data-parallel training over the ranks of c, whose rank 0 must be the
 * trainer's backend (c outlives t): every other rank gets a replica of the
 * model and of the optimiser state as they are now (new or resumed, so a
 * run resumes on any number of devices), and from then on each step splits
 * its batch into equal slices, one per rank, whose averaged gradients make
 * the step one device would take on the whole batch, up to float rounding.
 * Rank 0 alone keeps the EMA and writes metrics, samples and checkpoints.
 * The batch size must be a multiple of the number of devices. A world of
 * one changes nothing. */
gboolean scf_trainer_data_parallel(scf_trainer *t, scf_collective *c, GError **error);

G_END_DECLS
