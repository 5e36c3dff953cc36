// The kernels' bodies, included once per variant with KERNEL_TARGET (a target attribute) and
// KERNEL(name) (the variant's name suffix) defined. 8-lane Clang vectors: the AVX2 variant compiles them
// to 256-bit registers and contracts a*b + c into FMA; the baseline to SSE pairs.
#include <math.h>
// The 8-lane helpers are static and always inlined: no call crosses an ABI boundary.
#pragma clang diagnostic ignored "-Wpsabi"
#include <string.h>

typedef float f8 __attribute__((ext_vector_type(8)));
typedef int i8 __attribute__((ext_vector_type(8)));

#define INLINE static inline __attribute__((always_inline)) KERNEL_TARGET

INLINE f8 load8(const float *p) { f8 v; memcpy(&v, p, sizeof v); return v; }
INLINE void store8(float *p, f8 v) { memcpy(p, &v, sizeof v); }
/// Lanes of `mask` (all ones or zero) take `a`, the others `b`.
INLINE f8 select8(i8 mask, f8 a, f8 b) { return (f8)(((i8)a & mask) | ((i8)b & ~mask)); }
INLINE float hsum(f8 v) { return ((v.s0 + v.s4) + (v.s1 + v.s5)) + ((v.s2 + v.s6) + (v.s3 + v.s7)); }
INLINE float hmax(f8 v) {
    float m = v.s0;
    for (int k = 1; k < 8; k++) m = v[k] > m ? v[k] : m;
    return m;
}

/// Cephes expf: x = n·ln 2 + r (ln 2 in two parts), a degree-6 polynomial in r, 2ⁿ through the exponent
/// bits; n = round(x / ln 2) by adding 1.5·2²³. Relative error ≈ 2e-7; exactly 0 below the float range.
INLINE f8 exp8(f8 input) {
    f8 x = __builtin_elementwise_min(input, (f8)88.37626f);
    x = __builtin_elementwise_max(x, (f8)-87.33654f);
    const f8 magic = 12582912.0f;
    f8 shifted = x * 1.44269504088896341f + magic;
    f8 n = shifted - magic;
    f8 r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    f8 p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    i8 exponent = (((i8)shifted - 0x4B400000) + 127) << 23;
    f8 scaled = p * (f8)exponent;
    return select8(input < -87.33654f, (f8)0.0f, scaled);
}

INLINE f8 sigmoid8(f8 x) { return 1.0f / (1.0f + exp8(-x)); }

/// Cephes tanhf: an odd polynomial below |x| = 0.625 (where 1 − 2/(e²ˣ + 1) loses digits), that above.
INLINE f8 tanh8(f8 x) {
    f8 z = x * x;
    f8 small = -5.70498872745e-3f;
    small = small * z + 2.06390887954e-2f;
    small = small * z - 5.37397155531e-2f;
    small = small * z + 1.33314422036e-1f;
    small = small * z - 3.33332819422e-1f;
    small = small * z * x + x;
    i8 negative = x < 0.0f;
    f8 magnitude = select8(negative, -x, x);
    f8 large = 1.0f - 2.0f / (exp8(magnitude + magnitude) + 1.0f);
    large = select8(negative, -large, large);
    return select8(magnitude >= 0.625f, large, small);
}

/// Loads the last n % 8 values (padded with `fill`), applies nothing: the callers compute and store.
INLINE f8 load_tail(const float *p, long count, float fill) {
    float lanes[8];
    for (int k = 0; k < 8; k++) lanes[k] = k < count ? p[k] : fill;
    return load8(lanes);
}
INLINE void store_tail(float *p, long count, f8 v) {
    float lanes[8];
    store8(lanes, v);
    for (long k = 0; k < count; k++) p[k] = lanes[k];
}

