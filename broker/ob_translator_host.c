/* ob_translator_host.c: loading translator plugins and swapping them at run time.
 *
 * Loading: dlopen (RTLD_NOW|RTLD_LOCAL),
 * one dlsym, magic / major / size checks, a zeroed host-owned copy of the
 * descriptor, required callbacks, then init() with a host table of our own.
 * Each failure has its own OB_E_PLUGIN_* code and a message naming the path.
 */
#include "ob_translator_host.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ob_error.h"
#include "ob_log.h"

/* Generation numbers are never reused in a process, so a name cache keyed
 * by generation can never confuse two loads of the same .so. */
static _Atomic uint64_t next_generation = 1;

/* host->log: one line through ob_log, "plugin <name>: ..." */
static void host_log(const struct ob_host *host, enum ob_plugin_log_level level, const char *fmt,
                     ...) OB_PRINTF(3, 4);
static void host_log(const struct ob_host *host, enum ob_plugin_log_level level, const char *fmt,
                     ...)
{
    enum ob_log_level lvl = level <= OB_PLOG_DEBUG ? (enum ob_log_level)level : OB_LOG_DEBUG;
    if (lvl > ob_log_level_current || !host || !fmt)
        return;
    const struct ob_translator_inst *x = host->host_private;
    char comp[128], msg[768];
    snprintf(comp, sizeof comp, "plugin %s", x && x->desc.name ? x->desc.name : "?");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ob_log(lvl, comp, "%s", msg);
}

/* name -> <dir>/<name>.so; anything with a '/' or ending in ".so" is a path. */
static char *resolve_path(const char *name_or_path, const char *plugin_dir)
{
    size_t n = strlen(name_or_path);
    bool is_path = strchr(name_or_path, '/') || (n >= 3 && strcmp(name_or_path + n - 3, ".so") == 0);
    if (is_path)
        return strdup(name_or_path);
    if (!plugin_dir || !*plugin_dir)
        return NULL;
    size_t len = strlen(plugin_dir) + 1 + n + 4;
    char *p = malloc(len);
    if (p)
        snprintf(p, len, "%s/%s.so", plugin_dir, name_or_path);
    return p;
}

/* One block: the kv array, then every key and value string.  The caller's
 * array may be freed as soon as load returns; the plugin may keep pointers
 * into host->config until fini(). */
static struct ob_kv *copy_kv(const struct ob_kv *kv, size_t n)
{
    size_t bytes = n * sizeof *kv;
    for (size_t i = 0; i < n; i++)
        bytes += strlen(kv[i].key ? kv[i].key : "") + strlen(kv[i].value ? kv[i].value : "") + 2;
    struct ob_kv *out = malloc(bytes ? bytes : 1);
    if (!out)
        return NULL;
    char *p = (char *)(out + n);
    for (size_t i = 0; i < n; i++) {
        const char *src[2] = {kv[i].key ? kv[i].key : "", kv[i].value ? kv[i].value : ""};
        const char *dst[2];
        for (int j = 0; j < 2; j++) {
            size_t l = strlen(src[j]) + 1;
            memcpy(p, src[j], l);
            dst[j] = p;
            p += l;
        }
        out[i].key = dst[0];
        out[i].value = dst[1];
    }
    return out;
}

/* Frees what load made; init() has not run or has failed (no fini). */
static void instance_free(struct ob_translator_inst *x)
{
    if (!x)
        return;
    if (x->dl)
        dlclose(x->dl);
    free((void *)x->host.config);
    free(x->path);
    free(x);
}

static const char *missing_callback(const struct ob_translator *d)
{
    if (!d->name || !*d->name)
        return "name";
    if (!d->family_name)
        return "family_name";
    if (!d->label_name)
        return "label_name";
    if (!d->resource)
        return "resource";
    return NULL;
}

