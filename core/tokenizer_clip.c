/* CLIP byte-level BPE with the ids of transformers' CLIPTokenizer (see
 * tokenizer.h for the text pipeline). Words are merged on token ids: a word's
 * UTF-8 bytes start as the ids of their byte characters (the last one with
 * "</w>"), and the lowest-ranked adjacent pair is merged first, leftmost on
 * ties, as the tokenizers library does. Results are cached per word. */
#include <string.h>
#include "tokenizer_private.h"
#include "error.h"

#define END_OF_WORD "</w>"
#define N_BYTE_CHARS 324  /* bytes_to_unicode maps bytes to U+0021..U+0143 */
#define CACHE_MAX_WORDS 16384
#define MAX_SPECIALS 4

typedef struct {
    uint64_t pair;  /* left id << 32 | right id */
    int32_t rank;   /* -1: empty slot */
    int32_t id;     /* the merged token */
} merge_slot;

typedef struct {
    scf_tokenizer base;
    char **tokens;  /* id -> token in byte characters, for decode */
    merge_slot *merges;
    uint64_t merge_mask;
    int32_t byte_id[256], byte_end_id[256];
    int16_t char_byte[N_BYTE_CHARS];  /* inverse of bytes_to_unicode; -1 if none */
    /* Cut out of the raw text before anything else, longest first. */
    char *special_text[MAX_SPECIALS];
    int32_t special_id[MAX_SPECIALS];
    int n_specials;
    GMutex cache_lock;
    GHashTable *cache;  /* word bytes -> int32 array: count, ids... */
} clip_tokenizer;

/* GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves, the
 * others take U+0100 onwards in byte order, so no token holds a space or a
 * control character. */
static void byte_chars(gunichar out[256])
{
    int n = 0;
    for (int b = 0; b < 256; b++) {
        gboolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
        out[b] = printable ? (gunichar)b : (gunichar)(256 + n++);
    }
}

static uint64_t pair_key(int32_t a, int32_t b)
{
    return (uint64_t)(uint32_t)a << 32 | (uint32_t)b;
}

static merge_slot *merge_slot_for(const clip_tokenizer *t, uint64_t key)
{
    uint64_t i = (key * 0x9E3779B97F4A7C15ull) >> 20 & t->merge_mask;
    while (t->merges[i].rank >= 0 && t->merges[i].pair != key)
        i = (i + 1) & t->merge_mask;
    return &t->merges[i];
}

/* ---- loading ---- */

static int32_t vocab_lookup(GHashTable *vocab, const char *token)
{
    return GPOINTER_TO_INT(g_hash_table_lookup(vocab, token)) - 1;
}

typedef struct {
    clip_tokenizer *t;
    GHashTable *vocab;
    const char *path;
    GError *error;
} vocab_reader;

static void add_vocab_entry(JsonObject *obj, const char *token, JsonNode *v, gpointer data)
{
    vocab_reader *r = data;
    int n = r->t->base.vocab_size;
    if (r->error)
        return;
    gint64 id = JSON_NODE_HOLDS_VALUE(v) && json_node_get_value_type(v) == G_TYPE_INT64
                    ? json_node_get_int(v) : -1;
    if (id < 0 || id >= n) {
        g_set_error(&r->error, SCF_ERROR, SCF_ERROR_FORMAT, "%s: token \"%s\" has no id in [0, %d)",
                    r->path, token, n);
    } else if (r->t->tokens[id]) {
        g_set_error(&r->error, SCF_ERROR, SCF_ERROR_FORMAT,
                    "%s: tokens \"%s\" and \"%s\" have the same id %d", r->path,
                    r->t->tokens[id], token, (int)id);
    } else {
        r->t->tokens[id] = g_strdup(token);
        g_hash_table_insert(r->vocab, r->t->tokens[id], GINT_TO_POINTER((int)id + 1));
    }
}

/* vocab.json: {"token": id, ...} with ids 0..n-1 each used once. Fills
 * t->tokens and returns token -> id+1 (strings borrowed from t->tokens). */
