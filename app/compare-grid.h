/* A row of images, each enlarged (nearest neighbour, so pixels stay crisp)
 * under a text label: the picture `scflow compare` and the Compare view
 * save. Text is drawn with Pango, which is why this lives in app/. */
#pragma once
#include "scflow.h"

scf_image *scf_compare_grid(scf_image *const *images, const char *const *labels, int n,
                            int scale, GError **error);

/* A column's label: "1 step · 12 ms", "teacher 32 steps · 480 ms". */
char *scf_compare_grid_label(gboolean teacher, int steps, double ms);
