import Framework

/// PaddleNLP's bag-of-words head: pool the token vectors (mask-aware mean by default) →
/// Linear(D → hidden) → optional activation → dropout → Linear(hidden → classes).
/// Optionally dropout on the token vectors before pooling (`inputDropout`, off in the example):
/// AllenNLP's `Elmo` applies 0.5 there to regularise its representations.
public final class BagOfWordsHead<T: Scalar>: HasParameters {
    public enum Pooling: String, CaseIterable, Sendable, OptionValue { case mean, sum, max }
    public enum Activation: String, CaseIterable, Sendable, OptionValue { case none, tanh, relu }

    public let pooling: Pooling
    public let activation: Activation
    public let hidden: Linear<T>
    public let output: Linear<T>
    public let dropout: Dropout<T>
    public let inputDropout: Dropout<T>
    public var parameters: [Parameter<T>] { hidden.parameters + output.parameters }

    public init(inputDimension: Int, hiddenSize: Int, classes: Int, pooling: Pooling, activation: Activation,
                dropout: Double, inputDropout: Double = 0, rng: inout SeededRandom) {
        self.pooling = pooling
        self.activation = activation
        hidden = Linear(name: "head.hidden", inputSize: inputDimension, outputSize: hiddenSize, rng: &rng)
        output = Linear(name: "head.output", inputSize: hiddenSize, outputSize: classes, rng: &rng)
        self.dropout = Dropout(rate: T(dropout))
        self.inputDropout = Dropout(rate: T(inputDropout))
    }

    public struct Cache {
        var shape: [Int]
        var lengths: [Int]
        var argmax: [Int]            // max pooling: the winning token per (row, dim)
        var inputDropoutCache: Dropout<T>.Cache
        var hiddenCache: Linear<T>.Cache
        var activated: Tensor<T>
        var dropoutCache: Dropout<T>.Cache
        var outputCache: Linear<T>.Cache
    }

    /// x [B, L, D] with `lengths` → logits [B, C].
    public func forward(_ input: Tensor<T>, lengths: [Int], training: Bool, rng: inout SeededRandom) -> (Tensor<T>, Cache) {
        let (x, inputDropoutCache) = inputDropout.forward(input, training: training, rng: &rng)
        let b = x.shape[0], l = x.shape[1], d = x.shape[2]
        var pooled = Tensor<T>(shape: [b, d])
        var argmax = [Int](repeating: 0, count: pooling == .max ? b * d : 0)
        x.withUnsafeBufferPointer { xp in
            pooled.withUnsafeMutableBufferPointer { out in
                for r in 0..<b {
                    let n = lengths[r]
                    guard n > 0 else { continue }
                    let row = out.baseAddress! + r * d
                    switch pooling {
                    case .mean, .sum:
                        for k in 0..<n { let v = xp.baseAddress! + (r * l + k) * d; for j in 0..<d { row[j] += v[j] } }
                        if pooling == .mean { let inv = 1 / T(n); for j in 0..<d { row[j] *= inv } }
                    case .max:
                        for j in 0..<d { row[j] = xp[(r * l) * d + j] }
                        for k in 1..<max(n, 1) {
                            let v = xp.baseAddress! + (r * l + k) * d
                            for j in 0..<d where v[j] > row[j] { row[j] = v[j]; argmax[r * d + j] = k }
                        }
                    }
                }
            }
        }
        var (h, hiddenCache) = hidden.forward(pooled)
        switch activation {
        case .none: break
        case .tanh: h.withUnsafeMutableBufferPointer { Kernels.tanh($0) }
        case .relu: h.withUnsafeMutableBufferPointer { Kernels.relu($0) }
        }
        let (dropped, dropoutCache) = dropout.forward(h, training: training, rng: &rng)
        let (logits, outputCache) = output.forward(dropped)
        return (logits, Cache(shape: x.shape, lengths: lengths, argmax: argmax, inputDropoutCache: inputDropoutCache,
                              hiddenCache: hiddenCache, activated: h, dropoutCache: dropoutCache, outputCache: outputCache))
    }

