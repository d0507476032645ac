/* The engine's real model paths, each one function taking a backend and
 * returning its results as host arrays, so that one body serves two
 * comparisons with the CPU backend: bit for bit on the remote backend
 * (tests/remote-backend.h, the CPU's kernels behind memory the host cannot
 * touch) and within fp32 tolerances on CUDA (tests/cuda-check.h).
 *
 * The paths share one set of folders written once on the CPU (dp_env_new):
 * a tiny model (tests/tiny-model.h), a 6-image caption folder and the
 * training and distillation configs; each run gets its own run folder. */
#pragma once
#include <glib.h>
#include "backend.h"
#include "model.h"

/* What an output is, which sets its tolerance across devices. */
typedef enum {
    DP_VALUE,       /* forward values, losses: rtol 1e-4 */
    DP_GRADIENT,    /* gradients, and states one optimiser step away: rtol 1e-3 */
    DP_IMAGE,       /* generated images in [-1, 1]: within 1/255 of [0, 1] */
} dp_kind;

typedef struct {
    char *name;
    dp_kind kind;
    float *data;    /* host */
    size_t n;
} dp_output;

typedef struct {
    GPtrArray *outputs;   /* dp_output*, in the order the path made them */
} dp_result;

typedef struct dp_env dp_env;

/* The shared folders under a fresh temporary folder in $SCF_TEST_OUT. */
dp_env *dp_env_new(void);
/* Removes them. */
void dp_env_free(dp_env *env);
/* The tiny model's folder and the caption folder. */
const char *dp_env_model_dir(const dp_env *env);
const char *dp_env_data_dir(const dp_env *env);

typedef void (*dp_path_fn)(scf_backend *be, dp_env *env, dp_result *out);

typedef struct {
    const char *name;
    dp_path_fn run;
} dp_path;

/* Every path: unet, clip-text, sampler, discriminator, train, distill, eval. */
extern const dp_path dp_paths[];
extern const int dp_n_paths;

/* The tiny model of env on be. */
scf_model *dp_load_model(dp_env *env, scf_backend *be, gboolean trainable);

/* The sampler's recorded steps on be, a backend with graphs: generations
 * with replay give the same images bit for bit as plain launches; a shape
 * is recorded once (its second pass) and replayed by later steps and
 * generations, beside other shapes' recordings, and recorded anew when the
 * memory it points into moved. With recordings_fail (be's recordings all
 * fail), nothing is recorded or replayed and the images are the same. */
void dp_check_graph_replay(scf_backend *be, dp_env *env, gboolean recordings_fail);

void dp_result_init(dp_result *r);
void dp_result_clear(dp_result *r);

/* Asserts that got and ref hold the same outputs bit for bit. */
void dp_assert_identical(const dp_result *got, const dp_result *ref);
/* Asserts that got and ref hold the same outputs within each kind's tolerance. */
void dp_assert_close(const dp_result *got, const dp_result *ref);
