#include "emoji-split.h"
#include <string.h>

const char *const scf_emoji_modifier_names[SCF_EMOJI_N_MODIFIERS] = {
    "light skin tone", "medium-light skin tone", "medium skin tone", "medium-dark skin tone",
    "dark skin tone", "red hair", "curly hair", "bald", "white hair",
};

#define TONE_BITS ((1u << SCF_EMOJI_N_TONES) - 1)
#define HAIR_BITS (((1u << SCF_EMOJI_N_MODIFIERS) - 1) & ~TONE_BITS)
#define N_HAIR (SCF_EMOJI_N_MODIFIERS - SCF_EMOJI_N_TONES)

static int modifier_bit(const char *attr)
{
    for (int m = 0; m < SCF_EMOJI_N_MODIFIERS; m++)
        if (strcmp(attr, scf_emoji_modifier_names[m]) == 0)
            return m;
    return -1;
}

char *scf_emoji_split_base(const char *caption, unsigned *modifiers)
{
    *modifiers = 0;
    const char *colon = strstr(caption, ": ");
    if (!colon)
        return g_strdup(caption);
    GString *base = g_string_new_len(caption, colon - caption);
    g_auto(GStrv) attrs = g_strsplit(colon + 2, ", ", -1);
    const char *sep = ": ";
    for (char **a = attrs; *a; a++) {
        int bit = modifier_bit(*a);
        if (bit >= 0) {
            *modifiers |= 1u << bit;
        } else {
            g_string_append_printf(base, "%s%s", sep, *a);
            sep = ", ";
        }
    }
    return g_string_free(base, FALSE);
}

/* Pairs (base, modifier) to hold out: the k-th eligible base of a kind
 * takes modifier k mod the count of that kind. */
static void choose_pairs(int n, const int *base_item, const unsigned *singles, unsigned *pairs)
{
    int k_tone = 0, k_hair = 0;
    for (int b = 0; b < n; b++) {
        if (base_item[b] != b)
            continue; /* b is not a base present in the set by itself */
        if ((singles[b] & TONE_BITS) == TONE_BITS)
            pairs[b] |= 1u << (k_tone++ % SCF_EMOJI_N_TONES);
        if ((singles[b] & HAIR_BITS) == HAIR_BITS)
            pairs[b] |= 1u << (SCF_EMOJI_N_TONES + k_hair++ % N_HAIR);
    }
}

static int mark_held(int n, const int *base_item, const unsigned *mods, const unsigned *pairs,
                     gboolean *held)
{
    int count = 0;
    for (int i = 0; i < n; i++) {
        held[i] = base_item[i] >= 0 && (mods[i] & pairs[base_item[i]]) != 0;
        count += held[i];
    }
    return count;
}

/* Drops pairs whose modifier is in training with too few other bases.
 * Dropping only moves emoji back into training, so one pass suffices. */
static void keep_partnered_pairs(int n, const int *base_id, const unsigned *mods,
                                 unsigned *pairs, const gboolean *held)
{
    enum { M = SCF_EMOJI_N_MODIFIERS };
    gboolean *seen = g_new0(gboolean, (size_t)n * M);
    int partners[M] = { 0 };
    for (int i = 0; i < n; i++)
        for (int m = 0; m < M; m++)
            if (!held[i] && (mods[i] >> m & 1) && !seen[(size_t)base_id[i] * M + m]) {
                seen[(size_t)base_id[i] * M + m] = TRUE;
                partners[m]++;
            }
    for (int b = 0; b < n; b++)
        for (int m = 0; m < M; m++)
            if ((pairs[b] >> m & 1) &&
                partners[m] - seen[(size_t)base_id[b] * M + m] < SCF_EMOJI_SPLIT_MIN_PARTNERS)
                pairs[b] &= ~(1u << m);
    g_free(seen);
}

int scf_emoji_split(const char *const *captions, int n, gboolean *held)
{
    /* base_id[i]: one number per distinct base; base_item[i]: the index of
     * the unmodified emoji with i's base, or -1 when it is not in the set */
    int *base_id = g_new(int, n), *base_item = g_new(int, n);
    unsigned *mods = g_new(unsigned, n), *singles = g_new0(unsigned, n),
             *pairs = g_new0(unsigned, n);
    g_autoptr(GHashTable) ids = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_autoptr(GHashTable) plain = g_hash_table_new(g_str_hash, g_str_equal);
    char **bases = g_new0(char *, n + 1);
    for (int i = 0; i < n; i++) {
        bases[i] = scf_emoji_split_base(captions[i], &mods[i]);
        gpointer id;
        if (!g_hash_table_lookup_extended(ids, bases[i], NULL, &id)) {
            id = GINT_TO_POINTER(g_hash_table_size(ids));
            g_hash_table_insert(ids, g_strdup(bases[i]), id);
        }
        base_id[i] = GPOINTER_TO_INT(id);
        if (mods[i] == 0)
            g_hash_table_insert(plain, bases[i], GINT_TO_POINTER(i + 1));
    }
    for (int i = 0; i < n; i++) {
        base_item[i] = GPOINTER_TO_INT(g_hash_table_lookup(plain, bases[i])) - 1;
        if (base_item[i] >= 0 && (mods[i] & (mods[i] - 1)) == 0)
            singles[base_item[i]] |= mods[i];
    }
    choose_pairs(n, base_item, singles, pairs);
    mark_held(n, base_item, mods, pairs, held);
    keep_partnered_pairs(n, base_id, mods, pairs, held);
    int count = mark_held(n, base_item, mods, pairs, held);
    g_strfreev(bases);
    g_free(base_id);
    g_free(base_item);
    g_free(mods);
    g_free(singles);
    g_free(pairs);
    return count;
}
