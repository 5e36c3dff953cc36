import Foundation
import Framework
import Heads
import Models
import Optimizers
import Testing
import TestSupport

/// An encoder that exists only in this file: each word's vector comes from a small text file of its own
/// (`word v₁ … v_D` per line, words missing from it get zeros). docs/adding-an-encoder.md walks through it.
final class FileTableEncoder: Encoder {
    /// Its one option, declared once: the factory reads it, validation checks it, `elmo list` shows it.
    static let file = PluginOption<String>("file", default: nil, help: "a text file of `word v1 … vD` lines")

    let dimension: Int
    let table: [String: [Float]]
    var parameters: [Parameter<Float>] { [] }   // frozen: nothing to train

    init(path: String) throws {
        let text = try String(decoding: Files.readBytes(path, role: "encoder file-table: file"), as: UTF8.self)
        var table: [String: [Float]] = [:]
        for (number, line) in text.split(separator: "\n").enumerated() {
            let fields = line.split(separator: " ")
            let values = fields.dropFirst().compactMap { Float($0) }
            guard fields.count >= 2, values.count == fields.count - 1 else {
                throw InputError("encoder file-table: file \(path) line \(number + 1): expected a word and numbers")
            }
            table[String(fields[0])] = values
        }
        guard let width = table.values.first?.count, table.values.allSatisfy({ $0.count == width }) else {
            throw InputError("encoder file-table: file \(path): empty, or rows of different lengths")
        }
        self.table = table
        dimension = width
    }

    func prepare(_ sentences: [[String]]) throws {}

    func forward(_ sentences: [[String]], training: Bool, rng: inout SeededRandom) -> EncodedBatch {
        let l = max(sentences.map(\.count).max() ?? 0, 1), d = dimension
        var out = Tensor<Float>(shape: [sentences.count, l, d])
        for (r, sentence) in sentences.enumerated() {
            for (t, word) in sentence.enumerated() {
                if let row = table[word] { out.scalars.replaceSubrange(((r * l + t) * d)..<((r * l + t + 1) * d), with: row) }
            }
        }
        return EncodedBatch(vectors: TokenVectors(vectors: out, lengths: sentences.map(\.count))) { _ in }
    }

    /// The one registration line's factory: read the options, then build.
    static func register(into registries: inout Registries) throws {
        try registries.encoders.register(ComponentInfo(name: "file-table", summary: "word vectors from a small text file",
                                                       options: [file.info])) { options in
            let path = try options.value(of: file)
            return { _ in try FileTableEncoder(path: path) }
        }
    }
}

@Suite("A new encoder, defined in the test target, through elmo train's code path")
struct FileTableEncoderTests {
    static func registries() throws -> Registries {
        var registries = Registries()
        try Models.register(into: &registries)
        try Heads.register(into: &registries)
        try Optimizers.register(into: &registries)
        try FileTableEncoder.register(into: &registries)
        return registries
    }

    @Test func trainsThroughTheClassificationExperiment() throws {
        let d = RepositoryPaths.temporaryDirectory("file-table")
        try "good 1 0\ngreat 1 0.5\nbad 0 1\nawful -0.5 1\nthe 0 0\n".write(toFile: "\(d)/vectors.txt", atomically: true, encoding: .utf8)
        var rng = SeededRandom(seed: 11)
        var sentences: [[String]] = [], labels: [Int] = []
        for _ in 0..<300 {
            let label = rng.integer(below: 2)
            let words = label == 1 ? ["good", "great"] : ["bad", "awful"]
            sentences.append((0..<(2 + rng.integer(below: 4))).map { _ in rng.unitDouble() < 0.7 ? words[rng.integer(below: 2)] : "the" })
            labels.append(label)
        }
        let data = LabelledSentences(sentences: sentences, labels: labels, trainIndices: Array(0..<240), testIndices: Array(240..<300), source: "test data")
        var configuration = ClassificationExperiment.Configuration()
        configuration.encoder = "file-table"
        configuration.encoderOptions = ["file": "\(d)/vectors.txt"]
        configuration.epochs = 15
        configuration.learningRate = 0.01
        configuration.devFraction = 0.1
        var experiment = ClassificationExperiment(configuration: configuration, registries: try Self.registries(), data: data)
        experiment.log = { _ in }
        let report = try experiment.run()
        #expect(report.testAccuracy > 0.9, "\(report.testAccuracies)")
        #expect(report.devAccuracy != nil && report.history.count == 15)
        #expect(report.summaryJSON.contains("\"encoder\":\"file-table\""))
        // Its option is checked like any other: required, and listed.
        configuration.encoderOptions = [:]
        let missing = ClassificationExperiment(configuration: configuration, registries: try Self.registries(), data: data)
        #expect(throws: InputError("encoder file-table: option file is required (a text file of `word v1 … vD` lines)")) { try missing.run() }
        #expect(try Self.registries().listing().contains("file: a text file of `word v1 … vD` lines"))
    }

