/* xl.h: what the plugins call of xl.c, the naming rules of the four strategy
 * plugins (docs/otlp-to-prometheus.md, "the spec").
 *
 * A strategy is two bits (XL_ESCAPE, XL_SUFFIXES) given to xl_init(); the
 * callbacks below are translator.h callbacks that read them from the state.
 * A strategy plugin is XL_STRATEGY_PLUGIN() and nothing else; rules.c builds
 * on a strategy with the callbacks and the init-time helpers.  xl.c is linked
 * in statically (libxl.a), so none of this is exported from a plugin.
 */
#ifndef XL_H
#define XL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "translator.h"

#ifndef OB_VERSION
#define OB_VERSION "0"
#endif

enum {
    XL_ESCAPE = 1u << 0,   /* map characters outside the classic alphabet to '_' */
    XL_SUFFIXES = 1u << 1, /* append unit and type suffixes */
};

/* Made by xl_init(), read-only afterwards.  Public because rules.c copies it
 * to give a rule its own namespace (the copy shares the lists). */
struct xl_state {
    unsigned strategy; /* XL_ESCAPE | XL_SUFFIXES */
    char *ns;          /* namespace, "" if none */
    size_t ns_len;
    bool underscore_sanitization;       /* '_foo' -> 'key_foo' (escaping only) */
    bool preserve_multiple_underscores; /* keep '__' runs (escaping only) */
    bool keep_identifying;              /* service.* also on target_info */
    bool target_info;                   /* emit target_info at all */
    bool promote_all;
    struct ob_str *promote; /* promote_resource_attributes entries */
    size_t n_promote;
    struct ob_str *ignore; /* ignore_resource_attributes entries */
    size_t n_ignore;
    char *lists; /* owns the bytes the two lists point into */
};

/* ---- a strategy: init, fini and the callbacks --------------------------- */

/* Parses host->config (the keys below) into a new struct xl_state for strategy. */
int xl_init(const struct ob_host *host, unsigned strategy, void **out_state, char *err,
            size_t err_cap);
/* Frees a state from xl_init(); NULL is fine. */
void xl_fini(void *state);
/* Metric family name by the state's strategy (spec section 3). */
long xl_family_name(void *state, const struct ob_metric_view *m, char *buf, size_t cap);
/* UNIT metadata string, the same under every strategy (spec 4.5). */
long xl_unit_name(void *state, const struct ob_metric_view *m, char *buf, size_t cap);
/* Label name of an attribute key (spec section 6). */
long xl_label_name(void *state, const char *key, size_t key_len, char *buf, size_t cap);
/* job, instance, target_info and attribute roles of a resource (spec section 7). */
long xl_resource(void *state, const struct ob_resource_view *r, struct ob_resource_out *out);

/* ---- for plugins built on a strategy (rules.c) -------------------------- */

/* The strategy bits of one of the four strategy plugins' names; false if none. */
bool xl_strategy_by_name(const char *name, unsigned *out_strategy);
/* Is key one that xl_init() understands? */
bool xl_is_key(const char *key);
/* The i-th key xl_init() understands, NULL past the last. */
const char *xl_key(size_t i);
/* Comma-separated list into trimmed entries pointing into value; error on empty or repeated. */
int xl_parse_list(const char *key, const char *value, struct ob_str **out_list, size_t *out_n,
                  char *err, size_t err_cap);
/* printf into err[0..err_cap); nothing if err is NULL. */
void xl_set_err(char *err, size_t err_cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* s without leading and trailing white space (Go's strings.TrimSpace). */
struct ob_str xl_trim_space(struct ob_str s);
/* ASCII '0'..'9'. */
bool xl_is_digit(unsigned c);
/* Metric name alphabet with '_': [A-Za-z0-9_:]. */
bool xl_is_metric_char_or_us(unsigned char c);

/* The whole of a strategy plugin: an init that picks the strategy flags, the
 * descriptor and the one exported entry.  Each strategy's .c file is this
 * macro with its name and flags, so the four cannot drift apart. */
#define XL_STRATEGY_PLUGIN(plugin_name, strategy_flags)                                            \
    static int init(const struct ob_host *host, void **out_state, char *err, size_t err_cap)      \
    {                                                                                              \
        return xl_init(host, (strategy_flags), out_state, err, err_cap);                           \
    }                                                                                              \
                                                                                                   \
    static const struct ob_translator descriptor = {                                               \
        .hdr = OB_TRANSLATOR_HEADER,                                                               \
        .name = (plugin_name),                                                                     \
        .version = OB_VERSION,                                                                     \
        .init = init,                                                                              \
        .fini = xl_fini,                                                                           \
        .family_name = xl_family_name,                                                             \
        .label_name = xl_label_name,                                                               \
        .resource = xl_resource,                                                                   \
        .unit_name = xl_unit_name,                                                                 \
    };                                                                                             \
                                                                                                   \
    /* any minor of our major can use a v1.0 descriptor */                                         \
    OB_TRANSLATOR_EXPORT const struct ob_translator *ob_translator_v1(uint32_t host_abi_major,     \
                                                                      uint32_t host_abi_minor)     \
    {                                                                                              \
        (void)host_abi_minor;                                                                      \
        return host_abi_major == OB_ABI_MAJOR ? &descriptor : NULL;                                \
    }

#endif
