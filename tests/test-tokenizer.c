/* Tokenizers: CLIP BPE against transformers' CLIPTokenizer on the fixture
 * strings of tools/tokenizer_fixtures.py, the word-level vocabulary (build,
 * save/load, unknown words, truncation, determinism) and the load errors. */
#include <string.h>
#include <time.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include "tokenizer.h"
#include "error.h"
#include "check.h"

#define CLIP_LEN 77
#define CLIP_BOS 49406
#define CLIP_EOS 49407

static char *clip_fixture(const char *name)
{
    return g_build_filename(g_getenv("SCF_FIXTURES"), "clip-tokenizer", name, NULL);
}

static scf_tokenizer *clip_load(void)
{
    char *dir = clip_fixture(NULL);
    GError *error = NULL;
    scf_tokenizer *tok = scf_tokenizer_load(dir, &error);
    g_assert_no_error(error);
    g_free(dir);
    return tok;
}

/* ---- temporary model folders ---- */

static void copy_fixture(const char *dir, const char *name)
{
    char *src = clip_fixture(name), *text = NULL;
    gsize len = 0;
    g_assert_true(g_file_get_contents(src, &text, &len, NULL));
    char *dst = g_build_filename(dir, name, NULL);
    g_assert_true(g_file_set_contents(dst, text, (gssize)len, NULL));
    g_free(dst);
    g_free(text);
    g_free(src);
}

/* A folder holding sub/ (created) and the fixture vocab.json and merges.txt
 * where copy says so. */
static char *temp_model(const char *sub, gboolean copy_vocab, gboolean copy_merges)
{
    char *root = g_dir_make_tmp("scf-tok-XXXXXX", NULL);
    g_assert_nonnull(root);
    char *dir = g_build_filename(root, sub, NULL);
    g_assert_cmpint(g_mkdir_with_parents(dir, 0755), ==, 0);
    if (copy_vocab)
        copy_fixture(dir, "vocab.json");
    if (copy_merges)
        copy_fixture(dir, "merges.txt");
    g_free(dir);
    return root;
}

/* Loading root fails with code and a message holding each of the parts. */
static void expect_load_error(const char *root, int code, const char *part1, const char *part2)
{
    GError *error = NULL;
    scf_tokenizer *tok = scf_tokenizer_load(root, &error);
    g_assert_null(tok);
    g_assert_error(error, SCF_ERROR, code);
    g_test_message("%s", error->message);
    if (!strstr(error->message, part1) || (part2 && !strstr(error->message, part2)))
        g_error("error \"%s\" should name \"%s\" and \"%s\"", error->message, part1,
                part2 ? part2 : "");
    g_error_free(error);
}

/* ---- CLIP ---- */

static void check_encoding(const scf_tokenizer *tok, const char *text, const int32_t *want,
                           int n_want, int max_len)
{
    int32_t ids[CLIP_LEN];
    int n = -1;
    GError *error = NULL;
    g_assert_true(scf_tokenizer_encode(tok, text, ids, max_len, &n, &error));
    g_assert_no_error(error);
    g_assert_cmpint(n, ==, n_want);
    for (int i = 0; i < max_len; i++)
        g_assert_cmpint(ids[i], ==, i < n_want ? want[i] : scf_tokenizer_pad_id(tok));
}

static void test_clip_known_ids(void)
{
    scf_tokenizer *tok = clip_load();
    g_assert_cmpint(scf_tokenizer_get_kind(tok), ==, SCF_TOKENIZER_CLIP);
    g_assert_cmpint(scf_tokenizer_vocab_size(tok), ==, 49408);
    g_assert_cmpint(scf_tokenizer_bos_id(tok), ==, CLIP_BOS);
    g_assert_cmpint(scf_tokenizer_eos_id(tok), ==, CLIP_EOS);
    g_assert_cmpint(scf_tokenizer_pad_id(tok), ==, CLIP_EOS);
    const int32_t cat[] = { CLIP_BOS, 320, 1125, 539, 320, 2368, CLIP_EOS };
    check_encoding(tok, "a photo of a cat", cat, 7, CLIP_LEN);
    check_encoding(tok, "  A PHOTO\tof a\u3000Cat ", cat, 7, CLIP_LEN);
    scf_tokenizer_free(tok);
}

