/* One generation as the studio runs it: the request built from the Generate
 * view and the settings, and what comes back (textures for the window, the
 * PNG files written, the settings of each image). */
#pragma once
#include <gtk/gtk.h>
#include "scflow.h"

G_BEGIN_DECLS

typedef struct {
    char *model_dir;
    char *device;            /* "auto", "cpu", "cuda" */
    scf_precision precision; /* of CUDA's products; the CPU computes in fp32 whatever it says */
    int threads;             /* 0: one per core */
    char *prompt;
    char *negative;
    int steps;
    double guidance;
    guint64 seed;            /* image b of the batch uses seed + b */
    int batch;
    char *output_dir;        /* where the PNGs go (created when missing); NULL: not written */
} ScfGenerationRequest;

ScfGenerationRequest *scf_generation_request_copy(const ScfGenerationRequest *r);
void scf_generation_request_free(ScfGenerationRequest *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ScfGenerationRequest, scf_generation_request_free)

typedef struct {
    GdkTexture *texture;     /* RGB, the model's size */
    char *path;              /* the PNG written, or NULL */
    scf_gen_params params;   /* what the PNG stores: prompt, seed, steps, model, device … */
} ScfGeneratedImage;

typedef struct {
    GPtrArray *images;       /* of ScfGeneratedImage, in batch order */
    double seconds;          /* sampling, from noise to the last step */
} ScfGeneration;

void scf_generation_free(ScfGeneration *g);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ScfGeneration, scf_generation_free)

/* Samples r with s (a sampler of m on be), then converts and writes the
 * images. Engine work: call it on a worker thread. Cancelling through
 * progress gives SCF_ERROR_CANCELLED. */
ScfGeneration *scf_generation_run(scf_sampler *s, scf_model *m, scf_backend *be,
                                  const ScfGenerationRequest *r, scf_progress_fn progress,
                                  gpointer user, GError **error);

G_END_DECLS
