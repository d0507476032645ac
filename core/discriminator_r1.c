/* R1 for either discriminator kind, by the directional-derivative identity
 * and central difference of discriminator.h. */
#include "discriminator_private.h"
#include "error.h"
#include <math.h>

/* the root-mean-square move e v of the input, in the images' units (data in
 * [-1, 1]): the difference's O(e^2) error falls with it and float rounding
 * (about 1e-7 of D's parameter gradients, divided by 2e) grows. Against
 * the twin's double backward (tests/test-distill-twin.c, /resnet-r1), the
 * discriminator's gradients were off by 2.9e-4 of their scale at 1e-2,
 * 2.4e-5 at 3e-3, 9e-6 at 1e-3, 2.7e-5 at 3e-4 and 7.7e-5 at 1e-4. */
#define R1_STEP 1e-3

/* scale * sum_b logits[b], a one-element loss: the logits row times a
 * constant row, as a linear layer without bias */
static scf_var *scaled_sum(scf_graph *g, scf_var *logits, float scale)
{
    if (!logits)
        return NULL;
    const int64_t B = logits->value.shape[0];
    scf_var *w = scf_graph_new_var(g, 2, (int64_t[]){ 1, B });
    if (!w)
        return NULL;
    scf_backend *be = scf_graph_backend(g);
    be->fill(be, w->value.data, scale, (size_t)B);
    return scf_linear(g, scf_graph_reshape(g, logits, 2, (int64_t[]){ 1, B }), w, NULL);
}

void scf_discriminator_r1_free(scf_discriminator *d)
{
    scf_backend *be = d->p->be;
    if (d->r1_x)
        be->free(be, d->r1_x);
    if (d->r1_v)
        be->free(be, d->r1_v);
    d->r1_x = d->r1_v = NULL;
    d->r1_numel = 0;
}

static gboolean buffers(scf_discriminator *d, size_t n, GError **error)
{
    scf_backend *be = d->p->be;
    if (d->r1_numel >= n)
        return TRUE;
    scf_discriminator_r1_free(d);
    d->r1_x = be->alloc(be, n * sizeof(float));
    d->r1_v = be->alloc(be, n * sizeof(float));
    d->r1_numel = n;
    if (d->r1_x && d->r1_v)
        return TRUE;
    scf_discriminator_r1_free(d);
    g_set_error(error, SCF_ERROR, SCF_ERROR_NOMEM,
                "discriminator R1: out of memory for two batches of %zu values", n);
    return FALSE;
}

/* scale * sum_b D(x)_b on the images at data, backward into the
 * parameters' gradients (those being trained) and into grad when not NULL
 * (the images' gradient, accumulated). */
static void pass(scf_discriminator *d, scf_graph *g, float *data, float *grad, int B,
                 scf_tensor tau, scf_tensor context, float scale)
{
    scf_graph_reset(g);
    scf_var x = scf_param((scf_tensor){ data, 4, { B, d->channels, d->size, d->size } }, grad, TRUE);
    scf_var *logits = scf_discriminator_forward(d, g, &x, scf_graph_wrap(g, tau),
                                                scf_graph_wrap(g, context));
    scf_graph_backward(g, scaled_sum(g, logits, scale));
}

gboolean scf_discriminator_r1(scf_discriminator *d, scf_graph *g, const float *x, int B,
                              scf_tensor tau, scf_tensor context, float weight, double *r1,
                              GError **error)
{
    scf_backend *be = d->p->be;
    const size_t n = (size_t)B * (size_t)d->channels * (size_t)d->size * (size_t)d->size;
    *r1 = 0;
    if (!buffers(d, n, error))
        return FALSE;
    /* x may live in g's memory, which the passes rewind */
    be->copy(be, d->r1_x, x, n * sizeof(float));

    /* v = grad_x sum_b D(x)_b: the images are independent, so row b is
     * image b's own gradient; the parameters are left alone */
    be->zero(be, d->r1_v, n * sizeof(float));
    scf_params_set_trainable(d->p, FALSE);
    pass(d, g, d->r1_x, d->r1_v, B, tau, context, 1.0f);
    scf_params_set_trainable(d->p, TRUE);
    if (!scf_graph_check(g, error))
        return FALSE;
    const double squares = be->sum_squares(be, d->r1_v, n);
    *r1 = 0.5 * squares / B;
    if (weight == 0 || !(squares > 0))
        return TRUE;

    /* weight * d/dtheta of (D(x + e v) - D(x - e v)) / 2e, summed over
     * the images and divided by B for the mean */
    const double e = R1_STEP / sqrt(squares / (double)n);
    const float scale = (float)(weight / (2.0 * e * B));
    /* d->r1_x becomes x + e v, then x - e v (its rounding, ~ulp(x), is
     * 1e-5 of the shift) */
    for (int side = 1; side >= -1; side -= 2) {
        be->axpy(be, d->r1_x, d->r1_v, (float)(side == 1 ? e : -2.0 * e), n);
        pass(d, g, d->r1_x, NULL, B, tau, context, (float)side * scale);
        if (!scf_graph_check(g, error))
            return FALSE;
    }
    return TRUE;
}
