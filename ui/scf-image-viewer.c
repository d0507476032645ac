#include "scf-image-viewer.h"
#include "scf-pixel-texture.h"
#include <glib/gi18n.h>

/* Shown enlarged so that its longer side is about this many pixels at
 * best fit (GtkPicture then shrinks it to the space there is), and this far
 * at most when zooming in. */
#define FIT_SIDE 1024
#define THUMBNAIL_SIDE 64

struct _ScfImageViewer {
    GtkWidget parent_instance;

    GtkRevealer *error_revealer;
    GtkLabel *error_label;
    GtkStack *result_stack;
    GtkPicture *picture;
    GtkWidget *toolbar;
    GtkLabel *zoom_label;
    GtkRevealer *thumbnails_revealer;
    GtkFlowBox *thumbnails;
    GtkLabel *caption_label;

    GtkWidget *placeholder;
    GPtrArray *textures;     /* GdkTexture */
    GPtrArray *files;        /* GFile or NULL, one per texture */
    GStrv captions;
    guint selected;
    int zoom;                /* enlargement factor; 0 = best fit */
};

G_DEFINE_FINAL_TYPE(ScfImageViewer, scf_image_viewer, GTK_TYPE_WIDGET)

enum { PROP_0, PROP_PLACEHOLDER, N_PROPS };
static GParamSpec *props[N_PROPS];

GdkTexture *scf_image_viewer_get_image(ScfImageViewer *self)
{
    g_return_val_if_fail(SCF_IS_IMAGE_VIEWER(self), NULL);
    if (!self->textures || self->selected >= self->textures->len)
        return NULL;
    return self->textures->pdata[self->selected];
}

static GFile *scf_image_viewer_file(ScfImageViewer *self)
{
    if (!self->files || self->selected >= self->files->len)
        return NULL;
    return self->files->pdata[self->selected];
}

static int scf_image_viewer_max_zoom(GdkTexture *texture)
{
    int side = MAX(gdk_texture_get_width(texture), gdk_texture_get_height(texture));
    return MAX(1, FIT_SIDE / side);
}

/* The enlargement shown now: the zoom, or at best fit what the picture's
 * size makes of the image. */
static double scf_image_viewer_shown_scale(ScfImageViewer *self, GdkTexture *texture)
{
    if (self->zoom)
        return self->zoom;
    double w = gtk_widget_get_width(GTK_WIDGET(self->picture));
    double h = gtk_widget_get_height(GTK_WIDGET(self->picture));
    double s = MIN(w / gdk_texture_get_width(texture), h / gdk_texture_get_height(texture));
    return s > 0 ? s : 1;
}

static void scf_image_viewer_update_actions(ScfImageViewer *self)
{
    GtkWidget *widget = GTK_WIDGET(self);
    GdkTexture *texture = scf_image_viewer_get_image(self);
    /* Best fit may show any size, so both ways stay open from it. */
    gboolean fit = self->zoom == 0;
    gtk_widget_action_set_enabled(widget, "viewer.zoom-in",
                                  texture && (fit || self->zoom < scf_image_viewer_max_zoom(texture)));
    gtk_widget_action_set_enabled(widget, "viewer.zoom-out", texture && (fit || self->zoom > 1));
    gtk_widget_action_set_enabled(widget, "viewer.zoom-fit", texture != NULL);
    gtk_widget_action_set_enabled(widget, "viewer.copy", texture != NULL);
    gtk_widget_action_set_enabled(widget, "viewer.save", texture != NULL);
    gtk_widget_action_set_enabled(widget, "viewer.open-folder", scf_image_viewer_file(self) != NULL);
}

