/* Data parallelism over the devices of one machine: a world of W ranks, one
 * backend each, every rank holding a replica of the model and a slice of
 * every batch (core/train.c, core/distill.c). Rank 0 runs on the caller's
 * thread; every other rank on a thread of its own, kept for the
 * collective's life, so that its device (CUDA's current device, its OpenMP
 * pool) stays set.
 *
 * Two implementations behind this one interface:
 *  - NCCL for CUDA devices (core/cuda/collective_nccl.cu): one communicator
 *    per GPU, each driven by its rank's thread;
 *  - the host implementation for CPU backends, whose buffers are host
 *    memory: the rank threads sum them themselves in a fixed order (rank 0 +
 *    rank 1 + ...), so every rank gets the same bits in every run. It lets
 *    data-parallel training run, and be tested, on machines without GPUs.
 * Both give every rank the same result bit for bit, so replicas that take
 * the same optimiser step on it stay identical without a broadcast.
 *
 * NULL stands for a world of one, the single-device path: scf_collective_run
 * calls its function once on the calling thread and the collective calls
 * return at once, with no copies and no communication. */
#pragma once
#include <glib.h>
#include "backend.h"

G_BEGIN_DECLS

typedef struct scf_collective scf_collective;

/* Most values one scf_collective_average call agrees on. */
#define SCF_COLLECTIVE_MAX_VALUES 15

/* Opens the devices of a comma-separated list, each as scf_device_open takes
 * it: "cuda:0,cuda:1" (NCCL) or "cpu,cpu" (host ranks, which share threads,
 * <= 0 meaning one per core). A list of one device is a world of one, where
 * "auto" may fall back to the CPU with a notice (g_free it). Errors name the
 * device: unknown, absent, listed twice, CPU mixed with CUDA, or several
 * GPUs in a build without NCCL. */
scf_collective *scf_collective_open(const char *devices, int threads, char **notice,
                                    GError **error);
/* "cuda:0,cuda:1,...,cuda:N-1": the first n GPUs, for scf_collective_open. */
char *scf_collective_gpu_list(int n);

/* Whether this build can train across several GPUs: that needs NCCL (host
 * ranks, cpu,cpu, work without it). */
gboolean scf_collective_has_nccl(void);
/* Frees the collective and its backends (NULL is allowed). */
void scf_collective_free(scf_collective *c);

int scf_collective_world(const scf_collective *c);
scf_backend *scf_collective_backend(const scf_collective *c, int rank);
/* The devices as listed, "cuda:0,cuda:1", for messages. */
const char *scf_collective_name(const scf_collective *c);

/* One rank's share of some work; rank 0 runs on the caller's thread. */
typedef gboolean (*scf_collective_fn)(scf_collective *c, int rank, gpointer user,
                                      GError **error);

/* Runs fn for every rank at once, each on its thread with its device
 * current, and returns when all have returned: FALSE when any rank failed,
 * with the error of the first rank that failed by itself (not merely because
 * another one did). A rank whose fn fails before an scf_collective_average
 * that the others then wait at is announced to them there on its behalf, so
 * fn may return FALSE anywhere up to its last scf_collective_average (but
 * not after it: the others have gone on). */
gboolean scf_collective_run(scf_collective *c, scf_collective_fn fn, gpointer user,
                            GError **error);

/* Each rank's slice of a batch of batch samples: batch / world, or an error
 * naming what (a run folder) when the batch does not split evenly. */
gboolean scf_collective_split_batch(const scf_collective *c, int batch, const char *what,
                                    int *slice, GError **error);

/* Frees replicas[r - 1] of every rank r > 0 with free_fn on that rank's
 * thread, where its device is current, then the array (NULL is allowed). */
void scf_collective_free_replicas(scf_collective *c, gpointer *replicas, GDestroyNotify free_fn);

/* The collective calls. Every rank makes them from inside scf_collective_run,
 * with its own buffers, the same calls in the same order. */

/* buf[0..n), memory of the rank's backend, becomes the sum over the ranks. */
gboolean scf_collective_all_reduce_sum(scf_collective *c, int rank, float *buf, size_t n,
                                       GError **error);
/* buf[0..n), memory of the rank's backend, becomes a copy of rank 0's. */
gboolean scf_collective_broadcast(scf_collective *c, int rank, float *buf, size_t n,
                                  GError **error);

/* The end of one rank's forward and backward pass: the ranks agree whether
 * all of them succeeded (ok is this rank's own outcome; a rank that failed
 * has set its error and passes FALSE) and, when they did, turn their
 * per-rank batch means into means over the whole batch: values[0..n_values)
 * (losses, on the host) and grad[0..n) (on the rank's backend) become their
 * averages over the ranks. With equal slices this is exactly the mean over
 * the global batch. With no values and no gradient (n_values and n 0) the
 * ranks only agree on success. Returns FALSE when any rank failed: with
 * error set when this one had not (another one did). */
gboolean scf_collective_average(scf_collective *c, int rank, gboolean ok, double *values,
                                int n_values, float *grad, size_t n, GError **error);

G_END_DECLS
