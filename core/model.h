/* A text-to-image model folder: config.json, model.safetensors, the
 * tokenizer files and a model card (README.md).
 *
 * config.json:
 *   {"format": "scflow-model", "format_version": 1, "name": "...",
 *    "kind": "teacher" | "student", "space": "pixel",
 *    "image_size": 32, "channels": 3, "context_length": 24,
 *    "flow": {"velocity_sign": 1, "time_scale": 1000},
 *    "defaults": {"steps": 32, "guidance": 1.5},
 *    "unet": { diffusers UNet2DConditionModel keys },
 *    "text_encoder": { transformers CLIPTextConfig keys }}
 * model.safetensors holds "unet.<diffusers name>" and
 * "text_encoder.<transformers name without text_model.>" tensors.
 *
 * The flow convention says what the network computes, so that every model
 * samples with the engine's one convention (SCFLOW.md: tau = 1 is noise,
 * v = eps - x0): the network is given time_scale * tau and its output times
 * velocity_sign is v. Our models: sign 1, scale 1000 (a ×1000 time gives the
 * sinusoidal embedding its resolution). SD1.5-family flow checkpoints
 * (InstaFlow, 2-Rectified-Flow, SCFlow-T2I): sign -1, scale 1000.
 *
 * A diffusers text-to-image pipeline folder loads too (core/pipeline.c):
 * model_index.json naming unet/ (UNet2DConditionModel), text_encoder/
 * (CLIPTextModel), tokenizer/ (CLIPTokenizer: vocab.json, merges.txt) and
 * vae/ (AutoencoderKL), each with its config.json and weights
 * (diffusion_pytorch_model.safetensors or model.safetensors, else their
 * .fp16.safetensors variant). Such a model runs the flow on the VAE's
 * latents and decodes them at the end. Its flow convention, name, kind and
 * defaults come from an optional scflow.json beside model_index.json
 *   {"name": "...", "kind": "student", "flow": {"velocity_sign": -1,
 *    "time_scale": 1000}, "defaults": {"steps": 1, "guidance": 1}}
 * and without one the flow is that of the SD1.5-family rectified flows,
 * sign -1 and scale 1000: their pipelines (InstaFlow's and SCFlow's
 * pipeline_rf.py) give the UNet t = 1000 (1 - i/N) at step i and step
 * latents += dt * unet(...), so the UNet's output is x0 - eps = -v. A
 * diffusion (noise-prediction) pipeline such as SD1.5 itself loads but does
 * not sample correctly with this Euler sampler. Pipelines sample only:
 * loading one trainable is an error. */
#pragma once
#include <glib.h>
#include "backend.h"
#include "clip_text.h"
#include "graph.h"
#include "params.h"
#include "tokenizer.h"
#include "unet.h"
#include "vae.h"

G_BEGIN_DECLS

#define SCF_MODEL_CONFIG "config.json"
#define SCF_MODEL_WEIGHTS "model.safetensors"
#define SCF_PIPELINE_INDEX "model_index.json"
#define SCF_PIPELINE_SETTINGS "scflow.json"

typedef struct {
    char *dir;               /* NULL for a model not saved yet */
    char *name;
    char *kind;              /* "teacher" or "student" */
    char hash[11];           /* first 10 hex digits of the (UNet) weights' SHA-256, as A1111 */
    scf_backend *be;
    scf_params *params;      /* unet.* and text_encoder.* in one buffer */
    scf_unet *unet;
    scf_clip_text *text;
    scf_tokenizer *tok;
    /* latent models: the decoder, its parameters apart from the denoiser's
     * (which training and EMA work on); NULL in pixel space */
    scf_params *vae_params;
    scf_vae *vae;
    int image_size, channels, context_length;   /* the images made */
    int latent_size, latent_channels;           /* the flow's space: = image in pixel space */
    float velocity_sign, time_scale;
    int default_steps;
    float default_guidance;
    char *config_json;       /* the config as loaded, rewritten on save */
} scf_model;

/* Loads a model folder (ours, or a diffusers pipeline) onto be; with
 * trainable, gradient memory is allocated too. Errors name the file and the
 * key or tensor at fault. */
scf_model *scf_model_load(const char *dir, scf_backend *be, gboolean trainable, GError **error);

/* A new model from a config (the JSON text of config.json, whose "name" and
 * the rest are kept) and a tokenizer (taken over), initialised from seed. */
scf_model *scf_model_new(const char *config_json, scf_tokenizer *tok, scf_backend *be,
                         gboolean trainable, uint64_t seed, GError **error);

/* Writes the folder atomically file by file: config.json, model.safetensors
 * from weights (a buffer of the params layout; NULL = the current params) in
 * dtype, the tokenizer, and readme (the model card) when not NULL. */
gboolean scf_model_save(scf_model *m, const char *dir, const float *weights, scf_dtype dtype,
                        const char *readme, GError **error);

void scf_model_free(scf_model *m);

/* Text conditioning for B prompts: [B, context_length, hidden]. Token ids
 * live in the graph's memory, so the result is valid until its reset. */
scf_var *scf_model_encode_text(scf_model *m, scf_graph *g, const char *const *prompts, int B);

/* The velocity v(x, tau, c) in the engine's convention: x[B,C,H,W] in the
 * flow's space (latent_channels, latent_size), tau[B]. */
scf_var *scf_model_velocity(scf_model *m, scf_graph *g, scf_var *x, scf_var *tau, scf_var *context);

/* Images [B, channels, image_size, image_size] (about [-1, 1], not clamped)
 * from samples z of the flow's space: the VAE decode of z / scaling_factor
 * for latent models, as diffusers' pipelines decode, z itself in pixel space. */
scf_var *scf_model_decode(scf_model *m, scf_graph *g, scf_var *z);

G_END_DECLS
