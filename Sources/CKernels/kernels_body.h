// The kernels' bodies, included once per variant with KERNEL_TARGET (a target attribute), KERNEL(name) (the
// variant's name suffix) and LANES (8 or 16) defined. Clang vectors of LANES floats: the AVX-512 variant
// compiles 16 lanes to 512-bit registers, the AVX2 variant 8 lanes to 256-bit ones, both contracting a*b + c
// into FMA; the baseline runs 8 lanes as SSE pairs. Only the order of a row's sum depends on the width.
#include <math.h>
// The vector helpers are static and always inlined: no call crosses an ABI boundary.
#pragma clang diagnostic ignored "-Wpsabi"
#include <string.h>

typedef float f8 __attribute__((ext_vector_type(8)));
typedef float fv __attribute__((ext_vector_type(LANES)));
typedef int iv __attribute__((ext_vector_type(LANES)));

#define INLINE static inline __attribute__((always_inline)) KERNEL_TARGET

INLINE fv loadv(const float *p) { fv v; memcpy(&v, p, sizeof v); return v; }
INLINE void storev(float *p, fv v) { memcpy(p, &v, sizeof v); }
/// Lanes of `mask` (all ones or zero) take `a`, the others `b`.
INLINE fv selectv(iv mask, fv a, fv b) { return (fv)(((iv)a & mask) | ((iv)b & ~mask)); }
INLINE float hsum8(f8 v) { return ((v.s0 + v.s4) + (v.s1 + v.s5)) + ((v.s2 + v.s6) + (v.s3 + v.s7)); }
#if LANES == 16
INLINE float hsum(fv v) { return hsum8(v.lo + v.hi); }
#else
INLINE float hsum(fv v) { return hsum8(v); }
#endif
INLINE float hmax(fv v) {
    float m = v.s0;
    for (int k = 1; k < LANES; k++) m = v[k] > m ? v[k] : m;
    return m;
}

/// Cephes expf: x = n·ln 2 + r (ln 2 in two parts), a degree-6 polynomial in r, 2ⁿ through the exponent
/// bits; n = round(x / ln 2) by adding 1.5·2²³. Relative error ≈ 2e-7; exactly 0 below the float range.
INLINE fv expv(fv input) {
    fv x = __builtin_elementwise_min(input, (fv)88.37626f);
    x = __builtin_elementwise_max(x, (fv)-87.33654f);
    const fv magic = 12582912.0f;
    fv shifted = x * 1.44269504088896341f + magic;
    fv n = shifted - magic;
    fv r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    fv p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    iv exponent = (((iv)shifted - 0x4B400000) + 127) << 23;
    fv scaled = p * (fv)exponent;
    return selectv(input < -87.33654f, (fv)0.0f, scaled);
}

INLINE fv sigmoidv(fv x) { return 1.0f / (1.0f + expv(-x)); }

/// Cephes tanhf: an odd polynomial below |x| = 0.625 (where 1 − 2/(e²ˣ + 1) loses digits), that above.
INLINE fv tanhv(fv x) {
    fv z = x * x;
    fv small = -5.70498872745e-3f;
    small = small * z + 2.06390887954e-2f;
    small = small * z - 5.37397155531e-2f;
    small = small * z + 1.33314422036e-1f;
    small = small * z - 3.33332819422e-1f;
    small = small * z * x + x;
    iv negative = x < 0.0f;
    fv magnitude = selectv(negative, -x, x);
    fv large = 1.0f - 2.0f / (expv(magnitude + magnitude) + 1.0f);
    large = selectv(negative, -large, large);
    return selectv(magnitude >= 0.625f, large, small);
}

/// Loads the last n % LANES values (padded with `fill`), applies nothing: the callers compute and store.
INLINE fv load_tail(const float *p, long count, float fill) {
    float lanes[LANES];
    for (int k = 0; k < LANES; k++) lanes[k] = k < count ? p[k] : fill;
    return loadv(lanes);
}
INLINE void store_tail(float *p, long count, fv v) {
    float lanes[LANES];
    storev(lanes, v);
    for (long k = 0; k < count; k++) p[k] = lanes[k];
}

