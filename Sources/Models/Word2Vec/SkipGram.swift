import Foundation
import Framework

/// Skip-gram with negative sampling (Mikolov et al. 2013; word2vec.c's defaults): subsampling of
/// frequent words, a dynamic window, negatives from the unigram distribution raised to 3/4, and a
/// learning rate decaying linearly over training.
public struct SkipGramConfig: Sendable {
    public var dimension = 100
    public var window = 5
    public var negative = 5
    public var minCount = 5
    public var epochs = 5
    public var learningRate = 0.025
    public var sample = 1e-3
    public var seed: UInt64 = 1
    public init() {}
}

public final class SkipGramTrainer {
    public let config: SkipGramConfig
    public let words: [String]
    public let counts: [Int]
    let index: [String: Int32]
    public private(set) var input: [Float]     // [V, D] the word vectors
    var output: [Float]                         // [V, D] the negative-sampling weights
    var unigramTable: [Int32]
    public var log: (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }

    public init(corpus: Corpus, config: SkipGramConfig) throws {
        self.config = config
        var counter: [String: Int] = [:]
        try corpus.forEachSentence { for w in $0 { counter[w, default: 0] += 1 } }
        let kept = counter.filter { $0.value >= config.minCount }.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
        guard !kept.isEmpty else { throw InputError("\(corpus.description): no word occurs at least --min-count \(config.minCount) times") }
        words = kept.map(\.key)
        counts = kept.map(\.value)
        var index: [String: Int32] = [:]
        for (i, w) in words.enumerated() { index[w] = Int32(i) }
        self.index = index
        var rng = SeededRandom(seed: config.seed)
        let d = config.dimension
        input = (0..<(words.count * d)).map { _ in Float((rng.unitDouble() - 0.5) / Double(d)) }
        output = [Float](repeating: 0, count: words.count * d)
        // Negatives: a table where word w fills a share ∝ count^0.75.
        let tableSize = max(1_000_000, words.count * 10)
        let powers = counts.map { Foundation.pow(Double($0), 0.75) }
        let total = powers.reduce(0, +)
        var table = [Int32](repeating: 0, count: tableSize)
        var w = 0, cumulative = powers[0] / total
        for i in 0..<tableSize {
            table[i] = Int32(w)
            if Double(i + 1) / Double(tableSize) > cumulative, w < words.count - 1 { w += 1; cumulative += powers[w] / total }
        }
        unigramTable = table
        self.corpus = corpus
    }

    let corpus: Corpus

    public func train() throws {
        let d = config.dimension, totalWords = counts.reduce(0, +)
        let totalSteps = Double(config.epochs * totalWords)
        var rng = SeededRandom(seed: config.seed ^ 0x5EED)
        var processed = 0
        var gradient = [Float](repeating: 0, count: d)
        let threshold = config.sample * Double(totalWords)
        let start = Date()
        for epoch in 0..<config.epochs {
            var epochLoss = 0.0, pairs = 0
            try corpus.forEachSentence { tokens in
                var sentence: [Int32] = []
                for token in tokens {
                    guard let id = index[token] else { continue }
                    processed += 1
                    if config.sample > 0 {
                        let f = Double(counts[Int(id)])
                        let keep = ((f / threshold).squareRoot() + 1) * threshold / f
                        if keep < rng.unitDouble() { continue }
                    }
                    sentence.append(id)
                }
                let alpha = Float(max(config.learningRate * (1 - Double(processed) / (totalSteps + 1)), config.learningRate * 1e-4))
                input.withUnsafeMutableBufferPointer { syn0 in
                    output.withUnsafeMutableBufferPointer { syn1 in
                        gradient.withUnsafeMutableBufferPointer { neu1e in
                            for (position, center) in sentence.enumerated() {
                                let reduced = rng.integer(below: config.window)
                                let low = max(0, position - config.window + reduced)
                                let high = min(sentence.count - 1, position + config.window - reduced)
                                for c in low...high where c != position {
                                    let context = syn0.baseAddress! + Int(sentence[c]) * d
                                    for k in 0..<d { neu1e[k] = 0 }
                                    for n in 0...config.negative {
                                        let target: Int32, label: Float
                                        if n == 0 { target = center; label = 1 } else {
                                            target = unigramTable[rng.integer(below: unigramTable.count)]
                                            if target == center { continue }
                                            label = 0
                                        }
                                        let weights = syn1.baseAddress! + Int(target) * d
                                        var dot: Float = 0
                                        for k in 0..<d { dot += context[k] * weights[k] }
                                        let sigma = 1 / (1 + Foundation.exp(-min(max(dot, -30), 30)))
                                        epochLoss -= Double(label == 1 ? Foundation.log(max(sigma, 1e-7)) : Foundation.log(max(1 - sigma, 1e-7)))
                                        let g = (label - sigma) * alpha
                                        for k in 0..<d { neu1e[k] += g * weights[k]; weights[k] += g * context[k] }
                                    }
                                    for k in 0..<d { context[k] += neu1e[k] }
                                    pairs += 1
                                }
                            }
                        }
                    }
                }
            }
            log(String(format: "word2vec epoch %d/%d: %d pairs, loss %.4f per pair, %.0f s", epoch + 1, config.epochs, pairs,
                       epochLoss / Double(max(pairs, 1)), Date().timeIntervalSince(start)))
        }
    }

    public func write(to path: String) throws {
        try Word2VecFile.writeBinary(words: words, vectors: input, dimension: config.dimension, to: path)
    }
}
