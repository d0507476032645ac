#include "ui-harness.h"
#include "build-config.h"
#include "check.h"
#include "tiny-model.h"
#include <time.h>

ui_studio_state ui_studio;

gboolean ui_wait_until(ui_condition cond, gpointer data, double seconds)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)(seconds * G_USEC_PER_SEC);
    while (!cond(data)) {
        if (g_get_monotonic_time() > deadline)
            return FALSE;
        if (!g_main_context_iteration(NULL, FALSE))
            g_usleep(1000);
    }
    return TRUE;
}

static gboolean ui_time_reached(gpointer until)
{
    return g_get_monotonic_time() >= *(gint64 *)until;
}

void ui_run_for_ms(int ms)
{
    gint64 until = g_get_monotonic_time() + ms * 1000;
    g_assert_true(ui_wait_until(ui_time_reached, &until, ms / 1000.0 + 1));
}

static gboolean ui_frames_counted(GtkWidget *widget, GdkFrameClock *clock, gpointer data)
{
    ++*(int *)data;
    return G_SOURCE_CONTINUE;
}

static gboolean ui_two_frames(gpointer data)
{
    return *(int *)data >= 2;
}

void ui_wait_drawn(GtkWidget *widget)
{
    int frames = 0;
    guint id = gtk_widget_add_tick_callback(widget, ui_frames_counted, &frames, NULL);
    g_assert_true(ui_wait_until(ui_two_frames, &frames, 10));
    gtk_widget_remove_tick_callback(widget, id);
}

static gint64 ui_thread_cpu_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (gint64)t.tv_sec * G_USEC_PER_SEC + t.tv_nsec / 1000;
}

static gboolean ui_stall_tick(gpointer data)
{
    ui_stall_monitor *m = data;
    gint64 now = g_get_monotonic_time(), cpu = ui_thread_cpu_us();
    m->longest = MAX(m->longest, now - m->last);
    m->longest_busy = MAX(m->longest_busy, cpu - m->last_cpu);
    m->last = now;
    m->last_cpu = cpu;
    return G_SOURCE_CONTINUE;
}

void ui_stall_start(ui_stall_monitor *m)
{
    *m = (ui_stall_monitor){ .last = g_get_monotonic_time(), .last_cpu = ui_thread_cpu_us() };
    m->source = g_timeout_add(5, ui_stall_tick, m);
}

double ui_stall_stop_ms(ui_stall_monitor *m)
{
    g_source_remove(m->source);
    return m->longest / 1000.0;
}

GtkWindow *ui_app_window_of_type(GtkApplication *app, GType type)
{
    for (GList *l = gtk_application_get_windows(app); l; l = l->next)
        if (G_TYPE_CHECK_INSTANCE_TYPE(l->data, type) && gtk_widget_get_mapped(l->data))
            return l->data;
    return NULL;
}

GtkWidget *ui_find_descendant(GtkWidget *widget, GType type)
{
    if (G_TYPE_CHECK_INSTANCE_TYPE(widget, type))
        return widget;
    for (GtkWidget *c = gtk_widget_get_first_child(widget); c; c = gtk_widget_get_next_sibling(c)) {
        GtkWidget *found = ui_find_descendant(c, type);
        if (found)
            return found;
    }
    return NULL;
}

GtkWidget *ui_find_named(GtkWidget *widget, const char *name)
{
    if (g_strcmp0(gtk_widget_get_name(widget), name) == 0)
        return widget;
    for (GtkWidget *c = gtk_widget_get_first_child(widget); c; c = gtk_widget_get_next_sibling(c)) {
        GtkWidget *found = ui_find_named(c, name);
        if (found)
            return found;
    }
    return NULL;
}

void ui_collect_descendants(GtkWidget *widget, GType type, GPtrArray *into)
{
    if (G_TYPE_CHECK_INSTANCE_TYPE(widget, type))
        g_ptr_array_add(into, widget);
    for (GtkWidget *c = gtk_widget_get_first_child(widget); c; c = gtk_widget_get_next_sibling(c))
        ui_collect_descendants(c, type, into);
}

const char *ui_stack_page(GtkWidget *within, const char *a_page_name)
{
    g_autoptr(GPtrArray) stacks = g_ptr_array_new();
    ui_collect_descendants(within, GTK_TYPE_STACK, stacks);
    for (guint i = 0; i < stacks->len; i++)
        if (gtk_stack_get_child_by_name(stacks->pdata[i], a_page_name))
            return gtk_stack_get_visible_child_name(stacks->pdata[i]);
    g_error("no stack with a page \"%s\"", a_page_name);
}

void ui_save_screenshot(GtkWidget *widget, const char *name)
{
    const char *dir = g_getenv("SCF_TEST_OUT");
    g_assert_nonnull(dir);
    g_assert_cmpint(g_mkdir_with_parents(dir, 0755), ==, 0);

    int width = gtk_widget_get_width(widget), height = gtk_widget_get_height(widget);
    g_assert_cmpint(width, >, 0);
    g_assert_cmpint(height, >, 0);
    g_autoptr(GdkPaintable) paintable = gtk_widget_paintable_new(widget);
    GtkSnapshot *snapshot = gtk_snapshot_new();
    gdk_paintable_snapshot(paintable, snapshot, width, height);
    g_autoptr(GskRenderNode) node = gtk_snapshot_free_to_node(snapshot);
    g_assert_nonnull(node);
    GskRenderer *renderer = gtk_native_get_renderer(gtk_widget_get_native(widget));
    graphene_rect_t bounds = GRAPHENE_RECT_INIT(0, 0, width, height);
    g_autoptr(GdkTexture) texture = gsk_renderer_render_texture(renderer, node, &bounds);
    g_assert_cmpint(gdk_texture_get_width(texture), ==, width);
    g_assert_cmpint(gdk_texture_get_height(texture), ==, height);

    g_autofree char *path = g_build_filename(dir, name, NULL);
    g_assert_true(gdk_texture_save_to_png(texture, path));
    g_test_message("screenshot: %s", path);
}

