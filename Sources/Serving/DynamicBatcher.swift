import Foundation
import Framework
import Models

/// Merges the sentences of concurrent requests into batches for a fixed number of compute threads.
///
/// A request's sentences join one queue; a compute thread takes the oldest ones, in arrival order, up to a padded-token
/// budget (sentences × the longest one's tokens) as soon as the budget is full or the oldest has waited `maxWait`, and
/// runs them as one stateless batch. Every sentence starts from zero LSTM state and its padding comes after it, so its
/// vectors are `elmo embed`'s whatever its batch-mates — bit for bit with ``BLAS/batchInvariant`` on, as `elmo serve`
/// runs (see ``ELMoEmbedder/encode(_:)``). The queue is bounded in tokens: past
/// `maxQueuedTokens` a request is refused at once (the server answers 429) instead of waiting without bound.
/// The network side only enqueues and awaits; it never runs the model.
public final class DynamicBatcher: @unchecked Sendable {
    public struct Settings: Sendable {
        /// Padded tokens per batch.
        public var maxBatchTokens = 4096
        /// How long the oldest queued sentence may wait for batch-mates.
        public var maxWait: TimeInterval = 0.005
        /// Tokens waiting at most; a request that would pass it is refused.
        public var maxQueuedTokens = 65_536
        public var computeThreads = 1
        public init() {}
    }

    /// What happened to each batch (for metrics).
    public struct BatchReport: Sendable {
        public var sentences: Int
        public var tokens: Int
        public var paddedTokens: Int
        public var seconds: Double
    }

    public enum Refusal: Error, Equatable {
        /// The queue holds too many tokens; retry after about this many seconds.
        case queueFull(retryAfter: Int)
        /// The request alone is larger than the queue can ever hold.
        case tooLarge(tokens: Int, limit: Int)
        case shuttingDown
    }

    private final class Request: @unchecked Sendable {
        let sentences: [[String]]
        var results: [Tensor<Float>?]
        var remaining: Int
        let continuation: CheckedContinuation<[Tensor<Float>], any Error>
        init(sentences: [[String]], continuation: CheckedContinuation<[Tensor<Float>], any Error>) {
            self.sentences = sentences
            results = Array(repeating: nil, count: sentences.count)
            remaining = sentences.count
            self.continuation = continuation
        }
    }

    private struct Item {
        let request: Request
        let index: Int
        let arrived: Date
        var tokens: Int { request.sentences[index].count }
    }

    public let settings: Settings
    /// Called after every batch, on its compute thread.
    private let onBatch: @Sendable (BatchReport) -> Void
    private let condition = NSCondition()
    private var queue: [Item] = []
    private var head = 0
    private var queuedTokens = 0
    private var stopping = false
    private var running = 0
    /// Tokens per second over recent batches, for Retry-After.
    private var recentRate = 0.0
    private let embedders: [ELMoEmbedder<Float>]

    /// `makeEmbedder` is called once per compute thread: a model's buffers belong to one thread.
    public init(settings: Settings, onBatch: @escaping @Sendable (BatchReport) -> Void = { _ in },
                makeEmbedder: () throws -> ELMoEmbedder<Float>) rethrows {
        precondition(settings.computeThreads >= 1 && settings.maxBatchTokens >= 1 && settings.maxQueuedTokens >= 1)
        self.settings = settings
        self.onBatch = onBatch
        embedders = try (0..<settings.computeThreads).map { _ in try makeEmbedder() }
        for k in embedders.indices {
            // The threads hold the batcher until ``shutdown()`` ends them; thread k alone uses embedder k.
            let thread = Thread { self.computeLoop(self.embedders[k]) }
            thread.name = "elmo-compute-\(k)"
            thread.stackSize = 8 << 20
            running += 1
            thread.start()
        }
    }

    /// Tokens waiting now.
    public var queueDepth: (sentences: Int, tokens: Int) {
        condition.lock()
        defer { condition.unlock() }
        return (queue.count - head, queuedTokens)
    }

    /// Seconds to wait when the queue holds all the tokens it may (nil when it has room): a cheap check made before a
    /// request's body is read.
    public var fullQueueRetryAfter: Int? {
        condition.lock()
        defer { condition.unlock() }
        guard queuedTokens >= settings.maxQueuedTokens else { return nil }
        return retryAfterLocked()
    }

