/// Matrix products over ``Tensor`` storage, checked once per call and dispatched to cblas.
///
/// Shapes use the letters of the whole code base: `N` rows (tokens), `I` inputs, `O` outputs.
public enum BLAS {
    /// `c ← alpha·op(a)·op(b) + beta·c` for tensors seen as matrices (``Tensor/rows`` × ``Tensor/columns``).
    @inlinable
    public static func matmul<T: Scalar>(
        _ a: Tensor<T>, _ b: Tensor<T>, into c: inout Tensor<T>,
        transposeA transA: Transpose = .none, transposeB transB: Transpose = .none,
        alpha: T = 1, beta: T = 0
    ) {
        let (m, ka) = transA == .none ? (a.rows, a.columns) : (a.columns, a.rows)
        let (kb, n) = transB == .none ? (b.rows, b.columns) : (b.columns, b.rows)
        precondition(ka == kb, "matmul: inner dimensions \(ka) and \(kb) differ (\(a.shape) × \(b.shape))")
        precondition(c.rows == m && c.columns == n, "matmul: result \(c.shape) is not \(m)×\(n)")
        let lda = a.columns, ldb = b.columns, ldc = c.columns
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    gemm(transA, transB, m: m, n: n, k: ka, alpha: alpha,
                         a: pa.baseAddress!, lda: lda, b: pb.baseAddress!, ldb: ldb,
                         beta: beta, c: pc.baseAddress!, ldc: ldc)
                }
            }
        }
    }

    /// Row-major GEMM on raw pointers; a zero-sized product only scales `c` by `beta`.
    @inlinable
    public static func gemm<T: Scalar>(
        _ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int,
        alpha: T, a: UnsafePointer<T>, lda: Int, b: UnsafePointer<T>, ldb: Int,
        beta: T, c: UnsafeMutablePointer<T>, ldc: Int
    ) {
        guard m > 0, n > 0 else { return }
        if k == 0 {
            // cblas leaves C untouched for k == 0 on some builds; define it as the scaling.
            for i in 0..<m { for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] } }
            return
        }
        if batchInvariant && transA == .none {
            // Rows of A are the batch: a row's result must not depend on how many there are. OpenBLAS computes small
            // products (M·N·K below about 10⁶) with kernels that sum all of K at once, and larger ones in blocks of K,
            // so the two round differently when K is deeper than a block; with β = 0 and α = 1 some take yet another
            // (direct) kernel. Pieces of K no deeper than any block, added in order onto C, are summed the same way on
            // every path.
            if beta == 0 { for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) } }
            for start in stride(from: 0, to: k, by: invariantDepth) {
                let depth = min(invariantDepth, k - start)
                T.gemm(transA, transB, m: m, n: n, k: depth, alpha: alpha, a: a + start, lda: lda,
                       b: transB == .none ? b + start * ldb : b + start, ldb: ldb, beta: start == 0 && beta != 0 ? beta : 1, c: c, ldc: ldc)
            }
            return
        }
        T.gemm(transA, transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
               b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
    }

    /// When set, products with untransposed A give each row of the result the same bits whatever the number of rows
    /// (`elmo embed` and `elmo serve` turn it on: a sentence's vectors then do not depend on its batch-mates). The cost
    /// is one more pass over C per 256 of K. Process-wide, like the BLAS library it steers; set before computing.
    nonisolated(unsafe) public static var batchInvariant = false
    /// The depth of K summed in one call in batch-invariant mode: within the K block of OpenBLAS's kernels.
    public static let invariantDepth = 256

    /// The obviously-correct triple loop, kept as the reference the BLAS path is tested against.
    public static func naiveGemm<T: Scalar>(
        _ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int,
        alpha: T, a: [T], lda: Int, b: [T], ldb: Int, beta: T, c: inout [T], ldc: Int
    ) {
        for i in 0..<m {
            for j in 0..<n {
                var sum: T = 0
                for p in 0..<k {
                    let av = transA == .none ? a[i * lda + p] : a[p * lda + i]
                    let bv = transB == .none ? b[p * ldb + j] : b[j * ldb + p]
                    sum += av * bv
                }
                c[i * ldc + j] = alpha * sum + beta * c[i * ldc + j]
            }
        }
    }
}
