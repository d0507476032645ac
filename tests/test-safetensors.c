#include "safetensors.h"
#include "half.h"
#include "error.h"
#include "check.h"
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------------------- helpers */

static int str_ptr_cmp(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in dir, sorted and joined with spaces: "a b.safetensors". */
static char *dir_listing(const char *dir)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    g_assert_nonnull(d);
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    const char *name;
    while ((name = g_dir_read_name(d)))
        g_ptr_array_add(names, g_strdup(name));
    g_dir_close(d);
    g_ptr_array_sort(names, str_ptr_cmp);
    g_ptr_array_add(names, NULL);
    char *s = g_strjoinv(" ", (char **)names->pdata);
    g_ptr_array_unref(names);
    return s;
}

/* Plain stdio rather than g_file_set_contents, which fsyncs: the fuzz loop
 * writes hundreds of files. */
static void put_bytes(const char *path, const void *bytes, size_t len)
{
    FILE *f = fopen(path, "wb");
    g_assert_nonnull(f);
    g_assert_cmpuint(fwrite(bytes, 1, len, f), ==, len);
    g_assert_cmpint(fclose(f), ==, 0);
}

/* A file of the 8-byte length, header (unpadded, as given) and data_len
 * zero bytes. */
static void put_file(const char *path, const char *header, size_t data_len)
{
    size_t n = strlen(header);
    GByteArray *b = g_byte_array_new();
    for (int i = 0; i < 8; i++) {
        guint8 c = (guint8)(((uint64_t)n >> (8 * i)) & 0xff);
        g_byte_array_append(b, &c, 1);
    }
    g_byte_array_append(b, (const guint8 *)header, (guint)n);
    g_byte_array_set_size(b, (guint)(8 + n + data_len));
    memset(b->data + 8 + n, 0, data_len);
    put_bytes(path, b->data, b->len);
    g_byte_array_unref(b);
}

static gboolean message_has(const GError *error, const char *part)
{
    if (strstr(error->message, part))
        return TRUE;
    g_printerr("message \"%s\" lacks \"%s\"\n", error->message, part);
    return FALSE;
}

/* Asserts that error names the file (its base name) and, when given, the
 * tensor (quoted) and a phrase of the reason. */
static void assert_names(const GError *error, const char *path, const char *tensor,
                         const char *reason)
{
    g_assert_nonnull(error);
    char *base = g_path_get_basename(path);
    g_assert_true(message_has(error, base));
    g_free(base);
    if (tensor) {
        char *quoted = g_strdup_printf("\"%s\"", tensor);
        g_assert_true(message_has(error, quoted));
        g_free(quoted);
    }
    if (reason)
        g_assert_true(message_has(error, reason));
}

static float *f32_ramp(size_t n, float scale)
{
    float *x = g_new(float, n);
    chk_fill(x, n, -scale, scale, 1234 + n);
    return x;
}

/* ---------------------------------------------------------- round trips */

