#include "safetensors.h"
#include "atomic_file.h"
#include "error.h"
#include "half.h"
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <json-glib/json-glib.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* The data is used in place from the mapping. */
#if G_BYTE_ORDER != G_LITTLE_ENDIAN
#error "safetensors data is little-endian and is read in place"
#endif

/* The reference implementation's limit: a larger header means a broken file. */
#define HEADER_MAX 100000000u
/* A valid header nests three levels; json-glib recurses once per level, so a
 * hostile header of nested brackets could otherwise exhaust the stack. */
#define HEADER_MAX_DEPTH 16
#define METADATA_KEY "__metadata__"

static const struct {
    const char *name;
    size_t size;
} dtype_info[SCF_ST_N_DTYPES] = {
    [SCF_ST_F64] = { "F64", 8 },   [SCF_ST_F32] = { "F32", 4 },
    [SCF_ST_F16] = { "F16", 2 },   [SCF_ST_BF16] = { "BF16", 2 },
    [SCF_ST_I64] = { "I64", 8 },   [SCF_ST_I32] = { "I32", 4 },
    [SCF_ST_I16] = { "I16", 2 },   [SCF_ST_I8] = { "I8", 1 },
    [SCF_ST_U8] = { "U8", 1 },     [SCF_ST_BOOL] = { "BOOL", 1 },
    [SCF_ST_U64] = { "U64", 8 },   [SCF_ST_U32] = { "U32", 4 },
    [SCF_ST_U16] = { "U16", 2 },   [SCF_ST_F8_E5M2] = { "F8_E5M2", 1 },
    [SCF_ST_F8_E4M3] = { "F8_E4M3", 1 },
};

const char *scf_st_dtype_name(scf_st_dtype dt)
{
    return (unsigned)dt < SCF_ST_N_DTYPES ? dtype_info[dt].name : "invalid";
}

size_t scf_st_dtype_size(scf_st_dtype dt)
{
    return (unsigned)dt < SCF_ST_N_DTYPES ? dtype_info[dt].size : 0;
}

static gboolean dtype_parse(const char *name, scf_st_dtype *dt)
{
    for (int i = 0; i < SCF_ST_N_DTYPES; i++) {
        if (strcmp(name, dtype_info[i].name) == 0) {
            *dt = (scf_st_dtype)i;
            return TRUE;
        }
    }
    return FALSE;
}

/* "[2, 3]" (g_free it). */
static char *shape_str(int ndim, const int64_t *shape)
{
    GString *s = g_string_new("[");
    for (int i = 0; i < ndim; i++)
        g_string_append_printf(s, i ? ", %" G_GINT64_FORMAT : "%" G_GINT64_FORMAT, shape[i]);
    g_string_append_c(s, ']');
    return g_string_free(s, FALSE);
}

/* Element count of a shape, FALSE when the count times elem_size bytes
 * overflows size_t. */
static gboolean shape_numel(int ndim, const int64_t *shape, size_t elem_size, size_t *numel)
{
    size_t n = 1, bytes;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || (uint64_t)shape[i] > SIZE_MAX ||
            __builtin_mul_overflow(n, (size_t)shape[i], &n))
            return FALSE;
    }
    *numel = n;
    return !__builtin_mul_overflow(n, elem_size, &bytes);
}

/* Sets "PATH: tensor "NAME": REASON" (or "PATH: REASON" without a tensor) and
 * returns FALSE. */
G_GNUC_PRINTF(5, 6)
static gboolean fail(GError **error, int code, const char *path, const char *tensor,
                     const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *reason = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (tensor)
        g_set_error(error, SCF_ERROR, code, "%s: tensor \"%s\": %s", path, tensor, reason);
    else
        g_set_error(error, SCF_ERROR, code, "%s: %s", path, reason);
    g_free(reason);
    return FALSE;
}

/* ---------------------------------------------------------------- reader */

