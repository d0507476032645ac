/* The Compare page: one prompt and seed sampled by the model at several step
 * counts (1, 2 and 4 by default) and optionally by a teacher, the images
 * side by side, enlarged with square pixels, each labelled with its step
 * count and time per image, the step-consistency figures, and "Save as PNG".
 *
 * The view only shows and asks. Its Compare and Cancel buttons (and Escape)
 * activate the window actions win.compare and win.compare-cancel, which
 * whoever runs the engine provides. Properties hold the settings (prompt,
 * seed, teacher, teacher-steps); "save-requested" (GFile) tells that the
 * user chose where to save the comparison shown. */
#pragma once
#include <gtk/gtk.h>

G_BEGIN_DECLS

#define SCF_TYPE_COMPARE_VIEW (scf_compare_view_get_type())
G_DECLARE_FINAL_TYPE(ScfCompareView, scf_compare_view, SCF, COMPARE_VIEW, GtkWidget)

/* The model compared (its name; NULL shows the empty state) and the teachers
 * to choose from: teacher_ids[i] is what the property "teacher" holds when
 * teacher_names[i] is chosen, after the first choice "None" (NULL). */
void scf_compare_view_set_models(ScfCompareView *self, const char *model_name,
                                 const char *const *teacher_ids,
                                 const char *const *teacher_names);

/* The step counts switched on, ascending, into steps[0..max); their number. */
int scf_compare_view_get_step_counts(ScfCompareView *self, int *steps, int max);

/* Whether a comparison is under way: Cancel replaces Compare. */
void scf_compare_view_set_busy(ScfCompareView *self, gboolean busy);
void scf_compare_view_set_progress(ScfCompareView *self, int step, int steps);

/* Shows textures[0..n) side by side, each under titles[i] (its step count)
 * and captions[i] (its time), and the figures (one line each) under them;
 * prompt is the images' text alternative. */
void scf_compare_view_show_results(ScfCompareView *self, GdkTexture *const *textures,
                                   const char *const *titles, const char *const *captions,
                                   guint n,
                                   const char *const *figures, const char *prompt);
/* A line under the images (a cancelled run, a file saved). */
void scf_compare_view_show_status(ScfCompareView *self, const char *text);
/* A banner above the images until the next comparison starts. */
void scf_compare_view_show_error(ScfCompareView *self, const char *message);

G_END_DECLS
