#include "scf-training-view.h"
#include <glib/gi18n.h>
#include <math.h>
#include <string.h>

/* One curve: its points in the order logged. */
typedef struct {
    char *name;
    GArray *points;   /* graphene_point_t: x = step, y = value */
} ScfCurve;

struct _ScfTrainingView {
    GtkWidget parent_instance;
    GtkDropDown *kind_dropdown, *data_source_dropdown, *ablation_dropdown;
    GtkEntry *data_entry, *config_entry, *teacher_entry, *run_entry;
    GtkWidget *data_box, *config_box, *teacher_box;
    GtkWidget *config_label, *teacher_label, *ablation_label;
    GtkSpinButton *gpus_spin;
    GtkLabel *gpus_note, *command_label, *rate_label, *status_label, *error_label;
    GtkRevealer *error_revealer;
    GtkProgressBar *progress_bar;
    GtkDrawingArea *curves_area;
    GtkPicture *sample_picture;
    GtkListBox *runs_list;
    GPtrArray *curves;     /* ScfCurve */
    GPtrArray *run_dirs;   /* the runs list's folders, by row */
    gboolean updating;     /* changes from code do not emit "changed" */
};

G_DEFINE_FINAL_TYPE(ScfTrainingView, scf_training_view, GTK_TYPE_WIDGET)

enum { SIGNAL_CHANGED, SIGNAL_RUN_SELECTED, N_SIGNALS };
static guint signals[N_SIGNALS];

static const char *const ablations[] = { "full", "cd", "cd+trunc", "cd+trunc+bidir",
                                         "cd+trunc+bidir+reflow" };

/* The fields by the names the choose buttons' action targets use. */
static const char *const field_names[SCF_TRAINING_N_FIELDS] = { "data", "config", "teacher",
                                                                "run" };

static void scf_curve_free(ScfCurve *c)
{
    g_free(c->name);
    g_array_unref(c->points);
    g_free(c);
}

static GtkEntry *scf_training_view_entry(ScfTrainingView *self, ScfTrainingField field)
{
    GtkEntry *entries[] = { self->data_entry, self->config_entry, self->teacher_entry,
                            self->run_entry };
    g_return_val_if_fail(field < SCF_TRAINING_N_FIELDS, NULL);
    return entries[field];
}

/* Only the inputs of the chosen kind and dataset source are shown. */
static void scf_training_view_show_kind_rows(ScfTrainingView *self)
{
    gboolean distill = scf_training_view_get_kind(self) == SCF_TRAINING_KIND_DISTILL;
    gtk_widget_set_visible(self->config_label, !distill);
    gtk_widget_set_visible(self->config_box, !distill);
    gtk_widget_set_visible(self->teacher_label, distill);
    gtk_widget_set_visible(self->teacher_box, distill);
    gtk_widget_set_visible(self->ablation_label, distill);
    gtk_widget_set_visible(GTK_WIDGET(self->ablation_dropdown), distill);
    gtk_widget_set_visible(self->data_box, scf_training_view_get_data_source(self) ==
                                               SCF_TRAINING_DATA_FOLDER);
}

static void scf_training_view_edited(ScfTrainingView *self)
{
    scf_training_view_show_kind_rows(self);
    if (!self->updating)
        g_signal_emit(self, signals[SIGNAL_CHANGED], 0);
}

/* ---- curves ---- */

static void scf_training_view_curve_colour(cairo_t *cr, guint i, double alpha)
{
    static const double palette[][3] = { { 0.21, 0.52, 0.89 }, { 0.88, 0.11, 0.14 },
                                         { 0.18, 0.76, 0.49 }, { 0.96, 0.47, 0.0 },
                                         { 0.57, 0.25, 0.67 }, { 0.60, 0.47, 0.32 },
                                         { 0.87, 0.42, 0.68 }, { 0.40, 0.40, 0.40 } };
    const double *c = palette[i % G_N_ELEMENTS(palette)];
    cairo_set_source_rgba(cr, c[0], c[1], c[2], alpha);
}

