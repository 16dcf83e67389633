/* no_translation.c: NoTranslation, names exactly as sent
 * (docs/otlp-to-prometheus.md §3.4).
 * The algorithms live in xl/xl.c; this file only names the strategy. */
#include "xl/xl.h"

XL_STRATEGY_PLUGIN("no_translation", 0)
