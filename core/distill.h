/* Self-Corrected Flow Distillation (SCFLOW.md §2-§4): a one-step/few-step
 * student distilled from a frozen flow teacher with the truncated
 * consistency loss, the bidirectional loss, the self-correction (reflow)
 * loss on the student's own one-step sample, and a non-saturating GAN whose
 * discriminator is built from the teacher's UNet encoder.
 *
 * Run folder (as teacher training, see run.h): run.json {"teacher", "data",
 * "distillation": {...}}, metrics.jsonl (every loss term, the
 * discriminator's real/fake scores, the step-consistency probe),
 * samples/step-N-{1,4}step.png, checkpoints/ (student, its AdamW moments,
 * target EMA, evaluation EMA, discriminator and its moments; the teacher is
 * never written: it is reloaded from its own folder, so resuming can never
 * overwrite it), and model/ (the evaluation EMA, fp16) at the end. Every
 * random draw is a function of (seed, step), so resume is exact. */
#pragma once
#include <glib.h>
#include "backend.h"
#include "collective.h"
#include "discriminator.h"
#include "params.h"
#include "train.h"

G_BEGIN_DECLS

typedef struct {
    uint64_t seed;
    int batch_size;
    int64_t steps;
    double lr, d_lr, weight_decay, beta1, beta2, eps, grad_clip;
    double delta_max;          /* largest teacher step, 0.1 */
    double teacher_guidance;   /* CFG of the teacher's velocity, 1.5 */
    double target_ema;         /* 0.9 */
    double eval_ema;           /* 0.999, with warm-up (1+n)/(10+n) */
    double tau_trunc;          /* 0.1 for text-to-image */
    double huber_c;            /* 0.01 */
    double w_reflow, w_adv, w_inv;
    int64_t warmup_reflow, warmup_adv, warmup_inv;
    /* ablation switches (SCFLOW.md §4) */
    gboolean truncation, bidirectional, reflow, gan;
    /* the discriminator: "encoder" (the default) or the unconditional
     * "resnet" of resnet_width channels; R1 with weight r1_gamma (1 for the
     * resnet, 0 for the encoder by default), taken lazily as StyleGAN2 does:
     * every r1_every-th step, weighted r1_gamma * r1_every */
    scf_discriminator_kind discriminator;
    int resnet_width;
    double r1_gamma;
    int64_t r1_every;
    int64_t log_every, probe_every, sample_every, checkpoint_every;
    int keep_checkpoints;
} scf_distill_config;

void scf_distill_config_defaults(scf_distill_config *c);

/* Named presets of the ablation table: "full", "cd" (plain consistency
 * distillation), "cd+trunc", "cd+trunc+bidir", "cd+trunc+bidir+reflow".
 * FALSE for an unknown name. */
gboolean scf_distill_config_ablation(scf_distill_config *c, const char *name);
/* The preset name the switches amount to, or "custom". */
const char *scf_distill_config_ablation_name(const scf_distill_config *c);

typedef struct scf_distiller scf_distiller;

/* A new run in run_dir from a teacher model folder and an image+caption
 * folder; config_path (may be NULL) is a JSON object of scf_distill_config
 * keys overriding the defaults; ablation (may be NULL) applies a preset. */
scf_distiller *scf_distiller_new(const char *run_dir, const char *teacher_dir,
                                 const char *data_dir, const char *config_path,
                                 const char *ablation, scf_backend *be, GError **error);
scf_distiller *scf_distiller_resume(const char *run_dir, scf_backend *be, GError **error);
void scf_distiller_free(scf_distiller *d);

int64_t scf_distiller_step(const scf_distiller *d);
const scf_distill_config *scf_distiller_config(const scf_distiller *d);

/* The random inputs of one iteration (SCFLOW.md §3.1), in host memory:
 * what a run draws from (seed, step) and its data set, and what a test
 * gives instead to run the same iteration as a twin (there is no caption
 * dropout in distillation). Images are [batch_size, C, H, W]. */
typedef struct {
    const float *x0;               /* the data batch, in [-1, 1] */
    const char *const *captions;   /* batch_size prompts */
    const float *eps;              /* the flow's noise */
    const float *noise;            /* the discriminator's input noise */
    /* [batch_size] uniforms in [0, 1]: tau, and the fractions of the
     * largest teacher steps min(tau, delta_max) down, min(1 - tau, delta_max) up */
    const float *u_tau, *u_down, *u_up;
} scf_distill_draws;

/* The terms of an iteration (metrics.jsonl's): terms that are switched off
 * or warming up are 0, as are the discriminator's figures while the GAN is. */
typedef struct {
    double total, con, inv, reflow, adv;
    double d_loss, d_real, d_fake;   /* the discriminator step; scores are mean logits */
    double d_r1;                     /* 1/2 mean |grad_x D(real)|^2, at the steps R1 is taken */
    double grad_norm;                /* the student's, before clipping */
} scf_distill_losses;

/* One iteration on the given draws, advancing the step as any other. After
 * it the student's and the discriminator's gradient buffers hold the
 * (clipped) gradients their AdamW steps took. */
gboolean scf_distiller_step_with(scf_distiller *d, const scf_distill_draws *draws,
                                 scf_distill_losses *losses, GError **error);
/* The student's parameters ("unet.*" distilled, "text_encoder.*" not) and
 * the discriminator's. */
scf_params *scf_distiller_student_params(scf_distiller *d);
scf_params *scf_distiller_discriminator_params(scf_distiller *d);

/* Data-parallel distillation over the ranks of c, as
 * scf_trainer_data_parallel: every other rank gets a replica of the
 * teacher, the student, its moments and target EMA, and the discriminator
 * with its moments, and each iteration splits its batch over the ranks,
 * averaging the discriminator's and the student's gradients before their
 * steps. Rank 0 alone keeps the evaluation EMA, probes, samples and writes
 * the run's files. The batch size must be a multiple of the number of
 * devices. */
gboolean scf_distiller_data_parallel(scf_distiller *d, scf_collective *c, GError **error);

/* Runs like scf_trainer_run (progress, stop, checkpoints, samples, export). */
gboolean scf_distiller_run(scf_distiller *d, int64_t max_steps, scf_train_progress_fn progress,
                           gpointer user, GError **error);

G_END_DECLS