static GHashTable *read_vocab(clip_tokenizer *t, const char *path, GError **error)
{
    JsonNode *root = scf_tok_read_json(path, error);
    if (!root)
        return NULL;
    JsonObject *obj = JSON_NODE_HOLDS_OBJECT(root) ? json_node_get_object(root) : NULL;
    vocab_reader r = { t, NULL, path, NULL };
    if (!obj || json_object_get_size(obj) == 0) {
        g_set_error(&r.error, SCF_ERROR, SCF_ERROR_FORMAT,
                    "%s: expected a non-empty object of token -> id", path);
    } else {
        t->base.vocab_size = (int)json_object_get_size(obj);
        t->tokens = g_new0(char *, t->base.vocab_size + 1);
        r.vocab = g_hash_table_new(g_str_hash, g_str_equal);
        json_object_foreach_member(obj, add_vocab_entry, &r);
    }
    json_node_unref(root);
    if (r.error) {
        g_propagate_error(error, r.error);
        if (r.vocab)
            g_hash_table_destroy(r.vocab);
        return NULL;
    }
    return r.vocab;
}

/* The 512 tokens every word starts from. */
static gboolean find_byte_tokens(clip_tokenizer *t, GHashTable *vocab, const char *path,
                                 GError **error)
{
    gunichar chars[256];
    byte_chars(chars);
    memset(t->char_byte, 0xff, sizeof t->char_byte);
    for (int b = 0; b < 256; b++) {
        char token[16];
        int len = g_unichar_to_utf8(chars[b], token);
        token[len] = '\0';
        t->char_byte[chars[b]] = (int16_t)b;
        t->byte_id[b] = vocab_lookup(vocab, token);
        strcpy(token + len, END_OF_WORD);
        t->byte_end_id[b] = vocab_lookup(vocab, token);
        if (t->byte_id[b] < 0 || t->byte_end_id[b] < 0) {
            if (t->byte_id[b] < 0)
                token[len] = '\0';
            g_set_error(error, SCF_ERROR, SCF_ERROR_FORMAT,
                        "%s: byte token \"%s\" is missing (not a byte-level BPE vocabulary)",
                        path, token);
            return FALSE;
        }
    }
    return TRUE;
}

/* One merge line "left right": the rank is its order in the file. */
static gboolean add_merge(clip_tokenizer *t, GHashTable *vocab, const char *path, int line_no,
                          char *line, int rank, GError **error)
{
    char *space = strchr(line, ' ');
    if (!space || space == line || !space[1] || strchr(space + 1, ' ')) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_FORMAT,
                    "%s:%d: malformed merge \"%.60s\" (expected two tokens and one space)", path,
                    line_no, line);
        return FALSE;
    }
    *space = '\0';
    const char *right = space + 1;
    int32_t a = vocab_lookup(vocab, line), b = vocab_lookup(vocab, right);
    char *merged = g_strconcat(line, right, NULL);
    int32_t id = vocab_lookup(vocab, merged);
    const char *missing = a < 0 ? line : b < 0 ? right : id < 0 ? merged : NULL;
    if (missing)
        g_set_error(error, SCF_ERROR, SCF_ERROR_FORMAT,
                    "%s:%d: token \"%s\" is not in vocab.json", path, line_no, missing);
    g_free(merged);
    if (missing)
        return FALSE;
    /* A repeated pair keeps its later rank, as transformers does. */
    merge_slot *slot = merge_slot_for(t, pair_key(a, b));
    *slot = (merge_slot){ pair_key(a, b), rank, id };
    return TRUE;
}

