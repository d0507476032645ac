#include "vae.h"
#include "error.h"
#include <string.h>

/* diffusers' Decoder builds every norm with this eps, whatever the config says */
#define NORM_EPS 1e-6f

/* ---- config ---- */

/* Keys whose non-default values need more than this decoder does. */
static void reject_unsupported(scf_config *c)
{
    static const char *const must_be_null[] = { "shift_factor", "latents_mean", "latents_std" };
    for (size_t i = 0; i < G_N_ELEMENTS(must_be_null); i++)
        if (scf_config_has(c, must_be_null[i]))
            scf_config_fail(c, must_be_null[i], "unsupported (must be null)");
    g_autofree char *cls = scf_config_string(c, "_class_name", "AutoencoderKL", FALSE);
    if (cls && strcmp(cls, "AutoencoderKL") != 0)
        scf_config_fail(c, "_class_name", "unsupported model '%s' (supported: AutoencoderKL)", cls);
    g_autofree char *act = scf_config_string(c, "act_fn", "silu", FALSE);
    if (act && strcmp(act, "silu") != 0)
        scf_config_fail(c, "act_fn", "unsupported value '%s' (supported: 'silu')", act);
}

gboolean scf_vae_config_read(scf_vae_config *cfg, scf_config *c, GError **error)
{
    memset(cfg, 0, sizeof *cfg);
    reject_unsupported(c);
    cfg->latent_channels = (int)scf_config_int(c, "latent_channels", 4, 1, 4096, FALSE);
    cfg->out_channels = (int)scf_config_int(c, "out_channels", 3, 1, 4, FALSE);
    cfg->layers_per_block = (int)scf_config_int(c, "layers_per_block", 1, 1, SCF_VAE_MAX_LAYERS,
                                                FALSE);
    cfg->norm_num_groups = (int)scf_config_int(c, "norm_num_groups", 32, 1, 4096, FALSE);
    cfg->scaling_factor = (float)scf_config_double(c, "scaling_factor", 0.18215, 1e-6, 1e6, FALSE);
    cfg->mid_block_attention = scf_config_bool(c, "mid_block_add_attention", TRUE);
    cfg->post_quant_conv = scf_config_bool(c, "use_post_quant_conv", TRUE);
    if (scf_config_has(c, "block_out_channels")) {
        cfg->n_blocks = scf_config_int_list(c, "block_out_channels", cfg->block_out,
                                            SCF_VAE_MAX_BLOCKS, 0, 1, 65536, TRUE);
    } else {
        cfg->n_blocks = 1;
        cfg->block_out[0] = 64;
    }
    g_auto(GStrv) up = scf_config_string_list(c, "up_block_types", FALSE);
    if (up && (int)g_strv_length(up) != cfg->n_blocks)
        scf_config_fail(c, "up_block_types", "expected %d blocks like block_out_channels, found %u",
                        cfg->n_blocks, g_strv_length(up));
    for (int i = 0; up && up[i]; i++)
        if (strcmp(up[i], "UpDecoderBlock2D") != 0)
            scf_config_fail(c, "up_block_types", "unsupported block type '%s' (supported: "
                            "UpDecoderBlock2D)", up[i]);
    if (!scf_config_check(c, error))
        return FALSE;
    for (int i = 0; i < cfg->n_blocks; i++)
        if (cfg->block_out[i] % cfg->norm_num_groups)
            scf_config_fail(c, "block_out_channels", "%d channels are not divisible by "
                            "norm_num_groups %d", cfg->block_out[i], cfg->norm_num_groups);
    return scf_config_check(c, error);
}

int scf_vae_config_upscale(const scf_vae_config *cfg)
{
    return 1 << (cfg->n_blocks - 1);
}

/* ---- modules: parameter indexes ---- */

typedef struct {
    int w, b;
} lin;

typedef struct {
    lin norm1, conv1, norm2, conv2, shortcut; /* shortcut.w < 0 when in == out */
} resnet;

typedef struct {
    int n;
    resnet res[SCF_VAE_MAX_LAYERS + 1];
    lin upsample;                             /* w < 0 on the last level */
} up_block;