static void scf_image_viewer_update(ScfImageViewer *self)
{
    GdkTexture *texture = scf_image_viewer_get_image(self);
    gtk_widget_set_visible(self->toolbar, texture != NULL);
    gtk_stack_set_visible_child_name(self->result_stack,
                                     texture || !self->placeholder ? "image" : "placeholder");
    scf_image_viewer_update_actions(self);
    if (!texture) {
        gtk_picture_set_paintable(self->picture, NULL);
        return;
    }
    gboolean fit = self->zoom == 0;
    int factor = fit ? scf_image_viewer_max_zoom(texture) : self->zoom;
    g_autoptr(GdkTexture) big = scf_pixel_texture_scale(texture, factor);
    gtk_picture_set_paintable(self->picture, GDK_PAINTABLE(big));
    /* At a zoom the picture keeps its size and the window scrolls; at best
     * fit it takes the space there is. */
    gtk_picture_set_can_shrink(self->picture, fit);
    gtk_widget_set_halign(GTK_WIDGET(self->picture), fit ? GTK_ALIGN_FILL : GTK_ALIGN_CENTER);
    gtk_widget_set_valign(GTK_WIDGET(self->picture), fit ? GTK_ALIGN_FILL : GTK_ALIGN_CENTER);
    g_autofree char *percent = fit ? NULL : g_strdup_printf(_("%d%%"), self->zoom * 100);
    gtk_label_set_label(self->zoom_label, fit ? _("Fit") : percent);
    const char *caption = self->captions ? self->captions[self->selected] : NULL;
    gtk_label_set_label(self->caption_label, caption ? caption : "");
}

static void scf_image_viewer_set_zoom(ScfImageViewer *self, int zoom)
{
    self->zoom = zoom;
    scf_image_viewer_update(self);
}

/* Zoom steps are powers of two, so pixels stay squares of equal size. */
static void scf_image_viewer_zoom_in(GtkWidget *widget, const char *action, GVariant *param)
{
    ScfImageViewer *self = SCF_IMAGE_VIEWER(widget);
    GdkTexture *texture = scf_image_viewer_get_image(self);
    if (!texture)
        return;
    double scale = scf_image_viewer_shown_scale(self, texture);
    int zoom = 1;
    while (zoom <= scale + 1e-6)
        zoom *= 2;
    scf_image_viewer_set_zoom(self, MIN(zoom, scf_image_viewer_max_zoom(texture)));
}

static void scf_image_viewer_zoom_out(GtkWidget *widget, const char *action, GVariant *param)
{
    ScfImageViewer *self = SCF_IMAGE_VIEWER(widget);
    GdkTexture *texture = scf_image_viewer_get_image(self);
    if (!texture)
        return;
    double scale = scf_image_viewer_shown_scale(self, texture);
    int zoom = 1;
    while (zoom * 2 < scale - 1e-6)
        zoom *= 2;
    scf_image_viewer_set_zoom(self, zoom);
}

static void scf_image_viewer_zoom_fit(GtkWidget *widget, const char *action, GVariant *param)
{
    scf_image_viewer_set_zoom(SCF_IMAGE_VIEWER(widget), 0);
}

static void scf_image_viewer_thumbnail_selected(ScfImageViewer *self)
{
    g_autoptr(GList) selected = gtk_flow_box_get_selected_children(self->thumbnails);
    if (!selected)
        return;
    self->selected = (guint)gtk_flow_box_child_get_index(selected->data);
    scf_image_viewer_update(self);
}

static void scf_image_viewer_fill_thumbnails(ScfImageViewer *self)
{
    for (GtkWidget *c; (c = gtk_widget_get_first_child(GTK_WIDGET(self->thumbnails)));)
        gtk_flow_box_remove(self->thumbnails, c);
    guint n = self->textures->len;
    gtk_revealer_set_reveal_child(self->thumbnails_revealer, n > 1);
    if (n < 2)
        return;
    for (guint i = 0; i < n; i++) {
        GdkTexture *texture = self->textures->pdata[i];
        int side = MAX(gdk_texture_get_width(texture), gdk_texture_get_height(texture));
        g_autoptr(GdkTexture) small = scf_pixel_texture_scale(texture, MAX(1, THUMBNAIL_SIDE / side));
        GtkWidget *picture = gtk_picture_new_for_paintable(GDK_PAINTABLE(small));
        gtk_picture_set_can_shrink(GTK_PICTURE(picture), FALSE);
        g_autofree char *label = g_strdup_printf(_("Image %u of %u"), i + 1, n);
        gtk_accessible_update_property(GTK_ACCESSIBLE(picture), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                       label, -1);
        gtk_widget_set_tooltip_text(picture, self->captions ? self->captions[i] : label);
        gtk_flow_box_append(self->thumbnails, picture);
    }
    gtk_flow_box_select_child(self->thumbnails, gtk_flow_box_get_child_at_index(self->thumbnails, 0));
}