static gboolean read_merges(clip_tokenizer *t, GHashTable *vocab, const char *path,
                            GError **error)
{
    char *text = NULL;
    GError *local = NULL;
    if (!g_file_get_contents(path, &text, NULL, &local)) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_IO, "cannot read %s: %s", path, local->message);
        g_error_free(local);
        return FALSE;
    }
    g_strchomp(text); /* trailing newlines end the list; an empty line inside is an error */
    char **lines = g_strsplit(text, "\n", -1);
    g_free(text);
    int n_lines = (int)g_strv_length(lines);
    uint64_t cap = 1024;
    while (cap < 2 * (uint64_t)n_lines)
        cap *= 2;
    t->merges = g_new(merge_slot, cap);
    for (uint64_t i = 0; i < cap; i++)
        t->merges[i].rank = -1;
    t->merge_mask = cap - 1;
    gboolean ok = TRUE;
    int first = n_lines > 0 && g_str_has_prefix(lines[0], "#version") ? 1 : 0;
    for (int i = first; ok && i < n_lines; i++) {
        size_t len = strlen(lines[i]);
        if (len && lines[i][len - 1] == '\r')
            lines[i][len - 1] = '\0';
        ok = add_merge(t, vocab, path, i + 1, lines[i], i - first, error);
    }
    g_strfreev(lines);
    return ok;
}

/* bos/eos/unk/pad as transformers reads them: special_tokens_map.json wins
 * over tokenizer_config.json; a value is a string or {"content": string}. */
static gboolean special_token(JsonNode *const configs[2], char *const paths[2], const char *key,
                              const char *fallback, const char **out, GError **error)
{
    *out = fallback;
    for (int i = 0; i < 2; i++) {
        if (!configs[i] || !JSON_NODE_HOLDS_OBJECT(configs[i]))
            continue;
        JsonObject *obj = json_node_get_object(configs[i]);
        JsonNode *v = json_object_get_member(obj, key);
        if (!v || JSON_NODE_HOLDS_NULL(v))
            continue;
        if (JSON_NODE_HOLDS_OBJECT(v))
            v = json_object_get_member(json_node_get_object(v), "content");
        if (!v || !JSON_NODE_HOLDS_VALUE(v) || json_node_get_value_type(v) != G_TYPE_STRING ||
            !*json_node_get_string(v)) {
            g_set_error(error, SCF_ERROR, SCF_ERROR_FORMAT,
                        "%s: %s is neither a token nor {\"content\": token}", paths[i], key);
            return FALSE;
        }
        *out = json_node_get_string(v);
        return TRUE;
    }
    return TRUE;
}

static gboolean read_special_tokens(clip_tokenizer *t, GHashTable *vocab, const char *dir,
                                    const char *vocab_path, GError **error)
{
    static const char *const names[] = { "special_tokens_map.json", "tokenizer_config.json" };
    static const char *const keys[MAX_SPECIALS] = { "bos_token", "eos_token", "unk_token",
                                                    "pad_token" };
    static const char *const fallbacks[MAX_SPECIALS] = { "<|startoftext|>", "<|endoftext|>",
                                                         "<|endoftext|>", "<|endoftext|>" };
    JsonNode *configs[2] = { NULL, NULL };
    char *paths[2];
    gboolean ok = TRUE;
    for (int i = 0; i < 2; i++) {
        paths[i] = g_build_filename(dir, names[i], NULL);
        if (ok && g_file_test(paths[i], G_FILE_TEST_EXISTS))
            ok = (configs[i] = scf_tok_read_json(paths[i], error)) != NULL;
    }
    int32_t ids[MAX_SPECIALS];
    for (int k = 0; ok && k < MAX_SPECIALS; k++) {
        const char *token;
        ok = special_token(configs, paths, keys[k], fallbacks[k], &token, error);
        if (ok && (ids[k] = vocab_lookup(vocab, token)) < 0) {
            g_set_error(error, SCF_ERROR, SCF_ERROR_FORMAT, "%s: %s \"%s\" is not in the vocabulary",
                        vocab_path, keys[k], token);
            ok = FALSE;
        }
        if (!ok)
            break;
        gboolean seen = FALSE;
        for (int j = 0; j < t->n_specials; j++)
            seen |= t->special_id[j] == ids[k];
        if (!seen) {
            t->special_text[t->n_specials] = g_strdup(token);
            t->special_id[t->n_specials++] = ids[k];
        }
    }
    if (ok) {
        t->base.bos = ids[0];
        t->base.eos = ids[1];
        t->base.pad = ids[3];
    }
    for (int i = 0; i < 2; i++) {
        if (configs[i])
            json_node_unref(configs[i]);
        g_free(paths[i]);
    }
    /* Longest first, so the longest of several matches at one place wins. */
    for (int i = 1; i < t->n_specials; i++)
        for (int j = i; j > 0 && strlen(t->special_text[j]) > strlen(t->special_text[j - 1]); j--) {
            char *s = t->special_text[j];
            int32_t id = t->special_id[j];
            t->special_text[j] = t->special_text[j - 1];
            t->special_id[j] = t->special_id[j - 1];
            t->special_text[j - 1] = s;
            t->special_id[j - 1] = id;
        }
    return ok;
}

