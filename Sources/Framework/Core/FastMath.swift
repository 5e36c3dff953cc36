import CKernels

/// The float32 elementwise work of the hot paths — softmax rows (tokens × vocabulary exponentials per
/// step) and the LSTM's σ and tanh — in C (`Sources/CKernels`): Cephes' expf and tanhf polynomials, 8 lanes
/// wide, with an AVX2+FMA variant picked at run time. Swift's own SIMD8 code compiles to SSE pairs in
/// release builds, which target baseline x86-64. Relative error ≈ 2e-7 (exp), absolute ≈ 1e-7 (tanh).
public enum FastMath {
    /// "avx2+fma" or "baseline" (`ELMO_KERNELS=baseline` forces the latter).
    public static var variant: String { String(cString: elmo_kernels_variant()) }

    /// Replaces `row` by its softmax; returns its log-sum-exp.
    @inlinable
    public static func softmaxRow(_ row: UnsafeMutableBufferPointer<Float>) -> Float {
        precondition(!row.isEmpty)
        return elmo_softmax_row(row.baseAddress!, row.count)
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
}