/* Every case of a fixture file; returns how many matched. */
static int run_cases(const scf_tokenizer *tok, const char *file, int *total)
{
    char *path = clip_fixture(file);
    GError *error = NULL;
    JsonParser *parser = json_parser_new();
    g_assert_true(json_parser_load_from_file(parser, path, &error));
    g_assert_no_error(error);
    JsonObject *root = json_node_get_object(json_parser_get_root(parser));
    int max_len = (int)json_object_get_int_member(root, "max_length");
    int32_t pad = (int32_t)json_object_get_int_member(root, "pad_id");
    g_assert_cmpint(max_len, ==, CLIP_LEN);
    g_assert_cmpint(pad, ==, scf_tokenizer_pad_id(tok));
    JsonArray *cases = json_object_get_array_member(root, "cases");
    int n_cases = (int)json_array_get_length(cases), passed = 0;
    for (int c = 0; c < n_cases; c++) {
        JsonObject *cs = json_array_get_object_element(cases, (guint)c);
        const char *text = json_object_get_string_member(cs, "text");
        JsonArray *want = json_object_get_array_member(cs, "ids");
        int n_want = (int)json_array_get_length(want), n = -1;
        int32_t ids[CLIP_LEN];
        g_assert_true(scf_tokenizer_encode(tok, text, ids, max_len, &n, NULL));
        gboolean same = n == n_want;
        for (int i = 0; same && i < max_len; i++)
            same = ids[i] == (i < n_want ? json_array_get_int_element(want, (guint)i) : pad);
        if (same) {
            passed++;
        } else if (c + 1 - passed <= 10) {
            GString *got = g_string_new(NULL);
            for (int i = 0; i < n; i++)
                g_string_append_printf(got, " %d", ids[i]);
            g_test_message("case %d \"%s\": got%s, expected %d ids", c, text, got->str, n_want);
            g_string_free(got, TRUE);
        }
    }
    g_object_unref(parser);
    g_free(path);
    *total = n_cases;
    return passed;
}

static void test_clip_parity(void)
{
    scf_tokenizer *tok = clip_load();
    int total = 0, passed = run_cases(tok, "cases.json", &total);
    g_test_message("CLIP parity: %d of %d fixture strings identical to transformers", passed,
                   total);
    g_assert_cmpint(total, >=, 1000);
    g_assert_cmpint(passed, ==, total);
    scf_tokenizer_free(tok);
}

/* The diffusers layout (files in tokenizer/) and the pad token of the
 * configuration files: stable-diffusion-2 pads with "!", a special token. */
static void test_clip_pad_from_config(void)
{
    char *root = temp_model("tokenizer", TRUE, TRUE);
    char *dir = g_build_filename(root, "tokenizer", NULL);
    chk_write_file(dir, "special_tokens_map.json", "{\"pad_token\": \"!\"}", -1);
    chk_write_file(dir, "tokenizer_config.json", "{\"pad_token\": \"<|endoftext|>\"}", -1);
    GError *error = NULL;
    scf_tokenizer *tok = scf_tokenizer_load(root, &error);
    g_assert_no_error(error);
    g_assert_cmpint(scf_tokenizer_pad_id(tok), ==, 0); /* the map wins over the config */
    int total = 0, passed = run_cases(tok, "cases-pad-bang.json", &total);
    g_assert_cmpint(passed, ==, total);
    scf_tokenizer_free(tok);

    char *map = g_build_filename(dir, "special_tokens_map.json", NULL);
    g_remove(map);
    g_free(map);
    chk_write_file(dir, "tokenizer_config.json",
                   "{\"pad_token\": {\"__type\": \"AddedToken\", \"content\": \"!\"}}", -1);
    tok = scf_tokenizer_load(dir, &error);
    g_assert_no_error(error);
    g_assert_cmpint(scf_tokenizer_pad_id(tok), ==, 0);
    scf_tokenizer_free(tok);
    g_free(dir);
    chk_tmpdir_free(root);
}