/* ---- encoding ---- */

typedef struct {
    int32_t rank, pos, left, right, id;
} merge_cand;

static gboolean cand_before(const merge_cand *x, const merge_cand *y)
{
    return x->rank != y->rank ? x->rank < y->rank : x->pos < y->pos;
}

static void heap_push(merge_cand *heap, int *n, merge_cand c)
{
    int i = (*n)++;
    while (i > 0 && cand_before(&c, &heap[(i - 1) / 2])) {
        heap[i] = heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    heap[i] = c;
}

static merge_cand heap_pop(merge_cand *heap, int *n)
{
    merge_cand top = heap[0], last = heap[--*n];
    int i = 0;
    for (;;) {
        int child = 2 * i + 1;
        if (child >= *n)
            break;
        if (child + 1 < *n && cand_before(&heap[child + 1], &heap[child]))
            child++;
        if (!cand_before(&heap[child], &last))
            break;
        heap[i] = heap[child];
        i = child;
    }
    heap[i] = last;
    return top;
}

static void push_pair(const clip_tokenizer *t, merge_cand *heap, int *n, const int32_t *sym,
                      int pos, int next)
{
    const merge_slot *m = merge_slot_for(t, pair_key(sym[pos], sym[next]));
    if (m->rank >= 0)
        heap_push(heap, n, (merge_cand){ m->rank, pos, sym[pos], sym[next], m->id });
}

/* The ids of one word as {count, ids...}. */
static int32_t *bpe_word(const clip_tokenizer *t, const unsigned char *word, int len)
{
    int32_t *sym = g_new(int32_t, 3 * (size_t)len);  /* id, or -1 once merged away */
    int32_t *prev = sym + len, *next = sym + 2 * len;
    merge_cand *heap = g_new(merge_cand, 3 * (size_t)len);
    int n_heap = 0;
    for (int i = 0; i < len; i++) {
        sym[i] = i == len - 1 ? t->byte_end_id[word[i]] : t->byte_id[word[i]];
        prev[i] = i - 1;
        next[i] = i + 1 < len ? i + 1 : -1;
    }
    for (int i = 0; i + 1 < len; i++)
        push_pair(t, heap, &n_heap, sym, i, i + 1);
    while (n_heap > 0) {
        merge_cand c = heap_pop(heap, &n_heap);
        int right = next[c.pos];
        /* Skip candidates whose symbols have changed since they were queued. */
        if (sym[c.pos] != c.left || right < 0 || sym[right] != c.right)
            continue;
        sym[c.pos] = c.id;
        sym[right] = -1;
        next[c.pos] = next[right];
        if (next[right] >= 0)
            prev[next[right]] = c.pos;
        if (prev[c.pos] >= 0)
            push_pair(t, heap, &n_heap, sym, prev[c.pos], c.pos);
        if (next[c.pos] >= 0)
            push_pair(t, heap, &n_heap, sym, c.pos, next[c.pos]);
    }
    int32_t *out = g_new(int32_t, len + 1);
    int n = 0;
    for (int i = 0; i >= 0; i = next[i])
        out[++n] = sym[i];
    out[0] = n;
    g_free(heap);
    g_free(sym);
    return out;
}

static int copy_ids(const int32_t *ids, int32_t *out, int n, int cap)
{
    for (int i = 0; i < ids[0] && n < cap; i++)
        out[n++] = ids[i + 1];
    return n;
}

/* Appends the ids of one word to out[n..cap) and returns the new count. */
static int append_word(const clip_tokenizer *t, const char *word, size_t len, int32_t *out,
                       int n, int cap)
{
    if (len == 0)
        return n;
    clip_tokenizer *mut = (clip_tokenizer *)t;  /* the cache is its only mutable state */
    char *key = g_strndup(word, len);
    g_mutex_lock(&mut->cache_lock);
    const int32_t *cached = g_hash_table_lookup(t->cache, key);
    if (cached)
        n = copy_ids(cached, out, n, cap);
    g_mutex_unlock(&mut->cache_lock);
    if (cached) {
        g_free(key);
        return n;
    }
    int32_t *ids = bpe_word(t, (const unsigned char *)word, (int)len);
    n = copy_ids(ids, out, n, cap);
    g_mutex_lock(&mut->cache_lock);
    if (g_hash_table_size(t->cache) >= CACHE_MAX_WORDS)
        g_hash_table_remove_all(t->cache);
    g_hash_table_replace(t->cache, key, ids);
    g_mutex_unlock(&mut->cache_lock);
    return n;
}

/* The regex's own special-token alternatives: they only match text that
 * became "<|startoftext|>" by lowercasing (the exact strings were cut out
 * before), and the byte-level pre-tokenizer then splits such a match into
 * "<|", the name and "|>". */
static int append_special_lookalike(const clip_tokenizer *t, const char *p, size_t *len,
                                    int32_t *out, int n, int cap)
{
    static const char *const lookalikes[] = { "<|startoftext|>", "<|endoftext|>" };
    *len = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(lookalikes); i++) {
        size_t l = strlen(lookalikes[i]);
        if (strncmp(p, lookalikes[i], l) == 0) {
            n = append_word(t, p, 2, out, n, cap);
            n = append_word(t, p + 2, l - 4, out, n, cap);
            *len = l;
            return append_word(t, p + l - 2, 2, out, n, cap);
        }
    }
    return n;
}

