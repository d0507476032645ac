/* Tensors are views (pointer + shape) on memory owned by an arena. A model owns
 * one arena for parameters, one for gradients and one for activations, carved
 * into tensors at load time, so nothing is allocated on the hot path.
 *
 * An arena can first run in "measure" mode (no memory, only sizes are added
 * up) so that the same code that lays out a model computes how much to
 * allocate. Errors are sticky: carving past the end records the first
 * failure and hands out NULL views; check scf_arena_check once afterwards. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <glib.h>
#include "backend.h"

G_BEGIN_DECLS

#define SCF_MAX_DIMS 4
#define SCF_ARENA_ALIGN 64

typedef enum {
    SCF_DTYPE_F32,
    SCF_DTYPE_F16,
    SCF_DTYPE_BF16,
} scf_dtype;

size_t scf_dtype_size(scf_dtype dt);
const char *scf_dtype_name(scf_dtype dt);

typedef struct {
    float *data;              /* device memory of the arena's backend */
    int ndim;
    int64_t shape[SCF_MAX_DIMS];
} scf_tensor;

size_t scf_tensor_numel(const scf_tensor *t);
/* "[2, 3, 4]" into buf; returns buf */
const char *scf_tensor_shape_str(const scf_tensor *t, char *buf, size_t len);
gboolean scf_tensor_same_shape(const scf_tensor *a, const scf_tensor *b);

typedef struct {
    scf_backend *be;
    char *base;               /* NULL in measure mode */
    size_t capacity;
    size_t used;
    size_t peak;
    gboolean measuring;
    gboolean overflow;        /* sticky: set when a carve did not fit */
    size_t overflow_need;
    char *label;              /* "parameters", "activations" … for errors */
} scf_arena;

/* Measure mode: no memory; carving only adds up sizes. */
void scf_arena_init_measure(scf_arena *a, const char *label);
/* Allocates capacity bytes on be. */
gboolean scf_arena_init(scf_arena *a, scf_backend *be, size_t capacity,
                        const char *label, GError **error);
void scf_arena_release(scf_arena *a);

/* Carves a tensor of the given shape (ndim 1..4). */
scf_tensor scf_arena_tensor(scf_arena *a, int ndim, const int64_t *shape);
scf_tensor scf_arena_tensor1(scf_arena *a, int64_t d0);
scf_tensor scf_arena_tensor2(scf_arena *a, int64_t d0, int64_t d1);
scf_tensor scf_arena_tensor3(scf_arena *a, int64_t d0, int64_t d1, int64_t d2);
scf_tensor scf_arena_tensor4(scf_arena *a, int64_t d0, int64_t d1, int64_t d2, int64_t d3);
/* Raw bytes (ids, scratch), aligned. */
void *scf_arena_bytes(scf_arena *a, size_t bytes);

/* Marks and rewinds, for per-step activations. */
size_t scf_arena_mark(const scf_arena *a);
void scf_arena_reset(scf_arena *a, size_t mark);
/* Zeroes everything carved so far (gradients). */
void scf_arena_zero(scf_arena *a);

/* FALSE with an error naming the arena and the sizes if a carve overflowed. */
gboolean scf_arena_check(const scf_arena *a, GError **error);

G_END_DECLS
