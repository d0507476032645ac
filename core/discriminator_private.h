/* The discriminator's state, shared by its files: discriminator.c (the
 * kinds, the encoder), discriminator_resnet.c, discriminator_r1.c. */
#pragma once
#include "discriminator.h"
#include "unet.h"

#define SCF_RESNET_MAX_LEVELS 8

/* parameter indexes of one residual block: two 3x3 convs (the second
 * strided) and a strided 1x1 skip without bias */
typedef struct {
    int conv1_w, conv1_b, conv2_w, conv2_b, skip_w;
} scf_resnet_block;

struct scf_discriminator {
    scf_discriminator_kind kind;
    scf_params *p;
    int channels, size;    /* of the images it judges */
    /* encoder */
    scf_unet *encoder;
    float time_scale;
    int groups;
    int conv_w, conv_b, norm_w, norm_b, out_w, out_b;
    /* resnet */
    int from_w, from_b, n_blocks;
    scf_resnet_block blocks[SCF_RESNET_MAX_LEVELS];
    int last_w, last_b, fc_w, fc_b, logit_w, logit_b;
    /* R1's copies of the images and of their gradient (they outlive g's
     * resets), allocated on first use */
    float *r1_x, *r1_v;
    size_t r1_numel;
};

/* discriminator_r1.c: frees R1's buffers */
void scf_discriminator_r1_free(scf_discriminator *d);

/* discriminator_resnet.c */
void scf_discriminator_resnet_add(scf_discriminator *d, int width);
scf_var *scf_discriminator_resnet_forward(scf_discriminator *d, scf_graph *g, scf_var *x);