    private func retryAfterLocked() -> Int {
        let seconds = recentRate > 0 ? Double(queuedTokens) / recentRate : 1
        return max(1, Int(seconds.rounded(.up)))
    }

    /// The vectors [L + 1, n, 2P] of each sentence, in order. Throws ``Refusal`` without waiting when the queue is full.
    public func embed(_ sentences: [[String]]) async throws -> [Tensor<Float>] {
        let tokens = sentences.reduce(0) { $0 + $1.count }
        guard tokens <= settings.maxQueuedTokens else { throw Refusal.tooLarge(tokens: tokens, limit: settings.maxQueuedTokens) }
        if sentences.isEmpty { return [] }
        return try await withCheckedThrowingContinuation { continuation in
            condition.lock()
            if stopping {
                condition.unlock()
                continuation.resume(throwing: Refusal.shuttingDown)
                return
            }
            if queuedTokens + tokens > settings.maxQueuedTokens {
                let retryAfter = retryAfterLocked()
                condition.unlock()
                continuation.resume(throwing: Refusal.queueFull(retryAfter: retryAfter))
                return
            }
            let request = Request(sentences: sentences, continuation: continuation)
            let now = Date()
            for index in sentences.indices { queue.append(Item(request: request, index: index, arrived: now)) }
            queuedTokens += tokens
            condition.broadcast()
            condition.unlock()
        }
    }

    /// Stops taking requests; what is queued still runs. Returns when the compute threads have finished.
    public func shutdown() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while running > 0 { condition.wait() }
        condition.unlock()
    }

    /// The next batch: the oldest sentences in arrival order while the padded tokens fit the budget (the first always
    /// goes), once the budget is full or the oldest has waited `maxWait`. Nil when stopping with nothing queued.
    private func nextBatch() -> [Item]? {
        condition.lock()
        defer { condition.unlock() }
        while true {
            if head == queue.count {
                if stopping { return nil }
                condition.wait()
                continue
            }
            // Does the budget fill, or has the oldest waited long enough?
            var longest = 0, count = 0, full = false
            for k in head..<queue.count {
                let candidate = max(longest, queue[k].tokens)
                if (count + 1) * candidate > settings.maxBatchTokens && count > 0 { full = true; break }
                longest = candidate
                count += 1
            }
            let waited = Date().timeIntervalSince(queue[head].arrived)
            if full || waited >= settings.maxWait || stopping {
                let batch = Array(queue[head..<(head + count)])
                head += count
                queuedTokens -= batch.reduce(0) { $0 + $1.tokens }
                if head > 4096 && head * 2 > queue.count {
                    queue.removeFirst(head)
                    head = 0
                }
                return batch
            }
            _ = condition.wait(until: queue[head].arrived.addingTimeInterval(settings.maxWait))
        }
    }

    private func computeLoop(_ embedder: ELMoEmbedder<Float>) {
        while let batch = nextBatch() {
            let start = Date()
            let vectors = embedder.encode(batch.map { $0.request.sentences[$0.index] })
            let seconds = Date().timeIntervalSince(start)
            let tokens = batch.reduce(0) { $0 + $1.tokens }
            var finished: [(Request, [Tensor<Float>])] = []
            condition.lock()
            recentRate = recentRate == 0 ? Double(tokens) / max(seconds, 1e-6) : 0.8 * recentRate + 0.2 * Double(tokens) / max(seconds, 1e-6)
            for (item, v) in zip(batch, vectors) {
                item.request.results[item.index] = v
                item.request.remaining -= 1
                if item.request.remaining == 0 { finished.append((item.request, item.request.results.map { $0! })) }
            }
            condition.unlock()
            for (request, results) in finished { request.continuation.resume(returning: results) }
            let longest = batch.map(\.tokens).max() ?? 0
            onBatch(BatchReport(sentences: batch.count, tokens: tokens, paddedTokens: longest * batch.count, seconds: seconds))
        }
        condition.lock()
        running -= 1
        condition.broadcast()
        condition.unlock()
    }
}
