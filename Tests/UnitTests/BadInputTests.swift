import Foundation
import Framework
import Models
import Testing
import TestSupport

/// Drives the real `elmo` binary with bad inputs: each must exit 2 with one line on stderr that names
/// the file or flag and the problem — never a crash trace, never silent garbage.
@Suite("Bad inputs to the elmo binary", .serialized)
struct BadInputTests {
    typealias Outcome = ProcessOutcome

    static var binary: String {
        let directory = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        return directory.appendingPathComponent("elmo").path
    }

    static func run(_ arguments: [String]) throws -> Outcome { try runToEnd(binary, arguments) }

    /// Exit 2, exactly one stderr line, containing every `mentions`.
    static func expectRejected(_ arguments: [String], mentions: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let outcome = try run(arguments)
        let lines = outcome.stderr.split(separator: "\n")
        #expect(outcome.status == 2, "\(arguments): exit \(outcome.status), stderr \(outcome.stderr)", sourceLocation: sourceLocation)
        #expect(lines.count == 1, "\(arguments): stderr has \(lines.count) lines: \(outcome.stderr)", sourceLocation: sourceLocation)
        for m in mentions {
            #expect(outcome.stderr.contains(m), "\(arguments): stderr does not mention '\(m)': \(outcome.stderr)", sourceLocation: sourceLocation)
        }
    }

    static let directory: String = {
        let d = RepositoryPaths.temporaryDirectory("bad-inputs")
        let fm = FileManager.default
        precondition(fm.createFile(atPath: "\(d)/empty.txt", contents: Data()), "could not write a test fixture")
        precondition(fm.createFile(atPath: "\(d)/garbage.bin", contents: Data((0..<4096).map { UInt8(($0 * 7919) % 256) })), "could not write a test fixture")
        precondition(fm.createFile(atPath: "\(d)/latin1.txt", contents: Data("good line\ncaf\u{E9} line\n".utf8.map { $0 }) + Data([0x63, 0x61, 0x66, 0xE9, 0x0A])), "could not write a test fixture")
        try! "the\nof\nthe\n".write(toFile: "\(d)/duplicate-vocab.txt", atomically: true, encoding: .utf8)
        try! "a b c\n".write(toFile: "\(d)/corpus.txt", atomically: true, encoding: .utf8)
        try! (String(repeating: "x", count: 10_000) + " b\n").write(toFile: "\(d)/long-token.txt", atomically: true, encoding: .utf8)
        try! #"{"lstm": {"dim": 16, "n_layers": 2}, "char_cnn": {"embedding": {"dim": 4}, "filters": [[1, 4]], "n_highway": 1}}"#
            .write(toFile: "\(d)/missing-key.json", atomically: true, encoding: .utf8)
        try! #"{"lstm": {"dim": 16, "projection_dim": -8, "n_layers": 2}, "char_cnn": {"embedding": {"dim": 4}, "filters": [[1, 4]], "n_highway": 1}}"#
            .write(toFile: "\(d)/negative.json", atomically: true, encoding: .utf8)
        try! "hello\n".write(toFile: "\(d)/w2v-header.txt", atomically: true, encoding: .utf8)
        try! "2 3\na 0.1 0.2 0.3\nb 0.1\n".write(toFile: "\(d)/w2v-dims.txt", atomically: true, encoding: .utf8)
        // A real checkpoint of a small model, and damaged copies of it.
        var config = PretrainConfig(trainPattern: "\(d)/corpus.txt", options: PretrainTests.options, saveDirectory: "\(d)/ckpt")
        config.batchSize = 2; config.unrollSteps = 3; config.maxSteps = 1
        let trainer = try! Pretrainer(config: config, vocabulary: try! Vocabulary(tokens: ["a", "b"]), optimizer: try! PretrainTests.adagrad(), resumeFrom: nil)
        trainer.log = { _ in }
        try! trainer.run()
        let bytes = try! Files.readBytes("\(d)/ckpt/final.safetensors", role: "test")
        precondition(fm.createFile(atPath: "\(d)/ckpt/truncated.safetensors", contents: Data(bytes.prefix(bytes.count - 100))), "could not write a test fixture")
        var corrupted = bytes
        for i in 8..<40 { corrupted[i] = 0x7B }
        precondition(fm.createFile(atPath: "\(d)/ckpt/corrupted.safetensors", contents: Data(corrupted)), "could not write a test fixture")
        return d
    }()

