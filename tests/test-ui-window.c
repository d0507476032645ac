/* The real application under Xvfb (see run-xvfb.sh): its main window, pages,
 * actions, accelerators, dialogs and saved window size. Screenshots go to
 * $SCF_TEST_OUT for a person to look at.
 *
 * The cases share one application and run in order (GTK initialises once
 * per process, and the last case quits), in fresh temporary data, config
 * and home folders, with settings in memory and no animations (pages switch
 * at once, so each screenshot shows one page). */
#include "build-config.h"
#include "scf-application.h"
#include "scf-preferences-window.h"
#include "scf-window.h"
#include "ui-harness.h"
#include <gtk/gtk.h>
#include <string.h>

#define WAIT_SECONDS 10

static const char *const page_names[] = { "generate", "compare", "gallery", "training" };
static const char *const page_titles[] = { "Generate", "Compare", "Gallery", "Training" };

/* The first mapped window of the application of the given type, or NULL. */
static GtkWindow *app_window_of_type(GType type)
{
    return ui_app_window_of_type(GTK_APPLICATION(ui_studio.app), type);
}

static gboolean widget_mapped(gpointer widget)
{
    return gtk_widget_get_mapped(widget);
}

static gboolean widget_unmapped(gpointer widget)
{
    return !gtk_widget_get_mapped(widget);
}

static gboolean window_of_type_mapped(gpointer type)
{
    return app_window_of_type(GPOINTER_TO_SIZE(type)) != NULL;
}

static gboolean window_of_type_gone(gpointer type)
{
    return app_window_of_type(GPOINTER_TO_SIZE(type)) == NULL;
}

static GtkWindow *wait_window(GType type)
{
    g_assert_true(ui_wait_until(window_of_type_mapped, GSIZE_TO_POINTER(type), WAIT_SECONDS));
    GtkWindow *window = app_window_of_type(type);
    ui_wait_drawn(GTK_WIDGET(window));
    return window;
}

static void close_and_wait(GtkWindow *window, GType type)
{
    gtk_window_close(window);
    g_assert_true(ui_wait_until(window_of_type_gone, GSIZE_TO_POINTER(type), WAIT_SECONDS));
}

static GtkStack *main_stack(void)
{
    GtkWidget *stack = ui_find_descendant(GTK_WIDGET(ui_studio_window()), GTK_TYPE_STACK);
    g_assert_nonnull(stack);
    return GTK_STACK(stack);
}

/* The size of the window on screen. The widget is a little smaller: the
 * surface also holds the client-side decoration's resize border. */
static void assert_surface_size(GtkWindow *window, int width, int height)
{
    GdkSurface *surface = gtk_native_get_surface(GTK_NATIVE(window));
    g_assert_cmpint(gdk_surface_get_width(surface), ==, width);
    g_assert_cmpint(gdk_surface_get_height(surface), ==, height);
}

static gboolean strv_has(const char *const *strv, const char *str)
{
    return strv && g_strv_contains(strv, str);
}

/* The window opens at the size stored in the settings, with its title. */
static void test_window_appears(void)
{
    g_settings_set_int(ui_studio.settings, "window-width", 900);
    g_settings_set_int(ui_studio.settings, "window-height", 640);
    g_settings_set_boolean(ui_studio.settings, "window-maximized", FALSE);

    g_application_activate(G_APPLICATION(ui_studio.app));
    GtkWindow *window = wait_window(SCF_TYPE_WINDOW);

    g_assert_cmpstr(gtk_window_get_title(window), ==, "SCFlow Studio");
    g_assert_true(gtk_window_get_titlebar(window) != NULL);
    assert_surface_size(window, 900, 640);

    /* A second activation presents the same window. */
    g_application_activate(G_APPLICATION(ui_studio.app));
    GList *windows = gtk_application_get_windows(GTK_APPLICATION(ui_studio.app));
    g_assert_cmpuint(g_list_length(windows), ==, 1);
}

