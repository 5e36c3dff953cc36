#include "elmo_kernels.h"
#if defined(__x86_64__)
#define KERNEL_TARGET __attribute__((target("avx2,fma")))
#define KERNEL(name) name##_avx2
#define LANES 8
#include "kernels_body.h"
#endif
