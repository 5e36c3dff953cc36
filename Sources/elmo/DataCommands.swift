import ArgumentParser
import CLISupport
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Framework
import Models

/// A published data set: where it lives, its published checksum, what it unpacks to.
struct DataSource {
    var name: String
    var url: String
    var algorithm: String       // "md5" or "sha256", as the publisher gives it
    var digest: String
    var files: [String]         // expected after extraction, relative to --dir
    var summary: String
    var archive: String { URL(string: url)!.lastPathComponent }
}

enum DataCatalog {
    /// PaddleNLP's mirrors and MD5 sums (its examples/language_model/elmo/download_data.sh and README).
    static let sources: [DataSource] = [
        DataSource(name: "rt-polarity", url: "https://paddlenlp.bj.bcebos.com/datasets/movie-review/sentence-polarity-dataset-v1.tar.gz",
                   algorithm: "md5", digest: "0464239d7b14b18d941f54a948c6cb26",
                   files: ["sentence-polarity-dataset-v1/rt-polarity.pos", "sentence-polarity-dataset-v1/rt-polarity.neg"],
                   summary: "sentence polarity v1 (Pang & Lee 2005), with GoogleNews vectors in the same archive"),
        DataSource(name: "googlenews", url: "https://paddlenlp.bj.bcebos.com/datasets/movie-review/sentence-polarity-dataset-v1.tar.gz",
                   algorithm: "md5", digest: "0464239d7b14b18d941f54a948c6cb26",
                   files: ["sentence-polarity-dataset-v1/GoogleNews-vectors-negative300.bin.gz"],
                   summary: "word2vec GoogleNews-vectors-negative300 (inside PaddleNLP's sentence-polarity archive)"),
        DataSource(name: "1b-word", url: "https://paddlenlp.bj.bcebos.com/datasets/1-billion-word.tar.gz",
                   algorithm: "md5", digest: "5f079a9b88ea27585e0539f502ca9327",
                   files: ["1-billion-word/training-tokenized-shuffled", "1-billion-word/heldout-tokenized-shuffled"],
                   summary: "One Billion Word benchmark (Chelba et al. 2013), PaddleNLP's packaging"),
        // Stanford's archive; MD5 as torchvision-era loaders and Paddle's imdb dataset check it.
        DataSource(name: "imdb", url: "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
                   algorithm: "md5", digest: "7c2ac02c03563afcf9b574c7e56c153a",
                   files: ["aclImdb/train/unsup", "aclImdb/test/pos", "imdb/train_unsup.txt"],
                   summary: "Large Movie Review Dataset v1.0 (Maas et al. 2011), rewritten one review per line into DIR/imdb"),
    ]
}

struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data", abstract: "Download and verify the published data sets; prepare pretraining corpora; write rt-polarity as a plain corpus.",
        subcommands: [DataFetch.self, DataVerify.self, DataText.self, DataPrepare.self])
}

