/* The Gallery page of the real application under Xvfb, over galleries the
 * test writes with core's own scf_gallery_insert: the grid shows the images,
 * a search narrows them, the filters and favourites, the detail pane shows
 * every setting, delete and undo, export, "use these settings" fills the
 * Generate page, Ctrl+F, and the time to show the end of a 10,000-image
 * gallery after scrolling there. Screenshots go to $SCF_TEST_OUT.
 *
 * The cases share one application and run in order. The data, config and
 * home folders are fresh temporary ones, and settings live in memory. */
#include "scf-application.h"
#include "scf-gallery-controller.h"
#include "scf-gallery-model.h"
#include "scf-generate-controller.h"
#include "scf-image-viewer.h"
#include "scf-window.h"
#include "scflow.h"
#include "ui-harness.h"
#include <sqlite3.h>
#include <string.h>
#include <unistd.h>

/* Generous: other work may share the machine's two cores. */
#define WAIT_SECONDS 60
#define BIG_ROWS 10000
/* Showing the last page after a jump to the end: the goal is 50 ms; the
 * limit leaves room for a machine shared with other work. */
#define SHOW_GOAL_MS 50.0
#define SHOW_LIMIT_MS 250.0

/* The rows the small gallery starts with, oldest first. */
static const struct {
    const char *prompt, *negative, *model;
    int steps;
    double guidance;
    guint64 seed;
} rows[] = {
    { "a red apple", "", "tiny-student", 1, 1.0, 11 },
    { "a blue whale", "blurry", "other-model", 4, 3.5, 22 },
    { "a red rose in the rain", "", "tiny-student", 2, 1.0, 33 },
    { "a green frog", "dark", "tiny-student", 4, 2.0, 44 },
    { "a yellow sun", "", "other-model", 1, 1.0, 4000000000u },
};
static gint64 row_ids[G_N_ELEMENTS(rows)];

/* ---- finding things ---- */

static ScfGalleryView *view(void)
{
    return scf_window_get_gallery_view(ui_studio_window());
}

static GListModel *items(void)
{
    ScfGalleryController *c =
        g_object_get_data(G_OBJECT(ui_studio_window()), "scf-gallery-controller");
    g_assert_nonnull(c);
    return scf_gallery_controller_get_items(c);
}

static guint n_items(void)
{
    return items() ? g_list_model_get_n_items(items()) : 0;
}

static GtkStack *window_stack(void)
{
    return GTK_STACK(ui_find_descendant(GTK_WIDGET(ui_studio_window()), GTK_TYPE_STACK));
}

static const char *label_text(const char *name)
{
    GtkWidget *label = ui_find_named(GTK_WIDGET(view()), name);
    g_assert_nonnull(label);
    return gtk_label_get_text(GTK_LABEL(label));
}

static GtkGridView *grid(void)
{
    return GTK_GRID_VIEW(ui_find_descendant(GTK_WIDGET(view()), GTK_TYPE_GRID_VIEW));
}

static void select_position(guint position)
{
    GtkSelectionModel *selection = gtk_grid_view_get_model(grid());
    g_assert_true(gtk_selection_model_select_item(selection, position, TRUE));
}

/* The position of the image with prompt, or -1. */
static int position_of(const char *prompt)
{
    for (guint i = 0; i < n_items(); i++) {
        g_autoptr(GObject) item = g_list_model_get_item(items(), i);
        g_autofree char *p = NULL;
        g_object_get(item, "prompt", &p, NULL);
        if (g_strcmp0(p, prompt) == 0)
            return (int)i;
    }
    return -1;
}

/* The grid's cells that show a thumbnail, whose text alternative is the
 * prompt. */
static GPtrArray *shown_prompts(void)
{
    g_autoptr(GPtrArray) pictures = g_ptr_array_new();
    ui_collect_descendants(GTK_WIDGET(grid()), GTK_TYPE_PICTURE, pictures);
    GPtrArray *prompts = g_ptr_array_new();
    for (guint i = 0; i < pictures->len; i++) {
        GtkPicture *picture = pictures->pdata[i];
        if (gtk_widget_get_mapped(pictures->pdata[i]) && gtk_picture_get_paintable(picture))
            g_ptr_array_add(prompts, (gpointer)gtk_picture_get_alternative_text(picture));
    }
    return prompts;
}

