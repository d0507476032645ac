/* The Generate page of the real application under Xvfb, with the real engine
 * on its worker thread and tiny random-weight models written by the test:
 * the empty state, choosing a model folder, a prompt typed and generated with
 * Ctrl+Enter (shown, and written as a PNG with its settings), a batch, cancel
 * with Escape within a step, Escape closing a popover or clearing the
 * gallery's search before it cancels, generate-as-you-type, an engine error shown in
 * the window, and the longest main-loop stall while generating. Screenshots
 * go to $SCF_TEST_OUT.
 *
 * The cases share one application and run in order. The data, config and
 * home folders are fresh temporary ones, and settings live in memory. */
#include "model-catalog.h"
#include "scf-application.h"
#include "scf-generate-controller.h"
#include "scf-image-viewer.h"
#include "scf-job-runner.h"
#include "scf-window.h"
#include "scflow.h"
#include "ui-harness.h"
#include <gdk/x11/gdkx.h>
#include <glib/gstdio.h>
#include <string.h>

/* Generous: other work may share the machine's two cores. */
#define WAIT_SECONDS 120

/* ---- finding things ---- */

static ScfGenerateView *view(void)
{
    return scf_window_get_generate_view(ui_studio_window());
}

static const char *renderer_name(void)
{
    return G_OBJECT_TYPE_NAME(gtk_native_get_renderer(GTK_NATIVE(ui_studio_window())));
}

static char *output_dir(void)
{
    return scf_generate_controller_output_folder(ui_studio.settings);
}

/* The images of the gallery the app writes into (the output folder), oldest
 * first: every generation is a PNG and a gallery row. */
static GPtrArray *output_pngs(void)
{
    GPtrArray *files = g_ptr_array_new_with_free_func(g_free);
    g_autofree char *dir = output_dir();
    if (!g_file_test(dir, G_FILE_TEST_IS_DIR))
        return files;
    GError *error = NULL;
    scf_gallery *g = scf_gallery_open(dir, NULL, &error);
    g_assert_no_error(error);
    GPtrArray *rows = scf_gallery_query(g, NULL, 0, 1000, &error);
    g_assert_no_error(error);
    for (guint i = rows->len; i-- > 0;) {
        const scf_gallery_entry *e = rows->pdata[i];
        g_ptr_array_add(files, g_strdup(e->image_path));
    }
    g_ptr_array_unref(rows);
    scf_gallery_close(g);
    return files;
}

/* ---- conditions ---- */

static gboolean view_idle_with_image(gpointer data)
{
    gboolean busy = TRUE;
    g_object_get(view(), "busy", &busy, NULL);
    return !busy && scf_generate_view_get_image(view()) != NULL;
}

static gboolean view_idle(gpointer data)
{
    gboolean busy = TRUE;
    g_object_get(view(), "busy", &busy, NULL);
    return !busy;
}

static gboolean view_busy(gpointer data)
{
    return !view_idle(data);
}

static gboolean view_has_model(gpointer dir)
{
    g_autofree char *model = NULL;
    g_object_get(view(), "model", &model, NULL);
    return g_strcmp0(model, dir) == 0 && ui_studio_action_enabled("generate");
}

/* ---- driving the view as a user would ---- */

/* Typed into the prompt field at the cursor, as key presses insert text. */
static void type_prompt(const char *text)
{
    GtkTextView *prompt = GTK_TEXT_VIEW(ui_find_descendant(GTK_WIDGET(view()), GTK_TYPE_TEXT_VIEW));
    g_assert_nonnull(prompt);
    gtk_widget_grab_focus(GTK_WIDGET(prompt));
    gtk_text_buffer_insert_interactive_at_cursor(gtk_text_view_get_buffer(prompt), text, -1, TRUE);
}

static void clear_prompt(void)
{
    g_object_set(view(), "prompt", "", NULL);
}

static void assert_accel(const char *accel, const char *action)
{
    g_auto(GStrv) actions =
        gtk_application_get_actions_for_accel(GTK_APPLICATION(ui_studio.app), accel);
    g_assert_true(actions && g_strv_contains((const char *const *)actions, action));
}

/* Escape is no application accelerator, which would run before the focused
 * widget sees the key, but the window's own binding: a bubble-phase
 * shortcut, run only when nothing nearer the focus used the key. */