/// rt-polarity's sentences as a plain corpus, e.g. to continue pretraining the LM on the task's own
/// (unlabelled) training text before fine-tuning, as ULMFiT does. With `--corpus`, any UTF-8 corpus is
/// passed through the same cleaning instead, so a language model can be pretrained on text tokenized
/// exactly as the classifier will see it (lower case, `does n't`, no `@-@` or `<unk>` markup).
struct DataText: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "text", abstract: "Write rt-polarity's sentences (or a corpus's lines), tokenized as `train` reads them, one per line (no labels).")
    @Option(help: "Directory with rt-polarity.pos/.neg and split-random-state-2020.tsv.") var dataDir = "data/rt-polarity"
    @Option(help: "train | test | all (train and test follow the shipped split; default train).") var split: String?
    @Option(help: "Clean this UTF-8 corpus glob (one sentence per line) instead of rt-polarity; lines left empty are dropped.")
    var corpus: String?
    @Option(help: "Output text file.") var output: String

    func run() throws {
        if corpus != nil, let split { throw InputError("--split \(split): not used with --corpus (give one of them)") }
        try Files.ensureParentDirectory(of: output, role: "--output")
        var sentences = 0, tokens = 0
        // Streamed in 1 MB pieces: a cleaned corpus may be as large as its input.
        try Files.writeAtomically(to: output) { append in
            var buffer: [UInt8] = []
            buffer.reserveCapacity(1 << 20)
            func write(_ line: String) throws {
                buffer.append(contentsOf: line.utf8)
                buffer.append(0x0A)
                sentences += 1
                tokens += line.split(separator: " ").count
                if buffer.count >= 1 << 20 { try buffer.withUnsafeBytes(append); buffer.removeAll(keepingCapacity: true) }
            }
            if let corpus {
                try Self.forEachCleanedLine(of: Corpus(glob: corpus, role: "--corpus")) { try write($0) }
            } else {
                for line in try Self.polarityLines(directory: dataDir, split: split ?? "train") { try write(line) }
            }
            try buffer.withUnsafeBytes(append)
        }
        print("wrote \(output): \(sentences) sentences, \(tokens) tokens")
    }

    static func polarityLines(directory: String, split: String) throws -> [String] {
        let data = try SentencePolarity(directory: directory)
        let indices: [Int]
        switch split {
        case "all": indices = Array(data.sentences.indices)
        case "train", "test":
            guard let train = data.trainIndices, let test = data.testIndices else {
                throw InputError("--split \(split): \(directory)/split-random-state-2020.tsv is missing")
            }
            indices = split == "train" ? train : test
        default: throw InputError("--split \(split): expected train, test or all")
        }
        return indices.map { data.sentences[$0].joined(separator: " ") }
    }

    static func forEachCleanedLine(of corpus: Corpus, _ body: (String) throws -> Void) throws {
        try corpus.forEachSentence { tokens in
            // WikiText and 1B Word split "don't" as `don 't`, which clean_str would leave alone; rejoined,
            // it becomes `do n't` as in rt-polarity.
            var words: [String] = []
            for token in tokens {
                if token == "'t", let last = words.last, last.hasSuffix("n") { words[words.count - 1] += token } else { words.append(token) }
            }
            let cleaned = SentencePolarity.cleanString(words.joined(separator: " "))
            if !cleaned.isEmpty { try body(cleaned) }
        }
    }
}

/// Raw IMDB reviews and/or WikiExtractor articles → a shuffled, sharded pretraining corpus tokenized as the
/// classifier reads rt-polarity, with whole documents held out as an in-domain LM dev set and a vocabulary.
struct DataPrepare: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prepare",
        abstract: "Build a pretraining corpus (1B-Word shard layout, held-out set, vocabulary) from IMDB reviews and/or WikiExtractor output.",
        discussion: """
        --imdb DIR reads DIR/train_pos.txt, train_neg.txt and train_unsup.txt (one review per line, as `elmo data fetch imdb` \
        writes them); IMDB's test reviews are never read. --wikipedia DIR reads WikiExtractor's */wiki_* files. Sentences are \
        split, then cleaned as rt-polarity is (clean_str, lower case).
        """)
    @Option(help: "Folder with IMDB's train_pos.txt, train_neg.txt, train_unsup.txt.") var imdb: String?
    @Option(help: "Folder with WikiExtractor output (AA/wiki_00 …).") var wikipedia: String?
    @Option(help: "Output folder.") var output: String
    @Option(help: "Shard file prefix (default: imdb, wiki, or imdb-wiki).") var name: String?
    @Option(help: "Number of training shards.") var shards = 20
    @Option(help: "Fraction of documents (reviews, articles) held out for LM perplexity.") var heldoutFraction = 0.01
    @Option(help: "Drop sentences shorter than this many tokens.") var minTokens = 3
    @Option(help: "Drop sentences longer than this many tokens.") var maxTokens = 100
    @Option(help: "Vocabulary: keep words seen at least this often in the training shards.") var minCount = 3
    @Option(help: "Seed of the held-out draw and the shuffle.") var seed: UInt64 = 2020

    func run() throws {
        var sources: [PretrainingSource] = []
        if let imdb { sources.append(.imdb(directory: imdb)) }
        if let wikipedia { sources.append(.wikiExtractor(directory: wikipedia)) }
        var builder = PretrainingCorpusBuilder(sources: sources, output: output)
        builder.name = name ?? sources.map(\.name).joined(separator: "-")
        builder.shards = shards
        builder.heldoutFraction = heldoutFraction
        builder.minTokens = minTokens
        builder.maxTokens = maxTokens
        builder.minCount = minCount
        builder.seed = seed
        let started = Date()
        let summary = try builder.build(log: { printError($0) })
        print("""
        wrote \(output): \(summary.documents) documents (\(summary.heldoutDocuments) held out); \
        training \(summary.trainSentences) sentences, \(summary.trainTokens) tokens in \(shards) shards; \
        held out \(summary.heldoutSentences) sentences, \(summary.heldoutTokens) tokens; \
        dropped \(summary.droppedShort) short and \(summary.droppedLong) long sentences; \
        vocabulary \(summary.vocabularySize) tokens at min count \(minCount) (\(Int(Date().timeIntervalSince(started))) s)
        pretrain with: --train-data-path "\(output)/training-tokenized-shuffled/*" --vocab-file \(summary.vocabularyFile)
        evaluate with: --dev-data-path \(summary.heldoutFile)
        """)
    }
}

