import Foundation
import Framework

/// Reading and writing `DIR/STEP.safetensors` (+ `.optim.safetensors`); see docs/checkpoint-format.md.
public enum BiLMCheckpoint {
    public static let format = "swift-elmo-bilm-1"
    /// Metadata key of a checkpoint made by `elmo import-allennlp`: its softmax is a zero placeholder.
    public static let importedFromKey = "imported_from"
    /// Metadata key of an encoder exported by `elmo export`: the language model it came from; its softmax,
    /// too, is a zero placeholder over the three specials (the LM's vocabulary is kept under `lm_vocab`).
    public static let exportedFromKey = "exported_from"
    public static let languageModelVocabularyKey = "lm_vocab"

    public static func parametersPath(_ prefix: String) -> String { "\(prefix).safetensors" }

    /// `DIR/latest` → the newest complete numbered checkpoint in DIR (both files present; temporary
    /// files of an interrupted write are ignored); any other prefix is returned as it is.
    public static func resolve(_ prefix: String) throws -> String {
        let url = URL(fileURLWithPath: prefix)
        guard url.lastPathComponent == "latest" else { return prefix }
        let directory = url.deletingLastPathComponent().path
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        let steps = names.compactMap { name -> Int? in
            guard name.hasSuffix(".safetensors"), !name.hasSuffix(".optim.safetensors") else { return nil }
            guard let step = Int(name.dropLast(".safetensors".count)),
                  names.contains("\(step).optim.safetensors") else { return nil }
            return step
        }
        guard let newest = steps.max() else {
            throw InputError("--init-from-ckpt \(prefix): \(directory) holds no complete numbered checkpoint")
        }
        return "\(directory)/\(newest)"
    }
    public static func optimizerPath(_ prefix: String) -> String { "\(prefix).optim.safetensors" }

    /// The parameters file's contents.
    public static func parametersFile(_ model: BidirectionalLM<Float>, vocabulary: Vocabulary) -> SafeTensors {
        var file = SafeTensors(metadata: [
            "format": format,
            "options": model.options.jsonText(vocabularySize: vocabulary.count),
            "vocab": vocabulary.tokens.joined(separator: "\n"),
        ])
        for p in model.parameters { file[p.name] = StoredTensor(p.value) }
        return file
    }

    /// The encoder part of `model` (char-CNN and LSTMs; no softmax, no optimizer state) as the parameters
    /// file of a checkpoint that embeds: what a model directory ships, as AllenNLP ships weights without
    /// the softmax. `origin` says where it came from; the LM's vocabulary is kept in the metadata.
    public static func encoderFile(_ model: BidirectionalLM<Float>, vocabulary: Vocabulary, origin: String) throws -> SafeTensors {
        let specials = try Vocabulary(tokens: [])
        var file = SafeTensors(metadata: [
            "format": format,
            "options": model.options.jsonText(vocabularySize: specials.count),
            "vocab": specials.tokens.joined(separator: "\n"),
            exportedFromKey: origin,
            languageModelVocabularyKey: vocabulary.tokens.joined(separator: "\n"),
        ])
        let softmaxNames = Set(model.softmax.parameters.map(\.name))
        for p in model.parameters where !softmaxNames.contains(p.name) { file[p.name] = StoredTensor(p.value) }
        var rng = SeededRandom(seed: 0)
        let placeholder = SoftmaxOutput<Float>(vocabularySize: specials.count, inputSize: model.options.projectionDim, rowSparse: false, rng: &rng)
        for p in placeholder.parameters {
            p.value.zero()
            file[p.name] = StoredTensor(p.value)
        }
        return file
    }

    /// A model and its vocabulary from `prefix.safetensors`. Every tensor must be present with the
    /// shape the stored options imply; a mismatch names the tensor and both shapes. `languageModel`:
    /// the caller needs the softmax, which an imported checkpoint does not have.
    public static func loadModel(_ prefix: String, sparseSoftmax: Bool = false,
                                 languageModel: Bool = false) throws -> (BidirectionalLM<Float>, Vocabulary) {
        let prefix = try resolve(prefix)
        let path = parametersPath(prefix)
        let role = "checkpoint"
        var info = stat()
        if stat(path, &info) != 0, stat(prefix, &info) == 0, prefix.hasSuffix(".safetensors") {
            throw InputError("--init-from-ckpt \(prefix): give the checkpoint without its extension (DIR/STEP)")
        }
        let file = try SafeTensors.read(path: path, role: role)
        let source = "\(role) \(path)"
        guard let optionsText = file.metadata["options"] else { throw InputError("\(source): no model options in its metadata (not a swift-elmo checkpoint?)") }
        guard let vocabText = file.metadata["vocab"] else { throw InputError("\(source): no vocabulary in its metadata") }
        if languageModel, let origin = file.metadata[importedFromKey] {
            throw InputError("\(source): imported from \(origin), which has no softmax: it embeds (`elmo embed`, `--encoder elmo`) but cannot be evaluated or trained as a language model")
        }
        if languageModel, let origin = file.metadata[exportedFromKey] {
            throw InputError("\(source): an encoder exported from \(origin) without its softmax: it embeds (`elmo embed`, `--encoder elmo`) but cannot be evaluated or trained as a language model (use the full checkpoint)")
        }
        let options = try BiLMOptions.parse(Array(optionsText.utf8), source: "\(source) options")
        let vocabulary = try Vocabulary(tokens: vocabText.split(separator: "\n").map(String.init), source: "\(source) vocab")
        var rng = SeededRandom(seed: 0)
        let model = BidirectionalLM<Float>(options: options, vocabularySize: vocabulary.count, sparseSoftmax: sparseSoftmax, rng: &rng)
        try load(file, into: model.parameters, source: source)
        return (model, vocabulary)
    }

    /// Copies the tensors of `file` into `parameters`, by name, checking shapes and that nothing is extra.
    public static func load(_ file: SafeTensors, into parameters: [Parameter<Float>], source: String) throws {
        let expected = Set(parameters.map(\.name))
        for p in parameters {
            guard let stored = file[p.name] else { throw InputError("\(source): tensor \(p.name) is missing") }
            guard stored.shape == p.shape else {
                throw InputError("\(source): tensor \(p.name) has shape \(stored.shape), the model expects \(p.shape)")
            }
            p.value = try stored.floatingPoint(Float.self, name: p.name, source: source)
        }
        if let extra = file.names.first(where: { !expected.contains($0) }) {
            throw InputError("\(source): tensor \(extra) is not a parameter of this model")
        }
    }
}
