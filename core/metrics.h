/* Image metrics shared by compare, evaluation and distillation logs. Images
 * are float CHW in [-1, 1] (values outside are clamped first, as PNGs would
 * be); differences are reported on the [0, 1] intensity scale. */
#pragma once
#include <stddef.h>
#include <glib.h>

G_BEGIN_DECLS

/* Mean absolute difference of two images of n values, in [0, 1]. */
double scf_metric_mad(const float *a, const float *b, size_t n);
/* PSNR in dB over [0, 1] intensities; 100 when identical. */
double scf_metric_psnr(const float *a, const float *b, size_t n);

G_END_DECLS
