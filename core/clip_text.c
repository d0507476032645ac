#include "clip_text.h"
#include "error.h"
#include <string.h>

gboolean scf_clip_text_config_read(scf_clip_text_config *cfg, scf_config *c, GError **error)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->vocab_size = (int)scf_config_int(c, "vocab_size", 49408, 1, 1 << 24, FALSE);
    cfg->hidden_size = (int)scf_config_int(c, "hidden_size", 512, 1, 65536, FALSE);
    cfg->intermediate_size = (int)scf_config_int(c, "intermediate_size", 2048, 1, 1 << 20, FALSE);
    cfg->layers = (int)scf_config_int(c, "num_hidden_layers", 12, 1, 256, FALSE);
    cfg->heads = (int)scf_config_int(c, "num_attention_heads", 8, 1, 1024, FALSE);
    cfg->max_positions = (int)scf_config_int(c, "max_position_embeddings", 77, 1, 1 << 16, FALSE);
    cfg->eps = (float)scf_config_double(c, "layer_norm_eps", 1e-5, 1e-12, 1.0, FALSE);
    g_autofree char *act = scf_config_string(c, "hidden_act", "quick_gelu", FALSE);
    if (g_strcmp0(act, "quick_gelu") == 0)
        cfg->act = SCF_ACT_QUICK_GELU;
    else if (g_strcmp0(act, "gelu") == 0)
        cfg->act = SCF_ACT_GELU;
    else if (g_strcmp0(act, "gelu_new") == 0 || g_strcmp0(act, "gelu_pytorch_tanh") == 0)
        cfg->act = SCF_ACT_GELU_TANH;
    else
        scf_config_fail(c, "hidden_act", "unsupported activation '%s' (supported: quick_gelu, "
                        "gelu, gelu_new, gelu_pytorch_tanh)", act);
    if (cfg->hidden_size % cfg->heads)
        scf_config_fail(c, "num_attention_heads", "%d heads do not divide hidden_size %d",
                        cfg->heads, cfg->hidden_size);
    return scf_config_check(c, error);
}

typedef struct {
    int w, b;
} lin;

typedef struct {
    lin ln1, q, k, v, o, ln2, fc1, fc2;
} layer;

struct scf_clip_text {
    scf_clip_text_config cfg;
    scf_params *p;
    int token_embedding, position_embedding;
    layer *layers;
    lin final_ln;
    /* position ids 0..T-1 repeated per batch, in backend memory */
    int32_t *positions;
    int positions_B, positions_T;
};

static lin reg(scf_params *p, const char *prefix, const char *name, int out, int in)
{
    g_autofree char *wn = g_strdup_printf("%s%s.weight", prefix, name);
    g_autofree char *bn = g_strdup_printf("%s%s.bias", prefix, name);
    lin l;
    l.w = in ? scf_params_add(p, wn, 2, (int64_t[]){ out, in })
             : scf_params_add(p, wn, 1, (int64_t[]){ out });
    l.b = scf_params_add(p, bn, 1, (int64_t[]){ out });
    return l;
}

scf_clip_text *scf_clip_text_new(const scf_clip_text_config *cfg, scf_params *p)
{
    scf_clip_text *m = g_new0(scf_clip_text, 1);
    m->cfg = *cfg;
    m->p = p;
    const int D = cfg->hidden_size, F = cfg->intermediate_size;
    m->token_embedding = scf_params_add(p, "embeddings.token_embedding.weight", 2,
                                        (int64_t[]){ cfg->vocab_size, D });
    m->position_embedding = scf_params_add(p, "embeddings.position_embedding.weight", 2,
                                           (int64_t[]){ cfg->max_positions, D });
    m->layers = g_new0(layer, cfg->layers);
    for (int i = 0; i < cfg->layers; i++) {
        g_autofree char *lp = g_strdup_printf("encoder.layers.%d.", i);
        layer *l = &m->layers[i];
        l->ln1 = reg(p, lp, "layer_norm1", D, 0);
        l->q = reg(p, lp, "self_attn.q_proj", D, D);
        l->k = reg(p, lp, "self_attn.k_proj", D, D);
        l->v = reg(p, lp, "self_attn.v_proj", D, D);
        l->o = reg(p, lp, "self_attn.out_proj", D, D);
        l->ln2 = reg(p, lp, "layer_norm2", D, 0);
        l->fc1 = reg(p, lp, "mlp.fc1", F, D);
        l->fc2 = reg(p, lp, "mlp.fc2", D, F);
    }
    m->final_ln = reg(p, "", "final_layer_norm", D, 0);
    return m;
}

