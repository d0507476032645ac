#include "scf-window.h"
#include "scf-gallery-view.h"
#include "scf-compare-view.h"
#include "scf-generate-view.h"
#include "scf-status-page.h"
#include "scf-training-view.h"

struct _ScfWindow {
    GtkApplicationWindow parent_instance;
    GtkStack *stack;
    ScfGenerateView *generate_view;
    ScfGalleryView *gallery_view;
    ScfCompareView *compare_view;
    ScfTrainingView *training_view;
};

G_DEFINE_FINAL_TYPE(ScfWindow, scf_window, GTK_TYPE_APPLICATION_WINDOW)

static void scf_window_dispose(GObject *object)
{
    gtk_widget_dispose_template(GTK_WIDGET(object), SCF_TYPE_WINDOW);
    G_OBJECT_CLASS(scf_window_parent_class)->dispose(object);
}

static void scf_window_class_init(ScfWindowClass *klass)
{
    GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);

    G_OBJECT_CLASS(klass)->dispose = scf_window_dispose;

    /* The template names this type; GtkBuilder can only find types that exist. */
    g_type_ensure(SCF_TYPE_STATUS_PAGE);
    g_type_ensure(SCF_TYPE_GENERATE_VIEW);
    g_type_ensure(SCF_TYPE_GALLERY_VIEW);
    g_type_ensure(SCF_TYPE_COMPARE_VIEW);
    g_type_ensure(SCF_TYPE_TRAINING_VIEW);
    gtk_widget_class_set_template_from_resource(widget_class,
                                                "/io/github/scflow/Studio/scf-window.ui");
    gtk_widget_class_bind_template_child(widget_class, ScfWindow, stack);
    gtk_widget_class_bind_template_child(widget_class, ScfWindow, generate_view);
    gtk_widget_class_bind_template_child(widget_class, ScfWindow, gallery_view);
    gtk_widget_class_bind_template_child(widget_class, ScfWindow, compare_view);
    gtk_widget_class_bind_template_child(widget_class, ScfWindow, training_view);
    /* Escape cancels the generation, but only when the focused widget has
     * no use for it: a window binding runs as the key bubbles up from the
     * focus, after a popover has closed on it or the gallery's search entry
     * has cleared, whereas an application accelerator would take the key
     * before either saw it. */
    gtk_widget_class_add_binding_action(widget_class, GDK_KEY_Escape, 0, "win.cancel", NULL);
}

static void scf_window_init(ScfWindow *self)
{
    gtk_widget_init_template(GTK_WIDGET(self));

    /* A property action keeps its state equal to the visible page, however
     * the page was changed (switcher, shortcut or code). */
    g_autoptr(GPropertyAction) page =
        g_property_action_new("page", self->stack, "visible-child-name");
    g_action_map_add_action(G_ACTION_MAP(self), G_ACTION(page));
}

void scf_window_show_shortcuts(ScfWindow *self)
{
    GtkApplicationWindow *window = GTK_APPLICATION_WINDOW(self);
    /* As the window's help overlay, the shortcuts window shows the keys the
     * application registered for each action it names. Built on first use. */
    if (!gtk_application_window_get_help_overlay(window)) {
        g_autoptr(GtkBuilder) builder =
            gtk_builder_new_from_resource("/io/github/scflow/Studio/scf-shortcuts-window.ui");
        gtk_application_window_set_help_overlay(
            window, GTK_SHORTCUTS_WINDOW(gtk_builder_get_object(builder, "shortcuts_window")));
    }
    gtk_widget_activate_action(GTK_WIDGET(self), "win.show-help-overlay", NULL);
}

ScfGenerateView *scf_window_get_generate_view(ScfWindow *self)
{
    g_return_val_if_fail(SCF_IS_WINDOW(self), NULL);
    return self->generate_view;
}

ScfGalleryView *scf_window_get_gallery_view(ScfWindow *self)
{
    g_return_val_if_fail(SCF_IS_WINDOW(self), NULL);
    return self->gallery_view;
}

ScfCompareView *scf_window_get_compare_view(ScfWindow *self)
{
    g_return_val_if_fail(SCF_IS_WINDOW(self), NULL);
    return self->compare_view;
}

ScfTrainingView *scf_window_get_training_view(ScfWindow *self)
{
    g_return_val_if_fail(SCF_IS_WINDOW(self), NULL);
    return self->training_view;
}

ScfWindow *scf_window_new(GtkApplication *application)
{
    return g_object_new(SCF_TYPE_WINDOW, "application", application, NULL);
}