static void test_clip_truncation(void)
{
    scf_tokenizer *tok = clip_load();
    GString *text = g_string_new(NULL);
    for (int i = 0; i < 40; i++)
        g_string_append(text, "a red cat, ");
    int32_t full[CLIP_LEN], small[10];
    int n = 0;
    g_assert_true(scf_tokenizer_encode(tok, text->str, full, CLIP_LEN, &n, NULL));
    g_assert_cmpint(n, ==, CLIP_LEN);
    g_assert_cmpint(full[0], ==, CLIP_BOS);
    g_assert_cmpint(full[CLIP_LEN - 1], ==, CLIP_EOS);
    g_assert_true(scf_tokenizer_encode(tok, text->str, small, 10, &n, NULL));
    g_assert_cmpint(n, ==, 10);
    g_assert_cmpmem(small, 9 * sizeof(int32_t), full, 9 * sizeof(int32_t));
    g_assert_cmpint(small[9], ==, CLIP_EOS);
    g_assert_true(scf_tokenizer_encode(tok, text->str, small, 2, &n, NULL));
    g_assert_cmpint(n, ==, 2);
    g_assert_cmpint(small[0], ==, CLIP_BOS);
    g_assert_cmpint(small[1], ==, CLIP_EOS);
    GError *error = NULL;
    g_assert_false(scf_tokenizer_encode(tok, "a", small, 1, &n, &error));
    g_assert_error(error, SCF_ERROR, SCF_ERROR_INVALID);
    g_clear_error(&error);
    g_string_free(text, TRUE);
    scf_tokenizer_free(tok);
}

static void check_decode(const scf_tokenizer *tok, const char *text, const char *want)
{
    int32_t ids[CLIP_LEN];
    int n = 0;
    g_assert_true(scf_tokenizer_encode(tok, text, ids, CLIP_LEN, &n, NULL));
    char *got = scf_tokenizer_decode(tok, ids, CLIP_LEN, NULL);
    g_assert_cmpstr(got, ==, want);
    g_free(got);
}

static void test_clip_decode_and_invalid_utf8(void)
{
    scf_tokenizer *tok = clip_load();
    /* transformers' decode(skip_special_tokens=True) of the same ids */
    check_decode(tok, "A Photo of a CAT!!", "a photo of a cat !!");
    check_decode(tok, "café 👍🏽 it's", "café 👍🏽 it 's");
    const int32_t replaced[] = { CLIP_BOS, 39802, 320, 1125, CLIP_EOS };
    check_encoding(tok, "\xff a photo", replaced, 5, CLIP_LEN); /* read as U+FFFD */
    const int32_t bad[] = { 320, 49408 };
    GError *error = NULL;
    g_assert_null(scf_tokenizer_decode(tok, bad, 2, &error));
    g_assert_error(error, SCF_ERROR, SCF_ERROR_INVALID);
    g_assert_nonnull(strstr(error->message, "49408"));
    g_error_free(error);
    scf_tokenizer_free(tok);
}

#define THREAD_PROMPTS 3000

typedef struct {
    const scf_tokenizer *tok;
    int offset;
    int32_t (*ids)[CLIP_LEN];
} thread_job;

/* A distinct letters-only word per number (digits would be split off). */
static void letters(int w, char out[8])
{
    for (int i = 0; i < 7; i++, w /= 26)
        out[i] = (char)('a' + w % 26);
    out[7] = '\0';
}

static gpointer encode_many(gpointer data)
{
    thread_job *job = data;
    for (int i = 0; i < THREAD_PROMPTS; i++) {
        char w[3][8];
        for (int k = 0; k < 3; k++)
            letters(job->offset + 3 * i + k, w[k]);
        char *text = g_strdup_printf("a photo of %s %s, %s", w[0], w[1], w[2]);
        g_assert_true(scf_tokenizer_encode(job->tok, text, job->ids[i], CLIP_LEN, NULL, NULL));
        g_free(text);
    }
    return NULL;
}

/* The word cache is shared and emptied when it reaches its size limit: two
 * threads filling it at once (18,000 new words, more than the limit) must get
 * what one thread alone gets. */
