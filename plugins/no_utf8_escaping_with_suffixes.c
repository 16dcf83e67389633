/* no_utf8_escaping_with_suffixes.c: NoUTF8EscapingWithSuffixes (spec 3.3): UTF-8 names kept, suffixes added.
 * The algorithms live in xl_common.h; this file only picks the strategy. */
#include "xl_common.h"

static int init(const struct ob_host *host, void **out_state, char *err, size_t err_cap)
{
    return xl_init(host, XL_SUFFIXES, out_state, err, err_cap);
}

static const struct ob_translator descriptor = {
    .hdr = OB_TRANSLATOR_HEADER,
    .name = "no_utf8_escaping_with_suffixes",
    .version = OB_VERSION,
    .init = init,
    .fini = xl_fini,
    .family_name = xl_family_name,
    .label_name = xl_label_name,
    .resource = xl_resource,
    .unit_name = xl_unit_name,
};

OB_TRANSLATOR_EXPORT const struct ob_translator *ob_translator_v1(uint32_t host_abi_major,
                                                                  uint32_t host_abi_minor)
{
    (void)host_abi_minor; /* any minor of our major can use a v1.0 descriptor */
    return host_abi_major == OB_ABI_MAJOR ? &descriptor : NULL;
}