static gboolean shows_prompt(const char *prompt)
{
    g_autoptr(GPtrArray) prompts = shown_prompts();
    for (guint i = 0; i < prompts->len; i++)
        if (g_strcmp0(prompts->pdata[i], prompt) == 0)
            return TRUE;
    return FALSE;
}

static scf_gallery *open_gallery(const char *dir)
{
    g_autoptr(GError) error = NULL;
    scf_gallery *g = scf_gallery_open(dir, NULL, &error);
    g_assert_no_error(error);
    return g;
}

static char *output_dir(void)
{
    return scf_generate_controller_output_folder(ui_studio.settings);
}

/* ---- conditions ---- */

static gboolean has_n_items(gpointer n)
{
    return n_items() == GPOINTER_TO_UINT(n);
}

static gboolean prompt_shown(gpointer prompt)
{
    return shows_prompt(prompt);
}

static gboolean generate_has_model(gpointer data)
{
    g_autofree char *model = NULL;
    g_object_get(scf_window_get_generate_view(ui_studio_window()), "model", &model, NULL);
    return model != NULL;
}

static void wait_items(guint n)
{
    g_assert_true(ui_wait_until(has_n_items, GUINT_TO_POINTER(n), WAIT_SECONDS));
    ui_wait_drawn(GTK_WIDGET(ui_studio_window()));
}

/* ---- the cases ---- */

/* The gallery opens when its page is first shown: every image, newest
 * first, with its thumbnail. */
static void test_grid(void)
{
    ui_studio_activate(WAIT_SECONDS);
    gtk_window_set_default_size(GTK_WINDOW(ui_studio_window()), 1100, 720);
    g_assert_true(gtk_widget_activate_action(GTK_WIDGET(ui_studio_window()), "win.page", "s",
                                             "gallery"));
    wait_items(G_N_ELEMENTS(rows));
    for (guint i = 0; i < G_N_ELEMENTS(rows); i++) {
        g_autoptr(ScfGalleryItem) item = g_list_model_get_item(items(), i);
        g_assert_cmpint(scf_gallery_item_get_id(item), ==, row_ids[G_N_ELEMENTS(rows) - 1 - i]);
        g_assert_true(ui_wait_until(prompt_shown, (gpointer)rows[i].prompt, WAIT_SECONDS));
        /* thumbnails are 128 pixels on the longer side, shown at that size */
        GdkTexture *thumb = scf_gallery_item_get_thumbnail(item);
        g_assert_nonnull(thumb);
        g_assert_cmpint(gdk_texture_get_width(thumb), ==, 128);
    }
    /* The filters offer what the gallery holds. */
    GtkDropDown *model = GTK_DROP_DOWN(ui_find_descendant(GTK_WIDGET(view()), GTK_TYPE_DROP_DOWN));
    g_assert_nonnull(model);
    GListModel *models = gtk_drop_down_get_model(model);
    g_assert_cmpuint(g_list_model_get_n_items(models), ==, 3); /* all, other-model, tiny-student */
    g_assert_cmpstr(gtk_string_list_get_string(GTK_STRING_LIST(models), 1), ==, "other-model");
    ui_save_screenshot(GTK_WIDGET(ui_studio_window()), "studio-gallery.png");
}

