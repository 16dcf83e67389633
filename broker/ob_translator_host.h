/* ob_translator_host.h: the broker's side of the translator ABI: loading
 * plugins and swapping them at run time.
 *
 * Three words: the plugin describes itself with a struct ob_translator
 * (translator.h) and is handed a struct ob_host; a loaded plugin is a struct
 * ob_translator_inst; each frontend names its points with the instance in its
 * struct ob_translator_slot, which a reload swaps.
 *
 * An instance is the dlopen handle, a zeroed host-owned copy
 * of its descriptor, its state from init(), a generation number and a
 * reference count.  The host publishes the current one under a short mutex;
 * each request acquires a reference to the one it started with and releases
 * it at the end.  The last release of a replaced instance calls fini() and then
 * dlclose() (the nginx "new cycle" idea).
 */
#ifndef OB_TRANSLATOR_HOST_H
#define OB_TRANSLATOR_HOST_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "ob_common.h"
#include "translator.h"

struct ob_translator_inst {
    struct ob_translator desc; /* host copy; fields past the plugin's size are NULL */
    void *state;               /* from init() */
    uint64_t generation;       /* unique per load, never reused in a process */
    _Atomic uint32_t refs;
    void *dl;                  /* dlopen handle */
    char *path;                /* resolved .so path */
    struct ob_host host;       /* the table handed to init() */
};

/* Resolves name_or_path (a name -> <plugin_dir>/<name>.so; anything with a
 * '/' or ending in .so is a path), dlopens it (RTLD_NOW|RTLD_LOCAL), checks
 * the entry symbol, magic, ABI major and descriptor size, copies the
 * descriptor, checks required callbacks and calls init() with kv.  Returns 0
 * with one reference held by the caller, or OB_E_PLUGIN_* with err naming
 * the path and what is wrong (both ABI numbers on a mismatch):
 *   OB_E_PLUGIN_OPEN    no such file / not loadable (dlerror text), no plugin_dir
 *   OB_E_PLUGIN_SYMBOL  no ob_translator_v1 in the object
 *   OB_E_PLUGIN_ABI     entry returned NULL, bad magic, other major, descriptor
 *                       shorter than OB_TRANSLATOR_V1_0_SIZE, missing name or
 *                       required callback
 *   OB_E_PLUGIN_INIT    init() failed; its reason follows "init failed: "
 * kv (and its strings) is copied: the caller may free it on return; the
 * plugin sees the copy as host->config until fini(). */
int ob_translator_load(const char *name_or_path, const char *plugin_dir, const struct ob_kv *kv,
                       size_t n_kv, struct ob_translator_inst **out, char err[OB_ERR_LEN]);
struct ob_translator_inst *ob_translator_ref(struct ob_translator_inst *x);
/* Drops a reference; the last one calls fini() and dlclose().  NULL ok. */
void ob_translator_unref(struct ob_translator_inst *x);

/* acquire() takes the current pointer and its reference under a mutex held
 * for a few instructions: once per request, never per point. */
struct ob_translator_slot {
    pthread_mutex_t lock;
    struct ob_translator_inst *current;
};

void ob_translator_slot_init(struct ob_translator_slot *h);
/* Publishes x (the host takes over the caller's reference); the previous one
 * is released once every request using it has finished. */
void ob_translator_slot_swap(struct ob_translator_slot *h, struct ob_translator_inst *x);
/* The current instance with one more reference (NULL if none): pair with
 * ob_translator_unref(). */
struct ob_translator_inst *ob_translator_slot_acquire(struct ob_translator_slot *h);
void ob_translator_slot_fini(struct ob_translator_slot *h);

#endif
