import CKernels

/// The float32 elementwise work of the hot paths — softmax rows (tokens × vocabulary exponentials per
/// step) and the LSTM's σ and tanh — in C (`Sources/CKernels`): Cephes' expf and tanhf polynomials, 16 lanes
/// wide with AVX-512, 8 with AVX2+FMA, the widest the CPU has picked at run time. Swift's own SIMD8 code compiles to SSE pairs in
/// release builds, which target baseline x86-64. Relative error ≈ 2e-7 (exp), absolute ≈ 1e-7 (tanh).
public enum FastMath {
    /// "avx512", "avx2+fma" or "baseline" (`ELMO_KERNELS=baseline` or `=avx2` caps it, for comparisons).
    public static var variant: String { String(cString: elmo_kernels_variant()) }

    /// `row ← exp(row + bias − m)` with m = max(row + bias); returns (Σ row, m). The softmax is row / Σ and the
    /// log-sum-exp m + log Σ: normalising is left to the caller, which can fold it into a later pass.
    @inlinable
    public static func exponentiate(_ row: UnsafeMutableBufferPointer<Float>, adding bias: UnsafePointer<Float>?) -> (sum: Float, maximum: Float) {
        precondition(!row.isEmpty)
        var maximum: Float = 0
        let sum = elmo_exponentiate_row(row.baseAddress!, bias, row.count, &maximum)
        return (sum, maximum)
    }

    /// `target[i] = σ(source[i] + shift)`; `target` may be `source`.
    @inlinable
    public static func sigmoid(_ source: UnsafePointer<Float>, into target: UnsafeMutablePointer<Float>, count: Int,
                               shift: Float = 0) {
        elmo_sigmoid(source, target, count, shift)
    }

    /// `target[i] = tanh(source[i])`; `target` may be `source`.
    @inlinable
    public static func tanh(_ source: UnsafePointer<Float>, into target: UnsafeMutablePointer<Float>, count: Int) {
        elmo_tanh(source, target, count)
    }

    /// Σ x[i]·y[i] over `count` values.
    @inlinable
    public static func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, count: Int) -> Float {
        elmo_dot(x, y, count)
    }

    /// Skip-gram's negative-sampling step for one target row: `gradient += g·weights`, then `weights += g·context`
    /// (three rows that must not overlap).
    @inlinable
    public static func negativeSamplingUpdate(gradient: UnsafeMutablePointer<Float>, weights: UnsafeMutablePointer<Float>,
                                              context: UnsafePointer<Float>, count: Int, scale g: Float) {
        elmo_sgns_update(gradient, weights, context, count, g)
    }
}
