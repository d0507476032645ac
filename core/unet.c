#include "unet.h"
#include "error.h"
#include <string.h>

/* ---- config ---- */

static const struct {
    const char *name;
    scf_unet_block_type type;
} block_names[] = {
    { "DownBlock2D", SCF_UNET_DOWN },
    { "CrossAttnDownBlock2D", SCF_UNET_CROSS_ATTN_DOWN },
    { "UpBlock2D", SCF_UNET_UP },
    { "CrossAttnUpBlock2D", SCF_UNET_CROSS_ATTN_UP },
};

static gboolean block_type(scf_config *c, const char *key, const char *name, gboolean up,
                           scf_unet_block_type *out)
{
    for (size_t i = 0; i < G_N_ELEMENTS(block_names); i++)
        if (strcmp(block_names[i].name, name) == 0) {
            gboolean is_up = block_names[i].type == SCF_UNET_UP ||
                             block_names[i].type == SCF_UNET_CROSS_ATTN_UP;
            if (is_up != up)
                break;
            *out = block_names[i].type;
            return TRUE;
        }
    scf_config_fail(c, key, "unsupported block type '%s' (supported: %s)", name,
                    up ? "UpBlock2D, CrossAttnUpBlock2D" : "DownBlock2D, CrossAttnDownBlock2D");
    return FALSE;
}

/* Keys whose non-default values select features this UNet does not have. */
static void reject_unsupported(scf_config *c)
{
    static const char *const must_be_null[] = {
        "class_embed_type", "addition_embed_type", "encoder_hid_dim", "time_cond_proj_dim",
        "num_class_embeds", "projection_class_embeddings_input_dim", "encoder_hid_dim_type",
        "time_embedding_act_fn", "timestep_post_act", "reverse_transformer_layers_per_block",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(must_be_null); i++)
        if (scf_config_has(c, must_be_null[i]))
            scf_config_fail(c, must_be_null[i], "unsupported (must be null)");
    static const char *const must_be_false[] = {
        "center_input_sample", "dual_cross_attention", "resnet_skip_time_act",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(must_be_false); i++)
        if (scf_config_bool(c, must_be_false[i], FALSE))
            scf_config_fail(c, must_be_false[i], "unsupported (must be false)");
    if (scf_config_has(c, "only_cross_attention")) {
        JsonNode *n = json_object_get_member(c->root, "only_cross_attention");
        if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_BOOLEAN ||
            json_node_get_boolean(n))
            scf_config_fail(c, "only_cross_attention", "unsupported (must be false)");
    }
    static const struct { const char *key, *value; } strings[] = {
        { "act_fn", "silu" },
        { "resnet_time_scale_shift", "default" },
        { "time_embedding_type", "positional" },
        { "attention_type", "default" },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(strings); i++) {
        g_autofree char *v = scf_config_string(c, strings[i].key, strings[i].value, FALSE);
        if (v && strcmp(v, strings[i].value) != 0)
            scf_config_fail(c, strings[i].key, "unsupported value '%s' (supported: '%s')", v,
                            strings[i].value);
    }
    if (scf_config_double(c, "resnet_out_scale_factor", 1.0, -1e9, 1e9, FALSE) != 1.0)
        scf_config_fail(c, "resnet_out_scale_factor", "unsupported (must be 1.0)");
    if (scf_config_double(c, "mid_block_scale_factor", 1.0, -1e9, 1e9, FALSE) != 1.0)
        scf_config_fail(c, "mid_block_scale_factor", "unsupported (must be 1.0)");
}

