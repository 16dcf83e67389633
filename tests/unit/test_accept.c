/* test_accept.c: exposition format negotiation (ob_accept.h).  Cases from
 * client_golang's expfmt tests (TestNegotiateIncludingOpenMetrics), and the
 * Accept headers real scrapers send. */
#include <check.h>
#include <string.h>

#include "ob_accept.h"
#include "ob_common.h"

#define PB "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily"

static const struct {
    const char *accept;
    bool protobuf; /* offered */
    enum ob_expo_format format;
    enum ob_expo_escaping escaping;
} cases[] = {
    {NULL, true, OB_EXPO_TEXT, OB_ESC_NONE_ASKED},
    {"", true, OB_EXPO_TEXT, OB_ESC_NONE_ASKED},
    {"*/*", true, OB_EXPO_TEXT, OB_ESC_NONE_ASKED}, /* curl */
    {"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", true, OB_EXPO_TEXT,
     OB_ESC_NONE_ASKED}, /* a browser */
    {"application/openmetrics-text", true, OB_EXPO_OPENMETRICS_0, OB_ESC_NONE_ASKED},
    {"application/openmetrics-text;version=0.0.1; escaping=underscores", true,
     OB_EXPO_OPENMETRICS_0, OB_ESC_UNDERSCORES},
    {"application/openmetrics-text;version=1.0.0", true, OB_EXPO_OPENMETRICS_1, OB_ESC_NONE_ASKED},
    {"application/openmetrics-text;version=2.0.0", true, OB_EXPO_TEXT, OB_ESC_NONE_ASKED},
    {"application/openmetrics-text;version=0.0.4", true, OB_EXPO_TEXT, OB_ESC_NONE_ASKED},
    {"application/openmetrics-text;version=1.0.0; escaping=values;", true, OB_EXPO_OPENMETRICS_1,
     OB_ESC_UNDERSCORES},
    {"text/plain;version=0.0.4", true, OB_EXPO_TEXT, OB_ESC_NONE_ASKED},
    {"text/plain;version=0.0.4; escaping=allow-utf-8", true, OB_EXPO_TEXT, OB_ESC_ALLOW_UTF8},
    {PB ";encoding=delimited", true, OB_EXPO_PROTOBUF, OB_ESC_NONE_ASKED},
    {PB ";encoding=delimited; escaping=allow-utf-8;", true, OB_EXPO_PROTOBUF, OB_ESC_ALLOW_UTF8},
    {PB ";encoding=delimited", false, OB_EXPO_TEXT, OB_ESC_NONE_ASKED},
    {PB ";encoding=text", true, OB_EXPO_TEXT, OB_ESC_NONE_ASKED}, /* not written here */
    /* Prometheus 2.42, default */
    {"application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
     "text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
     true, OB_EXPO_OPENMETRICS_1, OB_ESC_NONE_ASKED},
    /* Prometheus 2.42 with --enable-feature=native-histograms */
    {PB ";encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,"
        "application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
     true, OB_EXPO_PROTOBUF, OB_ESC_NONE_ASKED},
    {PB ";encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,"
        "application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
     false, OB_EXPO_OPENMETRICS_1, OB_ESC_NONE_ASKED},
    /* Prometheus 3, default (UTF-8 names asked for) */
    {"application/openmetrics-text;version=1.0.0;escaping=allow-utf-8,"
     "application/openmetrics-text;version=0.0.1;q=0.9,"
     "text/plain;version=1.0.0;escaping=allow-utf-8;q=0.8,text/plain;version=0.0.4;q=0.7,*/*;q=0.6",
     true, OB_EXPO_OPENMETRICS_1, OB_ESC_ALLOW_UTF8},
    /* Prometheus 3 asking for the text format first */
    {"text/plain;version=1.0.0;escaping=allow-utf-8,text/plain;version=0.0.4;q=0.9", true,
     OB_EXPO_TEXT, OB_ESC_ALLOW_UTF8},
    /* q decides, not the order; an unparsable q is 0 */
    {"text/plain;q=0.2,application/openmetrics-text;version=1.0.0;q=0.9", true,
     OB_EXPO_OPENMETRICS_1, OB_ESC_NONE_ASKED},
    {"application/openmetrics-text;q=oops,text/plain;q=0.1", true, OB_EXPO_TEXT,
     OB_ESC_NONE_ASKED},
    /* case and blanks do not matter; quoted parameter values */
    {" Application/OpenMetrics-Text ; Version=\"1.0.0\" ", true, OB_EXPO_OPENMETRICS_1,
     OB_ESC_NONE_ASKED},
    /* garbage */
    {"nonsense,,;;=,/", true, OB_EXPO_TEXT, OB_ESC_NONE_ASKED},
};

START_TEST(negotiation_table)
{
    for (size_t i = 0; i < OB_ARRAY_LEN(cases); i++) {
        struct ob_expo_choice c = ob_accept_negotiate(cases[i].accept, cases[i].protobuf);
        ck_assert_msg(c.format == cases[i].format && c.escaping == cases[i].escaping,
                      "case %zu (%s): got format %d escaping %d, want %d %d", i,
                      cases[i].accept ? cases[i].accept : "(none)", c.format, c.escaping,
                      cases[i].format, cases[i].escaping);
    }
}
END_TEST

START_TEST(content_types)
{
    struct ob_expo_choice c = {OB_EXPO_TEXT, OB_ESC_NONE_ASKED};
    ck_assert_str_eq(ob_expo_content_type(c), "text/plain; version=0.0.4; charset=utf-8");
    c.escaping = OB_ESC_ALLOW_UTF8;
    ck_assert_str_eq(ob_expo_content_type(c),
                     "text/plain; version=1.0.0; charset=utf-8; escaping=allow-utf-8");
    c = (struct ob_expo_choice){OB_EXPO_OPENMETRICS_1, OB_ESC_UNDERSCORES};
    ck_assert_str_eq(ob_expo_content_type(c),
                     "application/openmetrics-text; version=1.0.0; charset=utf-8; "
                     "escaping=underscores");
    c = (struct ob_expo_choice){OB_EXPO_OPENMETRICS_0, OB_ESC_NONE_ASKED};
    ck_assert_str_eq(ob_expo_content_type(c),
                     "application/openmetrics-text; version=0.0.1; charset=utf-8");
}
END_TEST

Suite *accept_suite(void);
Suite *accept_suite(void)
{
    Suite *s = suite_create("accept");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, negotiation_table);
    tcase_add_test(tc, content_types);
    suite_add_tcase(s, tc);
    return s;
}
