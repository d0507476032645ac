/* Evaluation of a text-to-image model, and optionally its teacher, on an
 * image+caption folder: what SCFlow claims, measured per step count N.
 *
 * Prompts: the captions of the folder's training subset and of its held-out
 * subset (split.json; none without one), at most limit per subset, chosen
 * evenly through each subset in file-name order (item floor(k * count / m)
 * for k < m), so the choice is deterministic and spans every category of a
 * sorted dataset. Prompt p (training prompts first, then held-out ones)
 * is sampled with noise seed + p at every N and by both models: "the same
 * noise".
 *
 * Per model and N (each row):
 *  - step consistency: mean over prompts of MAD and PSNR (metrics.h) between
 *    the N-step sample and the same model's sample at each other N of its
 *    list; the summary figure is against the list's largest N;
 *  - blur ratio: mean Laplacian variance of the samples / that of the real
 *    images of the same prompts (1 = as sharp as the data, < 1 blurrier);
 *  - saturation ratio: mean HSV saturation of the samples / the real images';
 *    clipped fraction: share of sample channel values that are 0 or 255 in
 *    8 bits (compare with the real images' figure in the results);
 *  - fidelity: mean PSNR of a sample to its prompt's real image, and
 *    retrieval accuracy: the share of samples whose nearest real image (L2
 *    over pixels) among ALL the folder's images, training and held-out, is
 *    the prompt's own (or one with the very same pixels: the font draws a
 *    few emoji identically), so a held-out prompt must produce its unseen image;
 *    both for training and for held-out prompts;
 *  - speed: images per second for a batch of speed_batch images of one
 *    prompt at N steps, with the row's guidance, on the model's backend,
 *    repeated until at least 0.3 s have passed. */
#pragma once
#include <glib.h>
#include "model.h"

G_BEGIN_DECLS

#define SCF_EVAL_MAX_STEPS 16

typedef enum {
    SCF_EVAL_TRAIN,
    SCF_EVAL_HELD_OUT,
    SCF_EVAL_N_SPLITS,
} scf_eval_split;

typedef struct {
    int steps[SCF_EVAL_MAX_STEPS];          /* the model's step counts, 1..1000, distinct */
    int n_steps;
    int teacher_steps[SCF_EVAL_MAX_STEPS];  /* n_teacher_steps 0: the teacher's default */
    int n_teacher_steps;
    int limit;              /* prompts per subset (default 200) */
    uint64_t seed;          /* default 0 */
    float guidance;         /* < 0: each model's default (the default) */
    int speed_batch;        /* images per timed batch, 1..64; 0 = no timing (default 16) */
    int grid;               /* samples kept per subset for pictures, 0..limit (default 16) */
} scf_eval_options;

void scf_eval_options_defaults(scf_eval_options *o);
/* Errors name the option and the allowed values. */
gboolean scf_eval_options_check(const scf_eval_options *o, GError **error);

typedef struct {
    int steps;              /* the other N */
    double mad, psnr;
} scf_eval_consistency;

typedef struct {
    char *label;            /* "name@N", "name@N (teacher)" */
    gboolean teacher;
    int steps;
    float guidance;
    int reference_steps;    /* the largest N of this model's list */
    double consistency_mad, consistency_psnr;   /* vs reference_steps; NAN in its own row */
    int n_consistency;
    scf_eval_consistency consistency[SCF_EVAL_MAX_STEPS];
    double laplacian_variance, blur_ratio;
    double saturation, saturation_ratio;
    double clipped_fraction;
    double psnr[SCF_EVAL_N_SPLITS];       /* dB; NAN for a subset without prompts */
    double retrieval[SCF_EVAL_N_SPLITS];  /* in [0, 1]; NAN likewise */
    double images_per_s;                  /* NAN when not timed */
    /* the prompts not retrieved, in prompt order, and the caption of the
     * real image each sample came nearest to: what a miss was mistaken for */
    int n_misses[SCF_EVAL_N_SPLITS];
    char **miss_prompt[SCF_EVAL_N_SPLITS], **miss_nearest[SCF_EVAL_N_SPLITS];
    float *grid[SCF_EVAL_N_SPLITS];       /* the first n_grid samples per subset, CHW */
} scf_eval_row;

typedef struct {
    scf_eval_options options;
    char *model_name, *model_hash, *teacher_name, *teacher_hash;   /* teacher: NULL without */
    char *data_dir;
    char *device;
    int image_size, channels;
    int n_prompts[SCF_EVAL_N_SPLITS];     /* evaluated */
    int n_available[SCF_EVAL_N_SPLITS];   /* in the folder */
    int n_reference;                      /* real images retrieval searches */
    double real_laplacian_variance, real_saturation, real_clipped_fraction;
    int n_rows;
    scf_eval_row *rows;                   /* the model's N in order, then the teacher's */
    int n_grid[SCF_EVAL_N_SPLITS];
    char **grid_captions[SCF_EVAL_N_SPLITS];
    float *grid_real[SCF_EVAL_N_SPLITS];  /* their real images, CHW */
    double seconds;
} scf_eval_results;

typedef struct {
    const char *label;      /* the row being sampled */
    const char *phase;      /* "sampling" or "timing" */
    int images_done, images_total;
    double fraction;        /* of the work, weighted by steps */
    double eta_s;
} scf_eval_progress;

/* Called after every sampler step; return FALSE to cancel. */
typedef gboolean (*scf_eval_progress_fn)(const scf_eval_progress *p, gpointer user);

/* Evaluates model (and teacher, which may be NULL; it must make images of
 * the model's size) on the folder data_dir into results (initialised here;
 * scf_eval_results_clear frees it). Cancelling gives SCF_ERROR_CANCELLED.
 * Errors name the folder, the model or the option at fault. */
gboolean scf_eval_run(scf_model *model, scf_model *teacher, const char *data_dir,
                      const scf_eval_options *options, scf_eval_results *results,
                      scf_eval_progress_fn progress, gpointer user, GError **error);
void scf_eval_results_clear(scf_eval_results *r);

/* The results as a JSON document (every row field present; null where a
 * figure does not apply), and as markdown: a table with one row per
 * model@N and the metrics as columns, then the step-consistency pairs. */
char *scf_eval_results_to_json(const scf_eval_results *r);
char *scf_eval_results_to_markdown(const scf_eval_results *r);

G_END_DECLS
