/* The CPU backend's kernels, one group per file; signatures are those of the
 * scf_backend table (backend.h), which documents them. */
#pragma once
#include "../backend.h"

/* linear.c */
void scf_cpu_linear_forward(scf_backend *be, float *out, const float *in,
                            const float *w, const float *b, int M, int K, int N);
void scf_cpu_linear_backward(scf_backend *be, float *din, float *dw, float *db,
                             const float *dout, const float *in, const float *w,
                             int M, int K, int N);
/* conv2d.c */
void scf_cpu_conv2d_forward(scf_backend *be, float *out, const float *in,
                            const float *w, const float *b, int B, int Cin,
                            int H, int W, int Cout, int k, int stride, int pad);
void scf_cpu_conv2d_backward(scf_backend *be, float *din, float *dw, float *db,
                             const float *dout, const float *in, const float *w,
                             int B, int Cin, int H, int W, int Cout, int k,
                             int stride, int pad);
/* norm.c */
void scf_cpu_group_norm_forward(scf_backend *be, float *out, float *mean, float *rstd,
                                const float *x, const float *gamma, const float *beta,
                                int B, int C, int HW, int G, float eps, int silu);
void scf_cpu_group_norm_backward(scf_backend *be, float *dx, float *dgamma, float *dbeta,
                                 const float *dout, const float *x, const float *mean,
                                 const float *rstd, const float *gamma, const float *beta,
                                 int B, int C, int HW, int G, int silu);
void scf_cpu_layer_norm_forward(scf_backend *be, float *out, float *mean, float *rstd,
                                const float *x, const float *gamma, const float *beta,
                                int M, int C, float eps);
void scf_cpu_layer_norm_backward(scf_backend *be, float *dx, float *dgamma, float *dbeta,
                                 const float *dout, const float *x, const float *mean,
                                 const float *rstd, const float *gamma, int M, int C);
/* activation.c: activations, GEGLU, softmax */
void scf_cpu_activation_forward(scf_backend *be, float *out, const float *x, size_t n,
                                scf_activation act);
void scf_cpu_activation_backward(scf_backend *be, float *dx, const float *dout,
                                 const float *x, size_t n, scf_activation act);
void scf_cpu_geglu_forward(scf_backend *be, float *out, const float *x, int M, int N);
void scf_cpu_geglu_backward(scf_backend *be, float *dx, const float *dout,
                            const float *x, int M, int N);
void scf_cpu_softmax_forward(scf_backend *be, float *out, const float *x, int M, int N);
void scf_cpu_softmax_backward(scf_backend *be, float *dx, const float *dout,
                              const float *out, int M, int N);
/* attention.c */
void scf_cpu_attention_forward(scf_backend *be, float *out, float *probs,
                               const float *q, const float *k, const float *v,
                               int B, int Tq, int Tk, int H, int D, int causal);
void scf_cpu_attention_backward(scf_backend *be, float *dq, float *dk, float *dv,
                                const float *dout, const float *q, const float *k,
                                const float *v, const float *probs,
                                int B, int Tq, int Tk, int H, int D);
/* layout.c: upsample, concat */
void scf_cpu_upsample2x_forward(scf_backend *be, float *out, const float *x, int N, int H, int W);
void scf_cpu_upsample2x_backward(scf_backend *be, float *dx, const float *dout, int N, int H, int W);
void scf_cpu_concat_forward(scf_backend *be, float *out, const float *a, const float *b,
                            int B, int Ca, int Cb, int S);
void scf_cpu_concat_backward(scf_backend *be, float *da, float *db, const float *dout,
                             int B, int Ca, int Cb, int S);
/* elementwise.c */
void scf_cpu_add(scf_backend *be, float *out, const float *a, const float *b, size_t n);
void scf_cpu_mul(scf_backend *be, float *out, const float *a, const float *b, size_t n);
void scf_cpu_mul_backward(scf_backend *be, float *da, float *db, const float *dout,
                          const float *a, const float *b, size_t n);
void scf_cpu_scale(scf_backend *be, float *out, const float *x, float s, size_t n);
void scf_cpu_axpy(scf_backend *be, float *y, const float *x, float a, size_t n);
void scf_cpu_fill(scf_backend *be, float *x, float value, size_t n);
void scf_cpu_add_channel_forward(scf_backend *be, float *x, const float *v, int B, int C, int S);
void scf_cpu_add_channel_backward(scf_backend *be, float *dv, const float *dout, int B, int C, int S);
double scf_cpu_sum_squares(scf_backend *be, const float *x, size_t n);
/* embedding.c: timestep embedding, lookup */
void scf_cpu_timestep_embedding(scf_backend *be, float *out, const float *t, int B, int dim,
                                int flip_sin_to_cos, float freq_shift);
void scf_cpu_embedding_forward(scf_backend *be, float *out, const int32_t *ids,
                               const float *table, int N, int D);
void scf_cpu_embedding_backward(scf_backend *be, float *dtable, const float *dout,
                                const int32_t *ids, int N, int D);
/* loss.c */
float scf_cpu_mse_forward(scf_backend *be, const float *a, const float *b, size_t n);
void scf_cpu_mse_backward(scf_backend *be, float *da, const float *a, const float *b,
                          size_t n, float dloss);
float scf_cpu_pseudo_huber_forward(scf_backend *be, const float *a, const float *b,
                                   size_t n, float c);
void scf_cpu_pseudo_huber_backward(scf_backend *be, float *da, const float *a,
                                   const float *b, size_t n, float c, float dloss);
void scf_cpu_softplus_forward(scf_backend *be, float *out, const float *x, size_t n);
void scf_cpu_softplus_backward(scf_backend *be, float *dx, const float *dout,
                               const float *x, size_t n);
float scf_cpu_gan_logistic_forward(scf_backend *be, const float *x, size_t n, float sign);
void scf_cpu_gan_logistic_backward(scf_backend *be, float *dx, const float *x, size_t n,
                                   float sign, float dloss);
/* optim.c */
void scf_cpu_adamw_update(scf_backend *be, float *param, const float *grad, float *m,
                          float *v, size_t n, float lr, float beta1, float beta2,
                          float eps, float weight_decay, int64_t t);
void scf_cpu_ema_update(scf_backend *be, float *ema, const float *param, size_t n, float decay);
/* rng.c (CPU side of core/rng.h) */
void scf_cpu_rng_normal(scf_backend *be, float *out, size_t n, uint64_t seed, uint64_t offset);
void scf_cpu_rng_uniform(scf_backend *be, float *out, size_t n, uint64_t seed, uint64_t offset);
/* batch.c: per-sample scaling, per-batch transpose */
void scf_cpu_batch_scale_forward(scf_backend *be, float *out, const float *x, const float *s,
                                 int B, int S);
void scf_cpu_batch_scale_backward(scf_backend *be, float *dx, float *ds, const float *dout,
                                  const float *x, const float *s, int B, int S);
void scf_cpu_transpose(scf_backend *be, float *out, const float *x, int B, int R, int C,
                       int accumulate);
