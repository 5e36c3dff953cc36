import Framework

/// The character encoder of ELMo: char embedding → per filter bank a 1-D convolution over character
/// positions → max over positions → relu → concatenation → highway layers → projection.
///
/// Convolution is a GEMM over the windows of all tokens at once (im2col: the window of width w at
/// position p is the w·E contiguous floats of the embedded token starting at p). The max-pool keeps the
/// argmax position per (token, filter), so backward touches only those windows.
public final class CharCNN<T: Scalar>: HasParameters {
    public let embedding: Embedding<T>
    public let filters: [(width: Int, count: Int)]
    public let convolutionWeights: [Parameter<T>]   // [w·E, n]
    public let convolutionBiases: [Parameter<T>]    // [n]
    public let highways: [Highway<T>]
    public let projection: Linear<T>?

    public var embeddingDim: Int { embedding.dimension }
    public var filterCount: Int { filters.reduce(0) { $0 + $1.count } }
    public var outputDim: Int { projection?.outputSize ?? filterCount }

    public var parameters: [Parameter<T>] {
        embedding.parameters + zip(convolutionWeights, convolutionBiases).flatMap { [$0, $1] }
            + highways.flatMap(\.parameters) + (projection?.parameters ?? [])
    }

    public init(embeddingDim: Int, filters: [(width: Int, count: Int)], highwayCount: Int, outputDim: Int,
                rng: inout SeededRandom) {
        precondition(filters.allSatisfy { $0.width >= 1 && $0.width <= CharacterIDs.tokenLength && $0.count > 0 })
        let table: Tensor<T> = {
            var t: Tensor<T> = Initializer.uniform(-1, 1).make([CharacterIDs.vocabularySize, embeddingDim], rng: &rng)
            for j in 0..<embeddingDim { t.scalars[j] = 0 }   // row 0: the padding token
            return t
        }()
        embedding = Embedding(table: Parameter(name: "char_cnn.char_embed", value: table, rowSparse: true),
                              paddingIndex: 0)
        self.filters = filters
        var weights: [Parameter<T>] = [], biases: [Parameter<T>] = []
        for (k, filter) in filters.enumerated() {
            weights.append(Parameter(name: "char_cnn.conv_\(k).weight",
                                     value: Initializer.uniform(-0.05, 0.05).make([filter.width * embeddingDim, filter.count], rng: &rng)))
            biases.append(Parameter(name: "char_cnn.conv_\(k).bias", value: Tensor(shape: [filter.count])))
        }
        convolutionWeights = weights
        convolutionBiases = biases
        let d = filters.reduce(0) { $0 + $1.count }
        highways = (0..<highwayCount).map { Highway(name: "char_cnn.highway_\($0)", dimension: d, rng: &rng) }
        projection = outputDim == d ? nil
            : Linear(name: "char_cnn.projection", inputSize: d, outputSize: outputDim,
                     weightInit: .normal(std: 1 / Double(d).squareRoot()), rng: &rng)
    }

    /// Everything below `slots` is per distinct token (U of them).
    public struct Cache {
        /// Per input token, its distinct token: the output is computed for those and gathered.
        var slots: [Int32]
        var chars: [Int32]            // [U·50]
        var embedded: Tensor<T>       // [U, 50, E]
        var argmax: [[Int32]]         // per bank [U, n]: the window position of the max
        var pooled: Tensor<T>         // [U, D] after relu
        var highwayCaches: [Highway<T>.Cache]
        var projectionCache: Linear<T>.Cache?
        /// The concatenated, pooled features (relu applied), before the highways: [N, D].
        public var convolutionOutput: Tensor<T> { pooled.gatheringRows(slots) }
        /// Distinct tokens among the input (U).
        public var distinctTokenCount: Int { pooled.rows }
    }

    /// Tokens per im2col block: bounds the window matrix (≈ tokens·50·w·E floats) whatever N is.
    static var blockTokens: Int { 64 }