KERNEL_TARGET float KERNEL(elmo_exponentiate_row)(float *row, const float *bias, long n, float *maximum) {
    long i = 0, whole = n - n % LANES;
    fv best = -INFINITY;
    if (bias) {
        // The bias add rides on the pass that finds the maximum.
        for (; i < whole; i += LANES) {
            fv z = loadv(row + i) + loadv(bias + i);
            storev(row + i, z);
            best = __builtin_elementwise_max(best, z);
        }
        for (; i < n; i++) row[i] += bias[i];
    } else {
        for (; i < whole; i += LANES) best = __builtin_elementwise_max(best, loadv(row + i));
    }
    float m = hmax(best);
    for (i = whole; i < n; i++) m = row[i] > m ? row[i] : m;
    fv sums = 0.0f;
    for (i = 0; i < whole; i += LANES) {
        fv e = expv(loadv(row + i) - m);
        storev(row + i, e);
        sums += e;
    }
    if (whole < n) {
        fv e = expv(load_tail(row + whole, n - whole, -INFINITY) - m);
        store_tail(row + whole, n - whole, e);
        sums += e;   // padded lanes are exp(−∞) = 0
    }
    *maximum = m;
    return hsum(sums);
}

KERNEL_TARGET void KERNEL(elmo_sigmoid)(const float *source, float *target, long n, float shift) {
    long i = 0, whole = n - n % LANES;
    for (; i < whole; i += LANES) storev(target + i, sigmoidv(loadv(source + i) + shift));
    if (whole < n) store_tail(target + whole, n - whole, sigmoidv(load_tail(source + whole, n - whole, 0.0f) + shift));
}

KERNEL_TARGET void KERNEL(elmo_tanh)(const float *source, float *target, long n) {
    long i = 0, whole = n - n % LANES;
    for (; i < whole; i += LANES) storev(target + i, tanhv(loadv(source + i)));
    if (whole < n) store_tail(target + whole, n - whole, tanhv(load_tail(source + whole, n - whole, 0.0f)));
}

// LSTM cells (TF LSTMCell, gate blocks i, j, f, o of width c per row). `keep` (per row, or NULL = 1) is 0
// where a row's state was reset before this step; `clip` is +∞ when the cell is not clipped.

INLINE fv load_part(const float *p, long count) { return count >= LANES ? loadv(p) : load_tail(p, count, 0.0f); }
INLINE void store_part(float *p, long count, fv v) { if (count >= LANES) storev(p, v); else store_tail(p, count, v); }

KERNEL_TARGET void KERNEL(elmo_lstm_forward_cells)(float *gates, const float *cell_prev, float *cell_next, float *m,
                                                   long rows, long c, float clip, const float *keep) {
    for (long r = 0; r < rows; r++) {
        float *gi = gates + r * 4 * c, *gj = gi + c, *gf = gj + c, *go = gf + c;
        const float *before = cell_prev + r * c;
        float *next = cell_next + r * c, *out = m + r * c;
        float k = keep ? keep[r] : 1.0f;
        for (long j = 0; j < c; j += LANES) {
            long n = c - j;
            fv i = sigmoidv(load_part(gi + j, n)), t = tanhv(load_part(gj + j, n));
            fv f = sigmoidv(load_part(gf + j, n) + 1.0f), o = sigmoidv(load_part(go + j, n));
            fv cell = f * (k * load_part(before + j, n)) + i * t;
            cell = __builtin_elementwise_max(__builtin_elementwise_min(cell, (fv)clip), (fv)-clip);
            store_part(gi + j, n, i);
            store_part(gj + j, n, t);
            store_part(gf + j, n, f);
            store_part(go + j, n, o);
            store_part(next + j, n, cell);
            store_part(out + j, n, o * tanhv(cell));
        }
    }
}