static void scf_training_view_draw_curves(GtkDrawingArea *area, cairo_t *cr, int width,
                                          int height, gpointer data)
{
    ScfTrainingView *self = data;
    GdkRGBA fg;
    /* gtk_widget_get_color is GTK 4.10; 4.8 is what we build against. */
    gtk_style_context_get_color(gtk_widget_get_style_context(GTK_WIDGET(area)), &fg);
    double x0 = G_MAXDOUBLE, x1 = -G_MAXDOUBLE, y0 = G_MAXDOUBLE, y1 = -G_MAXDOUBLE;
    for (guint i = 0; i < self->curves->len; i++) {
        GArray *pts = ((ScfCurve *)self->curves->pdata[i])->points;
        for (guint j = 0; j < pts->len; j++) {
            graphene_point_t p = g_array_index(pts, graphene_point_t, j);
            x0 = MIN(x0, p.x), x1 = MAX(x1, p.x), y0 = MIN(y0, p.y), y1 = MAX(y1, p.y);
        }
    }
    const double left = 48, right = 12, top = 12, bottom = 24;
    double w = width - left - right, h = height - top - bottom;
    cairo_set_line_width(cr, 1);
    gdk_cairo_set_source_rgba(cr, &fg);
    cairo_rectangle(cr, left + 0.5, top + 0.5, w, h);
    cairo_stroke(cr);
    cairo_set_font_size(cr, 10);
    if (x0 > x1 || w <= 0 || h <= 0) {
        cairo_move_to(cr, left + 8, top + 18);
        cairo_show_text(cr, _("No metrics yet"));
        return;
    }
    /* One point still needs a width and a height to be drawn in. */
    if (x1 - x0 < 1)
        x1 = x0 + 1;
    if (y1 - y0 < 1e-9)
        y1 = y0 + 1e-9 + fabs(y0) * 0.01;
    char text[32];
    g_snprintf(text, sizeof text, "%.3g", y1);
    cairo_move_to(cr, 2, top + 10);
    cairo_show_text(cr, text);
    g_snprintf(text, sizeof text, "%.3g", y0);
    cairo_move_to(cr, 2, top + h);
    cairo_show_text(cr, text);
    g_snprintf(text, sizeof text, "%.0f", x0);
    cairo_move_to(cr, left, height - 8);
    cairo_show_text(cr, text);
    g_snprintf(text, sizeof text, "%.0f", x1);
    cairo_text_extents_t ext;
    cairo_text_extents(cr, text, &ext);
    cairo_move_to(cr, left + w - ext.width, height - 8);
    cairo_show_text(cr, text);

    cairo_set_line_width(cr, 1.5);
    for (guint i = 0; i < self->curves->len; i++) {
        ScfCurve *c = self->curves->pdata[i];
        scf_training_view_curve_colour(cr, i, 1);
        for (guint j = 0; j < c->points->len; j++) {
            graphene_point_t p = g_array_index(c->points, graphene_point_t, j);
            double x = left + (p.x - x0) / (x1 - x0) * w, y = top + (y1 - p.y) / (y1 - y0) * h;
            if (j == 0)
                cairo_move_to(cr, x, y);
            else
                cairo_line_to(cr, x, y);
        }
        if (c->points->len == 1) {
            double cx, cy;
            cairo_get_current_point(cr, &cx, &cy);
            cairo_arc(cr, cx, cy, 2, 0, 2 * G_PI);
        }
        cairo_stroke(cr);
        /* the legend, top right */
        cairo_rectangle(cr, left + w - 110, top + 8 + 14 * i, 10, 10);
        cairo_fill(cr);
        gdk_cairo_set_source_rgba(cr, &fg);
        cairo_move_to(cr, left + w - 96, top + 17 + 14 * i);
        cairo_show_text(cr, c->name);
    }
}

void scf_training_view_clear_curves(ScfTrainingView *self)
{
    g_return_if_fail(SCF_IS_TRAINING_VIEW(self));
    g_ptr_array_set_size(self->curves, 0);
    gtk_widget_queue_draw(GTK_WIDGET(self->curves_area));
}

void scf_training_view_add_point(ScfTrainingView *self, const char *series, double step,
                                 double value)
{
    g_return_if_fail(SCF_IS_TRAINING_VIEW(self));
    ScfCurve *curve = NULL;
    for (guint i = 0; i < self->curves->len && !curve; i++)
        if (g_strcmp0(((ScfCurve *)self->curves->pdata[i])->name, series) == 0)
            curve = self->curves->pdata[i];
    if (!curve) {
        curve = g_new0(ScfCurve, 1);
        curve->name = g_strdup(series);
        curve->points = g_array_new(FALSE, FALSE, sizeof(graphene_point_t));
        g_ptr_array_add(self->curves, curve);
    }
    graphene_point_t p = GRAPHENE_POINT_INIT(step, value);
    g_array_append_val(curve->points, p);
    gtk_widget_queue_draw(GTK_WIDGET(self->curves_area));
}