int ob_translator_load(const char *name_or_path, const char *plugin_dir, const struct ob_kv *kv,
                       size_t n_kv, struct ob_translator_inst **out, char err[OB_ERR_LEN])
{
    int rc;
    struct ob_translator_inst *x = NULL;
    err[0] = '\0';
    if (!name_or_path || !*name_or_path) {
        snprintf(err, OB_ERR_LEN, "no translator plugin given");
        return OB_E_PLUGIN_OPEN;
    }
    x = calloc(1, sizeof *x);
    if (!x) {
        snprintf(err, OB_ERR_LEN, "plugin %s: out of memory", name_or_path);
        return -ENOMEM;
    }
    x->path = resolve_path(name_or_path, plugin_dir);
    if (!x->path) {
        rc = plugin_dir && *plugin_dir ? -ENOMEM : OB_E_PLUGIN_OPEN;
        snprintf(err, OB_ERR_LEN, "plugin %s: %s", name_or_path,
                 rc == -ENOMEM ? "out of memory" : "no plugin_dir to look for it in");
        goto fail;
    }

    x->dl = dlopen(x->path, RTLD_NOW | RTLD_LOCAL);
    if (!x->dl) {
        const char *e = dlerror();
        /* dlerror() usually starts with the path already. */
        if (e && strstr(e, x->path))
            snprintf(err, OB_ERR_LEN, "plugin: %s", e);
        else
            snprintf(err, OB_ERR_LEN, "plugin %s: %s", x->path, e ? e : "dlopen failed");
        rc = OB_E_PLUGIN_OPEN;
        goto fail;
    }

    ob_translator_entry_fn entry;
    dlerror();
    *(void **)&entry = dlsym(x->dl, OB_TRANSLATOR_ENTRY);
    if (!entry) {
        snprintf(err, OB_ERR_LEN,
                 "plugin %s: no symbol %s (not a translator plugin, or built for another ABI "
                 "major than %u)",
                 x->path, OB_TRANSLATOR_ENTRY, OB_ABI_MAJOR);
        rc = OB_E_PLUGIN_SYMBOL;
        goto fail;
    }
    const struct ob_translator *d = entry(OB_ABI_MAJOR, OB_ABI_MINOR);
    if (!d) {
        snprintf(err, OB_ERR_LEN, "plugin %s: refused host ABI %u.%u", x->path, OB_ABI_MAJOR,
                 OB_ABI_MINOR);
        rc = OB_E_PLUGIN_ABI;
        goto fail;
    }
    /* Only the header is known to exist until the size has been checked. */
    struct ob_translator_hdr hdr;
    memcpy(&hdr, &d->hdr, sizeof hdr);
    if (hdr.magic != OB_TRANSLATOR_MAGIC) {
        snprintf(err, OB_ERR_LEN, "plugin %s: bad descriptor magic 0x%08x (expected 0x%08x)",
                 x->path, hdr.magic, OB_TRANSLATOR_MAGIC);
        rc = OB_E_PLUGIN_ABI;
        goto fail;
    }
    if (hdr.abi_major != OB_ABI_MAJOR) {
        snprintf(err, OB_ERR_LEN, "plugin %s: built for ABI major %u, host has ABI major %u",
                 x->path, hdr.abi_major, OB_ABI_MAJOR);
        rc = OB_E_PLUGIN_ABI;
        goto fail;
    }
    if (hdr.size < OB_TRANSLATOR_V1_0_SIZE) {
        snprintf(err, OB_ERR_LEN,
                 "plugin %s: descriptor is %u bytes, ABI %u.0 needs at least %u", x->path,
                 hdr.size, OB_ABI_MAJOR, OB_TRANSLATOR_V1_0_SIZE);
        rc = OB_E_PLUGIN_ABI;
        goto fail;
    }
    /* A newer plugin's extra fields are not ours to read; an older plugin's
     * missing ones stay NULL in the zeroed copy. */
    memcpy(&x->desc, d, OB_MIN((size_t)hdr.size, sizeof x->desc));
    const char *missing = missing_callback(&x->desc);
    if (missing) {
        snprintf(err, OB_ERR_LEN, "plugin %s: descriptor has no %s (required)", x->path,
                 missing);
        rc = OB_E_PLUGIN_ABI;
        goto fail;
    }

    x->host.magic = OB_HOST_MAGIC;
    x->host.abi_major = OB_ABI_MAJOR;
    x->host.abi_minor = OB_ABI_MINOR;
    x->host.size = (uint32_t)sizeof x->host;
    x->host.log = host_log;
    x->host.config = copy_kv(kv, kv ? n_kv : 0);
    x->host.n_config = kv ? n_kv : 0;
    x->host.host_private = x;
    if (!x->host.config) {
        snprintf(err, OB_ERR_LEN, "plugin %s: out of memory", x->path);
        rc = -ENOMEM;
        goto fail;
    }
    if (x->desc.init) {
        char msg[OB_ERR_LEN] = "";
        if (x->desc.init(&x->host, &x->state, msg, sizeof msg) != 0) {
            msg[sizeof msg - 1] = '\0';
            snprintf(err, OB_ERR_LEN, "plugin %s: init failed: %s", x->path,
                     msg[0] ? msg : "(no reason given)");
            rc = OB_E_PLUGIN_INIT;
            goto fail;
        }
    }
    x->generation = atomic_fetch_add(&next_generation, 1);
    atomic_init(&x->refs, 1);
    *out = x;
    return 0;
fail:
    instance_free(x);
    return rc;
}

struct ob_translator_inst *ob_translator_ref(struct ob_translator_inst *x)
{
    if (x)
        atomic_fetch_add_explicit(&x->refs, 1, memory_order_relaxed);
    return x;
}

void ob_translator_unref(struct ob_translator_inst *x)
{
    if (!x)
        return;
    /* acq_rel: every use by other threads happens before fini(). */
    if (atomic_fetch_sub_explicit(&x->refs, 1, memory_order_acq_rel) != 1)
        return;
    if (x->desc.fini)
        x->desc.fini(x->state);
    instance_free(x);
}

void ob_translator_slot_init(struct ob_translator_slot *h)
{
    pthread_mutex_init(&h->lock, NULL);
    h->current = NULL;
}

void ob_translator_slot_swap(struct ob_translator_slot *h, struct ob_translator_inst *x)
{
    pthread_mutex_lock(&h->lock);
    struct ob_translator_inst *old = h->current;
    h->current = x;
    pthread_mutex_unlock(&h->lock);
    /* Outside the lock: the last release runs fini() and dlclose(). */
    ob_translator_unref(old);
}

struct ob_translator_inst *ob_translator_slot_acquire(struct ob_translator_slot *h)
{
    pthread_mutex_lock(&h->lock);
    struct ob_translator_inst *x = ob_translator_ref(h->current);
    pthread_mutex_unlock(&h->lock);
    return x;
}

void ob_translator_slot_fini(struct ob_translator_slot *h)
{
    if (!h)
        return;
    ob_translator_slot_swap(h, NULL);
    pthread_mutex_destroy(&h->lock);
}
