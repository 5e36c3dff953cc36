import COpenBLAS
import RealModule

/// Row-major matrix transposition flag for ``Scalar/gemm(_:_:m:n:k:alpha:a:lda:b:ldb:beta:c:ldc:)``.
public enum Transpose: Sendable {
    case none
    case transposed

    @usableFromInline var cblas: CBLAS_TRANSPOSE {
        self == .none ? CblasNoTrans : CblasTrans
    }
}

/// The floating-point types the framework computes in: `Float` for training and inference,
/// `Double` for gradient checks. Every layer is generic over it; BLAS entry points dispatch
/// to the `s`/`d` routine of OpenBLAS.
public protocol Scalar: BinaryFloatingPoint, Real, Codable, Sendable
where RawSignificand: FixedWidthInteger {
    /// The safetensors dtype tag (`F32`, `F64`).
    static var dtype: DType { get }

    /// `C ← alpha·op(A)·op(B) + beta·C`, all row-major; `op(A)` is m×k, `op(B)` is k×n, `C` is m×n.
    static func gemm(
        _ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int,
        alpha: Self, a: UnsafePointer<Self>, lda: Int,
        b: UnsafePointer<Self>, ldb: Int,
        beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int)

    /// `y ← alpha·x + y` over `count` contiguous elements.
    static func axpy(count: Int, alpha: Self, x: UnsafePointer<Self>, y: UnsafeMutablePointer<Self>)

    /// QR factorisation `A = Q·R` of a row-major m×n matrix (m ≥ n), overwriting `a` with the
    /// first n columns of Q. Used for orthogonal initialisation.
    static func orthonormalizeColumns(m: Int, n: Int, a: UnsafeMutablePointer<Self>) -> Bool
}

extension Float: Scalar {
    public static var dtype: DType { .f32 }

    @inlinable
    public static func gemm(
        _ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int,
        alpha: Float, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        cblas_sgemm(
            CblasRowMajor, transA.cblas, transB.cblas, blasint(m), blasint(n), blasint(k),
            alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
    }

    @inlinable
    public static func axpy(count: Int, alpha: Float, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>) {
        cblas_saxpy(blasint(count), alpha, x, 1, y, 1)
    }

    public static func orthonormalizeColumns(m: Int, n: Int, a: UnsafeMutablePointer<Float>) -> Bool {
        var tau = [Float](repeating: 0, count: n)
        let lda = Int32(n)
        guard LAPACKE_sgeqrf(LAPACK_ROW_MAJOR, Int32(m), Int32(n), a, lda, &tau) == 0 else { return false }
        return LAPACKE_sorgqr(LAPACK_ROW_MAJOR, Int32(m), Int32(n), Int32(n), a, lda, &tau) == 0
    }
}

extension Double: Scalar {
    public static var dtype: DType { .f64 }

    @inlinable
    public static func gemm(
        _ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int,
        alpha: Double, a: UnsafePointer<Double>, lda: Int,
        b: UnsafePointer<Double>, ldb: Int,
        beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int
    ) {
        cblas_dgemm(
            CblasRowMajor, transA.cblas, transB.cblas, blasint(m), blasint(n), blasint(k),
            alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
    }

    @inlinable
    public static func axpy(count: Int, alpha: Double, x: UnsafePointer<Double>, y: UnsafeMutablePointer<Double>) {
        cblas_daxpy(blasint(count), alpha, x, 1, y, 1)
    }

    public static func orthonormalizeColumns(m: Int, n: Int, a: UnsafeMutablePointer<Double>) -> Bool {
        var tau = [Double](repeating: 0, count: n)
        let lda = Int32(n)
        guard LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, Int32(m), Int32(n), a, lda, &tau) == 0 else { return false }
        return LAPACKE_dorgqr(LAPACK_ROW_MAJOR, Int32(m), Int32(n), Int32(n), a, lda, &tau) == 0
    }
}