/* Selecting an image shows it at its own pixels and every setting. */
static void test_detail(void)
{
    int at = position_of("a blue whale");
    g_assert_cmpint(at, >=, 0);
    select_position(at);
    ui_wait_drawn(GTK_WIDGET(ui_studio_window()));
    g_assert_cmpstr(label_text("detail-prompt"), ==, "a blue whale");
    g_assert_cmpstr(label_text("detail-negative"), ==, "blurry");
    g_assert_cmpstr(label_text("detail-seed"), ==, "22");
    g_assert_cmpstr(label_text("detail-steps"), ==, "4");
    g_assert_cmpstr(label_text("detail-guidance"), ==, "3.50");
    g_assert_cmpstr(label_text("detail-model"), ==, "other-model");
    g_assert_cmpstr(label_text("detail-device"), ==, "cpu");
    g_assert_cmpstr(label_text("detail-duration"), ==, "0.25 s");
    g_assert_nonnull(strstr(label_text("detail-size"), "8"));
    ScfImageViewer *viewer =
        SCF_IMAGE_VIEWER(ui_find_descendant(GTK_WIDGET(view()), SCF_TYPE_IMAGE_VIEWER));
    GdkTexture *image = scf_image_viewer_get_image(viewer);
    g_assert_nonnull(image);
    g_assert_cmpint(gdk_texture_get_width(image), ==, 8);
    g_assert_cmpint(gdk_texture_get_height(image), ==, 6);
    ui_save_screenshot(GTK_WIDGET(ui_studio_window()), "studio-gallery-detail.png");
}

static void set_search(const char *text)
{
    GtkWidget *entry = ui_find_descendant(GTK_WIDGET(view()), GTK_TYPE_SEARCH_ENTRY);
    gtk_editable_set_text(GTK_EDITABLE(entry), text);
}

/* Typing narrows the grid to the prompts with every word, once typing
 * pauses; Ctrl+F's action shows the page and focuses the entry. */
static void test_search(void)
{
    g_auto(GStrv) actions = gtk_application_get_actions_for_accel(GTK_APPLICATION(ui_studio.app),
                                                                  "<Control>f");
    g_assert_true(actions && g_strv_contains((const char *const *)actions, "win.search-gallery"));
    gtk_widget_activate_action(GTK_WIDGET(ui_studio_window()), "win.page", "s", "generate");
    g_assert_true(gtk_widget_activate_action(GTK_WIDGET(ui_studio_window()), "win.search-gallery",
                                             NULL));
    g_assert_cmpstr(gtk_stack_get_visible_child_name(window_stack()), ==, "gallery");
    GtkWidget *entry = ui_find_descendant(GTK_WIDGET(view()), GTK_TYPE_SEARCH_ENTRY);
    GtkWidget *focus = gtk_root_get_focus(GTK_ROOT(ui_studio_window()));
    g_assert_true(focus && gtk_widget_is_ancestor(focus, entry));

    set_search("red");
    g_assert_cmpuint(n_items(), ==, G_N_ELEMENTS(rows)); /* debounced: not yet */
    wait_items(2);
    g_assert_cmpint(position_of("a red apple"), >=, 0);
    g_assert_cmpint(position_of("a red rose in the rain"), >=, 0);
    g_assert_false(shows_prompt("a blue whale"));
    ui_save_screenshot(GTK_WIDGET(ui_studio_window()), "studio-gallery-search.png");
    set_search("red ROSE");
    wait_items(1);
    set_search("nothing-like-this");
    wait_items(0);
    GtkStack *grid_stack = GTK_STACK(gtk_widget_get_ancestor(GTK_WIDGET(grid()), GTK_TYPE_STACK));
    g_assert_cmpstr(gtk_stack_get_visible_child_name(grid_stack), ==, "empty");
    set_search("");
    wait_items(G_N_ELEMENTS(rows));
}

