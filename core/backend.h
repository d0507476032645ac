/* The backend interface: a table of kernels, each with forward and backward,
 * plus device memory. Models call kernels only through this table, so the CUDA
 * backend slots in without touching them.
 *
 * Conventions shared by every kernel:
 * - All tensors are fp32, contiguous, row-major; pointers are device pointers
 *   of the backend (host memory for the CPU backend).
 * - Image tensors are NCHW; token tensors are token-major [B, T, C].
 * - Backward kernels ACCUMULATE (+=) into every gradient they write (input and
 *   parameter gradients alike), as in llm.c: residual branches and shared
 *   weights then need no extra adds. Callers zero gradient buffers first.
 * - Any gradient pointer may be NULL when that gradient is not wanted.
 * - Scalar losses return their value on the host (the CUDA backend syncs).
 * - Shapes are validated by the caller (models validate configs at load);
 *   kernels trust them.
 * - The backend's compute precision (scf_backend_set_precision) changes only
 *   how the matrix products round their operands; every tensor the table
 *   reads or writes stays fp32, so models, optimisers and checkpoints do not
 *   know it (training keeps fp32 master weights by construction).
 */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <glib.h>

G_BEGIN_DECLS

typedef struct scf_backend scf_backend;
/* A recorded sequence of a backend's device work (graph_begin below). */
typedef struct scf_backend_graph scf_backend_graph;

typedef enum {
    SCF_DEVICE_CPU,
    SCF_DEVICE_CUDA,
} scf_device_kind;

/* Elementwise activations sharing one kernel pair. */
typedef enum {
    SCF_ACT_SILU,       /* x * sigmoid(x) */
    SCF_ACT_GELU,       /* exact, erf form (PyTorch default) */
    SCF_ACT_GELU_TANH,  /* tanh approximation (approximate='tanh') */
    SCF_ACT_QUICK_GELU, /* x * sigmoid(1.702 x), as in OpenAI CLIP */
} scf_activation;

/* How the matrix products (linear, convolution, attention's products)
 * compute. Sums are fp32 in every mode; only the operands are rounded. */
typedef enum {
    SCF_PRECISION_FP32, /* IEEE fp32 operands: CUDA matches the CPU to float rounding (default) */
    SCF_PRECISION_TF32, /* operands rounded to TF32 (10-bit mantissa) on tensor cores */
    SCF_PRECISION_BF16, /* operands converted to bf16 (7-bit mantissa, fp32's range) */
    SCF_PRECISION_FP16, /* operands converted to fp16 (10-bit mantissa, |x| <= 65504:
                         * larger activations become inf, as in PyTorch's autocast) */
} scf_precision;

struct scf_backend {
    const char *name;      /* "cpu", "cuda:0" */
    scf_device_kind kind;
    void *ctx;             /* backend private state */

    /* Reusable scratch memory owned by the backend (see scf_backend_workspace). */
    void *workspace;
    size_t workspace_size;

    /* Read-only: change it with scf_backend_set_precision. */
    scf_precision precision;
    /* Switches the products to precision p; NULL when the backend computes
     * in fp32 only (the CPU backend). */
    gboolean (*set_precision)(scf_backend *be, scf_precision p, GError **error);

    /* ---- memory ---- */
    void *(*alloc)(scf_backend *be, size_t bytes);  /* NULL on failure; 64-byte aligned */
    void (*free)(scf_backend *be, void *ptr);
    void (*upload)(scf_backend *be, void *dst, const void *src, size_t bytes);
    void (*download)(scf_backend *be, void *dst, const void *src, size_t bytes);
    void (*copy)(scf_backend *be, void *dst, const void *src, size_t bytes);
    void (*zero)(scf_backend *be, void *dst, size_t bytes);
    void (*synchronize)(scf_backend *be);
    void (*destroy)(scf_backend *be);

