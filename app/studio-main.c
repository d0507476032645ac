/* `scflow-studio`: the desktop application. */
#include "build-config.h"
#include "scf-application.h"
#include "openmp-env.h"
#include <glib/gi18n.h>
#include <locale.h>

int main(int argc, char **argv)
{
    scf_openmp_bound_spinning(argv);
    setlocale(LC_ALL, "");
    bindtextdomain(GETTEXT_PACKAGE, SCF_LOCALEDIR);
    bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
    textdomain(GETTEXT_PACKAGE);

    /* GSettings aborts on a missing schema; say what is wrong instead. */
    if (!scf_application_schema_installed()) {
        g_printerr(_("scflow-studio: the settings schema %s is not installed. Install the "
                     "application, or run it from the build directory inside “meson devenv”.\n"),
                   SCF_APP_ID);
        return 1;
    }

    g_autoptr(ScfApplication) app = scf_application_new(G_APPLICATION_DEFAULT_FLAGS);
    return g_application_run(G_APPLICATION(app), argc, argv);
}
