/* The model parity fixtures of tools/model_fixtures.py: one folder per model
 * under $SCF_FIXTURES/models/ with the weights in their original format,
 * inputs.safetensors (inputs and the fixed r of the loss) and
 * expected.safetensors (PyTorch's float64 "out" and the gradients of
 * loss = sum(out * r): "grad.<input>", "grad.param.<name in the file>").
 * Also the edits the bad-input tests make to copies of a fixture. */
#pragma once
#include <glib.h>
#include "config.h"
#include "graph.h"
#include "params.h"
#include "safetensors.h"

typedef struct {
    char *dir;
    scf_safetensors *inputs, *expected;
} mfx;

void mfx_open(mfx *f, const char *name);
void mfx_close(mfx *f);
/* The path of a file of the fixture folder (g_free it). */
char *mfx_file(const mfx *f, const char *file);

/* A floating tensor of st as fp32 in newly allocated memory (g_free its data). */
scf_tensor mfx_tensor(const scf_safetensors *st, const char *name);
/* An int32 tensor of st (g_free it); *n gets its element count. */
int32_t *mfx_ints(const scf_safetensors *st, const char *name, size_t *n);

/* Compares got with the expected tensor name (same element count) at rtol
 * in chk_close's measure, and logs the error found. */
gboolean mfx_check(const mfx *f, const char *name, const float *got, size_t n, double rtol);
/* Every parameter gradient against "grad.param.<prefix><name>"; logs the
 * largest error over all of them. Gradients that are zero in exact
 * arithmetic must be within 1e-6 of the model's largest gradient. */
gboolean mfx_check_param_grads(const mfx *f, const scf_params *p, const char *prefix,
                               double rtol);

/* loss = sum(out * r) as a [1,1] variable: a linear layer with r as its only
 * weight row, so the gradient reaching out is exactly r. r has out's size. */
scf_var *mfx_dot_loss(scf_graph *g, scf_var *out, float *r);

/* dst = a copy of the JSON object in src with key set to the JSON text value
 * (NULL removes the key). */
void mfx_edit_config(const char *src, const char *dst, const char *key, const char *value);

typedef enum {
    MFX_DROP,        /* leave out the tensor named arg */
    MFX_SHRINK,      /* the tensor named arg loses one row of its first dimension */
    MFX_PREFIX,      /* every name gets arg prepended */
} mfx_weights_edit;

/* dst = the weights of src as fp32 with one edit. */
void mfx_edit_weights(const char *src, const char *dst, mfx_weights_edit edit, const char *arg);

/* Asserts that error is set and its message contains each of the
 * NULL-terminated strings; frees it. */
void mfx_assert_error(GError *error, ...) G_GNUC_NULL_TERMINATED;

/* A model type under test: its config read into a model whose parameters
 * are registered in p (NULL with the config's error), its free, and the
 * prefix of its names in a weights file (NULL: none). */
typedef struct {
    gpointer (*build)(scf_config *c, scf_params *p, GError **error);
    GDestroyNotify free;
    const char *(*prefix)(const scf_safetensors *st);
} mfx_model_kind;

typedef struct {
    const mfx_model_kind *kind;
    scf_params *p;
    gpointer model;
} mfx_model;

/* config_path + weights_path the way a caller loads a model folder, the
 * parameters on chk_cpu() (with gradients where with_grad); FALSE with the
 * loader's error and nothing to free. */
gboolean mfx_model_load(mfx_model *m, const mfx_model_kind *kind, const char *config_path,
                        const char *weights_path, gboolean with_grad, GError **error);
void mfx_model_free(mfx_model *m);

typedef struct {
    const char *key, *value;   /* the config edit (value NULL: the key removed) */
    const char *expect[3];     /* texts the error message must contain */
} mfx_config_case;

typedef struct {
    mfx_weights_edit edit;
    const char *arg;
    const char *expect[3];     /* texts the error message must contain */
} mfx_weights_case;

/* Each case edits a temporary copy of the fixture's config.json or of its
 * weights_file and asserts that loading the folder with that copy fails
 * with a message naming the copy and the expected texts (for weights also
 * with SCF_ERROR_FORMAT). */
void mfx_check_bad_folders(const mfx_model_kind *kind, const char *fixture,
                           const char *weights_file, const mfx_config_case *configs,
                           size_t n_configs, const mfx_weights_case *weights, size_t n_weights);