gboolean scf_unet_config_read(scf_unet_config *cfg, scf_config *c, GError **error)
{
    memset(cfg, 0, sizeof *cfg);
    reject_unsupported(c);
    cfg->in_channels = (int)scf_config_int(c, "in_channels", 4, 1, 4096, FALSE);
    cfg->out_channels = (int)scf_config_int(c, "out_channels", 4, 1, 4096, FALSE);
    cfg->sample_size = (int)scf_config_int(c, "sample_size", 64, 1, 65536, FALSE);
    cfg->cross_attention_dim = (int)scf_config_int(c, "cross_attention_dim", 1280, 1, 65536, FALSE);
    cfg->norm_num_groups = (int)scf_config_int(c, "norm_num_groups", 32, 1, 4096, FALSE);
    cfg->norm_eps = (float)scf_config_double(c, "norm_eps", 1e-5, 1e-12, 1.0, FALSE);
    cfg->flip_sin_to_cos = scf_config_bool(c, "flip_sin_to_cos", TRUE);
    cfg->freq_shift = (float)scf_config_int(c, "freq_shift", 0, 0, 1000, FALSE);
    cfg->use_linear_projection = scf_config_bool(c, "use_linear_projection", FALSE);
    cfg->downsample_padding = (int)scf_config_int(c, "downsample_padding", 1, 0, 1, FALSE);
    /* diffusers pads 0 asymmetrically (right and bottom only), which the
     * symmetric convolution cannot express */
    if (cfg->downsample_padding != 1)
        scf_config_fail(c, "downsample_padding", "unsupported value %d (supported: 1)",
                        cfg->downsample_padding);
    cfg->conv_in_kernel = (int)scf_config_int(c, "conv_in_kernel", 3, 1, 7, FALSE);
    cfg->conv_out_kernel = (int)scf_config_int(c, "conv_out_kernel", 3, 1, 7, FALSE);
    if (cfg->conv_in_kernel % 2 == 0)
        scf_config_fail(c, "conv_in_kernel", "must be odd");
    if (cfg->conv_out_kernel % 2 == 0)
        scf_config_fail(c, "conv_out_kernel", "must be odd");

    g_auto(GStrv) down = scf_config_string_list(c, "down_block_types", TRUE);
    g_auto(GStrv) up = scf_config_string_list(c, "up_block_types", TRUE);
    int n = down ? (int)g_strv_length(down) : 0;
    if (down && (n < 1 || n > SCF_UNET_MAX_BLOCKS))
        scf_config_fail(c, "down_block_types", "expected 1 to %d blocks, found %d",
                        SCF_UNET_MAX_BLOCKS, n);
    else if (up && (int)g_strv_length(up) != n)
        scf_config_fail(c, "up_block_types", "expected %d blocks like down_block_types, found %u",
                        n, g_strv_length(up));
    if (!scf_config_check(c, error))
        return FALSE;
    cfg->n_blocks = n;
    for (int i = 0; i < n; i++) {
        block_type(c, "down_block_types", down[i], FALSE, &cfg->down[i]);
        block_type(c, "up_block_types", up[i], TRUE, &cfg->up[i]);
    }
    /* an explicit null removes the mid block; a missing key means the default */
    cfg->mid_block = !(c->root && json_object_has_member(c->root, "mid_block_type") &&
                       !scf_config_has(c, "mid_block_type"));
    g_autofree char *mid = scf_config_string(c, "mid_block_type", "UNetMidBlock2DCrossAttn", FALSE);
    if (cfg->mid_block && strcmp(mid, "UNetMidBlock2DCrossAttn") != 0)
        scf_config_fail(c, "mid_block_type", "unsupported block type '%s' (supported: "
                        "UNetMidBlock2DCrossAttn or null)", mid);

    if (!scf_config_int_list(c, "block_out_channels", cfg->block_out, SCF_UNET_MAX_BLOCKS, n, 1,
                             65536, TRUE))
        return scf_config_check(c, error);
    int lp[SCF_UNET_MAX_BLOCKS];
    if (!scf_config_has(c, "layers_per_block")) {
        for (int i = 0; i < n; i++)
            lp[i] = 2;
    } else {
        scf_config_int_list(c, "layers_per_block", lp, SCF_UNET_MAX_BLOCKS, n, 1,
                            SCF_UNET_MAX_LAYERS, TRUE);
    }
    memcpy(cfg->layers_per_block, lp, sizeof lp);
    if (!scf_config_has(c, "transformer_layers_per_block")) {
        for (int i = 0; i < n; i++)
            cfg->transformer_layers[i] = 1;
    } else {
        scf_config_int_list(c, "transformer_layers_per_block", cfg->transformer_layers,
                            SCF_UNET_MAX_BLOCKS, n, 1, 64, TRUE);
    }
    /* diffusers' naming quirk: attention_head_dim is really the number of
     * heads unless num_attention_heads is given. */
    const char *heads_key = scf_config_has(c, "num_attention_heads") ? "num_attention_heads"
                                                                     : "attention_head_dim";
    if (!scf_config_has(c, heads_key)) {
        for (int i = 0; i < n; i++)
            cfg->heads[i] = 8;
    } else {
        scf_config_int_list(c, heads_key, cfg->heads, SCF_UNET_MAX_BLOCKS, n, 1, 4096, TRUE);
    }
    cfg->time_embedding_dim = (int)scf_config_int(c, "time_embedding_dim", cfg->block_out[0] * 4,
                                                  1, 1 << 20, FALSE);
    if (!scf_config_check(c, error))
        return FALSE;
    for (int i = 0; i < n; i++) {
        if (cfg->block_out[i] % cfg->norm_num_groups)
            scf_config_fail(c, "block_out_channels", "%d channels are not divisible by "
                            "norm_num_groups %d", cfg->block_out[i], cfg->norm_num_groups);
        gboolean attn = cfg->down[i] == SCF_UNET_CROSS_ATTN_DOWN ||
                        cfg->up[n - 1 - i] == SCF_UNET_CROSS_ATTN_UP ||
                        (cfg->mid_block && i == n - 1);
        if (attn && cfg->block_out[i] % cfg->heads[i])
            scf_config_fail(c, heads_key, "%d heads do not divide %d channels", cfg->heads[i],
                            cfg->block_out[i]);
    }
    return scf_config_check(c, error);
}