guint scf_training_view_count_points(ScfTrainingView *self)
{
    g_return_val_if_fail(SCF_IS_TRAINING_VIEW(self), 0);
    guint n = 0;
    for (guint i = 0; i < self->curves->len; i++)
        n += ((ScfCurve *)self->curves->pdata[i])->points->len;
    return n;
}

/* ---- settings ---- */

ScfTrainingKind scf_training_view_get_kind(ScfTrainingView *self)
{
    g_return_val_if_fail(SCF_IS_TRAINING_VIEW(self), SCF_TRAINING_KIND_TEACHER);
    return gtk_drop_down_get_selected(self->kind_dropdown) == 1 ? SCF_TRAINING_KIND_DISTILL
                                                                  : SCF_TRAINING_KIND_TEACHER;
}

void scf_training_view_set_kind(ScfTrainingView *self, ScfTrainingKind kind)
{
    g_return_if_fail(SCF_IS_TRAINING_VIEW(self));
    self->updating = TRUE;
    gtk_drop_down_set_selected(self->kind_dropdown, kind == SCF_TRAINING_KIND_DISTILL ? 1 : 0);
    self->updating = FALSE;
}

ScfTrainingDataSource scf_training_view_get_data_source(ScfTrainingView *self)
{
    g_return_val_if_fail(SCF_IS_TRAINING_VIEW(self), SCF_TRAINING_DATA_BUILTIN);
    return gtk_drop_down_get_selected(self->data_source_dropdown) == 1 ? SCF_TRAINING_DATA_FOLDER
                                                                        : SCF_TRAINING_DATA_BUILTIN;
}

void scf_training_view_set_data_source(ScfTrainingView *self, ScfTrainingDataSource source)
{
    g_return_if_fail(SCF_IS_TRAINING_VIEW(self));
    self->updating = TRUE;
    gtk_drop_down_set_selected(self->data_source_dropdown,
                               source == SCF_TRAINING_DATA_FOLDER ? 1 : 0);
    self->updating = FALSE;
}

const char *scf_training_view_get_path(ScfTrainingView *self, ScfTrainingField field)
{
    g_return_val_if_fail(SCF_IS_TRAINING_VIEW(self), NULL);
    return gtk_editable_get_text(GTK_EDITABLE(scf_training_view_entry(self, field)));
}

void scf_training_view_set_path(ScfTrainingView *self, ScfTrainingField field, const char *path)
{
    g_return_if_fail(SCF_IS_TRAINING_VIEW(self));
    self->updating = TRUE;
    gtk_editable_set_text(GTK_EDITABLE(scf_training_view_entry(self, field)), path ? path : "");
    self->updating = FALSE;
}

const char *scf_training_view_get_ablation(ScfTrainingView *self)
{
    g_return_val_if_fail(SCF_IS_TRAINING_VIEW(self), NULL);
    guint i = gtk_drop_down_get_selected(self->ablation_dropdown);
    return i < G_N_ELEMENTS(ablations) ? ablations[i] : ablations[0];
}

void scf_training_view_set_ablation(ScfTrainingView *self, const char *name)
{
    g_return_if_fail(SCF_IS_TRAINING_VIEW(self));
    for (guint i = 0; i < G_N_ELEMENTS(ablations); i++)
        if (g_strcmp0(name, ablations[i]) == 0) {
            self->updating = TRUE;
            gtk_drop_down_set_selected(self->ablation_dropdown, i);
            self->updating = FALSE;
        }
}

int scf_training_view_get_gpus(ScfTrainingView *self)
{
    g_return_val_if_fail(SCF_IS_TRAINING_VIEW(self), 1);
    return gtk_spin_button_get_value_as_int(self->gpus_spin);
}

void scf_training_view_set_gpus(ScfTrainingView *self, int gpus)
{
    g_return_if_fail(SCF_IS_TRAINING_VIEW(self));
    self->updating = TRUE;
    gtk_spin_button_set_value(self->gpus_spin, gpus);
    self->updating = FALSE;
}