    /// chars [N·50] → token vectors [N, outputDim].
    ///
    /// A batch repeats tokens (both LM directions read the same words, text repeats words, padding slots
    /// are one token): the network runs once per distinct row of characters and the output is gathered.
    @_specialize(exported: true, where T == Float)
    public func forward(chars allChars: [Int32]) -> (output: Tensor<T>, cache: Cache) {
        let length = CharacterIDs.tokenLength, e = embeddingDim
        precondition(allChars.count % length == 0, "chars must be N·\(length)")
        let (chars, slots) = Self.distinctRows(allChars)
        let n = chars.count / length
        let embedded = embedding.forward(chars).reshaped([n, length, e])
        let d = filterCount
        // A token's characters end in a run of one repeated id (the padding after the end-of-word marker):
        // every window that starts inside that run reads only that id, so they all score alike and the first
        // of them stands for all in the max. A word of 5 letters has 8 distinct windows of width 7, not 44.
        let runStarts = Self.trailingRunStarts(chars)
        var pooled = Tensor<T>(shape: [n, d])
        var argmax: [[Int32]] = []
        var column = 0
        for (k, filter) in filters.enumerated() {
            let positions = length - filter.width + 1, windowSize = filter.width * e
            var bankArgmax = [Int32](repeating: 0, count: n * filter.count)
            let block = Self.blockTokens
            var windows = [T](repeating: 0, count: min(block, n) * positions * windowSize)
            var scores = [T](repeating: 0, count: min(block, n) * positions * filter.count)
            // Per token of a block: its windows (those that differ) and where its rows start in the scores.
            var windowCounts = [Int](repeating: 0, count: block), firstRows = [Int](repeating: 0, count: block)
            for start in stride(from: 0, to: n, by: block) {
                let tokens = min(block, n - start)
                var rows = 0
                for t in 0..<tokens {
                    windowCounts[t] = min(runStarts[start + t] + 1, positions)
                    firstRows[t] = rows
                    rows += windowCounts[t]
                }
                embedded.withUnsafeBufferPointer { emb in
                    windows.withUnsafeMutableBufferPointer { w in
                        for t in 0..<tokens {
                            let tokenBase = emb.baseAddress! + (start + t) * length * e
                            for p in 0..<windowCounts[t] {
                                (w.baseAddress! + (firstRows[t] + p) * windowSize).update(from: tokenBase + p * e, count: windowSize)
                            }
                        }
                    }
                }
                windows.withUnsafeBufferPointer { w in
                    scores.withUnsafeMutableBufferPointer { s in
                        convolutionWeights[k].multiply(w.baseAddress!, rows: rows, depth: windowSize, into: s.baseAddress!)
                    }
                }
                scores.withUnsafeBufferPointer { s in
                    convolutionBiases[k].value.withUnsafeBufferPointer { bias in
                        pooled.withUnsafeMutableBufferPointer { out in
                            bankArgmax.withUnsafeMutableBufferPointer { am in
                                for t in 0..<tokens {
                                    let outRow = out.baseAddress! + (start + t) * d + column
                                    let amRow = am.baseAddress! + (start + t) * filter.count
                                    Kernels.maxOverRows(s.baseAddress! + firstRows[t] * filter.count, rows: windowCounts[t],
                                                        columns: filter.count, maximum: outRow, argmax: amRow)
                                    for f in 0..<filter.count { outRow[f] = max(outRow[f] + bias[f], 0) }
                                }
                            }
                        }
                    }
                }
            }
            argmax.append(bankArgmax)
            column += filter.count
        }
        var x = pooled
        var highwayCaches: [Highway<T>.Cache] = []
        for highway in highways {
            let (y, cache) = highway.forward(x)
            highwayCaches.append(cache)
            x = y
        }
        var projectionCache: Linear<T>.Cache? = nil
        if let projection {
            let (y, cache) = projection.forward(x)
            projectionCache = cache
            x = y
        }
        return (x.gatheringRows(slots), Cache(slots: slots, chars: chars, embedded: embedded, argmax: argmax, pooled: pooled,
                                              highwayCaches: highwayCaches, projectionCache: projectionCache))
    }

    /// The distinct rows of `chars` [N·50] in order of first appearance, [U·50], and per row its index among them.
    static func distinctRows(_ chars: [Int32]) -> (chars: [Int32], slots: [Int32]) {
        let length = CharacterIDs.tokenLength, count = chars.count / length
        var index: [ArraySlice<Int32>: Int32] = [:]
        index.reserveCapacity(count)
        var distinct: [Int32] = []
        var slots = [Int32](repeating: 0, count: count)
        for t in 0..<count {
            let row = chars[(t * length)..<((t + 1) * length)]
            if let known = index[row] {
                slots[t] = known
            } else {
                slots[t] = Int32(index.count)
                index[row] = slots[t]
                distinct += row
            }
        }
        return (distinct, slots)
    }

