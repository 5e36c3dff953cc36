import Foundation
import Framework

/// The output layer of the language model: logits = h·Wᵀ + b over the vocabulary, W [V, P] (bilm-tf's
/// `softmax/W`), trained with the full softmax or a sampled softmax.
public final class SoftmaxOutput<T: Scalar>: HasParameters {
    public let weight: Parameter<T>   // [V, P]
    public let bias: Parameter<T>     // [V]
    public var vocabularySize: Int { weight.shape[0] }
    public var inputSize: Int { weight.shape[1] }
    public var parameters: [Parameter<T>] { [weight, bias] }
    /// Logits buffers ([N, V], or [N, 1 + S] sampled) handed back by ``backward``: the next forward reuses
    /// them instead of mapping fresh pages (for the `tiny` preset at batch 64 each is 170 MB, and its page
    /// faults cost more than the exp). At most one per direction is kept.
    private(set) var spareLogits: [Tensor<T>] = []
    private static var maximumSpares: Int { 2 }

    public init(vocabularySize: Int, inputSize: Int, rowSparse: Bool, rng: inout SeededRandom) {
        weight = Parameter(name: "softmax.weight",
                           value: Initializer.normal(std: 1 / Double(inputSize).squareRoot()).make([vocabularySize, inputSize], rng: &rng),
                           rowSparse: rowSparse)
        // The bias stays dense: V scalars cost nothing to update in full.
        bias = Parameter(name: "softmax.bias", value: Tensor(shape: [vocabularySize]))
    }

    public struct Loss {
        /// Mean negative log-likelihood over the kept tokens.
        public var mean: T
        /// Σ NLL over the kept tokens, in Double.
        public var total: Double
        public var tokens: Int
    }

    /// A struct, not an enum with payloads: backward must move the logits buffer out of it (a payload bound
    /// by a `switch` is a second reference, and the first write into the buffer would copy N × V scalars).
    public struct Cache {
        var input: Tensor<T>
        var softmax: SoftmaxCrossEntropy<T>.Cache
        /// nil for the full softmax.
        var sampled: SampledPart?
    }

    struct SampledPart {
        var targets: [Int32]
        var candidates: [Int32]
        /// The candidates' rows of W as the forward used them (W does not change before backward).
        var gathered: [T]
    }

    /// A logits buffer of `shape`: one a backward handed back, or a new one.
    private func takeLogitsBuffer(_ shape: [Int]) -> Tensor<T> {
        if let index = spareLogits.firstIndex(where: { $0.shape == shape }) { return spareLogits.remove(at: index) }
        return Tensor<T>(uninitializedShape: shape)
    }

    private func returnLogitsBuffer(_ buffer: consuming Tensor<T>) {
        if spareLogits.count < Self.maximumSpares { spareLogits.append(buffer) }
    }

    /// Hands back the buffer of a cache that will not be back-propagated (evaluation, forward-only timing),
    /// so the next forward reuses it.
    public func release(_ cache: consuming Cache) {
        returnLogitsBuffer(cache.softmax.takeExponentials())
    }

    /// Full softmax cross-entropy of h [N, P] against targets [N] (mask: which rows count).
    @_specialize(exported: true, where T == Float)
    public func fullLoss(_ h: Tensor<T>, targets: [Int32], mask: [Bool]?) -> (Loss, Cache) {
        let n = h.rows, v = vocabularySize
        var logits = takeLogitsBuffer([n, v])
        BLAS.matmul(h, weight.value, into: &logits, transposeB: .transposed)
        let (out, cache) = SoftmaxCrossEntropy.forward(logits: consume logits, targets: targets, mask: mask,
                                                       rowBias: bias.value.scalars)
        return (Loss(mean: out.loss, total: out.totalNLL, tokens: out.keptRows), Cache(input: h, softmax: cache, sampled: nil))
    }