static void test_clip_threads(void)
{
    scf_tokenizer *tok = clip_load(), *fresh = clip_load();
    thread_job jobs[4];
    for (int j = 0; j < 4; j++)
        jobs[j] = (thread_job){ j < 2 ? tok : fresh, (j % 2) * 3 * THREAD_PROMPTS,
                                g_malloc(THREAD_PROMPTS * sizeof(int32_t[CLIP_LEN])) };
    GThread *a = g_thread_new("enc-a", encode_many, &jobs[0]);
    GThread *b = g_thread_new("enc-b", encode_many, &jobs[1]);
    g_thread_join(a);
    g_thread_join(b);
    encode_many(&jobs[2]);
    encode_many(&jobs[3]);
    for (int j = 0; j < 2; j++)
        g_assert_cmpmem(jobs[j].ids, THREAD_PROMPTS * sizeof *jobs[j].ids, jobs[j + 2].ids,
                        THREAD_PROMPTS * sizeof *jobs[j].ids);
    for (int j = 0; j < 4; j++)
        g_free(jobs[j].ids);
    scf_tokenizer_free(fresh);
    scf_tokenizer_free(tok);
}

/* This thread's CPU time in ms: unlike wall time, not inflated when a busy
 * machine preempts the test, so the budgets below judge the code alone. */
static double thread_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static void test_clip_speed(void)
{
    GTimer *timer = g_timer_new();
    scf_tokenizer *tok = clip_load();
    double load_ms = g_timer_elapsed(timer, NULL) * 1e3;
    const char *prompt =
        "a highly detailed digital painting of an ancient castle on a cliff at sunset, dramatic "
        "lighting, volumetric clouds, by greg rutkowski and alphonse mucha, artstation, concept "
        "art, smooth, sharp focus, illustration, 8k, octane render, unreal engine, photorealistic, "
        "masterpiece, best quality, ultra-detailed, cinematic composition, golden hour, bokeh, "
        "soft shadows, rich colors, intricate ornaments";
    int32_t ids[CLIP_LEN];
    int n = 0;
    double t0 = thread_ms();
    scf_tokenizer_encode(tok, prompt, ids, CLIP_LEN, &n, NULL);
    double cold_ms = thread_ms() - t0;
    const int reps = 2000;
    t0 = thread_ms();
    for (int i = 0; i < reps; i++)
        scf_tokenizer_encode(tok, prompt, ids, CLIP_LEN, &n, NULL);
    double warm_ms = (thread_ms() - t0) / reps;
    g_test_message("CLIP: load %.1f ms; encode of a %d-token prompt %.3f ms cold, %.4f ms cached",
                   load_ms, n, cold_ms, warm_ms);
    g_assert_cmpint(n, ==, CLIP_LEN);
    /* well under the 1 ms budget even on a slow machine; typical is 100x less */
    g_assert_cmpfloat(cold_ms, <, 5.0);
    g_assert_cmpfloat(warm_ms, <, 1.0);
    g_timer_destroy(timer);
    scf_tokenizer_free(tok);
}

/* A load error case: write file (none: leave the folder as it is), then
 * loading must fail with code and a message holding part1 and part2 (no
 * part1: the write is a step the next cases build on, with no load). */
typedef struct {
    const char *file, *text;
    int code;
    const char *part1, *part2;
} load_case;

/* The cases in order on one copy of the fixture, each edit on top of the
 * ones before. */
static void expect_load_errors(gboolean copy_vocab, gboolean copy_merges, const load_case *cases,
                               size_t n)
{
    char *root = temp_model(".", copy_vocab, copy_merges);
    for (size_t i = 0; i < n; i++) {
        if (cases[i].file)
            chk_write_file(root, cases[i].file, cases[i].text, -1);
        if (cases[i].part1)
            expect_load_error(root, cases[i].code, cases[i].part1, cases[i].part2);
    }
    chk_tmpdir_free(root);
}

