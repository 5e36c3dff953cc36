#include "elmo_kernels.h"
#if defined(__x86_64__)
#define KERNEL_TARGET __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,fma")))
#define KERNEL(name) name##_avx512
#define LANES 16
#include "kernels_body.h"
#endif
