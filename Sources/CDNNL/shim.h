// oneDNN's C API (Debian's libdnnl-dev, built on OpenMP) for packed-weight matrix products in float32 and bfloat16.
#include <oneapi/dnnl/dnnl.h>
// Debian's oneDNN runs on libgomp: its thread count is OpenMP's (omp.h is not on the default include path).
void omp_set_num_threads(int count);
int omp_get_max_threads(void);
// The handle macros, which Swift does not import: let oneDNN allocate the buffer, or give none yet.
static inline void *elmo_dnnl_memory_allocate(void) { return DNNL_MEMORY_ALLOCATE; }