static void test_round_trip(void)
{
    char *dir = chk_tmpdir("safetensors");
    char *path = g_build_filename(dir, "model.safetensors", NULL);
    static const char odd_name[] = "blocks.0/attn \"q\" \xc3\xa9";   /* quote and é */
    const int64_t s23[] = { 2, 3 }, s5[] = { 5 }, s22[] = { 2, 2 }, s3[] = { 3 };
    float *w = f32_ramp(6, 10.0f), *h = f32_ramp(5, 100.0f), *b = f32_ramp(4, 1e4f);
    const int64_t ids[] = { 1, -2, INT64_C(1) << 40 };
    GError *error = NULL;

    scf_safetensors_writer *wr = scf_safetensors_writer_new();
    g_assert_true(scf_safetensors_writer_add(wr, "w", SCF_DTYPE_F32, 2, s23, w, &error));
    g_assert_true(scf_safetensors_writer_add(wr, "h", SCF_DTYPE_F16, 1, s5, h, &error));
    g_assert_true(scf_safetensors_writer_add(wr, odd_name, SCF_DTYPE_BF16, 2, s22, b, &error));
    g_assert_true(scf_safetensors_writer_add_raw(wr, "ids", SCF_ST_I64, 1, s3, ids, &error));
    g_assert_no_error(error);
    scf_safetensors_writer_set_metadata(wr, "format", "pt");
    scf_safetensors_writer_set_metadata(wr, "step", "1");
    scf_safetensors_writer_set_metadata(wr, "step", "1200");   /* replaces */
    /* The data was copied at add time. */
    float w0 = w[0];
    w[0] = 999.0f;
    g_assert_true(scf_safetensors_writer_save(wr, path, &error));
    g_assert_no_error(error);
    scf_safetensors_writer_free(wr);

    /* Layout as the reference writer: header padded with spaces to a
     * multiple of 8, __metadata__ first, then the names as added. */
    char *bytes;
    gsize len;
    g_assert_true(g_file_get_contents(path, &bytes, &len, NULL));
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = (n << 8) | (guint8)bytes[i];
    g_assert_cmpuint(n % 8, ==, 0);
    g_assert_cmpuint(len, ==, 8 + n + 6 * 4 + 5 * 2 + 4 * 2 + 3 * 8);
    char *header = g_strndup(bytes + 8, n);
    g_assert_true(g_str_has_prefix(header, "{\"__metadata__\":{\"format\":\"pt\",\"step\":\"1200\"},\"w\":"));
    g_assert_true(strstr(header, "\"w\":") < strstr(header, "\"h\":"));
    g_assert_true(strstr(header, "\"h\":") < strstr(header, "\"ids\":"));
    g_assert_true(g_str_has_suffix(g_strchomp(header), "}"));   /* only spaces after */
    g_free(header);
    g_free(bytes);

    scf_safetensors *st = scf_safetensors_open(path, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(scf_safetensors_path(st), ==, path);
    g_assert_cmpint(scf_safetensors_count(st), ==, 4);
    g_assert_cmpstr(scf_safetensors_metadata(st, "format"), ==, "pt");
    g_assert_cmpstr(scf_safetensors_metadata(st, "step"), ==, "1200");
    g_assert_null(scf_safetensors_metadata(st, "absent"));
    /* get follows the data offsets, which follow the order of adding. */
    static const char *order[] = { "w", "h", odd_name, "ids" };
    for (int i = 0; i < 4; i++)
        g_assert_cmpstr(scf_safetensors_get(st, i)->name, ==, order[i]);
    g_assert_null(scf_safetensors_get(st, 4));
    g_assert_null(scf_safetensors_get(st, -1));
    g_assert_null(scf_safetensors_find(st, "nope"));

    float got[6];
    const scf_st_tensor *t = scf_safetensors_find(st, "w");
    g_assert_cmpint(t->dtype, ==, SCF_ST_F32);
    g_assert_cmpint(t->ndim, ==, 2);
    g_assert_cmpint(t->shape[0], ==, 2);
    g_assert_cmpint(t->shape[1], ==, 3);
    g_assert_cmpuint(t->numel, ==, 6);
    g_assert_cmpuint(t->nbytes, ==, 24);
    g_assert_true(scf_safetensors_read_f32(st, t, got, &error));
    g_assert_cmpfloat(got[0], ==, w0);
    for (int i = 1; i < 6; i++)
        g_assert_cmpfloat(got[i], ==, w[i]);

    /* Stored values are the round-to-nearest-even conversions: exact. */
    t = scf_safetensors_find(st, "h");
    g_assert_cmpint(t->dtype, ==, SCF_ST_F16);
    g_assert_true(scf_safetensors_read_f32(st, t, got, &error));
    for (int i = 0; i < 5; i++)
        g_assert_cmpfloat(got[i], ==, scf_f16_to_f32(scf_f32_to_f16(h[i])));
    t = scf_safetensors_find(st, odd_name);
    g_assert_cmpint(t->dtype, ==, SCF_ST_BF16);
    g_assert_true(scf_safetensors_read_f32(st, t, got, &error));
    for (int i = 0; i < 4; i++)
        g_assert_cmpfloat(got[i], ==, scf_bf16_to_f32(scf_f32_to_bf16(b[i])));
    g_assert_no_error(error);

    t = scf_safetensors_find(st, "ids");
    g_assert_cmpint(t->dtype, ==, SCF_ST_I64);
    g_assert_cmpuint(t->nbytes, ==, sizeof ids);
    g_assert_cmpmem(t->data, t->nbytes, ids, sizeof ids);
    g_assert_false(scf_safetensors_read_f32(st, t, got, &error));
    g_assert_error(error, SCF_ERROR, SCF_ERROR_FORMAT);
    assert_names(error, path, "ids", "I64");
    g_clear_error(&error);

    scf_safetensors_close(st);
    g_free(w);
    g_free(h);
    g_free(b);
    g_free(path);
    chk_tmpdir_free(dir);
}

static void test_scalar_and_empty(void)
{
    char *dir = chk_tmpdir("safetensors");
    char *path = g_build_filename(dir, "small.safetensors", NULL);
    const int64_t s03[] = { 0, 3 }, s0[] = { 0 };
    const float seven = 7.0f;
    GError *error = NULL;

    scf_safetensors_writer *wr = scf_safetensors_writer_new();
    g_assert_true(scf_safetensors_writer_add(wr, "empty", SCF_DTYPE_F16, 2, s03, NULL, &error));
    g_assert_true(scf_safetensors_writer_add(wr, "scalar", SCF_DTYPE_F32, 0, NULL, &seven, &error));
    g_assert_true(scf_safetensors_writer_add_raw(wr, "none", SCF_ST_U8, 1, s0, NULL, &error));
    g_assert_no_error(error);
    g_assert_true(scf_safetensors_writer_save(wr, path, &error));
    scf_safetensors_writer_free(wr);

    scf_safetensors *st = scf_safetensors_open(path, &error);
    g_assert_no_error(error);
    g_assert_cmpint(scf_safetensors_count(st), ==, 3);
    const scf_st_tensor *t = scf_safetensors_find(st, "scalar");
    g_assert_cmpint(t->ndim, ==, 0);
    g_assert_cmpuint(t->numel, ==, 1);
    float v = 0;
    g_assert_true(scf_safetensors_read_f32(st, t, &v, &error));
    g_assert_cmpfloat(v, ==, 7.0f);
    t = scf_safetensors_find(st, "empty");
    g_assert_cmpint(t->ndim, ==, 2);
    g_assert_cmpint(t->shape[0], ==, 0);
    g_assert_cmpuint(t->numel, ==, 0);
    g_assert_cmpuint(t->nbytes, ==, 0);
    g_assert_true(scf_safetensors_read_f32(st, t, &v, &error));
    g_assert_cmpuint(scf_safetensors_find(st, "none")->nbytes, ==, 0);
    scf_safetensors_close(st);

    /* No tensors at all: "{}" padded to 8, as the reference writes it. */
    wr = scf_safetensors_writer_new();
    g_assert_true(scf_safetensors_writer_save(wr, path, &error));
    scf_safetensors_writer_free(wr);
    char *bytes;
    gsize len;
    g_assert_true(g_file_get_contents(path, &bytes, &len, NULL));
    g_assert_cmpmem(bytes, len, "\x08\0\0\0\0\0\0\0{}      ", 16);
    g_free(bytes);
    st = scf_safetensors_open(path, &error);
    g_assert_no_error(error);
    g_assert_cmpint(scf_safetensors_count(st), ==, 0);
    g_assert_null(scf_safetensors_get(st, 0));
    scf_safetensors_close(st);

    g_free(path);
    chk_tmpdir_free(dir);
}

/* tests/fixtures/safetensors/reference.safetensors was written by the Python
 * reference (safetensors 0.8.0, torch 2.15) with:
 *   save_file({
 *       "weight": torch.tensor([[0.5, -1.25, 3.0], [1e-3, -0.0, 65504.0]], dtype=torch.float32),
 *       "half": torch.tensor([1.0, -2.5, 0.1, 65504.0], dtype=torch.float16),
 *       "bf": torch.tensor([[1.0, -0.5], [3.14159, 1e30]], dtype=torch.bfloat16),
 *       "ids": torch.tensor([1, -2, 1 << 40], dtype=torch.int64),
 *       "scalar": torch.tensor(7.0, dtype=torch.float32),
 *       "empty": torch.zeros(0, 3, dtype=torch.float32),
 *   }, path, metadata={"format": "pt", "note": "reference"}) */
static void test_python_reference(void)
{
    const char *fixtures = g_getenv("SCF_FIXTURES");
    g_assert_nonnull(fixtures);
    char *path = g_build_filename(fixtures, "safetensors", "reference.safetensors", NULL);
    GError *error = NULL;
    scf_safetensors *st = scf_safetensors_open(path, &error);
    g_assert_no_error(error);

    g_assert_cmpstr(scf_safetensors_metadata(st, "format"), ==, "pt");
    g_assert_cmpstr(scf_safetensors_metadata(st, "note"), ==, "reference");
    /* The reference writer orders the data by alignment, then name. */
    static const char *order[] = { "ids", "empty", "scalar", "weight", "bf", "half" };
    g_assert_cmpint(scf_safetensors_count(st), ==, 6);
    for (int i = 0; i < 6; i++)
        g_assert_cmpstr(scf_safetensors_get(st, i)->name, ==, order[i]);

    float got[6];
    const int64_t s23[] = { 2, 3 };
    const scf_st_tensor *t = scf_safetensors_expect(st, "weight", 2, s23, &error);
    g_assert_no_error(error);
    g_assert_cmpint(t->dtype, ==, SCF_ST_F32);
    g_assert_true(scf_safetensors_read_f32(st, t, got, &error));
    const float weight[] = { 0.5f, -1.25f, 3.0f, 1e-3f, -0.0f, 65504.0f };
    g_assert_cmpmem(got, sizeof weight, weight, sizeof weight);   /* bits: -0 too */

    const int64_t s4[] = { 4 };
    t = scf_safetensors_expect(st, "half", 1, s4, &error);
    g_assert_cmpint(t->dtype, ==, SCF_ST_F16);
    g_assert_true(scf_safetensors_read_f32(st, t, got, &error));
    /* 0.1 in fp16 is 0x2e66 = (1024 + 614) / 16384 */
    const float half[] = { 1.0f, -2.5f, 1638.0f / 16384.0f, 65504.0f };
    g_assert_cmpmem(got, sizeof half, half, sizeof half);

    const int64_t s22[] = { 2, 2 };
    t = scf_safetensors_expect(st, "bf", 2, s22, &error);
    g_assert_cmpint(t->dtype, ==, SCF_ST_BF16);
    g_assert_true(scf_safetensors_read_f32(st, t, got, &error));
    /* 3.14159 -> 0x4049 = 3.140625; 1e30 -> 0x714a = 0x1.94p+99 */
    const float bf[] = { 1.0f, -0.5f, 3.140625f, 0x1.94p+99f };
    g_assert_cmpmem(got, sizeof bf, bf, sizeof bf);

    const int64_t s3[] = { 3 };
    t = scf_safetensors_expect(st, "ids", 1, s3, &error);
    g_assert_cmpint(t->dtype, ==, SCF_ST_I64);
    const int64_t ids[] = { 1, -2, INT64_C(1) << 40 };
    g_assert_cmpmem(t->data, t->nbytes, ids, sizeof ids);

    t = scf_safetensors_expect(st, "scalar", 0, NULL, &error);
    g_assert_true(scf_safetensors_read_f32(st, t, got, &error));
    g_assert_cmpfloat(got[0], ==, 7.0f);

    const int64_t s03[] = { 0, 3 };
    t = scf_safetensors_expect(st, "empty", 2, s03, &error);
    g_assert_nonnull(t);
    g_assert_cmpuint(t->numel, ==, 0);
    g_assert_no_error(error);

    scf_safetensors_close(st);
    g_free(path);
}

static void test_expect_errors(void)
{
    char *dir = chk_tmpdir("safetensors");
    char *path = g_build_filename(dir, "expect.safetensors", NULL);
    put_file(path, "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}", 24);
    GError *error = NULL;
    scf_safetensors *st = scf_safetensors_open(path, &error);
    g_assert_no_error(error);

    g_assert_null(scf_safetensors_expect(st, "v", 1, (const int64_t[]){ 6 }, &error));
    g_assert_error(error, SCF_ERROR, SCF_ERROR_FORMAT);
    assert_names(error, path, "v", "not in the file");
    g_clear_error(&error);

    g_assert_null(scf_safetensors_expect(st, "w", 2, (const int64_t[]){ 2, 4 }, &error));
    g_assert_error(error, SCF_ERROR, SCF_ERROR_FORMAT);
    assert_names(error, path, "w", "expected shape [2, 4], found [2, 3]");
    g_clear_error(&error);

    g_assert_null(scf_safetensors_expect(st, "w", 1, (const int64_t[]){ 6 }, &error));
    assert_names(error, path, "w", "expected shape [6], found [2, 3]");
    g_clear_error(&error);

    scf_safetensors_close(st);
    g_free(path);
    chk_tmpdir_free(dir);
}

/* ---------------------------------------------------------- malformed */

#define T_F32_1(off) "{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[" off "]}"

typedef struct {
    const char *id;
    const char *header;        /* JSON after a correct length, NULL for raw */
    size_t data_len;           /* zero bytes after the header */
    const char *raw;           /* the whole file when header is NULL */
    size_t raw_len;
    const char *tensor;        /* must be named in the message, when set */
    const char *reason;        /* must appear in the message */
} bad_case;

#define RAW(s) NULL, 0, s, sizeof(s) - 1

static const bad_case bad_cases[] = {
    { "short-file", RAW("\x01\x02\x03\x04\x05"), NULL, "shorter than the 8-byte" },
    { "header-past-end", RAW("\x64\0\0\0\0\0\0\0{}"), NULL, "header length 100 runs past the end" },
    { "header-absurd", RAW("\x01\xe1\xf5\x05\0\0\0\0{}"), NULL, "100000001 is over the 100000000-byte limit" },
    { "header-length-2^64", RAW("\xff\xff\xff\xff\xff\xff\xff\xff{}"), NULL, "over the" },
    { "not-json", "{\"a\": ", 0, NULL, 0, NULL, "not valid JSON" },
    { "not-utf8", "{\"\xff\": 1}", 0, NULL, 0, NULL, "not valid UTF-8" },
    { "json-extension", "{'a': 1}", 0, NULL, 0, NULL, "unexpected character '''" },
    { "not-object", "[1, 2]", 0, NULL, 0, NULL, "not a JSON object" },
    { "empty-header", "        ", 0, NULL, 0, NULL, "not a JSON object" },
    { "too-deep", "{\"a\":[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]}", 0, NULL, 0, NULL, "nests deeper" },
    { "entry-not-object", "{\"a\": 5}", 0, NULL, 0, "a", "entry is not an object" },
    { "missing-dtype", "{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, NULL, 0, "a", "missing \"dtype\"" },
    { "missing-shape", "{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, NULL, 0, "a", "missing \"shape\"" },
    { "missing-offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, NULL, 0, "a", "missing \"data_offsets\"" },
    { "dtype-not-string", "{\"a\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, NULL, 0, "a", "\"dtype\" is not a string" },
    { "unknown-dtype", "{\"a\":{\"dtype\":\"F17\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, NULL, 0, "a", "unknown dtype \"F17\"" },
    { "shape-not-array", "{\"a\":{\"dtype\":\"F32\",\"shape\":1,\"data_offsets\":[0,4]}}", 4, NULL, 0, "a", "\"shape\" is not an array" },
    { "shape-negative", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,-1],\"data_offsets\":[0,4]}}", 4, NULL, 0, "a", "shape[1] is not a non-negative integer" },
    { "shape-fraction", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,4]}}", 4, NULL, 0, "a", "shape[0] is not a non-negative integer" },
    { "shape-string", "{\"a\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}", 4, NULL, 0, "a", "shape[0] is not a non-negative integer" },
    { "shape-too-many-dims", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4, NULL, 0, "a", "9 dimensions" },
    { "shape-overflow", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,4]}}", 4, NULL, 0, "a", "too large" },
    { "offsets-one", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4]}}", 4, NULL, 0, "a", "not a pair of non-negative integers" },
    { "offsets-three", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 8, NULL, 0, "a", "not a pair" },
    { "offsets-fraction", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4.0]}}", 4, NULL, 0, "a", "not a pair" },
    { "offsets-negative", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 4, NULL, 0, "a", "not a pair" },
    { "offsets-past-2^64", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,18446744073709551620]}}", 4, NULL, 0, "a", "not a pair" },
    { "offsets-not-array", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":\"0-4\"}}", 4, NULL, 0, "a", "not a pair" },
    { "begin-after-end", "{\"a\":" T_F32_1("4,0") "}", 4, NULL, 0, "a", "[4, 0] begin after" },
    { "end-past-data", "{\"a\":" T_F32_1("0,8") "}", 4, NULL, 0, "a", "end 8 is past the data section (4 bytes)" },
    { "size-mismatch", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, NULL, 0, "a", "hold 4 bytes, but F32 [2] needs 8" },
    { "overlap", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":" T_F32_1("4,8") "}", 8, NULL, 0, "b", "overlap tensor \"a\"" },
    { "gap", "{\"a\":" T_F32_1("4,8") "}", 8, NULL, 0, "a", "gap" },
    { "data-not-covered", "{\"a\":" T_F32_1("0,4") "}", 8, NULL, 0, NULL, "cover 4 bytes of the 8-byte data section" },
    { "duplicate-name", "{\"a\":" T_F32_1("0,4") ",\"b\":" T_F32_1("4,8") ",\"a\":" T_F32_1("0,4") "}", 8, NULL, 0, "a", "more than once" },
    { "duplicate-escaped", "{\"a\":" T_F32_1("0,4") ",\"\\u0061\":" T_F32_1("0,4") "}", 4, NULL, 0, "a", "more than once" },
    { "metadata-not-object", "{\"__metadata__\":\"x\"}", 0, NULL, 0, NULL, "__metadata__ is not an object" },
    { "metadata-not-string", "{\"__metadata__\":{\"k\":\"v\",\"n\":1}}", 0, NULL, 0, NULL, "__metadata__ value of \"n\" is not a string" },
};

