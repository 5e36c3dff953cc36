import Framework

/// The two directions of the language model.
public enum Direction: String, CaseIterable, Sendable {
    case forward, backward
}

/// One value per direction: a plain pair, so reading a direction's value can never fail.
public struct Bidirectional<Value> {
    public var forward: Value
    public var backward: Value

    public init(forward: Value, backward: Value) {
        self.forward = forward
        self.backward = backward
    }

    /// Each direction's value from `make`, forward first.
    public init(_ make: (Direction) throws -> Value) rethrows {
        forward = try make(.forward)
        backward = try make(.backward)
    }

    public subscript(direction: Direction) -> Value {
        get { direction == .forward ? forward : backward }
        set { if direction == .forward { forward = newValue } else { backward = newValue } }
    }

    public func map<U>(_ transform: (Value) throws -> U) rethrows -> Bidirectional<U> {
        Bidirectional<U>(forward: try transform(forward), backward: try transform(backward))
    }

    /// Forward then backward.
    public var both: [Value] { [forward, backward] }
}

extension Bidirectional: Sendable where Value: Sendable {}
extension Bidirectional: Equatable where Value: Equatable {}

/// ELMo's bidirectional language model: a char-CNN token encoder shared by a forward and a backward
/// stack of LSTM layers (skip connections from layer 1 on), and one softmax shared by both directions.
public final class BidirectionalLM<T: Scalar>: HasParameters {
    public let options: BiLMOptions
    public let charCNN: CharCNN<T>
    /// layers[direction][l]
    public let layers: Bidirectional<[LSTMLayer<T>]>

    /// The arithmetic of the forward products: fp32 (the process's step-product backend, BLAS elsewhere), or bf16 for
    /// every product by a weight. `training` (mixed precision) keeps the char-CNN's convolutions in fp32: they multiply
    /// the character embeddings themselves, a trained table whose small updates vanish below bfloat16's resolution,
    /// and in bf16 they slowed learning (PretrainTests: loss 2.16 against fp32's 1.94 after 80 steps, where bf16
    /// everywhere else gives 1.93). Check ``ComputePrecision/requireAvailable(_:)`` first.
    public func setComputePrecision(_ precision: ComputePrecision, training: Bool = false) {
        for parameter in charCNN.parameters { parameter.packedPrecision = precision.packedProducts }
        for layer in layers.forward + layers.backward { layer.setComputePrecision(precision) }
        if training { for weight in charCNN.convolutionWeights { weight.packedPrecision = nil } }
    }
    public let softmax: SoftmaxOutput<T>

    public var tokenDim: Int { charCNN.outputDim }
    public var outputDim: Int { options.projectionDim }
    public var vocabularySize: Int { softmax.vocabularySize }

    public var parameters: [Parameter<T>] { encoderParameters + softmax.parameters }

    /// The parameters of the representation ELMo gives downstream (char-CNN and LSTMs): all but the softmax.
    public var encoderParameters: [Parameter<T>] {
        charCNN.parameters + layers.both.flatMap { $0.flatMap(\.parameters) }
    }

    /// A freshly initialised model (bilm-tf's initialisers; see docs/checkpoint-format.md for names).
    public init(options: BiLMOptions, vocabularySize: Int, sparseSoftmax: Bool = false, rng: inout SeededRandom) {
        self.options = options
        charCNN = CharCNN(embeddingDim: options.charEmbeddingDim,
                          filters: options.filters.map { (width: $0[0], count: $0[1]) },
                          highwayCount: options.highwayCount, outputDim: options.projectionDim, rng: &rng)
        layers = Bidirectional { direction in
            (0..<options.layerCount).map { l in
                LSTMLayer(name: "lstm.\(direction.rawValue).layer_\(l)", inputSize: options.projectionDim,
                          cellSize: options.cellSize,
                          projectionSize: options.hasLSTMProjection ? options.projectionDim : nil,
                          cellClip: options.cellClip, projectionClip: options.projectionClip, rng: &rng)
            }
        }
        softmax = SoftmaxOutput(vocabularySize: vocabularySize, inputSize: options.projectionDim,
                                rowSparse: sparseSoftmax, rng: &rng)
        parameters.assertUniqueParameterNames()
    }

    /// Zero states for every direction and layer.
    public func zeroStates(batch: Int) -> Bidirectional<[LSTMState<T>]> {
        layers.map { $0.map { LSTMState.zeros(batch: batch, cellSize: $0.cellSize, outputSize: $0.outputSize) } }
    }

    // MARK: - One direction's LSTM stack

    public struct StackCache {
        var inputDropouts: [Dropout<T>.Cache] = []
        var lstm: [LSTMLayer<T>.Cache] = []
        var outputDropout: Dropout<T>.Cache? = nil
        /// Each layer's output (after its skip connection), [T·B, P].
        public var layerOutputs: [Tensor<T>] = []
    }

