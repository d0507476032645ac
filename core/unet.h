/* A UNet that mirrors diffusers' UNet2DConditionModel: the same config.json
 * keys and the same parameter names, so a diffusers folder loads by name.
 * Blocks: CrossAttnDownBlock2D, DownBlock2D, UNetMidBlock2DCrossAttn,
 * CrossAttnUpBlock2D, UpBlock2D; ResnetBlock2D with time embedding;
 * Transformer2DModel with BasicTransformerBlocks (self attention, cross
 * attention, GEGLU feed-forward). SD1.5 shapes (head sizes 40/80/160) work. */
#pragma once
#include <glib.h>
#include "config.h"
#include "graph.h"
#include "params.h"

G_BEGIN_DECLS

#define SCF_UNET_MAX_BLOCKS 6
/* resnets per down block (layers_per_block); up blocks have one more */
#define SCF_UNET_MAX_LAYERS 7

typedef enum {
    SCF_UNET_DOWN,             /* DownBlock2D */
    SCF_UNET_CROSS_ATTN_DOWN,  /* CrossAttnDownBlock2D */
    SCF_UNET_UP,               /* UpBlock2D */
    SCF_UNET_CROSS_ATTN_UP,    /* CrossAttnUpBlock2D */
} scf_unet_block_type;

typedef struct {
    int in_channels, out_channels, sample_size;
    int n_blocks;
    int block_out[SCF_UNET_MAX_BLOCKS];
    int layers_per_block[SCF_UNET_MAX_BLOCKS];
    int transformer_layers[SCF_UNET_MAX_BLOCKS];
    int heads[SCF_UNET_MAX_BLOCKS];          /* attention heads per down block */
    scf_unet_block_type down[SCF_UNET_MAX_BLOCKS], up[SCF_UNET_MAX_BLOCKS];
    gboolean mid_block;                      /* UNetMidBlock2DCrossAttn, or none */
    int cross_attention_dim;
    int norm_num_groups;
    float norm_eps;
    gboolean flip_sin_to_cos;
    float freq_shift;
    gboolean use_linear_projection;
    int downsample_padding;
    int conv_in_kernel, conv_out_kernel;
    int time_embedding_dim;
} scf_unet_config;

/* Reads diffusers' config.json keys from c; unsupported values are errors
 * naming the key. */
gboolean scf_unet_config_read(scf_unet_config *cfg, scf_config *c, GError **error);

typedef struct scf_unet scf_unet;

/* Registers the parameters in params (names as diffusers'). */
scf_unet *scf_unet_new(const scf_unet_config *cfg, scf_params *params);
/* Only the encoder half (conv_in, time embedding, down blocks, mid block),
 * for a discriminator built from a teacher; scf_unet_encode is its forward. */
scf_unet *scf_unet_new_encoder(const scf_unet_config *cfg, scf_params *params);
void scf_unet_free(scf_unet *u);
const scf_unet_config *scf_unet_get_config(const scf_unet *u);

/* x[B,in,H,W], t[B] (the network's own time input), context[B,T,cross_dim]
 * -> [B,out,H,W]. H and W must be divisible by 2^(blocks-1). */
scf_var *scf_unet_forward(scf_unet *u, scf_graph *g, scf_var *x, scf_var *t, scf_var *context);

/* The encoder half (conv_in, down blocks, mid block), as SCFlow's
 * discriminator uses it: returns the mid-block output [B,C,H',W']. */
scf_var *scf_unet_encode(scf_unet *u, scf_graph *g, scf_var *x, scf_var *t, scf_var *context);

G_END_DECLS
