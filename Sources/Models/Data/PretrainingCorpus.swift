import Foundation
import Framework
#if canImport(Glibc)
import Glibc
#endif

/// Raw prose → sentences tokenized exactly as the classifier reads rt-polarity (Kim's `clean_str`, lower
/// case), so that a language model pretrained on them sees the words the downstream task will show it.
///
/// `clean_str` drops periods, so sentences are split *before* cleaning: after a run of `.`, `!`, `?`
/// (with any closing quotes or brackets) that is followed by white space, unless the word before a
/// single period is a common abbreviation ("Mr.", "vs.") or one letter (an initial). HTML line breaks
/// (`<br />`, as in IMDB reviews) end a sentence too. Only `\n` ends a line: U+0085 and U+2028 are text
/// here, and `clean_str` turns them into spaces.
public enum PretrainingText {
    static let abbreviations: Set<String> = [
        "mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "vs", "etc", "mt", "vol", "fig", "co", "inc", "ltd",
        "gen", "col", "lt", "sgt", "capt", "rev", "gov", "sen", "rep", "jan", "feb", "aug", "sept", "oct", "nov", "dec",
    ]
    static let closers: Set<Unicode.Scalar> = ["\"", "'", ")", "]", "\u{201D}", "\u{2019}", "\u{00BB}"]

    /// The sentences of one line of prose, uncleaned (HTML breaks already removed).
    public static func splitSentences(_ text: String) -> [String] {
        var sentences: [String] = []
        var text = text
        for tag in ["<br />", "<br/>", "<br>", "<BR />", "<BR>"] where text.contains(tag) {
            text = text.replacingOccurrences(of: tag, with: "\n")
        }
        let scalars = Array(text.unicodeScalars)
        var start = 0
        var i = 0
        func emit(_ end: Int) {
            if end > start {
                var s = String.UnicodeScalarView()
                s.append(contentsOf: scalars[start..<end])
                let sentence = String(s)
                if sentence.contains(where: { !$0.isWhitespace }) { sentences.append(sentence) }
            }
            start = end
        }
        while i < scalars.count {
            let c = scalars[i]
            if c == "\n" {
                emit(i)
                start = i + 1
                i += 1
                continue
            }
            guard c == "." || c == "!" || c == "?" else { i += 1; continue }
            var end = i
            while end < scalars.count, scalars[end] == "." || scalars[end] == "!" || scalars[end] == "?" { end += 1 }
            let punctuationRun = end - i
            while end < scalars.count, closers.contains(scalars[end]) { end += 1 }
            guard end == scalars.count || scalars[end].properties.isWhitespace else { i = end; continue }
            if c == ".", punctuationRun == 1, isAbbreviation(before: i, in: scalars) { i = end; continue }
            emit(end)
            i = end
        }
        emit(scalars.count)
        return sentences
    }

    /// Whether the word ending just before `index` is an abbreviation or a single letter.
    static func isAbbreviation(before index: Int, in scalars: [Unicode.Scalar]) -> Bool {
        var begin = index
        while begin > 0, scalars[begin - 1].properties.isAlphabetic { begin -= 1 }
        let length = index - begin
        if length == 0 { return false }
        if length == 1 { return true }
        guard length <= 5 else { return false }
        var word = String.UnicodeScalarView()
        word.append(contentsOf: scalars[begin..<index])
        return abbreviations.contains(String(word).lowercased())
    }

    /// `text` split into sentences, each cleaned as rt-polarity is and split into tokens; sentences
    /// that clean to nothing are dropped.
    public static func tokenizedSentences(_ text: String) -> [[Substring]] {
        splitSentences(text).compactMap { sentence in
            let tokens = SentencePolarity.cleanString(sentence).split(separator: " ")
            return tokens.isEmpty ? nil : tokens
        }
    }

    /// WikiExtractor's markup lines: `<doc …>` and `</doc>` are markup, the line after `<doc …>` is the title,
    /// and a line of at most six words ending in a period, with no other punctuation, is a section heading.
    public static func isWikiExtractorHeading(_ line: String) -> Bool {
        guard line.hasSuffix("."), !line.hasSuffix("..") else { return false }
        let body = line.dropLast()
        if body.contains(where: { ".!?:;,".contains($0) }) { return false }
        return body.split(separator: " ").count <= 6
    }
}

