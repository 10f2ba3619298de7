/*
 * A preloadable fdatasync that fails on demand, for the fault test of a
 * disk that stops confirming writes.  No real fault here makes fdatasync
 * fail without failing the writes before it, so the test starts the
 * server with LD_PRELOAD naming this library and
 * LABGATE_TEST_FAIL_SYNC naming a trigger file: while that file exists,
 * every fdatasync fails with EIO, as the kernel reports a lost
 * writeback; otherwise the call goes to the C library's fdatasync.
 */
#define _GNU_SOURCE /* RTLD_NEXT */
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

int fdatasync(int fd);

int
fdatasync(int fd)
{
    static int (*real)(int);
    const char *trigger = getenv("LABGATE_TEST_FAIL_SYNC");

    if (trigger != NULL && access(trigger, F_OK) == 0) {
        errno = EIO;
        return -1;
    }
    if (real == NULL)
        *(void **)&real = dlsym(RTLD_NEXT, "fdatasync");
    if (real == NULL) {
        errno = ENOSYS;
        return -1;
    }
    return real(fd);
}