/* Steps and model filters, and favourites: the star is stored. */
static void test_filters(void)
{
    g_autoptr(GPtrArray) dropdowns = g_ptr_array_new();
    ui_collect_descendants(GTK_WIDGET(view()), GTK_TYPE_DROP_DOWN, dropdowns);
    g_assert_cmpuint(dropdowns->len, ==, 2);
    GtkDropDown *model = dropdowns->pdata[0], *steps = dropdowns->pdata[1];
    GListModel *step_names = gtk_drop_down_get_model(steps);
    g_assert_cmpuint(g_list_model_get_n_items(step_names), ==, 4); /* any, 1, 2, 4 */
    gtk_drop_down_set_selected(steps, 3);
    wait_items(2);
    gtk_drop_down_set_selected(model, 2); /* tiny-student */
    wait_items(1);
    g_assert_cmpint(position_of("a green frog"), ==, 0);
    gtk_drop_down_set_selected(steps, 0);
    gtk_drop_down_set_selected(model, 0);
    wait_items(G_N_ELEMENTS(rows));

    int at = position_of("a green frog");
    select_position(at);
    g_autoptr(GPtrArray) toggles = g_ptr_array_new();
    ui_collect_descendants(GTK_WIDGET(view()), GTK_TYPE_TOGGLE_BUTTON, toggles);
    GtkToggleButton *favourites_only = NULL, *star = NULL;
    for (guint i = 0; i < toggles->len; i++) {
        const char *tip = gtk_widget_get_tooltip_text(toggles->pdata[i]);
        if (g_strcmp0(tip, "Favourite") == 0)
            star = toggles->pdata[i];
        else if (g_strcmp0(tip, "Favourites Only") == 0)
            favourites_only = toggles->pdata[i];
    }
    g_assert_nonnull(star);
    g_assert_nonnull(favourites_only);
    g_assert_false(gtk_toggle_button_get_active(star));
    gtk_toggle_button_set_active(star, TRUE);
    g_autofree char *dir = output_dir();
    g_autoptr(scf_gallery) g = open_gallery(dir);
    g_autoptr(GError) error = NULL;
    g_autoptr(scf_gallery_entry) e = scf_gallery_get(g, row_ids[3], &error);
    g_assert_no_error(error);
    g_assert_true(e->favourite);
    gtk_toggle_button_set_active(favourites_only, TRUE);
    wait_items(1);
    g_assert_cmpint(position_of("a green frog"), ==, 0);
    gtk_toggle_button_set_active(favourites_only, FALSE);
    wait_items(G_N_ELEMENTS(rows));
}

static gboolean banner_shown(gpointer data)
{
    GtkRevealer *banner = GTK_REVEALER(ui_find_descendant(GTK_WIDGET(view()), GTK_TYPE_REVEALER));
    return gtk_revealer_get_child_revealed(banner) == GPOINTER_TO_INT(data);
}

static scf_gallery_state row_state(gint64 id)
{
    g_autofree char *dir = output_dir();
    g_autoptr(scf_gallery) g = open_gallery(dir);
    g_autoptr(GError) error = NULL;
    g_autoptr(scf_gallery_entry) e = scf_gallery_get(g, id, &error);
    g_assert_no_error(error);
    return e->state;
}

/* Delete moves the image to the trash and offers Undo, which brings it
 * back. */
static void test_delete_undo(void)
{
    select_position(position_of("a red apple"));
    g_assert_true(gtk_widget_activate_action(GTK_WIDGET(view()), "gallery.delete", NULL));
    g_assert_cmpuint(n_items(), ==, G_N_ELEMENTS(rows) - 1);
    g_assert_cmpint(position_of("a red apple"), ==, -1);
    g_assert_cmpint(row_state(row_ids[0]), ==, SCF_GALLERY_DELETED);
    g_assert_true(ui_wait_until(banner_shown, GINT_TO_POINTER(TRUE), WAIT_SECONDS));
    ui_studio_screenshot("studio-gallery-deleted.png");

    g_assert_true(gtk_widget_activate_action(GTK_WIDGET(view()), "gallery.undo", NULL));
    g_assert_cmpuint(n_items(), ==, G_N_ELEMENTS(rows));
    g_assert_cmpint(position_of("a red apple"), >=, 0);
    g_assert_cmpint(row_state(row_ids[0]), ==, SCF_GALLERY_OK);
    g_assert_true(ui_wait_until(banner_shown, GINT_TO_POINTER(FALSE), WAIT_SECONDS));
}

/* Export writes the PNG, settings included, into the folder chosen. */
static void test_export(void)
{
    select_position(position_of("a red rose in the rain"));
    g_autofree char *folder = g_build_filename(ui_studio.root, "exported", NULL);
    g_autoptr(GFile) file = g_file_new_for_path(folder);
    g_signal_emit_by_name(view(), "export", scf_gallery_view_get_selected(view()), file);
    g_autofree char *name = g_strdup_printf("%" G_GINT64_FORMAT "-33.png", row_ids[2]);
    g_autofree char *png = g_build_filename(folder, name, NULL);
    scf_gen_params p;
    gboolean found = FALSE;
    g_autoptr(GError) error = NULL;
    g_autoptr(scf_image) img = scf_png_read(png, &p, &found, &error);
    g_assert_no_error(error);
    g_assert_true(found);
    g_assert_cmpstr(p.prompt, ==, "a red rose in the rain");
    scf_gen_params_clear(&p);
}

