import Foundation
import Framework
import Synchronization

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
    /// Worker threads updating the shared vectors without locks (Hogwild, as word2vec.c and gensim do); 1 is
    /// the sequential algorithm, reproducible bit for bit.
    public var threads = 1
    public init() {}
}

public final class SkipGramTrainer {
    public let config: SkipGramConfig
    public let words: [String]
    public let counts: [Int]
    let index: [String: Int32]
    public private(set) var input: [Float]     // [V, D] the word vectors
    var output: [Float]                         // [V, D] the negative-sampling weights
    let negatives: AliasTable
    public var log: (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
    /// One entry per finished epoch.
    public private(set) var epochs: [EpochReport] = []

    public struct EpochReport: Sendable {
        public let pairs: Int
        /// Mean negative-sampling loss per (center, context) pair.
        public let lossPerPair: Double
        public let words: Int
        public let seconds: Double
        /// Workers that received at least one chunk.
        public let busyWorkers: Int
    }

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
        // Negatives: word w with probability ∝ count^0.75, as word2vec.c's unigram table gives them.
        negatives = AliasTable(weights: counts.map { Foundation.pow(Double($0), 0.75) })
        self.corpus = corpus
    }

    let corpus: Corpus

    /// Trains `config.epochs` passes. This thread reads the corpus and hands chunks of sentences (as word ids)
    /// to `config.threads` workers, which update the shared vectors without locks; each worker has its own
    /// random stream, and the learning rate decays with the words all of them have consumed.
    public func train() throws {
        let d = config.dimension, threads = max(1, config.threads)
        let totalWords = counts.reduce(0, +)
        let progress = SharedProgress()
        let start = Date()
        let workers = (0..<threads).map { SkipGramWorker(config: config, seed: (config.seed ^ 0x5EED) &+ UInt64($0) &* 0x9E37_79B9_7F4A_7C15) }
        try input.withUnsafeMutableBufferPointer { syn0 in
            try output.withUnsafeMutableBufferPointer { syn1 in
                try negatives.buckets.withUnsafeBufferPointer { negatives in
                    try counts.withUnsafeBufferPointer { counts in
                        let model = SkipGramModel(input: syn0.baseAddress!, output: syn1.baseAddress!, dimension: d,
                                                  negatives: negatives, counts: counts,
                                                  totalWords: totalWords, totalSteps: Double(config.epochs * totalWords), progress: progress)
                        for epoch in 0..<config.epochs {
                            let wordsBefore = progress.words.load(ordering: .relaxed), epochStart = Date()
                            try runEpoch(model: model, workers: workers)
                            let pairs = workers.reduce(0) { $0 + $1.pairs }, loss = workers.reduce(0.0) { $0 + $1.loss }
                            let report = EpochReport(pairs: pairs, lossPerPair: loss / Double(max(pairs, 1)),
                                                     words: progress.words.load(ordering: .relaxed) - wordsBefore,
                                                     seconds: Date().timeIntervalSince(epochStart),
                                                     busyWorkers: workers.filter { $0.chunks > 0 }.count)
                            epochs.append(report)
                            log(String(format: "word2vec epoch %d/%d: %d pairs, loss %.4f per pair, %.0f s, %.0f words/s on %d thread%@",
                                       epoch + 1, config.epochs, pairs, report.lossPerPair, Date().timeIntervalSince(start),
                                       Double(report.words) / max(report.seconds, 1e-9), threads, threads == 1 ? "" : "s"))
                        }
                    }
                }
            }
        }
    }

