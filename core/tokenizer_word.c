/* Word-level tokenizer of the small models trained here: a fixed list of
 * words from the training captions (format and splitting in tokenizer.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "tokenizer_private.h"
#include "error.h"
#include "config.h"

#define WORD_VOCAB_VERSION 1

enum { WORD_PAD, WORD_BOS, WORD_EOS, WORD_UNK, WORD_N_SPECIAL };
static const char *const word_specials[WORD_N_SPECIAL] = { "<pad>", "<bos>", "<eos>", "<unk>" };

typedef struct {
    scf_tokenizer base;
    gboolean lowercase;
    char **tokens;       /* id order, NULL-terminated */
    GHashTable *index;   /* token -> id + 1; keys borrowed from tokens */
} word_tokenizer;

static gboolean is_word_char(gunichar c)
{
    return scf_tok_is_letter(c) || scf_tok_is_mark(c) || scf_tok_is_number(c);
}

/* The next token of normalised text from p: returns its start and sets *end,
 * or NULL at the end of the text. */
static const char *next_word(const char *p, const char **end)
{
    while (*p && scf_tok_is_space(g_utf8_get_char(p)))
        p = g_utf8_next_char(p);
    if (!*p)
        return NULL;
    const char *q = g_utf8_next_char(p);
    if (is_word_char(g_utf8_get_char(p)))
        while (*q && is_word_char(g_utf8_get_char(q)))
            q = g_utf8_next_char(q);
    *end = q;
    return p;
}

static int word_tokenize(const scf_tokenizer *base, const char *text, int32_t *out, int cap)
{
    const word_tokenizer *t = (const word_tokenizer *)base;
    char *norm = scf_tok_normalize(text, -1, t->lowercase);
    GString *word = g_string_new(NULL);
    int n = 0;
    const char *end;
    for (const char *p = next_word(norm, &end); p && n < cap; p = next_word(end, &end)) {
        g_string_truncate(word, 0);
        g_string_append_len(word, p, end - p);
        int id = GPOINTER_TO_INT(g_hash_table_lookup(t->index, word->str)) - 1;
        out[n++] = id >= 0 ? id : WORD_UNK;
    }
    g_string_free(word, TRUE);
    g_free(norm);
    return n;
}

static char *word_decode(const scf_tokenizer *base, const int32_t *ids, int n)
{
    const word_tokenizer *t = (const word_tokenizer *)base;
    GString *out = g_string_new(NULL);
    for (int i = 0; i < n; i++) {
        if (i)
            g_string_append_c(out, ' ');
        g_string_append(out, t->tokens[ids[i]]);
    }
    return g_string_free(out, FALSE);
}

static void word_destroy(scf_tokenizer *base)
{
    word_tokenizer *t = (word_tokenizer *)base;
    g_hash_table_destroy(t->index);
    g_strfreev(t->tokens);
    g_free(t);
}

static const scf_tokenizer_class word_class = { word_tokenize, word_decode, word_destroy };

/* Takes tokens (specials first, no duplicates). */
static word_tokenizer *word_new(char **tokens, gboolean lowercase)
{
    word_tokenizer *t = g_new0(word_tokenizer, 1);
    t->base.klass = &word_class;
    t->base.kind = SCF_TOKENIZER_WORD;
    t->base.vocab_size = (int)g_strv_length(tokens);
    t->base.pad = WORD_PAD;
    t->base.bos = WORD_BOS;
    t->base.eos = WORD_EOS;
    t->lowercase = lowercase;
    t->tokens = tokens;
    t->index = g_hash_table_new(g_str_hash, g_str_equal);
    for (int i = 0; tokens[i]; i++)
        g_hash_table_insert(t->index, tokens[i], GINT_TO_POINTER(i + 1));
    return t;
}

/* A vocabulary word must be something the splitter can produce, or it could
 * never be matched. */
static gboolean is_one_word(const char *token, gboolean lowercase)
{
    char *norm = scf_tok_normalize(token, -1, lowercase);
    const char *end = NULL;
    const char *start = next_word(norm, &end);
    gboolean ok = strcmp(norm, token) == 0 && start == norm && *end == '\0';
    g_free(norm);
    return ok;
}

static const char *check_token(JsonArray *arr, int i, gboolean lowercase, GHashTable *seen)
{
    JsonNode *node = json_array_get_element(arr, (guint)i);
    if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_STRING)
        return "is not a string";
    const char *token = json_node_get_string(node);
    if (i < WORD_N_SPECIAL)
        return strcmp(token, word_specials[i]) ? "must be <pad>, <bos>, <eos>, <unk> in this order"
                                               : NULL;
    if (!is_one_word(token, lowercase))
        return "is not one normalised word";
    if (!g_hash_table_add(seen, (gpointer)token))
        return "appears twice";
    return NULL;
}