/* The stack holds the four pages in order, and the switcher shows them. */
static void test_window_pages(void)
{
    GtkStack *stack = main_stack();
    g_autoptr(GtkSelectionModel) pages = gtk_stack_get_pages(stack);
    g_assert_cmpuint(g_list_model_get_n_items(G_LIST_MODEL(pages)), ==,
                     G_N_ELEMENTS(page_names));
    for (guint i = 0; i < G_N_ELEMENTS(page_names); i++) {
        g_autoptr(GObject) item = g_list_model_get_item(G_LIST_MODEL(pages), i);
        GtkStackPage *page = GTK_STACK_PAGE(item);
        g_assert_cmpstr(gtk_stack_page_get_name(page), ==, page_names[i]);
        g_assert_cmpstr(gtk_stack_page_get_title(page), ==, page_titles[i]);
        g_assert_true(gtk_stack_page_get_visible(page));
    }
    g_assert_cmpstr(gtk_stack_get_visible_child_name(stack), ==, "generate");

    GtkWidget *switcher =
        ui_find_descendant(GTK_WIDGET(ui_studio_window()), GTK_TYPE_STACK_SWITCHER);
    g_assert_nonnull(switcher);
    g_autoptr(GPtrArray) buttons = g_ptr_array_new();
    ui_collect_descendants(switcher, GTK_TYPE_TOGGLE_BUTTON, buttons);
    g_assert_cmpuint(buttons->len, ==, G_N_ELEMENTS(page_names));
}

/* Appends the action of every item in menu, sections included. */
static void collect_menu_actions(GMenuModel *menu, GPtrArray *into)
{
    for (int i = 0; i < g_menu_model_get_n_items(menu); i++) {
        char *action = NULL;
        if (g_menu_model_get_item_attribute(menu, i, G_MENU_ATTRIBUTE_ACTION, "s", &action))
            g_ptr_array_add(into, action);
        g_autoptr(GMenuModel) section = g_menu_model_get_item_link(menu, i, G_MENU_LINK_SECTION);
        if (section)
            collect_menu_actions(section, into);
    }
}

/* The primary menu offers exactly the application's actions, each enabled,
 * and F10 opens it. */
static void test_window_primary_menu(void)
{
    GtkWidget *button = ui_find_descendant(GTK_WIDGET(ui_studio_window()), GTK_TYPE_MENU_BUTTON);
    g_assert_nonnull(button);
    g_assert_true(gtk_menu_button_get_primary(GTK_MENU_BUTTON(button)));
    GMenuModel *menu = gtk_menu_button_get_menu_model(GTK_MENU_BUTTON(button));
    g_assert_nonnull(menu);

    static const char *const expected[] = { "app.preferences", "app.shortcuts", "app.about",
                                            "app.quit" };
    g_autoptr(GPtrArray) actions = g_ptr_array_new_with_free_func(g_free);
    collect_menu_actions(menu, actions);
    g_assert_cmpuint(actions->len, ==, G_N_ELEMENTS(expected));
    for (guint i = 0; i < actions->len; i++) {
        g_assert_cmpstr(actions->pdata[i], ==, expected[i]);
        const char *name = (const char *)actions->pdata[i] + strlen("app.");
        g_assert_true(g_action_group_get_action_enabled(G_ACTION_GROUP(ui_studio.app), name));
    }
}

/* Alt+1..4 are bound to win.page, which switches pages and follows the
 * page shown, however it was chosen. */
static void test_window_page_action(void)
{
    ScfWindow *window = ui_studio_window();
    GtkStack *stack = main_stack();

    for (guint i = 0; i < G_N_ELEMENTS(page_names); i++) {
        g_autofree char *accel = g_strdup_printf("<Alt>%u", i + 1);
        g_autofree char *detailed = g_strdup_printf("win.page::%s", page_names[i]);
        g_auto(GStrv) actions =
            gtk_application_get_actions_for_accel(GTK_APPLICATION(ui_studio.app), accel);
        g_assert_true(strv_has((const char *const *)actions, detailed));
    }

    for (guint i = G_N_ELEMENTS(page_names); i-- > 0;) {
        g_action_group_activate_action(G_ACTION_GROUP(window), "page",
                                       g_variant_new_string(page_names[i]));
        g_assert_cmpstr(gtk_stack_get_visible_child_name(stack), ==, page_names[i]);
    }

    gtk_stack_set_visible_child_name(stack, "gallery");
    g_autoptr(GVariant) state = g_action_group_get_action_state(G_ACTION_GROUP(window), "page");
    g_assert_cmpstr(g_variant_get_string(state, NULL), ==, "gallery");
}

/* One screenshot per page. */
static void test_window_screenshots(void)
{
    GtkStack *stack = main_stack();
    for (guint i = 0; i < G_N_ELEMENTS(page_names); i++) {
        gtk_stack_set_visible_child_name(stack, page_names[i]);
        ui_wait_drawn(GTK_WIDGET(ui_studio_window()));
        g_autofree char *name = g_strdup_printf("studio-window-%s.png", page_names[i]);
        ui_save_screenshot(GTK_WIDGET(ui_studio_window()), name);
    }
    gtk_stack_set_visible_child_name(stack, "generate");
}

