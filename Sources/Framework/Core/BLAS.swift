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
        T.gemm(transA, transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
               b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
    }

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
