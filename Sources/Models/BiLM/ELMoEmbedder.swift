import Foundation
import Framework

/// The pretrained BiLM as a contextual word encoder (ELMo representations).
///
/// For a sentence of n tokens, ``encode(_:)`` returns [L + 1, n, 2P]: layer 0 the char-CNN token vector
/// duplicated for both directions, layer k ≥ 1 the k-th LSTM layer's [forward; backward] outputs, with
/// `<S>`/`</S>` added internally and removed from the result. Stateless by default: every sentence starts
/// from zero state. With ``stateful``, each of the ``batchSize`` rows carries its LSTM state from one
/// call to the next (AllenNLP's ElmoEmbedder / bilm-tf), taken at each row's last real token.
public final class ELMoEmbedder<T: Scalar> {
    public let model: BidirectionalLM<T>
    public let vocabulary: Vocabulary
    public let stateful: Bool
    public let batchSize: Int
    /// Steps per LSTM window when only the representations are wanted (``encode(_:)``, ``infer(_:states:)``):
    /// the LSTMs' working memory is then that of window × rows tokens, whatever the sentences' length.
    public var windowSteps = 32
    private var carried: Bidirectional<[LSTMState<T>]>

    /// Stateful: the state each of the ``batchSize`` rows carries into the next call (every direction and layer);
    /// set it to continue a run from saved state. Its shapes are fixed by the model and ``batchSize``.
    public var carriedStates: Bidirectional<[LSTMState<T>]> {
        get { carried }
        set {
            for direction in Direction.allCases {
                precondition(newValue[direction].count == carried[direction].count
                             && zip(newValue[direction], carried[direction]).allSatisfy { $0.cell.shape == $1.cell.shape && $0.hidden.shape == $1.hidden.shape },
                             "carried states of another model or batch size")
            }
            carried = newValue
        }
    }

    public var layerCount: Int { model.options.layerCount + 1 }
    public var dimension: Int { 2 * model.outputDim }

    public init(model: BidirectionalLM<T>, vocabulary: Vocabulary, stateful: Bool = false, batchSize: Int = 64) {
        self.model = model
        self.vocabulary = vocabulary
        self.stateful = stateful
        self.batchSize = batchSize
        carried = model.zeroStates(batch: batchSize)
    }

    /// Per sentence a [L + 1, n, 2P] tensor, in input order, batches of ``batchSize`` sentences.
    ///
    /// Stateless, the sentences are batched by length, so a batch runs few padded steps. The vectors do not depend
    /// on the batch mathematically (every row starts from zero state and padding comes after its sentence); in
    /// float32 they do bit for bit only with ``BLAS/batchInvariant`` on (as `elmo embed` and `elmo serve` run):
    /// otherwise OpenBLAS picks other kernels for other matrix shapes and the last bits can move.
    /// Stateful, each batch is the next ``batchSize`` sentences in input order, row r continuing row r.
    @_specialize(exported: true, where T == Float)
    public func encode(_ sentences: [[String]]) -> [Tensor<T>] {
        let order = stateful ? Array(sentences.indices)
            : sentences.indices.sorted { (sentences[$0].count, $0) < (sentences[$1].count, $1) }
        var result = [Tensor<T>?](repeating: nil, count: sentences.count)
        for start in stride(from: 0, to: order.count, by: batchSize) {
            let batch = Array(order[start..<min(start + batchSize, order.count)])
            for (index, encoded) in zip(batch, encodeBatch(batch.map { sentences[$0] })) { result[index] = encoded }
        }
        return result.map { $0! }
    }

