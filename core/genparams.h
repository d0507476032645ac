/* The settings of one generation, as stored in a PNG and restored from one.
 *
 * Two text forms:
 *  - the A1111 "infotext" that other tools show and paste
 *    (PROMPT\nNegative prompt: NEG\nSteps: 4, Sampler: Euler, CFG scale: 1, Seed: 7,
 *     Size: 32x32, Model hash: 0123abcd, Model: emoji, Version: scflow 0.1.0),
 *    parsed exactly as stable-diffusion-webui's parse_generation_parameters does;
 *  - a JSON object with the exact values (lossless, authoritative when present).
 * Keys this version does not know are kept in order in `extra`, so reading
 * and writing again loses nothing. Strings are UTF-8 and never NULL after
 * scf_gen_params_init. */
#pragma once
#include <stdint.h>
#include <glib.h>

G_BEGIN_DECLS

typedef struct {
    char *prompt;
    char *negative_prompt;
    int steps;
    char *sampler;          /* "Euler" */
    double guidance;        /* classifier-free guidance scale; 1 = no CFG */
    guint64 seed;
    int width, height;      /* 0 = the model's native size */
    char *model_name;
    char *model_hash;       /* short hex */
    char *version;          /* "scflow X.Y.Z" */
    int batch_index;        /* position of the image in its batch */
    char *device;           /* "cpu", "cuda:0" … */
    GPtrArray *extra;       /* unknown keys: key, value, key, value … (owned strings) */
} scf_gen_params;

/* Defaults: empty prompts, 1 step, "Euler", guidance 1, seed 0, size 0x0,
 * batch index 0, this library's version. */
void scf_gen_params_init(scf_gen_params *p);
/* Frees everything; p can be initialised again. */
void scf_gen_params_clear(scf_gen_params *p);
void scf_gen_params_copy(scf_gen_params *dst, const scf_gen_params *src);

/* Every string is UTF-8 and guidance is finite; the error names the field.
 * The text forms below assume a checked p. */
gboolean scf_gen_params_check(const scf_gen_params *p, GError **error);

/* NULL when absent. */
const char *scf_gen_params_get_extra(const scf_gen_params *p, const char *key);
/* Replaces an existing value in place, else appends. */
void scf_gen_params_set_extra(scf_gen_params *p, const char *key, const char *value);

/* The A1111 infotext, formatted as stable-diffusion-webui's create_infotext:
 * values containing ',', ':' or a newline are JSON-quoted; the negative
 * prompt line is left out when empty; extra keys follow Version. */
char *scf_gen_params_to_infotext(const scf_gen_params *p);
/* Resets p to defaults, then fills it from an infotext: the last line holds
 * the "Key: value" pairs (when it has at least three), the lines before
 * "Negative prompt:" are the prompt. Missing keys keep their defaults; unknown
 * keys and known keys whose value does not parse go to extra. Fails only on
 * text that is not UTF-8. */
gboolean scf_gen_params_from_infotext(scf_gen_params *p, const char *text, GError **error);

/* A JSON object with every field, extras as string members. Seeds above 2^53
 * are written as decimal strings, since JSON readers that use doubles would
 * round them. */
char *scf_gen_params_to_json(const scf_gen_params *p);
/* Resets p to defaults, then fills it from JSON; a member of the wrong type
 * or out of range is an error naming the key. Unknown members go to extra
 * (non-string values as their JSON text). */
gboolean scf_gen_params_from_json(scf_gen_params *p, const char *json, GError **error);

G_END_DECLS