    @Test func missingEmptyDirectoryAndUnmatchedPaths() throws {
        let d = Self.directory
        try Self.expectRejected(["vocab", "--train-data-path", "\(d)/nope/*.txt"], mentions: ["--train-data-path", "matches no file"])
        try Self.expectRejected(["vocab", "--train-data-path", "\(d)/empty.txt"], mentions: ["empty.txt", "no tokens"])
        try Self.expectRejected(["pretrain", "--train-data-path", "\(d)/corpus.txt", "--vocab-file", d, "--max-steps", "1"],
                                mentions: ["vocab file", "is a directory"])
        try Self.expectRejected(["pretrain", "--train-data-path", "\(d)/empty.txt", "--vocab-file", "\(d)/duplicate-vocab.txt"],
                                mentions: ["duplicate-vocab.txt line 3", "duplicate"])
        try Self.expectRejected(["eval", "--init-from-ckpt", "\(d)/missing"], mentions: ["missing.safetensors", "no such file"])
    }

    @Test func corpusContents() throws {
        let d = Self.directory
        try Self.expectRejected(["vocab", "--train-data-path", "\(d)/garbage.bin"], mentions: ["garbage.bin line 1"])
        try Self.expectRejected(["vocab", "--train-data-path", "\(d)/latin1.txt"], mentions: ["latin1.txt line 3", "not valid UTF-8"])
        // A 10,000-byte token is a word like any other (its characters are cut at 48 bytes).
        let long = try Self.run(["vocab", "--train-data-path", "\(d)/long-token.txt", "--output", "\(d)/long-vocab.txt"])
        #expect(long.status == 0, "\(long.stderr)")
    }

    @Test func checkpointsAndOptions() throws {
        let d = Self.directory
        try Self.expectRejected(["eval", "--init-from-ckpt", "\(d)/ckpt/truncated", "--dev-data-path", "\(d)/corpus.txt"],
                                mentions: ["truncated.safetensors"])
        try Self.expectRejected(["eval", "--init-from-ckpt", "\(d)/ckpt/corrupted", "--dev-data-path", "\(d)/corpus.txt"],
                                mentions: ["corrupted.safetensors"])
        try Self.expectRejected(["pretrain", "--train-data-path", "\(d)/corpus.txt", "--init-from-ckpt", "\(d)/ckpt/final",
                                 "--config", "tiny", "--batch-size", "2", "--max-steps", "1", "--save-dir", "\(d)/resumed"],
                                mentions: ["final.safetensors", "tensor", "--config expects"])
        try Self.expectRejected(["pretrain", "--config", "\(d)/missing-key.json", "--train-data-path", "\(d)/corpus.txt"],
                                mentions: ["missing-key.json", "lstm.projection_dim"])
        try Self.expectRejected(["pretrain", "--config", "\(d)/negative.json", "--train-data-path", "\(d)/corpus.txt"],
                                mentions: ["negative.json", "lstm.projection_dim"])
        try Self.expectRejected(["pretrain", "--config", "enormous"], mentions: ["--config enormous"])
        try Self.expectRejected(["pretrain", "--train-data-path", "\(d)/long-token.txt", "--init-from-ckpt", "\(d)/ckpt/final",
                                 "--batch-size", "2", "--unroll-steps", "3", "--max-steps", "2", "--save-dir", "\(d)/resumed"],
                                mentions: ["final.optim.safetensors", "other files (corpus.txt)", "--init-weights-from"])
        try Self.expectRejected(["pretrain", "--init-from-ckpt", "\(d)/ckpt/final", "--init-weights-from", "\(d)/ckpt/final"],
                                mentions: ["--init-from-ckpt", "--init-weights-from"])
        try Self.expectRejected(["data", "text", "--split", "dev", "--output", "\(d)/text.txt"], mentions: ["--split dev"])
    }