KERNEL_TARGET void KERNEL(elmo_lstm_backward_cells)(const float *gates, const float *cell_prev, const float *cell_now,
                                                    const float *dm, float *dc, float *d_gates,
                                                    long rows, long c, float clip, const float *keep) {
    for (long r = 0; r < rows; r++) {
        const float *gi = gates + r * 4 * c, *gj = gi + c, *gf = gj + c, *go = gf + c;
        float *di = d_gates + r * 4 * c, *dj = di + c, *df = dj + c, *dout = df + c;
        const float *prev = cell_prev + r * c, *now = cell_now + r * c, *dmr = dm + r * c;
        float *dcr = dc + r * c;
        float k = keep ? keep[r] : 1.0f;
        for (long j = 0; j < c; j += LANES) {
            long n = c - j;
            fv i = load_part(gi + j, n), t = load_part(gj + j, n), f = load_part(gf + j, n), o = load_part(go + j, n);
            fv cell = load_part(now + j, n), tc = tanhv(cell), d_m = load_part(dmr + j, n);
            fv d_cell = load_part(dcr + j, n) + d_m * o * (1.0f - tc * tc);
            // A clipped cell passes no gradient (the clip's derivative is 0 there).
            fv clipped = __builtin_elementwise_abs(cell);
            d_cell = selectv(clipped >= clip, (fv)0.0f, d_cell);
            store_part(di + j, n, d_cell * t * i * (1.0f - i));
            store_part(dj + j, n, d_cell * i * (1.0f - t * t));
            store_part(df + j, n, d_cell * (k * load_part(prev + j, n)) * f * (1.0f - f));
            store_part(dout + j, n, d_m * tc * o * (1.0f - o));
            store_part(dcr + j, n, d_cell * f * k);
        }
    }
}

// Skip-gram with negative sampling, per (context word, target word) pair of a vector length n.

/// Σ x[i]·y[i] over LANES-wide partial sums in two accumulators (the serial sum of a scalar loop waits on
/// every add).
KERNEL_TARGET float KERNEL(elmo_dot)(const float *x, const float *y, long n) {
    fv first = 0.0f, second = 0.0f;
    long i = 0;
    for (; i + 2 * LANES <= n; i += 2 * LANES) {
        first += loadv(x + i) * loadv(y + i);
        second += loadv(x + i + LANES) * loadv(y + i + LANES);
    }
    for (; i < n; i += LANES) first += load_part(x + i, n - i) * load_part(y + i, n - i);
    return hsum(first + second);
}

/// gradient += g·weights, then weights += g·context: the output row's update and its share of the context
/// row's gradient, in one pass (gradient, weights and context must not overlap).
KERNEL_TARGET void KERNEL(elmo_sgns_update)(float *restrict gradient, float *restrict weights, const float *restrict context,
                                            long n, float g) {
    for (long i = 0; i < n; i++) {
        gradient[i] += g * weights[i];
        weights[i] += g * context[i];
    }
}

// Row-broadcast and streaming loops: plain C over restrict pointers, which the compiler vectorises for the
// variant's instruction set (Swift's generic loops ran at ≈ 12 instructions per element).

KERNEL_TARGET void KERNEL(elmo_add_row_vector)(float *restrict x, long rows, long columns, const float *restrict v) {
    for (long r = 0; r < rows; r++) {
        float *restrict row = x + r * columns;
        for (long j = 0; j < columns; j++) row[j] += v[j];
    }
}

KERNEL_TARGET void KERNEL(elmo_accumulate_column_sums)(const float *restrict x, long rows, long columns, float *restrict sums) {
    for (long r = 0; r < rows; r++) {
        const float *restrict row = x + r * columns;
        for (long j = 0; j < columns; j++) sums[j] += row[j];
    }
}

KERNEL_TARGET void KERNEL(elmo_scale)(float *x, long n, float a) {
    for (long i = 0; i < n; i++) x[i] *= a;
}

KERNEL_TARGET void KERNEL(elmo_add)(const float *restrict x, float *restrict y, long n) {
    for (long i = 0; i < n; i++) y[i] += x[i];
}

KERNEL_TARGET void KERNEL(elmo_max_over_rows)(const float *restrict x, long rows, long columns, float *restrict maximum,
                                              int *restrict argmax) {
    long j = 0;
    for (; j + LANES <= columns; j += LANES) {
        fv best = loadv(x + j);
        iv at = 0;
        for (long r = 1; r < rows; r++) {
            fv v = loadv(x + r * columns + j);
            iv greater = v > best;   // all ones where strictly greater: the first maximum stays, a NaN never wins
            iv row = (int)r;
            best = selectv(greater, v, best);
            at = (row & greater) | (at & ~greater);
        }
        storev(maximum + j, best);
        memcpy(argmax + j, &at, sizeof at);
    }
    for (; j < columns; j++) {
        float best = x[j];
        int at = 0;
        for (long r = 1; r < rows; r++) {
            if (x[r * columns + j] > best) { best = x[r * columns + j]; at = (int)r; }
        }
        maximum[j] = best;
        argmax[j] = at;
    }
}

#undef INLINE
