import Framework

/// A sentence ready for the language model: its tokens with `<S>`/`</S>`, their word ids and char ids.
public struct EncodedSentence: Sendable {
    /// Words without the sentence markers.
    public var words: [String]
    /// [<S>, w₀ … wₙ₋₁, </S>] ids.
    public var wordIDs: [Int32]
    /// Char ids of the same n+2 tokens, 50 each.
    public var chars: [Int32]

    public init(words: [String], vocabulary: Vocabulary) {
        self.words = words
        let n = words.count
        wordIDs = [vocabulary.beginID] + words.map { vocabulary.id($0) } + [vocabulary.endID]
        let width = CharacterIDs.tokenLength
        chars = [Int32](repeating: 0, count: (n + 2) * width)
        chars.withUnsafeMutableBufferPointer { c in
            CharacterIDs.encode(CharacterIDs.sentenceBegin, into: UnsafeMutableBufferPointer(rebasing: c[0..<width]))
            for (k, word) in words.enumerated() {
                CharacterIDs.encode(word, into: UnsafeMutableBufferPointer(rebasing: c[((k + 1) * width)..<((k + 2) * width)]))
            }
            CharacterIDs.encode(CharacterIDs.sentenceEnd,
                                into: UnsafeMutableBufferPointer(rebasing: c[((n + 1) * width)..<((n + 2) * width)]))
        }
    }

    /// Number of next-token predictions per direction: every word plus the end marker.
    public var predictionCount: Int { words.count + 1 }

    /// Position `k` of the direction's token sequence: forward [<S>, w…, </S>], backward [</S>, w reversed…, <S>].
    @inlinable
    public func index(_ k: Int, backward: Bool) -> Int { backward ? wordIDs.count - 1 - k : k }
}

/// Where a ``SentenceStream`` is: the epoch, the file's index in that epoch's order, the byte offset of
/// the next unread line.
public struct CorpusPosition: Sendable, Equatable {
    public var epoch = 0
    public var fileIndex = 0
    public var offset: Int64 = 0
    public init(epoch: Int = 0, fileIndex: Int = 0, offset: Int64 = 0) {
        self.epoch = epoch
        self.fileIndex = fileIndex
        self.offset = offset
    }
}

/// Sentences of a corpus, lazily, over epochs (training) or one pass (evaluation).
public final class SentenceStream {
    public let corpus: Corpus
    public let vocabulary: Vocabulary
    public let seed: UInt64
    public let shuffle: Bool
    public let singlePass: Bool
    public private(set) var position: CorpusPosition
    private var order: [Int]
    private var reader: LineReader?
    private var sentencesThisEpoch = 0

    public init(corpus: Corpus, vocabulary: Vocabulary, seed: UInt64, shuffle: Bool, singlePass: Bool,
                position: CorpusPosition = CorpusPosition()) throws {
        self.corpus = corpus
        self.vocabulary = vocabulary
        self.seed = seed
        self.shuffle = shuffle
        self.singlePass = singlePass
        self.position = position
        order = corpus.order(epoch: position.epoch, seed: seed, shuffle: shuffle)
        guard position.fileIndex <= order.count else {
            throw InputError("data position file \(position.fileIndex) is outside the \(order.count) files of \(corpus)")
        }
        sentencesThisEpoch = position.fileIndex > 0 || position.offset > 0 ? 1 : 0
    }

    /// The next sentence, or nil when a single pass is over. A training stream cycles through epochs
    /// (a corpus with no line at all is an input error rather than an endless loop).
    public func next() throws -> EncodedSentence? {
        while true {
            if reader == nil {
                if position.fileIndex >= order.count {
                    if singlePass { return nil }
                    guard sentencesThisEpoch > 0 else { throw InputError("\(corpus.description): contains no lines") }
                    position = CorpusPosition(epoch: position.epoch + 1, fileIndex: 0, offset: 0)
                    order = corpus.order(epoch: position.epoch, seed: seed, shuffle: shuffle)
                    sentencesThisEpoch = 0
                }
                reader = try LineReader(path: corpus.files[order[position.fileIndex]], role: "\(corpus.role) file",
                                        offset: position.offset)
            }
            if let line = try reader!.nextLine() {
                position.offset = reader!.offset
                sentencesThisEpoch += 1
                return EncodedSentence(words: line.tokens, vocabulary: vocabulary)
            }
            reader = nil
            position.fileIndex += 1
            position.offset = 0
        }
    }
}

/// One truncated-BPTT window of B continuous streams × T steps, time-major (index t·B + b), for both directions.
public struct LMBatch: Sendable {
    public var rows: Int
    public var steps: Int
    /// Char ids [T·B·50] of the forward and backward inputs.
    public var forwardChars: [Int32]
    public var backwardChars: [Int32]
    /// Next-token ids [T·B].
    public var forwardTargets: [Int32]
    public var backwardTargets: [Int32]
    /// Whether position t·B + b holds a real token (false only after a single-pass stream ran out).
    public var mask: [Bool]
    /// Slots t·B + b whose input is a sentence's first token (`<S>` forward, `</S>` backward).
    public var sentenceStarts: [Int] = []
    public init(rows: Int, steps: Int, forwardChars: [Int32], backwardChars: [Int32], forwardTargets: [Int32],
                backwardTargets: [Int32], mask: [Bool]) {
        self.rows = rows
        self.steps = steps
        self.forwardChars = forwardChars
        self.backwardChars = backwardChars
        self.forwardTargets = forwardTargets
        self.backwardTargets = backwardTargets
        self.mask = mask
    }