static void test_malformed(gconstpointer data)
{
    const bad_case *c = data;
    char *dir = chk_tmpdir("safetensors");
    char *name = g_strconcat(c->id, ".safetensors", NULL);
    char *path = g_build_filename(dir, name, NULL);
    if (c->header)
        put_file(path, c->header, c->data_len);
    else
        put_bytes(path, c->raw, c->raw_len);

    GError *error = NULL;
    g_assert_null(scf_safetensors_open(path, &error));
    g_assert_error(error, SCF_ERROR, SCF_ERROR_FORMAT);
    assert_names(error, path, c->tensor, c->reason);
    g_error_free(error);

    g_free(path);
    g_free(name);
    chk_tmpdir_free(dir);
}

static void test_unreadable(void)
{
    char *dir = chk_tmpdir("safetensors");
    char *path = g_build_filename(dir, "absent.safetensors", NULL);
    GError *error = NULL;
    g_assert_null(scf_safetensors_open(path, &error));
    g_assert_error(error, SCF_ERROR, SCF_ERROR_IO);
    assert_names(error, path, NULL, g_strerror(ENOENT));
    g_clear_error(&error);

    g_assert_null(scf_safetensors_open(dir, &error));
    g_assert_error(error, SCF_ERROR, SCF_ERROR_IO);
    assert_names(error, dir, NULL, "not a regular file");
    g_clear_error(&error);
    g_free(path);
    chk_tmpdir_free(dir);
}