static void assert_escape_binding(void)
{
    g_auto(GStrv) accel_actions =
        gtk_application_get_actions_for_accel(GTK_APPLICATION(ui_studio.app), "Escape");
    g_assert_true(accel_actions == NULL || accel_actions[0] == NULL);
    g_autoptr(GListModel) controllers =
        gtk_widget_observe_controllers(GTK_WIDGET(ui_studio_window()));
    for (guint i = 0; i < g_list_model_get_n_items(controllers); i++) {
        g_autoptr(GtkEventController) c = g_list_model_get_item(controllers, i);
        if (!GTK_IS_SHORTCUT_CONTROLLER(c) ||
            gtk_event_controller_get_propagation_phase(c) != GTK_PHASE_BUBBLE)
            continue;
        for (guint j = 0; j < g_list_model_get_n_items(G_LIST_MODEL(c)); j++) {
            g_autoptr(GtkShortcut) shortcut = g_list_model_get_item(G_LIST_MODEL(c), j);
            GtkShortcutTrigger *trigger = gtk_shortcut_get_trigger(shortcut);
            GtkShortcutAction *action = gtk_shortcut_get_action(shortcut);
            if (GTK_IS_KEYVAL_TRIGGER(trigger) && GTK_IS_NAMED_ACTION(action) &&
                gtk_keyval_trigger_get_keyval(GTK_KEYVAL_TRIGGER(trigger)) == GDK_KEY_Escape &&
                gtk_keyval_trigger_get_modifiers(GTK_KEYVAL_TRIGGER(trigger)) == 0 &&
                g_strcmp0(gtk_named_action_get_action_name(GTK_NAMED_ACTION(action)),
                          "win.cancel") == 0)
                return;
        }
    }
    g_error("the window does not bind Escape to win.cancel");
}

/* The key's action, as the key press runs it. */
static void press(const char *accel, const char *action)
{
    if (strcmp(accel, "Escape") == 0)
        assert_escape_binding();
    else
        assert_accel(accel, action);
    g_assert_true(ui_studio_action_enabled(action + strlen("win.")));
    g_assert_true(gtk_widget_activate_action(GTK_WIDGET(ui_studio_window()), action, NULL));
}

/* ---- the cases ---- */

/* A fresh data folder has no model: the page says how to get one, and
 * nothing can be generated. */
static void test_empty_state(void)
{
    ui_studio_activate(WAIT_SECONDS);
    ui_wait_drawn(GTK_WIDGET(ui_studio_window()));
    g_autofree char *embedded = scf_model_catalog_default_dir();
    if (embedded) {
        g_test_skip("an embedded model is installed, so there is no empty state");
        return;
    }
    ui_run_for_ms(200); /* the model scan runs on a thread */
    g_assert_cmpstr(ui_stack_page(GTK_WIDGET(view()), "empty"), ==, "empty");
    g_assert_false(ui_studio_action_enabled("generate"));
    g_assert_false(ui_studio_action_enabled("cancel"));
    ui_save_screenshot(GTK_WIDGET(ui_studio_window()), "studio-generate-empty.png");
}

/* Picking a model folder in the empty state stores it in the settings and
 * shows the full page with that model chosen. */
static void test_choose_model_folder(void)
{
    g_autofree char *teacher = ui_studio_model_path("tiny-teacher");
    g_autoptr(GFile) folder = g_file_new_for_path(teacher);
    g_signal_emit_by_name(view(), "model-folder-chosen", folder);

    g_autofree char *stored_folder = g_settings_get_string(ui_studio.settings, "models-folder");
    g_autofree char *stored_model = g_settings_get_string(ui_studio.settings, "default-model");
    g_assert_cmpstr(stored_folder, ==, ui_studio.models_dir);
    g_assert_cmpstr(stored_model, ==, "tiny-teacher");
    g_assert_true(ui_wait_until(view_has_model, teacher, WAIT_SECONDS));
    g_assert_cmpstr(ui_stack_page(GTK_WIDGET(view()), "empty"), ==, "main");

    /* Model chooser: the three model folders, by name. */
    GtkDropDown *chooser = GTK_DROP_DOWN(ui_find_descendant(GTK_WIDGET(view()), GTK_TYPE_DROP_DOWN));
    GListModel *names = gtk_drop_down_get_model(chooser);
    g_assert_cmpuint(g_list_model_get_n_items(names), ==, 3);
    g_assert_cmpstr(gtk_string_list_get_string(GTK_STRING_LIST(names), 0), ==, "broken");
    g_assert_cmpstr(gtk_string_list_get_string(GTK_STRING_LIST(names), 2), ==, "tiny-teacher");
}