void scf_training_view_set_gpu_limit(ScfTrainingView *self, int limit, const char *why)
{
    g_return_if_fail(SCF_IS_TRAINING_VIEW(self));
    self->updating = TRUE;
    /* the adjustment clamps the value: 1 where there is no choice */
    gtk_spin_button_set_range(self->gpus_spin, 1, MAX(limit, 1));
    self->updating = FALSE;
    gtk_widget_set_sensitive(GTK_WIDGET(self->gpus_spin), limit > 1);
    gtk_widget_set_tooltip_text(GTK_WIDGET(self->gpus_spin), why);
    gtk_label_set_text(self->gpus_note, why ? why : "");
}

void scf_training_view_set_command(ScfTrainingView *self, const char *text)
{
    g_return_if_fail(SCF_IS_TRAINING_VIEW(self));
    gtk_label_set_text(self->command_label, text ? text : "");
}

const char *scf_training_view_get_command(ScfTrainingView *self)
{
    g_return_val_if_fail(SCF_IS_TRAINING_VIEW(self), NULL);
    return gtk_label_get_text(self->command_label);
}

/* ---- the run ---- */

void scf_training_view_set_progress(ScfTrainingView *self, gint64 step, gint64 total,
                                    const char *rate)
{
    g_return_if_fail(SCF_IS_TRAINING_VIEW(self));
    gtk_progress_bar_set_fraction(self->progress_bar,
                                  total > 0 ? CLAMP((double)step / total, 0, 1) : 0);
    /* %lld, not G_GINT64_FORMAT: xgettext cannot see through the macro. */
    g_autofree char *text = total > 0 ? g_strdup_printf(_("Step %lld of %lld"), (long long)step,
                                                        (long long)total)
                                      : g_strdup("");
    gtk_progress_bar_set_text(self->progress_bar, text);
    gtk_label_set_text(self->rate_label, rate ? rate : "");
}

void scf_training_view_set_status(ScfTrainingView *self, const char *text)
{
    g_return_if_fail(SCF_IS_TRAINING_VIEW(self));
    gtk_label_set_text(self->status_label, text ? text : "");
}

const char *scf_training_view_get_status(ScfTrainingView *self)
{
    g_return_val_if_fail(SCF_IS_TRAINING_VIEW(self), NULL);
    return gtk_label_get_text(self->status_label);
}

void scf_training_view_show_error(ScfTrainingView *self, const char *message)
{
    g_return_if_fail(SCF_IS_TRAINING_VIEW(self));
    if (message)
        gtk_label_set_text(self->error_label, message);
    gtk_revealer_set_reveal_child(self->error_revealer, message != NULL);
}

const char *scf_training_view_get_error(ScfTrainingView *self)
{
    g_return_val_if_fail(SCF_IS_TRAINING_VIEW(self), NULL);
    return gtk_revealer_get_reveal_child(self->error_revealer)
               ? gtk_label_get_text(self->error_label) : NULL;
}

static void scf_training_view_dismiss_error(GtkWidget *widget, const char *action, GVariant *param)
{
    scf_training_view_show_error(SCF_TRAINING_VIEW(widget), NULL);
}

void scf_training_view_set_sample(ScfTrainingView *self, GFile *png)
{
    g_return_if_fail(SCF_IS_TRAINING_VIEW(self));
    gtk_picture_set_file(self->sample_picture, png);
}

void scf_training_view_set_runs(ScfTrainingView *self, const char *const *dirs,
                                const char *const *descriptions, guint n)
{
    g_return_if_fail(SCF_IS_TRAINING_VIEW(self));
    /* rows only: the first child may be the "No runs yet" placeholder, which
     * must stay (gtk_list_box_remove_all is GTK 4.12; Debian 12 has 4.8) */
    for (GtkListBoxRow *row; (row = gtk_list_box_get_row_at_index(self->runs_list, 0));)
        gtk_list_box_remove(self->runs_list, GTK_WIDGET(row));
    g_ptr_array_set_size(self->run_dirs, 0);
    for (guint i = 0; i < n; i++) {
        g_autofree char *name = g_path_get_basename(dirs[i]);
        GtkWidget *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 2);
        GtkWidget *title = gtk_label_new(name), *subtitle = gtk_label_new(descriptions[i]);
        gtk_label_set_xalign(GTK_LABEL(title), 0);
        gtk_label_set_xalign(GTK_LABEL(subtitle), 0);
        gtk_label_set_ellipsize(GTK_LABEL(title), PANGO_ELLIPSIZE_MIDDLE);
        gtk_widget_add_css_class(subtitle, "dim-label");
        gtk_widget_set_margin_start(box, 12);
        gtk_widget_set_margin_end(box, 12);
        gtk_widget_set_margin_top(box, 6);
        gtk_widget_set_margin_bottom(box, 6);
        gtk_box_append(GTK_BOX(box), title);
        gtk_box_append(GTK_BOX(box), subtitle);
        gtk_list_box_append(self->runs_list, box);
        g_ptr_array_add(self->run_dirs, g_strdup(dirs[i]));
    }
}

