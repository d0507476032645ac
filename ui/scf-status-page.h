/* An empty state: a large icon, a title and a line of text, centred, and
 * optionally a widget below them (the property "child"), such as a button
 * that leads out of the empty state. */
#pragma once
#include <gtk/gtk.h>

G_BEGIN_DECLS

#define SCF_TYPE_STATUS_PAGE (scf_status_page_get_type())
G_DECLARE_FINAL_TYPE(ScfStatusPage, scf_status_page, SCF, STATUS_PAGE, GtkWidget)

G_END_DECLS
