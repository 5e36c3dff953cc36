import Framework

/// Highway layer, bilm-tf convention: `g = σ(x·Wc + bc)`, `t = relu(x·Wt + bt)`, `y = g·t + (1 − g)·x`.
public struct Highway<T: Scalar>: HasParameters {
    public let carry: Linear<T>
    public let transform: Linear<T>
    public var parameters: [Parameter<T>] { carry.parameters + transform.parameters }

    public init(name: String, dimension d: Int, rng: inout SeededRandom) {
        let std = 1 / Double(d).squareRoot()
        carry = Linear(name: "\(name).carry", inputSize: d, outputSize: d,
                       weightInit: .normal(std: std), biasInit: .constant(-2), rng: &rng)
        transform = Linear(name: "\(name).transform", inputSize: d, outputSize: d,
                           weightInit: .normal(std: std), biasInit: .zeros, rng: &rng)
    }

    public struct Cache {
        var x: Tensor<T>
        var gate: Tensor<T>       // g
        var transformed: Tensor<T> // t (after relu)
    }

    @_specialize(exported: true, where T == Float)
    public func forward(_ x: Tensor<T>) -> (output: Tensor<T>, cache: Cache) {
        var (gate, _) = carry.forward(x)
        var (transformed, _) = transform.forward(x)
        gate.withUnsafeMutableBufferPointer { Kernels.sigmoid($0) }
        transformed.withUnsafeMutableBufferPointer { Kernels.relu($0) }
        var y = x
        y.withUnsafeMutableBufferPointer { out in
            gate.withUnsafeBufferPointer { g in
                transformed.withUnsafeBufferPointer { t in
                    for i in out.indices { out[i] = g[i] * t[i] + (1 - g[i]) * out[i] }
                }
            }
        }
        return (y, Cache(x: x, gate: gate, transformed: transformed))
    }

    /// dy → dx; accumulates the four parameter gradients.
    @_specialize(exported: true, where T == Float)
    public func backward(_ dy: Tensor<T>, cache: Cache) -> Tensor<T> {
        var dGatePre = dy, dTransformPre = dy, dx = dy
        dGatePre.withUnsafeMutableBufferPointer { dg in
            dTransformPre.withUnsafeMutableBufferPointer { dt in
                dx.withUnsafeMutableBufferPointer { dxp in
                    cache.gate.withUnsafeBufferPointer { g in
                        cache.transformed.withUnsafeBufferPointer { t in
                            cache.x.withUnsafeBufferPointer { x in
                                for i in dg.indices {
                                    let d = dg[i], gi = g[i]
                                    dg[i] = d * (t[i] - x[i]) * gi * (1 - gi)
                                    dt[i] = t[i] > 0 ? d * gi : 0
                                    dxp[i] = d * (1 - gi)
                                }
                            }
                        }
                    }
                }
            }
        }
        let fromGate = carry.backward(dGatePre, cache: Linear.Cache(input: cache.x))!
        let fromTransform = transform.backward(dTransformPre, cache: Linear.Cache(input: cache.x))!
        dx.withUnsafeMutableBufferPointer { out in
            fromGate.withUnsafeBufferPointer { Kernels.add($0, into: out) }
            fromTransform.withUnsafeBufferPointer { Kernels.add($0, into: out) }
        }
        return dx
    }
}
