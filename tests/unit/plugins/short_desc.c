/* short_desc.c: a descriptor whose size is smaller than the v1.0 layout
 * (as if built against a truncated header). */
#include "stub.h"

static const struct ob_translator descriptor = {
    .hdr = {OB_TRANSLATOR_MAGIC, OB_ABI_MAJOR, OB_ABI_MINOR,
            (uint32_t)offsetof(struct ob_translator, resource)},
    .name = "short_desc",
    .family_name = stub_family,
    .label_name = stub_label,
    .resource = stub_resource,
};

OB_TRANSLATOR_EXPORT const struct ob_translator *ob_translator_v1(uint32_t major, uint32_t minor)
{
    (void)major;
    (void)minor;
    return &descriptor;
}
