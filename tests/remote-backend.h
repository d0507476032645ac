/* A test backend: the CPU backend's kernels over memory the host cannot
 * touch, which proves on a machine without a GPU that the engine reaches
 * device memory only through the backend table (upload, download, copy,
 * zero and the kernels), as the CUDA backend requires.
 *
 * Every allocation is one memfd mapped twice: a PROT_NONE view whose
 * addresses callers get, and a read-write view the kernels work in. Each
 * entry of the table translates its pointer arguments (interior pointers
 * too) from the first view to the second and calls the CPU backend, so the
 * results are bit-identical to the CPU backend's, while a host read or write
 * of device memory faults at the offending line, reported with the offset
 * into the allocation and a backtrace naming the function. A pointer given
 * to the table that is not device memory (a host array passed to a kernel,
 * which a GPU would reject) aborts with the entry and the argument named,
 * and so does an upload, download, copy or zero running past the end of
 * its allocation.
 *
 * New memory is filled with NaN bytes (0xFF), as cudaMalloc leaves memory
 * unset: a path that reads memory it never wrote shows NaN instead of
 * passing by luck.
 *
 * It records and replays like CUDA graphs (backend.h: graph_begin): while a
 * recording runs, the table's entries store their arguments and run
 * nothing, and a launch calls them again; what a capture cannot hold
 * (alloc, free, upload, download, synchronize, a value returned to the
 * host) aborts with the entry named. So the sampler's recorded steps run
 * here as they would on a GPU, and a pass that reads a host scalar changed
 * after recording, or a result the recording never produced, shows. */
#pragma once
#include <stddef.h>
#include "backend.h"

/* A fresh remote backend (free it with scf_backend_free). */
scf_backend *rb_backend_new(void);

/* Bytes currently allocated on be, a remote backend (leak checks). */
size_t rb_backend_live_bytes(scf_backend *be);

/* While fail is TRUE, graph_end reports every recording as failed (NULL),
 * as CUDA does for a capture that broke: the callers' fallback path. */
void rb_backend_fail_recordings(scf_backend *be, gboolean fail);