/* Reads path's pixels and settings; the pixels must equal texture's. */
static void assert_png_matches(const char *path, GdkTexture *texture, scf_gen_params *params)
{
    g_autoptr(GError) error = NULL;
    gboolean found = FALSE;
    g_autoptr(scf_image) img = scf_png_read(path, params, &found, &error);
    g_assert_no_error(error);
    g_assert_true(found);
    int w = gdk_texture_get_width(texture), h = gdk_texture_get_height(texture);
    g_assert_cmpint(img->width, ==, w);
    g_assert_cmpint(img->height, ==, h);
    g_assert_cmpint(img->channels, ==, 3);
    g_autofree guchar *bgra = g_malloc((gsize)w * h * 4);
    gdk_texture_download(texture, bgra, (gsize)w * 4);
    for (int i = 0; i < w * h; i++) {
        /* GDK_MEMORY_DEFAULT is B, G, R, A in memory on little-endian. */
        g_assert_cmpuint(bgra[4 * i + 2], ==, img->data[3 * i + 0]);
        g_assert_cmpuint(bgra[4 * i + 1], ==, img->data[3 * i + 1]);
        g_assert_cmpuint(bgra[4 * i + 0], ==, img->data[3 * i + 2]);
    }
}

/* The user types a prompt and presses Ctrl+Enter: the image appears at 32×32
 * enlarged with square pixels, and a PNG with its settings is written. The
 * main loop keeps running all along. */
static void test_generate(void)
{
    g_object_set(view(), "random-seed", FALSE, "seed", (guint64)1234, "steps", 2, "batch", 1,
                 "guidance", 1.0, NULL);
    type_prompt("grinning face");
    g_autofree char *prompt = NULL;
    g_object_get(view(), "prompt", &prompt, NULL);
    g_assert_cmpstr(prompt, ==, "grinning face");

    ui_stall_monitor stall;
    ui_stall_start(&stall);
    gint64 start = g_get_monotonic_time();
    press("<Control>Return", "win.generate");
    g_assert_true(view_busy(NULL));
    g_assert_true(ui_studio_action_enabled("cancel"));
    g_assert_true(ui_wait_until(view_idle_with_image, NULL, WAIT_SECONDS));
    double seconds = (g_get_monotonic_time() - start) / 1e6;
    double stall_ms = ui_stall_stop_ms(&stall);
    g_printerr("# generate: 2 steps (with model load) in %.2f s; longest main-loop stall %.1f ms, "
               "main thread busy at most %.1f ms of it (goal < 50 ms; %s)\n", seconds, stall_ms,
               stall.longest_busy / 1e3, renderer_name());
    g_assert_cmpfloat(stall.longest_busy / 1e3, <, UI_BUSY_LIMIT_MS);
    g_assert_cmpfloat(stall_ms, <, UI_STALL_LIMIT_MS);

    GdkTexture *image = scf_generate_view_get_image(view());
    g_assert_cmpint(gdk_texture_get_width(image), ==, 32);
    g_assert_cmpint(gdk_texture_get_height(image), ==, 32);
    /* Best fit shows it enlarged 32 times (pixel for pixel at 1024). */
    GtkPicture *picture = GTK_PICTURE(ui_find_named(GTK_WIDGET(view()), "result-picture"));
    g_assert_nonnull(picture);
    g_assert_true(gtk_widget_get_mapped(GTK_WIDGET(picture)));
    GdkPaintable *shown = gtk_picture_get_paintable(picture);
    g_assert_cmpint(gdk_paintable_get_intrinsic_width(shown), ==, 1024);
    g_assert_cmpint(gdk_paintable_get_intrinsic_height(shown), ==, 1024);

    g_autoptr(GPtrArray) pngs = output_pngs();
    g_assert_cmpuint(pngs->len, ==, 1);
    scf_gen_params p;
    assert_png_matches(pngs->pdata[0], image, &p);
    g_assert_cmpstr(p.prompt, ==, "grinning face");
    g_assert_cmpstr(p.negative_prompt, ==, "");
    g_assert_cmpuint(p.seed, ==, 1234);
    g_assert_cmpint(p.steps, ==, 2);
    g_assert_cmpfloat(p.guidance, ==, 1.0);
    g_assert_cmpint(p.width, ==, 32);
    g_assert_cmpstr(p.model_name, ==, "tiny-teacher");
    g_assert_cmpstr(p.device, ==, "cpu");
    scf_gen_params_clear(&p);

    ui_studio_screenshot("studio-generate-result.png");
}

/* Zoom steps through powers of two; every picture shown is the image
 * enlarged a whole number of times. */