/* ---- modules: parameter indexes ---- */

typedef struct {
    int w, b;
} lin;

typedef struct {
    int in, out;
    lin norm1, conv1, temb, norm2, conv2, shortcut; /* shortcut.w < 0 when in == out */
} resnet;

typedef struct {
    lin norm1, q, k, v, o, norm2, q2, k2, v2, o2, norm3, ff1, ff2;
} tblock;

typedef struct {
    int channels, heads, n;
    lin norm, proj_in, proj_out;
    tblock *blocks;
} transformer;

typedef struct {
    int n;                /* resnets */
    resnet res[SCF_UNET_MAX_LAYERS + 1];
    transformer *attn;    /* n of them, or NULL */
    lin sample;           /* downsampler / upsampler conv, w < 0 when absent */
} block;

struct scf_unet {
    scf_unet_config cfg;
    scf_params *p;
    lin time1, time2, conv_in, norm_out, conv_out;
    block down[SCF_UNET_MAX_BLOCKS], up[SCF_UNET_MAX_BLOCKS];
    resnet mid_res[2];
    transformer mid_attn;
};

static lin reg(scf_params *p, const char *prefix, const char *name, int ndim_w,
               const int64_t *wshape, gboolean bias)
{
    g_autofree char *wn = g_strdup_printf("%s%s.weight", prefix, name);
    g_autofree char *bn = g_strdup_printf("%s%s.bias", prefix, name);
    lin l = { scf_params_add(p, wn, ndim_w, wshape), -1 };
    if (bias)
        l.b = scf_params_add(p, bn, 1, (int64_t[]){ wshape[0] });
    return l;
}

static lin reg_linear(scf_params *p, const char *prefix, const char *name, int in, int out,
                      gboolean bias)
{
    return reg(p, prefix, name, 2, (int64_t[]){ out, in }, bias);
}

static lin reg_conv(scf_params *p, const char *prefix, const char *name, int in, int out, int k)
{
    return reg(p, prefix, name, 4, (int64_t[]){ out, in, k, k }, TRUE);
}

static lin reg_norm(scf_params *p, const char *prefix, const char *name, int c)
{
    return reg(p, prefix, name, 1, (int64_t[]){ c }, TRUE);
}