static void test_app_accels(void)
{
    static const struct {
        const char *accel, *action;
    } expected[] = {
        { "<Control>q", "app.quit" },
        { "<Control>comma", "app.preferences" },
        { "<Control>f", "win.search-gallery" },
        { "<Control>question", "app.shortcuts" },
    };
    for (gsize i = 0; i < G_N_ELEMENTS(expected); i++) {
        g_auto(GStrv) actions = gtk_application_get_actions_for_accel(
            GTK_APPLICATION(ui_studio.app), expected[i].accel);
        g_assert_true(strv_has((const char *const *)actions, expected[i].action));
    }
}

/* The shortcuts window opens, and every shortcut in it shows a key. */
static void test_app_shortcuts(void)
{
    g_action_group_activate_action(G_ACTION_GROUP(ui_studio.app), "shortcuts", NULL);
    GtkWindow *shortcuts = GTK_WINDOW(
        gtk_application_window_get_help_overlay(GTK_APPLICATION_WINDOW(ui_studio_window())));
    g_assert_nonnull(shortcuts);
    g_assert_true(ui_wait_until(widget_mapped, shortcuts, WAIT_SECONDS));
    ui_wait_drawn(GTK_WIDGET(shortcuts));
    g_assert_true(gtk_window_get_transient_for(shortcuts) == GTK_WINDOW(ui_studio_window()));

    g_autoptr(GPtrArray) items = g_ptr_array_new();
    /* Within the section: the window keeps copies of them for its search. */
    GtkWidget *section = ui_find_descendant(GTK_WIDGET(shortcuts), GTK_TYPE_SHORTCUTS_SECTION);
    g_assert_nonnull(section);
    ui_collect_descendants(section, GTK_TYPE_SHORTCUTS_SHORTCUT, items);
    g_assert_cmpuint(items->len, ==, 16);
    for (guint i = 0; i < items->len; i++) {
        g_autofree char *title = NULL, *accelerator = NULL;
        g_object_get(items->pdata[i], "title", &title, "accelerator", &accelerator, NULL);
        if (!accelerator || !*accelerator)
            g_error("shortcut “%s” shows no key", title);
    }
    ui_save_screenshot(GTK_WIDGET(shortcuts), "studio-shortcuts.png");
    gtk_window_close(shortcuts);
    g_assert_true(ui_wait_until(widget_unmapped, shortcuts, WAIT_SECONDS));
}

/* Preferences show the settings and write back what the user changes. */
static void test_app_preferences(void)
{
    g_settings_set_string(ui_studio.settings, "device", "cuda");
    g_settings_set_string(ui_studio.settings, "precision", "bf16");
    g_settings_set_int(ui_studio.settings, "threads", 3);

    g_action_group_activate_action(G_ACTION_GROUP(ui_studio.app), "preferences", NULL);
    GtkWindow *window = wait_window(SCF_TYPE_PREFERENCES_WINDOW);
    g_assert_true(gtk_window_get_modal(window));

    GtkDropDown *device = GTK_DROP_DOWN(ui_find_named(GTK_WIDGET(window), "device"));
    GtkDropDown *precision = GTK_DROP_DOWN(ui_find_named(GTK_WIDGET(window), "precision"));
    GtkSpinButton *threads = GTK_SPIN_BUTTON(ui_find_named(GTK_WIDGET(window), "threads"));
    g_assert_nonnull(device);
    g_assert_nonnull(precision);
    g_assert_nonnull(threads);
    g_assert_cmpuint(gtk_drop_down_get_selected(device), ==, 2);
    g_assert_cmpuint(gtk_drop_down_get_selected(precision), ==, 2);
    g_assert_cmpint(gtk_spin_button_get_value_as_int(threads), ==, 3);
    /* on a GPU the precision can be chosen */
    g_assert_true(gtk_widget_get_sensitive(GTK_WIDGET(precision)));
    g_assert_null(gtk_widget_get_tooltip_text(GTK_WIDGET(precision)));

    gtk_drop_down_set_selected(precision, 3);
    g_autofree char *stored_precision = g_settings_get_string(ui_studio.settings, "precision");
    g_assert_cmpstr(stored_precision, ==, "fp16");

    gtk_drop_down_set_selected(device, 1);
    gtk_spin_button_set_value(threads, 6);
    g_autofree char *stored_device = g_settings_get_string(ui_studio.settings, "device");
    g_assert_cmpstr(stored_device, ==, "cpu");
    g_assert_cmpint(g_settings_get_int(ui_studio.settings, "threads"), ==, 6);
    /* The processor computes in fp32 only: the choice is kept but closed,
     * and its tooltip says why. */
    g_assert_false(gtk_widget_get_sensitive(GTK_WIDGET(precision)));
    const char *why = gtk_widget_get_tooltip_text(GTK_WIDGET(precision));
    g_assert_nonnull(why);
    g_assert_nonnull(strstr(why, "FP32"));
    g_assert_cmpuint(gtk_drop_down_get_selected(precision), ==, 3);
    ui_wait_drawn(GTK_WIDGET(window));
    ui_save_screenshot(GTK_WIDGET(window), "studio-preferences-cpu.png");

    /* And follow changes made elsewhere while open. */
    g_settings_set_string(ui_studio.settings, "device", "auto");
    g_settings_set_string(ui_studio.settings, "precision", "tf32");
    g_settings_set_int(ui_studio.settings, "threads", 0);
    g_assert_cmpuint(gtk_drop_down_get_selected(device), ==, 0);
    g_assert_cmpuint(gtk_drop_down_get_selected(precision), ==, 1);
    g_assert_cmpint(gtk_spin_button_get_value_as_int(threads), ==, 0);
    g_assert_true(gtk_widget_get_sensitive(GTK_WIDGET(precision)));
    g_assert_null(gtk_widget_get_tooltip_text(GTK_WIDGET(precision)));

    ui_wait_drawn(GTK_WIDGET(window));
    ui_save_screenshot(GTK_WIDGET(window), "studio-preferences.png");
    close_and_wait(window, SCF_TYPE_PREFERENCES_WINDOW);
    g_settings_reset(ui_studio.settings, "precision");
}