struct scf_safetensors {
    char *path;
    void *map;
    size_t map_len;
    scf_st_tensor *tensors;    /* sorted by data offset; names owned here */
    int count;
    GHashTable *by_name;       /* name -> scf_st_tensor* */
    GHashTable *metadata;      /* key -> value, both owned */
};

typedef struct {
    scf_st_tensor t;
    size_t begin, end;         /* within the data section */
    int order;                 /* position in the header, to break ties */
} entry_info;

/* One pass over the raw header, before json-glib sees it, for what json-glib
 * does not tell: nesting depth (see HEADER_MAX_DEPTH) and the root object's
 * keys, since json-glib silently keeps only the last of duplicate members.
 * Outside strings only standard JSON characters are allowed, which also
 * turns away json-glib's extensions ('quotes', comments, 0x numbers) that
 * would defeat this count. Records each root key token as (offset, length). */
static gboolean header_scan(const char *path, const char *h, size_t n, GArray *keys,
                            GError **error)
{
    int depth = 0;
    size_t str_start = 0, key[2] = { 0, 0 };
    gboolean in_string = FALSE;
    for (size_t i = 0; i < n; i++) {
        char c = h[i];
        if (in_string) {
            if (c == '\\') {
                i++;
            } else if (c == '"') {
                in_string = FALSE;
                key[0] = str_start;
                key[1] = i + 1 - str_start;
            }
            continue;
        }
        switch (c) {
        case '"':
            in_string = TRUE;
            str_start = i;
            break;
        case '{': case '[':
            if (++depth > HEADER_MAX_DEPTH)
                return fail(error, SCF_ERROR_FORMAT, path, NULL,
                            "header nests deeper than %d levels", HEADER_MAX_DEPTH);
            break;
        case '}': case ']':
            depth--;
            break;
        case ':':
            if (depth == 1)
                g_array_append_vals(keys, key, 2);
            break;
        default:
            if (c != '\0' && strchr(" \t\r\n,-+.0123456789eEtruefalsn", c))
                break;
            if (g_ascii_isprint(c))
                return fail(error, SCF_ERROR_FORMAT, path, NULL,
                            "header is not valid JSON: unexpected character '%c' at byte %zu", c, i);
            return fail(error, SCF_ERROR_FORMAT, path, NULL,
                        "header is not valid JSON: unexpected byte 0x%02x at byte %zu", (guint8)c, i);
        }
    }
    return TRUE;
}

/* Called when the scan saw more root keys than json-glib kept: names the
 * first key that repeats (decoded, so "a" and "\u0061" are the same). */
static gboolean fail_duplicate(const char *path, const char *h, const GArray *keys,
                               GError **error)
{
    GHashTable *seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    char *dup = NULL;
    for (guint i = 0; i + 1 < keys->len && !dup; i += 2) {
        const size_t *k = &g_array_index(keys, size_t, i);
        char *token = g_strndup(h + k[0], k[1]);
        JsonNode *node = json_from_string(token, NULL);
        if (node && JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_STRING) {
            char *name = json_node_dup_string(node);
            if (!g_hash_table_add(seen, name))
                dup = g_strdup(name);
        }
        if (node)
            json_node_unref(node);
        g_free(token);
    }
    g_hash_table_destroy(seen);
    if (dup)
        fail(error, SCF_ERROR_FORMAT, path, dup, "appears more than once in the header");
    else
        fail(error, SCF_ERROR_FORMAT, path, NULL, "header repeats a name");
    g_free(dup);
    return FALSE;
}

/* A JSON integer >= 0. json-glib wraps integers past 2^63 to negative
 * values, so those are refused here too. */
static gboolean json_uint(JsonNode *node, uint64_t *out)
{
    if (!node || !JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_INT64)
        return FALSE;
    gint64 v = json_node_get_int(node);
    if (v < 0)
        return FALSE;
    *out = (uint64_t)v;
    return TRUE;
}

