/* init_fails.c: init() refuses with a reason. */
#include <stdio.h>

#include "stub.h"

static int init(const struct ob_host *host, void **out_state, char *err, size_t err_cap)
{
    (void)host;
    (void)out_state;
    snprintf(err, err_cap, "test plugin refuses to start");
    return -1;
}

static const struct ob_translator descriptor = {
    .hdr = OB_TRANSLATOR_HEADER,
    .name = "init_fails",
    .init = init,
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
