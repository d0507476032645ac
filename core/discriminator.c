#include "discriminator_private.h"
#include "error.h"
#include <string.h>

static const char *const kind_names[] = {
    [SCF_DISCRIMINATOR_ENCODER] = "encoder",
    [SCF_DISCRIMINATOR_RESNET] = "resnet",
};

gboolean scf_discriminator_kind_parse(const char *name, scf_discriminator_kind *kind)
{
    for (size_t i = 0; name && i < G_N_ELEMENTS(kind_names); i++)
        if (strcmp(name, kind_names[i]) == 0) {
            *kind = (scf_discriminator_kind)i;
            return TRUE;
        }
    return FALSE;
}

const char *scf_discriminator_kind_name(scf_discriminator_kind kind)
{
    return kind_names[kind];
}

/* The teacher's encoder half and the head on its mid-block features. */
static void encoder_add(scf_discriminator *d, const scf_model *teacher)
{
    const scf_unet_config *cfg = scf_unet_get_config(teacher->unet);
    const int n = cfg->n_blocks, C = cfg->block_out[n - 1];
    const int side = teacher->image_size >> (n - 1);
    scf_params *p = d->p;
    d->time_scale = teacher->time_scale;
    d->groups = cfg->norm_num_groups;
    scf_params_set_prefix(p, "encoder.");
    d->encoder = scf_unet_new_encoder(cfg, p);
    scf_params_set_prefix(p, "head.");
    d->conv_w = scf_params_add(p, "conv.weight", 4, (int64_t[]){ C, C, 3, 3 });
    d->conv_b = scf_params_add(p, "conv.bias", 1, (int64_t[]){ C });
    d->norm_w = scf_params_add(p, "norm.weight", 1, (int64_t[]){ C });
    d->norm_b = scf_params_add(p, "norm.bias", 1, (int64_t[]){ C });
    /* the mid-block features are small (C x side^2): a linear layer over
     * all of them keeps where things are, which a global pool would lose */
    d->out_w = scf_params_add(p, "out.weight", 2, (int64_t[]){ 1, (int64_t)C * side * side });
    d->out_b = scf_params_add(p, "out.bias", 1, (int64_t[]){ 1 });
    scf_params_set_prefix(p, NULL);
}

scf_discriminator *scf_discriminator_new(const scf_model *teacher, scf_discriminator_kind kind,
                                         int width, scf_backend *be, uint64_t seed,
                                         GError **error)
{
    scf_discriminator *d = g_new0(scf_discriminator, 1);
    d->kind = kind;
    d->channels = teacher->channels;
    d->size = teacher->image_size;
    d->p = scf_params_new(be);
    if (kind == SCF_DISCRIMINATOR_RESNET)
        scf_discriminator_resnet_add(d, width);
    else
        encoder_add(d, teacher);
    if (!scf_params_allocate(d->p, TRUE, error)) {
        scf_discriminator_free(d);
        return NULL;
    }
    scf_params_init(d->p, seed);
    if (kind == SCF_DISCRIMINATOR_ENCODER &&
        !scf_params_copy_matching(d->p, "encoder.", teacher->params, "unet.", error)) {
        scf_discriminator_free(d);
        return NULL;
    }
    return d;
}

void scf_discriminator_free(scf_discriminator *d)
{
    if (!d)
        return;
    if (d->p)
        scf_discriminator_r1_free(d);
    scf_unet_free(d->encoder);
    scf_params_free(d->p);
    g_free(d);
}

scf_params *scf_discriminator_params(scf_discriminator *d)
{
    return d->p;
}

scf_var *scf_discriminator_forward(scf_discriminator *d, scf_graph *g, scf_var *x, scf_var *tau,
                                   scf_var *context)
{
    if (d->kind == SCF_DISCRIMINATOR_RESNET)
        return scf_discriminator_resnet_forward(d, g, x);
    scf_params *p = d->p;
    scf_var *t = scf_scale(g, tau, d->time_scale);
    scf_var *h = scf_unet_encode(d->encoder, g, x, t, context);
    h = scf_conv2d(g, h, scf_params_var(p, d->conv_w), scf_params_var(p, d->conv_b), 1, 1);
    h = scf_group_norm(g, h, scf_params_var(p, d->norm_w), scf_params_var(p, d->norm_b),
                       d->groups, 1e-5f, TRUE);
    if (!h)
        return NULL;
    int64_t B = h->value.shape[0];
    h = scf_graph_reshape(g, h, 2, (int64_t[]){ B, (int64_t)(scf_tensor_numel(&h->value) / (size_t)B) });
    return scf_linear(g, h, scf_params_var(p, d->out_w), scf_params_var(p, d->out_b));
}
