/* Choosing the compute device: "auto", "cpu", "cuda" or "cuda:N". */
#pragma once
#include <glib.h>
#include "backend.h"

G_BEGIN_DECLS

/* TRUE when this build contains the CUDA backend. */
gboolean scf_device_cuda_built(void);

/* The CUDA GPUs this process can use ("cuda:0" to "cuda:N-1"): 0 without a
 * CUDA build, a driver or a GPU. The first call starts the CUDA runtime,
 * which can take a moment on a machine with GPUs: a GUI asks off its main
 * thread. */
int scf_device_cuda_count(void);

/* Opens a backend for spec. "cuda" where there is no GPU (or no CUDA build)
 * is an error; "auto" falls back to the CPU and, when notice is not NULL,
 * stores a human-readable reason there (free with g_free). threads applies
 * to the CPU backend (<= 0: one per core). */
scf_backend *scf_device_open(const char *spec, int threads, char **notice, GError **error);

/* scf_device_open, then scf_backend_set_precision(precision). A precision the
 * device cannot do is an error, except where "auto" (or a NULL spec) fell
 * back to the CPU: asking for auto means "whatever this machine has", so the
 * CPU then computes in fp32 and *notice says so. */
scf_backend *scf_device_open_precision(const char *spec, scf_precision precision, int threads,
                                       char **notice, GError **error);


G_END_DECLS
