/// How a parameter tensor starts. Each case states its distribution; see the layer that uses it
/// for where the choice comes from (bilm-tf, PaddleNLP, AllenNLP).
public enum Initializer: Sendable {
    case zeros
    case constant(Double)
    /// U(low, high).
    case uniform(Double, Double)
    /// N(0, std²).
    case normal(std: Double)
    /// Glorot/Xavier uniform for a [fanIn, fanOut] matrix: U(±√(6/(fanIn+fanOut))).
    case glorotUniform
    /// Columns orthonormal (rows when the matrix is wide), via LAPACK QR of a Gaussian matrix.
    case orthogonal

    public func make<T: Scalar>(_ shape: [Int], rng: inout SeededRandom) -> Tensor<T> {
        var t = Tensor<T>(shape: shape)
        switch self {
        case .zeros:
            break
        case .constant(let c):
            t = Tensor(shape: shape, repeating: T(c))
        case .uniform(let low, let high):
            rng.fillUniform(&t, T(low), T(high))
        case .normal(let std):
            rng.fillNormal(&t, std: T(std))
        case .glorotUniform:
            let limit = (6.0 / Double(t.rows + t.columns)).squareRoot()
            rng.fillUniform(&t, T(-limit), T(limit))
        case .orthogonal:
            rng.fillNormal(&t, std: 1)
            t = Self.orthonormalized(t)
        }
        return t
    }

    private static func orthonormalized<T: Scalar>(_ t: Tensor<T>) -> Tensor<T> {
        let (m, n) = (t.rows, t.columns)
        guard m > 0, n > 0 else { return t }
        if m >= n {
            var q = t
            let ok = q.withUnsafeMutableBufferPointer { T.orthonormalizeColumns(m: m, n: n, a: $0.baseAddress!) }
            precondition(ok, "LAPACK QR failed for an orthogonal initialisation of \(t.shape)")
            return q
        }
        // Wide matrix: orthonormalise the rows through the transpose.
        var transposed = Tensor<T>(shape: [n, m])
        for i in 0..<m { for j in 0..<n { transposed.scalars[j * m + i] = t.scalars[i * n + j] } }
        let q = orthonormalized(transposed)
        var out = Tensor<T>(shape: t.shape)
        for i in 0..<m { for j in 0..<n { out.scalars[i * n + j] = q.scalars[j * m + i] } }
        return out
    }
}

/// Anything that owns parameters; composite layers concatenate their children's lists.
public protocol HasParameters {
    associatedtype ScalarType: Scalar
    var parameters: [Parameter<ScalarType>] { get }
}

extension HasParameters {
    public func zeroGradients() { for p in parameters { p.zeroGrad() } }
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.count } }
}