    /// One sentence, stateless, in pieces of at most `chunkSteps` positions (`<S>` and `</S>` included): each
    /// direction carries its LSTM state from one piece to the next, the backward LM walking the pieces from the
    /// end. The same [L + 1, n, 2P] as ``encode(_:)`` up to float rounding, with memory bounded by the piece instead
    /// of the sentence: what lets a 2,000-token line through without its whole-sentence caches.
    @_specialize(exported: true, where T == Float)
    public func encodeChunked(_ words: [String], chunkSteps: Int) -> Tensor<T> {
        precondition(chunkSteps > 0)
        let n = words.count, positions = n + 2, p = model.outputDim, width = CharacterIDs.tokenLength
        let chars = EncodedSentence(words: words, vocabulary: vocabulary).chars
        var tokens = [T](repeating: 0, count: positions * p)
        for start in stride(from: 0, to: positions, by: chunkSteps) {
            let end = min(start + chunkSteps, positions)
            let (vectors, _) = model.charCNN.forward(chars: Array(chars[(start * width)..<(end * width)]))
            tokens.replaceSubrange((start * p)..<(end * p), with: vectors.scalars)
        }
        // Per direction: layer l's output at each real position 1…n, [layers, n, P].
        func runDirection(_ direction: Direction) -> [T] {
            var states = model.zeroStates(batch: 1)[direction]
            var rng = SeededRandom(seed: 0)   // unused: no dropout
            let layers = model.options.layerCount
            var out = [T](repeating: 0, count: layers * n * p)
            for start in stride(from: 0, to: positions, by: chunkSteps) {
                let steps = min(chunkSteps, positions - start)
                // With one row, a slot is a step: the forward LM's step s reads position s, the backward LM's the
                // position the layout maps to step s (the map is its own inverse).
                let layout = TimeMajorLayout(rows: 1, steps: positions)
                let position = { (s: Int) in direction == .forward ? s : layout.backwardSlot(row: 0, position: s, length: n) }
                var x = Tensor<T>(shape: [steps, p])
                for k in 0..<steps {
                    let from = position(start + k) * p
                    x.scalars.replaceSubrange((k * p)..<((k + 1) * p), with: tokens[from..<(from + p)])
                }
                let cache = model.runStack(direction, input: x, steps: steps, states: &states,
                                           dropout: Dropout(rate: 0), training: false, rng: &rng).cache
                for (l, output) in cache.layerOutputs.enumerated() {
                    for k in 0..<steps {
                        let j = position(start + k)
                        guard j >= 1, j <= n else { continue }   // <S>, </S>: not part of the result
                        let row = (l * n + j - 1) * p
                        out.replaceSubrange(row..<(row + p), with: output.scalars[(k * p)..<((k + 1) * p)])
                    }
                }
            }
            return out
        }
        var forward: [T] = [], backward: [T] = []
        Parallel.both({ forward = runDirection(.forward) }, { backward = runDirection(.backward) })
        var result = Tensor<T>(shape: [layerCount, n, 2 * p])
        for j in 0..<n {
            let token = (j + 1) * p
            for c in 0..<p {
                result.scalars[j * 2 * p + c] = tokens[token + c]
                result.scalars[j * 2 * p + p + c] = tokens[token + c]
            }
            for l in 0..<(layerCount - 1) {
                let dst = ((l + 1) * n + j) * 2 * p, src = (l * n + j) * p
                for c in 0..<p {
                    result.scalars[dst + c] = forward[src + c]
                    result.scalars[dst + p + c] = backward[src + c]
                }
            }
        }
        return result
    }

    /// Where a sentence's positions sit in a pass's time-major tensors ([steps·rows, …], step-major): position
    /// j of row r's `<S> w₁ … wₙ </S>` is step j of the forward LM and step n + 1 − j of the backward LM.
    /// The one owner of that layout: ``run(_:states:)`` writes through it, ``representation(_:row:layer:outputDim:keepBoundaries:)``
    /// gathers through it and ``BatchPass/scatter(_:outputDim:)`` sends the gradient back through it.
    public struct TimeMajorLayout: Sendable {
        public let rows: Int
        public let steps: Int
        public func forwardSlot(row r: Int, position j: Int) -> Int { j * rows + r }
        public func backwardSlot(row r: Int, position j: Int, length n: Int) -> Int { (n + 1 - j) * rows + r }
        public var tokens: Int { steps * rows }
    }

    /// Everything ``encode`` computes for one batch, with the caches a trainable encoder needs.
    public struct BatchPass {
        public var rows: Int
        public var steps: Int
        public var layout: TimeMajorLayout { TimeMajorLayout(rows: rows, steps: steps) }
        public var lengths: [Int]
        public var charCache: CharCNN<T>.Cache
        public var tokenEmbeddings: Tensor<T>               // [2·T·B, P] forward inputs then backward inputs
        public var stacks: Bidirectional<BidirectionalLM<T>.StackCache>
        /// The representations alone (shares storage).
        public var representations: Representations {
            Representations(rows: rows, steps: steps, lengths: lengths, tokenEmbeddings: tokenEmbeddings,
                            layerOutputs: stacks.map { $0.layerOutputs })
        }
    }