void scf_image_viewer_show(ScfImageViewer *self, GdkTexture *const *textures,
                           GFile *const *files, const char *const *captions, guint n,
                           const char *description)
{
    g_return_if_fail(SCF_IS_IMAGE_VIEWER(self));
    g_ptr_array_set_size(self->textures, 0);
    g_ptr_array_set_size(self->files, 0);
    for (guint i = 0; i < n; i++) {
        g_ptr_array_add(self->textures, g_object_ref(textures[i]));
        g_ptr_array_add(self->files, files && files[i] ? g_object_ref(files[i]) : NULL);
    }
    g_strfreev(self->captions);
    self->captions = captions ? g_strdupv((GStrv)captions) : NULL;
    self->selected = 0;
    scf_image_viewer_fill_thumbnails(self);
    gtk_revealer_set_reveal_child(self->error_revealer, FALSE);
    gtk_picture_set_alternative_text(self->picture, description);
    scf_image_viewer_update(self);
}

void scf_image_viewer_set_caption(ScfImageViewer *self, const char *text)
{
    g_return_if_fail(SCF_IS_IMAGE_VIEWER(self));
    gtk_label_set_label(self->caption_label, text);
}

void scf_image_viewer_show_error(ScfImageViewer *self, const char *message)
{
    g_return_if_fail(SCF_IS_IMAGE_VIEWER(self));
    gtk_label_set_label(self->error_label, message);
    gtk_revealer_set_reveal_child(self->error_revealer, TRUE);
}

static void scf_image_viewer_dismiss_error(GtkWidget *widget, const char *action, GVariant *param)
{
    gtk_revealer_set_reveal_child(SCF_IMAGE_VIEWER(widget)->error_revealer, FALSE);
}

static void scf_image_viewer_copy(GtkWidget *widget, const char *action, GVariant *param)
{
    GdkTexture *texture = scf_image_viewer_get_image(SCF_IMAGE_VIEWER(widget));
    if (texture)
        gdk_clipboard_set_texture(gtk_widget_get_clipboard(widget), texture);
}

static void scf_image_viewer_open_folder(GtkWidget *widget, const char *action, GVariant *param)
{
    GFile *file = scf_image_viewer_file(SCF_IMAGE_VIEWER(widget));
    if (!file)
        return;
    g_autoptr(GFile) folder = g_file_get_parent(file);
    g_autofree char *uri = g_file_get_uri(folder);
    gtk_show_uri(GTK_WINDOW(gtk_widget_get_root(widget)), uri, GDK_CURRENT_TIME);
}

static void scf_image_viewer_saved(GObject *source, GAsyncResult *result, gpointer data)
{
    g_autoptr(ScfImageViewer) self = data;
    g_autoptr(GError) error = NULL;
    if (!g_file_copy_finish(G_FILE(source), result, &error))
        scf_image_viewer_show_error(self, error->message);
}

static void scf_image_viewer_save_response(GtkNativeDialog *dialog, int response, gpointer data)
{
    ScfImageViewer *self = data;
    g_autoptr(GFile) dest = response == GTK_RESPONSE_ACCEPT
                                ? gtk_file_chooser_get_file(GTK_FILE_CHOOSER(dialog)) : NULL;
    GFile *source = scf_image_viewer_file(self);
    GdkTexture *texture = scf_image_viewer_get_image(self);
    if (dest && source) {
        /* A copy of the file written keeps the settings stored in it. */
        g_file_copy_async(source, dest, G_FILE_COPY_OVERWRITE, G_PRIORITY_DEFAULT, NULL, NULL,
                          NULL, scf_image_viewer_saved, g_object_ref(self));
    } else if (dest && texture) {
        g_autofree char *path = g_file_get_path(dest);
        if (!path || !gdk_texture_save_to_png(texture, path))
            scf_image_viewer_show_error(self, _("The image could not be saved there."));
    }
    g_object_unref(dialog);
    g_object_unref(self);
}