static void test_zoom(void)
{
    GtkWidget *v = ui_find_descendant(GTK_WIDGET(view()), SCF_TYPE_IMAGE_VIEWER);
    GtkPicture *picture = GTK_PICTURE(ui_find_named(v, "result-picture"));
    g_assert_true(gtk_widget_activate_action(v, "viewer.zoom-out", NULL));
    int width = gdk_paintable_get_intrinsic_width(gtk_picture_get_paintable(picture));
    g_assert_cmpint(width, <, 1024);
    g_assert_cmpint(width % 32, ==, 0);
    g_assert_true(gtk_widget_activate_action(v, "viewer.zoom-in", NULL));
    g_assert_cmpint(gdk_paintable_get_intrinsic_width(gtk_picture_get_paintable(picture)), ==,
                    2 * width);
    g_assert_true(gtk_widget_activate_action(v, "viewer.zoom-fit", NULL));
    g_assert_cmpint(gdk_paintable_get_intrinsic_width(gtk_picture_get_paintable(picture)), ==,
                    1024);
}

/* A batch of four: four PNGs with consecutive seeds, a grid of four
 * thumbnails, and picking one shows it. */
static void test_batch(void)
{
    g_autoptr(GPtrArray) before = output_pngs();
    g_object_set(view(), "seed", (guint64)50, "steps", 1, "batch", 4, NULL);
    press("<Control>Return", "win.generate");
    g_assert_true(ui_wait_until(view_idle, NULL, WAIT_SECONDS));
    g_autoptr(GPtrArray) after = output_pngs();
    g_assert_cmpuint(after->len, ==, before->len + 4);

    GtkFlowBox *grid = GTK_FLOW_BOX(ui_find_descendant(GTK_WIDGET(view()), GTK_TYPE_FLOW_BOX));
    g_assert_nonnull(grid);
    g_assert_true(gtk_widget_get_mapped(GTK_WIDGET(grid)));
    g_autoptr(GPtrArray) thumbnails = g_ptr_array_new();
    ui_collect_descendants(GTK_WIDGET(grid), GTK_TYPE_FLOW_BOX_CHILD, thumbnails);
    g_assert_cmpuint(thumbnails->len, ==, 4);

    GdkTexture *first = scf_generate_view_get_image(view());
    gtk_flow_box_select_child(grid, gtk_flow_box_get_child_at_index(grid, 2));
    GdkTexture *third = scf_generate_view_get_image(view());
    g_assert_true(first != third);
    /* The third image is the one with seed 52. */
    gboolean matched = FALSE;
    for (guint i = 0; i < after->len; i++) {
        scf_gen_params p;
        gboolean found = FALSE;
        g_assert_true(scf_png_read_params(after->pdata[i], &p, &found, NULL));
        if (p.seed == 52 && p.steps == 1) {
            assert_png_matches(after->pdata[i], third, &p);
            matched = TRUE;
        }
        scf_gen_params_clear(&p);
    }
    g_assert_true(matched);
    ui_studio_screenshot("studio-generate-batch.png");
    g_object_set(view(), "batch", 1, NULL);
}

typedef struct {
    int cancel_at;           /* step to press Escape at */
    int seen;                /* the step shown when it was pressed */
} cancel_plan;

/* Presses Escape from the progress report itself, so the step shown is the
 * step the worker had just finished. */
static void cancel_on_step(GObject *object, GParamSpec *pspec, gpointer data)
{
    cancel_plan *plan = data;
    int step = 0;
    g_object_get(object, "progress-step", &step, NULL);
    if (plan->seen == 0 && step >= plan->cancel_at) {
        plan->seen = step;
        press("Escape", "win.cancel");
    }
}

static gboolean progress_at_least(gpointer data)
{
    int step = 0;
    g_object_get(view(), "progress-step", &step, NULL);
    return step >= GPOINTER_TO_INT(data);
}

/* Escape during a long run stops it within the step under way: no image,
 * no file, and the page says where it stopped. The main loop is watched
 * while the steps run. */
