/* ob_store_test.h: hooks of the store for its tests (tests/unit/test_store.c):
 * a writer killed at a chosen point.  Defined in ob_store.c ("test hooks");
 * the broker never calls them. */
#ifndef OB_STORE_TEST_H
#define OB_STORE_TEST_H

#include <stdint.h>

struct ob_store;

/* Test hooks (tests/unit/test_store.c), for a forked child that then
 * _exit()s as a writer killed at that point would:
 *   OB_TEST_HOLD_CREATE      take the create lock
 *   OB_TEST_HOLD_STRIPE      take the stripe lock serving `hash`
 *   OB_TEST_HOLD_HALF_WRITE  same, and leave the series of `hash` (family 0
 *                            and that hash, first match) mid out-of-order
 *                            insert: seq odd, ring grown by a duplicate of
 *                            its newest sample, the record below it stamped.
 * Returns 0 or a negative code; the lock is never released. */
enum { OB_TEST_HOLD_CREATE = 0, OB_TEST_HOLD_STRIPE = 1, OB_TEST_HOLD_HALF_WRITE = 2 };
int ob_store_test_hold_lock(struct ob_store *s, int what, uint64_t hash);
/* Test hook: the next family retire in this process calls _exit(0) after
 * step `step` (1 state, 2 index, 3 texts) with the create lock held: a
 * writer killed in the middle of a reclaim.  0 = off. */
void ob_store_test_crash_in_retire(int step);

#endif