static size_t contraction_len(const char *p)
{
    static const char *const contractions[] = { "'s", "'t", "'re", "'ve", "'m", "'ll", "'d" };
    for (size_t i = 0; i < G_N_ELEMENTS(contractions); i++)
        if (g_str_has_prefix(p, contractions[i]))
            return strlen(contractions[i]);
    return 0;
}

/* Splits normalised text as the regex of tokenizer.h does, leftmost match
 * first, and appends the ids of each word. */
static int tokenize_normalized(const clip_tokenizer *t, const char *s, int32_t *out, int n,
                               int cap)
{
    const char *p = s;
    while (*p && n < cap) {
        gunichar c = g_utf8_get_char(p);
        const char *q = g_utf8_next_char(p);
        size_t len;
        if (scf_tok_is_space(c)) {
            p = q;
            continue;
        }
        n = append_special_lookalike(t, p, &len, out, n, cap);
        if (len) {
            p += len;
            continue;
        }
        if ((len = contraction_len(p))) {
            q = p + len;
        } else if (scf_tok_is_letter(c)) {
            while (*q && scf_tok_is_letter(g_utf8_get_char(q)))
                q = g_utf8_next_char(q);
        } else if (!scf_tok_is_number(c)) { /* a number is one character */
            while (*q) {
                gunichar d = g_utf8_get_char(q);
                if (scf_tok_is_space(d) || scf_tok_is_letter(d) || scf_tok_is_number(d))
                    break;
                q = g_utf8_next_char(q);
            }
        }
        n = append_word(t, p, (size_t)(q - p), out, n, cap);
        p = q;
    }
    return n;
}

