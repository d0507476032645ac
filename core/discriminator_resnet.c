/* The unconditional discriminator: StyleGAN2's residual architecture
 * (Karras et al. 2020, its "resnet" D), sized for small images:
 *
 *   from_image: conv 1x1 C -> width, SiLU
 *   per halving of the side down to 4: out = (main + skip) / sqrt(2),
 *     main = SiLU(conv 3x3 stride 2 (SiLU(conv 3x3 (h)))), channels doubling
 *     (at most 8 x width), skip = conv 1x1 stride 2 without bias
 *   last: conv 3x3, SiLU; fc: linear over all 4x4 features, SiLU; logit: linear
 *
 * Three departures, each for a reason: SiLU instead of leaky ReLU, so that
 * D is smooth and the central difference standing in for R1's double
 * backward (discriminator.h) is second-order accurate (a leaky ReLU's kinks
 * make it first-order where a unit changes sign); strided convolutions
 * instead of blur-then-subsample, and no minibatch-stddev layer, so that D
 * is built from the engine's existing ops and judges each image alone (R1's
 * per-image gradients need that); plain initialisation with AdamW instead
 * of equalised learning rates. */
#include "discriminator_private.h"
#include <math.h>

static int conv_add(scf_params *p, const char *name, int out, int in, int k)
{
    return scf_params_add(p, name, 4, (int64_t[]){ out, in, k, k });
}

static int bias_add(scf_params *p, const char *name, int n)
{
    return scf_params_add(p, name, 1, (int64_t[]){ n });
}

void scf_discriminator_resnet_add(scf_discriminator *d, int width)
{
    scf_params *p = d->p;
    int ch = width, side = d->size;
    d->from_w = conv_add(p, "from_image.weight", ch, d->channels, 1);
    d->from_b = bias_add(p, "from_image.bias", ch);
    d->n_blocks = 0;
    while (side > 4 && side % 2 == 0 && d->n_blocks < SCF_RESNET_MAX_LEVELS) {
        const int out = MIN(2 * ch, 8 * width);
        scf_resnet_block *b = &d->blocks[d->n_blocks];
        char name[64];
#define BLOCK_NAME(part) (g_snprintf(name, sizeof name, "blocks.%d." part, d->n_blocks), name)
        b->conv1_w = conv_add(p, BLOCK_NAME("conv1.weight"), ch, ch, 3);
        b->conv1_b = bias_add(p, BLOCK_NAME("conv1.bias"), ch);
        b->conv2_w = conv_add(p, BLOCK_NAME("conv2.weight"), out, ch, 3);
        b->conv2_b = bias_add(p, BLOCK_NAME("conv2.bias"), out);
        b->skip_w = conv_add(p, BLOCK_NAME("skip.weight"), out, ch, 1);
#undef BLOCK_NAME
        d->n_blocks++;
        ch = out;
        side /= 2;
    }
    d->last_w = conv_add(p, "last.weight", ch, ch, 3);
    d->last_b = bias_add(p, "last.bias", ch);
    d->fc_w = scf_params_add(p, "fc.weight", 2, (int64_t[]){ ch, (int64_t)ch * side * side });
    d->fc_b = bias_add(p, "fc.bias", ch);
    d->logit_w = scf_params_add(p, "logit.weight", 2, (int64_t[]){ 1, ch });
    d->logit_b = bias_add(p, "logit.bias", 1);
}

static scf_var *conv_silu(scf_discriminator *d, scf_graph *g, scf_var *x, int w, int b, int stride)
{
    scf_var *h = scf_conv2d(g, x, scf_params_var(d->p, w), scf_params_var(d->p, b), stride, 1);
    return scf_act(g, h, SCF_ACT_SILU);
}

scf_var *scf_discriminator_resnet_forward(scf_discriminator *d, scf_graph *g, scf_var *x)
{
    scf_params *p = d->p;
    scf_var *h = scf_conv2d(g, x, scf_params_var(p, d->from_w), scf_params_var(p, d->from_b), 1, 0);
    h = scf_act(g, h, SCF_ACT_SILU);
    for (int i = 0; i < d->n_blocks; i++) {
        const scf_resnet_block *b = &d->blocks[i];
        scf_var *m = conv_silu(d, g, h, b->conv1_w, b->conv1_b, 1);
        m = conv_silu(d, g, m, b->conv2_w, b->conv2_b, 2);
        scf_var *s = scf_conv2d(g, h, scf_params_var(p, b->skip_w), NULL, 2, 0);
        h = scf_scale(g, scf_add(g, m, s), (float)M_SQRT1_2);
    }
    h = conv_silu(d, g, h, d->last_w, d->last_b, 1);
    if (!h)
        return NULL;
    const int64_t B = h->value.shape[0];
    h = scf_graph_reshape(g, h, 2, (int64_t[]){ B, (int64_t)(scf_tensor_numel(&h->value) / (size_t)B) });
    h = scf_act(g, scf_linear(g, h, scf_params_var(p, d->fc_w), scf_params_var(p, d->fc_b)),
                SCF_ACT_SILU);
    return scf_linear(g, h, scf_params_var(p, d->logit_w), scf_params_var(p, d->logit_b));
}
