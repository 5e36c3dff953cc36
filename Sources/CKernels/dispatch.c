#include "elmo_kernels.h"
#include <stdlib.h>
#include <string.h>

#if !defined(__x86_64__)
float elmo_exponentiate_row_avx2(float *row, const float *bias, long n, float *maximum) {
    return elmo_exponentiate_row_base(row, bias, n, maximum);
}
void elmo_sigmoid_avx2(const float *s, float *t, long n, float shift) { elmo_sigmoid_base(s, t, n, shift); }
void elmo_tanh_avx2(const float *s, float *t, long n) { elmo_tanh_base(s, t, n); }
void elmo_add_row_vector_avx2(float *x, long rows, long columns, const float *v) { elmo_add_row_vector_base(x, rows, columns, v); }
void elmo_accumulate_column_sums_avx2(const float *x, long rows, long columns, float *sums) {
    elmo_accumulate_column_sums_base(x, rows, columns, sums);
}
void elmo_scale_avx2(float *x, long n, float a) { elmo_scale_base(x, n, a); }
void elmo_add_avx2(const float *x, float *y, long n) { elmo_add_base(x, y, n); }
void elmo_lstm_forward_cells_avx2(float *g, const float *cp, float *cn, float *m, long rows, long c, float clip, const float *keep) {
    elmo_lstm_forward_cells_base(g, cp, cn, m, rows, c, clip, keep);
}
void elmo_lstm_backward_cells_avx2(const float *g, const float *cp, const float *cn, const float *dm, float *dc, float *dg,
                                   long rows, long c, float clip, const float *keep) {
    elmo_lstm_backward_cells_base(g, cp, cn, dm, dc, dg, rows, c, clip, keep);
}
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

float elmo_exponentiate_row(float *row, const float *bias, long n, float *maximum) {
    return use_avx2() ? elmo_exponentiate_row_avx2(row, bias, n, maximum) : elmo_exponentiate_row_base(row, bias, n, maximum);
}

void elmo_sigmoid(const float *source, float *target, long n, float shift) {
    if (use_avx2()) elmo_sigmoid_avx2(source, target, n, shift); else elmo_sigmoid_base(source, target, n, shift);
}

void elmo_tanh(const float *source, float *target, long n) {
    if (use_avx2()) elmo_tanh_avx2(source, target, n); else elmo_tanh_base(source, target, n);
}

void elmo_add_row_vector(float *x, long rows, long columns, const float *v) {
    if (use_avx2()) elmo_add_row_vector_avx2(x, rows, columns, v); else elmo_add_row_vector_base(x, rows, columns, v);
}

void elmo_accumulate_column_sums(const float *x, long rows, long columns, float *sums) {
    if (use_avx2()) elmo_accumulate_column_sums_avx2(x, rows, columns, sums);
    else elmo_accumulate_column_sums_base(x, rows, columns, sums);
}

void elmo_scale(float *x, long n, float a) {
    if (use_avx2()) elmo_scale_avx2(x, n, a); else elmo_scale_base(x, n, a);
}

void elmo_add(const float *x, float *y, long n) {
    if (use_avx2()) elmo_add_avx2(x, y, n); else elmo_add_base(x, y, n);
}

void elmo_lstm_forward_cells(float *gates, const float *cell_prev, float *cell_next, float *m,
                             long rows, long c, float clip, const float *keep) {
    if (use_avx2()) elmo_lstm_forward_cells_avx2(gates, cell_prev, cell_next, m, rows, c, clip, keep);
    else elmo_lstm_forward_cells_base(gates, cell_prev, cell_next, m, rows, c, clip, keep);
}

void elmo_lstm_backward_cells(const float *gates, const float *cell_prev, const float *cell_now, const float *dm,
                              float *dc, float *d_gates, long rows, long c, float clip, const float *keep) {
    if (use_avx2()) elmo_lstm_backward_cells_avx2(gates, cell_prev, cell_now, dm, dc, d_gates, rows, c, clip, keep);
    else elmo_lstm_backward_cells_base(gates, cell_prev, cell_now, dm, dc, d_gates, rows, c, clip, keep);
}
