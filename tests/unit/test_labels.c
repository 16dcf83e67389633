/* test_labels.c: the label block (ob_labels.h): rendering, collisions, the
 * quoted-name marker, the legacy rewrite, and reading pairs back. */
#include <check.h>
#include <string.h>

#include "ob_buf.h"
#include "ob_labels.h"

#define S(lit) ((struct ob_str){lit, sizeof lit - 1})

static void check_block(const struct ob_buf *b, const char *want)
{
    ck_assert_msg(b->len == strlen(want) && memcmp(b->data, want, b->len) == 0,
                  "got '%.*s' want '%s'", (int)b->len, b->data, want);
}

START_TEST(render_sorts_and_joins)
{
    struct ob_buf b;
    ob_buf_init(&b);
    struct ob_label l[] = {
        {S("zone"), S("eu"), S("zone"), 1},
        {S("a_b"), S("2"), S("a.b"), 1},
        {S("a_b"), S("1"), S("a-b"), 1}, /* same name: joined in key order */
        {S("a_b"), S("res"), S("a_b"), 2}, /* lower priority: dropped */
        {S("job"), S("say \"hi\"\n"), S(""), 0},
    };
    ck_assert_int_eq(ob_labels_render(l, 5, &b), 3);
    check_block(&b, "a_b=\"1;2\",job=\"say \\\"hi\\\"\\n\",zone=\"eu\"");
    ck_assert_int_eq(ob_labels_render(l, 0, &b), 0);
    ck_assert_uint_eq(b.len, 0);
    ob_buf_fini(&b);
}
END_TEST

START_TEST(quoted_names_and_legacy_rewrite)
{
    struct ob_buf b, legacy;
    ob_buf_init(&b);
    ob_buf_init(&legacy);
    struct ob_label l[] = {
        {S("http.method"), S("GET"), S("http.method"), 1},
        {S("job"), S("j"), S(""), 0},
        {S("名"), S("v\\"), S("名"), 1},
    };
    ck_assert_int_eq(ob_labels_render(l, 3, &b), 3);
    check_block(&b, "\x01\"http.method\"=\"GET\",job=\"j\",\"名\"=\"v\\\\\"");
    ob_labels_legacy(&legacy, b.data, b.len);
    check_block(&legacy, "http_method=\"GET\",job=\"j\",_=\"v\\\\\"");
    ob_buf_fini(&b);
    ob_buf_fini(&legacy);
}
END_TEST

/* What remote write and the protobuf exposition need: the pairs, as text. */
START_TEST(pairs_read_back)
{
    struct ob_buf b, name, value;
    ob_buf_init(&b);
    ob_buf_init(&name);
    ob_buf_init(&value);
    struct ob_label l[] = {
        {S("a"), S("x,y=\"z\""), S("a"), 1},
        {S("b.c"), S("line\nbreak \\ end"), S("b.c"), 1},
        {S("e"), S(""), S("e"), 1},
    };
    ck_assert_int_eq(ob_labels_render(l, 3, &b), 3);
    static const char *const names[] = {"a", "b.c", "e"};
    static const char *const values[] = {"x,y=\"z\"", "line\nbreak \\ end", ""};
    struct ob_labels_iter it;
    struct ob_label_pair p;
    ob_labels_iter_init(&it, b.data, b.len);
    for (int i = 0; i < 3; i++) {
        ck_assert(ob_labels_next(&it, &p));
        name.len = value.len = 0;
        ob_labels_unescape(&name, p.name, p.name_len);
        ob_labels_unescape(&value, p.value, p.value_len);
        ck_assert_uint_eq(name.len, strlen(names[i]));
        ck_assert(memcmp(name.data, names[i], name.len) == 0);
        ck_assert_uint_eq(value.len, strlen(values[i]));
        ck_assert(value.len == 0 || memcmp(value.data, values[i], value.len) == 0);
    }
    ck_assert(!ob_labels_next(&it, &p));
    ob_labels_iter_init(&it, "", 0);
    ck_assert(!ob_labels_next(&it, &p));
    ob_labels_iter_init(&it, "a=\"unterminated", 15);
    ck_assert(!ob_labels_next(&it, &p));
    ob_buf_fini(&b);
    ob_buf_fini(&name);
    ob_buf_fini(&value);
}
END_TEST

START_TEST(legacy_names)
{
    ck_assert(ob_legacy_metric_name("a:b_c1", 6));
    ck_assert(!ob_legacy_label_name("a:b", 3));
    ck_assert(!ob_legacy_label_name("1a", 2));
    ck_assert(!ob_legacy_label_name("", 0));
    struct ob_buf b;
    ob_buf_init(&b);
    ob_escape_underscores(&b, "1a.b:c", 6, true, false);
    check_block(&b, "_a_b:c");
    ob_buf_fini(&b);
}
END_TEST

Suite *labels_suite(void);
Suite *labels_suite(void)
{
    Suite *s = suite_create("labels");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, render_sorts_and_joins);
    tcase_add_test(tc, quoted_names_and_legacy_rewrite);
    tcase_add_test(tc, pairs_read_back);
    tcase_add_test(tc, legacy_names);
    suite_add_tcase(s, tc);
    return s;
}