static void scf_training_view_row_activated(GtkListBox *list, GtkListBoxRow *row,
                                            ScfTrainingView *self)
{
    int i = gtk_list_box_row_get_index(row);
    if (i >= 0 && (guint)i < self->run_dirs->len)
        g_signal_emit(self, signals[SIGNAL_RUN_SELECTED], 0, self->run_dirs->pdata[i]);
}

/* ---- the file choosers ---- */

static void scf_training_view_chosen(GtkNativeDialog *dialog, int response, gpointer data)
{
    ScfTrainingView *self = data;
    ScfTrainingField field = GPOINTER_TO_UINT(g_object_get_data(G_OBJECT(dialog), "field"));
    g_autoptr(GFile) file = response == GTK_RESPONSE_ACCEPT
                                ? gtk_file_chooser_get_file(GTK_FILE_CHOOSER(dialog)) : NULL;
    g_autofree char *path = file ? g_file_get_path(file) : NULL;
    if (path) {
        /* Picking a folder is choosing to train on it. */
        if (field == SCF_TRAINING_FIELD_DATA)
            gtk_drop_down_set_selected(self->data_source_dropdown, 1);
        /* As typed: the entry's "changed" tells the controller. */
        gtk_editable_set_text(GTK_EDITABLE(scf_training_view_entry(self, field)), path);
    }
    g_object_unref(dialog);
    g_object_unref(self);
}

/* The chooser opens where the field's path is, or beside it when that does
 * not exist yet (a run folder to be made). */
static void scf_training_view_chooser_start(GtkFileChooser *chooser, const char *path)
{
    g_autofree char *dir = g_file_test(path, G_FILE_TEST_IS_DIR) ? g_strdup(path)
                                                                  : g_path_get_dirname(path);
    if (!*path || !g_file_test(dir, G_FILE_TEST_IS_DIR))
        return;
    g_autoptr(GFile) folder = g_file_new_for_path(dir);
    gtk_file_chooser_set_current_folder(chooser, folder, NULL);
}

static void scf_training_view_choose(GtkWidget *widget, const char *action, GVariant *param)
{
    ScfTrainingView *self = SCF_TRAINING_VIEW(widget);
    const char *name = g_variant_get_string(param, NULL);
    guint field = 0;
    while (field < SCF_TRAINING_N_FIELDS && strcmp(field_names[field], name) != 0)
        field++;
    g_return_if_fail(field < SCF_TRAINING_N_FIELDS);
    const char *titles[SCF_TRAINING_N_FIELDS] = {
        _("Choose the Dataset Folder"), _("Choose the Model Config"),
        _("Choose the Teacher Model Folder"), _("Choose the Run Folder"),
    };
    gboolean file = field == SCF_TRAINING_FIELD_CONFIG;
    GtkFileChooserNative *dialog = gtk_file_chooser_native_new(
        titles[field], GTK_WINDOW(gtk_widget_get_root(widget)),
        file ? GTK_FILE_CHOOSER_ACTION_OPEN : GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER,
        _("_Choose"), _("_Cancel"));
    gtk_native_dialog_set_modal(GTK_NATIVE_DIALOG(dialog), TRUE);
    if (file) {
        g_autoptr(GtkFileFilter) json = gtk_file_filter_new();
        gtk_file_filter_set_name(json, _("Model configs (JSON)"));
        gtk_file_filter_add_pattern(json, "*.json");
        gtk_file_chooser_add_filter(GTK_FILE_CHOOSER(dialog), json);
    }
    scf_training_view_chooser_start(GTK_FILE_CHOOSER(dialog),
                                    scf_training_view_get_path(self, field));
    g_object_set_data(G_OBJECT(dialog), "field", GUINT_TO_POINTER(field));
    g_signal_connect(dialog, "response", G_CALLBACK(scf_training_view_chosen),
                     g_object_ref(self));
    gtk_native_dialog_show(GTK_NATIVE_DIALOG(dialog));
}