    /// Sampled softmax (Jean et al. 2015; TensorFlow's `sampled_softmax_loss`): per token, the true class
    /// and the shared `candidates`, each logit corrected by −log Q (its expected count under the
    /// sampler), a candidate equal to the token's target removed. Loss = cross-entropy with the true class.
    @_specialize(exported: true, where T == Float)
    public func sampledLoss(_ h: Tensor<T>, targets: [Int32], mask: [Bool]?, sample: CandidateSample) -> (Loss, Cache) {
        let n = h.rows, p = inputSize, s = sample.candidates.count, v = vocabularySize
        var logits = takeLogitsBuffer([n, 1 + s])
        // What every row adds to candidate j (column 1 + j): its bias minus log Q(j), added by the softmax in
        // its max pass; column 0, each row's true class, has its own in its value. And where each id sits
        // among the candidates (−1: not drawn), to remove accidental hits without a search.
        var correction = [T](repeating: 0, count: 1 + s)
        var position = [Int32](repeating: -1, count: v)
        // Candidate logits: the candidate rows of W gathered, then one GEMM.
        let gathered = weight.value.gatheringRows(sample.candidates).scalars
        h.withUnsafeBufferPointer { hp in
            weight.value.withUnsafeBufferPointer { w in
                bias.value.withUnsafeBufferPointer { bp in
                    for (j, id) in sample.candidates.enumerated() {
                        correction[1 + j] = bp[Int(id)] - T(sample.logExpectedCount[j])
                        position[Int(id)] = Int32(j)
                    }
                    logits.withUnsafeMutableBufferPointer { lp in
                        gathered.withUnsafeBufferPointer { gp in
                            BLAS.gemm(.none, .transposed, m: n, n: s, k: p, alpha: 1, a: hp.baseAddress!, lda: p,
                                      b: gp.baseAddress!, ldb: p, beta: 0, c: lp.baseAddress! + 1, ldc: 1 + s)
                        }
                        for r in 0..<n {
                            let row = lp.baseAddress! + r * (1 + s)
                            let target = Int(targets[r])
                            var dot: T = 0
                            let hr = hp.baseAddress! + r * p, wt = w.baseAddress! + target * p
                            for k in 0..<p { dot += hr[k] * wt[k] }
                            row[0] = dot + bp[target] - T(sample.logExpectedCount(of: Int32(target)))
                            // An accidental hit of the true class among the candidates is removed (−∞ + bias = −∞).
                            let hit = Int(position[target])
                            if hit >= 0 { row[1 + hit] = -T.infinity }
                        }
                    }
                }
            }
        }
        let (out, cache) = SoftmaxCrossEntropy.forward(logits: consume logits, targets: [Int32](repeating: 0, count: n),
                                                       mask: mask, rowBias: correction)
        return (Loss(mean: out.loss, total: out.totalNLL, tokens: out.keptRows),
                Cache(input: h, softmax: cache,
                      sampled: SampledPart(targets: targets, candidates: sample.candidates, gathered: gathered)))
    }

    /// d(mean loss · dLoss) → dh [N, P]; accumulates the softmax gradients.
    @_specialize(exported: true, where T == Float)
    public func backward(cache: consuming Cache, dLoss: T) -> Tensor<T> {
        let dLogits = SoftmaxCrossEntropy.backward(takingFrom: &cache.softmax, dLoss: dLoss)
        let h = cache.input
        guard let sampled = cache.sampled else {
            if weight.isTrainable {
                BLAS.matmul(dLogits, h, into: &weight.grad, transposeA: .transposed, beta: 1)
                if weight.isRowSparse { for r in 0..<vocabularySize { weight.markRowTouched(r) } }
            }
            if bias.isTrainable {
                dLogits.withUnsafeBufferPointer { d in
                    bias.grad.withUnsafeMutableBufferPointer { Kernels.accumulateColumnSums(of: d, columns: vocabularySize, into: $0) }
                }
            }
            var dh = Tensor<T>(shape: h.shape)
            BLAS.matmul(dLogits, weight.value, into: &dh)
            returnLogitsBuffer(dLogits)
            return dh
        }
        let targets = sampled.targets, candidates = sampled.candidates, gathered = sampled.gathered
        let n = h.rows, p = inputSize, s = candidates.count
        var dh = Tensor<T>(shape: h.shape)
        let trainW = weight.isTrainable, trainB = bias.isTrainable
        h.withUnsafeBufferPointer { hp in
            dLogits.withUnsafeBufferPointer { dl in
                weight.value.withUnsafeBufferPointer { w in
                    dh.withUnsafeMutableBufferPointer { dhp in
                        // dh = dS·W_S + d0·w_target
                        gathered.withUnsafeBufferPointer { gp in
                            BLAS.gemm(.none, .none, m: n, n: p, k: s, alpha: 1, a: dl.baseAddress! + 1, lda: 1 + s,
                                      b: gp.baseAddress!, ldb: p, beta: 0, c: dhp.baseAddress!, ldc: p)
                        }
                        for r in 0..<n {
                            let d0 = dl[r * (1 + s)], wt = w.baseAddress! + Int(targets[r]) * p
                            let out = dhp.baseAddress! + r * p
                            for k in 0..<p { out[k] += d0 * wt[k] }
                        }
                        // dW_S = dSᵀ·h, scattered to the candidate rows.
                        if trainW {
                            var dGathered = [T](repeating: 0, count: s * p)
                            dGathered.withUnsafeMutableBufferPointer { dg in
                                BLAS.gemm(.transposed, .none, m: s, n: p, k: n, alpha: 1, a: dl.baseAddress! + 1, lda: 1 + s,
                                          b: hp.baseAddress!, ldb: p, beta: 0, c: dg.baseAddress!, ldc: p)
                            }
                            weight.grad.withUnsafeMutableBufferPointer { gw in
                                for (j, id) in candidates.enumerated() {
                                    let row = gw.baseAddress! + Int(id) * p
                                    for k in 0..<p { row[k] += dGathered[j * p + k] }
                                }
                                for r in 0..<n {
                                    let d0 = dl[r * (1 + s)], row = gw.baseAddress! + Int(targets[r]) * p
                                    let hr = hp.baseAddress! + r * p
                                    for k in 0..<p { row[k] += d0 * hr[k] }
                                }
                            }
                        }
                    }
                }
            }
            if trainB {
                // Candidate columns summed over rows in one pass, then scattered once; the true-class
                // column goes to each row's own target.
                var columnSums = [T](repeating: 0, count: 1 + s)
                dLogits.withUnsafeBufferPointer { dl in
                    columnSums.withUnsafeMutableBufferPointer { Kernels.accumulateColumnSums(of: dl, columns: 1 + s, into: $0) }
                    bias.grad.withUnsafeMutableBufferPointer { gb in
                        for r in 0..<n { gb[Int(targets[r])] += dl[r * (1 + s)] }
                        for (j, id) in candidates.enumerated() { gb[Int(id)] += columnSums[1 + j] }
                    }
                }
            }
        }
        if weight.isRowSparse && trainW {
            for id in candidates { weight.markRowTouched(Int(id)) }
            for id in targets { weight.markRowTouched(Int(id)) }
        }
        returnLogitsBuffer(dLogits)
        return dh
    }
}

