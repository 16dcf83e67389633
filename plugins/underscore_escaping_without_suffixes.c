/* underscore_escaping_without_suffixes.c: UnderscoreEscapingWithoutSuffixes (spec 3.2): escaped names, no unit or type suffixes.
 * The algorithms live in xl/xl.c; this file only names the strategy. */
#include "xl/xl.h"

XL_STRATEGY_PLUGIN("underscore_escaping_without_suffixes", XL_ESCAPE)