KERNEL_TARGET float KERNEL(elmo_exponentiate_row)(float *row, const float *bias, long n, float *maximum) {
    long i = 0, whole = n - n % 8;
    f8 best = -INFINITY;
    if (bias) {
        // The bias add rides on the pass that finds the maximum.
        for (; i < whole; i += 8) {
            f8 z = load8(row + i) + load8(bias + i);
            store8(row + i, z);
            best = __builtin_elementwise_max(best, z);
        }
        for (; i < n; i++) row[i] += bias[i];
    } else {
        for (; i < whole; i += 8) best = __builtin_elementwise_max(best, load8(row + i));
    }
    float m = hmax(best);
    for (i = whole; i < n; i++) m = row[i] > m ? row[i] : m;
    f8 sums = 0.0f;
    for (i = 0; i < whole; i += 8) {
        f8 e = exp8(load8(row + i) - m);
        store8(row + i, e);
        sums += e;
    }
    if (whole < n) {
        f8 e = exp8(load_tail(row + whole, n - whole, -INFINITY) - m);
        store_tail(row + whole, n - whole, e);
        sums += e;   // padded lanes are exp(−∞) = 0
    }
    *maximum = m;
    return hsum(sums);
}

KERNEL_TARGET void KERNEL(elmo_sigmoid)(const float *source, float *target, long n, float shift) {
    long i = 0, whole = n - n % 8;
    for (; i < whole; i += 8) store8(target + i, sigmoid8(load8(source + i) + shift));
    if (whole < n) store_tail(target + whole, n - whole, sigmoid8(load_tail(source + whole, n - whole, 0.0f) + shift));
}

KERNEL_TARGET void KERNEL(elmo_tanh)(const float *source, float *target, long n) {
    long i = 0, whole = n - n % 8;
    for (; i < whole; i += 8) store8(target + i, tanh8(load8(source + i)));
    if (whole < n) store_tail(target + whole, n - whole, tanh8(load_tail(source + whole, n - whole, 0.0f)));
}

// LSTM cells (TF LSTMCell, gate blocks i, j, f, o of width c per row). `keep` (per row, or NULL = 1) is 0
// where a row's state was reset before this step; `clip` is +∞ when the cell is not clipped.

INLINE f8 load_part(const float *p, long count) { return count >= 8 ? load8(p) : load_tail(p, count, 0.0f); }
INLINE void store_part(float *p, long count, f8 v) { if (count >= 8) store8(p, v); else store_tail(p, count, v); }

KERNEL_TARGET void KERNEL(elmo_lstm_forward_cells)(float *gates, const float *cell_prev, float *cell_next, float *m,
                                                   long rows, long c, float clip, const float *keep) {
    for (long r = 0; r < rows; r++) {
        float *gi = gates + r * 4 * c, *gj = gi + c, *gf = gj + c, *go = gf + c;
        const float *before = cell_prev + r * c;
        float *next = cell_next + r * c, *out = m + r * c;
        float k = keep ? keep[r] : 1.0f;
        for (long j = 0; j < c; j += 8) {
            long n = c - j;
            f8 i = sigmoid8(load_part(gi + j, n)), t = tanh8(load_part(gj + j, n));
            f8 f = sigmoid8(load_part(gf + j, n) + 1.0f), o = sigmoid8(load_part(go + j, n));
            f8 cell = f * (k * load_part(before + j, n)) + i * t;
            cell = __builtin_elementwise_max(__builtin_elementwise_min(cell, (f8)clip), (f8)-clip);
            store_part(gi + j, n, i);
            store_part(gj + j, n, t);
            store_part(gf + j, n, f);
            store_part(go + j, n, o);
            store_part(next + j, n, cell);
            store_part(out + j, n, o * tanh8(cell));
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
        for (long j = 0; j < c; j += 8) {
            long n = c - j;
            f8 i = load_part(gi + j, n), t = load_part(gj + j, n), f = load_part(gf + j, n), o = load_part(go + j, n);
            f8 cell = load_part(now + j, n), tc = tanh8(cell), d_m = load_part(dmr + j, n);
            f8 d_cell = load_part(dcr + j, n) + d_m * o * (1.0f - tc * tc);
            // A clipped cell passes no gradient (the clip's derivative is 0 there).
            f8 clipped = __builtin_elementwise_abs(cell);
            d_cell = select8(clipped >= clip, (f8)0.0f, d_cell);
            store_part(di + j, n, d_cell * t * i * (1.0f - i));
            store_part(dj + j, n, d_cell * i * (1.0f - t * t));
            store_part(df + j, n, d_cell * (k * load_part(prev + j, n)) * f * (1.0f - f));
            store_part(dout + j, n, d_m * tc * o * (1.0f - o));
            store_part(dcr + j, n, d_cell * f * k);
        }
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

#undef INLINE