/// Candidates drawn from the log-uniform (Zipfian) distribution over ids sorted by frequency,
/// P(k) = (log(k + 2) − log(k + 1)) / log(V + 1), without replacement (TensorFlow's
/// `log_uniform_candidate_sampler` with unique = true). The expected count of id k after `tries`
/// draws is 1 − (1 − P(k))^tries: that is the Q of the log-Q correction.
public struct CandidateSample: Sendable {
    public let vocabularySize: Int
    public let candidates: [Int32]
    public let tries: Int
    public let logExpectedCount: [Double]

    public init(candidates: [Int32], tries: Int, vocabularySize: Int) {
        self.candidates = candidates
        self.tries = tries
        self.vocabularySize = vocabularySize
        logExpectedCount = candidates.map { Self.logExpectedCount(of: $0, tries: tries, vocabularySize: vocabularySize) }
    }

    public static func probability(of id: Int32, vocabularySize v: Int) -> Double {
        let k = Double(id)
        return (Foundation.log(k + 2) - Foundation.log(k + 1)) / Foundation.log(Double(v) + 1)
    }

    public func logExpectedCount(of id: Int32) -> Double {
        Self.logExpectedCount(of: id, tries: tries, vocabularySize: vocabularySize)
    }

    static func logExpectedCount(of id: Int32, tries: Int, vocabularySize: Int) -> Double {
        let p = CandidateSample.probability(of: id, vocabularySize: vocabularySize)
        return Foundation.log(-Foundation.expm1(Double(tries) * Foundation.log1p(-p)))
    }

    /// Draws `count` distinct ids (count < V).
    public static func draw(count: Int, vocabularySize v: Int, rng: inout SeededRandom) -> CandidateSample {
        precondition(count < v, "sampled softmax needs fewer samples (\(count)) than classes (\(v))")
        var seen = Set<Int32>(minimumCapacity: count)
        var candidates: [Int32] = []
        candidates.reserveCapacity(count)
        var tries = 0
        let logRange = Foundation.log(Double(v) + 1)
        while candidates.count < count {
            tries += 1
            let id = Int32(min(max(Int(Foundation.exp(rng.unitDouble() * logRange)) - 1, 0), v - 1))
            if seen.insert(id).inserted { candidates.append(id) }
        }
        return CandidateSample(candidates: candidates, tries: tries, vocabularySize: v)
    }
}
