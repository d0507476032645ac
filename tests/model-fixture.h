/* The model parity fixtures of tools/model_fixtures.py: one folder per model
 * under $SCF_FIXTURES/models/ with the weights in their original format,
 * inputs.safetensors (inputs and the fixed r of the loss) and
 * expected.safetensors (PyTorch's float64 "out" and the gradients of
 * loss = sum(out * r): "grad.<input>", "grad.param.<name in the file>").
 * Also the edits the bad-input tests make to copies of a fixture. */
#pragma once
#include <glib.h>
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

/* A fresh folder under $SCF_TEST_OUT, and its removal with its files. */
char *mfx_tmpdir(void);
void mfx_tmpdir_free(char *dir);

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

/* Loads config_path + weights_path the way a test's model does; FALSE with
 * the loader's error. */
typedef gboolean (*mfx_load_fn)(const char *config_path, const char *weights_path, GError **error);

typedef struct {
    mfx_weights_edit edit;
    const char *arg;
    const char *expect[3];   /* texts the error message must contain */
} mfx_weights_case;

/* Each case edits the fixture's weights file into a temporary copy and
 * asserts that loading it fails with SCF_ERROR_FORMAT naming the file and
 * the expected texts. */
void mfx_check_bad_weights(const char *fixture, const char *weights_file,
                           const mfx_weights_case *cases, size_t n, mfx_load_fn load);