/// Where the text of a pretraining corpus comes from; each source yields documents (a review, an
/// article), which stay whole on one side of the train / held-out split.
public enum PretrainingSource: Sendable, Equatable {
    /// A folder in the IMDB layout: `train_pos.txt`, `train_neg.txt`, `train_unsup.txt`, one review per line.
    /// `test_*.txt` are never read: the IMDB test reviews must stay out of pretraining.
    case imdb(directory: String)
    /// WikiExtractor output: `*/wiki_*` files under the folder (`<doc>` … `</doc>` per article).
    case wikiExtractor(directory: String)

    /// The command-line flag that names this source, for errors.
    public var flag: String {
        switch self {
        case .imdb: "--imdb"
        case .wikiExtractor: "--wikipedia"
        }
    }

    public static let imdbTrainingFiles = ["train_pos.txt", "train_neg.txt", "train_unsup.txt"]

    public var name: String {
        switch self {
        case .imdb: "imdb"
        case .wikiExtractor: "wiki"
        }
    }

    /// The input files, sorted; a missing file or an empty folder is an input error naming the flag.
    public func files() throws -> [String] {
        switch self {
        case .imdb(let directory):
            let files = Self.imdbTrainingFiles.map { "\(directory)/\($0)" }
            for file in files { try Files.requireRegularFile(file, role: "\(flag) file") }
            return files
        case .wikiExtractor(let directory):
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw InputError("--wikipedia \(directory): not a directory")
            }
            let all = (FileManager.default.enumerator(atPath: directory)?.allObjects as? [String]) ?? []
            let files = all.filter { ($0 as NSString).lastPathComponent.hasPrefix("wiki_") }.sorted().map { "\(directory)/\($0)" }
            guard !files.isEmpty else { throw InputError("--wikipedia \(directory): holds no WikiExtractor files (*/wiki_*)") }
            return files
        }
    }

    /// Calls `body` with every document's lines of prose (markup, titles and headings removed).
    public func forEachDocument(_ body: ([String]) throws -> Void) throws {
        for file in try files() {
            let reader = try LineReader(path: file, role: "\(flag) file")
            switch self {
            case .imdb:
                while let line = try reader.nextText() {
                    if !line.allSatisfy(\.isWhitespace) { try body([line]) }
                }
            case .wikiExtractor:
                var paragraphs: [String] = []
                var expectTitle = false
                while let line = try reader.nextText() {
                    if line.hasPrefix("<doc ") { paragraphs.removeAll(); expectTitle = true; continue }
                    if line == "</doc>" { if !paragraphs.isEmpty { try body(paragraphs) }; paragraphs.removeAll(); continue }
                    if expectTitle { expectTitle = false; continue }
                    let trimmed = line.trimmingCharacters(in: .whitespaces)
                    if trimmed.isEmpty || PretrainingText.isWikiExtractorHeading(trimmed) { continue }
                    paragraphs.append(trimmed)
                }
                if !paragraphs.isEmpty { try body(paragraphs) }
            }
        }
    }
}

/// Builds a pretraining corpus in the One Billion Word layout from raw sources, in bounded memory:
///
///     OUT/training-tokenized-shuffled/NAME.en-00001-of-000NN   one tokenized sentence per line, shuffled
///     OUT/heldout-tokenized-shuffled/NAME.en.heldout-00000-of-00001   whole documents held out for LM perplexity
///     OUT/vocab.txt                                                     bilm-tf vocabulary of the training shards
///     OUT/manifest.json                                                 options, sources with SHA-256, counts
///
/// Sentences are scattered to a random shard as they stream in, then each shard (a fraction of the corpus)
/// is shuffled in memory and written atomically: memory holds one shard and the word counts, never the corpus.
public struct PretrainingCorpusBuilder {
    public var sources: [PretrainingSource]
    public var output: String
    public var name = "corpus"
    public var shards = 20
    /// Fraction of documents (reviews, articles) held out as the LM dev set.
    public var heldoutFraction = 0.01
    /// Sentences with fewer or more tokens than this (after cleaning) are dropped.
    public var minTokens = 3
    public var maxTokens = 100
    public var minCount = 3
    public var seed: UInt64 = 2020

