/* Emoji drawn with the system's Noto Color Emoji font (Debian
 * fonts-noto-color-emoji, a colour bitmap font with one 109 px strike)
 * through pango and cairo, for the built-in dataset. Kept out of core/: the
 * engine needs no fonts. */
#pragma once
#include <glib.h>
#include "image.h"

G_BEGIN_DECLS

#define SCF_EMOJI_FONT_FAMILY "Noto Color Emoji"
#define SCF_EMOJI_FONT_PACKAGE "fonts-noto-color-emoji"
/* The font's only bitmap strike, in pixels per em: drawing at it copies the
 * bitmaps 1:1, and all scaling happens afterwards with an area average. */
#define SCF_EMOJI_STRIKE_PX 109

typedef struct scf_emoji_renderer scf_emoji_renderer;

/* Fails with a message naming the Debian package when fontconfig has no
 * Noto Color Emoji. */
scf_emoji_renderer *scf_emoji_renderer_new(GError **error);
void scf_emoji_renderer_free(scf_emoji_renderer *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(scf_emoji_renderer, scf_emoji_renderer_free)

const char *scf_emoji_renderer_font_file(const scf_emoji_renderer *r);
const char *scf_emoji_renderer_font_version(const scf_emoji_renderer *r);
/* The side of the square cell, in strike pixels, that every emoji is centred
 * in before scaling: the ink box of U+1F600, so all emoji share one scale. */
int scf_emoji_renderer_cell(const scf_emoji_renderer *r);

/* text (one emoji, UTF-8) centred on SCF_DATASET_BACKGROUND grey at
 * size x size RGB8. When the font does not draw it as exactly one of its own
 * glyphs, returns NULL with *skip set to the reason (a string to free) and
 * no error; other failures return NULL with an error. */
scf_image *scf_emoji_renderer_draw(scf_emoji_renderer *r, const char *text, int size,
                                   char **skip, GError **error);

G_END_DECLS
