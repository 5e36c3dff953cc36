import Framework

/// The outcome of a numerical gradient check: the worst element over every tensor checked.
public struct GradientCheckResult: CustomStringConvertible, Sendable {
    public var maxRelativeError = 0.0
    public var maxAbsoluteError = 0.0
    public var worstTensor = ""
    public var worstIndex = -1
    public var worstAnalytic = 0.0
    public var worstNumeric = 0.0
    public var elementsChecked = 0

    public var description: String {
        "max relative error \(maxRelativeError) at \(worstTensor)[\(worstIndex)] "
            + "(analytic \(worstAnalytic), numeric \(worstNumeric)); max abs error \(maxAbsoluteError); "
            + "\(elementsChecked) elements"
    }
}

/// Central-difference gradient checks in Float64 against a layer's hand-written backward.
///
/// For every element θ of every tensor given (parameters, and inputs wrapped as parameters)
/// the numeric derivative `(L(θ+h) − L(θ−h)) / 2h` is compared with the analytic one by the
/// relative error `|a − n| / max(|a|, |n|, floor)`. The floor keeps elements whose true gradient
/// is ~0 from dividing rounding noise (≈1e-10 here) by nothing; with the default 1e-3 such
/// elements must agree to 1e-9 absolute for a relative error of 1e-6.
public enum GradientChecker {
    /// - Parameters:
    ///   - tensors: everything to check; their `.grad` is zeroed, then filled by `backward`.
    ///   - loss: the scalar loss for the current values (forward only).
    ///   - backward: runs forward and backward once, accumulating analytic gradients into `.grad`.
    ///   - samplesPerTensor: check only this many seeded-random elements of larger tensors.
    public static func check(
        _ tensors: [Parameter<Double>],
        step h: Double = 1e-6,
        floor: Double = 1e-3,
        samplesPerTensor: Int? = nil,
        seed: UInt64 = 1,
        loss: () -> Double,
        backward: () -> Void
    ) -> GradientCheckResult {
        for t in tensors { t.grad.zero() }
        backward()
        let analytic = tensors.map { $0.grad }
        var result = GradientCheckResult()
        var rng = SeededRandom(seed: seed)
        for (t, grads) in zip(tensors, analytic) {
            var indices = Array(0..<t.count)
            if let limit = samplesPerTensor, indices.count > limit {
                rng.shuffle(&indices)
                indices = Array(indices.prefix(limit))
            }
            for i in indices {
                let original = t.value.scalars[i]
                t.value.scalars[i] = original + h
                let plus = loss()
                t.value.scalars[i] = original - h
                let minus = loss()
                t.value.scalars[i] = original
                let numeric = (plus - minus) / (2 * h)
                let a = grads.scalars[i]
                let absolute = abs(a - numeric)
                let relative = absolute / max(abs(a), abs(numeric), floor)
                result.elementsChecked += 1
                result.maxAbsoluteError = max(result.maxAbsoluteError, absolute.isNaN ? .infinity : absolute)
                if relative > result.maxRelativeError || relative.isNaN {
                    result.maxRelativeError = relative.isNaN ? .infinity : relative
                    result.worstTensor = t.name
                    result.worstIndex = i
                    result.worstAnalytic = a
                    result.worstNumeric = numeric
                }
            }
        }
        return result
    }
}

/// `L = Σ out ⊙ R` for fixed random R: every output element reaches the loss with its own
/// weight, so a transposed or misplaced gradient cannot cancel out. dL/dout = R.
public struct ProjectionLoss: Sendable {
    public let weights: Tensor<Double>

    public init(shape: [Int], seed: UInt64) {
        var rng = SeededRandom(seed: seed)
        var w = Tensor<Double>(shape: shape)
        rng.fillUniform(&w, -1, 1)
        weights = w
    }

    public func value(_ output: Tensor<Double>) -> Double {
        precondition(output.count == weights.count, "projection loss for \(output.shape), built for \(weights.shape)")
        var sum = 0.0
        for (o, w) in zip(output.scalars, weights.scalars) { sum += o * w }
        return sum
    }

    /// dL/dout, shaped like `output`.
    public func gradient(like output: Tensor<Double>) -> Tensor<Double> {
        weights.reshaped(output.shape)
    }
}

/// A parameter holding random values, for inputs and weights of checks.
public func randomParameter(_ name: String, _ shape: [Int], seed: UInt64, scale: Double = 1) -> Parameter<Double> {
    var rng = SeededRandom(seed: seed)
    var t = Tensor<Double>(shape: shape)
    rng.fillUniform(&t, -scale, scale)
    return Parameter(name: name, value: t)
}

extension Parameter where T == Double {
    /// `grad += g`, for inputs whose gradient a layer returns rather than accumulates.
    public func accumulate(_ g: Tensor<Double>) {
        precondition(g.count == grad.count, "gradient \(g.shape) for \(name) \(shape)")
        for i in 0..<g.count { grad.scalars[i] += g.scalars[i] }
    }
}