static void reg_resnet(scf_params *p, resnet *r, const char *prefix, int in, int out, int temb)
{
    r->in = in;
    r->out = out;
    r->norm1 = reg_norm(p, prefix, "norm1", in);
    r->conv1 = reg_conv(p, prefix, "conv1", in, out, 3);
    r->temb = reg_linear(p, prefix, "time_emb_proj", temb, out, TRUE);
    r->norm2 = reg_norm(p, prefix, "norm2", out);
    r->conv2 = reg_conv(p, prefix, "conv2", out, out, 3);
    r->shortcut = in != out ? reg_conv(p, prefix, "conv_shortcut", in, out, 1) : (lin){ -1, -1 };
}

static void reg_transformer(scf_params *p, transformer *t, const char *prefix, int channels,
                            int heads, int layers, int cross_dim, gboolean linear_proj)
{
    t->channels = channels;
    t->heads = heads;
    t->n = layers;
    t->norm = reg_norm(p, prefix, "norm", channels);
    t->proj_in = linear_proj ? reg_linear(p, prefix, "proj_in", channels, channels, TRUE)
                             : reg_conv(p, prefix, "proj_in", channels, channels, 1);
    t->blocks = g_new0(tblock, layers);
    for (int i = 0; i < layers; i++) {
        g_autofree char *bp = g_strdup_printf("%stransformer_blocks.%d.", prefix, i);
        tblock *b = &t->blocks[i];
        b->norm1 = reg_norm(p, bp, "norm1", channels);
        b->q = reg_linear(p, bp, "attn1.to_q", channels, channels, FALSE);
        b->k = reg_linear(p, bp, "attn1.to_k", channels, channels, FALSE);
        b->v = reg_linear(p, bp, "attn1.to_v", channels, channels, FALSE);
        b->o = reg_linear(p, bp, "attn1.to_out.0", channels, channels, TRUE);
        b->norm2 = reg_norm(p, bp, "norm2", channels);
        b->q2 = reg_linear(p, bp, "attn2.to_q", channels, channels, FALSE);
        b->k2 = reg_linear(p, bp, "attn2.to_k", cross_dim, channels, FALSE);
        b->v2 = reg_linear(p, bp, "attn2.to_v", cross_dim, channels, FALSE);
        b->o2 = reg_linear(p, bp, "attn2.to_out.0", channels, channels, TRUE);
        b->norm3 = reg_norm(p, bp, "norm3", channels);
        b->ff1 = reg_linear(p, bp, "ff.net.0.proj", channels, channels * 8, TRUE);
        b->ff2 = reg_linear(p, bp, "ff.net.2", channels * 4, channels, TRUE);
    }
    t->proj_out = linear_proj ? reg_linear(p, prefix, "proj_out", channels, channels, TRUE)
                              : reg_conv(p, prefix, "proj_out", channels, channels, 1);
}

static gboolean is_cross(scf_unet_block_type t)
{
    return t == SCF_UNET_CROSS_ATTN_DOWN || t == SCF_UNET_CROSS_ATTN_UP;
}