scf_tokenizer *scf_tokenizer_word_load(const char *path, GError **error)
{
    JsonNode *root = scf_tok_read_json(path, error);
    if (!root)
        return NULL;
    JsonObject *obj = JSON_NODE_HOLDS_OBJECT(root) ? json_node_get_object(root) : NULL;
    JsonNode *version = obj ? json_object_get_member(obj, "version") : NULL;
    JsonNode *lower = obj ? json_object_get_member(obj, "lowercase") : NULL;
    JsonNode *tokens = obj ? json_object_get_member(obj, "tokens") : NULL;
    if (!version || !lower || !tokens || !JSON_NODE_HOLDS_VALUE(version) ||
        json_node_get_value_type(version) != G_TYPE_INT64 || !JSON_NODE_HOLDS_VALUE(lower) ||
        json_node_get_value_type(lower) != G_TYPE_BOOLEAN || !JSON_NODE_HOLDS_ARRAY(tokens)) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_FORMAT,
                    "%s: expected {\"version\": %d, \"lowercase\": true|false, \"tokens\": [...]}",
                    path, WORD_VOCAB_VERSION);
        json_node_unref(root);
        return NULL;
    }
    if (json_node_get_int(version) != WORD_VOCAB_VERSION) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_UNSUPPORTED, "%s: version %" G_GINT64_FORMAT
                    " (this program reads version %d)", path, json_node_get_int(version),
                    WORD_VOCAB_VERSION);
        json_node_unref(root);
        return NULL;
    }
    gboolean lowercase = json_node_get_boolean(lower);
    JsonArray *arr = json_node_get_array(tokens);
    int n = (int)json_array_get_length(arr);
    GHashTable *seen = g_hash_table_new(g_str_hash, g_str_equal);
    const char *problem = NULL;
    int bad = 0;
    for (; !problem && bad < n; bad++)
        problem = check_token(arr, bad, lowercase, seen);
    g_hash_table_destroy(seen);
    word_tokenizer *t = NULL;
    if (problem) {
        JsonNode *node = json_array_get_element(arr, (guint)--bad);
        const char *text = JSON_NODE_HOLDS_VALUE(node) &&
                           json_node_get_value_type(node) == G_TYPE_STRING
                               ? json_node_get_string(node) : "";
        g_set_error(error, SCF_ERROR, SCF_ERROR_FORMAT, "%s: token %d \"%s\" %s", path, bad,
                    text, problem);
    } else if (n < WORD_N_SPECIAL) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_FORMAT,
                    "%s: %d tokens; the list starts with <pad>, <bos>, <eos>, <unk>", path, n);
    } else {
        char **list = g_new0(char *, n + 1);
        for (int i = 0; i < n; i++)
            list[i] = g_strdup(json_array_get_string_element(arr, (guint)i));
        t = word_new(list, lowercase);
    }
    json_node_unref(root);
    return t ? &t->base : NULL;
}

typedef struct {
    const char *word;
    int count;
} word_count;

static int by_count_then_bytes(const void *a, const void *b)
{
    const word_count *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return strcmp(x->word, y->word);
}

scf_tokenizer *scf_tokenizer_build_word(const char *const *captions, int n_captions,
                                        gboolean lowercase, int min_count, GError **error)
{
    if (n_captions < 0 || (n_captions > 0 && !captions) || min_count < 1) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_INVALID,
                    "word vocabulary: %d captions with min_count %d", n_captions, min_count);
        return NULL;
    }
    GHashTable *counts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (int i = 0; i < n_captions; i++) {
        char *valid = g_utf8_make_valid(captions[i] ? captions[i] : "", -1);
        char *norm = scf_tok_normalize(valid, -1, lowercase);
        const char *end;
        for (const char *p = next_word(norm, &end); p; p = next_word(end, &end)) {
            char *word = g_strndup(p, end - p);
            int count = GPOINTER_TO_INT(g_hash_table_lookup(counts, word));
            g_hash_table_replace(counts, word, GINT_TO_POINTER(count + 1));
        }
        g_free(norm);
        g_free(valid);
    }
    word_count *words = g_new(word_count, g_hash_table_size(counts) + 1);
    int n = 0;
    GHashTableIter it;
    gpointer key, value;
    g_hash_table_iter_init(&it, counts);
    while (g_hash_table_iter_next(&it, &key, &value))
        if (GPOINTER_TO_INT(value) >= min_count)
            words[n++] = (word_count){ key, GPOINTER_TO_INT(value) };
    qsort(words, (size_t)n, sizeof *words, by_count_then_bytes);
    char **list = g_new0(char *, WORD_N_SPECIAL + n + 1);
    for (int i = 0; i < WORD_N_SPECIAL; i++)
        list[i] = g_strdup(word_specials[i]);
    for (int i = 0; i < n; i++)
        list[WORD_N_SPECIAL + i] = g_strdup(words[i].word);
    g_free(words);
    g_hash_table_destroy(counts);
    return &word_new(list, lowercase)->base;
}

gboolean scf_tokenizer_save(const scf_tokenizer *tok, const char *model_dir, GError **error)
{
    if (tok->kind != SCF_TOKENIZER_WORD) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_UNSUPPORTED,
                    "%s: only word vocabularies are saved; copy a CLIP tokenizer's files",
                    model_dir);
        return FALSE;
    }
    const word_tokenizer *t = (const word_tokenizer *)tok;
    JsonBuilder *b = json_builder_new();
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "version");
    json_builder_add_int_value(b, WORD_VOCAB_VERSION);
    json_builder_set_member_name(b, "lowercase");
    json_builder_add_boolean_value(b, t->lowercase);
    json_builder_set_member_name(b, "tokens");
    json_builder_begin_array(b);
    for (int i = 0; t->tokens[i]; i++)
        json_builder_add_string_value(b, t->tokens[i]);
    json_builder_end_array(b);
    json_builder_end_object(b);
    JsonNode *root = json_builder_get_root(b);
    gsize len = 0;
    char *text = scf_json_to_string(root, TRUE, &len);
    char *path = g_build_filename(model_dir, SCF_WORD_VOCAB_FILE, NULL);
    GError *local = NULL;
    gboolean ok = g_mkdir_with_parents(model_dir, 0755) == 0 &&
                  g_file_set_contents(path, text, (gssize)len, &local);
    if (!ok)
        g_set_error(error, SCF_ERROR, SCF_ERROR_IO, "cannot write %s: %s", path,
                    local ? local->message : g_strerror(errno));
    g_clear_error(&local);
    g_free(path);
    g_free(text);
    json_node_unref(root);
    g_object_unref(b);
    return ok;
}
