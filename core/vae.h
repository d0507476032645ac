/* The decoder half of diffusers' AutoencoderKL, which turns the latents of a
 * latent text-to-image model into an image: post_quant_conv, then the
 * Decoder: conv_in, UNetMidBlock2D (resnet, single-head self-attention with
 * its own group norm, resnet), one UpDecoderBlock2D per level
 * (layers_per_block + 1 resnets; nearest 2x upsampling and a conv on all
 * but the last), conv_norm_out, SiLU, conv_out. Every norm uses eps 1e-6,
 * as diffusers builds the decoder.
 *
 * The same vae/config.json keys and parameter names as diffusers, so a
 * pipeline's vae/ folder loads by name; its encoder tensors are not used.
 * Inference only: there is no use for gradients through the decoder here. */
#pragma once
#include <glib.h>
#include "config.h"
#include "graph.h"
#include "params.h"
#include "safetensors.h"

G_BEGIN_DECLS

#define SCF_VAE_MAX_BLOCKS 6
/* resnets per level (layers_per_block); the decoder's levels have one more */
#define SCF_VAE_MAX_LAYERS 8

typedef struct {
    int latent_channels, out_channels;
    int n_blocks;
    int block_out[SCF_VAE_MAX_BLOCKS];
    int layers_per_block;
    int norm_num_groups;
    gboolean mid_block_attention;    /* mid_block_add_attention */
    gboolean post_quant_conv;        /* use_post_quant_conv */
    float scaling_factor;            /* latents the denoiser sees = z * scaling_factor */
} scf_vae_config;

/* Reads diffusers' AutoencoderKL config.json keys; values this decoder does
 * not implement (other block types or activations, shift_factor,
 * latents_mean/std) are errors naming the key. */
gboolean scf_vae_config_read(scf_vae_config *cfg, scf_config *c, GError **error);

/* The factor from latent to image size: 2^(levels - 1). */
int scf_vae_config_upscale(const scf_vae_config *cfg);

/* The mid block's attention names: diffusers' to_q, to_k, to_v, to_out.0,
 * or query, key, value, proj_attn in files written before diffusers renamed
 * them (SD1.5-era vae/ folders), which diffusers still renames on load. */
typedef enum {
    SCF_VAE_NAMES_CURRENT,
    SCF_VAE_NAMES_LEGACY,
} scf_vae_names;

/* The naming a weights file uses. */
scf_vae_names scf_vae_weights_names(const scf_safetensors *st);

typedef struct scf_vae scf_vae;

/* Registers the decoder's parameters in params, named as diffusers saves
 * them ("post_quant_conv.weight", "decoder.mid_block.attentions.0.to_q.weight" ...). */
scf_vae *scf_vae_new(const scf_vae_config *cfg, scf_params *params, scf_vae_names names);
void scf_vae_free(scf_vae *v);
const scf_vae_config *scf_vae_get_config(const scf_vae *v);

/* diffusers' AutoencoderKL.decode: z[B, latent_channels, h, w] (unscaled
 * latents) -> [B, out_channels, h*f, w*f], f = scf_vae_config_upscale;
 * values about [-1, 1], not clamped. A wrong input shape is an error of the
 * pass naming it. */
scf_var *scf_vae_decode(scf_vae *v, scf_graph *g, scf_var *z);

G_END_DECLS