    /// What ELMo's layers hold for a batch: the token embeddings and each LSTM layer's outputs, time-major
    /// through ``layout``. A ``BatchPass`` has them together with the caches training needs; ``infer(_:states:)``
    /// makes them alone.
    public struct Representations {
        public var rows: Int
        public var steps: Int
        public var layout: TimeMajorLayout { TimeMajorLayout(rows: rows, steps: steps) }
        public var lengths: [Int]
        public var tokenEmbeddings: Tensor<T>               // [2·T·B, P] forward inputs then backward inputs
        public var layerOutputs: Bidirectional<[Tensor<T>]> // per LSTM layer [T·B, P]
    }

    /// The char-CNN's token vectors of a batch laid out for both LMs: [2·T·B, P], the forward LM's inputs then the
    /// backward LM's, padding slots holding the padding token's vector.
    private func embedTokens(_ sentences: [[String]], layout: TimeMajorLayout) -> (embeddings: Tensor<T>, cache: CharCNN<T>.Cache) {
        let width = CharacterIDs.tokenLength
        var chars = [Int32](repeating: 0, count: 2 * layout.tokens * width)
        for (r, words) in sentences.enumerated() {
            let encoded = EncodedSentence(words: words, vocabulary: vocabulary)
            for k in 0..<(words.count + 2) {
                // The backward LM's inputs follow the forward LM's.
                let token = encoded.chars[(k * width)..<((k + 1) * width)]
                let forwardSlot = layout.forwardSlot(row: r, position: k)
                let backwardSlot = layout.tokens + layout.backwardSlot(row: r, position: k, length: words.count)
                chars.replaceSubrange((forwardSlot * width)..<((forwardSlot + 1) * width), with: token)
                chars.replaceSubrange((backwardSlot * width)..<((backwardSlot + 1) * width), with: token)
            }
        }
        // The char-CNN runs once per distinct token: both directions' copies and the padding slots cost one each.
        let (embeddings, cache) = model.charCNN.forward(chars: chars)
        return (embeddings, cache)
    }

    /// Runs the BiLM over a batch of sentences (rows ≤ batchSize), time-major, padded with zero tokens, keeping
    /// every cache a trainable encoder's backward pass needs.
    @_specialize(exported: true, where T == Float)
    public func run(_ sentences: [[String]], states: inout Bidirectional<[LSTMState<T>]>) -> BatchPass {
        let rows = states.forward[0].cell.rows
        precondition(sentences.count <= rows)
        let lengths = sentences.map(\.count)
        let layout = TimeMajorLayout(rows: rows, steps: (lengths.max() ?? 0) + 2)
        let (embeddings, charCache) = embedTokens(sentences, layout: layout)
        let p = model.tokenDim, tokens = layout.tokens
        func runDirection(_ direction: Direction) -> BidirectionalLM<T>.StackCache {
            let offset = direction == .forward ? 0 : tokens * p
            let x = Tensor(shape: [tokens, p], scalars: Array(embeddings.scalars[offset..<(offset + tokens * p)]))
            var layerStates = states[direction]
            var rng = SeededRandom(seed: 0)   // unused: no dropout
            return model.runStack(direction, input: x, steps: layout.steps, states: &layerStates,
                                  dropout: Dropout(rate: 0), training: false, rng: &rng).cache
        }
        var forwardStack: BidirectionalLM<T>.StackCache? = nil, backwardStack: BidirectionalLM<T>.StackCache? = nil
        Parallel.both({ forwardStack = runDirection(.forward) }, { backwardStack = runDirection(.backward) })
        let stacks = Bidirectional(forward: forwardStack!, backward: backwardStack!)
        for direction in Direction.allCases {
            for (l, cache) in stacks[direction].lstm.enumerated() {
                Self.keepLastStates(cache, firstStep: 0, lengths: lengths, into: &states[direction][l])
            }
        }
        return BatchPass(rows: rows, steps: layout.steps, lengths: lengths, charCache: charCache,
                         tokenEmbeddings: embeddings, stacks: stacks)
    }