/* Mutated and truncated copies of a valid file must open or fail cleanly,
 * never crash or read outside the mapping (run under ASan to see the
 * latter). Deterministic: a fixed seed. */
static void test_fuzz(void)
{
    char *dir = chk_tmpdir("safetensors");
    char *path = g_build_filename(dir, "fuzz.safetensors", NULL);
    float *x = f32_ramp(7, 3.0f);
    GError *error = NULL;
    scf_safetensors_writer *wr = scf_safetensors_writer_new();
    g_assert_true(scf_safetensors_writer_add(wr, "a.weight", SCF_DTYPE_F32, 2, (const int64_t[]){ 7, 1 }, x, &error));
    g_assert_true(scf_safetensors_writer_add(wr, "a.bias", SCF_DTYPE_F16, 1, (const int64_t[]){ 7 }, x, &error));
    g_assert_true(scf_safetensors_writer_add(wr, "b", SCF_DTYPE_BF16, 0, NULL, x, &error));
    g_assert_true(scf_safetensors_writer_add_raw(wr, "ids", SCF_ST_I32, 1, (const int64_t[]){ 2 }, (const int32_t[]){ 3, 4 }, &error));
    scf_safetensors_writer_set_metadata(wr, "k", "v");
    g_assert_true(scf_safetensors_writer_save(wr, path, &error));
    scf_safetensors_writer_free(wr);
    char *orig;
    gsize len;
    g_assert_true(g_file_get_contents(path, &orig, &len, NULL));
    size_t header_end = 8 + ((guint8)orig[0] | (size_t)(guint8)orig[1] << 8);

    GRand *rng = g_rand_new_with_seed(20240601);
    char *buf = g_malloc(len);
    int opened = 0, refused = 0;
    float out[8];
    for (int iter = 0; iter < 600; iter++) {
        memcpy(buf, orig, len);
        size_t n = len;
        int kind = g_rand_int_range(rng, 0, 4);
        if (kind == 0) {
            n = (size_t)g_rand_int_range(rng, 0, (gint32)len);
        } else {
            /* Random bytes or JSON punctuation in the length and header
             * (where the parsing is), or random bytes in the data, which
             * must still open. */
            int flips = g_rand_int_range(rng, 1, 5);
            for (int f = 0; f < flips; f++) {
                size_t pos = kind == 3 ? (size_t)g_rand_int_range(rng, (gint32)header_end, (gint32)len)
                                       : (size_t)g_rand_int_range(rng, 0, (gint32)header_end);
                buf[pos] = kind == 2 ? "{}[]\":,0123456789-. \\eE"[g_rand_int_range(rng, 0, 23)]
                                     : (char)g_rand_int_range(rng, 0, 256);
            }
        }
        put_bytes(path, buf, n);
        scf_safetensors *st = scf_safetensors_open(path, &error);
        if (st) {
            opened++;
            for (int i = 0; i < scf_safetensors_count(st); i++) {
                const scf_st_tensor *t = scf_safetensors_get(st, i);
                g_assert_true(scf_safetensors_find(st, t->name) == t);
                if (t->numel <= G_N_ELEMENTS(out) &&
                    !scf_safetensors_read_f32(st, t, out, &error)) {
                    g_assert_error(error, SCF_ERROR, SCF_ERROR_FORMAT);
                    g_clear_error(&error);
                }
            }
            scf_safetensors_close(st);
        } else {
            refused++;
            g_assert_error(error, SCF_ERROR, SCF_ERROR_FORMAT);
            g_assert_true(strstr(error->message, path) != NULL);
            g_clear_error(&error);
        }
    }
    g_test_message("fuzz: %d opened, %d refused", opened, refused);
    /* Both outcomes occur, so the loop is not vacuous. */
    g_assert_cmpint(opened, >, 100);
    g_assert_cmpint(refused, >, 200);
    g_rand_free(rng);
    g_free(buf);
    g_free(orig);
    g_free(x);
    g_free(path);
    chk_tmpdir_free(dir);
}

