/* ob_error.h: project error codes.
 *
 * Every fallible function returns int: 0 on success, -errno for system
 * failures, OB_E_* (<= -1000) for project conditions.  ob_strerror() names both.
 */
#ifndef OB_ERROR_H
#define OB_ERROR_H

enum {
    OB_E_FIRST = -1000,
    OB_E_CONFIG = -1000,          /* bad configuration (message in err buffer) */
    OB_E_STORE_MAGIC = -1001,     /* segment is not an otlp-broker store */
    OB_E_STORE_VERSION = -1002,   /* store layout version differs */
    OB_E_STORE_LAYOUT = -1003,    /* layout signature (struct sizes, ABI) differs */
    OB_E_STORE_CKSUM = -1004,     /* header checksum mismatch */
    OB_E_STORE_SIZE = -1005,      /* mapping size / capacities differ from config */
    OB_E_STORE_LOCKED = -1006,    /* another broker owns the store */
    OB_E_STORE_FULL = -1007,      /* no room for a new series (reason: limit) */
    OB_E_OUT_OF_BOUNDS = -1008,   /* sample older than the out-of-order window */
    OB_E_DUPLICATE = -1009,       /* same timestamp, different value */
    OB_E_TYPE_CONFLICT = -1010,   /* family exists with another type */
    OB_E_PLUGIN_OPEN = -1011,     /* dlopen failed */
    OB_E_PLUGIN_SYMBOL = -1012,   /* entry symbol missing */
    OB_E_PLUGIN_ABI = -1013,      /* magic/major/size mismatch */
    OB_E_PLUGIN_INIT = -1014,     /* plugin init() failed */
    OB_E_MALFORMED = -1015,       /* payload does not decode */
    OB_E_TOO_LARGE = -1016,       /* body over limits.max_body_bytes */
    OB_E_UNSUPPORTED = -1017,     /* content type / encoding not supported */
    OB_E_TOO_MANY_LABELS = -1018, /* over limits.max_labels_per_series */
    OB_E_STORE_CORRUPT = -1019,   /* unrecoverable store state */
    OB_E_STALE_FAMILY = -1020,    /* the family id was reclaimed: resolve the name again */
    OB_E_OUT_OF_ORDER = -1021,    /* a delta point that starts before the last one added ended */
    OB_E_TEMPORALITY = -1022,     /* delta into a cumulative series, or the other way round */
    OB_E_LAST = -1022,
};

/* Text for rc: either -errno or OB_E_*.  Never NULL. */
const char *ob_strerror(int rc);

#endif