    /// The representations of a batch without training's caches: the LSTMs run ``windowSteps`` steps at a time,
    /// each window starting from the states the last one ended with, so memory is bounded by the window instead
    /// of the longest sentence. The same numbers as ``run(_:states:)`` (bit for bit with ``BLAS/batchInvariant``:
    /// only the input projections' row count differs), and the same states kept.
    @_specialize(exported: true, where T == Float)
    public func infer(_ sentences: [[String]], states: inout Bidirectional<[LSTMState<T>]>) -> Representations {
        let rows = states.forward[0].cell.rows
        precondition(sentences.count <= rows)
        let lengths = sentences.map(\.count)
        let layout = TimeMajorLayout(rows: rows, steps: (lengths.max() ?? 0) + 2)
        let embeddings = embedTokens(sentences, layout: layout).embeddings
        let p = model.tokenDim, tokens = layout.tokens, window = max(windowSteps, 1)
        func runDirection(_ direction: Direction, kept: inout [LSTMState<T>]) -> [Tensor<T>] {
            let offset = direction == .forward ? 0 : tokens * p
            var layerStates = kept
            var outputs = (0..<model.options.layerCount).map { _ in Tensor<T>(shape: [tokens, p]) }
            var rng = SeededRandom(seed: 0)   // unused: no dropout
            for start in stride(from: 0, to: layout.steps, by: window) {
                let steps = min(window, layout.steps - start), slice = (start * rows * p)..<((start + steps) * rows * p)
                let x = Tensor(shape: [steps * rows, p], scalars: Array(embeddings.scalars[(offset + slice.lowerBound)..<(offset + slice.upperBound)]))
                let cache = model.runStack(direction, input: x, steps: steps, states: &layerStates,
                                           dropout: Dropout(rate: 0), training: false, rng: &rng).cache
                for l in outputs.indices {
                    outputs[l].scalars.replaceSubrange(slice, with: cache.layerOutputs[l].scalars)
                    Self.keepLastStates(cache.lstm[l], firstStep: start, lengths: lengths, into: &kept[l])
                }
            }
            return outputs
        }
        // Each direction on its own copy of its states (the two run at once), put back after.
        var forward: [Tensor<T>] = [], backward: [Tensor<T>] = []
        var forwardStates = states.forward, backwardStates = states.backward
        Parallel.both({ forward = runDirection(.forward, kept: &forwardStates) },
                      { backward = runDirection(.backward, kept: &backwardStates) })
        states = Bidirectional(forward: forwardStates, backward: backwardStates)
        return Representations(rows: rows, steps: layout.steps, lengths: lengths, tokenEmbeddings: embeddings,
                               layerOutputs: Bidirectional(forward: forward, backward: backward))
    }

    /// Copies into `state` each row's state after its own last real step (`</S>`, step n + 1) when that step lies
    /// in the window `cache` covers (which starts at `firstStep`); rows without a sentence keep theirs.
    private static func keepLastStates(_ cache: LSTMLayer<T>.Cache, firstStep: Int, lengths: [Int], into state: inout LSTMState<T>) {
        for (r, n) in lengths.enumerated() {
            let step = n + 1 - firstStep
            guard step >= 0, step < cache.steps else { continue }
            let (cell, hidden) = cache.state(afterStep: step, row: r)
            let c = cell.count, h = hidden.count
            state.cell.scalars.replaceSubrange((r * c)..<((r + 1) * c), with: cell)
            state.hidden.scalars.replaceSubrange((r * h)..<((r + 1) * h), with: hidden)
        }
    }

