/// Affine map `y = x·W + b`.
///
/// `W` has shape [I, O] (TensorFlow / bilm-tf layout, the layout of the checkpoints), `b` [O].
/// The input is any tensor whose last dimension is I, seen as an N×I matrix; the output has the
/// same leading dimensions and last dimension O. One GEMM per call over all N rows.
public struct Linear<T: Scalar>: HasParameters {
    public let weight: Parameter<T>
    public let bias: Parameter<T>?

    public var inputSize: Int { weight.shape[0] }
    public var outputSize: Int { weight.shape[1] }
    public var parameters: [Parameter<T>] { [weight] + (bias.map { [$0] } ?? []) }

    public init(weight: Parameter<T>, bias: Parameter<T>?) {
        precondition(weight.value.rank == 2, "Linear weight must be [I, O], got \(weight.shape)")
        if let bias { precondition(bias.shape == [weight.shape[1]], "bias \(bias.shape) for weight \(weight.shape)") }
        self.weight = weight
        self.bias = bias
    }

    /// A layer named `name` with parameters `name.weight` and `name.bias`.
    public init(
        name: String, inputSize: Int, outputSize: Int, hasBias: Bool = true,
        weightInit: Initializer = .glorotUniform, biasInit: Initializer = .zeros, rng: inout SeededRandom
    ) {
        self.init(
            weight: Parameter(name: "\(name).weight", value: weightInit.make([inputSize, outputSize], rng: &rng)),
            bias: hasBias ? Parameter(name: "\(name).bias", value: biasInit.make([outputSize], rng: &rng)) : nil)
    }

    /// What backward needs: the input.
    public struct Cache {
        public var input: Tensor<T>
        public init(input: Tensor<T>) { self.input = input }
    }

    /// x [N…, I] → y [N…, O].
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func forward(_ x: Tensor<T>) -> (output: Tensor<T>, cache: Cache) {
        precondition(x.columns == inputSize, "Linear expects last dimension \(inputSize), got \(x.shape)")
        var y = Tensor<T>(shape: Array(x.shape.dropLast()) + [outputSize])
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { weight.multiply(xp.baseAddress!, rows: x.rows, depth: inputSize, into: $0.baseAddress!) }
        }
        if let bias {
            bias.value.withUnsafeBufferPointer { b in
                y.withUnsafeMutableBufferPointer { Kernels.addRowVector(b, to: $0, columns: outputSize) }
            }
        }
        return (y, Cache(input: x))
    }

    /// Accumulates dW += xᵀ·dy and db += Σ_rows dy; returns dx = dy·Wᵀ when asked.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    @discardableResult
    public func backward(_ dy: Tensor<T>, cache: Cache, inputGradient: Bool = true) -> Tensor<T>? {
        precondition(dy.columns == outputSize && dy.rows == cache.input.rows, "Linear dy \(dy.shape)")
        if weight.isTrainable {
            BLAS.matmul(cache.input, dy, into: &weight.grad, transposeA: .transposed, beta: 1)
        }
        if let bias, bias.isTrainable {
            dy.withUnsafeBufferPointer { d in
                bias.grad.withUnsafeMutableBufferPointer { Kernels.accumulateColumnSums(of: d, columns: outputSize, into: $0) }
            }
        }
        guard inputGradient else { return nil }
        var dx = Tensor<T>(shape: cache.input.shape)
        BLAS.matmul(dy, weight.value, into: &dx, transposeB: .transposed)
        return dx
    }
}
