/* underscore_escaping_without_suffixes.c: UnderscoreEscapingWithoutSuffixes,
 * escaped names, no unit or type suffixes (docs/otlp-to-prometheus.md §3.2).
 * The algorithms live in xl/xl.c; this file only names the strategy. */
#include "xl/xl.h"

XL_STRATEGY_PLUGIN("underscore_escaping_without_suffixes", XL_ESCAPE)
