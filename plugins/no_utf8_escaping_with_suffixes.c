/* no_utf8_escaping_with_suffixes.c: NoUTF8EscapingWithSuffixes, UTF-8 names
 * kept, suffixes added (docs/otlp-to-prometheus.md §3.3).
 * The algorithms live in xl/xl.c; this file only names the strategy. */
#include "xl/xl.h"

XL_STRATEGY_PLUGIN("no_utf8_escaping_with_suffixes", XL_SUFFIXES)