static void test_cancel(void)
{
    const int steps = 1000;
    g_autoptr(GPtrArray) before = output_pngs();
    g_object_set(view(), "steps", steps, NULL);
    ui_stall_monitor stall;
    ui_stall_start(&stall);
    press("<Control>Return", "win.generate");
    g_assert_true(ui_wait_until(progress_at_least, GINT_TO_POINTER(2), WAIT_SECONDS));
    double stall_ms = ui_stall_stop_ms(&stall), busy_ms = stall.longest_busy / 1e3;
    ui_studio_screenshot("studio-generate-progress.png");

    int now = 0;
    g_object_get(view(), "progress-step", &now, NULL);
    cancel_plan plan = { .cancel_at = now + 2 };
    gulong handler = g_signal_connect(view(), "notify::progress-step", G_CALLBACK(cancel_on_step),
                                      &plan);
    ui_stall_start(&stall);
    g_assert_true(ui_wait_until(view_idle, NULL, WAIT_SECONDS));
    double stall_after_ms = ui_stall_stop_ms(&stall);
    stall_ms = MAX(stall_ms, stall_after_ms);
    busy_ms = MAX(busy_ms, stall.longest_busy / 1e3);
    g_signal_handler_disconnect(view(), handler);

    int stopped = 0;
    g_object_get(view(), "progress-step", &stopped, NULL);
    g_printerr("# cancel: Escape at step %d of %d, stopped after step %d; longest main-loop "
               "stall while sampling %.1f ms, main thread busy at most %.1f ms of it (goal < "
               "50 ms; %s)\n", plan.seen, steps, stopped, stall_ms, busy_ms, renderer_name());
    g_assert_cmpint(plan.seen, >=, plan.cancel_at);
    /* The step under way when Escape came completes; at most one more may
     * have finished between reading the step shown and the key press. */
    g_assert_cmpint(stopped, >=, plan.seen);
    g_assert_cmpint(stopped, <=, plan.seen + 2);
    g_assert_cmpfloat(stall.longest_busy / 1e3, <, UI_BUSY_LIMIT_MS);
    g_assert_cmpfloat(stall_ms, <, UI_STALL_LIMIT_MS);
    g_assert_false(ui_studio_action_enabled("cancel"));
    g_autoptr(GPtrArray) after = output_pngs();
    g_assert_cmpuint(after->len, ==, before->len);
    ui_studio_screenshot("studio-generate-cancelled.png");
    g_object_set(view(), "steps", 2, NULL);
}

/* ---- real key presses, through the X server ---- */

/* Presses key in the main window as a user does (xdotool's XTEST), so
 * that GTK routes it from the focused widget; FALSE where that cannot be
 * done (no xdotool, not X11). */
static gboolean send_key(const char *key)
{
    g_autofree char *xdotool = g_find_program_in_path("xdotool");
    GdkSurface *surface = gtk_native_get_surface(GTK_NATIVE(ui_studio_window()));
    if (!xdotool || !GDK_IS_X11_SURFACE(surface))
        return FALSE;
    g_autofree char *window = g_strdup_printf("%lu", (gulong)gdk_x11_surface_get_xid(surface));
    const char *argv[] = { xdotool, "windowfocus", "--sync", window, "key", key, NULL };
    int status = -1;
    g_autoptr(GError) error = NULL;
    g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, NULL,
                               NULL, &status, &error));
    g_assert_no_error(error);
    g_assert_true(g_spawn_check_wait_status(status, NULL));
    return TRUE;
}

static gboolean widget_unmapped(gpointer widget)
{
    return !gtk_widget_get_mapped(widget);
}

static gboolean widget_mapped(gpointer widget)
{
    return gtk_widget_get_mapped(widget);
}

static gboolean editable_empty(gpointer editable)
{
    return *gtk_editable_get_text(editable) == 0;
}

/* While a generation runs, Escape first closes an open popover, then
 * clears the gallery's search (Ctrl+F), and cancels only when the focused
 * widget has no use for it: real key presses, routed by GTK. */