/* ---------------------------------------------------------- writer */

static void test_writer_errors(void)
{
    char *dir = chk_tmpdir("safetensors");
    char *path = g_build_filename(dir, "w.safetensors", NULL);
    const float x[4] = { 1, 2, 3, 4 };
    GError *error = NULL;
    scf_safetensors_writer *wr = scf_safetensors_writer_new();
    g_assert_true(scf_safetensors_writer_add(wr, "a", SCF_DTYPE_F32, 1, (const int64_t[]){ 4 }, x, &error));

    g_assert_false(scf_safetensors_writer_add(wr, "a", SCF_DTYPE_F16, 1, (const int64_t[]){ 4 }, x, &error));
    g_assert_error(error, SCF_ERROR, SCF_ERROR_INVALID);
    g_assert_true(message_has(error, "\"a\""));
    g_assert_true(message_has(error, "twice"));
    g_clear_error(&error);

    g_assert_false(scf_safetensors_writer_add(wr, "neg", SCF_DTYPE_F32, 2, (const int64_t[]){ 2, -2 }, x, &error));
    g_assert_error(error, SCF_ERROR, SCF_ERROR_INVALID);
    g_assert_true(message_has(error, "\"neg\""));
    g_assert_true(message_has(error, "[2, -2]"));
    g_clear_error(&error);

    g_assert_false(scf_safetensors_writer_add_raw(wr, "deep", SCF_ST_U8, 9,
                                                  (const int64_t[]){ 1, 1, 1, 1, 1, 1, 1, 1, 1 }, x, &error));
    g_assert_error(error, SCF_ERROR, SCF_ERROR_INVALID);
    g_assert_true(message_has(error, "\"deep\""));
    g_clear_error(&error);

    g_assert_false(scf_safetensors_writer_add(wr, "__metadata__", SCF_DTYPE_F32, 1, (const int64_t[]){ 1 }, x, &error));
    g_assert_error(error, SCF_ERROR, SCF_ERROR_INVALID);
    g_clear_error(&error);

    g_assert_false(scf_safetensors_writer_add(wr, "nodata", SCF_DTYPE_F32, 1, (const int64_t[]){ 1 }, NULL, &error));
    g_assert_error(error, SCF_ERROR, SCF_ERROR_INVALID);
    g_clear_error(&error);

    g_assert_false(scf_safetensors_writer_add(wr, "bad\xff", SCF_DTYPE_F32, 1, (const int64_t[]){ 1 }, x, &error));
    g_assert_error(error, SCF_ERROR, SCF_ERROR_INVALID);
    g_clear_error(&error);

    /* Failed adds leave nothing behind. */
    g_assert_true(scf_safetensors_writer_save(wr, path, &error));
    g_assert_no_error(error);
    scf_safetensors *st = scf_safetensors_open(path, &error);
    g_assert_no_error(error);
    g_assert_cmpint(scf_safetensors_count(st), ==, 1);
    scf_safetensors_close(st);

    scf_safetensors_writer_set_metadata(wr, "key", "bad\xff");
    g_assert_false(scf_safetensors_writer_save(wr, path, &error));
    g_assert_error(error, SCF_ERROR, SCF_ERROR_INVALID);
    assert_names(error, path, NULL, "UTF-8");
    g_clear_error(&error);

    scf_safetensors_writer_free(wr);
    g_free(path);
    chk_tmpdir_free(dir);
}