static void test_clip_load_errors(void)
{
    expect_load_error("/nonexistent/model", SCF_ERROR_IO, "/nonexistent/model", "vocab.json");

    static const load_case vocab[] = {
        { NULL, NULL, SCF_ERROR_IO, "vocab.json", NULL },
        { "vocab.json", "{\"a\": 0, \"b\": ", SCF_ERROR_FORMAT, "vocab.json", "not valid JSON" },
        { "vocab.json", "{\"a\": 0, \"b\": \"1\"}", SCF_ERROR_FORMAT, "vocab.json", "\"b\"" },
        { "vocab.json", "{\"a\": 0, \"b\": 0}", SCF_ERROR_FORMAT, "vocab.json", "same id 0" },
        { "vocab.json", "{\"!\": 0, \"a\": 1}", SCF_ERROR_FORMAT, "vocab.json",
          "byte token \"\xc4\x80\" is missing" },
    };
    expect_load_errors(FALSE, TRUE, vocab, G_N_ELEMENTS(vocab));

    static const load_case merges[] = {
        { NULL, NULL, SCF_ERROR_IO, "merges.txt", NULL },
        { "merges.txt", "#version: 0.2\ni n\nt h\nth e r\n", SCF_ERROR_FORMAT, "merges.txt:4",
          "\"th e r\"" },
        { "merges.txt", "#version: 0.2\ni n\n\nt h\n", SCF_ERROR_FORMAT, "merges.txt:3",
          "malformed" },
        { "merges.txt", "i n\nt \xe2\x98\x83\n", SCF_ERROR_FORMAT, "merges.txt:2",
          "\"\xe2\x98\x83\"" },
        { "merges.txt", "#version: 0.2\nx</w> y</w>\n", SCF_ERROR_FORMAT, "merges.txt:2",
          "\"x</w>y</w>\"" },
        /* valid merges from here on: the special tokens are what fails */
        { "merges.txt", "#version: 0.2\ni n\n", 0, NULL, NULL },
        { "special_tokens_map.json", "{\"pad_token\": \"<nope>\"}", SCF_ERROR_FORMAT,
          "pad_token", "\"<nope>\"" },
        { "special_tokens_map.json", "{\"pad_token\": 7}", SCF_ERROR_FORMAT,
          "special_tokens_map.json", "pad_token" },
        { "special_tokens_map.json", "{\"pad_token\": ", SCF_ERROR_FORMAT,
          "special_tokens_map.json", "not valid JSON" },
    };
    expect_load_errors(TRUE, FALSE, merges, G_N_ELEMENTS(merges));
}

/* ---- word level ---- */

static const char *const captions[] = {
    "thumbs up: medium skin tone",
    "thumbs down: dark skin tone",
    "woman technologist: dark skin tone",
    "Thumbs up",
};

/* ids by count, then byte order: 3x ":" skin thumbs tone, 2x dark up, 1x the rest */
enum { W_PAD, W_BOS, W_EOS, W_UNK, W_COLON, W_SKIN, W_THUMBS, W_TONE, W_DARK, W_UP, W_DOWN,
       W_MEDIUM, W_TECHNOLOGIST, W_WOMAN, W_N };

static scf_tokenizer *word_build(const char *const *list, int n, gboolean lowercase, int min_count)
{
    GError *error = NULL;
    scf_tokenizer *tok = scf_tokenizer_build_word(list, n, lowercase, min_count, &error);
    g_assert_no_error(error);
    return tok;
}

static void check_word_encoding(const scf_tokenizer *tok, const char *text, int max_len,
                                const int32_t *want, int n_want)
{
    int32_t ids[32];
    int n = -1;
    g_assert_true(scf_tokenizer_encode(tok, text, ids, max_len, &n, NULL));
    g_assert_cmpint(n, ==, n_want);
    for (int i = 0; i < max_len; i++)
        g_assert_cmpint(ids[i], ==, i < n_want ? want[i] : W_PAD);
}

