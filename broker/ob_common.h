/* ob_common.h: small macros shared by every broker file.  No state. */
#ifndef OB_COMMON_H
#define OB_COMMON_H

#include <stddef.h>

#define OB_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define OB_UNUSED(x) ((void)(x))
#define OB_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#define OB_LIKELY(x) __builtin_expect(!!(x), 1)
#define OB_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define OB_NOINLINE __attribute__((noinline))
#define OB_MIN(a, b) ((a) < (b) ? (a) : (b))
#define OB_MAX(a, b) ((a) > (b) ? (a) : (b))

/* Size of the caller-supplied error message buffers (config, plugin, store).
 * 512: a plugin init error names the bad key and lists every valid key. */
#define OB_ERR_LEN 512

#endif
