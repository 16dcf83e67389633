/* check_main.c: the only main() of the unit tests.  Adds every suite listed
 * in suites.def; CK_RUN_SUITE=<name> narrows the run (Check reads it). */
#include <check.h>
#include <stdlib.h>

#define OB_SUITE(name) Suite *name##_suite(void);
#include "suites.def"
#undef OB_SUITE

int main(void)
{
    static Suite *(*const suites[])(void) = {
#define OB_SUITE(name) name##_suite,
#include "suites.def"
#undef OB_SUITE
    };
    SRunner *sr = srunner_create(NULL);
    for (size_t i = 0; i < sizeof suites / sizeof suites[0]; i++)
        srunner_add_suite(sr, suites[i]());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
