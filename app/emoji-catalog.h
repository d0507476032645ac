/* The emoji of Unicode's emoji-test.txt (Debian unicode-data): every
 * fully-qualified line, in file order, with its name as the caption. */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

#define SCF_EMOJI_TEST_PATH "/usr/share/unicode/emoji/emoji-test.txt"

typedef struct {
    gunichar *cps;       /* the code points as listed (with FE0F where listed) */
    int n_cps;
    char *text;          /* the same as UTF-8 */
    char *codepoints;    /* "1F44D 1F3FD", as in the file */
    char *caption;       /* the name after the version: "thumbs up: medium skin tone" */
    char *version;       /* the Emoji version that added it: "0.6" */
    const char *group;   /* "People & Body" (owned by the catalog) */
    const char *subgroup;
    int line;
} scf_emoji;

typedef struct {
    char *path;
    char *version;       /* of the file: "15.0" */
    scf_emoji *items;
    int n;
    int n_declared;      /* the "# fully-qualified : N" count the file states, -1 when absent */
    GStringChunk *names; /* group and subgroup strings */
} scf_emoji_catalog;

/* Reads every fully-qualified emoji; errors name the file and line. */
scf_emoji_catalog *scf_emoji_catalog_load(const char *path, GError **error);
void scf_emoji_catalog_free(scf_emoji_catalog *cat);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(scf_emoji_catalog, scf_emoji_catalog_free)

G_END_DECLS
