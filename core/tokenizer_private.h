/* What the two tokenizer kinds share: the object they extend, the text
 * normalisation and character classes, and JSON file reading. Not installed. */
#pragma once
#include <json-glib/json-glib.h>
#include "tokenizer.h"

typedef struct {
    /* Writes the ids of text (valid UTF-8; no BOS/EOS) to out and returns how
     * many, at most cap: encoding stops once the context is full. */
    int (*tokenize)(const scf_tokenizer *tok, const char *text, int32_t *out, int cap);
    /* The text of ids that are all in range and not BOS/EOS/pad. */
    char *(*decode)(const scf_tokenizer *tok, const int32_t *ids, int n);
    void (*destroy)(scf_tokenizer *tok);
} scf_tokenizer_class;

/* The first member of each kind's struct. */
struct scf_tokenizer {
    const scf_tokenizer_class *klass;
    scf_tokenizer_kind kind;
    int vocab_size;
    int32_t bos, eos, pad;
};

scf_tokenizer *scf_tokenizer_clip_load(const char *dir, GError **error);
scf_tokenizer *scf_tokenizer_word_load(const char *path, GError **error);

/* Unicode White_Space, the \s of the tokenizers' regexes. */
gboolean scf_tok_is_space(gunichar c);
/* \p{L} and \p{N}. */
gboolean scf_tok_is_letter(gunichar c);
gboolean scf_tok_is_number(gunichar c);
gboolean scf_tok_is_mark(gunichar c);

/* NFC of s[0..len), then (when lowercase) each character replaced by its full
 * lowercase mapping, one character at a time as tokenizers' Lowercase does
 * (no final-sigma rule). s must be valid UTF-8. g_free the result. */
char *scf_tok_normalize(const char *s, gssize len, gboolean lowercase);

/* Parses a JSON file; errors name the file (and line:column for syntax).
 * json_node_unref the result. */
JsonNode *scf_tok_read_json(const char *path, GError **error);