char *ui_isolate_folders(const char *prefix)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *template = g_strdup_printf("%s-XXXXXX", prefix);
    char *root = g_dir_make_tmp(template, &error);
    g_assert_no_error(error);
    const char *vars[][2] = { { "HOME", "home" }, { "XDG_DATA_HOME", "data" },
                              { "XDG_CONFIG_HOME", "config" }, { "XDG_CACHE_HOME", "cache" } };
    for (gsize i = 0; i < G_N_ELEMENTS(vars); i++) {
        g_autofree char *dir = g_build_filename(root, vars[i][1], NULL);
        g_assert_cmpint(g_mkdir_with_parents(dir, 0700), ==, 0);
        g_setenv(vars[i][0], dir, TRUE);
    }
    return root;
}

int ui_test_begin(const char *name, int *argc, char ***argv, char **root)
{
    *root = ui_isolate_folders(name);
    /* Xvfb offers only llvmpipe's software GL, whose shader compiler stalls
     * the main loop for hundreds of milliseconds the first time each kind of
     * content is drawn: a cost of drawing in software that would drown what
     * the tests measure (the engine's effect on the main loop). Cairo is what
     * GTK draws with where there is no GL; GSK_RENDERER=gl measures with GL. */
    g_setenv("GSK_RENDERER", "cairo", FALSE);
    g_test_init(argc, argv, NULL);
    if (!gtk_init_check()) {
        g_printerr("%s: skipped: cannot open a display\n", name);
        return 77;
    }
    if (g_strcmp0(g_getenv("GSETTINGS_BACKEND"), "memory") != 0) {
        g_printerr("%s: GSETTINGS_BACKEND must be \"memory\", so that the tests never touch "
                   "the user's settings\n", name);
        return 1;
    }
    g_object_set(gtk_settings_get_default(), "gtk-enable-animations", FALSE, NULL);
    return -1;
}

void ui_app_register(GApplication *app)
{
    g_autoptr(GError) error = NULL;
    if (!g_application_register(app, NULL, &error))
        g_error("registering the application: %s", error->message);
}

static gboolean ui_no_windows(gpointer app)
{
    return gtk_application_get_windows(GTK_APPLICATION(app)) == NULL;
}

void ui_app_quit(GtkApplication *app, double seconds)
{
    g_action_group_activate_action(G_ACTION_GROUP(app), "quit", NULL);
    g_assert_true(ui_wait_until(ui_no_windows, app, seconds));
}

int ui_studio_begin(const char *name, int *argc, char ***argv)
{
    int early = ui_test_begin(name, argc, argv, &ui_studio.root);
    if (early >= 0)
        return early;
    g_assert_true(scf_application_schema_installed());
    ui_studio.settings = g_settings_new(SCF_APP_ID);
    ui_studio.models_dir = g_build_filename(ui_studio.root, "models", NULL);
    return -1;
}

void ui_studio_write_model(const char *name, int default_steps)
{
    g_autoptr(GError) error = NULL;
    g_assert_true(chk_tiny_model_write(ui_studio.models_dir, name, default_steps, 1.0, &error));
    g_assert_no_error(error);
}

void ui_studio_start(void)
{
    ui_studio.app = scf_application_new(G_APPLICATION_NON_UNIQUE);
    ui_app_register(G_APPLICATION(ui_studio.app));
}

int ui_studio_run(void)
{
    int status = g_test_run();
    g_object_unref(ui_studio.app);
    g_object_unref(ui_studio.settings);
    /* best effort: the application's threads may still touch its folders */
    chk_remove_tree(ui_studio.root);
    g_free(ui_studio.root);
    g_free(ui_studio.models_dir);
    ui_studio = (ui_studio_state){ 0 };
    return status;
}

static gboolean ui_studio_window_mapped(gpointer unused)
{
    return ui_app_window_of_type(GTK_APPLICATION(ui_studio.app), SCF_TYPE_WINDOW) != NULL;
}

void ui_studio_activate(double seconds)
{
    g_application_activate(G_APPLICATION(ui_studio.app));
    g_assert_true(ui_wait_until(ui_studio_window_mapped, NULL, seconds));
}

ScfWindow *ui_studio_window(void)
{
    GtkWindow *window = ui_app_window_of_type(GTK_APPLICATION(ui_studio.app), SCF_TYPE_WINDOW);
    g_assert_nonnull(window);
    return SCF_WINDOW(window);
}

gboolean ui_studio_action_enabled(const char *name)
{
    return g_action_group_get_action_enabled(G_ACTION_GROUP(ui_studio_window()), name);
}

char *ui_studio_model_path(const char *name)
{
    return g_build_filename(ui_studio.models_dir, name, NULL);
}

void ui_studio_screenshot(const char *name)
{
    ui_wait_drawn(GTK_WIDGET(ui_studio_window()));
    ui_save_screenshot(GTK_WIDGET(ui_studio_window()), name);
}

void ui_job_finished(GObject *source, GAsyncResult *result, gpointer outcome)
{
    ui_job_outcome *o = outcome;
    o->generation = scf_job_runner_generate_finish(SCF_JOB_RUNNER(source), result,
                                                   &o->steps_done, &o->error);
    o->done = TRUE;
}

gboolean ui_job_done(gpointer outcome)
{
    return ((ui_job_outcome *)outcome)->done;
}