static scf_safetensors_writer *writer_of(const char *name, size_t n)
{
    float *x = f32_ramp(n, 1.0f);
    scf_safetensors_writer *wr = scf_safetensors_writer_new();
    g_assert_true(scf_safetensors_writer_add(wr, name, SCF_DTYPE_F32, 1, (const int64_t[]){ (int64_t)n }, x, NULL));
    g_free(x);
    return wr;
}

static void test_save_errors_leave_nothing(void)
{
    char *dir = chk_tmpdir("safetensors");
    scf_safetensors_writer *wr = writer_of("a", 16);
    GError *error = NULL;

    /* A folder that does not exist. */
    char *path = g_build_filename(dir, "missing", "x.safetensors", NULL);
    g_assert_false(scf_safetensors_writer_save(wr, path, &error));
    g_assert_error(error, SCF_ERROR, SCF_ERROR_IO);
    g_assert_true(message_has(error, path));
    g_assert_true(message_has(error, g_strerror(ENOENT)));
    g_clear_error(&error);
    char *listing = dir_listing(dir);
    g_assert_cmpstr(listing, ==, "");
    g_free(listing);
    g_free(path);

    /* A folder in the way of the final rename: the temp file goes. */
    path = g_build_filename(dir, "taken", NULL);
    g_assert_cmpint(mkdir(path, 0755), ==, 0);
    g_assert_false(scf_safetensors_writer_save(wr, path, &error));
    g_assert_error(error, SCF_ERROR, SCF_ERROR_IO);
    g_assert_true(message_has(error, path));
    g_assert_true(message_has(error, g_strerror(EISDIR)));
    g_clear_error(&error);
    listing = dir_listing(dir);
    g_assert_cmpstr(listing, ==, "taken");
    g_free(listing);
    g_free(path);

    scf_safetensors_writer_free(wr);
    chk_tmpdir_free(dir);
}

