/* ingest_fixture.h: a real store, the default translator plugin and an
 * ingest on top, as the ingest and request suites use them. */
#ifndef INGEST_FIXTURE_H
#define INGEST_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>

#include "ob_config.h"
#include "ob_ingest.h"
#include "ob_translator_host.h"
#include "ob_store.h"

struct ingest_fixture {
    struct ob_store *store;
    struct ob_translator_slot plugins;
    struct ob_config *cfg;
    struct ob_ingest *ingest;
    char shm_name[64];
};

/* Config defaults plus overrides ("section.key=value"), a store of
 * max_series and 100 families named after tag and the pid, the plugin
 * underscore_escaping_with_suffixes from $OB_BUILD/plugins.  Fails the test
 * on any error. */
void ingest_fixture_open(struct ingest_fixture *f, const char *tag, size_t max_series,
                         const char *const *overrides, size_t n);
void ingest_fixture_close(struct ingest_fixture *f);

/* Whether the self-metrics text has this line (printed when not). */
bool selfmetrics_have(const char *line);

#endif
