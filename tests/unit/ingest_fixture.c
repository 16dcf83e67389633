/* ingest_fixture.c: see ingest_fixture.h. */
#include "ingest_fixture.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ob_buf.h"
#include "ob_selfmetrics.h"

void ingest_fixture_open(struct ingest_fixture *f, const char *tag, size_t max_series,
                         const char *const *overrides, size_t n)
{
    char err[OB_ERR_LEN];
    ck_assert_int_eq(ob_config_load(NULL, overrides, n, &f->cfg, err), 0);
    snprintf(f->shm_name, sizeof f->shm_name, "/ob-test-%s-%d", tag, (int)getpid());
    ob_store_unlink(f->shm_name);
    struct ob_store_opts so = {.path = f->shm_name,
                               .max_series = (uint32_t)max_series,
                               .max_families = 100,
                               .samples_per_series = 4,
                               .ooo_window_ms = f->cfg->store_ooo_window_ms,
                               .series_ttl_ms = f->cfg->store_series_ttl_ms};
    ck_assert_msg(ob_store_open(&so, &f->store, err) == 0, "%s", err);
    const char *build = getenv("OB_BUILD") ? getenv("OB_BUILD") : "build";
    char dir[256];
    snprintf(dir, sizeof dir, "%s/plugins", build);
    struct ob_translator_inst *x;
    ob_translator_slot_init(&f->plugins);
    ck_assert_msg(ob_translator_load("underscore_escaping_with_suffixes", dir, f->cfg->translator_kv,
                                     f->cfg->translator_n_kv, &x, err) == 0,
                  "%s", err);
    ob_translator_slot_swap(&f->plugins, x);
    struct ob_translator_slot *slots[OB_FE__COUNT];
    for (int fe = 0; fe < OB_FE__COUNT; fe++)
        slots[fe] = &f->plugins; /* every frontend names with the same plugin */
    ck_assert_int_eq(ob_ingest_create(f->store, f->cfg, slots, &f->ingest), 0);
}

void ingest_fixture_close(struct ingest_fixture *f)
{
    ob_ingest_destroy(f->ingest);
    ob_translator_slot_fini(&f->plugins);
    ob_store_close(f->store);
    ob_store_unlink(f->shm_name);
    ob_config_destroy(f->cfg);
}

bool selfmetrics_have(const char *line)
{
    struct ob_buf b;
    ob_buf_init(&b);
    ob_selfmetrics_render(NULL, &b);
    ob_buf_putc(&b, '\0');
    bool found = strstr(b.data, line) != NULL;
    if (!found)
        fprintf(stderr, "missing: %s\n%s", line, b.data);
    ob_buf_fini(&b);
    return found;
}