    /// dLogits [B, C] → dx [B, L, D]; accumulates the head's gradients.
    public func backward(_ dLogits: Tensor<T>, cache: Cache) -> Tensor<T> {
        var dh = dropout.backward(output.backward(dLogits, cache: cache.outputCache)!, cache: cache.dropoutCache)
        dh.withUnsafeMutableBufferPointer { g in
            cache.activated.withUnsafeBufferPointer { a in
                switch activation {
                case .none: break
                case .tanh: for i in g.indices { g[i] *= 1 - a[i] * a[i] }
                case .relu: for i in g.indices where a[i] <= 0 { g[i] = 0 }
                }
            }
        }
        let dPooled = hidden.backward(dh, cache: cache.hiddenCache)!
        let b = cache.shape[0], l = cache.shape[1], d = cache.shape[2]
        var dx = Tensor<T>(shape: cache.shape)
        dPooled.withUnsafeBufferPointer { gp in
            dx.withUnsafeMutableBufferPointer { out in
                for r in 0..<b {
                    let n = cache.lengths[r]
                    guard n > 0 else { continue }
                    let g = gp.baseAddress! + r * d
                    switch pooling {
                    case .mean, .sum:
                        let scale: T = pooling == .mean ? 1 / T(n) : 1
                        for k in 0..<n { let v = out.baseAddress! + (r * l + k) * d; for j in 0..<d { v[j] = g[j] * scale } }
                    case .max:
                        for j in 0..<d { out[(r * l + cache.argmax[r * d + j]) * d + j] += g[j] }
                    }
                }
            }
        }
        return inputDropout.backward(dx, cache: cache.inputDropoutCache)
    }
}

/// The Float head the registry hands out.
final class BagOfWordsPlugin: Head {
    let head: BagOfWordsHead<Float>
    init(_ head: BagOfWordsHead<Float>) { self.head = head }
    var parameters: [Parameter<Float>] { head.parameters }
    func forward(_ input: TokenVectors, training: Bool, rng: inout SeededRandom) -> HeadOutput {
        let (logits, cache) = head.forward(input.vectors, lengths: input.lengths, training: training, rng: &rng)
        return HeadOutput(logits: logits) { [head] dLogits in head.backward(dLogits, cache: cache) }
    }

    /// The options of `bow`, each declared once.
    typealias Pooling = BagOfWordsHead<Float>.Pooling
    typealias Activation = BagOfWordsHead<Float>.Activation
    static let pooling = PluginOption<Pooling>("pooling", default: .mean, help: "how the token vectors are pooled")
    static let hidden = PluginOption<Int>.positive("hidden", default: 64, help: "hidden size")
    static let activation = PluginOption<Activation>("activation", default: Activation.none, help: "activation after the first Linear")
    static let dropout = PluginOption<Double>.fraction("dropout", default: 0.5, help: "dropout rate before the last Linear")
    static let inputDropout = PluginOption<Double>.fraction("input-dropout", default: 0,
                                                      help: "dropout rate on the token vectors before pooling (AllenNLP's ELMo uses 0.5)")
}

/// Registers the `bow` head.
public func register(into registries: inout Registries) throws {
    typealias P = BagOfWordsPlugin
    try registries.heads.register(ComponentInfo(
        name: "bow", summary: "bag of words: pooled tokens → Linear → dropout → Linear (PaddleNLP's head)",
        options: [P.pooling.info, P.hidden.info, P.activation.info, P.dropout.info, P.inputDropout.info])
    ) { options in
        let (pooling, hidden, activation) = (try options.value(of: P.pooling), try options.value(of: P.hidden), try options.value(of: P.activation))
        let (dropout, inputDropout) = (try options.value(of: P.dropout), try options.value(of: P.inputDropout))
        return { context in
            var rng = SeededRandom(seed: context.seed ^ 0x4EAD)
            return BagOfWordsPlugin(BagOfWordsHead(inputDimension: context.inputDimension, hiddenSize: hidden,
                                                   classes: context.classes, pooling: pooling, activation: activation,
                                                   dropout: dropout, inputDropout: inputDropout, rng: &rng))
        }
    }
}