static scf_unet *unet_new(const scf_unet_config *cfg, scf_params *p, gboolean decoder)
{
    scf_unet *u = g_new0(scf_unet, 1);
    u->cfg = *cfg;
    u->p = p;
    const int n = cfg->n_blocks, temb = cfg->time_embedding_dim;
    u->conv_in = reg_conv(p, "", "conv_in", cfg->in_channels, cfg->block_out[0],
                          cfg->conv_in_kernel);
    u->time1 = reg_linear(p, "", "time_embedding.linear_1", cfg->block_out[0], temb, TRUE);
    u->time2 = reg_linear(p, "", "time_embedding.linear_2", temb, temb, TRUE);

    int ch = cfg->block_out[0];
    for (int i = 0; i < n; i++) {
        block *b = &u->down[i];
        int out = cfg->block_out[i];
        b->n = cfg->layers_per_block[i];
        if (is_cross(cfg->down[i]))
            b->attn = g_new0(transformer, b->n);
        for (int j = 0; j < b->n; j++) {
            g_autofree char *rp = g_strdup_printf("down_blocks.%d.resnets.%d.", i, j);
            reg_resnet(p, &b->res[j], rp, j == 0 ? ch : out, out, temb);
            if (b->attn) {
                g_autofree char *ap = g_strdup_printf("down_blocks.%d.attentions.%d.", i, j);
                reg_transformer(p, &b->attn[j], ap, out, cfg->heads[i], cfg->transformer_layers[i],
                                cfg->cross_attention_dim, cfg->use_linear_projection);
            }
        }
        g_autofree char *dp = g_strdup_printf("down_blocks.%d.downsamplers.0.", i);
        b->sample = i < n - 1 ? reg_conv(p, dp, "conv", out, out, 3) : (lin){ -1, -1 };
        ch = out;
    }
    if (cfg->mid_block) {
        int c = cfg->block_out[n - 1];
        reg_resnet(p, &u->mid_res[0], "mid_block.resnets.0.", c, c, temb);
        reg_transformer(p, &u->mid_attn, "mid_block.attentions.0.", c, cfg->heads[n - 1],
                        cfg->transformer_layers[n - 1], cfg->cross_attention_dim,
                        cfg->use_linear_projection);
        reg_resnet(p, &u->mid_res[1], "mid_block.resnets.1.", c, c, temb);
    }
    if (!decoder)
        return u;
    /* Up path as diffusers builds it: reversed channel lists; each resnet
     * takes the previous output concatenated with one skip connection. */
    int prev = cfg->block_out[n - 1];
    for (int i = 0; i < n; i++) {
        block *b = &u->up[i];
        int rev = n - 1 - i;
        int out = cfg->block_out[rev];
        int in = cfg->block_out[MAX(rev - 1, 0)];
        b->n = cfg->layers_per_block[rev] + 1;
        if (is_cross(cfg->up[i]))
            b->attn = g_new0(transformer, b->n);
        for (int j = 0; j < b->n; j++) {
            int skip = j == b->n - 1 ? in : out;
            int res_in = j == 0 ? prev : out;
            g_autofree char *rp = g_strdup_printf("up_blocks.%d.resnets.%d.", i, j);
            reg_resnet(p, &b->res[j], rp, res_in + skip, out, temb);
            if (b->attn) {
                g_autofree char *ap = g_strdup_printf("up_blocks.%d.attentions.%d.", i, j);
                reg_transformer(p, &b->attn[j], ap, out, cfg->heads[rev],
                                cfg->transformer_layers[rev], cfg->cross_attention_dim,
                                cfg->use_linear_projection);
            }
        }
        g_autofree char *up = g_strdup_printf("up_blocks.%d.upsamplers.0.", i);
        b->sample = i < n - 1 ? reg_conv(p, up, "conv", out, out, 3) : (lin){ -1, -1 };
        prev = out;
    }
    u->norm_out = reg_norm(p, "", "conv_norm_out", cfg->block_out[0]);
    u->conv_out = reg_conv(p, "", "conv_out", cfg->block_out[0], cfg->out_channels,
                           cfg->conv_out_kernel);
    return u;
}

scf_unet *scf_unet_new(const scf_unet_config *cfg, scf_params *p)
{
    return unet_new(cfg, p, TRUE);
}

scf_unet *scf_unet_new_encoder(const scf_unet_config *cfg, scf_params *p)
{
    return unet_new(cfg, p, FALSE);
}

static void free_block(block *b)
{
    if (b->attn)
        for (int j = 0; j < b->n; j++)
            g_free(b->attn[j].blocks);
    g_free(b->attn);
}

void scf_unet_free(scf_unet *u)
{
    if (!u)
        return;
    for (int i = 0; i < u->cfg.n_blocks; i++) {
        free_block(&u->down[i]);
        free_block(&u->up[i]);
    }
    g_free(u->mid_attn.blocks);
    g_free(u);
}

const scf_unet_config *scf_unet_get_config(const scf_unet *u)
{
    return &u->cfg;
}

/* ---- forward ---- */

