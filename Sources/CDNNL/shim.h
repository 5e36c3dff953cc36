// oneDNN's C API (Debian's libdnnl-dev, built on OpenMP) for packed-weight matrix products in float32 and bfloat16.
#include <oneapi/dnnl/dnnl.h>
#include <dlfcn.h>

// The handle macros, which Swift does not import: let oneDNN allocate the buffer, or give none yet.
static inline void *elmo_dnnl_memory_allocate(void) { return DNNL_MEMORY_ALLOCATE; }

/// OpenMP's omp_set_num_threads for the calling thread (Debian's oneDNN runs on libgomp, whose thread count is
/// per thread). Looked up in the process, where libdnnl has loaded libgomp, so that linking needs no libgomp.so
/// (a compiler package's file); does nothing if the symbol is absent.
static inline void elmo_omp_set_num_threads(int count) {
    static void (*set)(int) = 0;
    if (!set) set = (void (*)(int))dlsym(RTLD_DEFAULT, "omp_set_num_threads");
    if (set) set(count);
}
