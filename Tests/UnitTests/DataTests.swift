import Foundation
import Framework
import Models
import Testing
import TestSupport

@Suite("Data path: characters, vocabulary, corpus, batches")
struct DataTests {
    @Test func characterIDsFollowAllenNLP() {
        let cat = CharacterIDs.encode("cat")
        #expect(Array(cat.prefix(6)) == [259, 100, 98, 117, 260, 261])
        #expect(cat.count == 50 && cat.dropFirst(5).allSatisfy { $0 == 261 })
        #expect(Array(CharacterIDs.encode("<S>").prefix(4)) == [259, 257, 260, 261])
        #expect(Array(CharacterIDs.encode("</S>").prefix(4)) == [259, 258, 260, 261])
        // UTF-8 bytes, not characters: "é" is two ids.
        let accented: [Int32] = [259, 0xC3 + 1, 0xA9 + 1, 260]
        #expect(Array(CharacterIDs.encode("é").prefix(4)) == accented)
        // At most 48 bytes, then the end-of-word id in position 49.
        let long = CharacterIDs.encode(String(repeating: "x", count: 10_000))
        #expect(long[48] == 121 && long[49] == 260)
    }

    func write(_ text: String, _ name: String = "file.txt") throws -> String {
        let path = RepositoryPaths.temporaryDirectory("data") + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func vocabularyFormats() throws {
        let bilm = try Vocabulary(contentsOf: write("<S>\n</S>\n<UNK>\nthe\nof\n"))
        #expect(bilm.tokens == ["<S>", "</S>", "<UNK>", "the", "of"])
        // PaddleNLP's vocab has no specials: they are added in front.
        let paddle = try Vocabulary(contentsOf: write("the\nof\n"))
        #expect(paddle.tokens == ["<S>", "</S>", "<UNK>", "the", "of"])
        #expect(paddle.id("zebra") == paddle.unknownID && paddle.id("<unk>") == paddle.unknownID)
        let path = try write("the\nof\nthe\n")
        #expect(throws: InputError("vocab file \(path) line 3: duplicate entry \"the\" (first on line 1)")) {
            try Vocabulary(contentsOf: path)
        }
        let empty = try write("")
        #expect(throws: InputError("vocab file \(empty): is empty")) { try Vocabulary(contentsOf: empty) }
    }

    @Test func vocabularyBuiltByFrequency() throws {
        let path = try write("b a b <unk> c\n a b\n\n")
        let vocabulary = try Vocabulary.build(from: Corpus(glob: path, role: "corpus"), minCount: 2, maxSize: nil)
        #expect(vocabulary.tokens == ["<S>", "</S>", "<UNK>", "b", "a"])
    }

