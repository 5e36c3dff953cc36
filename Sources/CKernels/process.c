#include "elmo_kernels.h"
#include <stdlib.h>   // defines __GLIBC__ on glibc systems
#if defined(__GLIBC__)
#include <malloc.h>
#endif

void elmo_keep_freed_blocks(long heap_block_limit, long retained_top) {
#if defined(__GLIBC__)
    mallopt(M_MMAP_THRESHOLD, (int)heap_block_limit);
    mallopt(M_TRIM_THRESHOLD, (int)retained_top);
#else
    (void)heap_block_limit;
    (void)retained_top;
#endif
}

void elmo_release_free_heap(void) {
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
}