const char *scf_clip_text_weights_prefix(const scf_safetensors *st)
{
    return scf_safetensors_find(st, "text_model.embeddings.token_embedding.weight") ? "text_model."
                                                                                   : "";
}

void scf_clip_text_free(scf_clip_text *m)
{
    if (!m)
        return;
    if (m->positions)
        m->p->be->free(m->p->be, m->positions);
    g_free(m->layers);
    g_free(m);
}

const scf_clip_text_config *scf_clip_text_get_config(const scf_clip_text *m)
{
    return &m->cfg;
}

static scf_var *P(scf_clip_text *m, int index)
{
    return scf_params_var(m->p, index);
}

static scf_var *linear(scf_clip_text *m, scf_graph *g, scf_var *x, lin l)
{
    return scf_linear(g, x, P(m, l.w), P(m, l.b));
}

static scf_var *norm(scf_clip_text *m, scf_graph *g, scf_var *x, lin l)
{
    return scf_layer_norm(g, x, P(m, l.w), P(m, l.b), m->cfg.eps);
}

/* Positions are uploaded once per batch shape, not per call. */
static const int32_t *positions(scf_clip_text *m, int B, int T)
{
    if (m->positions && m->positions_B == B && m->positions_T == T)
        return m->positions;
    scf_backend *be = m->p->be;
    if (m->positions)
        be->free(be, m->positions);
    m->positions = be->alloc(be, (size_t)B * T * sizeof(int32_t));
    if (!m->positions)
        return NULL;
    int32_t *host = g_new(int32_t, (size_t)B * T);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            host[(size_t)b * T + t] = t;
    be->upload(be, m->positions, host, (size_t)B * T * sizeof(int32_t));
    g_free(host);
    m->positions_B = B;
    m->positions_T = T;
    return m->positions;
}

scf_var *scf_clip_text_forward(scf_clip_text *m, scf_graph *g, const int32_t *ids, int B, int T)
{
    const int D = m->cfg.hidden_size;
    if (T < 1 || T > m->cfg.max_positions) {
        scf_graph_fail(g, "clip text: %d tokens, the model takes 1 to %d (max_position_embeddings)",
                       T, m->cfg.max_positions);
        return NULL;
    }
    const int32_t *pos = positions(m, B, T);
    if (!pos) {
        scf_graph_fail(g, "clip text: cannot allocate position ids for %d x %d tokens", B, T);
        return NULL;
    }
    scf_var *x = scf_add(g, scf_embedding(g, ids, B * T, P(m, m->token_embedding)),
                         scf_embedding(g, pos, B * T, P(m, m->position_embedding)));
    x = scf_graph_reshape(g, x, 3, (int64_t[]){ B, T, D });
    for (int i = 0; i < m->cfg.layers; i++) {
        const layer *l = &m->layers[i];
        scf_var *h = norm(m, g, x, l->ln1);
        h = scf_attention(g, linear(m, g, h, l->q), linear(m, g, h, l->k), linear(m, g, h, l->v),
                          m->cfg.heads, TRUE);
        x = scf_add(g, x, linear(m, g, h, l->o));
        h = norm(m, g, x, l->ln2);
        h = linear(m, g, scf_act(g, linear(m, g, h, l->fc1), m->cfg.act), l->fc2);
        x = scf_add(g, x, h);
    }
    return norm(m, g, x, m->final_ln);
}
