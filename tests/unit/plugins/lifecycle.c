/* lifecycle.c: a working plugin that makes its life visible to tests.
 * init() logs through the host table and keeps the host pointer; fini()
 * appends "fini <tag>\n" to the file named by config key `marker`, reading
 * the config only then (it must still be valid: the host owns a copy). */
#include <stdio.h>
#include <string.h>

#include "stub.h"

static int init(const struct ob_host *host, void **out_state, char *err, size_t err_cap)
{
    if (host->magic != OB_HOST_MAGIC || host->size < sizeof *host || host->n_config != 2 ||
        strcmp(host->config[0].key, "marker") != 0 || strcmp(host->config[1].key, "tag") != 0) {
        snprintf(err, err_cap, "expected config keys marker and tag");
        return -1;
    }
    host->log(host, OB_PLOG_WARN, "hello from init, tag %s", host->config[1].value);
    *out_state = (void *)host;
    return 0;
}

static void fini(void *state)
{
    const struct ob_host *host = state;
    FILE *f = fopen(host->config[0].value, "a");
    if (f) {
        fprintf(f, "fini %s\n", host->config[1].value);
        fclose(f);
    }
}

static const struct ob_translator descriptor = {
    .hdr = OB_TRANSLATOR_HEADER,
    .name = "lifecycle",
    .init = init,
    .fini = fini,
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
