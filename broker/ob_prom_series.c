/* ob_prom_series.c: see ob_prom_series.h. */
#include "ob_prom_series.h"

const char *ob_prom_suffix_text(enum ob_prom_suffix s)
{
    static const char *const text[] = {"", "_bucket", "_sum", "_count"};
    return (unsigned)s < sizeof text / sizeof text[0] ? text[s] : "";
}

bool ob_prom_next(struct ob_prom_iter *it, struct ob_prom_sample *out)
{
    const struct ob_series_view *sv = it->sv;
    const double *v = sv->values;
    uint32_t k = it->next, n = sv->n;
    if (sv->kind == OB_SHAPE_SCALAR) {
        if (k > 0)
            return false;
        *out = (struct ob_prom_sample){OB_PROM_PLAIN, OB_PROM_NO_EXTRA, 0, v[OB_SAMPLE_VALUE]};
        it->next = 1;
        return true;
    }
    bool hist = sv->kind == OB_SHAPE_HISTOGRAM;
    /* points (and +Inf), then _sum (when there is one), then _count */
    uint32_t points = hist ? n + 1 : n;
    if (k < points) {
        *out = (struct ob_prom_sample){hist ? OB_PROM_BUCKET : OB_PROM_PLAIN,
                                       hist ? OB_PROM_LE : OB_PROM_QUANTILE, k,
                                       v[OB_SAMPLE_POINT0 + k]};
    } else if (k == points && (sv->has_sum || !hist)) {
        *out = (struct ob_prom_sample){OB_PROM_SUM, OB_PROM_NO_EXTRA, 0, v[OB_SAMPLE_SUM]};
    } else if (k == points || k == points + 1) {
        *out = (struct ob_prom_sample){OB_PROM_COUNT, OB_PROM_NO_EXTRA, 0, v[OB_SAMPLE_COUNT]};
        k = points + 1;
    } else {
        return false;
    }
    it->next = k + 1;
    return true;
}
