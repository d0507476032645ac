/* The held-out split of the emoji dataset, for testing compositional
 * generalisation: combinations of a base emoji and a skin-tone or hair
 * modifier that training never shows together, although it shows the base
 * and the modifier with other partners. Captions are what the model sees,
 * so bases and modifiers are read from the captions. */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

/* Fewest other bases a held-out modifier must keep in training. */
#define SCF_EMOJI_SPLIT_MIN_PARTNERS 2

/* Modifiers, as bits in this order. */
#define SCF_EMOJI_N_TONES 5
#define SCF_EMOJI_N_MODIFIERS 9
extern const char *const scf_emoji_modifier_names[SCF_EMOJI_N_MODIFIERS];

#define SCF_EMOJI_SPLIT_RULE \
    "A caption is 'name: attribute, attribute, ...'. Its modifiers are the attributes " \
    "light skin tone, medium-light skin tone, medium skin tone, medium-dark skin tone, " \
    "dark skin tone (the tones, in this order) and red hair, curly hair, bald, white hair " \
    "(the hair styles); its base is the caption without them ('man: medium skin tone, " \
    "beard' has base 'man: beard'). Skin tones: the k-th base, in emoji-test.txt order, " \
    "that is in the set by itself and with each tone alone holds out tone k mod 5. Hair: " \
    "the k-th base in the set by itself and with each hair style alone (person, man, " \
    "woman) holds out hair style k mod 4. Held out: every emoji whose base holds out one " \
    "of its modifiers, so training never shows that base with that modifier; a pair is " \
    "only held out when its modifier stays in training with at least 2 other bases. " \
    "Bases themselves always train."

/* The base of a caption (a new string) and its modifiers as bits. */
char *scf_emoji_split_base(const char *caption, unsigned *modifiers);

/* Marks held[i] for the n captions (in emoji-test.txt order) and returns
 * how many are held out. */
int scf_emoji_split(const char *const *captions, int n, gboolean *held);

G_END_DECLS
