/* Image metrics shared by compare, evaluation and distillation logs. Images
 * are float CHW in [-1, 1] (values outside are clamped first, as PNGs would
 * be, and NaN reads as -1, as it becomes 0 in a PNG); differences and
 * intensities are on the [0, 1] scale u = (x + 1) / 2. RGB images are three
 * planes R, G, B of height x width. */
#pragma once
#include <stddef.h>
#include <glib.h>

G_BEGIN_DECLS

/* Mean absolute difference of two images of n values, in [0, 1]. */
double scf_metric_mad(const float *a, const float *b, size_t n);
/* PSNR in dB over [0, 1] intensities; 100 when identical. */
double scf_metric_psnr(const float *a, const float *b, size_t n);

/* Sharpness: the variance of the Laplacian of the luminance
 * Y = 0.299 R + 0.587 G + 0.114 B (Rec. 601, as OpenCV's grey), with the
 * 3x3 kernel [0 1 0; 1 -4 1; 0 1 0] over the valid (height-2) x (width-2)
 * interior. Blur lowers it; it is only meaningful as a ratio to real images
 * of the same kind. 0 for images smaller than 3x3. */
double scf_metric_laplacian_variance(const float *rgb, int height, int width);

/* Mean HSV saturation (max - min) / max over the pixels, 0 for black. */
double scf_metric_mean_saturation(const float *rgb, int height, int width);

/* The fraction of the n values that are 0 or 255 in 8 bits
 * (round((x + 1) * 127.5), i.e. |x| >= 1 - 1/255 after clamping). */
double scf_metric_clipped_fraction(const float *x, size_t n);

/* The index of the image among refs (count images of n values each, one
 * after another) nearest to img in L2 over all values; the lowest index on
 * ties, -1 when count is 0. img is clamped; refs are taken as given (real
 * images, already in range). */
int scf_metric_nearest(const float *img, const float *refs, int count, size_t n);

/* Whether an image whose nearest (scf_metric_nearest) is refs' image
 * `nearest` retrieves refs' image `target`: nearest is target or has exactly
 * the same values. The font draws some emoji identically (the flags of
 * France and of Clipperton Island, the snowboarder in every skin tone), and
 * no sample can tell those apart. */
gboolean scf_metric_retrieved(const float *refs, int count, size_t n, int nearest, int target);

G_END_DECLS