static gboolean parse_metadata(scf_safetensors *st, JsonNode *node, GError **error)
{
    if (!JSON_NODE_HOLDS_OBJECT(node))
        return fail(error, SCF_ERROR_FORMAT, st->path, NULL,
                    METADATA_KEY " is not an object of strings");
    JsonObject *obj = json_node_get_object(node);
    GList *members = json_object_get_members(obj);
    gboolean ok = TRUE;
    for (GList *l = members; l && ok; l = l->next) {
        JsonNode *v = json_object_get_member(obj, l->data);
        if (!JSON_NODE_HOLDS_VALUE(v) || json_node_get_value_type(v) != G_TYPE_STRING)
            ok = fail(error, SCF_ERROR_FORMAT, st->path, NULL,
                      METADATA_KEY " value of \"%s\" is not a string", (const char *)l->data);
        else
            g_hash_table_insert(st->metadata, g_strdup(l->data), json_node_dup_string(v));
    }
    g_list_free(members);
    return ok;
}

static gboolean parse_entry(const char *path, const char *name, JsonNode *node,
                            size_t data_len, entry_info *e, GError **error)
{
    if (!JSON_NODE_HOLDS_OBJECT(node))
        return fail(error, SCF_ERROR_FORMAT, path, name, "entry is not an object");
    JsonObject *obj = json_node_get_object(node);
    static const char *const required[] = { "dtype", "shape", "data_offsets" };
    for (size_t i = 0; i < G_N_ELEMENTS(required); i++) {
        if (!json_object_has_member(obj, required[i]))
            return fail(error, SCF_ERROR_FORMAT, path, name, "missing \"%s\"", required[i]);
    }

    JsonNode *dtype = json_object_get_member(obj, "dtype");
    if (!JSON_NODE_HOLDS_VALUE(dtype) || json_node_get_value_type(dtype) != G_TYPE_STRING)
        return fail(error, SCF_ERROR_FORMAT, path, name, "\"dtype\" is not a string");
    if (!dtype_parse(json_node_get_string(dtype), &e->t.dtype))
        return fail(error, SCF_ERROR_FORMAT, path, name, "unknown dtype \"%s\"",
                    json_node_get_string(dtype));

    JsonNode *shape = json_object_get_member(obj, "shape");
    if (!JSON_NODE_HOLDS_ARRAY(shape))
        return fail(error, SCF_ERROR_FORMAT, path, name, "\"shape\" is not an array");
    JsonArray *dims = json_node_get_array(shape);
    guint ndim = json_array_get_length(dims);
    if (ndim > SCF_ST_MAX_DIMS)
        return fail(error, SCF_ERROR_FORMAT, path, name,
                    "shape has %u dimensions, more than the %d supported", ndim, SCF_ST_MAX_DIMS);
    e->t.ndim = (int)ndim;
    for (guint i = 0; i < ndim; i++) {
        uint64_t d;
        if (!json_uint(json_array_get_element(dims, i), &d))
            return fail(error, SCF_ERROR_FORMAT, path, name,
                        "shape[%u] is not a non-negative integer", i);
        e->t.shape[i] = (int64_t)d;
    }

    JsonNode *offsets = json_object_get_member(obj, "data_offsets");
    uint64_t begin, end;
    if (!JSON_NODE_HOLDS_ARRAY(offsets) || json_array_get_length(json_node_get_array(offsets)) != 2 ||
        !json_uint(json_array_get_element(json_node_get_array(offsets), 0), &begin) ||
        !json_uint(json_array_get_element(json_node_get_array(offsets), 1), &end))
        return fail(error, SCF_ERROR_FORMAT, path, name,
                    "\"data_offsets\" is not a pair of non-negative integers");
    if (begin > end)
        return fail(error, SCF_ERROR_FORMAT, path, name,
                    "data_offsets [%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT "] begin after they end",
                    begin, end);
    if (end > data_len)
        return fail(error, SCF_ERROR_FORMAT, path, name,
                    "data_offsets end %" G_GUINT64_FORMAT " is past the data section (%zu bytes)",
                    end, data_len);

    size_t elem = dtype_info[e->t.dtype].size;
    if (!shape_numel(e->t.ndim, e->t.shape, elem, &e->t.numel))
        return fail(error, SCF_ERROR_FORMAT, path, name, "shape is too large to address");
    e->t.nbytes = e->t.numel * elem;
    if (end - begin != e->t.nbytes) {
        char *s = shape_str(e->t.ndim, e->t.shape);
        fail(error, SCF_ERROR_FORMAT, path, name,
             "data_offsets [%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT "] hold %" G_GUINT64_FORMAT
             " bytes, but %s %s needs %zu",
             begin, end, end - begin, dtype_info[e->t.dtype].name, s, e->t.nbytes);
        g_free(s);
        return FALSE;
    }
    e->begin = (size_t)begin;
    e->end = (size_t)end;
    return TRUE;
}