static void test_save_replaces_wholly(void)
{
    char *dir = chk_tmpdir("safetensors");
    char *path = g_build_filename(dir, "ckpt.safetensors", NULL);
    GError *error = NULL;
    scf_safetensors_writer *big = writer_of("old", 4096), *small = writer_of("new", 3);
    g_assert_true(scf_safetensors_writer_save(big, path, &error));
    g_assert_true(scf_safetensors_writer_save(small, path, &error));
    g_assert_no_error(error);

    scf_safetensors *st = scf_safetensors_open(path, &error);
    g_assert_no_error(error);    /* no leftover bytes of the bigger file */
    g_assert_cmpint(scf_safetensors_count(st), ==, 1);
    g_assert_nonnull(scf_safetensors_find(st, "new"));
    scf_safetensors_close(st);
    char *listing = dir_listing(dir);
    g_assert_cmpstr(listing, ==, "ckpt.safetensors");
    g_free(listing);

    scf_safetensors_writer_free(big);
    scf_safetensors_writer_free(small);
    g_free(path);
    chk_tmpdir_free(dir);
}

/* A save that fails half way (here: the file size limit makes write return
 * EFBIG after a short write, as a full disk would with ENOSPC) removes its
 * temp file and leaves the previous checkpoint exactly as it was. The limit
 * is set in a forked child so that it does not touch the test process. */