static void scf_image_viewer_save(GtkWidget *widget, const char *action, GVariant *param)
{
    ScfImageViewer *self = SCF_IMAGE_VIEWER(widget);
    if (!scf_image_viewer_get_image(self))
        return;
    GtkFileChooserNative *dialog = gtk_file_chooser_native_new(
        _("Save Image"), GTK_WINDOW(gtk_widget_get_root(widget)), GTK_FILE_CHOOSER_ACTION_SAVE,
        _("_Save"), _("_Cancel"));
    gtk_native_dialog_set_modal(GTK_NATIVE_DIALOG(dialog), TRUE);
    GFile *file = scf_image_viewer_file(self);
    g_autofree char *name = file ? g_file_get_basename(file) : g_strdup("scflow.png");
    gtk_file_chooser_set_current_name(GTK_FILE_CHOOSER(dialog), name);
    g_signal_connect(dialog, "response", G_CALLBACK(scf_image_viewer_save_response),
                     g_object_ref(self));
    gtk_native_dialog_show(GTK_NATIVE_DIALOG(dialog));
}

/* ---- GObject ---- */

static void scf_image_viewer_set_placeholder(ScfImageViewer *self, GtkWidget *placeholder)
{
    if (self->placeholder)
        gtk_stack_remove(self->result_stack, self->placeholder);
    self->placeholder = placeholder;
    if (placeholder)
        gtk_stack_add_named(self->result_stack, placeholder, "placeholder");
    scf_image_viewer_update(self);
    g_object_notify_by_pspec(G_OBJECT(self), props[PROP_PLACEHOLDER]);
}

static void scf_image_viewer_get_property(GObject *object, guint prop_id, GValue *value,
                                          GParamSpec *pspec)
{
    if (prop_id == PROP_PLACEHOLDER)
        g_value_set_object(value, SCF_IMAGE_VIEWER(object)->placeholder);
    else
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
}

static void scf_image_viewer_set_property(GObject *object, guint prop_id, const GValue *value,
                                          GParamSpec *pspec)
{
    if (prop_id == PROP_PLACEHOLDER)
        scf_image_viewer_set_placeholder(SCF_IMAGE_VIEWER(object), g_value_get_object(value));
    else
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
}

/* Images that were not written have no file. */
static void scf_image_viewer_unref_file(gpointer file)
{
    if (file)
        g_object_unref(file);
}

static void scf_image_viewer_dispose(GObject *object)
{
    ScfImageViewer *self = SCF_IMAGE_VIEWER(object);
    gtk_widget_dispose_template(GTK_WIDGET(object), SCF_TYPE_IMAGE_VIEWER);
    self->placeholder = NULL;
    g_clear_pointer(&self->textures, g_ptr_array_unref);
    g_clear_pointer(&self->files, g_ptr_array_unref);
    G_OBJECT_CLASS(scf_image_viewer_parent_class)->dispose(object);
}

static void scf_image_viewer_finalize(GObject *object)
{
    g_strfreev(SCF_IMAGE_VIEWER(object)->captions);
    G_OBJECT_CLASS(scf_image_viewer_parent_class)->finalize(object);
}

static void scf_image_viewer_install_actions(GtkWidgetClass *widget_class)
{
    static const struct {
        const char *name;
        GtkWidgetActionActivateFunc activate;
    } actions[] = {
        { "viewer.zoom-in", scf_image_viewer_zoom_in },
        { "viewer.zoom-out", scf_image_viewer_zoom_out },
        { "viewer.zoom-fit", scf_image_viewer_zoom_fit },
        { "viewer.copy", scf_image_viewer_copy },
        { "viewer.save", scf_image_viewer_save },
        { "viewer.open-folder", scf_image_viewer_open_folder },
        { "viewer.dismiss-error", scf_image_viewer_dismiss_error },
    };
    for (gsize i = 0; i < G_N_ELEMENTS(actions); i++)
        gtk_widget_class_install_action(widget_class, actions[i].name, NULL, actions[i].activate);
}

static gboolean scf_image_viewer_shortcut(GtkWidget *scope, GVariant *args, gpointer viewer)
{
    /* Without an image the keys go on to the focused widget. */
    if (!scf_image_viewer_get_image(viewer))
        return FALSE;
    return gtk_widget_activate_action(viewer, g_variant_get_string(args, NULL), NULL);
}