    /// `data text` writes the shipped split's test sentences, one per line, creating the output's directory.
    @Test func dataTextWritesTheSplit() throws {
        let output = "\(Self.directory)/made/for/text/test.txt"
        let outcome = try Self.run(["data", "text", "--split", "test", "--output", output])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let lines = try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 1_067 + 1 && lines.last == "", "\(lines.count) lines")
        #expect(outcome.stdout.contains("1067 sentences"))
    }

    /// `data text --corpus` cleans any corpus as rt-polarity is cleaned: lower case, WikiText's `didn 't`
    /// rejoined and split as clean_str does (`did n't`), markup dropped, lines left empty dropped.
    @Test func dataTextCleansACorpus() throws {
        let input = "\(Self.directory)/wiki-like.txt", output = "\(Self.directory)/made/clean/wiki.txt"
        try " = Heading = \n \n He didn 't like the 1 @,@ 000 <unk> , I 'm sure .\n @-@ \n".write(toFile: input, atomically: true, encoding: .utf8)
        let outcome = try Self.run(["data", "text", "--corpus", input, "--output", output])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let text = try String(contentsOfFile: output, encoding: .utf8)
        #expect(text == "heading\nhe did n't like the 1 , 000 unk , i 'm sure\n", "\(text)")
        #expect(outcome.stdout.contains("2 sentences, 14 tokens"), "\(outcome.stdout)")
        try Self.expectRejected(["data", "text", "--corpus", input, "--split", "train", "--output", output], mentions: ["--split train", "--corpus"])
        try Self.expectRejected(["data", "text", "--corpus", "\(Self.directory)/nothing-*.txt", "--output", output],
                                mentions: ["--corpus", "matches no file"])
    }

    @Test func word2vecFiles() throws {
        let d = Self.directory
        let truncated = RepositoryPaths.path("Tests/Golden/Resources/word2vec/truncated.bin")
        for (file, mention) in [("\(d)/w2v-header.txt", "VOCAB_SIZE DIMENSION"), ("\(d)/w2v-dims.txt", "has 1 values, the header says 3"),
                                (truncated, "ends inside the vector")] {
            try Self.expectRejected(["train", "--encoder", "word2vec", "--pretrained-word2vec-file", file, "--epochs", "1"],
                                    mentions: [file, mention])
        }
    }

    @Test func nonsenseFlags() throws {
        try Self.expectRejected(["pretrain", "--batch-size", "0"], mentions: ["--batch-size 0"])
        try Self.expectRejected(["pretrain", "--lr", "-1"], mentions: ["--lr"])
        try Self.expectRejected(["train", "--encoder", "bert"], mentions: ["unknown encoder 'bert'", "elmo, word2vec, random"])
        try Self.expectRejected(["train", "--head", "bow", "--encoder", "random", "--head-option", "pooling=median", "--epochs", "1"],
                                mentions: ["pooling=median", "mean, sum, max"])
        try Self.expectRejected(["train", "--encoder", "concat", "--encoder-option", "parts=random,bert"], mentions: ["unknown encoder 'bert'"])
        try Self.expectRejected(["train", "--lr-schedule", "cosine"], mentions: ["--lr-schedule cosine", "constant, linear"])
        try Self.expectRejected(["train", "--warmup-fraction", "1"], mentions: ["--warmup-fraction 1"])
        try Self.expectRejected(["train", "--encoder-lr-scale", "0"], mentions: ["--encoder-lr-scale 0"])
        try Self.expectRejected(["train", "--frozen-encoder-epochs", "5", "--epochs", "5", "--trainable"], mentions: ["--frozen-encoder-epochs 5", "4"])
        try Self.expectRejected(["train", "--encoder-lr-scale", "0.1"], mentions: ["--encoder-lr-scale 0.1", "needs a trainable encoder"])
        try Self.expectRejected(["embed", "--layers", "middle"], mentions: ["--layers middle"])
        try Self.expectRejected(["embed", "--precision", "fp16"], mentions: ["--precision fp16", "fp32 or bf16"])
        try Self.expectRejected(["pretrain", "--precision", "half", "--max-steps", "1"], mentions: ["--precision half", "fp32 or bf16"])
        try Self.expectRejected(["pretrain", "--epochs", "many"], mentions: ["--epochs"])
        try Self.expectRejected(["frobnicate"], mentions: ["frobnicate"])
    }
}