static void test_escape_yields(void)
{
    /* a Shift press: nothing, but whether keys can be pressed at all */
    if (!send_key("shift")) {
        g_test_skip("needs xdotool and an X11 display to press real keys");
        return;
    }
    g_autoptr(GPtrArray) before = output_pngs();
    g_object_set(view(), "steps", 1000, NULL);
    press("<Control>Return", "win.generate");
    g_assert_true(ui_wait_until(progress_at_least, GINT_TO_POINTER(1), WAIT_SECONDS));

    GtkMenuButton *menu = GTK_MENU_BUTTON(ui_find_descendant(GTK_WIDGET(ui_studio_window()),
                                                             GTK_TYPE_MENU_BUTTON));
    g_assert_nonnull(menu);
    gtk_menu_button_popup(menu);
    GtkWidget *popover = GTK_WIDGET(gtk_menu_button_get_popover(menu));
    g_assert_true(ui_wait_until(widget_mapped, popover, WAIT_SECONDS));
    g_assert_true(send_key("Escape"));
    g_assert_true(ui_wait_until(widget_unmapped, popover, WAIT_SECONDS));
    g_assert_true(view_busy(NULL));

    g_assert_true(gtk_widget_activate_action(GTK_WIDGET(ui_studio_window()), "win.search-gallery",
                                             NULL));
    GtkWidget *search = ui_find_descendant(
        GTK_WIDGET(scf_window_get_gallery_view(ui_studio_window())), GTK_TYPE_SEARCH_ENTRY);
    g_assert_nonnull(search);
    gtk_editable_set_text(GTK_EDITABLE(search), "grinning");
    ui_wait_drawn(GTK_WIDGET(ui_studio_window()));
    GtkWidget *focus = gtk_root_get_focus(GTK_ROOT(ui_studio_window()));
    g_assert_true(focus && gtk_widget_is_ancestor(focus, search));
    g_assert_true(send_key("Escape"));
    g_assert_true(ui_wait_until(editable_empty, search, WAIT_SECONDS));
    g_assert_true(view_busy(NULL));

    gtk_widget_activate_action(GTK_WIDGET(ui_studio_window()), "win.page", "s", "generate");
    GtkWidget *prompt = ui_find_descendant(GTK_WIDGET(view()), GTK_TYPE_TEXT_VIEW);
    gtk_widget_grab_focus(prompt);
    g_assert_true(send_key("Escape"));
    g_assert_true(ui_wait_until(view_idle, NULL, WAIT_SECONDS));
    int stopped = 0;
    g_object_get(view(), "progress-step", &stopped, NULL);
    g_assert_cmpint(stopped, <, 1000);
    g_autoptr(GPtrArray) after = output_pngs();
    g_assert_cmpuint(after->len, ==, before->len);
    g_object_set(view(), "steps", 2, NULL);
}

static gboolean view_shows_prompt(gpointer prompt)
{
    GtkPicture *picture = GTK_PICTURE(ui_find_named(GTK_WIDGET(view()), "result-picture"));
    return view_idle(NULL) && g_strcmp0(gtk_picture_get_alternative_text(picture), prompt) == 0;
}

/* With a one-step model and live generation on, typing generates once the
 * typing pauses: one image for a burst of keys, showing the whole prompt. */
static void test_live(void)
{
    g_autofree char *student = ui_studio_model_path("tiny-student");
    g_settings_set_boolean(ui_studio.settings, "live-generation", TRUE);
    g_object_set(view(), "model", student, NULL);
    g_assert_true(ui_wait_until(view_has_model, student, WAIT_SECONDS));
    gboolean available = FALSE, live = FALSE;
    int steps = 0;
    g_object_get(view(), "live-available", &available, "live", &live, "steps", &steps, NULL);
    g_assert_true(available);
    g_assert_true(live);
    g_assert_cmpint(steps, ==, 1); /* the model's own default */

    g_autoptr(GPtrArray) before = output_pngs();
    clear_prompt();
    const char *keys[] = { "r", "o", "c", "k", "e", "t" };
    for (gsize i = 0; i < G_N_ELEMENTS(keys); i++) {
        type_prompt(keys[i]);
        ui_run_for_ms(40);
        g_assert_true(view_idle(NULL)); /* no job before the pause */
    }
    g_assert_true(ui_wait_until(view_shows_prompt, "rocket", WAIT_SECONDS));
    g_autoptr(GPtrArray) after = output_pngs();
    g_assert_cmpuint(after->len, ==, before->len + 1);
    for (guint i = 0; i < after->len; i++) {
        scf_gen_params p;
        gboolean found = FALSE;
        g_assert_true(scf_png_read_params(after->pdata[i], &p, &found, NULL));
        if (!g_ptr_array_find_with_equal_func(before, after->pdata[i], g_str_equal, NULL)) {
            g_assert_cmpstr(p.prompt, ==, "rocket");
            g_assert_cmpstr(p.model_name, ==, "tiny-student");
        }
        scf_gen_params_clear(&p);
    }
    ui_studio_screenshot("studio-generate-live.png");

    /* Off again: typing does nothing. */
    g_settings_set_boolean(ui_studio.settings, "live-generation", FALSE);
    type_prompt(" ship");
    ui_run_for_ms(600);
    g_assert_true(view_idle(NULL));
    g_autoptr(GPtrArray) later = output_pngs();
    g_assert_cmpuint(later->len, ==, after->len);
}

static gboolean error_shown(gpointer data)
{
    GtkWidget *v = GTK_WIDGET(view());
    g_autoptr(GPtrArray) revealers = g_ptr_array_new();
    ui_collect_descendants(v, GTK_TYPE_REVEALER, revealers);
    for (guint i = 0; i < revealers->len; i++) {
        GtkWidget *child = gtk_revealer_get_child(revealers->pdata[i]);
        if (child && gtk_widget_has_css_class(child, "error") &&
            gtk_revealer_get_reveal_child(revealers->pdata[i]))
            return view_idle(NULL);
    }
    return FALSE;
}