static void test_word_build_encode(void)
{
    scf_tokenizer *tok = word_build(captions, G_N_ELEMENTS(captions), TRUE, 1);
    g_assert_cmpint(scf_tokenizer_get_kind(tok), ==, SCF_TOKENIZER_WORD);
    g_assert_cmpint(scf_tokenizer_vocab_size(tok), ==, W_N);
    g_assert_cmpint(scf_tokenizer_pad_id(tok), ==, W_PAD);
    const int32_t thumbs[] = { W_BOS, W_THUMBS, W_UP, W_COLON, W_MEDIUM, W_SKIN, W_TONE, W_EOS };
    check_word_encoding(tok, "thumbs up: medium skin tone", 12, thumbs, 8);
    check_word_encoding(tok, "  THUMBS\tup :medium  skin\u00a0tone\n", 12, thumbs, 8);
    const int32_t unknown[] = { W_BOS, W_THUMBS, W_UNK, W_COLON, W_UNK, W_SKIN, W_TONE, W_EOS };
    check_word_encoding(tok, "Thumbs sideways: purple skin tone", 8, unknown, 8);
    char *text = scf_tokenizer_decode(tok, unknown, 8, NULL);
    g_assert_cmpstr(text, ==, "thumbs <unk> : <unk> skin tone");
    g_free(text);
    const int32_t cut[] = { W_BOS, W_THUMBS, W_UP, W_COLON, W_EOS };
    check_word_encoding(tok, "thumbs up: medium skin tone", 5, cut, 5);
    const int32_t empty[] = { W_BOS, W_EOS };
    check_word_encoding(tok, "", 4, empty, 2);
    check_word_encoding(tok, "thumbs up", 2, empty, 2);
    scf_tokenizer_free(tok);

    tok = word_build(captions, G_N_ELEMENTS(captions), TRUE, 2);
    g_assert_cmpint(scf_tokenizer_vocab_size(tok), ==, W_DOWN); /* only the words seen twice */
    scf_tokenizer_free(tok);

    tok = word_build(captions, G_N_ELEMENTS(captions), FALSE, 1);
    g_assert_cmpint(scf_tokenizer_vocab_size(tok), ==, W_N + 1); /* "Thumbs" is its own word */
    scf_tokenizer_free(tok);
}

/* Words are runs of letters, marks and digits, after NFC; other characters
 * are tokens of their own. */
static void test_word_splitting(void)
{
    const char *const list[] = { "flag: Côte d’Ivoire", "keycap: #", "1st place medal" };
    scf_tokenizer *tok = word_build(list, G_N_ELEMENTS(list), TRUE, 1);
    g_assert_cmpint(scf_tokenizer_vocab_size(tok), ==, 4 + 11);
    int32_t a[16], b[16];
    int na = 0, nb = 0;
    g_assert_true(scf_tokenizer_encode(tok, "flag: Côte d’Ivoire", a, 16, &na, NULL));
    g_assert_true(scf_tokenizer_encode(tok, "FLAG : Co\xcc\x82te d \xe2\x80\x99 ivoire", b, 16,
                                       &nb, NULL));
    g_assert_cmpint(na, ==, 2 + 6);
    g_assert_cmpmem(a, sizeof a, b, sizeof b);
    char *text = scf_tokenizer_decode(tok, a, na, NULL);
    g_assert_cmpstr(text, ==, "flag : côte d ’ ivoire");
    g_free(text);
    g_assert_true(scf_tokenizer_encode(tok, "keycap: #", a, 16, &na, NULL));
    g_assert_cmpint(na, ==, 2 + 3);
    for (int i = 1; i < na - 1; i++)
        g_assert_cmpint(a[i], !=, W_UNK);
    scf_tokenizer_free(tok);
}

static char *saved_vocab(const scf_tokenizer *tok, const char *dir)
{
    GError *error = NULL;
    g_assert_true(scf_tokenizer_save(tok, dir, &error));
    g_assert_no_error(error);
    char *path = g_build_filename(dir, SCF_WORD_VOCAB_FILE, NULL), *text = NULL;
    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    g_free(path);
    return text;
}

static void test_word_save_load(void)
{
    char *root = g_dir_make_tmp("scf-tok-XXXXXX", NULL);
    char *dir = g_build_filename(root, "model", NULL);
    scf_tokenizer *tok = word_build(captions, G_N_ELEMENTS(captions), TRUE, 1);
    char *first = saved_vocab(tok, dir);
    GError *error = NULL;
    scf_tokenizer *back = scf_tokenizer_load(dir, &error);
    g_assert_no_error(error);
    g_assert_cmpint(scf_tokenizer_get_kind(back), ==, SCF_TOKENIZER_WORD);
    g_assert_cmpint(scf_tokenizer_vocab_size(back), ==, W_N);
    for (size_t c = 0; c < G_N_ELEMENTS(captions); c++) {
        int32_t x[24], y[24];
        g_assert_true(scf_tokenizer_encode(tok, captions[c], x, 24, NULL, NULL));
        g_assert_true(scf_tokenizer_encode(back, captions[c], y, 24, NULL, NULL));
        g_assert_cmpmem(x, sizeof x, y, sizeof y);
    }
    char *again = saved_vocab(back, dir);
    g_assert_cmpstr(first, ==, again);

    /* Same captions in another order: the same file. */
    const char *const shuffled[] = { captions[3], captions[1], captions[0], captions[2] };
    scf_tokenizer *other = word_build(shuffled, G_N_ELEMENTS(shuffled), TRUE, 1);
    char *third = saved_vocab(other, dir);
    g_assert_cmpstr(first, ==, third);

    scf_tokenizer *clip = clip_load();
    g_assert_false(scf_tokenizer_save(clip, dir, &error));
    g_assert_error(error, SCF_ERROR, SCF_ERROR_UNSUPPORTED);
    g_clear_error(&error);
    scf_tokenizer_free(clip);
    g_free(first);
    g_free(again);
    g_free(third);
    scf_tokenizer_free(other);
    scf_tokenizer_free(back);
    scf_tokenizer_free(tok);
    g_free(dir);
    chk_tmpdir_free(root);
}

