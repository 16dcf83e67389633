/* ob_store_lock.c: robust process-shared mutexes (POSIX 2008). */
#include "ob_store_lock.h"

#include <errno.h>

#include "ob_error.h"

int ob_lock_init(struct ob_store_lock *l)
{
    pthread_mutexattr_t a;
    int rc = pthread_mutexattr_init(&a);
    if (rc)
        return -rc;
    rc = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    if (!rc)
        rc = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    if (!rc)
        rc = pthread_mutex_init(&l->mutex, &a);
    pthread_mutexattr_destroy(&a);
    return -rc;
}

int ob_lock_acquire(struct ob_store_lock *l)
{
    int rc = pthread_mutex_lock(&l->mutex);
    if (OB_LIKELY(rc == 0))
        return 0;
    if (rc == EOWNERDEAD)
        return OB_LOCK_REPAIR;
    if (rc == ENOTRECOVERABLE)
        return OB_E_STORE_CORRUPT;
    return -rc;
}

int ob_lock_consistent(struct ob_store_lock *l)
{
    return -pthread_mutex_consistent(&l->mutex);
}

void ob_lock_release(struct ob_store_lock *l)
{
    pthread_mutex_unlock(&l->mutex);
}
