import Framework

/// AllenNLP's scalar mix: `γ · Σ_k softmax(s)_k · h_k` over the K layers of a representation
/// (s initialised to 0, i.e. equal weights, γ to 1).
public final class ScalarMix<T: Scalar>: HasParameters {
    public let weights: Parameter<T>   // s [K]
    public let gamma: Parameter<T>     // γ [1]
    public var parameters: [Parameter<T>] { [weights, gamma] }

    public init(layers: Int, name: String = "scalar_mix") {
        weights = Parameter(name: "\(name).weights", value: Tensor(shape: [layers]))
        gamma = Parameter(name: "\(name).gamma", value: Tensor(shape: [1], repeating: 1))
    }

    public var normalizedWeights: [T] {
        let s = weights.value.scalars
        let m = s.max()!
        let e = s.map { T.exp($0 - m) }
        let total = e.reduce(0, +)
        return e.map { $0 / total }
    }

    /// layers: K tensors of one shape → their mix.
    public func forward(_ layers: [Tensor<T>]) -> Tensor<T> {
        let w = normalizedWeights, g = gamma.value.scalars[0]
        var out = Tensor<T>(shape: layers[0].shape)
        for (k, layer) in layers.enumerated() {
            let scale = g * w[k]
            out.withUnsafeMutableBufferPointer { o in layer.withUnsafeBufferPointer { h in for i in o.indices { o[i] += scale * h[i] } } }
        }
        return out
    }

    /// dOut → the gradient of each layer; accumulates ds and dγ.
    public func backward(_ dOut: Tensor<T>, layers: [Tensor<T>]) -> [Tensor<T>] {
        let w = normalizedWeights, g = gamma.value.scalars[0]
        var dots = [T](repeating: 0, count: layers.count)
        for (k, layer) in layers.enumerated() {
            layer.withUnsafeBufferPointer { h in dOut.withUnsafeBufferPointer { d in for i in h.indices { dots[k] += h[i] * d[i] } } }
        }
        if gamma.isTrainable { gamma.grad.scalars[0] += zip(w, dots).reduce(0) { $0 + $1.0 * $1.1 } }
        if weights.isTrainable {
            // ds_k = w_k (dw_k − Σ_j w_j dw_j) with dw_k = γ·⟨h_k, dOut⟩.
            let dw = dots.map { g * $0 }
            let mean = zip(w, dw).reduce(0) { $0 + $1.0 * $1.1 }
            for k in 0..<layers.count { weights.grad.scalars[k] += w[k] * (dw[k] - mean) }
        }
        return w.map { wk in
            var d = dOut
            d.withUnsafeMutableBufferPointer { Kernels.scale($0, by: g * wk) }
            return d
        }
    }
}
