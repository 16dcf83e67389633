/* underscore_escaping_with_suffixes.c: UnderscoreEscapingWithSuffixes, the
 * Prometheus default: escaped names with unit and type suffixes
 * (docs/otlp-to-prometheus.md §3.1).
 * The algorithms live in xl/xl.c; this file only names the strategy. */
#include "xl/xl.h"

XL_STRATEGY_PLUGIN("underscore_escaping_with_suffixes", XL_ESCAPE | XL_SUFFIXES)
