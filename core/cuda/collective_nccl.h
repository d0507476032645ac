/* The NCCL side of core/collective.c, built when CUDA and NCCL are found:
 * one communicator per GPU of the world, each used by its rank's thread. */
#pragma once
#include <glib.h>
#include <stddef.h>

G_BEGIN_DECLS

typedef struct scf_nccl scf_nccl;

/* Communicators over devices[0..world) (CUDA device indexes, distinct). */
scf_nccl *scf_nccl_new(const int *devices, int world, GError **error);
void scf_nccl_free(scf_nccl *n);
/* Makes rank's GPU the calling thread's current device. */
void scf_nccl_bind(scf_nccl *n, int rank);
/* In-place sums over the ranks, called by every rank on its own thread:
 * count floats of rank's device memory, or count doubles of host memory. */
gboolean scf_nccl_sum_floats(scf_nccl *n, int rank, float *buf, size_t count, GError **error);
gboolean scf_nccl_sum_doubles(scf_nccl *n, int rank, double *values, int count, GError **error);
/* count floats of rank's device memory become rank 0's. */
gboolean scf_nccl_broadcast_floats(scf_nccl *n, int rank, float *buf, size_t count,
                                   GError **error);

G_END_DECLS
