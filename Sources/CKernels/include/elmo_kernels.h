// Elementwise float32 kernels of the hot paths (softmax rows, LSTM gate nonlinearities), compiled three times:
// for baseline x86-64 (SSE2) and, on x86-64, for AVX2 + FMA and for AVX-512 (F, VL, BW, DQ), the widest the CPU
// has chosen at run time. Swift release builds target baseline x86-64, so its SIMD8 code runs as SSE pairs
// without FMA; these run 8 or 16 lanes wide with fused multiply-adds where the CPU has them.
#ifndef ELMO_KERNELS_H
#define ELMO_KERNELS_H

#ifdef __cplusplus
extern "C" {
#endif

/// z = row + bias (bias may be NULL); row ← exp(z − max z); returns Σ exp(z − max z) and stores max z in
/// *maximum (n ≥ 1). The softmax is row / sum, its log-sum-exp max + log(sum).
float elmo_exponentiate_row(float *row, const float *bias, long n, float *maximum);
/// target[i] = 1 / (1 + exp(-(source[i] + shift))); target may equal source.
void elmo_sigmoid(const float *source, float *target, long n, float shift);
/// target[i] = tanh(source[i]); target may equal source.
void elmo_tanh(const float *source, float *target, long n);

/// x[r, j] += v[j] for rows × columns (row-major); x and v must not overlap.
void elmo_add_row_vector(float *x, long rows, long columns, const float *v);
/// sums[j] += Σ_r x[r, j]; x and sums must not overlap.
void elmo_accumulate_column_sums(const float *x, long rows, long columns, float *sums);
/// x[i] *= a.
void elmo_scale(float *x, long n, float a);
/// y[i] += x[i]; x and y must not overlap.
void elmo_add(const float *x, float *y, long n);

/// maximum[j] = max_r x[r, j] over rows × columns (row-major, rows ≥ 1) and argmax[j] = the first r that has it
/// (a NaN is never the maximum, as with `>`); outputs must not overlap x. The char-CNN's max over window positions.
void elmo_max_over_rows(const float *x, long rows, long columns, float *maximum, int *argmax);

/// Σ x[i]·y[i].
float elmo_dot(const float *x, const float *y, long n);
/// gradient += g·weights, then weights += g·context (skip-gram's negative-sampling update; no overlap).
void elmo_sgns_update(float *gradient, float *weights, const float *context, long n, float g);

/// One LSTM step for `rows` rows (TF LSTMCell, gate blocks i, j, f, o of width c): gates [rows, 4c] hold the
/// pre-activations and are replaced by σ(i), tanh(j), σ(f + 1), σ(o); cell_next = clip(σ(f+1)·keep·cell_prev +
/// σ(i)·tanh(j)) to ±clip (+∞: none); m = σ(o)·tanh(cell_next). keep: per row (0 after a state reset) or NULL.
void elmo_lstm_forward_cells(float *gates, const float *cell_prev, float *cell_next, float *m,
                             long rows, long c, float clip, const float *keep);
/// Its gradient: gates are the activations stored by the forward, dm = d(σ(o)·tanh(c)); dc holds the gradient
/// arriving at cell_now from the next step and is replaced by the gradient to cell_prev; d_gates [rows, 4c] gets
/// the gradient of the pre-activations.
void elmo_lstm_backward_cells(const float *gates, const float *cell_prev, const float *cell_now, const float *dm,
                              float *dc, float *d_gates, long rows, long c, float clip, const float *keep);

/// glibc's allocator: blocks up to `heap_block_limit` bytes from the heap instead of fresh mmaps, and up to
/// `retained_top` bytes of free heap top kept mapped (see ProcessMemory.swift). Does nothing elsewhere.
void elmo_keep_freed_blocks(long heap_block_limit, long retained_top);

/// glibc's allocator: returns the heap's free memory to the system now. Does nothing elsewhere.
void elmo_release_free_heap(void);

/// "avx512", "avx2+fma" or "baseline": the variant the dispatching functions above use on this CPU.
/// `ELMO_KERNELS=baseline` or `ELMO_KERNELS=avx2` in the environment caps it (for comparisons).
const char *elmo_kernels_variant(void);

/// Each variant directly, for tests that check both against double precision.
float elmo_exponentiate_row_base(float *row, const float *bias, long n, float *maximum);
void elmo_sigmoid_base(const float *source, float *target, long n, float shift);
void elmo_tanh_base(const float *source, float *target, long n);
/// 1 when this build and CPU have the AVX2 variant (then the *_avx2 functions may be called).
int elmo_kernels_have_avx2(void);
float elmo_exponentiate_row_avx2(float *row, const float *bias, long n, float *maximum);
void elmo_sigmoid_avx2(const float *source, float *target, long n, float shift);
void elmo_tanh_avx2(const float *source, float *target, long n);
/// 1 when this build and CPU have the AVX-512 variant (then the *_avx512 functions may be called).
int elmo_kernels_have_avx512(void);
float elmo_exponentiate_row_avx512(float *row, const float *bias, long n, float *maximum);
void elmo_sigmoid_avx512(const float *source, float *target, long n, float shift);
void elmo_tanh_avx512(const float *source, float *target, long n);
#define ELMO_VARIANT_DECLARATIONS(suffix) \
    void elmo_add_row_vector_##suffix(float *x, long rows, long columns, const float *v); \
    void elmo_accumulate_column_sums_##suffix(const float *x, long rows, long columns, float *sums); \
    void elmo_scale_##suffix(float *x, long n, float a); \
    void elmo_add_##suffix(const float *x, float *y, long n); \
    void elmo_max_over_rows_##suffix(const float *x, long rows, long columns, float *maximum, int *argmax); \
    float elmo_dot_##suffix(const float *x, const float *y, long n); \
    void elmo_sgns_update_##suffix(float *gradient, float *weights, const float *context, long n, float g); \
    void elmo_lstm_forward_cells_##suffix(float *gates, const float *cell_prev, float *cell_next, float *m, \
                                          long rows, long c, float clip, const float *keep); \
    void elmo_lstm_backward_cells_##suffix(const float *gates, const float *cell_prev, const float *cell_now, \
                                           const float *dm, float *dc, float *d_gates, long rows, long c, \
                                           float clip, const float *keep);
ELMO_VARIANT_DECLARATIONS(base)
ELMO_VARIANT_DECLARATIONS(avx2)
ELMO_VARIANT_DECLARATIONS(avx512)
#undef ELMO_VARIANT_DECLARATIONS

#ifdef __cplusplus
}
#endif
#endif
