import Foundation
import Framework

/// A word → vector table as an encoder: pretrained word2vec vectors (encoder `word2vec`) or random
/// ones (encoder `random`). Only the words of the task's sentences get a row; words missing from the
/// word2vec file get U(−0.25, 0.25) vectors drawn from the run's seed (PaddleNLP's rule, seeded here).
public final class LookupEncoder: Encoder {
    public let dimension: Int
    public let trainable: Bool
    let file: String?
    let seed: UInt64
    var rows: [String: Int32] = [:]
    var table: Parameter<Float>
    public private(set) var outOfVocabulary = 0
    public var log: (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }

    /// Random vectors of `dimension` (encoder `random`).
    public init(randomDimension dimension: Int, seed: UInt64) {
        file = nil
        self.dimension = dimension
        self.trainable = true
        self.seed = seed
        table = Parameter(name: "embedding.table", value: Tensor(shape: [1, dimension]), rowSparse: true)
    }

    /// The vectors of a word2vec file (encoder `word2vec`); its header gives the dimension now, the vectors
    /// the task needs are read in ``prepare(_:)``.
    public init(word2vecFile: String, trainable: Bool, seed: UInt64) throws {
        file = word2vecFile
        self.dimension = try Word2VecFile.header(path: word2vecFile).dimension
        self.trainable = trainable
        self.seed = seed
        table = Parameter(name: "embedding.table", value: Tensor(shape: [1, dimension]), rowSparse: true)
    }

    public var parameters: [Parameter<Float>] { trainable ? [table] : [] }

    public func prepare(_ sentences: [[String]]) throws {
        var needed: [String] = []
        var seen = Set<String>()
        for sentence in sentences { for w in sentence where seen.insert(w).inserted { needed.append(w) } }
        var rng = SeededRandom(seed: seed ^ 0x0057_0057)
        var pretrained: [String: Int] = [:]
        var vectors: [Float] = []
        if let file {
            let loaded = try Word2VecFile.load(path: file, keep: seen)
            precondition(loaded.dimension == dimension, "word2vec file \(file) changed while in use")
            for (i, w) in loaded.words.enumerated() { pretrained[w] = i }
            vectors = loaded.vectors
        }
        // Row 0 is padding (zeros).
        var values = [Float](repeating: 0, count: (needed.count + 1) * dimension)
        outOfVocabulary = 0
        for (i, word) in needed.enumerated() {
            rows[word] = Int32(i + 1)
            let dst = (i + 1) * dimension
            if let source = pretrained[word] {
                for k in 0..<dimension { values[dst + k] = vectors[source * dimension + k] }
            } else {
                outOfVocabulary += file == nil ? 0 : 1
                for k in 0..<dimension { values[dst + k] = Float(rng.uniform(-0.25, 0.25)) }
            }
        }
        table = Parameter(name: "embedding.table", value: Tensor(shape: [needed.count + 1, dimension], scalars: values),
                          trainable: trainable, rowSparse: true)
        if let file { log("word2vec \(file): \(needed.count - outOfVocabulary) of \(needed.count) words found, \(outOfVocabulary) get random vectors") }
    }

    public func forward(_ sentences: [[String]], training: Bool, rng: inout SeededRandom) -> EncodedBatch {
        let b = sentences.count, l = max(sentences.map(\.count).max() ?? 0, 1), d = dimension
        var ids = [Int32](repeating: 0, count: b * l)
        for (r, s) in sentences.enumerated() { for (k, w) in s.enumerated() { ids[r * l + k] = rows[w] ?? 0 } }
        var out = Tensor<Float>(shape: [b, l, d])
        table.value.withUnsafeBufferPointer { t in
            out.withUnsafeMutableBufferPointer { o in
                for (n, id) in ids.enumerated() where id != 0 { (o.baseAddress! + n * d).update(from: t.baseAddress! + Int(id) * d, count: d) }
            }
        }
        return EncodedBatch(vectors: TokenVectors(vectors: out, lengths: sentences.map(\.count))) { [self] dVectors in
            guard trainable else { return }
            Embedding(table: table, paddingIndex: 0).backward(dVectors.reshaped([dVectors.count / dimension, dimension]), ids: ids)
        }
    }
}
