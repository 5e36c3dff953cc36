#include "elmo_kernels.h"
#define KERNEL_TARGET
#define KERNEL(name) name##_base
#define LANES 8
#include "kernels_body.h"