    public init(sources: [PretrainingSource], output: String) {
        self.sources = sources
        self.output = output
    }

    public struct Summary: Sendable {
        public var documents = 0, heldoutDocuments = 0
        public var trainSentences = 0, trainTokens = 0
        public var heldoutSentences = 0, heldoutTokens = 0
        public var droppedShort = 0, droppedLong = 0
        public var vocabularySize = 0
        public var trainingFiles: [String] = []
        public var heldoutFile = ""
        public var vocabularyFile = ""
    }

    public static func shardName(_ name: String, _ index: Int, of count: Int) -> String {
        "\(name).en-\(String(format: "%05d", index + 1))-of-\(String(format: "%05d", count))"
    }

    public func validate() throws {
        guard !sources.isEmpty else { throw InputError("no source given (--imdb DIR and/or --wikipedia DIR)") }
        guard (1...10_000).contains(shards) else { throw InputError("--shards \(shards): expected 1 to 10000") }
        guard heldoutFraction >= 0, heldoutFraction < 1 else { throw InputError("--heldout-fraction \(heldoutFraction): expected 0 ≤ f < 1") }
        guard minTokens >= 1 else { throw InputError("--min-tokens \(minTokens): expected at least 1") }
        guard maxTokens >= minTokens else { throw InputError("--max-tokens \(maxTokens): below --min-tokens \(minTokens)") }
        guard minCount >= 1 else { throw InputError("--min-count \(minCount): expected at least 1") }
        guard name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }), !name.isEmpty else {
            throw InputError("--name \(name): use letters, digits, - and _ only")
        }
        for source in sources { _ = try source.files() }
    }

    public func build(log: (String) -> Void = { _ in }) throws -> Summary {
        try validate()
        let trainDirectory = "\(output)/training-tokenized-shuffled"
        let heldoutDirectory = "\(output)/heldout-tokenized-shuffled"
        try Files.ensureDirectory(trainDirectory, role: "--output")
        try Files.ensureDirectory(heldoutDirectory, role: "--output")
        var summary = Summary()
        summary.trainingFiles = (0..<shards).map { "\(trainDirectory)/\(Self.shardName(name, $0, of: shards))" }
        summary.heldoutFile = "\(heldoutDirectory)/\(name).en.heldout-00000-of-00001"
        summary.vocabularyFile = "\(output)/vocab.txt"

        // 1. Scatter: every sentence to a random shard's scratch file (the held-out set keeps document order).
        let scratch = summary.trainingFiles.map { "\($0).scatter-\(getpid())" } + ["\(summary.heldoutFile).scatter-\(getpid())"]
        let writers = try scratch.map { try BufferedFileWriter(path: $0) }
        defer { for path in scratch { unlink(path) } }
        // Two generators: which documents are held out must not depend on how many sentences the others have.
        var heldoutDraw = SeededRandom(seed: seed)
        var rng = SeededRandom(seed: seed &+ 1)
        var counts: [String: Int] = [:]
        for source in sources {
            log("reading \(source.name) (\(try source.files().count) files)")
            try source.forEachDocument { paragraphs in
                summary.documents += 1
                let heldout = Double(heldoutDraw.next() >> 11) / Double(1 << 53) < heldoutFraction
                if heldout { summary.heldoutDocuments += 1 }
                for paragraph in paragraphs {
                    for tokens in PretrainingText.tokenizedSentences(paragraph) {
                        if tokens.count < minTokens { summary.droppedShort += 1; continue }
                        if tokens.count > maxTokens { summary.droppedLong += 1; continue }
                        let line = tokens.joined(separator: " ")
                        if heldout {
                            summary.heldoutSentences += 1
                            summary.heldoutTokens += tokens.count
                            try writers[shards].writeLine(line)
                        } else {
                            summary.trainSentences += 1
                            summary.trainTokens += tokens.count
                            for token in tokens { counts[String(token), default: 0] += 1 }
                            try writers[Int(rng.next() % UInt64(shards))].writeLine(line)
                        }
                    }
                }
                if summary.documents % 10_000 == 0 {
                    log("\(summary.documents) documents, \(summary.trainTokens) training tokens")
                }
            }
        }
        for writer in writers { try writer.close() }
        guard summary.trainSentences > 0 else {
            throw InputError("the sources hold no sentence of \(minTokens)–\(maxTokens) tokens outside the held-out set")
        }

        // 2. Shuffle each shard in memory and write it atomically; the held-out set is copied in order.
        for index in 0..<shards {
            var lines = try Files.readBytes(scratch[index], role: "scratch shard").split(separator: 0x0A)
            rng.shuffle(&lines)
            try Files.writeAtomically(to: summary.trainingFiles[index]) { append in
                var buffer: [UInt8] = []
                buffer.reserveCapacity(1 << 20)
                for line in lines {
                    buffer.append(contentsOf: line)
                    buffer.append(0x0A)
                    if buffer.count >= 1 << 20 { try buffer.withUnsafeBytes(append); buffer.removeAll(keepingCapacity: true) }
                }
                try buffer.withUnsafeBytes(append)
            }
        }
        try Files.writeAtomically(Files.readBytes(scratch[shards], role: "scratch held-out set"), to: summary.heldoutFile)

        // 3. Vocabulary of the training shards (bilm-tf's format), from the counts gathered while streaming.
        let vocabulary = try Vocabulary.build(counts: counts, minCount: minCount, maxSize: nil, source: "--output \(output)")
        try Files.writeAtomically(Array(vocabulary.fileText.utf8), to: summary.vocabularyFile)
        summary.vocabularySize = vocabulary.count
        try writeManifest(summary)
        return summary
    }

    func writeManifest(_ summary: Summary) throws {
        var sourceLines: [String] = []
        for source in sources {
            for file in try source.files() {
                let digest = try Checksum.file(file, algorithm: "sha256")
                sourceLines.append("    {\"kind\": \(JSONText.quote(source.name)), \"file\": \(JSONText.quote(file)), \"sha256\": \"\(digest)\"}")
            }
        }
        let text = """
        {
          "name": \(JSONText.quote(name)),
          "tokenization": "clean_str (Kim 2014) lower-cased, sentences split before cleaning",
          "options": {"shards": \(shards), "heldout_fraction": \(heldoutFraction), "min_tokens": \(minTokens), "max_tokens": \(maxTokens), "min_count": \(minCount), "seed": \(seed)},
          "documents": \(summary.documents), "heldout_documents": \(summary.heldoutDocuments),
          "train_sentences": \(summary.trainSentences), "train_tokens": \(summary.trainTokens),
          "heldout_sentences": \(summary.heldoutSentences), "heldout_tokens": \(summary.heldoutTokens),
          "dropped_short": \(summary.droppedShort), "dropped_long": \(summary.droppedLong),
          "vocabulary_size": \(summary.vocabularySize),
          "sources": [
        \(sourceLines.joined(separator: ",\n"))
          ]
        }

        """
        try Files.writeAtomically(Array(text.utf8), to: "\(output)/manifest.json")
    }
}

/// Appends lines to a new file through a 1 MB buffer (the scatter phase keeps one per shard open).
final class BufferedFileWriter {
    let path: String
    private var file: UnsafeMutablePointer<FILE>?
    private var buffer: [UInt8] = []

    init(path: String) throws {
        guard let file = fopen(path, "wb") else {
            throw RuntimeFailure("cannot create \(path): \(String(cString: strerror(errno)))")
        }
        self.path = path
        self.file = file
        buffer.reserveCapacity(1 << 20)
    }

    deinit { if let file { fclose(file) } }

    func writeLine(_ line: String) throws {
        buffer.append(contentsOf: line.utf8)
        buffer.append(0x0A)
        if buffer.count >= 1 << 20 { try flush() }
    }

    private func flush() throws {
        guard let file else { return }
        let written = buffer.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
        guard written == buffer.count else { throw RuntimeFailure("cannot write \(path): \(String(cString: strerror(errno)))") }
        buffer.removeAll(keepingCapacity: true)
    }

    func close() throws {
        try flush()
        if let file, fclose(file) != 0 { self.file = nil; throw RuntimeFailure("cannot close \(path)") }
        file = nil
    }
}