/* "Use These Settings" shows the Generate page with the image's settings
 * and its model chosen. */
static void test_use_settings(void)
{
    ScfGenerateView *generate = scf_window_get_generate_view(ui_studio_window());
    g_assert_true(ui_wait_until(generate_has_model, NULL, WAIT_SECONDS));
    select_position(position_of("a green frog"));
    g_assert_true(gtk_widget_activate_action(GTK_WIDGET(view()), "gallery.use-settings", NULL));
    g_assert_cmpstr(gtk_stack_get_visible_child_name(window_stack()), ==, "generate");
    g_autofree char *prompt = NULL, *negative = NULL, *model = NULL;
    guint64 seed = 0;
    int steps = 0;
    double guidance = 0;
    gboolean random_seed = TRUE;
    g_object_get(generate, "prompt", &prompt, "negative-prompt", &negative, "model", &model,
                 "seed", &seed, "steps", &steps, "guidance", &guidance, "random-seed",
                 &random_seed, NULL);
    g_autofree char *student = g_build_filename(ui_studio.models_dir, "tiny-student", NULL);
    g_assert_cmpstr(prompt, ==, "a green frog");
    g_assert_cmpstr(negative, ==, "dark");
    g_assert_cmpstr(model, ==, student);
    g_assert_cmpuint(seed, ==, 44);
    g_assert_cmpint(steps, ==, 4); /* not the model's default, 1 */
    g_assert_cmpfloat_with_epsilon(guidance, 2.0, 1e-9);
    g_assert_false(random_seed);
    ui_studio_screenshot("studio-gallery-use-settings.png");
}

/* ---- 10,000 images ---- */

static void sql(sqlite3 *db, const char *text)
{
    char *message = NULL;
    if (sqlite3_exec(db, text, NULL, NULL, &message) != SQLITE_OK)
        g_error("%s: %s", text, message);
}

/* A gallery of rows images, quickly: one through scf_gallery_insert (its
 * files and row as the app makes them), then rows - 1 copies of its row
 * made by SQL, each with its own prompt and seed (settings JSON included,
 * which is what entries are read from) and its own image file, a hard link
 * to the first one. Real inserts write and sync two files each, about
 * 60-90 s for 10,000 on this machine; the copies make the same database,
 * FTS index and files in about a second. */
static void make_big_gallery(const char *dir, int n)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(scf_gallery) g = open_gallery(dir);
    g_autoptr(scf_image) img = scf_image_new(32, 32, 3, &error);
    g_assert_no_error(error);
    for (int i = 0; i < 32 * 32 * 3; i++)
        img->data[i] = (uint8_t)(i * 37);
    scf_gen_params p;
    scf_gen_params_init(&p);
    g_free(p.prompt);
    p.prompt = g_strdup("gallery row 1");
    gint64 id = 0;
    g_assert_true(scf_gallery_insert(g, img, &p, 30, &id, &error));
    g_assert_no_error(error);
    scf_gen_params_clear(&p);
    g_autoptr(scf_gallery_entry) first = scf_gallery_get(g, id, &error);
    g_assert_no_error(error);
    g_clear_pointer(&g, scf_gallery_close);

    g_autofree char *image_dir = g_path_get_dirname(first->image_path);
    g_autofree char *rel_dir = g_strdup(image_dir + strlen(dir) + 1);
    for (int i = 2; i <= n; i++) {
        g_autofree char *link_path = g_strdup_printf("%s/%d-%d.png", image_dir, i, i);
        g_assert_cmpint(link(first->image_path, link_path), ==, 0);
    }
    g_autofree char *db_path = g_build_filename(dir, "gallery.sqlite", NULL);
    sqlite3 *db = NULL;
    g_assert_cmpint(sqlite3_open(db_path, &db), ==, SQLITE_OK);
    g_autofree char *copy = g_strdup_printf(
        "BEGIN;"
        "WITH RECURSIVE n(i) AS (SELECT 2 UNION ALL SELECT i + 1 FROM n WHERE i < %d)"
        " INSERT INTO images(id, created, prompt, negative, seed, steps, guidance, width, height,"
        "  model_name, model_hash, device, duration_ms, image_path, thumb_path, favourite,"
        "  settings, state)"
        " SELECT i, created + i, 'gallery row ' || i, negative, i, 1 << (i %% 4), guidance,"
        "  width, height, model_name, model_hash, device, duration_ms,"
        "  '%s/' || i || '-' || i || '.png', thumb_path, i %% 20 = 0,"
        "  json_set(settings, '$.prompt', 'gallery row ' || i, '$.seed', i,"
        "   '$.steps', 1 << (i %% 4)), 0"
        " FROM n, images WHERE images.id = %" G_GINT64_FORMAT ";"
        "COMMIT;",
        n, rel_dir, id);
    sql(db, copy);
    sqlite3_close(db);

    /* The gallery's own check finds the rows and files in agreement. */
    scf_gallery_report report = { 0 };
    g = scf_gallery_open(dir, &report, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(report.missing ? report.missing->len : 0, ==, 0);
    g_assert_cmpuint(report.reimported ? report.reimported->len : 0, ==, 0);
    scf_gallery_report_clear(&report);
    gint64 count = 0;
    g_assert_true(scf_gallery_count(g, NULL, &count, &error));
    g_assert_cmpint(count, ==, n);
}

