import Foundation
import Framework
import Interop
import Models
import Testing
import TestSupport

/// `elmo import-allennlp`: bilm-tf weight files written by h5py, embedded by our ELMoEmbedder, against an
/// independent numpy reference that reads the TensorFlow layout directly (generate/allennlp_reference.py).
@Suite("AllenNLP weight import matches the numpy reference")
struct AllenNLPImportTests {
    static let directory = RepositoryPaths.path("Tests/Golden/Resources/allennlp")
    static let tolerance: Float = 1e-5

    static func sentences() throws -> [[String]] {
        try String(contentsOfFile: "\(directory)/sentences.txt", encoding: .utf8)
            .split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
    }

    func check(stateful: Bool) throws {
        let output = RepositoryPaths.temporaryDirectory("allennlp") + "/imported"
        _ = try AllenNLPWeights.importCheckpoint(optionsPath: "\(Self.directory)/options.json",
                                                 weightsPath: "\(Self.directory)/weights.hdf5", output: output)
        let reference = try SafeTensors.read(path: "\(Self.directory)/reference.safetensors")
        let batchSize = Int(reference.metadata["batch_size"] ?? "") ?? 0
        #expect(batchSize == 3)
        // Through the checkpoint file, as `elmo embed --init-from-ckpt` reads it.
        let embedder = try ELMoEmbedder(checkpoint: output, stateful: stateful, batchSize: batchSize)
        let sentences = try Self.sentences()
        let vectors = embedder.encode(sentences)
        for (k, actual) in vectors.enumerated() {
            let name = "\(stateful ? "stateful" : "stateless")_\(k)"
            let expected = try #require(reference[name]).floatingPoint(Float.self, name: name, source: "reference")
            #expect(actual.shape == expected.shape, "\(name): shape \(actual.shape) vs \(expected.shape)")
            let worst = zip(actual.scalars, expected.scalars).map { abs($0 - $1) }.max() ?? .infinity
            #expect(worst <= Self.tolerance, "\(name): max |Δ| \(worst)")
        }
    }

    @Test("Stateless embeddings (zero state per sentence)")
    func stateless() throws { try check(stateful: false) }

    @Test("Stateful embeddings carry each batch row's state, as AllenNLP's ElmoEmbedder")
    func stateful() throws { try check(stateful: true) }

    /// bf16 per-step products (a documented tolerance: 2 % of the largest value, direction to 1e-4), or on a CPU
    /// without AVX512-BF16 or AMX a one-line refusal.
    @Test("bf16 embeddings stay within bfloat16's rounding of the reference")
    func bfloat16() throws {
        let output = RepositoryPaths.temporaryDirectory("allennlp-bf16") + "/imported"
        _ = try AllenNLPWeights.importCheckpoint(optionsPath: "\(Self.directory)/options.json",
                                                 weightsPath: "\(Self.directory)/weights.hdf5", output: output)
        guard PackedMatmul.bfloat16Available else {
            #expect(throws: InputError("precision bf16: needs a CPU with AVX512-BF16 or AMX; this one has \(PackedMatmul.isaName) (use fp32)")) {
                _ = try ELMoEmbedder(checkpoint: output, batchSize: 3, precision: .bf16)
            }
            return
        }
        let reference = try SafeTensors.read(path: "\(Self.directory)/reference.safetensors")
        let vectors = try ELMoEmbedder(checkpoint: output, batchSize: 3, precision: .bf16).encode(try Self.sentences())
        for (k, actual) in vectors.enumerated() {
            let name = "stateless_\(k)"
            let expected = try #require(reference[name]).floatingPoint(Float.self, name: name, source: "reference").scalars
            let scale = expected.map { abs($0) }.max() ?? 1
            let worst = zip(actual.scalars, expected).map { abs($0 - $1) }.max() ?? .infinity
            let dot = zip(actual.scalars, expected).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            let norms = actual.scalars.reduce(0.0) { $0 + Double($1 * $1) }.squareRoot() * expected.reduce(0.0) { $0 + Double($1 * $1) }.squareRoot()
            #expect(worst <= 0.02 * scale, "\(name): max |Δ| \(worst) against values up to \(scale)")
            #expect(dot / norms >= 0.9999, "\(name): cosine \(dot / norms)")
            #expect(worst > 1e-4, "\(name): max |Δ| \(worst) is float32-close: the bf16 path did not run")
        }
    }

    @Test("The imported checkpoint embeds but refuses to act as a language model")
    func noLanguageModelHead() throws {
        let output = RepositoryPaths.temporaryDirectory("allennlp") + "/imported"
        _ = try AllenNLPWeights.importCheckpoint(optionsPath: "\(Self.directory)/options.json",
                                                 weightsPath: "\(Self.directory)/weights.hdf5", output: output)
        #expect(throws: InputError.self) { _ = try BiLMCheckpoint.loadModel(output, languageModel: true) }
        _ = try BiLMCheckpoint.loadModel(output)
    }

    @Test("Bad weight files are one-line input errors naming the file and dataset", arguments: [
        ("weights-missing.hdf5", ["CNN_proj/b_proj", "missing"]),
        ("weights-badshape.hdf5", ["CNN/W_cnn_1", "[1, 2, 4, 5]", "[1, 2, 4, 4]"]),
        ("truncated", ["not a readable HDF5 file"]),
        ("options.json", ["not a readable HDF5 file"]),
        ("absent.hdf5", ["no such file"]),
    ])
    func badFiles(name: String, mentions: [String]) throws {
        var path = "\(Self.directory)/\(name)"
        if name == "truncated" {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: "\(Self.directory)/weights.hdf5"))
            path = RepositoryPaths.temporaryDirectory("allennlp") + "/truncated.hdf5"
            try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: path))
        }
        do {
            _ = try AllenNLPWeights.load(optionsPath: "\(Self.directory)/options.json", weightsPath: path)
            Issue.record("\(name): loaded without error")
        } catch let error as InputError {
            #expect(!error.message.contains("\n"))
            for fragment in mentions { #expect(error.message.contains(fragment), "\(error.message) lacks \(fragment)") }
        }
    }
}