    /* ---- recording and replay (CUDA graphs); NULL where the backend has
     * none (the CPU). Between graph_begin and graph_end the calls of the
     * table are recorded, not run: nothing they write is computed until the
     * recording is launched. A recording keeps the addresses and the host
     * scalars it was given, so a replay reads its inputs from the same
     * memory (write what changes, such as tau, into device buffers before
     * launching), and that memory must still be allocated. The recorded
     * region must not allocate or free (alloc returns NULL there and the
     * recording fails) nor read anything back to the host (download,
     * sum_squares, the losses, synchronize: a capture cannot wait).
     * graph_begin: FALSE when recording cannot start.
     * graph_end: always called after a successful graph_begin; the recording,
     *   or NULL when it failed (any call inside it failed; nothing ran).
     * graph_launch: runs a recording after the calls made before it and
     *   before those made after it; FALSE on failure.
     * graph_free: also while a launch of it is still running. ---- */
    gboolean (*graph_begin)(scf_backend *be);
    scf_backend_graph *(*graph_end)(scf_backend *be);
    gboolean (*graph_launch)(scf_backend *be, scf_backend_graph *graph);
    void (*graph_free)(scf_backend *be, scf_backend_graph *graph);
    /* Advanced by the backend when memory of its own that a recording reads
     * without the caller having passed it changes: copies it derives from
     * the caller's data going stale, moving or going away, or a change of
     * how the products compute (the CUDA backend's 16-bit weight copies,
     * their scratch and its precision: core/cuda/cuda_precision.h). A
     * recording made at another value must not be replayed, and the next
     * recording must follow a plain run of the same pass, which brings that
     * memory up to date where nothing is recorded (core/sampler.c). */
    guint64 recording_epoch;

    /* ---- linear: out[M,N] = in[M,K] . w[N,K]^T + b[N] (b may be NULL) ---- */
    void (*linear_forward)(scf_backend *be, float *out, const float *in,
                           const float *w, const float *b, int M, int K, int N);
    void (*linear_backward)(scf_backend *be, float *din, float *dw, float *db,
                            const float *dout, const float *in, const float *w,
                            int M, int K, int N);

    /* ---- conv2d: in[B,Cin,H,W], w[Cout,Cin,k,k], b[Cout] (may be NULL),
     * out[B,Cout,Ho,Wo], Ho = (H + 2*pad - k)/stride + 1, zero padding ---- */
    void (*conv2d_forward)(scf_backend *be, float *out, const float *in,
                           const float *w, const float *b, int B, int Cin,
                           int H, int W, int Cout, int k, int stride, int pad);
    void (*conv2d_backward)(scf_backend *be, float *din, float *dw, float *db,
                            const float *dout, const float *in, const float *w,
                            int B, int Cin, int H, int W, int Cout, int k,
                            int stride, int pad);

    /* ---- group norm over x[B,C,HW] in G groups, affine gamma/beta[C],
     * optionally followed by SiLU (fused). mean/rstd[B*G] are saved for
     * backward (may be NULL in inference). ---- */
    void (*group_norm_forward)(scf_backend *be, float *out, float *mean, float *rstd,
                               const float *x, const float *gamma, const float *beta,
                               int B, int C, int HW, int G, float eps, int silu);
    void (*group_norm_backward)(scf_backend *be, float *dx, float *dgamma, float *dbeta,
                                const float *dout, const float *x, const float *mean,
                                const float *rstd, const float *gamma, const float *beta,
                                int B, int C, int HW, int G, int silu);

    /* ---- layer norm over the last dim of x[M,C]; mean/rstd[M] saved ---- */
    void (*layer_norm_forward)(scf_backend *be, float *out, float *mean, float *rstd,
                               const float *x, const float *gamma, const float *beta,
                               int M, int C, float eps);
    void (*layer_norm_backward)(scf_backend *be, float *dx, float *dgamma, float *dbeta,
                                const float *dout, const float *x, const float *mean,
                                const float *rstd, const float *gamma, int M, int C);

    /* ---- elementwise activation; out may equal x in forward ---- */
    void (*activation_forward)(scf_backend *be, float *out, const float *x, size_t n,
                               scf_activation act);
    void (*activation_backward)(scf_backend *be, float *dx, const float *dout,
                                const float *x, size_t n, scf_activation act);