struct scf_vae {
    scf_vae_config cfg;
    scf_params *p;
    lin post_quant, conv_in, norm_out, conv_out;
    resnet mid_res[2];
    lin attn_norm, q, k, v, o;                /* attn_norm.w < 0 without attention */
    up_block *up;
};

static const char *const attention_names[][4] = {
    [SCF_VAE_NAMES_CURRENT] = { "to_q", "to_k", "to_v", "to_out.0" },
    [SCF_VAE_NAMES_LEGACY] = { "query", "key", "value", "proj_attn" },
};

scf_vae_names scf_vae_weights_names(const scf_safetensors *st)
{
    return scf_safetensors_find(st, "decoder.mid_block.attentions.0.query.weight")
               ? SCF_VAE_NAMES_LEGACY : SCF_VAE_NAMES_CURRENT;
}

static lin reg(scf_params *p, const char *prefix, const char *name, int ndim,
               const int64_t *wshape)
{
    g_autofree char *wn = g_strdup_printf("%s%s.weight", prefix, name);
    g_autofree char *bn = g_strdup_printf("%s%s.bias", prefix, name);
    return (lin){ scf_params_add(p, wn, ndim, wshape),
                  scf_params_add(p, bn, 1, (int64_t[]){ wshape[0] }) };
}

static lin reg_conv(scf_params *p, const char *prefix, const char *name, int in, int out, int k)
{
    return reg(p, prefix, name, 4, (int64_t[]){ out, in, k, k });
}

static lin reg_norm(scf_params *p, const char *prefix, const char *name, int c)
{
    return reg(p, prefix, name, 1, (int64_t[]){ c });
}

static void reg_resnet(scf_params *p, resnet *r, const char *prefix, int in, int out)
{
    r->norm1 = reg_norm(p, prefix, "norm1", in);
    r->conv1 = reg_conv(p, prefix, "conv1", in, out, 3);
    r->norm2 = reg_norm(p, prefix, "norm2", out);
    r->conv2 = reg_conv(p, prefix, "conv2", out, out, 3);
    r->shortcut = in != out ? reg_conv(p, prefix, "conv_shortcut", in, out, 1) : (lin){ -1, -1 };
}

scf_vae *scf_vae_new(const scf_vae_config *cfg, scf_params *p, scf_vae_names names)
{
    scf_vae *v = g_new0(scf_vae, 1);
    v->cfg = *cfg;
    v->p = p;
    const int n = cfg->n_blocks, L = cfg->latent_channels, top = cfg->block_out[n - 1];
    v->post_quant = cfg->post_quant_conv ? reg_conv(p, "", "post_quant_conv", L, L, 1)
                                         : (lin){ -1, -1 };
    v->conv_in = reg_conv(p, "decoder.", "conv_in", L, top, 3);
    reg_resnet(p, &v->mid_res[0], "decoder.mid_block.resnets.0.", top, top);
    v->attn_norm = (lin){ -1, -1 };
    if (cfg->mid_block_attention) {
        const char *a = "decoder.mid_block.attentions.0.";
        const char *const *nm = attention_names[names];
        const int64_t square[2] = { top, top };
        v->attn_norm = reg_norm(p, a, "group_norm", top);
        v->q = reg(p, a, nm[0], 2, square);
        v->k = reg(p, a, nm[1], 2, square);
        v->v = reg(p, a, nm[2], 2, square);
        v->o = reg(p, a, nm[3], 2, square);
    }
    reg_resnet(p, &v->mid_res[1], "decoder.mid_block.resnets.1.", top, top);

    /* Levels from the deepest up, as diffusers builds them: the first resnet
     * of each takes the previous level's channels. */
    v->up = g_new0(up_block, n);
    int prev = top;
    for (int i = 0; i < n; i++) {
        up_block *b = &v->up[i];
        const int out = cfg->block_out[n - 1 - i];
        b->n = cfg->layers_per_block + 1;
        for (int j = 0; j < b->n; j++) {
            g_autofree char *rp = g_strdup_printf("decoder.up_blocks.%d.resnets.%d.", i, j);
            reg_resnet(p, &b->res[j], rp, j == 0 ? prev : out, out);
        }
        g_autofree char *up = g_strdup_printf("decoder.up_blocks.%d.upsamplers.0.", i);
        b->upsample = i < n - 1 ? reg_conv(p, up, "conv", out, out, 3) : (lin){ -1, -1 };
        prev = out;
    }
    v->norm_out = reg_norm(p, "decoder.", "conv_norm_out", cfg->block_out[0]);
    v->conv_out = reg_conv(p, "decoder.", "conv_out", cfg->block_out[0], cfg->out_channels, 3);
    return v;
}