static int entry_cmp(const void *pa, const void *pb)
{
    const entry_info *a = pa, *b = pb;
    if (a->begin != b->begin)
        return a->begin < b->begin ? -1 : 1;
    if (a->end != b->end)
        return a->end < b->end ? -1 : 1;
    return (a->order > b->order) - (a->order < b->order);
}

/* As the reference implementation: sorted by offsets, each tensor starts
 * where the previous one ended, and the last one ends with the file. */
static gboolean check_coverage(const char *path, const entry_info *e, int n, size_t data_len,
                               GError **error)
{
    size_t pos = 0;
    for (int i = 0; i < n; i++) {
        if (e[i].begin < pos)
            return fail(error, SCF_ERROR_FORMAT, path, e[i].t.name,
                        "data_offsets [%zu, %zu] overlap tensor \"%s\" [%zu, %zu]",
                        e[i].begin, e[i].end, e[i - 1].t.name, e[i - 1].begin, e[i - 1].end);
        if (e[i].begin > pos)
            return fail(error, SCF_ERROR_FORMAT, path, e[i].t.name,
                        "data_offsets start at %zu, leaving a gap after byte %zu of the data section",
                        e[i].begin, pos);
        pos = e[i].end;
    }
    if (pos != data_len)
        return fail(error, SCF_ERROR_FORMAT, path, NULL,
                    "tensors cover %zu bytes of the %zu-byte data section; the rest is unaccounted for",
                    pos, data_len);
    return TRUE;
}

static gboolean parse_header(scf_safetensors *st, const char *h, size_t n,
                             const uint8_t *data, size_t data_len, GError **error)
{
    const char *invalid;
    if (!g_utf8_validate(h, (gssize)n, &invalid))
        return fail(error, SCF_ERROR_FORMAT, st->path, NULL,
                    "header is not valid UTF-8 (byte %zu)", (size_t)(invalid - h));
    GArray *keys = g_array_new(FALSE, FALSE, sizeof(size_t));
    JsonParser *parser = json_parser_new_immutable();
    entry_info *entries = NULL;
    GList *members = NULL;
    GError *json_error = NULL;
    gboolean ok = FALSE;

    if (!header_scan(st->path, h, n, keys, error))
        goto out;
    if (!json_parser_load_from_data(parser, h, (gssize)n, &json_error)) {
        fail(error, SCF_ERROR_FORMAT, st->path, NULL, "header is not valid JSON: %s",
             json_error->message);
        goto out;
    }
    JsonNode *root = json_parser_get_root(parser);
    if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
        fail(error, SCF_ERROR_FORMAT, st->path, NULL, "header is not a JSON object");
        goto out;
    }
    JsonObject *obj = json_node_get_object(root);
    if (keys->len / 2 != json_object_get_size(obj)) {
        fail_duplicate(st->path, h, keys, error);
        goto out;
    }

    members = json_object_get_members(obj);
    int count = 0;
    entries = g_new0(entry_info, json_object_get_size(obj));
    for (GList *l = members; l; l = l->next) {
        const char *name = l->data;
        JsonNode *node = json_object_get_member(obj, name);
        if (strcmp(name, METADATA_KEY) == 0) {
            if (!parse_metadata(st, node, error))
                goto out;
            continue;
        }
        entry_info *e = &entries[count];
        if (!parse_entry(st->path, name, node, data_len, e, error))
            goto out;
        e->t.name = name;          /* json-glib's copy until copied below */
        e->order = count++;
    }
    if (count > 1)
        qsort(entries, (size_t)count, sizeof *entries, entry_cmp);
    if (!check_coverage(st->path, entries, count, data_len, error))
        goto out;

    st->count = count;
    st->tensors = g_new(scf_st_tensor, count);
    for (int i = 0; i < count; i++) {
        scf_st_tensor *t = &st->tensors[i];
        *t = entries[i].t;
        t->name = g_strdup(entries[i].t.name);
        t->data = data + entries[i].begin;
        g_hash_table_insert(st->by_name, (gpointer)t->name, t);
    }
    ok = TRUE;
