/* safetensors files: a reader that mmaps the file and validates the whole
 * header up front, and a writer that saves atomically (temp file, fsync,
 * rename), so a crash never leaves a half-written checkpoint.
 *
 * Format: 8-byte little-endian header length N, N bytes of JSON
 * {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
 *  "__metadata__": {"key": "value"}}, then the data; offsets are relative to
 * the end of the header. Every error names the file and, where it applies,
 * the tensor. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <glib.h>
#include "tensor.h"

G_BEGIN_DECLS

#define SCF_ST_MAX_DIMS 8

/* Every fixed-width dtype of the reference implementation, so that any file
 * it writes opens here; only the floating ones convert to fp32. */
typedef enum {
    SCF_ST_F64, SCF_ST_F32, SCF_ST_F16, SCF_ST_BF16,
    SCF_ST_I64, SCF_ST_I32, SCF_ST_I16, SCF_ST_I8, SCF_ST_U8, SCF_ST_BOOL,
    SCF_ST_U64, SCF_ST_U32, SCF_ST_U16, SCF_ST_F8_E5M2, SCF_ST_F8_E4M3,
    SCF_ST_N_DTYPES
} scf_st_dtype;

typedef struct {
    const char *name;
    scf_st_dtype dtype;
    int ndim;                       /* 0 (scalar) .. SCF_ST_MAX_DIMS */
    int64_t shape[SCF_ST_MAX_DIMS];
    size_t numel;
    const void *data;               /* into the mapping; may be unaligned */
    size_t nbytes;
} scf_st_tensor;

typedef struct scf_safetensors scf_safetensors;

/* Maps the file and checks everything before returning: the header length
 * (at most 100 MB, inside the file), the JSON (an object, no duplicate
 * names, __metadata__ a map of strings), each entry (known dtype, shape of
 * at most SCF_ST_MAX_DIMS non-negative integers, data_offsets two integers
 * whose span is exactly numel * dtype size) and the data section (tensors
 * cover it contiguously, without gaps or overlaps, to its last byte, as the
 * reference implementation requires). SCF_ERROR_IO when the file cannot be
 * read, SCF_ERROR_FORMAT for anything malformed. */
scf_safetensors *scf_safetensors_open(const char *path, GError **error);
void scf_safetensors_close(scf_safetensors *st);

const char *scf_safetensors_path(const scf_safetensors *st);
int scf_safetensors_count(const scf_safetensors *st);
/* Tensors in file order of their data offsets. */
const scf_st_tensor *scf_safetensors_get(const scf_safetensors *st, int index);
/* NULL when absent. */
const scf_st_tensor *scf_safetensors_find(const scf_safetensors *st, const char *name);
/* Like find, but a missing tensor or a different shape is an SCF_ERROR_FORMAT
 * error naming the file, the tensor, and expected vs found shape. */
const scf_st_tensor *scf_safetensors_expect(const scf_safetensors *st, const char *name,
                                            int ndim, const int64_t *shape, GError **error);
/* NULL when absent. */
const char *scf_safetensors_metadata(const scf_safetensors *st, const char *key);

const char *scf_st_dtype_name(scf_st_dtype dt);
size_t scf_st_dtype_size(scf_st_dtype dt);

/* Converts a floating tensor (F64/F32/F16/BF16) of st to fp32 into dst (numel
 * floats). Other dtypes are an SCF_ERROR_FORMAT error naming the file and the
 * tensor: the file does not hold what the caller needs. */
gboolean scf_safetensors_read_f32(const scf_safetensors *st, const scf_st_tensor *t,
                                  float *dst, GError **error);

typedef struct scf_safetensors_writer scf_safetensors_writer;

scf_safetensors_writer *scf_safetensors_writer_new(void);
void scf_safetensors_writer_free(scf_safetensors_writer *w);
/* Adds fp32 host data stored as dtype (F32, F16 or BF16); the data is copied
 * (converted) now, so the caller may reuse its buffer. Names must be unique,
 * valid UTF-8 and not "__metadata__"; ndim 0 .. SCF_ST_MAX_DIMS, dims >= 0;
 * data may be NULL only for an empty tensor. Errors are SCF_ERROR_INVALID.
 * Tensors are written in the order they are added, back to back. */
gboolean scf_safetensors_writer_add(scf_safetensors_writer *w, const char *name,
                                    scf_dtype dtype, int ndim, const int64_t *shape,
                                    const float *data, GError **error);
/* Adds raw bytes of any safetensors dtype (int32 ids, RNG state as I64 …). */
gboolean scf_safetensors_writer_add_raw(scf_safetensors_writer *w, const char *name,
                                        scf_st_dtype dtype, int ndim, const int64_t *shape,
                                        const void *data, GError **error);
/* Sets (or replaces) a __metadata__ entry; keys keep their first-set order.
 * Keys and values that are not valid UTF-8 make save fail. */
void scf_safetensors_writer_set_metadata(scf_safetensors_writer *w, const char *key,
                                         const char *value);
/* Writes path atomically: path.tmp-XXXXXX, fsync, rename, fsync of the folder.
 * On failure the temporary file is removed, a file already at path is left
 * as it was, and the SCF_ERROR_IO error names path and the system's reason;
 * only when the last step, the folder's fsync, fails is the new file already
 * in place (the error says so). The writer can be saved again. */
gboolean scf_safetensors_writer_save(scf_safetensors_writer *w, const char *path,
                                     GError **error);

G_END_DECLS
