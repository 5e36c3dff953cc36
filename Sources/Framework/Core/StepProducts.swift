/// The per-step products of a recurrence (an LSTM window): few rows (the batch), the same weights at every
/// step, dozens of calls per window.
///
/// OpenBLAS's own threading allocates its job list on every call it splits. With two cores allowed, these
/// products are split by columns instead, one half here and one on ``Parallel``'s helper thread, each an
/// OpenBLAS call on one thread: the same work on two cores without an allocation per step.
public enum StepProducts {
    /// Runs `body(split)`: with `split`, OpenBLAS is held to one thread meanwhile (restored after) and
    /// ``gemm(split:_:m:n:k:a:lda:b:ldb:beta:c:ldc:)`` divides its products over two cores.
    public static func run<R>(_ body: (_ split: Bool) throws -> R) rethrows -> R {
        guard Parallel.mayUseTwoCores else { return try body(false) }
        let threads = BLASRuntime.threads
        BLASRuntime.setThreads(1)
        defer { BLASRuntime.setThreads(threads) }
        return try body(true)
    }

    /// `c[m × n] = a[m × k]·op(b) + beta·c`, op(b) = b [k × n] or, transposed, the transpose of b [n × k].
    /// Split into two column halves when `split` and there are at least 32 columns; Double (the gradient
    /// checks) never splits.
    @inlinable
    public static func gemm<T: Scalar>(split: Bool, _ transB: Transpose, m: Int, n: Int, k: Int,
                                       a: UnsafePointer<T>, lda: Int, b: UnsafePointer<T>, ldb: Int,
                                       beta: T, c: UnsafeMutablePointer<T>, ldc: Int) {
        guard split, n >= 32, T.self == Float.self else {
            BLAS.gemm(.none, transB, m: m, n: n, k: k, alpha: 1, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
            return
        }
        var halves = ColumnHalves(transposedB: transB == .transposed, m: m, n: n, k: k, a: Kernels.float(a), lda: lda,
                                  b: Kernels.float(b), ldb: ldb, beta: unsafeBitCast(beta, to: Float.self),
                                  c: Kernels.float(c), ldc: ldc)
        withUnsafeMutablePointer(to: &halves) { pointer in
            Parallel.halves(UnsafeMutableRawPointer(pointer)) { raw, half in
                raw.assumingMemoryBound(to: ColumnHalves.self).pointee.run(half: half)
            }
        }
    }
}

/// One product cut at a 16-column boundary into two halves that write disjoint columns of `c`.
@usableFromInline
struct ColumnHalves {
    let transposedB: Bool
    let m: Int, n: Int, k: Int
    let a: UnsafePointer<Float>, lda: Int
    let b: UnsafePointer<Float>, ldb: Int
    let beta: Float
    let c: UnsafeMutablePointer<Float>, ldc: Int

    @usableFromInline
    init(transposedB: Bool, m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
         beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        (self.transposedB, self.m, self.n, self.k, self.a, self.lda) = (transposedB, m, n, k, a, lda)
        (self.b, self.ldb, self.beta, self.c, self.ldc) = (b, ldb, beta, c, ldc)
    }

    @usableFromInline
    func run(half: Int) {
        let firstColumns = (n / 2 + 15) / 16 * 16
        let start = half == 0 ? 0 : firstColumns
        let count = half == 0 ? firstColumns : n - firstColumns
        // Columns start.. of op(b): columns of b, or rows of the stored transpose.
        let bPart = transposedB ? b + start * ldb : b + start
        BLAS.gemm(.none, transposedB ? .transposed : .none, m: m, n: count, k: k, alpha: 1, a: a, lda: lda,
                  b: bPart, ldb: ldb, beta: beta, c: c + start, ldc: ldc)
    }
}