    /// Runs `direction`'s layers over x [T·B, P] from `states` (updated to the final states).
    /// Returns the top output after the output dropout.
    @_specialize(exported: true, where T == Float)
    public func runStack(_ direction: Direction, input x: Tensor<T>, steps: Int, states: inout [LSTMState<T>],
                         resets: StateResets? = nil,
                         dropout: Dropout<T>, training: Bool, rng: inout SeededRandom) -> (top: Tensor<T>, cache: StackCache) {
        var cache = StackCache()
        var current = x
        for (l, layer) in layers[direction].enumerated() {
            let (dropped, dropCache) = dropout.forward(current, training: training, rng: &rng)
            var (out, lstmCache, final) = layer.forward(dropped, steps: steps, initial: states[l], resets: resets)
            states[l] = final
            if l >= 1 && options.skipConnections {
                out.withUnsafeMutableBufferPointer { o in dropped.withUnsafeBufferPointer { Kernels.add($0, into: o) } }
            }
            cache.inputDropouts.append(dropCache)
            cache.lstm.append(lstmCache)
            cache.layerOutputs.append(out)
            current = out
        }
        let (top, outCache) = dropout.forward(current, training: training, rng: &rng)
        cache.outputDropout = outCache
        return (top, cache)
    }

    /// dTop (and optionally gradients arriving at each layer's output, as a scalar mix sends them)
    /// → d(input); accumulates the LSTM gradients.
    @_specialize(exported: true, where T == Float)
    public func backwardStack(_ direction: Direction, dTop: Tensor<T>?, dLayerOutputs: [Tensor<T>?] = [],
                              cache: StackCache, dropout: Dropout<T>) -> Tensor<T> {
        let shape = cache.layerOutputs.last!.shape
        var dx = dTop.map { dropout.backward($0, cache: cache.outputDropout!) } ?? Tensor<T>(shape: shape)
        for (l, layer) in layers[direction].enumerated().reversed() {
            if l < dLayerOutputs.count, let injected = dLayerOutputs[l] {
                dx.withUnsafeMutableBufferPointer { d in injected.withUnsafeBufferPointer { Kernels.add($0, into: d) } }
            }
            var dIn = layer.backward(dx, cache: cache.lstm[l])
            if l >= 1 && options.skipConnections {
                dIn.withUnsafeMutableBufferPointer { d in dx.withUnsafeBufferPointer { Kernels.add($0, into: d) } }
            }
            dx = dropout.backward(dIn, cache: cache.inputDropouts[l])
        }
        return dx
    }

    // MARK: - Language-model loss

    public struct LossReport {
        public var forward: SoftmaxOutput<T>.Loss
        public var backward: SoftmaxOutput<T>.Loss
        /// 0.5·(forward mean + backward mean)
        public var mean: T { (forward.mean + backward.mean) / 2 }
    }

    public struct StepCache {
        var charCache: CharCNN<T>.Cache
        var stacks: Bidirectional<StackCache>
        /// nil once handed to the backward pass or released.
        var softmaxCaches: Bidirectional<SoftmaxOutput<T>.Cache?>
        var rows: Int
        public var tokenEmbeddings: Tensor<T>   // [2·T·B, P]: forward inputs then backward inputs
        public func stack(_ d: Direction) -> StackCache { stacks[d] }
        public var charCNN: CharCNN<T>.Cache { charCache }
    }

