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

extension BiLMCheckpoint {
    /// Everything besides the parameters that a resumed pretraining run needs: `DIR/STEP.optim.safetensors`
    /// (docs/checkpoint-format.md). Read and written here; the trainer only fills it in and applies it.
    public struct TrainingState {
        public var optimizerName: String
        /// `key=value,…` as the run was given them (for the record).
        public var optimizerOptions: String
        public var optimizerTensors: [String: StoredTensor]
        public var batchSize: Int
        public var unrollSteps: Int
        public var step: Int
        public var rng: SeededRandom
        public var position: CorpusPosition
        /// Per stream: the sentence it is in the middle of (nil: none) and the offset in it.
        public var rows: [[String]?]
        public var rowOffsets: [Int]
        /// The corpus the position belongs to (file names and sizes, one per line); nil in older checkpoints.
        public var corpusIdentity: String?
        /// The LSTM states of all `batchSize` streams.
        public var states: Bidirectional<[LSTMState<Float>]>

        public init(optimizerName: String, optimizerOptions: String, optimizerTensors: [String: StoredTensor], batchSize: Int,
                    unrollSteps: Int, step: Int, rng: SeededRandom, position: CorpusPosition, rows: [[String]?], rowOffsets: [Int],
                    corpusIdentity: String?, states: Bidirectional<[LSTMState<Float>]>) {
            self.optimizerName = optimizerName
            self.optimizerOptions = optimizerOptions
            self.optimizerTensors = optimizerTensors
            self.batchSize = batchSize
            self.unrollSteps = unrollSteps
            self.step = step
            self.rng = rng
            self.position = position
            self.rows = rows
            self.rowOffsets = rowOffsets
            self.corpusIdentity = corpusIdentity
            self.states = states
        }

        /// The file: metadata first, then the optimizer's tensors in name order (the same bytes every run).
        public var file: SafeTensors {
            var file = SafeTensors(metadata: [
                "format": BiLMCheckpoint.format,
                "optimizer": optimizerName,
                "optimizer_options": optimizerOptions,
                "batch_size": String(batchSize),
                "unroll_steps": String(unrollSteps),
            ])
            for (name, tensor) in optimizerTensors.sorted(by: { $0.key < $1.key }) { file[name] = tensor }
            file["train.step"] = StoredTensor(int64: [Int64(step)])
            file["train.rng"] = StoredTensor(uint64: rng.stateWords)
            file["data.position"] = StoredTensor(int64: [Int64(position.epoch), Int64(position.fileIndex), position.offset])
            file["data.row_offsets"] = StoredTensor(int64: rowOffsets.map(Int64.init))
            if let corpusIdentity { file.metadata["data.files"] = corpusIdentity }
            // A row with no current sentence is written as \u{1} (tokens never contain control characters
            // other than whitespace, which separates them).
            file.metadata["data.rows"] = rows.map { $0?.joined(separator: " ") ?? "\u{1}" }.joined(separator: "\n")
            for direction in Direction.allCases {
                for (l, state) in states[direction].enumerated() {
                    file["state.\(direction.rawValue).layer_\(l).c"] = StoredTensor(state.cell)
                    file["state.\(direction.rawValue).layer_\(l).h"] = StoredTensor(state.hidden)
                }
            }
            return file
        }

        /// Reads `prefix.optim.safetensors` for a model of `layers` and `batchSize` streams; nil when the file
        /// does not exist. Every missing or mis-shaped entry is an input error naming the file and the tensor.
        public static func read(_ prefix: String, layers: Bidirectional<[LSTMLayer<Float>]>, batchSize: Int) throws -> TrainingState? {
            let path = optimizerPath(prefix)
            guard FileManager.default.fileExists(atPath: path) else { return nil }
            let file = try SafeTensors.read(path: path, role: "optimizer checkpoint")
            let source = "optimizer checkpoint \(path)"
            func integers(_ name: String, count: Int? = nil) throws -> [Int64] {
                guard let t = file[name] else { throw InputError("\(source): tensor \(name) is missing") }
                let values = try t.integers(name: name, source: source)
                if let count, values.count != count { throw InputError("\(source): tensor \(name) has \(values.count) values, expected \(count)") }
                return values
            }
            var optimizerTensors: [String: StoredTensor] = [:]
            for name in file.names where name.contains("/") || name == "step" { optimizerTensors[name] = file[name] }
            let step = Int(try integers("train.step", count: 1)[0])
            guard let rngTensor = file["train.rng"] else { throw InputError("\(source): tensor train.rng is missing") }
            let rng = SeededRandom(stateWords: try rngTensor.words(name: "train.rng", source: source))
            let position = try integers("data.position", count: 3)
            let offsets = try integers("data.row_offsets")
            guard offsets.count == batchSize else {
                throw InputError("\(source): saved with --batch-size \(offsets.count), this run has \(batchSize)")
            }
            let rowLines = (file.metadata["data.rows"] ?? "").split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            guard rowLines.count == batchSize else { throw InputError("\(source): data.rows has \(rowLines.count) rows, expected \(batchSize)") }
            let rows: [[String]?] = rowLines.map { $0.hasPrefix("\u{1}") ? nil : $0.split(separator: " ").map(String.init) }
            var filled = layers.map { _ in [LSTMState<Float>]() }
            for direction in Direction.allCases {
                for (l, layer) in layers[direction].enumerated() {
                    let base = "state.\(direction.rawValue).layer_\(l)"
                    func tensor(_ suffix: String, columns: Int) throws -> Tensor<Float> {
                        guard let t = file["\(base).\(suffix)"] else { throw InputError("\(source): tensor \(base).\(suffix) is missing") }
                        guard t.shape == [batchSize, columns] else {
                            throw InputError("\(source): tensor \(base).\(suffix) has shape \(t.shape), expected \([batchSize, columns])")
                        }
                        return try t.floatingPoint(Float.self, name: "\(base).\(suffix)", source: source)
                    }
                    filled[direction].append(LSTMState(cell: try tensor("c", columns: layer.cellSize), hidden: try tensor("h", columns: layer.outputSize)))
                }
            }
            return TrainingState(
                optimizerName: file.metadata["optimizer"] ?? "", optimizerOptions: file.metadata["optimizer_options"] ?? "",
                optimizerTensors: optimizerTensors, batchSize: batchSize, unrollSteps: Int(file.metadata["unroll_steps"] ?? "") ?? 0,
                step: step, rng: rng, position: CorpusPosition(epoch: Int(position[0]), fileIndex: Int(position[1]), offset: position[2]),
                rows: rows, rowOffsets: offsets.map(Int.init), corpusIdentity: file.metadata["data.files"], states: filled)
        }
    }
}
