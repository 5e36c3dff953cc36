/// Layer normalization without a learned gain or bias (Ba et al., 2016): every row of the last dimension is shifted
/// to mean 0 and scaled to variance 1, `y = (x − μ) / √(σ² + ε)`. Used where vectors of different sources meet and
/// their scales, not their directions, would otherwise decide which one a following layer learns from first; the
/// Linear layer after it supplies any gain and bias. An all-zero row (padding) stays zero.
public struct LayerNorm<T: Scalar> {
    public let epsilon: T

    /// ε = 1e-5, PyTorch's `nn.LayerNorm` default.
    public init(epsilon: T = 1e-5) {
        precondition(epsilon > 0, "layer norm ε must be positive, got \(epsilon)")
        self.epsilon = epsilon
    }

    /// The normalized rows and each row's 1/√(σ² + ε): all that backward needs.
    public struct Cache {
        public var normalized: Tensor<T>
        public var inverseDeviations: [T]
    }

    /// x [..., D] → y of the same shape, each length-D row normalized.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func forward(_ x: Tensor<T>) -> (output: Tensor<T>, cache: Cache) {
        let d = x.shape.last ?? 0, rows = d == 0 ? 0 : x.count / d
        var y = x
        var inverse = [T](repeating: 0, count: rows)
        y.withUnsafeMutableBufferPointer { p in
            for r in 0..<rows {
                let row = p.baseAddress! + r * d
                var mean: T = 0
                for j in 0..<d { mean += row[j] }
                mean /= T(d)
                var variance: T = 0
                for j in 0..<d { let c = row[j] - mean; variance += c * c }
                variance /= T(d)
                let inv = 1 / (variance + epsilon).squareRoot()
                for j in 0..<d { row[j] = (row[j] - mean) * inv }
                inverse[r] = inv
            }
        }
        return (y, Cache(normalized: y, inverseDeviations: inverse))
    }

    /// dy → dx: per row, dx = (dy − mean(dy) − y · mean(dy ⊙ y)) / √(σ² + ε).
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func backward(_ dy: Tensor<T>, cache: Cache) -> Tensor<T> {
        precondition(dy.shape == cache.normalized.shape, "layer norm dy \(dy.shape) vs \(cache.normalized.shape)")
        let d = dy.shape.last ?? 0, rows = cache.inverseDeviations.count
        var dx = dy
        dx.withUnsafeMutableBufferPointer { g in
            cache.normalized.withUnsafeBufferPointer { y in
                for r in 0..<rows {
                    let gr = g.baseAddress! + r * d, yr = y.baseAddress! + r * d
                    var meanGrad: T = 0, meanGradY: T = 0
                    for j in 0..<d { meanGrad += gr[j]; meanGradY += gr[j] * yr[j] }
                    meanGrad /= T(d)
                    meanGradY /= T(d)
                    let inv = cache.inverseDeviations[r]
                    for j in 0..<d { gr[j] = (gr[j] - meanGrad - yr[j] * meanGradY) * inv }
                }
            }
        }
        return dx
    }
}
