// Elementwise float32 kernels of the hot paths (softmax rows, LSTM gate nonlinearities), compiled twice:
// for baseline x86-64 (SSE2) and, on x86-64, for AVX2 + FMA, chosen at run time from the CPU's flags.
// Swift release builds target baseline x86-64, so its SIMD8 code runs as SSE pairs without FMA; these
// run 8 lanes wide with fused multiply-adds where the CPU has them.
#ifndef ELMO_KERNELS_H
#define ELMO_KERNELS_H

#ifdef __cplusplus
extern "C" {
#endif

/// Replaces row[0..<n] by its softmax and returns its log-sum-exp (n ≥ 1).
float elmo_softmax_row(float *row, long n);
/// target[i] = 1 / (1 + exp(-(source[i] + shift))); target may equal source.
void elmo_sigmoid(const float *source, float *target, long n, float shift);
/// target[i] = tanh(source[i]); target may equal source.
void elmo_tanh(const float *source, float *target, long n);

/// "avx2+fma" or "baseline": the variant the dispatching functions above use on this CPU.
/// `ELMO_KERNELS=baseline` in the environment forces the baseline (for comparisons).
const char *elmo_kernels_variant(void);

/// Each variant directly, for tests that check both against double precision.
float elmo_softmax_row_base(float *row, long n);
void elmo_sigmoid_base(const float *source, float *target, long n, float shift);
void elmo_tanh_base(const float *source, float *target, long n);
/// 1 when this build and CPU have the AVX2 variant (then the *_avx2 functions may be called).
int elmo_kernels_have_avx2(void);
float elmo_softmax_row_avx2(float *row, long n);
void elmo_sigmoid_avx2(const float *source, float *target, long n, float shift);
void elmo_tanh_avx2(const float *source, float *target, long n);

#ifdef __cplusplus
}
#endif
#endif
