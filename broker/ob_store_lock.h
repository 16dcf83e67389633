/* ob_store_lock.h: robust, process-shared mutexes for the store.
 *
 * The store keeps one create lock and OB_STORE_STRIPES stripe locks in the
 * mapping (struct ob_store_lock, one cache line each).  A writer that dies
 * holding one leaves it EOWNERDEAD: the next locker gets OB_LOCK_REPAIR, runs
 * the repair for what the lock protects, then calls ob_lock_consistent().
 */
#ifndef OB_STORE_LOCK_H
#define OB_STORE_LOCK_H

#include <stdint.h>

#include "ob_common.h"
#include "ob_store_layout.h"

struct ob_store;

enum { OB_LOCK_REPAIR = 1 }; /* ob_lock_acquire(): previous owner died */

/* Initialises an unlocked robust process-shared mutex.  0 or -errno. */
int ob_lock_init(struct ob_store_lock *l);
/* 0: locked.  OB_LOCK_REPAIR: locked, previous owner died; repair then call
 * ob_lock_consistent().  OB_E_STORE_CORRUPT: ENOTRECOVERABLE (someone gave
 * up on an earlier repair); the store must be recreated.  Other -errno. */
int ob_lock_acquire(struct ob_store_lock *l);
/* Marks the mutex usable again after a repair (still locked). */
int ob_lock_consistent(struct ob_store_lock *l);
void ob_lock_release(struct ob_store_lock *l);

#endif
