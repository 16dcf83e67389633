/* missing_callback.c: a valid header but no label_name callback. */
#include "stub.h"

static const struct ob_translator descriptor = {
    .hdr = OB_TRANSLATOR_HEADER,
    .name = "missing_callback",
    .family_name = stub_family,
    .resource = stub_resource,
};

OB_TRANSLATOR_EXPORT const struct ob_translator *ob_translator_v1(uint32_t major, uint32_t minor)
{
    (void)major;
    (void)minor;
    return &descriptor;
}