    /* ---- GEGLU as in diffusers: x[M,2N] = [h | g], out[M,N] = h * gelu(g) ---- */
    void (*geglu_forward)(scf_backend *be, float *out, const float *x, int M, int N);
    void (*geglu_backward)(scf_backend *be, float *dx, const float *dout,
                           const float *x, int M, int N);

    /* ---- softmax over the last dim of x[M,N] ---- */
    void (*softmax_forward)(scf_backend *be, float *out, const float *x, int M, int N);
    void (*softmax_backward)(scf_backend *be, float *dx, const float *dout,
                             const float *out, int M, int N);

    /* ---- multi-head attention. q[B,Tq,H*D], k,v[B,Tk,H*D] (heads
     * interleaved per token, as linear layers produce them), out[B,Tq,H*D].
     * scores = q.k^T / sqrt(D), optional causal mask (key j > query i masked;
     * needs Tq == Tk). probs[B,H,Tq,Tk] keeps the softmax for backward; pass
     * NULL when no backward follows. ---- */
    void (*attention_forward)(scf_backend *be, float *out, float *probs,
                              const float *q, const float *k, const float *v,
                              int B, int Tq, int Tk, int H, int D, int causal);
    void (*attention_backward)(scf_backend *be, float *dq, float *dk, float *dv,
                               const float *dout, const float *q, const float *k,
                               const float *v, const float *probs,
                               int B, int Tq, int Tk, int H, int D);

    /* ---- nearest x2 upsample: x[N,H,W] -> out[N,2H,2W] (N = B*C) ---- */
    void (*upsample2x_forward)(scf_backend *be, float *out, const float *x, int N, int H, int W);
    void (*upsample2x_backward)(scf_backend *be, float *dx, const float *dout, int N, int H, int W);

    /* ---- sinusoidal timestep embedding as diffusers' get_timestep_embedding
     * (max_period 10000, scale 1): out[B,dim]. No backward: time is an input. ---- */
    void (*timestep_embedding)(scf_backend *be, float *out, const float *t, int B, int dim,
                               int flip_sin_to_cos, float freq_shift);

    /* ---- embedding lookup: out[N,D] = table[ids[n]], ids are host or device
     * int32 per the backend ---- */
    void (*embedding_forward)(scf_backend *be, float *out, const int32_t *ids,
                              const float *table, int N, int D);
    void (*embedding_backward)(scf_backend *be, float *dtable, const float *dout,
                               const int32_t *ids, int N, int D);

    /* ---- concat along channels: a[B,Ca,S], b[B,Cb,S] -> out[B,Ca+Cb,S] ---- */
    void (*concat_forward)(scf_backend *be, float *out, const float *a, const float *b,
                           int B, int Ca, int Cb, int S);
    void (*concat_backward)(scf_backend *be, float *da, float *db, const float *dout,
                            int B, int Ca, int Cb, int S);

    /* ---- elementwise arithmetic (out may alias an input) ---- */
    void (*add)(scf_backend *be, float *out, const float *a, const float *b, size_t n);
    void (*mul)(scf_backend *be, float *out, const float *a, const float *b, size_t n);
    void (*mul_backward)(scf_backend *be, float *da, float *db, const float *dout,
                         const float *a, const float *b, size_t n);
    void (*scale)(scf_backend *be, float *out, const float *x, float s, size_t n);
    void (*axpy)(scf_backend *be, float *y, const float *x, float a, size_t n); /* y += a*x */
    void (*fill)(scf_backend *be, float *x, float value, size_t n);
    /* x[B,C,S] += v[B,C] broadcast over S (time embedding into feature maps);
     * backward: dv[B,C] += sum over S of dout */
    void (*add_channel_forward)(scf_backend *be, float *x, const float *v, int B, int C, int S);
    void (*add_channel_backward)(scf_backend *be, float *dv, const float *dout, int B, int C, int S);
    double (*sum_squares)(scf_backend *be, const float *x, size_t n);
    /* out[b,:] = s[b] * x[b,:] over x[B,S] (per-sample time factors, as in
     * the flow readout x - tau*v); backward: dx += s*dout, ds[b] += sum dout*x */
    void (*batch_scale_forward)(scf_backend *be, float *out, const float *x, const float *s,
                                int B, int S);
    void (*batch_scale_backward)(scf_backend *be, float *dx, float *ds, const float *dout,
                                 const float *x, const float *s, int B, int S);
    /* out[B,C,R] = x[B,R,C] transposed per batch (NCHW feature maps <-> token
     * rows); accumulate adds into out, which is how backward uses it */
    void (*transpose)(scf_backend *be, float *out, const float *x, int B, int R, int C,
                      int accumulate);

