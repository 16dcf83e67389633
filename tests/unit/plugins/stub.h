/* stub.h: trivial callbacks for the test plugins in this directory. */
#ifndef TEST_PLUGIN_STUB_H
#define TEST_PLUGIN_STUB_H

#include <string.h>

#include "translator.h"

__attribute__((unused)) static long stub_family(void *state, const struct ob_metric_view *m, char *buf, size_t cap)
{
    (void)state;
    if (m->name.len <= cap)
        memcpy(buf, m->name.ptr, m->name.len);
    return (long)m->name.len;
}

__attribute__((unused)) static long stub_label(void *state, const char *key, size_t key_len, char *buf, size_t cap)
{
    (void)state;
    if (key_len <= cap)
        memcpy(buf, key, key_len);
    return (long)key_len;
}

__attribute__((unused)) static long stub_resource(void *state, const struct ob_resource_view *r,
                          struct ob_resource_out *out)
{
    (void)state;
    (void)r;
    (void)out;
    return 0;
}

#endif