struct SourceOptions: ParsableArguments {
    @Argument(help: "rt-polarity | googlenews | 1b-word | imdb (or give --url with --md5/--sha256).") var name: String?
    @Option(help: "Directory to download and extract into.") var dir = "data/downloads"
    @Option(help: "Another URL (a mirror, or any file).") var url: String?
    // With a data set's name, --md5/--sha256 replace its published checksum (a mirror's own packaging).
    @Option(help: "Expected MD5 of the download (with --url).") var md5: String?
    @Option(help: "Expected SHA-256 of the download (with --url).") var sha256: String?

    func source() throws -> DataSource {
        guard md5 == nil || sha256 == nil else { throw InputError("--md5 and --sha256: give one of them") }
        if let name, let known = DataCatalog.sources.first(where: { $0.name == name }) {
            var source = known
            if let url { source.url = url }
            // A mirror that repackaged the files has its own checksum.
            if let md5 { source.algorithm = "md5"; source.digest = md5.lowercased() }
            if let sha256 { source.algorithm = "sha256"; source.digest = sha256.lowercased() }
            return source
        }
        if let name { throw InputError("data set '\(name)' is unknown (known: \(DataCatalog.sources.map(\.name).joined(separator: ", ")))") }
        guard let url, URL(string: url)?.scheme != nil else { throw InputError("give a data set name, or --url with --md5 or --sha256") }
        guard (md5 == nil) != (sha256 == nil) else { throw InputError("--url needs exactly one of --md5 and --sha256") }
        return DataSource(name: "custom", url: url, algorithm: md5 == nil ? "sha256" : "md5", digest: (md5 ?? sha256!).lowercased(),
                          files: [], summary: url)
    }
}

/// Checks the archive's published checksum; a mismatch is an input error naming the file and both sums.
func verifyArchive(_ path: String, _ source: DataSource) throws {
    let actual = try Checksum.file(path, algorithm: source.algorithm)
    guard actual == source.digest else {
        throw InputError("\(path): \(source.algorithm) \(actual), expected \(source.digest) (corrupt or incomplete download; delete it and fetch again)")
    }
}

struct DataFetch: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fetch", abstract: "Download (resuming a partial download), verify the published checksum, extract.")
    @OptionGroup var options: SourceOptions

    func run() throws {
        let source = try options.source()
        try Files.ensureDirectory(options.dir, role: "--dir")
        let archive = "\(options.dir)/\(source.archive)"
        if !FileManager.default.fileExists(atPath: archive) {
            try Downloader.download(source.url, to: archive)
        } else {
            printError("\(archive) exists; verifying it")
        }
        try verifyArchive(archive, source)
        printError("\(archive): \(source.algorithm) verified")
        if archive.hasSuffix(".tar.gz") || archive.hasSuffix(".tgz") {
            let tar = Process()
            tar.executableURL = URL(fileURLWithPath: "/bin/tar")
            tar.arguments = ["-xzf", archive, "-C", options.dir]
            try tar.run()
            tar.waitUntilExit()
            guard tar.terminationStatus == 0 else { throw RuntimeFailure("\(archive): tar could not extract it") }
        }
        if source.name == "imdb" {
            let counts = try IMDBReviews.writeLines(from: "\(options.dir)/aclImdb", to: "\(options.dir)/imdb")
            printError("\(options.dir)/imdb: " + IMDBReviews.splits.map { "\($0.0) \(counts[$0.0] ?? 0)" }.joined(separator: ", "))
        }
        for file in source.files where !FileManager.default.fileExists(atPath: "\(options.dir)/\(file)") {
            throw InputError("\(archive): does not contain \(file)")
        }
        print("\(source.name): ready in \(options.dir)")
    }
}

