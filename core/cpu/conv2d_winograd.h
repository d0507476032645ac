/* Winograd F(4x4, 3x3) for 3x3 stride-1 pad-1 convolutions (conv2d_winograd.c),
 * chosen by conv2d.c; the arguments are those of the conv2d kernels with
 * k = 3, stride = 1, pad = 1. */
#pragma once
#include "../backend.h"

/* Whether the Winograd path is faster than im2col for this convolution
 * (weight_grad FALSE; the input gradient is the convolution of dout with
 * Cin and Cout swapped) or for its weight gradient (TRUE). */
gboolean scf_cpu_conv2d_winograd_pays(int B, int Cin, int H, int W, int Cout,
                                      gboolean weight_grad);
void scf_cpu_conv2d_winograd_forward(scf_backend *be, float *out, const float *in,
                                     const float *w, const float *b, int B, int Cin, int H,
                                     int W, int Cout);
/* din += and dw += (either may be NULL); the bias gradient is conv2d.c's. */
void scf_cpu_conv2d_winograd_backward(scf_backend *be, float *din, float *dw,
                                      const float *dout, const float *in, const float *w,
                                      int B, int Cin, int H, int W, int Cout);
