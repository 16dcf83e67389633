/* ob_error.c: names for OB_E_* and -errno codes. */
#include "ob_error.h"

#include <string.h>

static const char *const project_msgs[] = {
    [-(OB_E_CONFIG - OB_E_FIRST)] = "invalid configuration",
    [-(OB_E_STORE_MAGIC - OB_E_FIRST)] = "not an otlp-broker store (bad magic)",
    [-(OB_E_STORE_VERSION - OB_E_FIRST)] = "store layout version differs",
    [-(OB_E_STORE_LAYOUT - OB_E_FIRST)] = "store layout signature differs",
    [-(OB_E_STORE_CKSUM - OB_E_FIRST)] = "store header checksum mismatch",
    [-(OB_E_STORE_SIZE - OB_E_FIRST)] = "store size differs from configuration",
    [-(OB_E_STORE_LOCKED - OB_E_FIRST)] = "store is in use by another broker",
    [-(OB_E_STORE_FULL - OB_E_FIRST)] = "store full",
    [-(OB_E_OUT_OF_BOUNDS - OB_E_FIRST)] = "sample outside the out-of-order window",
    [-(OB_E_DUPLICATE - OB_E_FIRST)] = "duplicate timestamp with a different value",
    [-(OB_E_TYPE_CONFLICT - OB_E_FIRST)] = "metric family exists with another type",
    [-(OB_E_PLUGIN_OPEN - OB_E_FIRST)] = "cannot open plugin",
    [-(OB_E_PLUGIN_SYMBOL - OB_E_FIRST)] = "plugin entry symbol missing",
    [-(OB_E_PLUGIN_ABI - OB_E_FIRST)] = "plugin ABI mismatch",
    [-(OB_E_PLUGIN_INIT - OB_E_FIRST)] = "plugin init failed",
    [-(OB_E_MALFORMED - OB_E_FIRST)] = "malformed payload",
    [-(OB_E_TOO_LARGE - OB_E_FIRST)] = "payload too large",
    [-(OB_E_UNSUPPORTED - OB_E_FIRST)] = "unsupported content type or encoding",
    [-(OB_E_TOO_MANY_LABELS - OB_E_FIRST)] = "too many labels",
    [-(OB_E_STORE_CORRUPT - OB_E_FIRST)] = "store corrupt",
    [-(OB_E_STALE_FAMILY - OB_E_FIRST)] = "metric family was reclaimed",
    [-(OB_E_OUT_OF_ORDER - OB_E_FIRST)] =
        "delta point out of order: it starts before the last one added to the series ended",
    [-(OB_E_TEMPORALITY - OB_E_FIRST)] =
        "the series gets delta and cumulative points: one temporality per series",
};

const char *ob_strerror(int rc)
{
    if (rc == 0)
        return "success";
    if (rc <= OB_E_FIRST && rc >= OB_E_LAST)
        return project_msgs[-(rc - OB_E_FIRST)];
    if (rc < 0 && rc > OB_E_FIRST)
        return strerror(-rc);
    return "unknown error";
}