    /// Real (masked-in) positions.
    public var tokenCount: Int { mask.lazy.filter { $0 }.count }

    /// The streams `range` of this window, in the same time-major layout (a data-parallel rank's share).
    public func selecting(rows range: Range<Int>) -> LMBatch {
        precondition(range.lowerBound >= 0 && range.upperBound <= rows && !range.isEmpty, "rows \(range) outside 0..<\(rows)")
        let width = CharacterIDs.tokenLength, n = range.count
        func gather<E>(_ source: [E], per slotWidth: Int) -> [E] {
            var out: [E] = []
            out.reserveCapacity(steps * n * slotWidth)
            for t in 0..<steps {
                out.append(contentsOf: source[((t * rows + range.lowerBound) * slotWidth)..<((t * rows + range.upperBound) * slotWidth)])
            }
            return out
        }
        var part = LMBatch(rows: n, steps: steps,
                           forwardChars: gather(forwardChars, per: width), backwardChars: gather(backwardChars, per: width),
                           forwardTargets: gather(forwardTargets, per: 1), backwardTargets: gather(backwardTargets, per: 1),
                           mask: gather(mask, per: 1))
        part.sentenceStarts = sentenceStarts.compactMap { slot in
            let (t, b) = slot.quotientAndRemainder(dividingBy: rows)
            return range.contains(b) ? t * n + (b - range.lowerBound) : nil
        }
        return part
    }
}

/// Packs sentences end to end into B rows (bilm-tf / PaddleNLP): row b reads its sentences as one
/// stream, the forward LM predicting the next token, the backward LM reading each sentence reversed.
/// A sentence cut by a window continues in the next window, whose LSTM state carries over.
public final class StreamBatcher {
    public let rows: Int
    public let steps: Int
    public let stream: SentenceStream
    /// Each row's current sentence and the position of its next input token in it.
    public private(set) var current: [EncodedSentence?]
    public private(set) var offsets: [Int]

    public init(stream: SentenceStream, rows: Int, steps: Int) {
        precondition(rows > 0 && steps > 0)
        self.stream = stream
        self.rows = rows
        self.steps = steps
        current = Array(repeating: nil, count: rows)
        offsets = Array(repeating: 0, count: rows)
    }

    /// Restores the rows' sentences (from a checkpoint) before the first ``next()``.
    public func restore(rows words: [[String]?], offsets: [Int]) throws {
        guard words.count == rows, offsets.count == rows else {
            throw InputError("checkpoint data state has \(words.count) rows, the batch size is \(rows)")
        }
        for b in 0..<rows {
            current[b] = words[b].map { EncodedSentence(words: $0, vocabulary: stream.vocabulary) }
            if let sentence = current[b], offsets[b] < 0 || offsets[b] >= sentence.predictionCount {
                throw InputError("checkpoint data state: row \(b) offset \(offsets[b]) outside its sentence")
            }
        }
        self.offsets = offsets
    }

    /// The next window, or nil when a single-pass stream has no token left for any row.
    public func next() throws -> LMBatch? {
        let width = CharacterIDs.tokenLength
        var batch = LMBatch(
            rows: rows, steps: steps,
            forwardChars: [Int32](repeating: 0, count: steps * rows * width),
            backwardChars: [Int32](repeating: 0, count: steps * rows * width),
            forwardTargets: [Int32](repeating: 0, count: steps * rows),
            backwardTargets: [Int32](repeating: 0, count: steps * rows),
            mask: [Bool](repeating: false, count: steps * rows))
        var any = false
        for b in 0..<rows {
            for t in 0..<steps {
                if current[b] == nil {
                    guard let sentence = try stream.next() else { break }
                    current[b] = sentence
                    offsets[b] = 0
                }
                let sentence = current[b]!, k = offsets[b], slot = t * rows + b
                if k == 0 { batch.sentenceStarts.append(slot) }
                let f = sentence.index(k, backward: false), r = sentence.index(k, backward: true)
                batch.forwardTargets[slot] = sentence.wordIDs[sentence.index(k + 1, backward: false)]
                batch.backwardTargets[slot] = sentence.wordIDs[sentence.index(k + 1, backward: true)]
                sentence.chars.withUnsafeBufferPointer { c in
                    batch.forwardChars.withUnsafeMutableBufferPointer {
                        ($0.baseAddress! + slot * width).update(from: c.baseAddress! + f * width, count: width)
                    }
                    batch.backwardChars.withUnsafeMutableBufferPointer {
                        ($0.baseAddress! + slot * width).update(from: c.baseAddress! + r * width, count: width)
                    }
                }
                batch.mask[slot] = true
                any = true
                offsets[b] = k + 1
                if offsets[b] == sentence.predictionCount { current[b] = nil }
            }
        }
        return any ? batch : nil
    }
}