out:
    g_list_free(members);
    g_free(entries);
    g_clear_error(&json_error);
    g_object_unref(parser);
    g_array_free(keys, TRUE);
    return ok;
}

/* Opens and maps path; the descriptor is not needed once mapped. */
static gboolean map_file(scf_safetensors *st, GError **error)
{
    int fd = open(st->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(error, SCF_ERROR_IO, st->path, NULL, "cannot open: %s", g_strerror(errno));
    struct stat sb;
    gboolean ok = FALSE;
    if (fstat(fd, &sb) != 0) {
        fail(error, SCF_ERROR_IO, st->path, NULL, "cannot stat: %s", g_strerror(errno));
    } else if (!S_ISREG(sb.st_mode)) {
        fail(error, SCF_ERROR_IO, st->path, NULL, "not a regular file");
    } else if (sb.st_size < 8) {
        fail(error, SCF_ERROR_FORMAT, st->path, NULL,
             "file is %jd bytes, shorter than the 8-byte header length", (intmax_t)sb.st_size);
    } else {
        void *map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            fail(error, SCF_ERROR_IO, st->path, NULL, "cannot map: %s", g_strerror(errno));
        } else {
            st->map = map;
            st->map_len = (size_t)sb.st_size;
            ok = TRUE;
        }
    }
    close(fd);
    return ok;
}

scf_safetensors *scf_safetensors_open(const char *path, GError **error)
{
    scf_safetensors *st = g_new0(scf_safetensors, 1);
    st->path = g_strdup(path);
    st->by_name = g_hash_table_new(g_str_hash, g_str_equal);
    st->metadata = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    if (!map_file(st, error))
        goto fail;

    const uint8_t *bytes = st->map;
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = (n << 8) | bytes[i];
    if (n > HEADER_MAX) {
        fail(error, SCF_ERROR_FORMAT, path, NULL,
             "header length %" G_GUINT64_FORMAT " is over the %u-byte limit", n, HEADER_MAX);
        goto fail;
    }
    if (n > st->map_len - 8) {
        fail(error, SCF_ERROR_FORMAT, path, NULL,
             "header length %" G_GUINT64_FORMAT " runs past the end of the file (%zu bytes)",
             n, st->map_len);
        goto fail;
    }
    if (!parse_header(st, (const char *)bytes + 8, (size_t)n, bytes + 8 + n,
                      st->map_len - 8 - (size_t)n, error))
        goto fail;
    return st;
fail:
    scf_safetensors_close(st);
    return NULL;
}

void scf_safetensors_close(scf_safetensors *st)
{
    if (!st)
        return;
    if (st->map)
        munmap(st->map, st->map_len);
    for (int i = 0; i < st->count; i++)
        g_free((char *)st->tensors[i].name);
    g_free(st->tensors);
    g_hash_table_destroy(st->by_name);
    g_hash_table_destroy(st->metadata);
    g_free(st->path);
    g_free(st);
}

const char *scf_safetensors_path(const scf_safetensors *st)
{
    return st->path;
}

int scf_safetensors_count(const scf_safetensors *st)
{
    return st->count;
}

