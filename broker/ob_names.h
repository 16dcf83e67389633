/* ob_names.h: the translated-name cache.
 *
 * A name is computed once per distinct OTLP metric (name, unit, description,
 * type, temporality) and once per distinct attribute key, per loaded
 * translator (keyed by the instance's generation), never per data point.  One cache
 * per ingest thread: no locks on the hot path.  A generation change (plugin
 * reload) empties the cache.
 *
 * Bounded: a sender that makes up metric names or attribute keys (ids in
 * keys) must not grow the broker's memory without end.  When the cache holds
 * more than its entries or bytes budget at the start of a request
 * (ob_names_bind), it is emptied; within a request it grows by at most what
 * that request names, and the pointers it returned stay valid until the next
 * bind.  Lookups, misses and the entries dropped are counted per cache
 * (self-metrics otlp_broker_name_cache_*).
 */
#ifndef OB_NAMES_H
#define OB_NAMES_H

#include <stdbool.h>
#include <stdint.h>

#include "ob_store.h"
#include "translator.h"

struct ob_names;
struct ob_translator_inst;

enum ob_family_status {
    OB_FAMILY_OK = 0,
    OB_FAMILY_DROPPED,  /* the translator refused the name */
    OB_FAMILY_CONFLICT, /* the name exists in the store with another type */
    OB_FAMILY_FULL,     /* no family slot left (retried on the next miss) */
};

struct ob_family_entry {
    enum ob_family_status status;
    uint32_t family; /* store family id when OK */
    uint32_t gen;    /* its generation (ob_store_family) */
    const char *name; /* translated name (NUL-terminated) */
    uint32_t name_len;
    uint32_t label_scope; /* families: scope of metric_label_name answers (>= 1) */
};

/* max_entries, max_bytes: the budget over all three maps (keys, answers and
 * table slots); 0 = unbounded. */
int ob_names_create(size_t max_entries, size_t max_bytes, struct ob_names **out);
void ob_names_destroy(struct ob_names *n);

/* Empties the cache when x is not the translator it was filled with, or
 * when it is over its budget. */
void ob_names_bind(struct ob_names *n, const struct ob_translator_inst *x);
/* Adds the lookups counted since the last call to the self-metrics. */
void ob_names_publish(struct ob_names *n);
/* Entries and bytes held now (tests, the memory bound). */
size_t ob_names_entries(const struct ob_names *n);
size_t ob_names_bytes(const struct ob_names *n);

/* The family for metric m: named by the translator and resolved in the
 * store (ob_store_family: created there on first sight, and again when the
 * store reclaimed the one cached), then cached.  NULL only on allocation
 * failure. */
const struct ob_family_entry *ob_names_resolve_family(struct ob_names *n,
                                                      const struct ob_translator_inst *x,
                                                      struct ob_store *s,
                                                      const struct ob_metric_view *m);

/* The label name for an attribute key; false when the translator drops it
 * (or on allocation failure). */
bool ob_names_label(struct ob_names *n, const struct ob_translator_inst *x, const char *key,
                    size_t key_len, struct ob_str *out_name);

/* The label name for a data-point attribute key of a series of metric m
 * (fam = ob_names_resolve_family(..., m)): the plugin's metric_label_name (ABI 1.1)
 * cached per (metric, key) when it has one, else ob_names_label(). */
bool ob_names_metric_label(struct ob_names *n, const struct ob_translator_inst *x,
                           const struct ob_family_entry *fam, const struct ob_metric_view *m,
                           const char *key, size_t key_len, struct ob_str *out_name);

#endif
