/* bad_abi.c: claims ABI major 99 whatever the host asks for. */
#include "stub.h"

static const struct ob_translator descriptor = {
    .hdr = {OB_TRANSLATOR_MAGIC, 99, 0, (uint32_t)sizeof(struct ob_translator)},
    .name = "bad_abi",
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