    /// `--fold K` runs fold K alone with the accuracy it gets in the full cross-validation, so the folds of a long
    /// table can run in separate processes (sessions) and be joined.
    @Test func aFoldRunAloneGetsItsAccuracyInTheFullRun() throws {
        let d = RepositoryPaths.temporaryDirectory("file-table-folds")
        try "good 1 0\ngreat 1 0.5\nbad 0 1\nawful -0.5 1\nthe 0 0\n".write(toFile: "\(d)/vectors.txt", atomically: true, encoding: .utf8)
        var rng = SeededRandom(seed: 12)
        var sentences: [[String]] = [], labels: [Int] = []
        for _ in 0..<120 {
            let label = rng.integer(below: 2)
            // Noisy words, so the folds' accuracies differ.
            let words = rng.unitDouble() < 0.8 ? (label == 1 ? ["good", "great"] : ["bad", "awful"]) : (label == 1 ? ["bad", "awful"] : ["good", "great"])
            sentences.append((0..<(1 + rng.integer(below: 3))).map { _ in rng.unitDouble() < 0.6 ? words[rng.integer(below: 2)] : "the" })
            labels.append(label)
        }
        let data = LabelledSentences(sentences: sentences, labels: labels, trainIndices: nil, testIndices: nil, source: "test data")
        var configuration = ClassificationExperiment.Configuration()
        configuration.encoder = "file-table"
        configuration.encoderOptions = ["file": "\(d)/vectors.txt"]
        configuration.epochs = 3
        configuration.devFraction = 0.1
        configuration.folds = 4
        func run(_ c: ClassificationExperiment.Configuration) throws -> ClassificationExperiment.Report {
            var experiment = ClassificationExperiment(configuration: c, registries: try Self.registries(), data: data)
            experiment.log = { _ in }
            return try experiment.run()
        }
        let full = try run(configuration)
        #expect(full.testAccuracies.count == 4 && full.foldNumbers.isEmpty)
        #expect(Set(full.testAccuracies).count > 1, "the folds should differ for this test to mean anything: \(full.testAccuracies)")
        for subset in [[3], [4, 1]] {
            configuration.onlyFolds = subset
            let part = try run(configuration)
            #expect(part.foldNumbers == subset.sorted())
            #expect(part.testAccuracies == subset.sorted().map { full.testAccuracies[$0 - 1] }, "folds \(subset)")
            #expect(part.devAccuracies == subset.sorted().map { full.devAccuracies[$0 - 1] }, "folds \(subset)")
            #expect(part.summaryJSON.contains("\"fold_numbers\":\(subset.sorted())".replacingOccurrences(of: " ", with: "")))
        }
        configuration.onlyFolds = [5]
        #expect(throws: ParameterError("onlyFolds", 5, "must be from 1 to folds (4)")) { try run(configuration) }
        configuration.folds = 0
        configuration.onlyFolds = [1]
        #expect(throws: ParameterError("onlyFolds", 1, "needs folds (cross-validation)")) { try run(configuration) }
    }
}