struct DataVerify: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "verify", abstract: "Check a downloaded data set against its published checksum.")
    @OptionGroup var options: SourceOptions

    func run() throws {
        let source = try options.source()
        let archive = "\(options.dir)/\(source.archive)"
        try Files.requireRegularFile(archive, role: "archive")
        try verifyArchive(archive, source)
        for file in source.files where !FileManager.default.fileExists(atPath: "\(options.dir)/\(file)") {
            throw InputError("\(options.dir)/\(file): missing (run `elmo data fetch \(source.name) --dir \(options.dir)`)")
        }
        print("\(source.name): \(archive) \(source.algorithm) ok")
    }
}

/// HTTP(S) download into `path.part`, resumed with a Range request when a part file exists, then
/// renamed into place.
final class Downloader: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    let partPath: String
    let handle: FileHandle
    var status = 0
    var failure: Error?
    var received: Int64 = 0
    var expected: Int64 = -1
    let done = DispatchSemaphore(value: 0)
    let progress = ProgressLine(total: nil, unit: "bytes")
    let start = Date()

    init(partPath: String) throws {
        self.partPath = partPath
        if !FileManager.default.fileExists(atPath: partPath) { _ = FileManager.default.createFile(atPath: partPath, contents: nil) }
        guard let h = FileHandle(forWritingAtPath: partPath) else { throw RuntimeFailure("cannot write \(partPath)") }
        handle = h
    }

    static func download(_ url: String, to path: String) throws {
        guard let remote = URL(string: url) else { throw InputError("--url \(url): not a URL") }
        let part = path + ".part"
        let loader = try Downloader(partPath: part)
        let existing = (try? FileManager.default.attributesOfItem(atPath: part)[.size] as? Int64) ?? 0
        var request = URLRequest(url: remote)
        if existing > 0 {
            request.setValue("bytes=\(existing)-", forHTTPHeaderField: "Range")
            printError("resuming \(url) at byte \(existing)")
        } else {
            printError("downloading \(url)")
        }
        let session = URLSession(configuration: .ephemeral, delegate: loader, delegateQueue: nil)
        session.dataTask(with: request).resume()
        loader.done.wait()
        session.finishTasksAndInvalidate()
        try? loader.handle.close()
        loader.progress.clear()
        if let failure = loader.failure {
            throw RuntimeFailure("\(url): download interrupted after \(existing + loader.received) bytes (\(failure.localizedDescription)); run the same command again to resume")
        }
        guard loader.status == 200 || loader.status == 206 else {
            throw InputError("\(url): the server answered HTTP \(loader.status)")
        }
        guard rename(part, path) == 0 else { throw RuntimeFailure("cannot rename \(part) to \(path)") }
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
        status = (response as? HTTPURLResponse)?.statusCode ?? 0
        expected = response.expectedContentLength
        if status == 200 { try? handle.truncate(atOffset: 0) }   // the server ignored Range: start over
        else { _ = try? handle.seekToEnd() }
        completionHandler(status == 200 || status == 206 ? .allow : .cancel)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        handle.write(data)
        received += Int64(data.count)
        progress.update(done: Int(received), rate: 0, detail: expected > 0 ? "of \(expected)" : "")
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        if let error, status == 200 || status == 206 { failure = error }
        if error == nil, expected > 0, received < expected, status == 200 || status == 206 {
            failure = RuntimeFailure("connection closed early")
        }
        done.signal()
    }
}