void scf_image_viewer_add_shortcuts(ScfImageViewer *self, GtkWidget *scope)
{
    static const struct {
        const char *action;
        guint key;
        GdkModifierType mods;
    } keys[] = {
        { "viewer.zoom-in", GDK_KEY_plus, GDK_CONTROL_MASK },
        { "viewer.zoom-in", GDK_KEY_equal, GDK_CONTROL_MASK },
        { "viewer.zoom-in", GDK_KEY_KP_Add, GDK_CONTROL_MASK },
        { "viewer.zoom-out", GDK_KEY_minus, GDK_CONTROL_MASK },
        { "viewer.zoom-out", GDK_KEY_KP_Subtract, GDK_CONTROL_MASK },
        { "viewer.zoom-fit", GDK_KEY_0, GDK_CONTROL_MASK },
        { "viewer.zoom-fit", GDK_KEY_KP_0, GDK_CONTROL_MASK },
        { "viewer.copy", GDK_KEY_c, GDK_CONTROL_MASK | GDK_SHIFT_MASK },
        { "viewer.save", GDK_KEY_s, GDK_CONTROL_MASK },
    };
    g_return_if_fail(SCF_IS_IMAGE_VIEWER(self) && GTK_IS_WIDGET(scope));
    GtkEventController *controller = gtk_shortcut_controller_new();
    for (gsize i = 0; i < G_N_ELEMENTS(keys); i++) {
        GtkShortcut *shortcut = gtk_shortcut_new(
            gtk_keyval_trigger_new(keys[i].key, keys[i].mods),
            gtk_callback_action_new(scf_image_viewer_shortcut, self, NULL));
        gtk_shortcut_set_arguments(shortcut, g_variant_new_string(keys[i].action));
        gtk_shortcut_controller_add_shortcut(GTK_SHORTCUT_CONTROLLER(controller), shortcut);
    }
    gtk_widget_add_controller(scope, controller);
}

static void scf_image_viewer_class_init(ScfImageViewerClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);
    GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);

    object_class->get_property = scf_image_viewer_get_property;
    object_class->set_property = scf_image_viewer_set_property;
    object_class->dispose = scf_image_viewer_dispose;
    object_class->finalize = scf_image_viewer_finalize;
    props[PROP_PLACEHOLDER] = g_param_spec_object(
        "placeholder", NULL, NULL, GTK_TYPE_WIDGET,
        G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
    g_object_class_install_properties(object_class, N_PROPS, props);

    gtk_widget_class_set_template_from_resource(widget_class,
                                                "/io/github/scflow/Studio/scf-image-viewer.ui");
    gtk_widget_class_bind_template_child(widget_class, ScfImageViewer, error_revealer);
    gtk_widget_class_bind_template_child(widget_class, ScfImageViewer, error_label);
    gtk_widget_class_bind_template_child(widget_class, ScfImageViewer, result_stack);
    gtk_widget_class_bind_template_child(widget_class, ScfImageViewer, picture);
    gtk_widget_class_bind_template_child(widget_class, ScfImageViewer, toolbar);
    gtk_widget_class_bind_template_child(widget_class, ScfImageViewer, zoom_label);
    gtk_widget_class_bind_template_child(widget_class, ScfImageViewer, thumbnails_revealer);
    gtk_widget_class_bind_template_child(widget_class, ScfImageViewer, thumbnails);
    gtk_widget_class_bind_template_child(widget_class, ScfImageViewer, caption_label);
    gtk_widget_class_bind_template_callback(widget_class, scf_image_viewer_thumbnail_selected);

    scf_image_viewer_install_actions(widget_class);
    gtk_widget_class_set_layout_manager_type(widget_class, GTK_TYPE_BIN_LAYOUT);
    gtk_widget_class_set_css_name(widget_class, "imageviewer");
}

static void scf_image_viewer_init(ScfImageViewer *self)
{
    gtk_widget_init_template(GTK_WIDGET(self));
    self->textures = g_ptr_array_new_with_free_func(g_object_unref);
    self->files = g_ptr_array_new_with_free_func(scf_image_viewer_unref_file);
    scf_image_viewer_add_shortcuts(self, GTK_WIDGET(self));
    scf_image_viewer_update(self);
}
