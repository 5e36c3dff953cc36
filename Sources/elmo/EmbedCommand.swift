import ArgumentParser
import CLISupport
import Foundation
import Framework
import Interop
import Models

struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "ELMo representations of sentences (one whitespace-tokenized sentence per line), as `allennlp elmo` writes them.",
        discussion: """
            The output's extension picks the format. .hdf5/.h5: AllenNLP's layout (a dataset per line named by its \
            0-based number, sentence_to_index, metadata as root attributes), written batch by batch and resumable: \
            a killed run continues from its last recorded batch when the same command is run again (with its \
            saved LSTM state when --stateful), and ends with the same file. .npz: an array per line, streamed. .jsonl: a line per sentence, in \
            input order (the vectors wait in a scratch file beside the output, not in memory).
            """)

    @Option(help: "Checkpoint DIR/STEP (default: the shipped model).") var initFromCkpt = ShippedModels.elmo
    @Option(help: "Input file, or - for stdin: one sentence per line, no blank lines.") var input = "-"
    @Option(help: "Output .hdf5/.h5 (AllenNLP's layout), .npz or .jsonl.") var output = "embeddings.hdf5"
    @Option(help: "all = every layer [L+1, n, 2P]; top = the last; average = their mean.") var layers: String?
    @Option(help: "A fixed scalar mix instead of --layers: one weight per layer, softmax-normalized (AllenNLP's ScalarMix).")
    var mixWeights: String?
    @Option(help: "The scalar mix's γ (with --mix-weights).") var gamma: Double?
    @Option(help: "One vector per sentence: mean or max over its tokens (per layer with --layers all).") var pool: String?
    @Option(help: "Sentences per batch.") var batchSize = 64
    @Option(help: "At most this many padded tokens (sentences × the longest's tokens) per batch; a longer sentence runs alone, in pieces with the LSTM state carried.")
    var maxTokensPerBatch: Int?
    @Flag(help: "Carry LSTM state across batches per batch row (AllenNLP ElmoEmbedder); to HDF5 it resumes with its saved state.") var stateful = false
    @Flag(help: "HDF5: name datasets by the sentence itself instead of its line number (no sentence_to_index).") var useSentenceKeys = false
    @Flag(help: "HDF5: omit the sentence_to_index dataset.") var forgetSentences = false
    @Flag(help: "Replace an existing output (or an unfinished run of another job) instead of refusing.") var overwrite = false
    @Option(help: "fp32, or bf16: every product by a weight (LSTMs, char-CNN, highways) in bfloat16, float32 sums (CPUs with AVX512-BF16 or AMX).")
    var precision = "fp32"
    @Option(help: ArgumentHelp("HDF5: seconds between progress records (tests kill runs between them).", visibility: .hidden))
    var recordSeconds: Double?

    func run() throws {
        // A sentence gets the same bits whatever batch it lands in, so a file does not depend on the batch plan's luck.
        BLAS.batchInvariant = true
        let settings = try parseSettings()
        let isHDF5 = output.hasSuffix(".hdf5") || output.hasSuffix(".h5")
        guard isHDF5 || output.hasSuffix(".npz") || output.hasSuffix(".jsonl") else {
            throw InputError("--output \(output): expected a .hdf5, .h5, .npz or .jsonl file name")
        }
        if !isHDF5 && (useSentenceKeys || forgetSentences) {
            throw InputError("--\(useSentenceKeys ? "use-sentence-keys" : "forget-sentences"): only for .hdf5/.h5 output")
        }
        let arithmetic = try ComputePrecision(flag: "--precision", value: precision)
        try Files.ensureParentDirectory(of: output, role: "--output")

        let sentences = try SentenceFile(path: input, role: "--input")
        let blank = sentences.blankLines
        guard blank.isEmpty else {
            let shown = blank.prefix(20).map(String.init).joined(separator: ", ") + (blank.count > 20 ? ", … (\(blank.count) in all)" : "")
            throw InputError("--input \(input): empty lines at 0-based indexes [\(shown)]; remove them")
        }
        if useSentenceKeys { try sentences.checkUsableAsKeys(role: "--use-sentence-keys") }
        let embedder = try ELMoEmbedder(checkpoint: initFromCkpt, stateful: stateful, batchSize: settings.batchSize, precision: arithmetic)
        if let weights = settings.mixWeights, weights.count != embedder.layerCount {
            throw InputError("--mix-weights \(mixWeights!): \(weights.count) weights for a model of \(embedder.layerCount) layers")
        }
        let plan = settings.batches(tokenCounts: sentences.tokenCounts)
        let key: (Int) -> String = useSentenceKeys ? { sentences.sentence($0) } : { String($0) }

        let sink: EmbeddingSink
        var firstBatch = 0
        if isHDF5 {
            let checkpointDigest = try Checksum.file(BiLMCheckpoint.parametersPath(try BiLMCheckpoint.resolve(initFromCkpt)), algorithm: "sha256")
            let inputDigest = sentences.sha256
            let keys = useSentenceKeys ? "sentence-keys" : (forgetSentences ? "forget-sentences" : "sentence-to-index")
            let job = EmbedJob.identity(inputSHA256: inputDigest, checkpointSHA256: checkpointDigest, settings: settings, keys: keys, precision: arithmetic)
            let datasets = sentences.tokenCounts.indices.map {
                EmbeddingHDF5.Dataset(name: key($0), shape: settings.shape(tokens: Int(sentences.tokenCounts[$0]),
                                                                          layerCount: embedder.layerCount, dimension: embedder.dimension))
            }
            let hdf5 = try HDF5EmbeddingSink(path: output, job: job, datasets: datasets, batchCount: plan.count, overwrite: overwrite,
                                             saveState: stateful ? { embedder.carriedStateTensors() } : nil) {
                let index = (useSentenceKeys || forgetSentences) ? nil : sentences.sentenceToIndexJSON()
                let attributes = [("created_by", "swift-elmo embed"), ("elmo_checkpoint", initFromCkpt),
                                  ("elmo_checkpoint_sha256", checkpointDigest), ("elmo_input_sha256", inputDigest),
                                  ("elmo_settings", settings.description + " precision=\(arithmetic.rawValue)")]
                return (index, attributes)
            }
            if let recordSeconds { hdf5.recordInterval = recordSeconds }
            switch hdf5.start {
            case .alreadyComplete:
                print("\(output): already complete for this input, model and options; nothing to do")
                return
            case .resumed(let batches):
                if let state = hdf5.resumedState { try embedder.restoreCarriedStates(from: state, source: "--output \(output).state") }
                printError("embed: resuming \(output) at batch \(batches + 1) of \(plan.count)")
                firstBatch = batches
            case .fresh:
                break
            }
            sink = hdf5
        } else if output.hasSuffix(".npz") {
            sink = try NPZEmbeddingSink(path: output, keys: key)
        } else {
            sink = try JSONLEmbeddingSink(path: output, count: sentences.count, tokens: { sentences.tokens($0) }) {
                settings.shape(tokens: Int(sentences.tokenCounts[$0]), layerCount: embedder.layerCount, dimension: embedder.dimension)
            }
        }

        let progress = ProgressLine(total: sentences.count, unit: "sentences", rateUnit: "sentences")
        let start = Date()
        var lastLine = Date(), startDone: Int? = nil
        try EmbedJob.run(embedder: embedder, sentences: sentences, settings: settings, plan: plan, from: firstBatch, into: sink) { batches, done in
            if startDone == nil { startDone = done - plan[batches - 1].count }
            let elapsed = Date().timeIntervalSince(start), rate = Double(done - startDone!) / max(elapsed, 1e-9)
            progress.update(done: done, rate: rate, detail: "batch \(batches)/\(plan.count)")
            if !progress.isTerminal, Date().timeIntervalSince(lastLine) >= 60 {
                lastLine = Date()
                let eta = ProgressLine.duration(Double(sentences.count - done) / max(rate, 1e-9))
                printError(String(format: "embed: %d/%d sentences, %.1f sentences/s, ETA %@", done, sentences.count, rate, eta))
            }
        }
        progress.clear()
        printError(String(format: "embed: %d sentences in %.2f s", sentences.count, Date().timeIntervalSince(start)))
        let shape = settings.shape(tokens: 0, layerCount: embedder.layerCount, dimension: embedder.dimension).map { $0 == 0 ? "n" : String($0) }
        print("wrote \(output): \(sentences.count) sentences, each [\(shape.joined(separator: ", "))] (\(settings.description))")
    }

    func parseSettings() throws -> EmbedSettings {
        var settings = EmbedSettings()
        try Check.positive(batchSize, "--batch-size")
        settings.batchSize = batchSize
        if let layers {
            guard let choice = EmbedSettings.Layers(rawValue: layers) else { throw InputError("--layers \(layers): expected all, top or average") }
            settings.layers = choice
        }
        if let mixWeights {
            guard layers == nil else { throw InputError("--mix-weights: replaces --layers; give one of them") }
            let weights = mixWeights.split(separator: ",", omittingEmptySubsequences: false).map { Float($0.trimmingCharacters(in: .whitespaces)) }
            guard !weights.isEmpty, weights.allSatisfy({ $0 != nil && $0!.isFinite }) else {
                throw InputError("--mix-weights \(mixWeights): expected comma-separated numbers, one per layer")
            }
            settings.mixWeights = weights.map { $0! }
            settings.gamma = Float(gamma ?? 1)
            guard settings.gamma.isFinite else { throw InputError("--gamma \(gamma!): must be a finite number") }
        } else if gamma != nil {
            throw InputError("--gamma: only with --mix-weights")
        }
        if let pool {
            guard let choice = EmbedSettings.Pool(rawValue: pool) else { throw InputError("--pool \(pool): expected mean or max") }
            settings.pool = choice
        }
        if let maxTokensPerBatch {
            try Check.positive(maxTokensPerBatch, "--max-tokens-per-batch")
            guard !stateful else { throw InputError("--max-tokens-per-batch: not with --stateful (rows must continue in input order)") }
            settings.maxTokensPerBatch = maxTokensPerBatch
        }
        settings.stateful = stateful
        if useSentenceKeys && forgetSentences { throw InputError("--forget-sentences: sentence keys already omit sentence_to_index; give one of them") }
        return settings
    }
}