/* ---- the widget ---- */

static void scf_training_view_dispose(GObject *object)
{
    gtk_widget_dispose_template(GTK_WIDGET(object), SCF_TYPE_TRAINING_VIEW);
    G_OBJECT_CLASS(scf_training_view_parent_class)->dispose(object);
}

static void scf_training_view_finalize(GObject *object)
{
    ScfTrainingView *self = SCF_TRAINING_VIEW(object);
    g_ptr_array_unref(self->curves);
    g_ptr_array_unref(self->run_dirs);
    G_OBJECT_CLASS(scf_training_view_parent_class)->finalize(object);
}

static void scf_training_view_class_init(ScfTrainingViewClass *klass)
{
    GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);
    G_OBJECT_CLASS(klass)->dispose = scf_training_view_dispose;
    G_OBJECT_CLASS(klass)->finalize = scf_training_view_finalize;

    signals[SIGNAL_CHANGED] = g_signal_new("changed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST,
                                           0, NULL, NULL, NULL, G_TYPE_NONE, 0);
    signals[SIGNAL_RUN_SELECTED] =
        g_signal_new("run-selected", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                     NULL, G_TYPE_NONE, 1, G_TYPE_STRING);

    gtk_widget_class_set_template_from_resource(widget_class,
                                                "/io/github/scflow/Studio/scf-training-view.ui");
    gtk_widget_class_set_layout_manager_type(widget_class, GTK_TYPE_BIN_LAYOUT);
#define BIND(name) gtk_widget_class_bind_template_child(widget_class, ScfTrainingView, name)
    BIND(kind_dropdown);
    BIND(data_source_dropdown);
    BIND(ablation_dropdown);
    BIND(data_box);
    BIND(config_box);
    BIND(teacher_box);
    BIND(error_label);
    BIND(error_revealer);
    BIND(data_entry);
    BIND(config_entry);
    BIND(teacher_entry);
    BIND(run_entry);
    BIND(config_label);
    BIND(teacher_label);
    BIND(ablation_label);
    BIND(gpus_spin);
    BIND(gpus_note);
    BIND(command_label);
    BIND(rate_label);
    BIND(status_label);
    BIND(progress_bar);
    BIND(curves_area);
    BIND(sample_picture);
    BIND(runs_list);
#undef BIND
    gtk_widget_class_install_action(widget_class, "training.choose", "s",
                                    scf_training_view_choose);
    gtk_widget_class_install_action(widget_class, "training.dismiss-error", NULL,
                                    scf_training_view_dismiss_error);
}

static void scf_training_view_init(ScfTrainingView *self)
{
    self->curves = g_ptr_array_new_with_free_func((GDestroyNotify)scf_curve_free);
    self->run_dirs = g_ptr_array_new_with_free_func(g_free);
    gtk_widget_init_template(GTK_WIDGET(self));
    gtk_drawing_area_set_draw_func(self->curves_area, scf_training_view_draw_curves, self, NULL);
    GtkEntry *entries[] = { self->data_entry, self->config_entry, self->teacher_entry,
                            self->run_entry };
    for (gsize i = 0; i < G_N_ELEMENTS(entries); i++)
        g_signal_connect_swapped(entries[i], "changed", G_CALLBACK(scf_training_view_edited), self);
    GtkDropDown *dropdowns[] = { self->kind_dropdown, self->data_source_dropdown,
                                 self->ablation_dropdown };
    for (gsize i = 0; i < G_N_ELEMENTS(dropdowns); i++)
        g_signal_connect_swapped(dropdowns[i], "notify::selected",
                                 G_CALLBACK(scf_training_view_edited), self);
    g_signal_connect_swapped(self->gpus_spin, "value-changed",
                             G_CALLBACK(scf_training_view_edited), self);
    g_signal_connect(self->runs_list, "row-activated", G_CALLBACK(scf_training_view_row_activated),
                     self);
    scf_training_view_show_kind_rows(self);
    scf_training_view_set_progress(self, 0, 0, NULL);
}
