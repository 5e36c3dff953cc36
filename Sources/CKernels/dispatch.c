#include "elmo_kernels.h"
#include <stdlib.h>
#include <string.h>

#if !defined(__x86_64__)
float elmo_softmax_row_avx2(float *row, long n) { return elmo_softmax_row_base(row, n); }
void elmo_sigmoid_avx2(const float *s, float *t, long n, float shift) { elmo_sigmoid_base(s, t, n, shift); }
void elmo_tanh_avx2(const float *s, float *t, long n) { elmo_tanh_base(s, t, n); }
#endif

int elmo_kernels_have_avx2(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

/// Decided once; a race between first callers writes the same value.
static int use_avx2(void) {
    static int decided = -1;
    if (decided < 0) {
        const char *forced = getenv("ELMO_KERNELS");
        decided = (forced && strcmp(forced, "baseline") == 0) ? 0 : elmo_kernels_have_avx2();
    }
    return decided;
}

const char *elmo_kernels_variant(void) { return use_avx2() ? "avx2+fma" : "baseline"; }

float elmo_softmax_row(float *row, long n) {
    return use_avx2() ? elmo_softmax_row_avx2(row, n) : elmo_softmax_row_base(row, n);
}

void elmo_sigmoid(const float *source, float *target, long n, float shift) {
    if (use_avx2()) elmo_sigmoid_avx2(source, target, n, shift); else elmo_sigmoid_base(source, target, n, shift);
}

void elmo_tanh(const float *source, float *target, long n) {
    if (use_avx2()) elmo_tanh_avx2(source, target, n); else elmo_tanh_base(source, target, n);
}
