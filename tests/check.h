/* Shared test helpers: deterministic inputs, tolerance comparisons and the
 * finite-difference gradient check that every backward kernel goes through. */
#pragma once
#include <glib.h>
#include <stddef.h>
#include <stdint.h>
#include "backend.h"
#include "image.h"

/* Uniform values in [lo, hi) from a fixed-seed generator (splitmix64). */
void chk_fill(float *x, size_t n, float lo, float hi, uint64_t seed);

/* Passes when |got_i - ref_i| <= rtol * (|ref_i| + max_j |ref_j|) for all i:
 * relative to each element and to the tensor's scale, so values near zero in
 * a large tensor are judged against that scale. On failure prints the worst
 * element and returns FALSE. */
gboolean chk_close(const char *what, const float *got, const float *ref, size_t n, double rtol);
/* The smallest rtol at which chk_close passes (infinite when got has NaN). */
double chk_error(const float *got, const float *ref, size_t n);

/* The forward pass of the op under test: reads its inputs from ctx and returns
 * the scalar L = sum_i out_i * r_i (r fixed by the caller), in double. */
typedef double (*chk_loss_fn)(void *ctx);

typedef struct {
    const char *name;    /* "dx", "dw" … */
    float *x;            /* the input the gradient is taken with respect to */
    const float *grad;   /* analytic dL/dx from the backward kernel */
    size_t n;
} chk_grad;

/* Central differences (step h) on up to max_probe elements of each input,
 * chosen evenly with a fixed seed. Passes when
 * |numeric - analytic| <= tol * max(1, |numeric|, |analytic|) for each probe.
 * Restores every input. */
gboolean chk_gradcheck(const char *op, chk_loss_fn loss, void *ctx,
                       const chk_grad *grads, int ngrads,
                       float h, double tol, int max_probe);

/* A fresh buffer of n values from chk_fill (g_free it). */
float *chk_random(size_t n, float lo, float hi, uint64_t seed);

#define CHK_MAX_GRADS 3

/* One op under test: its forward folded into a loss, its backward with
 * dout = r (the loss's weights) adding into grads[i] (NULL entries skipped),
 * and the inputs the gradients belong to. */
typedef struct {
    const char *op;
    chk_loss_fn loss;
    void (*backward)(void *ctx, float *const *grads);
    void *ctx;
    int n;
    const char *names[CHK_MAX_GRADS];
    float *wrt[CHK_MAX_GRADS];
    size_t sizes[CHK_MAX_GRADS];
} chk_grad_case;

/* Asserts the op's gradients against finite differences (chk_gradcheck) and
 * the backward contract: every gradient accumulates (two calls onto prior
 * contents give prior + 2 grad) and is written with all others NULL. */
void chk_grad_case_run(const chk_grad_case *gc, double h, double tol, int max_probe);

/* L = sum out_i * r_i in double. */
double chk_dot(const float *out, const float *r, size_t n);

/* The CPU backend shared by a test binary (created on first use). */
scf_backend *chk_cpu(void);

/* A fresh empty folder prefix-XXXXXX under $SCF_TEST_OUT, or the system's
 * temporary folder where that is unset. */
char *chk_tmpdir(const char *prefix);
/* Removes dir and everything in it, asserting that all of it went; frees dir. */
void chk_tmpdir_free(char *dir);
/* Removes path and everything under it (symbolic links, not their targets);
 * FALSE when something could not be removed. Callers whose files a program
 * under test may still touch at the end ignore that. */
gboolean chk_remove_tree(const char *path);
/* Writes dir/name with len bytes of data (-1: up to its NUL). */
void chk_write_file(const char *dir, const char *name, const char *data, gssize len);

/* An image of uniform noise from chk_fill (so it compresses about as badly
 * as pixels can). */
scf_image *chk_noise_image(int w, int h, int channels, uint64_t seed);