static void test_word_load_errors(void)
{
    char *root = g_dir_make_tmp("scf-tok-XXXXXX", NULL);
    const char *head = "{\"version\": 1, \"lowercase\": true, \"tokens\": "
                       "[\"<pad>\", \"<bos>\", \"<eos>\", \"<unk>\"";
    struct {
        const char *body;
        int code;
        const char *part;
    } cases[] = {
        { "{\"version\": 1, \"lowercase\": true, \"tokens\": [\"<pad>\"", SCF_ERROR_FORMAT,
          "not valid JSON" },
        { "{\"version\": 2, \"lowercase\": true, \"tokens\": []}", SCF_ERROR_UNSUPPORTED,
          "version 2" },
        { "{\"version\": 1, \"tokens\": []}", SCF_ERROR_FORMAT, "\"lowercase\"" },
        { "{\"version\": 1, \"lowercase\": true, \"tokens\": [\"<pad>\", \"<eos>\"]}",
          SCF_ERROR_FORMAT, "token 1 \"<eos>\" must be <pad>, <bos>, <eos>, <unk>" },
        { "{\"version\": 1, \"lowercase\": true, \"tokens\": [\"<pad>\", \"<bos>\"]}",
          SCF_ERROR_FORMAT, "2 tokens" },
        { NULL, SCF_ERROR_FORMAT, "token 5 \"cat\" appears twice" },
        { NULL, SCF_ERROR_FORMAT, "token 4 \"two words\" is not one normalised word" },
        { NULL, SCF_ERROR_FORMAT, "token 4 \"Cat\" is not one normalised word" },
        { NULL, SCF_ERROR_FORMAT, "token 4 \"\" is not one normalised word" },
        { NULL, SCF_ERROR_FORMAT, "token 5 \"\" is not a string" },
    };
    const char *tails[] = { ", \"cat\", \"cat\"]}", ", \"two words\"]}", ", \"Cat\"]}", ", \"\"]}",
                            ", \"cat\", 5]}" };
    for (size_t i = 0, t = 0; i < G_N_ELEMENTS(cases); i++) {
        char *body = cases[i].body ? g_strdup(cases[i].body) : g_strconcat(head, tails[t++], NULL);
        chk_write_file(root, SCF_WORD_VOCAB_FILE, body, -1);
        expect_load_error(root, cases[i].code, SCF_WORD_VOCAB_FILE, cases[i].part);
        g_free(body);
    }
    chk_tmpdir_free(root);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/tokenizer/clip/known-ids", test_clip_known_ids);
    g_test_add_func("/tokenizer/clip/parity", test_clip_parity);
    g_test_add_func("/tokenizer/clip/pad-from-config", test_clip_pad_from_config);
    g_test_add_func("/tokenizer/clip/truncation", test_clip_truncation);
    g_test_add_func("/tokenizer/clip/decode", test_clip_decode_and_invalid_utf8);
    g_test_add_func("/tokenizer/clip/threads", test_clip_threads);
    g_test_add_func("/tokenizer/clip/speed", test_clip_speed);
    g_test_add_func("/tokenizer/clip/load-errors", test_clip_load_errors);
    g_test_add_func("/tokenizer/word/build-encode", test_word_build_encode);
    g_test_add_func("/tokenizer/word/splitting", test_word_splitting);
    g_test_add_func("/tokenizer/word/save-load", test_word_save_load);
    g_test_add_func("/tokenizer/word/load-errors", test_word_load_errors);
    return g_test_run();
}