    /* ---- losses: mean over n elements; backward adds dloss * d(loss)/da ---- */
    float (*mse_forward)(scf_backend *be, const float *a, const float *b, size_t n);
    void (*mse_backward)(scf_backend *be, float *da, const float *a, const float *b,
                         size_t n, float dloss);
    /* pseudo-Huber: mean(sqrt((a-b)^2 + c^2) - c) */
    float (*pseudo_huber_forward)(scf_backend *be, const float *a, const float *b,
                                  size_t n, float c);
    void (*pseudo_huber_backward)(scf_backend *be, float *da, const float *a,
                                  const float *b, size_t n, float c, float dloss);
    /* elementwise softplus(x) = log(1 + e^x), stable for large |x| */
    void (*softplus_forward)(scf_backend *be, float *out, const float *x, size_t n);
    void (*softplus_backward)(scf_backend *be, float *dx, const float *dout,
                              const float *x, size_t n);
    /* logistic GAN loss: mean softplus(sign * x), sign = +1 or -1.
     * D loss = gan(real, -1) + gan(fake, +1); non-saturating G loss = gan(fake, -1). */
    float (*gan_logistic_forward)(scf_backend *be, const float *x, size_t n, float sign);
    void (*gan_logistic_backward)(scf_backend *be, float *dx, const float *x, size_t n,
                                  float sign, float dloss);

    /* ---- optimisation ---- */
    /* AdamW with decoupled weight decay and bias correction; t is the 1-based step. */
    void (*adamw_update)(scf_backend *be, float *param, const float *grad, float *m,
                         float *v, size_t n, float lr, float beta1, float beta2,
                         float eps, float weight_decay, int64_t t);
    /* ema = decay * ema + (1 - decay) * param */
    void (*ema_update)(scf_backend *be, float *ema, const float *param, size_t n, float decay);

    /* ---- counter-based RNG (see rng.h for the exact definition) ---- */
    void (*rng_normal)(scf_backend *be, float *out, size_t n, uint64_t seed, uint64_t offset);
    void (*rng_uniform)(scf_backend *be, float *out, size_t n, uint64_t seed, uint64_t offset);
};

/* The CPU backend. threads <= 0 means one per core present. */
scf_backend *scf_backend_cpu_new(int threads);

/* Sets the thread count of OpenMP and OpenBLAS together (one pool); <= 0 = cores. */
void scf_set_threads(int threads);
int scf_get_threads(void);

/* Scratch memory reused across kernel calls: grows when asked for more, never
 * shrinks, so steady-state calls do not allocate. Not thread-safe: a backend
 * serves one thread at a time. Returns NULL if the allocation fails. */
void *scf_backend_workspace(scf_backend *be, size_t bytes);

void scf_backend_free(scf_backend *be);

/* Sets the compute precision of be's matrix products. A backend without
 * set_precision (the CPU's, whose kernels are fp32 only) accepts
 * SCF_PRECISION_FP32 and answers anything else with SCF_ERROR_UNSUPPORTED
 * naming the device: asking for bf16 on the CPU by name is a mistake to
 * report, not to hide. Callers that chose the device by "auto" fall back
 * instead (scf_device_open_precision). */
gboolean scf_backend_set_precision(scf_backend *be, scf_precision p, GError **error);

/* "fp32", "tf32", "bf16" or "fp16" <-> scf_precision; parsing anything else
 * is SCF_ERROR_INVALID naming the text and the choices. */
gboolean scf_precision_parse(const char *text, scf_precision *out, GError **error);
const char *scf_precision_name(scf_precision p);

G_END_DECLS
