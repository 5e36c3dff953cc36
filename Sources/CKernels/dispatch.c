#include "elmo_kernels.h"
#include <stdlib.h>
#include <string.h>

#if !defined(__x86_64__)
// Elsewhere only the baseline is compiled; the wide names forward to it so that tests and the table link.
#define FORWARD_VARIANT(suffix) \
    float elmo_exponentiate_row_##suffix(float *row, const float *bias, long n, float *maximum) { \
        return elmo_exponentiate_row_base(row, bias, n, maximum); \
    } \
    void elmo_sigmoid_##suffix(const float *s, float *t, long n, float shift) { elmo_sigmoid_base(s, t, n, shift); } \
    void elmo_tanh_##suffix(const float *s, float *t, long n) { elmo_tanh_base(s, t, n); } \
    void elmo_add_row_vector_##suffix(float *x, long rows, long columns, const float *v) { \
        elmo_add_row_vector_base(x, rows, columns, v); \
    } \
    void elmo_accumulate_column_sums_##suffix(const float *x, long rows, long columns, float *sums) { \
        elmo_accumulate_column_sums_base(x, rows, columns, sums); \
    } \
    void elmo_scale_##suffix(float *x, long n, float a) { elmo_scale_base(x, n, a); } \
    void elmo_add_##suffix(const float *x, float *y, long n) { elmo_add_base(x, y, n); } \
    void elmo_max_over_rows_##suffix(const float *x, long rows, long columns, float *maximum, int *argmax) { \
        elmo_max_over_rows_base(x, rows, columns, maximum, argmax); \
    } \
    float elmo_dot_##suffix(const float *x, const float *y, long n) { return elmo_dot_base(x, y, n); } \
    void elmo_sgns_update_##suffix(float *gr, float *w, const float *ctx, long n, float g) { elmo_sgns_update_base(gr, w, ctx, n, g); } \
    void elmo_lstm_forward_cells_##suffix(float *g, const float *cp, float *cn, float *m, long rows, long c, float clip, \
                                          const float *keep) { \
        elmo_lstm_forward_cells_base(g, cp, cn, m, rows, c, clip, keep); \
    } \
    void elmo_lstm_backward_cells_##suffix(const float *g, const float *cp, const float *cn, const float *dm, float *dc, \
                                           float *dg, long rows, long c, float clip, const float *keep) { \
        elmo_lstm_backward_cells_base(g, cp, cn, dm, dc, dg, rows, c, clip, keep); \
    }
FORWARD_VARIANT(avx2)
FORWARD_VARIANT(avx512)
#endif

int elmo_kernels_have_avx2(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

int elmo_kernels_have_avx512(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    return elmo_kernels_have_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")
        && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
#else
    return 0;
#endif
}

/// One variant's entry points.
typedef struct {
    const char *name;
    float (*exponentiate_row)(float *, const float *, long, float *);
    void (*sigmoid)(const float *, float *, long, float);
    void (*tanh)(const float *, float *, long);
    void (*add_row_vector)(float *, long, long, const float *);
    void (*accumulate_column_sums)(const float *, long, long, float *);
    void (*scale)(float *, long, float);
    void (*add)(const float *, float *, long);
    void (*max_over_rows)(const float *, long, long, float *, int *);
    float (*dot)(const float *, const float *, long);
    void (*sgns_update)(float *, float *, const float *, long, float);
    void (*lstm_forward_cells)(float *, const float *, float *, float *, long, long, float, const float *);
    void (*lstm_backward_cells)(const float *, const float *, const float *, const float *, float *, float *, long, long,
                                float, const float *);
} Variant;

#define VARIANT(label, suffix) \
    { label, elmo_exponentiate_row_##suffix, elmo_sigmoid_##suffix, elmo_tanh_##suffix, elmo_add_row_vector_##suffix, \
      elmo_accumulate_column_sums_##suffix, elmo_scale_##suffix, elmo_add_##suffix, elmo_max_over_rows_##suffix, elmo_dot_##suffix, elmo_sgns_update_##suffix, \
      elmo_lstm_forward_cells_##suffix, \
      elmo_lstm_backward_cells_##suffix }
static const Variant variants[] = { VARIANT("baseline", base), VARIANT("avx2+fma", avx2), VARIANT("avx512", avx512) };

/// The widest variant this CPU runs, or a narrower one named by ELMO_KERNELS (baseline, avx2, avx512: for
/// comparisons; a wider one than the CPU has is not taken). Decided once; a race between first callers
/// writes the same value.
static const Variant *chosen(void) {
    static int decided = -1;
    if (decided < 0) {
        int best = elmo_kernels_have_avx512() ? 2 : elmo_kernels_have_avx2() ? 1 : 0;
        const char *forced = getenv("ELMO_KERNELS");
        int wanted = best;
        if (forced && strcmp(forced, "baseline") == 0) wanted = 0;
        else if (forced && strcmp(forced, "avx2") == 0) wanted = 1;
        decided = wanted < best ? wanted : best;
    }
    return &variants[decided];
}

const char *elmo_kernels_variant(void) { return chosen()->name; }

float elmo_exponentiate_row(float *row, const float *bias, long n, float *maximum) {
    return chosen()->exponentiate_row(row, bias, n, maximum);
}

void elmo_sigmoid(const float *source, float *target, long n, float shift) { chosen()->sigmoid(source, target, n, shift); }

void elmo_tanh(const float *source, float *target, long n) { chosen()->tanh(source, target, n); }

void elmo_add_row_vector(float *x, long rows, long columns, const float *v) { chosen()->add_row_vector(x, rows, columns, v); }

void elmo_accumulate_column_sums(const float *x, long rows, long columns, float *sums) {
    chosen()->accumulate_column_sums(x, rows, columns, sums);
}

void elmo_scale(float *x, long n, float a) { chosen()->scale(x, n, a); }

void elmo_add(const float *x, float *y, long n) { chosen()->add(x, y, n); }

void elmo_max_over_rows(const float *x, long rows, long columns, float *maximum, int *argmax) {
    chosen()->max_over_rows(x, rows, columns, maximum, argmax);
}

float elmo_dot(const float *x, const float *y, long n) { return chosen()->dot(x, y, n); }

void elmo_sgns_update(float *gradient, float *weights, const float *context, long n, float g) {
    chosen()->sgns_update(gradient, weights, context, n, g);
}

void elmo_lstm_forward_cells(float *gates, const float *cell_prev, float *cell_next, float *m,
                             long rows, long c, float clip, const float *keep) {
    chosen()->lstm_forward_cells(gates, cell_prev, cell_next, m, rows, c, clip, keep);
}

void elmo_lstm_backward_cells(const float *gates, const float *cell_prev, const float *cell_now, const float *dm,
                              float *dc, float *d_gates, long rows, long c, float clip, const float *keep) {
    chosen()->lstm_backward_cells(gates, cell_prev, cell_now, dm, dc, d_gates, rows, c, clip, keep);
}
