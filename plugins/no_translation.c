/* no_translation.c: NoTranslation (spec 3.4): names exactly as sent.
 * The algorithms live in xl_common.h; this file only names the strategy. */
#include "xl_common.h"

XL_STRATEGY_PLUGIN("no_translation", 0)
