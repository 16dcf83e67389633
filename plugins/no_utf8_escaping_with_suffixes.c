/* no_utf8_escaping_with_suffixes.c: NoUTF8EscapingWithSuffixes (spec 3.3): UTF-8 names kept, suffixes added.
 * The algorithms live in xl/xl.c; this file only names the strategy. */
#include "xl/xl.h"

XL_STRATEGY_PLUGIN("no_utf8_escaping_with_suffixes", XL_SUFFIXES)
