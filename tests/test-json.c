/* scf_json_to_string: every double json-glib writes must parse back to the
 * same value (json-glib 1.6 writes 1e-08 as "1e-08.0"), and strings that
 * look like such numbers stay as they are. */
#include "config.h"

static void test_doubles_round_trip(void)
{
    const double values[] = { 1e-8, 1e20, -2.5e-300, 3e-5, 1.0, 0.0, -7.0, 0.1, 1e308 };
    for (int pretty = 0; pretty < 2; pretty++) {
        g_autoptr(JsonBuilder) b = json_builder_new();
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "text");
        json_builder_add_string_value(b, "1e-08.0 \"2e+20.0\" \\");
        json_builder_set_member_name(b, "values");
        json_builder_begin_array(b);
        for (guint i = 0; i < G_N_ELEMENTS(values); i++)
            json_builder_add_double_value(b, values[i]);
        json_builder_end_array(b);
        json_builder_end_object(b);
        g_autoptr(JsonNode) root = json_builder_get_root(b);
        gsize len = 0;
        g_autofree char *text = scf_json_to_string(root, pretty, &len);
        g_assert_cmpuint(len, ==, strlen(text));
        g_autoptr(JsonParser) parser = json_parser_new();
        g_autoptr(GError) error = NULL;
        g_assert_true(json_parser_load_from_data(parser, text, -1, &error));
        g_assert_no_error(error);
        JsonObject *o = json_node_get_object(json_parser_get_root(parser));
        g_assert_cmpstr(json_object_get_string_member(o, "text"), ==, "1e-08.0 \"2e+20.0\" \\");
        JsonArray *a = json_object_get_array_member(o, "values");
        g_assert_cmpuint(json_array_get_length(a), ==, G_N_ELEMENTS(values));
        for (guint i = 0; i < G_N_ELEMENTS(values); i++)
            g_assert_cmpfloat(json_array_get_double_element(a, i), ==, values[i]);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/json/doubles-round-trip", test_doubles_round_trip);
    return g_test_run();
}
