/* What the two folder formats share (model.c: ours, pipeline.c: diffusers
 * pipelines). Not installed. */
#pragma once
#include "config.h"
#include "model.h"

G_BEGIN_DECLS

/* Reads name (default_name when missing), kind, flow and defaults from c
 * into m; flow is optional where m already holds a default convention.
 * Errors are recorded in c. */
void scf_model_read_settings(scf_model *m, scf_config *c, const char *default_name,
                             gboolean flow_required);

/* Checks that the UNet, the text encoder and the flow's space of m fit one
 * another; errors name where (a file or a folder). */
gboolean scf_model_check_parts(const scf_model *m, const scf_unet_config *ucfg,
                               const scf_clip_text_config *tcfg, const char *where,
                               GError **error);

/* Registers the UNet (unet.*) and the text encoder (text_encoder.*) in a new
 * m->params and allocates it; m->tok must be set. */
gboolean scf_model_build(scf_model *m, const scf_unet_config *ucfg,
                         const scf_clip_text_config *tcfg, gboolean trainable, GError **error);

/* Sets m->hash from the file at path (left empty when it cannot be read). */
void scf_model_hash_file(scf_model *m, const char *path);

/* Loads the diffusers pipeline folder dir (model_index.json present). */
scf_model *scf_pipeline_load(const char *dir, scf_backend *be, gboolean trainable,
                             GError **error);

G_END_DECLS
