/* no_symbol.c: a shared object without ob_translator_v1 (an entry for
 * another ABI major, as a stale plugin would have). */
#include "stub.h"

static const struct ob_translator descriptor = {
    .hdr = OB_TRANSLATOR_HEADER,
    .name = "no_symbol",
    .family_name = stub_family,
    .label_name = stub_label,
    .resource = stub_resource,
};

OB_TRANSLATOR_EXPORT const struct ob_translator *ob_translator_v0(uint32_t major, uint32_t minor);
OB_TRANSLATOR_EXPORT const struct ob_translator *ob_translator_v0(uint32_t major, uint32_t minor)
{
    (void)major;
    (void)minor;
    return &descriptor;
}
