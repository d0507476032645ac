/* Helpers for CPU <-> CUDA parity tests: one test body runs on both backends
 * (inputs uploaded from the same host arrays, outputs downloaded), and the
 * CUDA results are compared against the CPU's with chk_close. */
#pragma once
#include "check.h"

/* The CUDA backend on GPU 0 (cached), or exit(77) after printing why not:
 * no GPU, no CUDA in this build, or no kernels. */
scf_backend *cc_cuda_or_skip(void);

/* A device buffer of n floats holding host[0..n) (zeros when host is NULL). */
float *cc_upload(scf_backend *be, const float *host, size_t n);

/* A fresh host copy (g_free it) of n floats of device memory; synchronizes. */
float *cc_download(scf_backend *be, const float *dev, size_t n);

/* chk_close of the device buffer got (on be) against the host reference. */
gboolean cc_close(const char *what, scf_backend *be, const float *got, const float *ref,
                  size_t n, double rtol);