    /// One pass: the workers run on their own threads while this one fills the queue; a read error stops the
    /// queue, lets the workers finish what they hold, and is rethrown.
    private func runEpoch(model: SkipGramModel, workers: [SkipGramWorker]) throws {
        let queue = ChunkQueue(capacity: 2 * workers.count)
        let finished = DispatchGroup()
        for worker in workers {
            worker.resetEpoch()
            finished.enter()
            let thread = Thread {
                while let chunk = queue.pop() { worker.train(chunk, model) }
                finished.leave()
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
        defer {
            queue.close()
            finished.wait()
        }
        var chunk = SentenceChunk()
        try corpus.forEachSentence { tokens in
            for token in tokens { if let id = index[token] { chunk.ids.append(id) } }
            chunk.ends.append(chunk.ids.count)
            if chunk.ids.count >= SentenceChunk.targetWords {
                queue.push(chunk)
                chunk = SentenceChunk()
            }
        }
        if !chunk.ends.isEmpty { queue.push(chunk) }
    }

    public func write(to path: String) throws {
        try Word2VecFile.writeBinary(words: words, vectors: input, dimension: config.dimension, to: path)
    }
}

/// Sentences as word ids (before subsampling), handed from the reader to a worker.
struct SentenceChunk {
    /// About word2vec.c's 10,000-word unit of work: large enough that the hand-over costs nothing.
    static let targetWords = 10_000
    var ids: [Int32] = []
    /// The end (exclusive) of each sentence in `ids`.
    var ends: [Int] = []
}

/// Words consumed by all workers, which drives the learning-rate decay.
final class SharedProgress: Sendable {
    let words = Atomic<Int>(0)
}

/// The shared state the workers read and write: the two weight matrices (written without locks), the
/// negative-sampling table, the word counts (for subsampling) and the schedule.
struct SkipGramModel: @unchecked Sendable {
    let input: UnsafeMutablePointer<Float>
    let output: UnsafeMutablePointer<Float>
    let dimension: Int
    let negatives: UnsafeBufferPointer<AliasTable.Bucket>
    let counts: UnsafeBufferPointer<Int>
    let totalWords: Int
    /// Words of all epochs: the learning rate reaches its floor there.
    let totalSteps: Double
    let progress: SharedProgress
}

/// One thread's worth of training: its random stream (kept across epochs), its gradient scratch, its loss.
final class SkipGramWorker: @unchecked Sendable {
    let config: SkipGramConfig
    var rng: SeededRandom
    var gradient: [Float]
    var sentence: [Int32] = []
    private(set) var loss = 0.0
    private(set) var pairs = 0
    private(set) var chunks = 0

    init(config: SkipGramConfig, seed: UInt64) {
        self.config = config
        rng = SeededRandom(seed: seed)
        gradient = [Float](repeating: 0, count: config.dimension)
    }

    func resetEpoch() { loss = 0; pairs = 0; chunks = 0 }

    /// Each sentence: subsample frequent words, set the learning rate from the words consumed so far, then
    /// every (center, context) pair within a window of random reduced size, with `negative` negatives.
    func train(_ chunk: SentenceChunk, _ model: SkipGramModel) {
        let d = model.dimension, window = config.window, negative = config.negative
        chunks += 1
        let threshold = config.sample * Double(model.totalWords)
        // In locals while it runs: the stored properties would be checked for exclusive access at every pair.
        var loss = 0.0, pairs = 0, rng = self.rng
        defer { self.loss += loss; self.pairs += pairs; self.rng = rng }
        var begin = 0
        for end in chunk.ends {
            sentence.removeAll(keepingCapacity: true)
            for position in begin..<end {
                let id = chunk.ids[position]
                if config.sample > 0 {
                    let f = Double(model.counts[Int(id)])
                    let keep = ((f / threshold).squareRoot() + 1) * threshold / f
                    if keep < rng.unitDouble() { continue }
                }
                sentence.append(id)
            }
            let consumed = model.progress.words.add(end - begin, ordering: .relaxed).newValue
            begin = end
            let alpha = Float(max(config.learningRate * (1 - Double(consumed) / (model.totalSteps + 1)), config.learningRate * 1e-4))
            gradient.withUnsafeMutableBufferPointer { neu1e in
                for (position, center) in sentence.enumerated() {
                    let reduced = rng.integer(below: window)
                    let low = max(0, position - window + reduced)
                    let high = min(sentence.count - 1, position + window - reduced)
                    for c in low...high where c != position {
                        let context = model.input + Int(sentence[c]) * d
                        neu1e.update(repeating: 0)
                        for n in 0...negative {
                            let target: Int32, label: Float
                            if n == 0 { target = center; label = 1 } else {
                                target = AliasTable.pick(rng.next(), in: model.negatives)
                                if target == center { continue }
                                label = 0
                            }
                            let weights = model.output + Int(target) * d
                            let dot = FastMath.dot(context, weights, count: d)
                            let sigma = 1 / (1 + Foundation.exp(-min(max(dot, -30), 30)))
                            loss -= Double(label == 1 ? Foundation.log(max(sigma, 1e-7)) : Foundation.log(max(1 - sigma, 1e-7)))
                            let g = (label - sigma) * alpha
                            FastMath.negativeSamplingUpdate(gradient: neu1e.baseAddress!, weights: weights, context: context,
                                                            count: d, scale: g)
                        }
                        Kernels.add(UnsafeBufferPointer(neu1e), into: UnsafeMutableBufferPointer(start: context, count: d))
                        pairs += 1
                    }
                }
            }
        }
    }
}

/// A bounded first-in first-out queue of chunks between the reader and the workers.
final class ChunkQueue: @unchecked Sendable {
    private let condition = NSCondition()
    private var items: [SentenceChunk] = []
    private var closed = false
    let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    /// Waits while the queue is full.
    func push(_ chunk: SentenceChunk) {
        condition.lock()
        while items.count >= capacity && !closed { condition.wait() }
        items.append(chunk)
        condition.broadcast()
        condition.unlock()
    }

    /// No more chunks: workers drain what is queued, then `pop` returns nil.
    func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }

    func pop() -> SentenceChunk? {
        condition.lock()
        defer { condition.unlock() }
        while items.isEmpty && !closed { condition.wait() }
        guard !items.isEmpty else { return nil }
        condition.broadcast()
        return items.removeFirst()
    }
}