    /// The loss of one window. `states` carry across windows, except where `resets` zeroes them (in
    /// both directions); `samples` (when given) selects the sampled softmax with that many candidates
    /// per direction, else the full softmax. `dropoutStream` gives data-parallel ranks, which share `rng`,
    /// masks of their own (0: the single-process masks).
    @_specialize(exported: true, where T == Float)
    public func loss(_ batch: LMBatch, states: inout Bidirectional<[LSTMState<T>]>, dropoutRate: T, training: Bool,
                     samples: Int? = nil, resets: StateResets? = nil, rng: inout SeededRandom,
                     fixedSample: CandidateSample? = nil, dropoutStream: Int = 0) -> (LossReport, StepCache) {
        let tokens = batch.rows * batch.steps
        let (embeddings, charCache) = charCNN.forward(chars: batch.forwardChars + batch.backwardChars)
        let p = tokenDim
        let dropout = Dropout<T>(rate: dropoutRate)
        // Each direction draws its dropout masks from its own generator, so the result does not depend
        // on whether the stacks run side by side.
        var forwardRNG = rng.split(), backwardRNG = rng.split()
        if dropoutStream != 0 {
            forwardRNG = SeededRandom(seed: forwardRNG.next() &+ UInt64(dropoutStream))
            backwardRNG = SeededRandom(seed: backwardRNG.next() &+ UInt64(dropoutStream))
        }
        var forwardStates = states.forward, backwardStates = states.backward
        let forwardInput = Tensor(shape: [tokens, p], scalars: Array(embeddings.scalars[0..<(tokens * p)]))
        let backwardInput = Tensor(shape: [tokens, p], scalars: Array(embeddings.scalars[(tokens * p)..<(2 * tokens * p)]))
        var forwardRun: (top: Tensor<T>, cache: StackCache)? = nil, backwardRun: (top: Tensor<T>, cache: StackCache)? = nil
        Parallel.both({
            forwardRun = self.runStack(.forward, input: forwardInput, steps: batch.steps, states: &forwardStates,
                                       resets: resets, dropout: dropout, training: training, rng: &forwardRNG)
        }, {
            backwardRun = self.runStack(.backward, input: backwardInput, steps: batch.steps, states: &backwardStates,
                                        resets: resets, dropout: dropout, training: training, rng: &backwardRNG)
        })
        states = Bidirectional(forward: forwardStates, backward: backwardStates)
        let stacks = Bidirectional(forward: forwardRun!.cache, backward: backwardRun!.cache)
        let tops = Bidirectional(forward: forwardRun!.top, backward: backwardRun!.top)
        var softmaxCaches = Bidirectional<SoftmaxOutput<T>.Cache?>(forward: nil, backward: nil)
        var losses = Bidirectional<SoftmaxOutput<T>.Loss?>(forward: nil, backward: nil)
        // The softmax GEMMs are large enough to use every thread; the directions take turns.
        for direction in Direction.allCases {
            let top = tops[direction]
            let targets = direction == .forward ? batch.forwardTargets : batch.backwardTargets
            let mask: [Bool]? = batch.mask.allSatisfy { $0 } ? nil : batch.mask
            let result: (SoftmaxOutput<T>.Loss, SoftmaxOutput<T>.Cache)
            if let sample = fixedSample {
                result = softmax.sampledLoss(top, targets: targets, mask: mask, sample: sample)
            } else if let samples, samples < vocabularySize {
                let sample = CandidateSample.draw(count: samples, vocabularySize: vocabularySize, rng: &rng)
                result = softmax.sampledLoss(top, targets: targets, mask: mask, sample: sample)
            } else {
                result = softmax.fullLoss(top, targets: targets, mask: mask)
            }
            losses[direction] = result.0
            softmaxCaches[direction] = result.1
        }
        return (LossReport(forward: losses.forward!, backward: losses.backward!),
                StepCache(charCache: charCache, stacks: stacks, softmaxCaches: softmaxCaches, rows: tokens,
                          tokenEmbeddings: embeddings))
    }

    /// Hands the softmax logits buffers of a step that will not be back-propagated (evaluation) back to
    /// the output layer, so the next step reuses them instead of mapping fresh pages.
    public func release(_ cache: consuming StepCache) {
        for direction in Direction.allCases {
            if let softmaxCache = cache.softmaxCaches[direction] {
                cache.softmaxCaches[direction] = nil
                softmax.release(softmaxCache)
            }
        }
    }

    /// Gradients of dLoss·0.5·(forward + backward mean loss) into every parameter.
    @_specialize(exported: true, where T == Float)
    public func backward(_ cache: consuming StepCache, dLoss: T, dropoutRate: T) {
        let dropout = Dropout<T>(rate: dropoutRate)
        let tokens = cache.rows, p = tokenDim
        var dEmbeddings = Tensor<T>(shape: [2 * tokens, p])
        // Taken out of the cache so that the softmax backward owns its [N, V] buffer and reuses it
        // in place instead of copying it.
        var softmaxCaches = cache.softmaxCaches
        cache.softmaxCaches = Bidirectional(forward: nil, backward: nil)
        // Both directions accumulate into the shared softmax gradients: one after the other.
        var dTops = Bidirectional<Tensor<T>?>(forward: nil, backward: nil)
        for direction in Direction.allCases {
            let softmaxCache = softmaxCaches[direction]!
            softmaxCaches[direction] = nil
            dTops[direction] = softmax.backward(cache: softmaxCache, dLoss: dLoss / 2)
        }
        // The stacks own disjoint parameters: side by side.
        let forwardTop = dTops.forward!, backwardTop = dTops.backward!
        let forwardCache = cache.stacks.forward, backwardCache = cache.stacks.backward
        var dForward: Tensor<T>? = nil, dBackward: Tensor<T>? = nil
        Parallel.both({
            dForward = self.backwardStack(.forward, dTop: forwardTop, cache: forwardCache, dropout: dropout)
        }, {
            dBackward = self.backwardStack(.backward, dTop: backwardTop, cache: backwardCache, dropout: dropout)
        })
        dEmbeddings.scalars.replaceSubrange(0..<(tokens * p), with: dForward!.scalars)
        dEmbeddings.scalars.replaceSubrange((tokens * p)..<(2 * tokens * p), with: dBackward!.scalars)
        if charCNN.parameters.contains(where: \.isTrainable) {
            charCNN.backward(dEmbeddings, cache: cache.charCache)
        }
    }
}