/* An engine error (a model whose config cannot be read) shows in the
 * window, naming the file. */
static void test_error(void)
{
    g_autofree char *broken = ui_studio_model_path("broken");
    g_object_set(view(), "model", broken, NULL);
    g_assert_true(ui_wait_until(view_has_model, broken, WAIT_SECONDS));
    press("<Control>Return", "win.generate");
    g_assert_true(ui_wait_until(error_shown, NULL, WAIT_SECONDS));
    g_autoptr(GPtrArray) labels = g_ptr_array_new();
    ui_collect_descendants(GTK_WIDGET(view()), GTK_TYPE_LABEL, labels);
    gboolean named = FALSE;
    for (guint i = 0; i < labels->len; i++)
        named |= strstr(gtk_label_get_label(labels->pdata[i]), "config.json") != NULL;
    g_assert_true(named);
    ui_studio_screenshot("studio-generate-error.png");
}

/* ---- the job runner without a window ---- */

/* A newer job with the same supersede tag cancels the older one; a job with
 * another tag is left to finish. */
static void test_runner_supersede(void)
{
    g_autoptr(ScfJobRunner) runner = scf_job_runner_new();
    g_autofree char *teacher = ui_studio_model_path("tiny-teacher");
    ScfGenerationRequest r = { .model_dir = teacher, .device = "cpu", .threads = 1,
                               .prompt = "red heart", .steps = 1000, .guidance = 1, .batch = 1 };
    int tag_a, tag_b;
    ui_job_outcome old = { 0 }, other = { 0 }, newer = { 0 };
    scf_job_runner_generate_async(runner, &r, &tag_a, NULL, NULL, NULL, NULL, ui_job_finished,
                                  &old);
    r.steps = 2;
    scf_job_runner_generate_async(runner, &r, &tag_b, NULL, NULL, NULL, NULL, ui_job_finished,
                                  &other);
    scf_job_runner_generate_async(runner, &r, &tag_a, NULL, NULL, NULL, NULL, ui_job_finished,
                                  &newer);
    g_assert_true(ui_wait_until(ui_job_done, &newer, WAIT_SECONDS));
    g_assert_true(old.done && other.done);
    g_assert_error(old.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_assert_cmpint(old.steps_done, <, 1000);
    g_assert_no_error(other.error);
    g_assert_no_error(newer.error);
    g_assert_cmpuint(newer.generation->images->len, ==, 1);
    g_assert_cmpint(newer.steps_done, ==, 2);
    g_clear_error(&old.error);
    scf_generation_free(other.generation);
    scf_generation_free(newer.generation);
}

/* The precision is CUDA's: "cpu" computes in fp32 rather than refusing
 * another precision, and "auto" without a GPU falls back the same way (with
 * a GPU it samples in that precision). Both make the same image as fp32 on
 * the processor. */
static void test_runner_precision(void)
{
    g_autoptr(ScfJobRunner) runner = scf_job_runner_new();
    g_autofree char *teacher = ui_studio_model_path("tiny-teacher");
    ScfGenerationRequest r = { .model_dir = teacher, .device = "cpu", .threads = 1,
                               .prompt = "red heart", .seed = 5, .steps = 2, .guidance = 1,
                               .batch = 1 };
    ui_job_outcome fp32 = { 0 }, cpu = { 0 }, automatic = { 0 };
    scf_job_runner_generate_async(runner, &r, NULL, NULL, NULL, NULL, NULL, ui_job_finished, &fp32);
    r.precision = SCF_PRECISION_BF16;
    scf_job_runner_generate_async(runner, &r, NULL, NULL, NULL, NULL, NULL, ui_job_finished, &cpu);
    r.device = "auto";
    scf_job_runner_generate_async(runner, &r, NULL, NULL, NULL, NULL, NULL, ui_job_finished,
                                  &automatic);
    g_assert_true(ui_wait_until(ui_job_done, &automatic, WAIT_SECONDS));
    g_assert_true(fp32.done && cpu.done);
    g_assert_no_error(fp32.error);
    g_assert_no_error(cpu.error);
    g_assert_no_error(automatic.error);
    ScfGeneratedImage *ref = fp32.generation->images->pdata[0];
    ScfGeneratedImage *img = cpu.generation->images->pdata[0];
    g_assert_cmpstr(img->params.device, ==, "cpu");
    g_autoptr(GBytes) a = gdk_texture_save_to_png_bytes(ref->texture);
    g_autoptr(GBytes) b = gdk_texture_save_to_png_bytes(img->texture);
    g_assert_true(g_bytes_equal(a, b));
    ScfGeneratedImage *fallback = automatic.generation->images->pdata[0];
    g_test_message("auto + bf16 ran on %s", fallback->params.device);
    if (strcmp(fallback->params.device, "cpu") == 0) {
        g_autoptr(GBytes) c = gdk_texture_save_to_png_bytes(fallback->texture);
        g_assert_true(g_bytes_equal(a, c));
    }
    scf_generation_free(fp32.generation);
    scf_generation_free(cpu.generation);
    scf_generation_free(automatic.generation);
}

static void test_quit(void)
{
    ui_app_quit(GTK_APPLICATION(ui_studio.app), WAIT_SECONDS);
}

/* ---- setup ---- */

/* The models of the cases, and a folder whose config cannot be read. */
static void write_models(void)
{
    ui_studio_write_model("tiny-teacher", 8);
    ui_studio_write_model("tiny-student", 1);
    g_autofree char *broken = g_build_filename(ui_studio.models_dir, "broken", NULL);
    g_autofree char *config = g_build_filename(broken, "config.json", NULL);
    g_assert_cmpint(g_mkdir_with_parents(broken, 0755), ==, 0);
    g_assert_true(g_file_set_contents(config, "{\"format\": ", -1, NULL));
}

/* Dropping a PNG restores its settings: one written the A1111 way by
 * Pillow (tests/fixtures/png), and a file with no settings is an error that
 * names it. Runs what the window's drop target runs. */
static void test_drop_png(void)
{
    ScfGenerateController *c =
        g_object_get_data(G_OBJECT(ui_studio_window()), "scf-generate-controller");
    g_assert_nonnull(c);
    g_autofree char *a1111 = g_build_filename(g_getenv("SCF_FIXTURES"), "png", "a1111.png", NULL);
    GError *error = NULL;
    g_assert_true(scf_generate_controller_restore_from_png(c, a1111, &error));
    g_assert_no_error(error);
    g_autofree char *prompt = NULL, *negative = NULL;
    guint64 seed = 0;
    int steps = 0;
    double guidance = 0;
    gboolean random_seed = TRUE;
    g_object_get(view(), "prompt", &prompt, "negative-prompt", &negative, "seed", &seed, "steps",
                 &steps, "guidance", &guidance, "random-seed", &random_seed, NULL);
    g_assert_cmpstr(prompt, ==, "a café at night, (masterpiece:1.2)\nwide shot, 35mm");
    g_assert_cmpstr(negative, ==, "blurry, lowres\nwatermark");
    g_assert_cmpuint(seed, ==, 1234567890);
    g_assert_cmpint(steps, ==, 20);
    g_assert_cmpfloat(guidance, ==, 7.5);
    g_assert_false(random_seed);

    g_autofree char *not_png = g_build_filename(ui_studio.root, "notes.txt", NULL);
    g_assert_true(g_file_set_contents(not_png, "hello", -1, NULL));
    g_assert_false(scf_generate_controller_restore_from_png(c, not_png, &error));
    g_assert_nonnull(strstr(error->message, "notes.txt"));
    g_clear_error(&error);
}

int main(int argc, char **argv)
{
    int early = ui_studio_begin("scf-ui-generate", &argc, &argv);
    if (early >= 0)
        return early;
    write_models();
    g_settings_set_string(ui_studio.settings, "device", "cpu");
    /* CUDA's precision, which the processor must not refuse: it computes in fp32 */
    g_settings_set_string(ui_studio.settings, "precision", "bf16");
    ui_studio_start();

    g_test_add_func("/ui/generate/empty-state", test_empty_state);
    g_test_add_func("/ui/generate/choose-model-folder", test_choose_model_folder);
    g_test_add_func("/ui/generate/generate", test_generate);
    g_test_add_func("/ui/generate/zoom", test_zoom);
    g_test_add_func("/ui/generate/batch", test_batch);
    g_test_add_func("/ui/generate/cancel", test_cancel);
    g_test_add_func("/ui/generate/escape-yields", test_escape_yields);
    g_test_add_func("/ui/generate/live", test_live);
    g_test_add_func("/ui/generate/error", test_error);
    g_test_add_func("/ui/generate/runner-supersede", test_runner_supersede);
    g_test_add_func("/ui/generate/runner-precision", test_runner_precision);
    g_test_add_func("/ui/generate/drop-png", test_drop_png);
    g_test_add_func("/ui/generate/quit", test_quit);
    return ui_studio_run();
}