typedef struct {
    gint64 start, shown, first_paint;
    int frames;
    const char *prompt;
} show_timer;

/* Runs after each frame is painted: the first one that shows the prompt
 * ends the measurement. */
static void after_paint(GdkFrameClock *clock, show_timer *t)
{
    if (t->shown)
        return;
    t->frames++;
    if (!t->first_paint)
        t->first_paint = g_get_monotonic_time();
    if (shows_prompt(t->prompt))
        t->shown = g_get_monotonic_time();
}

static gboolean shown(gpointer data)
{
    return ((show_timer *)data)->shown != 0;
}

/* Scrolled to its end, a 10,000-image grid shows the oldest image within a
 * frame or two: only the pages on screen are read and decoded. */
static void test_big_gallery(void)
{
    g_autofree char *dir = g_build_filename(ui_studio.root, "big-gallery", NULL);
    gint64 start = g_get_monotonic_time();
    make_big_gallery(dir, BIG_ROWS);
    g_test_message("made a %d-image gallery in %.2f s", BIG_ROWS,
                   (g_get_monotonic_time() - start) / 1e6);

    gtk_widget_activate_action(GTK_WIDGET(ui_studio_window()), "win.page", "s", "gallery");
    start = g_get_monotonic_time();
    g_settings_set_string(ui_studio.settings, "output-folder", dir);
    wait_items(BIG_ROWS);
    g_test_message("opened it (check and filter choices on a thread) in %.0f ms",
                   (g_get_monotonic_time() - start) / 1e3);
    g_assert_true(ui_wait_until(prompt_shown, (gpointer) "gallery row 10000", WAIT_SECONDS));

    GtkScrolledWindow *scroller = GTK_SCROLLED_WINDOW(
        gtk_widget_get_ancestor(GTK_WIDGET(grid()), GTK_TYPE_SCROLLED_WINDOW));
    GtkAdjustment *adj = gtk_scrolled_window_get_vadjustment(scroller);
    GdkFrameClock *clock = gtk_widget_get_frame_clock(GTK_WIDGET(ui_studio_window()));
    show_timer t = { .prompt = "gallery row 1" };
    gulong handler = g_signal_connect(clock, "after-paint", G_CALLBACK(after_paint), &t);
    t.start = g_get_monotonic_time();
    gtk_adjustment_set_value(adj, gtk_adjustment_get_upper(adj));
    g_assert_true(ui_wait_until(shown, &t, WAIT_SECONDS));
    g_signal_handler_disconnect(clock, handler);
    double ms = (t.shown - t.start) / 1e3;
    g_test_message("%d frames; the first painted after %.1f ms", t.frames,
                   (t.first_paint - t.start) / 1e3);
    g_test_message("jump to the end of %d images: last page shown after %.1f ms (goal %.0f ms)",
                   BIG_ROWS, ms, SHOW_GOAL_MS);
    g_printerr("# gallery: %d images, jump to the end shown in %.1f ms (goal %.0f ms)\n",
               BIG_ROWS, ms, SHOW_GOAL_MS);
    g_assert_cmpfloat(ms, <, SHOW_LIMIT_MS);

    /* For scale: a frame that reads nothing new, the same grid scrolled by
     * one row (what drawing the window costs here, software-rendered). */
    show_timer t2 = { .prompt = "gallery row 1" };
    t2.start = g_get_monotonic_time();
    handler = g_signal_connect(clock, "after-paint", G_CALLBACK(after_paint), &t2);
    gtk_adjustment_set_value(adj, gtk_adjustment_get_value(adj) - 20);
    gtk_widget_queue_draw(GTK_WIDGET(ui_studio_window()));
    g_assert_true(ui_wait_until(shown, &t2, WAIT_SECONDS));
    g_signal_handler_disconnect(clock, handler);
    g_printerr("# gallery: a frame without new rows, for scale: %.1f ms\n",
               (t2.shown - t2.start) / 1e3);
    ui_save_screenshot(GTK_WIDGET(ui_studio_window()), "studio-gallery-10000.png");

    /* A search over all of them. */
    start = g_get_monotonic_time();
    set_search("row 9999");
    wait_items(1);
    g_test_message("search to one of %d shown in %.0f ms (250 ms of it the typing pause)",
                   BIG_ROWS, (g_get_monotonic_time() - start) / 1e3);
}

