#include "scf-status-page.h"

struct _ScfStatusPage {
    GtkWidget parent_instance;
    char *icon_name;
    char *title;
    char *description;
    GtkBox *box;
    GtkWidget *child;
};

G_DEFINE_FINAL_TYPE(ScfStatusPage, scf_status_page, GTK_TYPE_WIDGET)

enum { PROP_0, PROP_ICON_NAME, PROP_TITLE, PROP_DESCRIPTION, PROP_CHILD, N_PROPS };
static GParamSpec *props[N_PROPS];

/* The template binds its image and labels to these properties, so storing
 * the string and notifying is all a setter has to do. */
static char **scf_status_page_field(ScfStatusPage *self, guint prop_id)
{
    switch (prop_id) {
    case PROP_ICON_NAME: return &self->icon_name;
    case PROP_TITLE: return &self->title;
    case PROP_DESCRIPTION: return &self->description;
    default: return NULL;
    }
}

/* Below the description, for the action that gets the user out of the
 * empty state. */
static void scf_status_page_set_child(ScfStatusPage *self, GtkWidget *child)
{
    if (self->child == child)
        return;
    if (self->child)
        gtk_box_remove(self->box, self->child);
    self->child = child;
    if (child) {
        gtk_widget_set_halign(child, GTK_ALIGN_CENTER);
        gtk_widget_set_margin_top(child, 24);
        gtk_box_append(self->box, child);
    }
    g_object_notify_by_pspec(G_OBJECT(self), props[PROP_CHILD]);
}

static void scf_status_page_get_property(GObject *object, guint prop_id, GValue *value,
                                         GParamSpec *pspec)
{
    if (prop_id == PROP_CHILD) {
        g_value_set_object(value, SCF_STATUS_PAGE(object)->child);
        return;
    }
    char **field = scf_status_page_field(SCF_STATUS_PAGE(object), prop_id);
    if (!field) {
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
        return;
    }
    g_value_set_string(value, *field);
}

static void scf_status_page_set_property(GObject *object, guint prop_id, const GValue *value,
                                         GParamSpec *pspec)
{
    if (prop_id == PROP_CHILD) {
        scf_status_page_set_child(SCF_STATUS_PAGE(object), g_value_get_object(value));
        return;
    }
    char **field = scf_status_page_field(SCF_STATUS_PAGE(object), prop_id);
    if (!field) {
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
        return;
    }
    const char *str = g_value_get_string(value);
    if (g_strcmp0(*field, str) == 0)
        return;
    g_free(*field);
    *field = g_strdup(str);
    g_object_notify_by_pspec(object, pspec);
}

static void scf_status_page_dispose(GObject *object)
{
    gtk_widget_dispose_template(GTK_WIDGET(object), SCF_TYPE_STATUS_PAGE);
    G_OBJECT_CLASS(scf_status_page_parent_class)->dispose(object);
}

static void scf_status_page_finalize(GObject *object)
{
    ScfStatusPage *self = SCF_STATUS_PAGE(object);
    g_free(self->icon_name);
    g_free(self->title);
    g_free(self->description);
    G_OBJECT_CLASS(scf_status_page_parent_class)->finalize(object);
}

static void scf_status_page_class_init(ScfStatusPageClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);
    GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);

    object_class->get_property = scf_status_page_get_property;
    object_class->set_property = scf_status_page_set_property;
    object_class->dispose = scf_status_page_dispose;
    object_class->finalize = scf_status_page_finalize;

    GParamFlags flags = G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;
    props[PROP_ICON_NAME] = g_param_spec_string("icon-name", NULL, NULL, NULL, flags);
    props[PROP_TITLE] = g_param_spec_string("title", NULL, NULL, NULL, flags);
    props[PROP_DESCRIPTION] = g_param_spec_string("description", NULL, NULL, NULL, flags);
    props[PROP_CHILD] = g_param_spec_object("child", NULL, NULL, GTK_TYPE_WIDGET, flags);
    g_object_class_install_properties(object_class, N_PROPS, props);

    gtk_widget_class_set_template_from_resource(widget_class,
                                                "/io/github/scflow/Studio/scf-status-page.ui");
    gtk_widget_class_bind_template_child(widget_class, ScfStatusPage, box);
    gtk_widget_class_set_layout_manager_type(widget_class, GTK_TYPE_BIN_LAYOUT);
    gtk_widget_class_set_css_name(widget_class, "statuspage");
}

static void scf_status_page_init(ScfStatusPage *self)
{
    gtk_widget_init_template(GTK_WIDGET(self));
}