static scf_var *P(scf_unet *u, int index)
{
    return index < 0 ? NULL : scf_params_var(u->p, index);
}

static scf_var *conv(scf_unet *u, scf_graph *g, scf_var *x, lin l, int stride)
{
    int k = (int)P(u, l.w)->value.shape[2];
    return scf_conv2d(g, x, P(u, l.w), P(u, l.b), stride, k / 2);
}

static scf_var *linear(scf_unet *u, scf_graph *g, scf_var *x, lin l)
{
    return scf_linear(g, x, P(u, l.w), P(u, l.b));
}

static scf_var *resnet_forward(scf_unet *u, scf_graph *g, const resnet *r, scf_var *x,
                               scf_var *temb_act)
{
    const int G = u->cfg.norm_num_groups;
    const float eps = u->cfg.norm_eps;
    scf_var *h = scf_group_norm(g, x, P(u, r->norm1.w), P(u, r->norm1.b), G, eps, TRUE);
    h = conv(u, g, h, r->conv1, 1);
    h = scf_add_channel(g, h, linear(u, g, temb_act, r->temb));
    h = scf_group_norm(g, h, P(u, r->norm2.w), P(u, r->norm2.b), G, eps, TRUE);
    h = conv(u, g, h, r->conv2, 1);
    scf_var *skip = r->shortcut.w >= 0 ? conv(u, g, x, r->shortcut, 1) : x;
    return scf_add(g, skip, h);
}

static scf_var *attention(scf_unet *u, scf_graph *g, scf_var *x, scf_var *ctx, lin q, lin k,
                          lin v, lin o, int heads)
{
    scf_var *a = scf_attention(g, linear(u, g, x, q), linear(u, g, ctx, k), linear(u, g, ctx, v),
                               heads, FALSE);
    return linear(u, g, a, o);
}

static scf_var *transformer_forward(scf_unet *u, scf_graph *g, const transformer *t, scf_var *x,
                                    scf_var *context)
{
    if (!x)
        return NULL;
    const int64_t B = x->value.shape[0], C = t->channels, Hh = x->value.shape[2],
                  Ww = x->value.shape[3];
    /* GroupNorm inside Transformer2DModel uses eps 1e-6, as diffusers does */
    scf_var *h = scf_group_norm(g, x, P(u, t->norm.w), P(u, t->norm.b), u->cfg.norm_num_groups,
                                1e-6f, FALSE);
    if (!u->cfg.use_linear_projection)
        h = conv(u, g, h, t->proj_in, 1);
    h = scf_transpose(g, scf_graph_reshape(g, h, 3, (int64_t[]){ B, C, Hh * Ww }));
    if (u->cfg.use_linear_projection)
        h = linear(u, g, h, t->proj_in);
    for (int i = 0; i < t->n; i++) {
        const tblock *b = &t->blocks[i];
        scf_var *n1 = scf_layer_norm(g, h, P(u, b->norm1.w), P(u, b->norm1.b), 1e-5f);
        h = scf_add(g, h, attention(u, g, n1, n1, b->q, b->k, b->v, b->o, t->heads));
        scf_var *n2 = scf_layer_norm(g, h, P(u, b->norm2.w), P(u, b->norm2.b), 1e-5f);
        h = scf_add(g, h, attention(u, g, n2, context, b->q2, b->k2, b->v2, b->o2, t->heads));
        scf_var *n3 = scf_layer_norm(g, h, P(u, b->norm3.w), P(u, b->norm3.b), 1e-5f);
        h = scf_add(g, h, linear(u, g, scf_geglu(g, linear(u, g, n3, b->ff1)), b->ff2));
    }
    if (u->cfg.use_linear_projection)
        h = linear(u, g, h, t->proj_out);
    h = scf_graph_reshape(g, scf_transpose(g, h), 4, (int64_t[]){ B, C, Hh, Ww });
    if (!u->cfg.use_linear_projection)
        h = conv(u, g, h, t->proj_out, 1);
    return scf_add(g, h, x);
}