const scf_st_tensor *scf_safetensors_get(const scf_safetensors *st, int index)
{
    return index >= 0 && index < st->count ? &st->tensors[index] : NULL;
}

const scf_st_tensor *scf_safetensors_find(const scf_safetensors *st, const char *name)
{
    return g_hash_table_lookup(st->by_name, name);
}

const scf_st_tensor *scf_safetensors_expect(const scf_safetensors *st, const char *name,
                                            int ndim, const int64_t *shape, GError **error)
{
    const scf_st_tensor *t = scf_safetensors_find(st, name);
    if (!t) {
        fail(error, SCF_ERROR_FORMAT, st->path, name, "not in the file");
        return NULL;
    }
    gboolean same = t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++)
        same = t->shape[i] == shape[i];
    if (!same) {
        char *want = shape_str(ndim, shape), *have = shape_str(t->ndim, t->shape);
        fail(error, SCF_ERROR_FORMAT, st->path, name, "expected shape %s, found %s", want, have);
        g_free(want);
        g_free(have);
        return NULL;
    }
    return t;
}

const char *scf_safetensors_metadata(const scf_safetensors *st, const char *key)
{
    return g_hash_table_lookup(st->metadata, key);
}

gboolean scf_safetensors_read_f32(const scf_safetensors *st, const scf_st_tensor *t,
                                  float *dst, GError **error)
{
    const uint8_t *src = t->data;
    switch (t->dtype) {
    case SCF_ST_F32:
        if (t->nbytes)
            memcpy(dst, src, t->nbytes);
        return TRUE;
    case SCF_ST_F64:
        for (size_t i = 0; i < t->numel; i++) {
            double d;
            memcpy(&d, src + i * sizeof d, sizeof d);
            dst[i] = (float)d;
        }
        return TRUE;
    case SCF_ST_F16:
    case SCF_ST_BF16: {
        /* The data may sit at an odd address: copy through an aligned block. */
        void (*convert)(float *, const uint16_t *, size_t) =
            t->dtype == SCF_ST_F16 ? scf_f16_to_f32_n : scf_bf16_to_f32_n;
        uint16_t block[2048];
        for (size_t i = 0; i < t->numel; i += G_N_ELEMENTS(block)) {
            size_t m = MIN(G_N_ELEMENTS(block), t->numel - i);
            memcpy(block, src + i * 2, m * 2);
            convert(dst + i, block, m);
        }
        return TRUE;
    }
    default:
        return fail(error, SCF_ERROR_FORMAT, st->path, t->name,
                    "dtype %s does not convert to floating point", scf_st_dtype_name(t->dtype));
    }
}

/* ---------------------------------------------------------------- writer */

typedef struct {
    char *name;
    scf_st_dtype dtype;
    int ndim;
    int64_t shape[SCF_ST_MAX_DIMS];
    void *data;
    size_t nbytes;
} writer_tensor;

struct scf_safetensors_writer {
    GPtrArray *tensors;        /* writer_tensor*, in the order added */
    GHashTable *names;         /* name -> writer_tensor*, keys borrowed */
    GPtrArray *metadata;       /* key, value, key, value … owned */
};

static void writer_tensor_free(gpointer p)
{
    writer_tensor *t = p;
    g_free(t->name);
    g_free(t->data);
    g_free(t);
}

scf_safetensors_writer *scf_safetensors_writer_new(void)
{
    scf_safetensors_writer *w = g_new0(scf_safetensors_writer, 1);
    w->tensors = g_ptr_array_new_with_free_func(writer_tensor_free);
    w->names = g_hash_table_new(g_str_hash, g_str_equal);
    w->metadata = g_ptr_array_new_with_free_func(g_free);
    return w;
}

void scf_safetensors_writer_free(scf_safetensors_writer *w)
{
    if (!w)
        return;
    g_hash_table_destroy(w->names);
    g_ptr_array_unref(w->tensors);
    g_ptr_array_unref(w->metadata);
    g_free(w);
}

