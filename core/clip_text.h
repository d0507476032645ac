/* A text transformer that mirrors transformers' CLIPTextModel: the same
 * config keys (vocab_size, hidden_size, intermediate_size,
 * num_hidden_layers, num_attention_heads, max_position_embeddings,
 * hidden_act, layer_norm_eps) and parameter names, a causal mask, and the
 * last hidden state after the final layer norm. */
#pragma once
#include <glib.h>
#include "config.h"
#include "graph.h"
#include "params.h"

G_BEGIN_DECLS

typedef struct {
    int vocab_size, hidden_size, intermediate_size, layers, heads, max_positions;
    scf_activation act;
    float eps;
} scf_clip_text_config;

gboolean scf_clip_text_config_read(scf_clip_text_config *cfg, scf_config *c, GError **error);

typedef struct scf_clip_text scf_clip_text;

/* Registers the parameters in params, named as transformers 5 saves them
 * ("embeddings.token_embedding.weight", "encoder.layers.0. ..."). */
scf_clip_text *scf_clip_text_new(const scf_clip_text_config *cfg, scf_params *params);
/* The prefix to pass to scf_params_load for a transformers weights file:
 * "text_model." for files saved before transformers 5 (SD1.5's
 * text_encoder), "" for those saved since, which drop it. */
const char *scf_clip_text_weights_prefix(const scf_safetensors *st);
void scf_clip_text_free(scf_clip_text *m);
const scf_clip_text_config *scf_clip_text_get_config(const scf_clip_text *m);

/* ids: B*T token ids in backend memory (int32), T <= max_positions.
 * Returns the last hidden state [B,T,hidden]. */
scf_var *scf_clip_text_forward(scf_clip_text *m, scf_graph *g, const int32_t *ids, int B, int T);

G_END_DECLS
