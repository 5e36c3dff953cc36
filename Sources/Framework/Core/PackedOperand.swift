import CKernels

/// The right operand `B` [k × n] of many products with few rows: an LSTM's recurrent and projection weights,
/// used once per step of a window. Float packs it once into the panels of the C kernel, so that no step pays
/// for OpenBLAS's own packing of B (a fifth of the product at 32 rows); Double (the gradient checks) keeps
/// calling BLAS on the matrix in place.
///
/// Valid inside ``Kernels/withPackedOperand(_:ldb:transposed:k:n:_:)`` only: it points into the caller's
/// buffer and owns the packed copy for that scope.
public struct PackedOperand<T: Scalar> {
    @usableFromInline let matrix: UnsafePointer<T>
    @usableFromInline let ldb: Int
    @usableFromInline let transposed: Bool
    public let k: Int
    public let n: Int
    @usableFromInline let packed: UnsafeMutablePointer<Float>?

    @usableFromInline
    init(matrix: UnsafePointer<T>, ldb: Int, transposed: Bool, k: Int, n: Int, packed: UnsafeMutablePointer<Float>?) {
        self.matrix = matrix
        self.ldb = ldb
        self.transposed = transposed
        self.k = k
        self.n = n
        self.packed = packed
    }

    /// `c[m × n] = a[m × k]·B`, plus `c` when `accumulate`. With two or more threads allowed, the two halves
    /// of the columns run on two cores; each element is summed in the same order either way.
    @inlinable
    public func multiply(rows m: Int, _ a: UnsafePointer<T>, lda: Int, into c: UnsafeMutablePointer<T>, ldc: Int,
                         accumulate: Bool) {
        guard m > 0, n > 0 else { return }
        guard let packed else {
            BLAS.gemm(.none, transposed ? .transposed : .none, m: m, n: n, k: k, alpha: 1, a: a, lda: lda,
                      b: matrix, ldb: ldb, beta: accumulate ? 1 : 0, c: c, ldc: ldc)
            return
        }
        let af = Kernels.float(a), cf = Kernels.float(c), k = self.k, n = self.n
        let panels = (n + 15) / 16
        // Narrow products (under 512 columns) stay on one core: the hand-over would be a large share of them.
        guard panels >= 32, Parallel.mayUseTwoCores else {
            elmo_gemm_packed(m, n, k, af, lda, packed, accumulate ? 1 : 0, cf, ldc)
            return
        }
        var halves = PackedHalves(m: m, n: n, k: k, firstColumns: (panels + 1) / 2 * 16, a: af, lda: lda, packed: packed,
                                  c: cf, ldc: ldc, accumulate: accumulate ? 1 : 0)
        withUnsafeMutablePointer(to: &halves) { pointer in
            Parallel.halves(UnsafeMutableRawPointer(pointer)) { raw, half in
                raw.assumingMemoryBound(to: PackedHalves.self).pointee.run(half: half)
            }
        }
    }
}

/// One product split at a panel boundary into two column ranges (which write disjoint columns of `c`).
@usableFromInline
struct PackedHalves {
    let m: Int, n: Int, k: Int, firstColumns: Int
    let a: UnsafePointer<Float>, lda: Int
    let packed: UnsafeMutablePointer<Float>
    let c: UnsafeMutablePointer<Float>, ldc: Int
    let accumulate: Int32

    @usableFromInline
    init(m: Int, n: Int, k: Int, firstColumns: Int, a: UnsafePointer<Float>, lda: Int, packed: UnsafeMutablePointer<Float>,
         c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Int32) {
        (self.m, self.n, self.k, self.firstColumns, self.a, self.lda) = (m, n, k, firstColumns, a, lda)
        (self.packed, self.c, self.ldc, self.accumulate) = (packed, c, ldc, accumulate)
    }

    @usableFromInline
    func run(half: Int) {
        let start = half == 0 ? 0 : firstColumns
        let count = half == 0 ? firstColumns : n - firstColumns
        elmo_gemm_packed(m, count, k, a, lda, packed + start * k, accumulate, c + start, ldc)
    }
}

extension Kernels {
    /// Runs `body` with `B` [k × n] ready for repeated products: the row-major matrix at `b` with leading
    /// dimension `ldb`, or with `transposed` the transpose of the row-major n × k matrix there.
    @inlinable
    public static func withPackedOperand<T: Scalar, R>(_ b: UnsafePointer<T>, ldb: Int, transposed: Bool, k: Int, n: Int,
                                                       _ body: (PackedOperand<T>) throws -> R) rethrows -> R {
        guard T.self == Float.self, k > 0, n > 0 else {
            return try body(PackedOperand(matrix: b, ldb: ldb, transposed: transposed, k: k, n: n, packed: nil))
        }
        let packed = UnsafeMutablePointer<Float>.allocate(capacity: elmo_packed_size(k, n))
        defer { packed.deallocate() }
        elmo_pack(float(b), ldb, transposed ? 1 : 0, k, n, packed)
        return try body(PackedOperand(matrix: b, ldb: ldb, transposed: transposed, k: k, n: n, packed: packed))
    }
}