void scf_vae_free(scf_vae *v)
{
    if (!v)
        return;
    g_free(v->up);
    g_free(v);
}

const scf_vae_config *scf_vae_get_config(const scf_vae *v)
{
    return &v->cfg;
}

/* ---- forward ---- */

static scf_var *P(scf_vae *v, int index)
{
    return scf_params_var(v->p, index);
}

static scf_var *conv(scf_vae *v, scf_graph *g, scf_var *x, lin l)
{
    int k = (int)P(v, l.w)->value.shape[2];
    return scf_conv2d(g, x, P(v, l.w), P(v, l.b), 1, k / 2);
}

static scf_var *norm(scf_vae *v, scf_graph *g, scf_var *x, lin l, gboolean silu)
{
    return scf_group_norm(g, x, P(v, l.w), P(v, l.b), v->cfg.norm_num_groups, NORM_EPS, silu);
}

static scf_var *resnet_forward(scf_vae *v, scf_graph *g, const resnet *r, scf_var *x)
{
    scf_var *h = conv(v, g, norm(v, g, x, r->norm1, TRUE), r->conv1);
    h = conv(v, g, norm(v, g, h, r->norm2, TRUE), r->conv2);
    return scf_add(g, r->shortcut.w >= 0 ? conv(v, g, x, r->shortcut) : x, h);
}

/* diffusers' Attention with a group norm over the feature map, one head
 * spanning every channel, and the input added back. */
static scf_var *attention_forward(scf_vae *v, scf_graph *g, scf_var *x)
{
    if (!x)
        return NULL;
    const int64_t B = x->value.shape[0], C = x->value.shape[1], H = x->value.shape[2],
                  W = x->value.shape[3];
    scf_var *h = norm(v, g, x, v->attn_norm, FALSE);
    h = scf_transpose(g, scf_graph_reshape(g, h, 3, (int64_t[]){ B, C, H * W }));
    scf_var *a = scf_attention(g, scf_linear(g, h, P(v, v->q.w), P(v, v->q.b)),
                               scf_linear(g, h, P(v, v->k.w), P(v, v->k.b)),
                               scf_linear(g, h, P(v, v->v.w), P(v, v->v.b)), 1, FALSE);
    a = scf_linear(g, a, P(v, v->o.w), P(v, v->o.b));
    a = scf_graph_reshape(g, scf_transpose(g, a), 4, (int64_t[]){ B, C, H, W });
    return scf_add(g, x, a);
}

scf_var *scf_vae_decode(scf_vae *v, scf_graph *g, scf_var *z)
{
    if (!z)
        return NULL;
    const scf_tensor *t = &z->value;
    if (t->ndim != 4 || t->shape[1] != v->cfg.latent_channels) {
        char s[64];
        scf_graph_fail(g, "vae: latents %s must be [B, %d, h, w]",
                       scf_tensor_shape_str(t, s, sizeof s), v->cfg.latent_channels);
        return NULL;
    }
    scf_var *h = v->post_quant.w >= 0 ? conv(v, g, z, v->post_quant) : z;
    h = conv(v, g, h, v->conv_in);
    h = resnet_forward(v, g, &v->mid_res[0], h);
    if (v->attn_norm.w >= 0)
        h = attention_forward(v, g, h);
    h = resnet_forward(v, g, &v->mid_res[1], h);
    for (int i = 0; i < v->cfg.n_blocks; i++) {
        const up_block *b = &v->up[i];
        for (int j = 0; j < b->n; j++)
            h = resnet_forward(v, g, &b->res[j], h);
        if (b->upsample.w >= 0)
            h = conv(v, g, scf_upsample2x(g, h), b->upsample);
    }
    return conv(v, g, norm(v, g, h, v->norm_out, TRUE), v->conv_out);
}