    /// Layer `layer` of sentence `r`'s representation from a pass: [n, 2P], or [n + 2, 2P] with the
    /// `<S>`/`</S>` positions kept.
    public static func representation(_ pass: Representations, row r: Int, layer: Int, outputDim p: Int,
                                      keepBoundaries: Bool = false) -> [T] {
        let n = pass.lengths[r], layout = pass.layout
        let positions = keepBoundaries ? n + 2 : n, first = keepBoundaries ? 0 : 1
        var out = [T](repeating: 0, count: positions * 2 * p)
        for k in 0..<positions {
            let j = k + first
            let forwardSlot = layout.forwardSlot(row: r, position: j), backwardSlot = layout.backwardSlot(row: r, position: j, length: n)
            let dst = k * 2 * p
            if layer == 0 {
                for j in 0..<p {
                    out[dst + j] = pass.tokenEmbeddings.scalars[forwardSlot * p + j]
                    out[dst + p + j] = out[dst + j]
                }
            } else {
                let f = pass.layerOutputs.forward[layer - 1], b = pass.layerOutputs.backward[layer - 1]
                for j in 0..<p {
                    out[dst + j] = f.scalars[forwardSlot * p + j]
                    out[dst + p + j] = b.scalars[backwardSlot * p + j]
                }
            }
        }
        return out
    }

    private func encodeBatch(_ sentences: [[String]]) -> [Tensor<T>] {
        var states = stateful ? carried : model.zeroStates(batch: sentences.count)
        let pass = infer(sentences, states: &states)
        if stateful { carried = states }
        let p = model.outputDim
        return sentences.indices.map { r in
            let n = pass.lengths[r]
            var scalars: [T] = []
            scalars.reserveCapacity(layerCount * n * 2 * p)
            for layer in 0..<layerCount { scalars += Self.representation(pass, row: r, layer: layer, outputDim: p) }
            return Tensor(shape: [layerCount, n, 2 * p], scalars: scalars)
        }
    }
}

extension ELMoEmbedder where T == Float {
    /// Loads `DIR/STEP` (a checkpoint written by `elmo pretrain` or `elmo import-allennlp`). `precision: .bf16` runs
    /// every product by a weight in bfloat16 — the LSTMs' per-step products and input projections, the char-CNN, the
    /// highways and the projection — accumulating in float32 (refused on CPUs without AVX512-BF16 or AMX).
    public convenience init(checkpoint prefix: String, stateful: Bool = false, batchSize: Int = 64,
                            precision: ComputePrecision = .fp32) throws {
        try precision.requireAvailable("precision")
        let (model, vocabulary) = try BiLMCheckpoint.loadModel(prefix)
        model.setComputePrecision(precision)
        self.init(model: model, vocabulary: vocabulary, stateful: stateful, batchSize: batchSize)
    }
}

extension ELMoEmbedder.BatchPass {
    /// The gradient of the representations (every layer, boundaries kept, as
    /// ``ELMoEmbedder/representation(_:row:layer:outputDim:keepBoundaries:)`` gathers them) sent back through the
    /// layout: `dLayers[r][layer]` is row r's [n + 2, 2P] gradient of that layer. Returns the gradient of the token
    /// embeddings [2·T·B, P] (layer 0 reads the forward copy for both halves) and of each LSTM layer's outputs.
    public func scatter(_ dLayers: [[Tensor<T>]], outputDim p: Int) -> (dEmbeddings: Tensor<T>, dLayerOutputs: Bidirectional<[Tensor<T>]>) {
        let layout = self.layout, layerCount = dLayers.first?.count ?? 1, d = 2 * p
        var dEmbeddings = Tensor<T>(shape: [2 * layout.tokens, p])
        var dOutputs = Bidirectional { _ in (1..<layerCount).map { _ in Tensor<T>(shape: [layout.tokens, p]) } }
        for (r, rowGradients) in dLayers.enumerated() {
            let n = lengths[r]
            for j in 0..<(n + 2) {
                let forwardSlot = layout.forwardSlot(row: r, position: j), backwardSlot = layout.backwardSlot(row: r, position: j, length: n)
                for (layer, gradient) in rowGradients.enumerated() {
                    let g = gradient.scalars, base = j * d
                    if layer == 0 {
                        for c in 0..<p { dEmbeddings.scalars[forwardSlot * p + c] += g[base + c] + g[base + p + c] }
                    } else {
                        for c in 0..<p {
                            dOutputs.forward[layer - 1].scalars[forwardSlot * p + c] += g[base + c]
                            dOutputs.backward[layer - 1].scalars[backwardSlot * p + c] += g[base + p + c]
                        }
                    }
                }
            }
        }
        return (dEmbeddings, dOutputs)
    }
}
