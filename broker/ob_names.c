/* ob_names.c: per-thread cache of translated family and label names.
 *
 * Three open-addressing maps from key bytes to a cached answer.  Keys and
 * answers are copied on insert; nothing is ever removed except by a full
 * reset (translator change, or over budget, both in ob_names_bind), so
 * entries never move and the returned pointers stay valid until the next
 * ob_names_bind() that resets.
 */
#include "ob_names.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "ob_error.h"
#include "ob_log.h"
#include "ob_translator_host.h"
#include "ob_selfmetrics.h"

struct entry {
    uint64_t hash;
    char *key;
    uint32_t key_len;
    struct ob_family_entry val; /* labels use status (OK/DROPPED) and name */
};

struct map {
    struct entry *slots; /* key == NULL: empty */
    uint32_t cap;        /* power of two */
    uint32_t used;
    size_t bytes;        /* keys and answers, with malloc's rounding guessed */
    uint64_t hits, misses; /* since the last ob_names_publish */
    enum ob_name_cache kind;
};

struct ob_names {
    uint64_t generation;
    size_t max_entries, max_bytes; /* 0 = unbounded */
    struct map families;
    struct map labels;
    struct map metric_labels; /* key: u32 label_scope, then the attribute key */
    uint32_t next_scope;
    char *scratch; /* name buffer for translator calls */
    size_t scratch_cap;
};

/* What an entry costs beyond its table slot: two allocations. */
static size_t entry_bytes(uint32_t key_len, uint32_t name_len, bool has_name)
{
    return ((size_t)key_len + 16 + 15) / 16 * 16 + (has_name ? ((size_t)name_len + 17 + 15) / 16 * 16 : 0);
}

static size_t map_bytes(const struct map *m)
{
    return m->bytes + (size_t)m->cap * sizeof(struct entry);
}

/* Empties m; returns the entries dropped.  Its counters stay. */
static uint32_t map_clear(struct map *m)
{
    for (uint32_t i = 0; i < m->cap; i++) {
        free(m->slots[i].key);
        free((char *)m->slots[i].val.name);
    }
    free(m->slots);
    uint32_t dropped = m->used;
    m->slots = NULL;
    m->cap = m->used = 0;
    m->bytes = 0;
    return dropped;
}

static struct entry *map_find(struct map *m, uint64_t hash, const void *key, uint32_t key_len)
{
    if (!m->cap)
        return NULL;
    for (uint32_t i = (uint32_t)hash & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        struct entry *e = &m->slots[i];
        if (!e->key)
            return NULL;
        if (e->hash == hash && e->key_len == key_len && memcmp(e->key, key, key_len) == 0)
            return e;
    }
}

