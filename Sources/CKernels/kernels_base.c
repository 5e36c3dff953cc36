#include "elmo_kernels.h"
#define KERNEL_TARGET
#define KERNEL(name) name##_base
#include "kernels_body.h"
