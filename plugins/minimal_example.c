/* minimal_example.c: the smallest complete translator plugin, as a tutorial.
 *
 * Policy: a metric name is lower-cased and every byte outside [a-z0-9_:]
 * becomes '_' ("HTTP.Server-Duration" -> "http_server_duration"); no unit or
 * _total suffixes.  Label names the same way without ':'.  A name that
 * would start with a digit gets a leading '_', so every result is a valid
 * classic Prometheus name.  job = service.name, instance =
 * service.instance.id, no target_info, nothing promoted.
 *
 * Build: the Makefile turns every plugins/<name>.c into
 * build/plugins/<name>.so; select it with [translator] plugin = minimal_example.
 * plugins/README.md walks through this file; tests/unit/test_rules.c loads it.
 *
 * The only header a plugin needs is translator.h (and libc).  It must not
 * call anything in the broker: it is linked with -Wl,-z,defs against libc.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "translator.h"

/* ---- 1. init: read the config, refuse what you do not understand ---------
 *
 * host->config holds the [translator] keys other than plugin and plugin_dir
 * (lower-case keys, string values).  This plugin has no settings, so any key
 * is a mistake the user wants to hear about: failing init() makes the broker
 * refuse to start (or, on reload, keep the old plugin) with this message.
 * A plugin with settings would allocate a struct here, fill it from the
 * config and return it in *out_state; the host passes it back to every
 * callback and to fini().  We keep no state. */
static int init(const struct ob_host *host, void **out_state, char *err, size_t err_cap)
{
    if (host->n_config > 0) {
        snprintf(err, err_cap, "unknown key '%s' (minimal_example takes no settings)",
                 host->config[0].key);
        return -1;
    }
    *out_state = NULL;
    return 0;
}

/* ---- 2. the one naming helper ---------------------------------------------
 *
 * Every naming callback follows snprintf's convention: write what fits into
 * buf[0..cap), return the length the whole answer needs (no NUL).  If that is
 * more than cap, the host grows its buffer and calls again, so the callback
 * must give the same answer both times: a pure function of its inputs.  A
 * negative return means "drop" (the metric or the attribute is not stored). */
static void put(char *buf, size_t cap, size_t at, char c)
{
    if (at < cap)
        buf[at] = c;
}

static long sanitize(const char *s, size_t n, bool allow_colon, char *buf, size_t cap)
{
    if (n == 0)
        return -1; /* an empty name cannot be exposed: drop */
    size_t len = 0;
    if (s[0] >= '0' && s[0] <= '9')
        put(buf, cap, len++, '_'); /* names cannot start with a digit */
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a'); /* ASCII only: no locale, thread-safe */
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
                  (allow_colon && c == ':');
        put(buf, cap, len++, ok ? c : '_'); /* each byte of a UTF-8 character too */
    }
    return (long)len;
}

/* ---- 3. the naming callbacks ----------------------------------------------
 *
 * Views (struct ob_str: pointer + length) are NOT NUL-terminated and live
 * only for the call.  The host caches every answer per loaded plugin, so
 * these run once per distinct metric or key, not per data point. */
static long family_name(void *state, const struct ob_metric_view *m, char *buf, size_t cap)
{
    (void)state;
    /* m->unit, m->type and m->temporality are there for suffix policies;
     * this one ignores them.  The broker adds _bucket/_sum/_count itself. */
    return sanitize(m->name.ptr, m->name.len, true, buf, cap);
}

static long label_name(void *state, const char *key, size_t key_len, char *buf, size_t cap)
{
    (void)state;
    /* "__" starts names Prometheus reserves for itself: drop such keys. */
    if (key_len >= 2 && key[0] == '_' && key[1] == '_')
        return -1;
    return sanitize(key, key_len, false, buf, cap);
}

/* ---- 4. resources: job and instance ---------------------------------------
 *
 * The host zeroes *out and lends two buffers.  Set has_job / job_len (and the
 * instance pair) even when the value does not fit, copy what fits, and
 * return the larger length if something did not fit: the host grows both
 * buffers and calls again.  attr_roles[i] (OB_RES_TARGET_INFO, OB_RES_PROMOTE)
 * stay 0 here: no target_info, nothing promoted. */
static void copy_attr(const struct ob_resource_view *r, const char *key, char *dst, size_t cap,
                      bool *out_has, size_t *out_len)
{
    for (size_t i = 0; i < r->n_attrs; i++) {
        const struct ob_attr *a = &r->attrs[i];
        if (a->key.len == strlen(key) && memcmp(a->key.ptr, key, a->key.len) == 0) {
            *out_has = true;
            *out_len = a->value.len;
            if (a->value.len <= cap)
                memcpy(dst, a->value.ptr, a->value.len);
            return;
        }
    }
}

static long resource(void *state, const struct ob_resource_view *r, struct ob_resource_out *out)
{
    (void)state;
    copy_attr(r, "service.name", out->job, out->job_cap, &out->has_job, &out->job_len);
    copy_attr(r, "service.instance.id", out->instance, out->instance_cap, &out->has_instance,
              &out->instance_len);
    if (out->job_len > out->job_cap || out->instance_len > out->instance_cap)
        return (long)(out->job_len > out->instance_len ? out->job_len : out->instance_len);
    return 0;
}

/* ---- 5. the descriptor and the one exported symbol ------------------------
 *
 * OB_TRANSLATOR_HEADER stamps magic, the ABI version and sizeof the struct
 * this file was compiled with; the host checks all three.  Callbacks left
 * out are NULL: fini (we allocate nothing), unit_name (no UNIT metadata),
 * metric_label_name (label names do not depend on the metric). */
static const struct ob_translator descriptor = {
    .hdr = OB_TRANSLATOR_HEADER,
    .name = "minimal_example",
    .version = "1",
    .init = init,
    .family_name = family_name,
    .label_name = label_name,
    .resource = resource,
};

/* The .so is built with -fvisibility=hidden: this is the only symbol the
 * host can see (nm -D shows just ob_translator_v1).  Return NULL to refuse
 * a host of another ABI major; any minor of ours can read a 1.x descriptor. */
OB_TRANSLATOR_EXPORT const struct ob_translator *ob_translator_v1(uint32_t host_abi_major,
                                                                  uint32_t host_abi_minor)
{
    (void)host_abi_minor;
    return host_abi_major == OB_ABI_MAJOR ? &descriptor : NULL;
}