static void test_quit(void)
{
    ui_app_quit(GTK_APPLICATION(ui_studio.app), WAIT_SECONDS);
}

/* ---- setup ---- */

/* The small gallery, in the output folder, with 8x6 images. */
static void fill_gallery(void)
{
    g_autofree char *dir = output_dir();
    g_autoptr(scf_gallery) g = open_gallery(dir);
    g_autoptr(GError) error = NULL;
    g_autoptr(scf_image) img = scf_image_new(8, 6, 3, &error);
    g_assert_no_error(error);
    for (guint r = 0; r < G_N_ELEMENTS(rows); r++) {
        for (int i = 0; i < 8 * 6 * 3; i++)
            img->data[i] = (uint8_t)(i * 11 + r * 50);
        scf_gen_params p;
        scf_gen_params_init(&p);
        g_free(p.prompt);
        g_free(p.negative_prompt);
        g_free(p.model_name);
        g_free(p.device);
        p.prompt = g_strdup(rows[r].prompt);
        p.negative_prompt = g_strdup(rows[r].negative);
        p.model_name = g_strdup(rows[r].model);
        p.device = g_strdup("cpu");
        p.steps = rows[r].steps;
        p.guidance = rows[r].guidance;
        p.seed = rows[r].seed;
        g_assert_true(scf_gallery_insert(g, img, &p, 250, &row_ids[r], &error));
        g_assert_no_error(error);
        scf_gen_params_clear(&p);
    }
}

int main(int argc, char **argv)
{
    int early = ui_studio_begin("scf-ui-gallery", &argc, &argv);
    if (early >= 0)
        return early;
    ui_studio_write_model("tiny-student", 1);
    g_settings_set_string(ui_studio.settings, "device", "cpu");
    g_settings_set_string(ui_studio.settings, "models-folder", ui_studio.models_dir);
    fill_gallery();
    ui_studio_start();

    g_test_add_func("/ui/gallery/grid", test_grid);
    g_test_add_func("/ui/gallery/detail", test_detail);
    g_test_add_func("/ui/gallery/search", test_search);
    g_test_add_func("/ui/gallery/filters", test_filters);
    g_test_add_func("/ui/gallery/delete-undo", test_delete_undo);
    g_test_add_func("/ui/gallery/export", test_export);
    g_test_add_func("/ui/gallery/use-settings", test_use_settings);
    g_test_add_func("/ui/gallery/10000", test_big_gallery);
    g_test_add_func("/ui/gallery/quit", test_quit);
    return ui_studio_run();
}
