/// Inverted dropout: in training each element is zeroed with probability `rate` and the rest
/// scaled by 1/(1−rate); at inference it is the identity. Draws come from the caller's
/// ``SeededRandom`` so runs (and resumed runs) are reproducible.
public struct Dropout<T: Scalar> {
    public let rate: T

    public init(rate: T) {
        precondition(rate >= 0 && rate < 1, "dropout rate must be in [0, 1), got \(rate)")
        self.rate = rate
    }

    /// The per-element multipliers (0 or 1/(1−rate)); nil when dropout was the identity.
    public struct Cache { public var multipliers: [T]? }

    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func forward(_ x: Tensor<T>, training: Bool, rng: inout SeededRandom) -> (output: Tensor<T>, cache: Cache) {
        guard training, rate > 0 else { return (x, Cache(multipliers: nil)) }
        let keep = 1 / (1 - rate)
        // Compare 53-bit uniforms against the rate: exact for any rate, one draw per element.
        let threshold = UInt64(Double(rate) * 0x1.0p53)
        var multipliers = [T](repeating: 0, count: x.count)
        var y = x
        multipliers.withUnsafeMutableBufferPointer { m in
            y.withUnsafeMutableBufferPointer { out in
                for i in out.indices {
                    let kept = (rng.next() >> 11) >= threshold
                    m[i] = kept ? keep : 0
                    out[i] *= m[i]
                }
            }
        }
        return (y, Cache(multipliers: multipliers))
    }

    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func backward(_ dy: Tensor<T>, cache: Cache) -> Tensor<T> {
        guard let multipliers = cache.multipliers else { return dy }
        precondition(multipliers.count == dy.count, "dropout dy \(dy.count) vs \(multipliers.count)")
        var dx = dy
        dx.withUnsafeMutableBufferPointer { d in
            multipliers.withUnsafeBufferPointer { m in for i in d.indices { d[i] *= m[i] } }
        }
        return dx
    }
}
