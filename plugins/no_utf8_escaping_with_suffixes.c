/* no_utf8_escaping_with_suffixes.c: NoUTF8EscapingWithSuffixes (spec 3.3): UTF-8 names kept, suffixes added.
 * The algorithms live in xl_common.h; this file only names the strategy. */
#include "xl_common.h"

XL_STRATEGY_PLUGIN("no_utf8_escaping_with_suffixes", XL_SUFFIXES)
