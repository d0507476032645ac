/* Training images with captions, from a folder: NAME.png (or NAME.jpg,
 * NAME.jpeg) beside NAME.txt holding its caption, as `scflow dataset emoji`
 * writes them and as people keep their own sets.
 *
 * Opening reads every caption, decodes every image once, fits it to the
 * model's square size (area-average resize of the centred square crop,
 * alpha composited over SCF_DATASET_BACKGROUND) and keeps it as RGB8, so a
 * batch only converts bytes to floats.
 *
 * Folder rules:
 *  - items are ordered by file name (byte order), so an index means the same
 *    image on every machine;
 *  - an image without a .txt beside it is skipped and counted (see
 *    scf_dataset_n_uncaptioned), so a stray picture does not stop training;
 *    a .txt without an image is ignored;
 *  - a caption is the file's text with a UTF-8 BOM dropped, line breaks and
 *    runs of white space turned into single spaces and the ends trimmed; it
 *    may be empty. Text that is not UTF-8 is an error naming the file;
 *  - an image that cannot be decoded is an error naming the file;
 *  - split.json, when present, is {"rule": "...", "held_out": [caption, ...],
 *    "train": N}: items whose caption is listed form the held-out subset and
 *    the rest the training subset. Every listed caption must match an item
 *    and N must equal the training count, so a split that no longer fits its
 *    folder is an error rather than a silent leak.
 *
 * The stream of training items: position g = step * batch_size + j of the
 * stream is item perm_e[g mod n] where e = g / n is the epoch and perm_e a
 * Fisher-Yates shuffle of 0..n-1 driven by Philox4x32-10 keyed by the seed
 * with counter (i, e low, e high, 0x53485546 "SHUF"), so draws never collide
 * with the engine's random streams (whose counter words 2 and 3 are zero). A
 * batch is thus a pure function of (seed, step, batch_size): resuming at
 * step k continues the same stream, and every epoch visits each item once.
 * A background thread prepares batch step + 1 while the caller trains on
 * step. One scf_dataset is used by one thread at a time. */
#pragma once
#include <stdint.h>
#include <glib.h>
#include "image.h"

G_BEGIN_DECLS

/* The grey (#F0F0F0) behind emoji and under transparent pixels: some emoji
 * (tooth, white question mark, fog) nearly vanish on pure white. */
#define SCF_DATASET_BACKGROUND 0xF0

/* Largest model size accepted. */
#define SCF_DATASET_MAX_SIZE 1024

#define SCF_DATASET_SPLIT_FILE "split.json"

typedef enum {
    SCF_DATASET_ALL,       /* every captioned image, split or not */
    SCF_DATASET_TRAIN,     /* all but the held-out ones (everything without split.json) */
    SCF_DATASET_HELD_OUT,  /* the held-out ones; an error without split.json */
} scf_dataset_subset;

typedef struct scf_dataset scf_dataset;

/* Opens dir at size x size pixels. Errors name the folder or file and say
 * why: missing or unreadable folder, no captioned images, a caption that is
 * not UTF-8, an undecodable image, a split.json that does not fit. */
scf_dataset *scf_dataset_open(const char *dir, int size, scf_dataset_subset subset,
                              uint64_t seed, GError **error);
void scf_dataset_free(scf_dataset *ds);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(scf_dataset, scf_dataset_free)

int scf_dataset_count(const scf_dataset *ds);
int scf_dataset_size(const scf_dataset *ds);
/* Images skipped for having no caption, and the first of them (NULL if none). */
int scf_dataset_n_uncaptioned(const scf_dataset *ds);
const char *scf_dataset_first_uncaptioned(const scf_dataset *ds);
/* The split's rule text, NULL without split.json. */
const char *scf_dataset_split_rule(const scf_dataset *ds);

/* Item i (0 <= i < count): its caption, its image file name, and its pixels
 * as RGB8, size * size * 3 bytes, rows top to bottom. */
const char *scf_dataset_caption(const scf_dataset *ds, int i);
const char *scf_dataset_file(const scf_dataset *ds, int i);
const uint8_t *scf_dataset_pixels(const scf_dataset *ds, int i);
/* Item i as float CHW in [-1, 1] (3 * size * size floats), as in batches. */
void scf_dataset_image_chw(const scf_dataset *ds, int i, float *chw);

/* The item at position g of the seeded stream (see above). */
int scf_dataset_stream_item(scf_dataset *ds, uint64_t g);

/* Fills images (batch_size x 3 x size x size floats in [-1, 1]) and captions
 * (batch_size pointers owned by the dataset, valid until it is freed) with
 * stream positions step * batch_size .. + batch_size - 1. */
gboolean scf_dataset_batch(scf_dataset *ds, uint64_t step, int batch_size, float *images,
                           const char **captions, GError **error);

/* src fitted to size x size RGB8: the centred square crop (the short side),
 * area-averaged to size (a box filter, exact for any ratio; enlarging
 * repeats pixels), with alpha composited over SCF_DATASET_BACKGROUND. */
scf_image *scf_dataset_fit_image(const scf_image *src, int size, GError **error);

G_END_DECLS
