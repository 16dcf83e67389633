/* no_translation.c: NoTranslation (spec 3.4): names exactly as sent.
 * The algorithms live in xl/xl.c; this file only names the strategy. */
#include "xl/xl.h"

XL_STRATEGY_PLUGIN("no_translation", 0)