G_GNUC_PRINTF(3, 4)
static gboolean fail_invalid(GError **error, const char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *reason = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(error, SCF_ERROR, SCF_ERROR_INVALID, "tensor \"%s\": %s", name, reason);
    g_free(reason);
    return FALSE;
}

/* Checks name, shape and data and appends a tensor with room for its bytes;
 * NULL with an error when anything is wrong. */
static writer_tensor *writer_append(scf_safetensors_writer *w, const char *name,
                                    scf_st_dtype dtype, int ndim, const int64_t *shape,
                                    const void *data, GError **error)
{
    size_t numel;
    if (!name || !g_utf8_validate(name, -1, NULL)) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_INVALID, "tensor name is missing or not UTF-8");
        return NULL;
    }
    if (strcmp(name, METADATA_KEY) == 0) {
        fail_invalid(error, name, "the name is reserved for metadata");
        return NULL;
    }
    if (g_hash_table_contains(w->names, name)) {
        fail_invalid(error, name, "added twice");
        return NULL;
    }
    if ((unsigned)dtype >= SCF_ST_N_DTYPES) {
        fail_invalid(error, name, "invalid dtype %d", (int)dtype);
        return NULL;
    }
    if (ndim < 0 || ndim > SCF_ST_MAX_DIMS || (ndim > 0 && !shape)) {
        fail_invalid(error, name, "%d dimensions, expected 0 to %d", ndim, SCF_ST_MAX_DIMS);
        return NULL;
    }
    if (!shape_numel(ndim, shape, dtype_info[dtype].size, &numel)) {
        char *s = shape_str(ndim, shape);
        fail_invalid(error, name, "shape %s has a negative or too large dimension", s);
        g_free(s);
        return NULL;
    }
    if (!data && numel > 0) {
        fail_invalid(error, name, "no data for %zu elements", numel);
        return NULL;
    }
    writer_tensor *t = g_new0(writer_tensor, 1);
    t->name = g_strdup(name);
    t->dtype = dtype;
    t->ndim = ndim;
    if (ndim > 0)
        memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    t->nbytes = numel * dtype_info[dtype].size;
    t->data = g_malloc(t->nbytes);
    g_ptr_array_add(w->tensors, t);
    g_hash_table_insert(w->names, t->name, t);
    return t;
}

gboolean scf_safetensors_writer_add(scf_safetensors_writer *w, const char *name,
                                    scf_dtype dtype, int ndim, const int64_t *shape,
                                    const float *data, GError **error)
{
    static const scf_st_dtype storage[] = {
        [SCF_DTYPE_F32] = SCF_ST_F32, [SCF_DTYPE_F16] = SCF_ST_F16, [SCF_DTYPE_BF16] = SCF_ST_BF16,
    };
    if ((unsigned)dtype >= G_N_ELEMENTS(storage))
        return fail_invalid(error, name ? name : "", "invalid storage dtype %d", (int)dtype);
    writer_tensor *t = writer_append(w, name, storage[dtype], ndim, shape, data, error);
    if (!t)
        return FALSE;
    size_t numel = t->nbytes / dtype_info[t->dtype].size;
    switch (t->dtype) {
    case SCF_ST_F16:
        scf_f32_to_f16_n(t->data, data, numel);
        break;
    case SCF_ST_BF16:
        scf_f32_to_bf16_n(t->data, data, numel);
        break;
    default:
        if (numel)
            memcpy(t->data, data, t->nbytes);
        break;
    }
    return TRUE;
}

gboolean scf_safetensors_writer_add_raw(scf_safetensors_writer *w, const char *name,
                                        scf_st_dtype dtype, int ndim, const int64_t *shape,
                                        const void *data, GError **error)
{
    writer_tensor *t = writer_append(w, name, dtype, ndim, shape, data, error);
    if (t && t->nbytes)
        memcpy(t->data, data, t->nbytes);
    return t != NULL;
}