    @Test func corpusErrors() throws {
        #expect(throws: InputError("--train-data-path /nonexistent/*.txt: matches no file")) {
            try Corpus(glob: "/nonexistent/*.txt", role: "--train-data-path")
        }
        let directory = RepositoryPaths.temporaryDirectory("bad")
        let bad = directory + "/bad.txt"
        #expect(FileManager.default.createFile(atPath: bad, contents: Data([0x61, 0x20, 0xFF, 0xFE, 0x0A])))
        let corpus = try Corpus(glob: bad, role: "corpus")
        #expect(throws: InputError("corpus file \(bad) line 1: not valid UTF-8 text")) {
            try corpus.forEachSentence { _ in }
        }
        #expect(FileManager.default.createFile(atPath: bad, contents: Data([0x61, 0x00, 0x62, 0x0A])))
        #expect(throws: InputError("corpus file \(bad) line 1: contains NUL bytes (a binary file?)")) {
            try corpus.forEachSentence { _ in }
        }
        let empty = directory + "/empty.txt"
        #expect(FileManager.default.createFile(atPath: empty, contents: Data()))
        let vocabulary = try Vocabulary(tokens: ["a"])
        let stream = try SentenceStream(corpus: Corpus(glob: empty, role: "corpus"), vocabulary: vocabulary, seed: 1,
                                        shuffle: true, singlePass: false)
        #expect(throws: InputError("corpus \(empty): contains no lines")) { _ = try stream.next() }
    }

    /// The streaming form of `Files.writeAtomically`: the pieces land in order; a body that throws
    /// leaves the old file whole and no temporary file behind.
    @Test func atomicWritesStreamAndRollBack() throws {
        let directory = RepositoryPaths.temporaryDirectory("atomic")
        let path = directory + "/out.txt"
        try Files.writeAtomically(to: path) { append in
            for piece in ["one ", "two ", "three"] { try Array(piece.utf8).withUnsafeBytes { try append($0) } }
        }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "one two three")
        #expect(throws: InputError("stop")) {
            try Files.writeAtomically(to: path) { append in
                try Array("partial".utf8).withUnsafeBytes { try append($0) }
                throw InputError("stop")
            }
        }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "one two three")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["out.txt"])
    }

    @Test func streamsPackSentencesAndResumeFromAPosition() throws {
        let directory = RepositoryPaths.temporaryDirectory("streams")
        for k in 0..<3 {
            try (0..<5).map { "w\(k) s\($0)" }.joined(separator: "\n").appending("\n")
                .write(toFile: "\(directory)/shard-\(k)", atomically: true, encoding: .utf8)
        }
        let corpus = try Corpus(glob: "\(directory)/shard-*", role: "corpus")
        let vocabulary = try Vocabulary(tokens: ["w0", "w1", "w2"])
        let stream = try SentenceStream(corpus: corpus, vocabulary: vocabulary, seed: 3, shuffle: true, singlePass: false)
        var firstEpoch: [[String]] = []
        for _ in 0..<15 { firstEpoch.append(try stream.next()!.words) }
        #expect(Set(firstEpoch.map { $0.joined(separator: " ") }).count == 15)
        // Each shard is read in order; the epoch visits shards in a seeded order.
        #expect(stream.position.epoch == 0)
        _ = try stream.next()
        #expect(stream.position.epoch == 1)
        // A stream opened at a saved position continues with the same sentences.
        let saved = stream.position
        var expected: [[String]] = []
        for _ in 0..<7 { expected.append(try stream.next()!.words) }
        let reopened = try SentenceStream(corpus: corpus, vocabulary: vocabulary, seed: 3, shuffle: true, singlePass: false, position: saved)
        for sentence in expected { #expect(try reopened.next()!.words == sentence) }

        // Windows: every sentence contributes its words + 1 predictions, forward and backward.
        let single = try SentenceStream(corpus: corpus, vocabulary: vocabulary, seed: 0, shuffle: false, singlePass: true)
        let batcher = StreamBatcher(stream: single, rows: 2, steps: 4)
        var predictions = 0
        while let batch = try batcher.next() { predictions += batch.tokenCount }
        #expect(predictions == 15 * 3)
    }

    @Test func optionsParsing() throws {
        let small = try BiLMOptions.resolve(RepositoryPaths.path("data/elmo-small/elmo_2x1024_128_2048cnn_1xhighway_options.json"))
        #expect(small == BiLMOptions.preset("small"))
        #expect(throws: InputError("src: missing key lstm.dim")) {
            try BiLMOptions.parse(Array(#"{"lstm": {"projection_dim": 4, "n_layers": 2}, "char_cnn": {"embedding": {"dim": 4}, "filters": [[1, 4]], "n_highway": 1}}"#.utf8), source: "src")
        }
        #expect(throws: InputError("src: lstm.dim = -5 must be ≥ 1")) {
            try BiLMOptions.parse(Array(#"{"lstm": {"dim": -5, "projection_dim": 4, "n_layers": 2}, "char_cnn": {"embedding": {"dim": 4}, "filters": [[1, 4]], "n_highway": 1}}"#.utf8), source: "src")
        }
        let text = BiLMOptions.preset("paddle")!.jsonText(vocabularySize: 10)
        #expect(try BiLMOptions.parse(Array(text.utf8), source: "round trip") == BiLMOptions.preset("paddle"))
        #expect(throws: InputError.self) { try BiLMOptions.resolve("huge") }
    }

    @Test func npzMembersAreNumPyArrays() throws {
        let path = RepositoryPaths.temporaryDirectory("npz") + "/out.npz"
        let writer = try NumPy.NPZWriter(path: path)
        try writer.add("0", Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6]))
        try writer.add("1", Tensor(shape: [1, 0, 4]))
        try writer.finish()
        let bytes = try Files.readBytes(path, role: "npz")
        #expect(Array(bytes.prefix(4)) == [0x50, 0x4B, 0x03, 0x04])
        let npy = NumPy.npy(Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6]))
        #expect(npy.count % 64 == 24 && (npy.count - 24) % 64 == 0)   // 64-aligned header + 6 floats
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
    }
}