static void test_failed_save_keeps_old_file(void)
{
    char *dir = chk_tmpdir("safetensors");
    char *path = g_build_filename(dir, "ckpt.safetensors", NULL);
    scf_safetensors_writer *small = writer_of("old", 8), *big = writer_of("new", 16384);
    g_assert_true(scf_safetensors_writer_save(small, path, NULL));
    char *before;
    gsize before_len;
    g_assert_true(g_file_get_contents(path, &before, &before_len, NULL));

    pid_t pid = fork();
    g_assert_cmpint(pid, >=, 0);
    if (pid == 0) {
        struct rlimit lim = { 4096, 4096 };
        signal(SIGXFSZ, SIG_IGN);
        if (setrlimit(RLIMIT_FSIZE, &lim) != 0)
            _exit(10);
        GError *error = NULL;
        if (scf_safetensors_writer_save(big, path, &error))
            _exit(11);
        g_printerr("child: %s\n", error->message);
        gboolean clear = error->code == SCF_ERROR_IO && strstr(error->message, path) &&
                         strstr(error->message, g_strerror(EFBIG));
        _exit(clear ? 0 : 12);
    }
    int status;
    g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 0);

    char *after;
    gsize after_len;
    g_assert_true(g_file_get_contents(path, &after, &after_len, NULL));
    g_assert_cmpmem(after, after_len, before, before_len);
    char *listing = dir_listing(dir);
    g_assert_cmpstr(listing, ==, "ckpt.safetensors");
    g_free(listing);

    g_free(before);
    g_free(after);
    scf_safetensors_writer_free(small);
    scf_safetensors_writer_free(big);
    g_free(path);
    chk_tmpdir_free(dir);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/safetensors/round-trip", test_round_trip);
    g_test_add_func("/safetensors/scalar-and-empty", test_scalar_and_empty);
    g_test_add_func("/safetensors/python-reference", test_python_reference);
    g_test_add_func("/safetensors/expect-errors", test_expect_errors);
    for (size_t i = 0; i < G_N_ELEMENTS(bad_cases); i++) {
        char *name = g_strconcat("/safetensors/malformed/", bad_cases[i].id, NULL);
        g_test_add_data_func(name, &bad_cases[i], test_malformed);
        g_free(name);
    }
    g_test_add_func("/safetensors/unreadable", test_unreadable);
    g_test_add_func("/safetensors/fuzz", test_fuzz);
    g_test_add_func("/safetensors/writer-errors", test_writer_errors);
    g_test_add_func("/safetensors/save-errors-leave-nothing", test_save_errors_leave_nothing);
    g_test_add_func("/safetensors/save-replaces-wholly", test_save_replaces_wholly);
    g_test_add_func("/safetensors/failed-save-keeps-old-file", test_failed_save_keeps_old_file);
    return g_test_run();
}
