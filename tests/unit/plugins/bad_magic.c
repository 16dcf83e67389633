/* bad_magic.c: right entry symbol, descriptor without the magic. */
#include "stub.h"

static const struct ob_translator descriptor = {
    .hdr = {0xdeadbeefu, OB_ABI_MAJOR, OB_ABI_MINOR, (uint32_t)sizeof(struct ob_translator)},
    .name = "bad_magic",
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