    /// Per token of `chars` [N·50], the position where its final run of one repeated id begins (0 when
    /// all 50 are the same).
    static func trailingRunStarts(_ chars: [Int32]) -> [Int] {
        let length = CharacterIDs.tokenLength
        return (0..<(chars.count / length)).map { t in
            let base = t * length, last = chars[base + length - 1]
            var start = length - 1
            while start > 0 && chars[base + start - 1] == last { start -= 1 }
            return start
        }
    }

    /// The highway stack's output (the projection's input) per input token, for tests and golden comparisons.
    public func highwayOutput(_ cache: Cache) -> Tensor<T> {
        (cache.projectionCache?.input ?? (cache.highwayCaches.isEmpty ? cache.pooled : cache.highwayCaches.last!.x))
            .gatheringRows(cache.slots)
    }

    /// dOutput [N, outputDim] → accumulates every parameter's gradient.
    @_specialize(exported: true, where T == Float)
    public func backward(_ dOutput: Tensor<T>, cache: Cache) {
        // Each input token's gradient goes to the distinct token computed for it.
        var dx = Tensor<T>(shape: [cache.distinctTokenCount, dOutput.columns])
        dx.addRows(of: dOutput, at: cache.slots)
        if let projection, let projectionCache = cache.projectionCache {
            dx = projection.backward(dx, cache: projectionCache)!
        }
        for (highway, highwayCache) in zip(highways, cache.highwayCaches).reversed() {
            dx = highway.backward(dx, cache: highwayCache)
        }
        // Through relu and max-pool: only the argmax window of each (token, filter) gets gradient.
        let length = CharacterIDs.tokenLength, e = embeddingDim, d = filterCount
        let n = cache.chars.count / length
        var dEmbedded = Tensor<T>(shape: [n, length, e])
        var column = 0
        for (k, filter) in filters.enumerated() {
            let windowSize = filter.width * e
            // Transposed copies make each filter's weights and gradient one contiguous row.
            var weightT = [T](repeating: 0, count: filter.count * windowSize)
            var gradT = [T](repeating: 0, count: filter.count * windowSize)
            convolutionWeights[k].value.withUnsafeBufferPointer { w in
                for i in 0..<windowSize { for f in 0..<filter.count { weightT[f * windowSize + i] = w[i * filter.count + f] } }
            }
            let trainable = convolutionWeights[k].isTrainable
            dx.withUnsafeBufferPointer { g in
                cache.pooled.withUnsafeBufferPointer { pooled in
                    cache.embedded.withUnsafeBufferPointer { emb in
                        dEmbedded.withUnsafeMutableBufferPointer { de in
                            weightT.withUnsafeBufferPointer { wt in
                                gradT.withUnsafeMutableBufferPointer { gt in
                                    convolutionBiases[k].grad.withUnsafeMutableBufferPointer { db in
                                        cache.argmax[k].withUnsafeBufferPointer { am in
                                            for t in 0..<n {
                                                for f in 0..<filter.count {
                                                    let index = t * d + column + f
                                                    guard pooled[index] > 0 else { continue }
                                                    let grad = g[index]
                                                    if grad == 0 { continue }
                                                    db[f] += grad
                                                    let window = t * length * e + Int(am[t * filter.count + f]) * e
                                                    let wRow = wt.baseAddress! + f * windowSize
                                                    let dRow = de.baseAddress! + window
                                                    for i in 0..<windowSize { dRow[i] += grad * wRow[i] }
                                                    if trainable {
                                                        let gRow = gt.baseAddress! + f * windowSize
                                                        let xRow = emb.baseAddress! + window
                                                        for i in 0..<windowSize { gRow[i] += grad * xRow[i] }
                                                    }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            if trainable {
                convolutionWeights[k].grad.withUnsafeMutableBufferPointer { gw in
                    for i in 0..<windowSize { for f in 0..<filter.count { gw[i * filter.count + f] += gradT[f * windowSize + i] } }
                }
            }
            column += filter.count
        }
        embedding.backward(dEmbedded.reshaped([n * length, e]), ids: cache.chars)
    }
}