static void test_app_about(void)
{
    g_action_group_activate_action(G_ACTION_GROUP(ui_studio.app), "about", NULL);
    GtkAboutDialog *about = GTK_ABOUT_DIALOG(wait_window(GTK_TYPE_ABOUT_DIALOG));
    g_assert_cmpstr(gtk_about_dialog_get_program_name(about), ==, "SCFlow Studio");
    g_assert_cmpstr(gtk_about_dialog_get_version(about), ==, SCF_VERSION);
    g_assert_cmpint(gtk_about_dialog_get_license_type(about), ==, GTK_LICENSE_MIT_X11);
    g_assert_cmpstr(gtk_about_dialog_get_logo_icon_name(about), ==, SCF_APP_ID);
    ui_save_screenshot(GTK_WIDGET(about), "studio-about.png");
    close_and_wait(GTK_WINDOW(about), GTK_TYPE_ABOUT_DIALOG);
}

/* app.quit closes every window, dialogs included, and the main window's size
 * is stored; the next window opens at that size. */
static void test_app_quit_saves_size(void)
{
    GtkWindow *window = GTK_WINDOW(ui_studio_window());
    gtk_window_set_default_size(window, 1040, 720);
    g_action_group_activate_action(G_ACTION_GROUP(ui_studio.app), "preferences", NULL);
    wait_window(SCF_TYPE_PREFERENCES_WINDOW);

    ui_app_quit(GTK_APPLICATION(ui_studio.app), WAIT_SECONDS);
    g_assert_cmpint(g_settings_get_int(ui_studio.settings, "window-width"), ==, 1040);
    g_assert_cmpint(g_settings_get_int(ui_studio.settings, "window-height"), ==, 720);
    g_assert_false(g_settings_get_boolean(ui_studio.settings, "window-maximized"));

    g_application_activate(G_APPLICATION(ui_studio.app));
    window = wait_window(SCF_TYPE_WINDOW);
    assert_surface_size(window, 1040, 720);
    ui_app_quit(GTK_APPLICATION(ui_studio.app), WAIT_SECONDS);
}

int main(int argc, char **argv)
{
    int early = ui_studio_begin("test-ui-window", &argc, &argv);
    if (early >= 0)
        return early;
    ui_studio_start();

    g_test_add_func("/ui/window/appears", test_window_appears);
    g_test_add_func("/ui/window/pages", test_window_pages);
    g_test_add_func("/ui/window/page-action", test_window_page_action);
    g_test_add_func("/ui/window/primary-menu", test_window_primary_menu);
    g_test_add_func("/ui/window/screenshots", test_window_screenshots);
    g_test_add_func("/ui/app/accels", test_app_accels);
    g_test_add_func("/ui/app/shortcuts", test_app_shortcuts);
    g_test_add_func("/ui/app/preferences", test_app_preferences);
    g_test_add_func("/ui/app/about", test_app_about);
    g_test_add_func("/ui/app/quit-saves-size", test_app_quit_saves_size);
    return ui_studio_run();
}