/* The first special token in p (longest on a tie); NULL when none. */
static const char *next_special(const clip_tokenizer *t, const char *p, int *which)
{
    const char *best = NULL;
    for (int i = 0; i < t->n_specials; i++) {
        const char *hit = strstr(p, t->special_text[i]);
        if (hit && (!best || hit < best)) {
            best = hit;
            *which = i;
        }
    }
    return best;
}

static int clip_tokenize(const scf_tokenizer *base, const char *text, int32_t *out, int cap)
{
    const clip_tokenizer *t = (const clip_tokenizer *)base;
    int n = 0;
    for (const char *p = text; *p && n < cap;) {
        int which = 0;
        const char *hit = next_special(t, p, &which);
        const char *end = hit ? hit : p + strlen(p);
        if (end > p) {
            char *norm = scf_tok_normalize(p, end - p, TRUE);
            n = tokenize_normalized(t, norm, out, n, cap);
            g_free(norm);
        }
        if (!hit)
            break;
        if (n < cap)
            out[n++] = t->special_id[which];
        p = hit + strlen(t->special_text[which]);
    }
    return n;
}

/* As transformers: the tokens' bytes as UTF-8 (invalid sequences replaced),
 * "</w>" read as a space, stripped. */
static char *clip_decode(const scf_tokenizer *base, const int32_t *ids, int n)
{
    const clip_tokenizer *t = (const clip_tokenizer *)base;
    GString *bytes = g_string_new(NULL);
    for (int i = 0; i < n; i++)
        for (const char *p = t->tokens[ids[i]]; *p; p = g_utf8_next_char(p)) {
            gunichar c = g_utf8_get_char(p);
            if (c < N_BYTE_CHARS && t->char_byte[c] >= 0)
                g_string_append_c(bytes, (char)t->char_byte[c]);
            else
                g_string_append_unichar(bytes, c);
        }
    char *text = g_utf8_make_valid(bytes->str, (gssize)bytes->len);
    g_string_free(bytes, TRUE);
    GString *out = g_string_new(NULL);
    for (const char *p = text; *p;) {
        if (g_str_has_prefix(p, END_OF_WORD)) {
            g_string_append_c(out, ' ');
            p += strlen(END_OF_WORD);
        } else {
            g_string_append_c(out, *p++);
        }
    }
    g_free(text);
    g_strstrip(out->str);
    return g_string_free(out, FALSE);
}

static void clip_destroy(scf_tokenizer *base)
{
    clip_tokenizer *t = (clip_tokenizer *)base;
    if (t->tokens)
        for (int i = 0; i < base->vocab_size; i++)
            g_free(t->tokens[i]);
    g_free(t->tokens);
    g_free(t->merges);
    for (int i = 0; i < t->n_specials; i++)
        g_free(t->special_text[i]);
    g_hash_table_destroy(t->cache);
    g_mutex_clear(&t->cache_lock);
    g_free(t);
}

static const scf_tokenizer_class clip_class = { clip_tokenize, clip_decode, clip_destroy };

scf_tokenizer *scf_tokenizer_clip_load(const char *dir, GError **error)
{
    clip_tokenizer *t = g_new0(clip_tokenizer, 1);
    t->base.klass = &clip_class;
    t->base.kind = SCF_TOKENIZER_CLIP;
    g_mutex_init(&t->cache_lock);
    t->cache = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    char *vocab_path = g_build_filename(dir, "vocab.json", NULL);
    char *merges_path = g_build_filename(dir, "merges.txt", NULL);
    GHashTable *vocab = read_vocab(t, vocab_path, error);
    gboolean ok = vocab && find_byte_tokens(t, vocab, vocab_path, error) &&
                  read_merges(t, vocab, merges_path, error) &&
                  read_special_tokens(t, vocab, dir, vocab_path, error);
    if (vocab)
        g_hash_table_destroy(vocab);
    g_free(vocab_path);
    g_free(merges_path);
    if (!ok) {
        clip_destroy(&t->base);
        return NULL;
    }
    return &t->base;
}
