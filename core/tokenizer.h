/* Text tokenizers: prompt -> int32 token ids for a text encoder. One API for
 * both kinds, chosen by the files of the model folder, so models and the app
 * never care which one they have.
 *
 * CLIP byte-level BPE (vocab.json + merges.txt, as in a diffusers pipeline's
 * tokenizer/ folder) gives the ids of transformers' CLIPTokenizer (tokenizers
 * backend): special tokens are cut out of the raw text first; each piece
 * between them is NFC-normalised and lowercased character by character (full
 * mappings: "İ" -> "i̇", "Ⅻ" -> "ⅻ", "Σ" -> "σ" everywhere); then split with
 *   <|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+
 * (\s = Unicode White_Space), each word mapped to bytes and merged by rank
 * with "</w>" on its last symbol. OpenAI's original cleanup (ftfy and HTML
 * unescaping) is not applied, as transformers no longer does.
 *
 * Word level (word_vocab.json) is for the small models trained here:
 *   {"version": 1, "lowercase": true,
 *    "tokens": ["<pad>", "<bos>", "<eos>", "<unk>", "word", ...]}
 * ids are indices into "tokens"; the first four are always those specials.
 * Text is NFC-normalised, lowercased when "lowercase" is true, and split into
 * words = maximal runs of letters, marks and digits; every other character
 * that is not white space is a token of its own, so "woman technologist: dark
 * skin tone" is 6 tokens with ":" one of them and "keycap: #" keeps its "#".
 * A word not in the vocabulary becomes <unk>.
 *
 * Encoding is [BOS] + tokens + [EOS], truncated to max_len keeping the EOS
 * last, then padded with the pad id. Invalid UTF-8 in a prompt is replaced
 * by U+FFFD first. A tokenizer may be used from several threads at once. */
#pragma once
#include <stdint.h>
#include <glib.h>

G_BEGIN_DECLS

typedef enum {
    SCF_TOKENIZER_CLIP, /* byte-level BPE: vocab.json + merges.txt */
    SCF_TOKENIZER_WORD, /* word_vocab.json */
} scf_tokenizer_kind;

typedef struct scf_tokenizer scf_tokenizer;

#define SCF_WORD_VOCAB_FILE "word_vocab.json"

/* Reads the tokenizer of a model folder: word_vocab.json, or vocab.json +
 * merges.txt, looked for in model_dir and then in model_dir/tokenizer.
 * For CLIP, special_tokens_map.json and then tokenizer_config.json name
 * bos/eos/unk/pad tokens when present (a string or {"content": ...}); the
 * defaults are <|startoftext|> and <|endoftext|> for the rest. Errors name
 * the file and the line or token at fault. */
scf_tokenizer *scf_tokenizer_load(const char *model_dir, GError **error);
void scf_tokenizer_free(scf_tokenizer *tok);

scf_tokenizer_kind scf_tokenizer_get_kind(const scf_tokenizer *tok);
int scf_tokenizer_vocab_size(const scf_tokenizer *tok);
int32_t scf_tokenizer_bos_id(const scf_tokenizer *tok);
int32_t scf_tokenizer_eos_id(const scf_tokenizer *tok);
int32_t scf_tokenizer_pad_id(const scf_tokenizer *tok);

/* Writes max_len ids and, when n_real is not NULL, the number of real tokens
 * including BOS and EOS (the attention length). max_len is the text
 * encoder's context length from the model config (77 for CLIP), at least 2. */
gboolean scf_tokenizer_encode(const scf_tokenizer *tok, const char *text, int32_t *ids,
                              int max_len, int *n_real, GError **error);

/* The text of ids[0..n), special tokens left out (words joined by one space);
 * an id outside the vocabulary is an error naming it. g_free the result. */
char *scf_tokenizer_decode(const scf_tokenizer *tok, const int32_t *ids, int n, GError **error);

/* A word vocabulary from training captions: the words seen at least
 * min_count times, ordered by count (most frequent first), then by byte
 * order, so the same captions always give the same ids. */
scf_tokenizer *scf_tokenizer_build_word(const char *const *captions, int n_captions,
                                        gboolean lowercase, int min_count, GError **error);

/* Writes model_dir/word_vocab.json atomically (word tokenizers only). */
gboolean scf_tokenizer_save(const scf_tokenizer *tok, const char *model_dir, GError **error);

G_END_DECLS