static int map_grow(struct map *m)
{
    uint32_t cap = m->cap ? m->cap * 2 : 64;
    struct entry *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -ENOMEM;
    for (uint32_t i = 0; i < m->cap; i++) {
        struct entry *e = &m->slots[i];
        if (!e->key)
            continue;
        uint32_t j = (uint32_t)e->hash & (cap - 1);
        while (slots[j].key)
            j = (j + 1) & (cap - 1);
        slots[j] = *e;
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    return 0;
}

/* Inserts a copy of key with a copy of name; returns the entry or NULL. */
static struct entry *map_insert(struct map *m, uint64_t hash, const void *key, uint32_t key_len,
                                const struct ob_family_entry *val)
{
    if ((m->used + 1) * 4 > m->cap * 3 && map_grow(m) != 0)
        return NULL;
    char *k = malloc(key_len ? key_len : 1);
    char *name = NULL;
    if (val->name) {
        name = malloc(val->name_len + 1);
        if (name) {
            memcpy(name, val->name, val->name_len);
            name[val->name_len] = '\0';
        }
    }
    if (!k || (val->name && !name)) {
        free(k);
        free(name);
        return NULL;
    }
    memcpy(k, key, key_len);
    uint32_t i = (uint32_t)hash & (m->cap - 1);
    while (m->slots[i].key)
        i = (i + 1) & (m->cap - 1);
    struct entry *e = &m->slots[i];
    *e = (struct entry){.hash = hash, .key = k, .key_len = key_len, .val = *val};
    e->val.name = name;
    m->used++;
    m->bytes += entry_bytes(key_len, val->name_len, val->name != NULL);
    return e;
}

int ob_names_create(size_t max_entries, size_t max_bytes, struct ob_names **out)
{
    struct ob_names *n = calloc(1, sizeof *n);
    if (!n)
        return -ENOMEM;
    n->max_entries = max_entries;
    n->max_bytes = max_bytes;
    n->families.kind = OB_NAME_CACHE_FAMILIES;
    n->labels.kind = OB_NAME_CACHE_LABELS;
    n->metric_labels.kind = OB_NAME_CACHE_METRIC_LABELS;
    n->scratch_cap = 256;
    n->scratch = malloc(n->scratch_cap);
    if (!n->scratch) {
        free(n);
        return -ENOMEM;
    }
    *out = n;
    return 0;
}

void ob_names_destroy(struct ob_names *n)
{
    if (!n)
        return;
    ob_names_publish(n);
    map_clear(&n->families);
    map_clear(&n->labels);
    map_clear(&n->metric_labels);
    free(n->scratch);
    free(n);
}

size_t ob_names_entries(const struct ob_names *n)
{
    return (size_t)n->families.used + n->labels.used + n->metric_labels.used;
}

size_t ob_names_bytes(const struct ob_names *n)
{
    return map_bytes(&n->families) + map_bytes(&n->labels) + map_bytes(&n->metric_labels);
}

static void reset(struct ob_names *n, bool count)
{
    struct map *maps[] = {&n->families, &n->labels, &n->metric_labels};
    for (size_t i = 0; i < OB_ARRAY_LEN(maps); i++) {
        uint32_t dropped = map_clear(maps[i]);
        if (count && dropped)
            ob_sm_name_cache(maps[i]->kind, 0, 0, dropped);
    }
    n->next_scope = 0; /* scopes key metric_labels, emptied with it */
}

void ob_names_bind(struct ob_names *n, const struct ob_translator_inst *x)
{
    if (n->generation != x->generation) {
        reset(n, false);
        n->generation = x->generation;
    } else if ((n->max_entries && ob_names_entries(n) > n->max_entries) ||
               (n->max_bytes && ob_names_bytes(n) > n->max_bytes)) {
        reset(n, true);
        ob_sm_name_cache_reset();
    }
}

void ob_names_publish(struct ob_names *n)
{
    struct map *maps[] = {&n->families, &n->labels, &n->metric_labels};
    for (size_t i = 0; i < OB_ARRAY_LEN(maps); i++) {
        if (maps[i]->hits || maps[i]->misses)
            ob_sm_name_cache(maps[i]->kind, maps[i]->hits, maps[i]->misses, 0);
        maps[i]->hits = maps[i]->misses = 0;
    }
}

/* Calls a snprintf-style naming callback, growing the scratch buffer once
 * if the answer does not fit.  Returns the length, or -1 for "drop". */
static long call_namer(struct ob_names *n, long (*fn)(void *, const void *, char *, size_t),
                       void *state, const void *arg)
{
    long len = fn(state, arg, n->scratch, n->scratch_cap);
    if (len >= 0 && (size_t)len >= n->scratch_cap) {
        size_t cap = (size_t)len + 1;
        char *p = realloc(n->scratch, cap);
        if (!p)
            return -1;
        n->scratch = p;
        n->scratch_cap = cap;
        len = fn(state, arg, n->scratch, n->scratch_cap);
        if (len < 0 || (size_t)len >= n->scratch_cap)
            return -1;
    }
    return len;
}

/* Adapters from the typed callbacks to call_namer's shape. */
struct label_arg {
    const struct ob_translator_inst *x;
    const char *key;
    size_t len;
};

static long family_thunk(void *state, const void *arg, char *buf, size_t cap)
{
    const struct ob_translator_inst *x = state;
    return x->desc.family_name(x->state, arg, buf, cap);
}

static long unit_thunk(void *state, const void *arg, char *buf, size_t cap)
{
    const struct ob_translator_inst *x = state;
    return x->desc.unit_name(x->state, arg, buf, cap);
}

static long label_thunk(void *state, const void *arg, char *buf, size_t cap)
{
    OB_UNUSED(state);
    const struct label_arg *a = arg;
    return a->x->desc.label_name(a->x->state, a->key, a->len, buf, cap);
}

static enum ob_family_type family_type(const struct ob_metric_view *m)
{
    switch (m->type) {
    case OB_METRIC_COUNTER:
        return OB_FAMILY_COUNTER;
    case OB_METRIC_GAUGE:
    case OB_METRIC_UPDOWNCOUNTER:
        return OB_FAMILY_GAUGE;
    case OB_METRIC_HISTOGRAM:
    case OB_METRIC_EXP_HISTOGRAM:
        return OB_FAMILY_HISTOGRAM;
    case OB_METRIC_SUMMARY:
        return OB_FAMILY_SUMMARY;
    }
    return OB_FAMILY_UNKNOWN;
}

/* Cache key of a metric: type, temporality, then length-prefixed name,
 * unit and description.  Written into a small stack buffer when it fits. */
static uint32_t family_key(const struct ob_metric_view *m, char *buf, size_t cap)
{
    size_t need = 2 + 3 * sizeof(uint32_t) + m->name.len + m->unit.len + m->description.len;
    if (need > cap || need > UINT32_MAX)
        return 0;
    char *p = buf;
    *p++ = (char)m->type;
    *p++ = (char)m->temporality;
    const struct ob_str *parts[] = {&m->name, &m->unit, &m->description};
    for (size_t i = 0; i < OB_ARRAY_LEN(parts); i++) {
        uint32_t len = (uint32_t)parts[i]->len;
        memcpy(p, &len, sizeof len);
        p += sizeof len;
        if (len)
            memcpy(p, parts[i]->ptr, len);
        p += len;
    }
    return (uint32_t)need;
}

/* The UNIT metadata of a family just resolved in the store, when the
 * translator names one; asked once per cache miss, after the name left the
 * scratch buffer (the entry keeps its own copy). */
static void set_unit(struct ob_names *n, const struct ob_translator_inst *x, struct ob_store *s,
                     const struct ob_metric_view *m, const struct ob_family_entry *fam)
{
    if (!fam || fam->status != OB_FAMILY_OK || !x->desc.unit_name)
        return;
    long len = call_namer(n, unit_thunk, (void *)x, m);
    ob_store_family_unit(s, fam->family, fam->gen, len > 0 ? n->scratch : "",
                         len > 0 ? (size_t)len : 0);
}

const struct ob_family_entry *ob_names_resolve_family(struct ob_names *n,
                                                      const struct ob_translator_inst *x,
                                                      struct ob_store *s,
                                                      const struct ob_metric_view *m)
{
    char stack[1024];
    char *key = stack;
    uint32_t key_len = family_key(m, stack, sizeof stack);
    if (!key_len) {
        size_t need = 2 + 3 * sizeof(uint32_t) + m->name.len + m->unit.len + m->description.len;
        if (need > UINT32_MAX || !(key = malloc(need)))
            return NULL;
        key_len = family_key(m, key, need);
    }
    uint64_t hash = XXH3_64bits(key, key_len);
    struct entry *e = map_find(&n->families, hash, key, key_len);
    /* A full store may have room again later: retry those; a family the
     * store reclaimed (it had no series for series_ttl) is resolved anew. */
    if (e && e->val.status != OB_FAMILY_FULL &&
        (e->val.status != OB_FAMILY_OK || ob_store_family_valid(s, e->val.family, e->val.gen))) {
        n->families.hits++;
        goto done;
    }
    n->families.misses++;

    struct ob_family_entry val = {.status = OB_FAMILY_DROPPED};
    long len = call_namer(n, family_thunk, (void *)x, m);
    if (len > 0) {
        val.name = n->scratch;
        val.name_len = (uint32_t)len;
        int rc = ob_store_family(s, n->scratch, (size_t)len, family_type(m), m->description.ptr,
                                 m->description.len, &val.family, &val.gen);
        val.status = rc == 0                    ? OB_FAMILY_OK
                     : rc == OB_E_TYPE_CONFLICT ? OB_FAMILY_CONFLICT
                                                : OB_FAMILY_FULL;
    }
    if (e) { /* a FULL or reclaimed entry being retried: update in place */
        if (val.status != OB_FAMILY_FULL || e->val.status == OB_FAMILY_OK) {
            e->val.status = val.status;
            e->val.family = val.family;
            e->val.gen = val.gen;
        }
        set_unit(n, x, s, m, &e->val);
        goto done;
    }
    val.label_scope = ++n->next_scope;
    e = map_insert(&n->families, hash, key, key_len, &val);
    set_unit(n, x, s, m, e ? &e->val : NULL);
done:
    if (key != stack)
        free(key);
    return e ? &e->val : NULL;
}

/* The name of a label key k in map m (a cache of label names), asked of the
 * plugin through thunk(arg) the first time k is seen.  False when the
 * plugin drops the label or memory runs out. */
static bool label_cached(struct ob_names *n, struct map *m, const char *k, uint32_t k_len,
                         long (*thunk)(void *, const void *, char *, size_t), const void *arg,
                         struct ob_str *out_name)
{
    uint64_t hash = XXH3_64bits(k, k_len);
    struct entry *e = map_find(m, hash, k, k_len);
    if (e)
        m->hits++;
    else
        m->misses++;
    if (!e) {
        long len = call_namer(n, thunk, NULL, arg);
        struct ob_family_entry val = {.status = OB_FAMILY_DROPPED};
        if (len > 0) {
            val.status = OB_FAMILY_OK;
            val.name = n->scratch;
            val.name_len = (uint32_t)len;
        }
        e = map_insert(m, hash, k, k_len, &val);
    }
    if (!e || e->val.status != OB_FAMILY_OK)
        return false;
    out_name->ptr = e->val.name;
    out_name->len = e->val.name_len;
    return true;
}

bool ob_names_label(struct ob_names *n, const struct ob_translator_inst *x, const char *key,
                    size_t key_len, struct ob_str *out_name)
{
    if (key_len > UINT32_MAX)
        return false;
    struct label_arg arg = {x, key, key_len};
    return label_cached(n, &n->labels, key, (uint32_t)key_len, label_thunk, &arg, out_name);
}

struct metric_label_arg {
    const struct ob_translator_inst *x;
    const struct ob_metric_view *m;
    const char *key;
    size_t len;
};

static long metric_label_thunk(void *state, const void *arg, char *buf, size_t cap)
{
    OB_UNUSED(state);
    const struct metric_label_arg *a = arg;
    return a->x->desc.metric_label_name(a->x->state, a->m, a->key, a->len, buf, cap);
}

bool ob_names_metric_label(struct ob_names *n, const struct ob_translator_inst *x,
                           const struct ob_family_entry *fam, const struct ob_metric_view *m,
                           const char *key, size_t key_len, struct ob_str *out_name)
{
    if (!x->desc.metric_label_name)
        return ob_names_label(n, x, key, key_len, out_name);
    if (key_len > UINT32_MAX - 4)
        return false;
    char stack[256];
    uint32_t k_len = (uint32_t)key_len + 4;
    char *k = k_len <= sizeof stack ? stack : malloc(k_len);
    if (!k)
        return false;
    memcpy(k, &fam->label_scope, 4);
    memcpy(k + 4, key, key_len);
    struct metric_label_arg arg = {x, m, key, key_len};
    bool ok = label_cached(n, &n->metric_labels, k, k_len, metric_label_thunk, &arg, out_name);
    if (k != stack)
        free(k);
    return ok;
}
