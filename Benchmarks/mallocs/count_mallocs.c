// LD_PRELOAD shim: counts malloc/calloc/realloc/posix_memalign calls of the whole process (every thread)
// and prints "MALLOCS <n>" to stderr at exit. Deterministic, unlike a harness that also counts its own
// sampling thread: two runs that differ only in the LSTM's unroll length show any per-step allocation.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static atomic_long calls;
// dlsym itself may call calloc before the real one is known: serve that from a static arena.
static char arena[1 << 16];
static size_t arenaUsed;

void *malloc(size_t n) {
    static void *(*real)(size_t);
    if (!real) real = dlsym(RTLD_NEXT, "malloc");
    atomic_fetch_add(&calls, 1);
    return real(n);
}

void *calloc(size_t count, size_t size) {
    static void *(*real)(size_t, size_t);
    static int resolving;
    if (!real) {
        if (resolving) {
            size_t bytes = (count * size + 15) & ~(size_t)15;
            if (arenaUsed + bytes > sizeof arena) return NULL;
            void *p = arena + arenaUsed;
            arenaUsed += bytes;
            return p;
        }
        resolving = 1;
        real = dlsym(RTLD_NEXT, "calloc");
        resolving = 0;
    }
    atomic_fetch_add(&calls, 1);
    return real(count, size);
}

void *realloc(void *p, size_t n) {
    static void *(*real)(void *, size_t);
    if (!real) real = dlsym(RTLD_NEXT, "realloc");
    atomic_fetch_add(&calls, 1);
    return real(p, n);
}

int posix_memalign(void **p, size_t alignment, size_t n) {
    static int (*real)(void **, size_t, size_t);
    if (!real) real = dlsym(RTLD_NEXT, "posix_memalign");
    atomic_fetch_add(&calls, 1);
    return real(p, alignment, n);
}

void free(void *p) {
    static void (*real)(void *);
    if ((char *)p >= arena && (char *)p < arena + sizeof arena) return;
    if (!real) real = dlsym(RTLD_NEXT, "free");
    real(p);
}

__attribute__((destructor)) static void report(void) {
    char line[64];
    int n = snprintf(line, sizeof line, "MALLOCS %ld\n", (long)atomic_load(&calls));
    write(2, line, n);
}