void scf_safetensors_writer_set_metadata(scf_safetensors_writer *w, const char *key,
                                         const char *value)
{
    for (guint i = 0; i < w->metadata->len; i += 2) {
        if (strcmp(g_ptr_array_index(w->metadata, i), key) == 0) {
            g_free(g_ptr_array_index(w->metadata, i + 1));
            g_ptr_array_index(w->metadata, i + 1) = g_strdup(value);
            return;
        }
    }
    g_ptr_array_add(w->metadata, g_strdup(key));
    g_ptr_array_add(w->metadata, g_strdup(value));
}

/* The 8-byte length and the JSON header padded with spaces to a multiple of
 * 8, as the reference writer does, so that the data starts 8-aligned. */
static char *writer_header(const scf_safetensors_writer *w, const char *path, size_t *len,
                           GError **error)
{
    for (guint i = 0; i < w->metadata->len; i++) {
        if (!g_utf8_validate(g_ptr_array_index(w->metadata, i), -1, NULL)) {
            g_set_error(error, SCF_ERROR, SCF_ERROR_INVALID,
                        "cannot save %s: metadata entry %u is not valid UTF-8", path, i / 2);
            return NULL;
        }
    }
    JsonBuilder *b = json_builder_new_immutable();
    json_builder_begin_object(b);
    if (w->metadata->len) {
        json_builder_set_member_name(b, METADATA_KEY);
        json_builder_begin_object(b);
        for (guint i = 0; i < w->metadata->len; i += 2) {
            json_builder_set_member_name(b, g_ptr_array_index(w->metadata, i));
            json_builder_add_string_value(b, g_ptr_array_index(w->metadata, i + 1));
        }
        json_builder_end_object(b);
    }
    size_t offset = 0;
    for (guint i = 0; i < w->tensors->len; i++) {
        const writer_tensor *t = g_ptr_array_index(w->tensors, i);
        json_builder_set_member_name(b, t->name);
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "dtype");
        json_builder_add_string_value(b, dtype_info[t->dtype].name);
        json_builder_set_member_name(b, "shape");
        json_builder_begin_array(b);
        for (int d = 0; d < t->ndim; d++)
            json_builder_add_int_value(b, t->shape[d]);
        json_builder_end_array(b);
        json_builder_set_member_name(b, "data_offsets");
        json_builder_begin_array(b);
        json_builder_add_int_value(b, (gint64)offset);
        offset += t->nbytes;
        json_builder_add_int_value(b, (gint64)offset);
        json_builder_end_array(b);
        json_builder_end_object(b);
    }
    json_builder_end_object(b);

    JsonNode *root = json_builder_get_root(b);
    gsize json_len;
    char *json = scf_json_to_string(root, FALSE, &json_len);
    json_node_unref(root);
    g_object_unref(b);

    size_t padded = (json_len + 7) / 8 * 8;
    char *out = g_malloc(8 + padded);
    for (int i = 0; i < 8; i++)
        out[i] = (char)(((uint64_t)padded >> (8 * i)) & 0xff);
    memcpy(out + 8, json, json_len);
    memset(out + 8 + json_len, ' ', padded - json_len);
    g_free(json);
    *len = 8 + padded;
    return out;
}

gboolean scf_safetensors_writer_save(scf_safetensors_writer *w, const char *path,
                                     GError **error)
{
    size_t header_len;
    char *header = writer_header(w, path, &header_len, error);
    if (!header)
        return FALSE;

    scf_atomic_file out;
    FILE *fp = scf_atomic_file_open(&out, path, error);
    gboolean ok = fp && fwrite(header, 1, header_len, fp) == header_len;
    for (guint i = 0; ok && i < w->tensors->len; i++) {
        const writer_tensor *t = g_ptr_array_index(w->tensors, i);
        ok = fwrite(t->data, 1, t->nbytes, fp) == t->nbytes;
    }
    g_free(header);
    if (!fp)
        return FALSE;
    /* a failed fwrite leaves the stream's error flag set: commit reports it */
    return scf_atomic_file_commit(&out, error);
}
