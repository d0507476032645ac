/* The tokenizer API over both kinds: finding the files of a model folder,
 * BOS/EOS/truncation/padding, decoding, and the text helpers both use. */
#include <string.h>
#include "tokenizer_private.h"
#include "error.h"

gboolean scf_tok_is_space(gunichar c)
{
    /* White_Space, not g_unichar_isspace: that one misses U+0085 and U+000B,
     * which the tokenizers' \s (Oniguruma, Unicode) includes. */
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
           c == 0x205F || c == 0x3000;
}

gboolean scf_tok_is_letter(gunichar c)
{
    switch (g_unichar_type(c)) {
    case G_UNICODE_UPPERCASE_LETTER:
    case G_UNICODE_LOWERCASE_LETTER:
    case G_UNICODE_TITLECASE_LETTER:
    case G_UNICODE_MODIFIER_LETTER:
    case G_UNICODE_OTHER_LETTER:
        return TRUE;
    default:
        return FALSE;
    }
}

gboolean scf_tok_is_number(gunichar c)
{
    GUnicodeType t = g_unichar_type(c);
    return t == G_UNICODE_DECIMAL_NUMBER || t == G_UNICODE_LETTER_NUMBER ||
           t == G_UNICODE_OTHER_NUMBER;
}

gboolean scf_tok_is_mark(gunichar c)
{
    GUnicodeType t = g_unichar_type(c);
    return t == G_UNICODE_NON_SPACING_MARK || t == G_UNICODE_SPACING_MARK ||
           t == G_UNICODE_ENCLOSING_MARK;
}

/* Full lowercase mapping of one character. g_unichar_tolower only maps
 * letters (Lu, Lt) and gives simple mappings; Unicode also lowercases the
 * Roman numerals (Nl) and circled letters (So), and U+0130 has a two
 * character mapping. */
static void append_lower(GString *out, gunichar c)
{
    if (c == 0x130) {
        g_string_append(out, "i\xCC\x87"); /* i + U+0307 COMBINING DOT ABOVE */
        return;
    }
    if (c >= 0x2160 && c <= 0x216F)
        c += 0x10;
    else if (c >= 0x24B6 && c <= 0x24CF)
        c += 0x1A;
    else
        c = g_unichar_tolower(c);
    g_string_append_unichar(out, c);
}

char *scf_tok_normalize(const char *s, gssize len, gboolean lowercase)
{
    char *nfc = g_utf8_normalize(s, len, G_NORMALIZE_NFC);
    if (!nfc) /* only for invalid UTF-8, which callers have replaced */
        return g_strdup("");
    if (!lowercase)
        return nfc;
    GString *out = g_string_sized_new(strlen(nfc) + 8);
    for (const char *p = nfc; *p; p = g_utf8_next_char(p))
        append_lower(out, g_utf8_get_char(p));
    g_free(nfc);
    return g_string_free(out, FALSE);
}

JsonNode *scf_tok_read_json(const char *path, GError **error)
{
    char *text = NULL;
    gsize len = 0;
    GError *local = NULL;
    if (!g_file_get_contents(path, &text, &len, &local)) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_IO, "cannot read %s: %s", path, local->message);
        g_error_free(local);
        return NULL;
    }
    JsonParser *parser = json_parser_new_immutable();
    JsonNode *root = NULL;
    if (!json_parser_load_from_data(parser, text, (gssize)len, &local)) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_FORMAT, "%s: not valid JSON: %s", path,
                    local->message);
        g_error_free(local);
    } else {
        root = json_node_ref(json_parser_get_root(parser));
    }
    g_object_unref(parser);
    g_free(text);
    return root;
}

static gboolean file_exists(const char *dir, const char *name)
{
    char *path = g_build_filename(dir, name, NULL);
    gboolean found = g_file_test(path, G_FILE_TEST_IS_REGULAR);
    g_free(path);
    return found;
}

scf_tokenizer *scf_tokenizer_load(const char *model_dir, GError **error)
{
    /* A model folder of ours holds the files; a diffusers pipeline keeps
     * them in tokenizer/. */
    const char *subdirs[] = { "", "tokenizer" };
    for (size_t i = 0; i < G_N_ELEMENTS(subdirs); i++) {
        char *dir = g_build_filename(model_dir, subdirs[i], NULL);
        scf_tokenizer *tok = NULL;
        gboolean found = TRUE;
        if (file_exists(dir, SCF_WORD_VOCAB_FILE)) {
            char *path = g_build_filename(dir, SCF_WORD_VOCAB_FILE, NULL);
            tok = scf_tokenizer_word_load(path, error);
            g_free(path);
        } else if (file_exists(dir, "vocab.json") || file_exists(dir, "merges.txt")) {
            tok = scf_tokenizer_clip_load(dir, error);
        } else {
            found = FALSE;
        }
        g_free(dir);
        if (found)
            return tok;
    }
    g_set_error(error, SCF_ERROR, SCF_ERROR_IO,
                "%s: no tokenizer (looked for %s, or vocab.json and merges.txt, there and in "
                "tokenizer/)", model_dir, SCF_WORD_VOCAB_FILE);
    return NULL;
}

void scf_tokenizer_free(scf_tokenizer *tok)
{
    if (tok)
        tok->klass->destroy(tok);
}

scf_tokenizer_kind scf_tokenizer_get_kind(const scf_tokenizer *tok)
{
    return tok->kind;
}

int scf_tokenizer_vocab_size(const scf_tokenizer *tok)
{
    return tok->vocab_size;
}

int32_t scf_tokenizer_bos_id(const scf_tokenizer *tok)
{
    return tok->bos;
}

int32_t scf_tokenizer_eos_id(const scf_tokenizer *tok)
{
    return tok->eos;
}

int32_t scf_tokenizer_pad_id(const scf_tokenizer *tok)
{
    return tok->pad;
}

gboolean scf_tokenizer_encode(const scf_tokenizer *tok, const char *text, int32_t *ids,
                              int max_len, int *n_real, GError **error)
{
    if (max_len < 2) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_INVALID,
                    "context length %d cannot hold the begin and end tokens", max_len);
        return FALSE;
    }
    if (!text) {
        g_set_error_literal(error, SCF_ERROR, SCF_ERROR_INVALID, "no text to tokenize");
        return FALSE;
    }
    char *valid = g_utf8_make_valid(text, -1);
    int n = tok->klass->tokenize(tok, valid, ids + 1, max_len - 2);
    g_free(valid);
    ids[0] = tok->bos;
    ids[n + 1] = tok->eos;
    for (int i = n + 2; i < max_len; i++)
        ids[i] = tok->pad;
    if (n_real)
        *n_real = n + 2;
    return TRUE;
}

char *scf_tokenizer_decode(const scf_tokenizer *tok, const int32_t *ids, int n, GError **error)
{
    int32_t *kept = g_new(int32_t, MAX(n, 1));
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= tok->vocab_size) {
            g_set_error(error, SCF_ERROR, SCF_ERROR_INVALID,
                        "token id %d at position %d is outside the vocabulary of %d tokens",
                        (int)ids[i], i, tok->vocab_size);
            g_free(kept);
            return NULL;
        }
        if (ids[i] != tok->bos && ids[i] != tok->eos && ids[i] != tok->pad)
            kept[m++] = ids[i];
    }
    char *text = tok->klass->decode(tok, kept, m);
    g_free(kept);
    return text;
}
