/* Euler sampling of a flow model with N uniform steps (SCFLOW.md
 * conventions: x starts as noise at tau = 1; for i = N..1, tau_i = i/N,
 * x <- x - (1/N) v(x, tau_i); no fresh noise between steps), with
 * classifier-free guidance v = v(neg) + w (v(c) - v(neg)) computed in one
 * batch, a per-step progress callback that can cancel, a text-embedding
 * cache keyed by prompt, and the same activation memory every step. Latent
 * models run the steps on latents and decode them, one image at a time
 * (the decoder's activations are the largest), after the last step.
 *
 * On a backend with graphs (CUDA) the UNet pass of a step is recorded once
 * per batch shape (batch x 2 when guided) and replayed by the later steps
 * and generations: the first pass of a shape runs plain, which sizes the
 * activation memory and workspace, the next one is recorded, and the rest
 * launch the recording with tau written to device memory before each.
 * Text embeddings, noise and the Euler update stay outside it. A recording
 * is made again when the memory it points into has moved (a larger pass in
 * between, new sampler buffers). If recording fails, the sampler says so
 * once and runs plain launches; the images are the same either way. */
#pragma once
#include <glib.h>
#include "model.h"

G_BEGIN_DECLS

typedef struct {
    const char *prompt;
    const char *negative;    /* NULL or "" = the empty prompt */
    int steps;               /* 1 .. 1000 */
    float guidance;          /* 1 = no guidance (one pass per step) */
    uint64_t seed;           /* image b of a batch uses seed + b */
    int batch;               /* 1 .. 64 */
    /* NULL: noise from seed (scf_sampler_noise); else the initial noise
     * itself (host, [batch, latent_channels, latent_size, latent_size]), for
     * checks against other implementations' samplers */
    const float *noise;
} scf_sample_request;

/* Called after each step (1-based); return FALSE to cancel. */
typedef gboolean (*scf_progress_fn)(int step, int steps, gpointer user);

typedef struct scf_sampler scf_sampler;

scf_sampler *scf_sampler_new(scf_model *m);
void scf_sampler_free(scf_sampler *s);

/* Checks a request; errors name the field and the allowed range. */
gboolean scf_sample_request_check(const scf_sample_request *r, GError **error);

/* The initial noise of image b (of the flow's space: latents for latent
 * models): N(0, I) from the engine's RNG at seed + b, offset 0, so a seed
 * means the same image on every backend. */
void scf_sampler_noise(scf_sampler *s, uint64_t seed, float *device_out);

/* Bytes of activation memory the sampler holds: one graph serves the text
 * encoder, every step's UNet pass and the decoder, so this is the largest of
 * them (what `scflow bench unet` compares the process's memory against). */
size_t scf_sampler_activation_bytes(const scf_sampler *s);

/* Whether steps replay recorded UNet passes where the backend can record
 * them (on by default); off drops the recordings. */
void scf_sampler_set_graph_replay(scf_sampler *s, gboolean on);
/* UNet passes recorded, and launches of a recording by a later step, since
 * the sampler was made. */
void scf_sampler_graph_counts(const scf_sampler *s, int *recorded, int *replayed);

/* Samples r->batch images into out (host, [batch, channels, image_size,
 * image_size], values about [-1, 1], not clamped). Cancelling gives
 * SCF_ERROR_CANCELLED. */
gboolean scf_sampler_run(scf_sampler *s, const scf_sample_request *r, float *out,
                         scf_progress_fn progress, gpointer user, GError **error);

G_END_DECLS