static scf_var *time_embedding(scf_unet *u, scf_graph *g, scf_var *t)
{
    scf_var *e = scf_timestep_embedding(g, t, u->cfg.block_out[0], u->cfg.flip_sin_to_cos,
                                        u->cfg.freq_shift);
    e = scf_act(g, linear(u, g, e, u->time1), SCF_ACT_SILU);
    e = linear(u, g, e, u->time2);
    /* every resnet applies SiLU before its own projection: do it once */
    return scf_act(g, e, SCF_ACT_SILU);
}

typedef struct {
    scf_var *skips[1 + SCF_UNET_MAX_BLOCKS * (SCF_UNET_MAX_LAYERS + 1)];
    int n;
} skip_stack;

static scf_var *encode(scf_unet *u, scf_graph *g, scf_var *x, scf_var *temb, scf_var *context,
                       skip_stack *s)
{
    const scf_unet_config *cfg = &u->cfg;
    scf_var *h = conv(u, g, x, u->conv_in, 1);
    if (s)
        s->skips[s->n++] = h;
    for (int i = 0; i < cfg->n_blocks; i++) {
        block *b = &u->down[i];
        for (int j = 0; j < b->n; j++) {
            h = resnet_forward(u, g, &b->res[j], h, temb);
            if (b->attn)
                h = transformer_forward(u, g, &b->attn[j], h, context);
            if (s)
                s->skips[s->n++] = h;
        }
        if (b->sample.w >= 0) {
            h = scf_conv2d(g, h, P(u, b->sample.w), P(u, b->sample.b), 2, cfg->downsample_padding);
            if (s)
                s->skips[s->n++] = h;
        }
    }
    if (cfg->mid_block) {
        h = resnet_forward(u, g, &u->mid_res[0], h, temb);
        h = transformer_forward(u, g, &u->mid_attn, h, context);
        h = resnet_forward(u, g, &u->mid_res[1], h, temb);
    }
    return h;
}

/* The skip connections need every level's size to halve exactly. */
static gboolean check_input(scf_unet *u, scf_graph *g, scf_var *x)
{
    if (!x)
        return FALSE;
    int64_t f = (int64_t)1 << (u->cfg.n_blocks - 1);
    const scf_tensor *v = &x->value;
    if (v->ndim != 4 || v->shape[1] != u->cfg.in_channels || v->shape[2] % f || v->shape[3] % f) {
        char s[64];
        scf_graph_fail(g, "unet: input %s must be [B, %d, H, W] with H and W divisible by %d",
                       scf_tensor_shape_str(v, s, sizeof s), u->cfg.in_channels, (int)f);
        return FALSE;
    }
    return TRUE;
}

scf_var *scf_unet_encode(scf_unet *u, scf_graph *g, scf_var *x, scf_var *t, scf_var *context)
{
    if (!check_input(u, g, x))
        return NULL;
    return encode(u, g, x, time_embedding(u, g, t), context, NULL);
}

scf_var *scf_unet_forward(scf_unet *u, scf_graph *g, scf_var *x, scf_var *t, scf_var *context)
{
    const scf_unet_config *cfg = &u->cfg;
    if (!check_input(u, g, x))
        return NULL;
    skip_stack s = { .n = 0 };
    scf_var *temb = time_embedding(u, g, t);
    scf_var *h = encode(u, g, x, temb, context, &s);
    for (int i = 0; i < cfg->n_blocks; i++) {
        block *b = &u->up[i];
        for (int j = 0; j < b->n; j++) {
            h = scf_concat(g, h, s.skips[--s.n]);
            h = resnet_forward(u, g, &b->res[j], h, temb);
            if (b->attn)
                h = transformer_forward(u, g, &b->attn[j], h, context);
        }
        if (b->sample.w >= 0)
            h = conv(u, g, scf_upsample2x(g, h), b->sample, 1);
    }
    h = scf_group_norm(g, h, P(u, u->norm_out.w), P(u, u->norm_out.b), cfg->norm_num_groups,
                       cfg->norm_eps, TRUE);
    return conv(u, g, h, u->conv_out, 1);
}
