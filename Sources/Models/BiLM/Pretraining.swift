import Foundation
import Framework

/// Settings of `elmo pretrain` (PaddleNLP's run_pretrain.py / bilm-tf's train_elmo.py defaults).
public struct PretrainConfig: Sendable {
    public var trainPattern: String
    public var options: BiLMOptions
    /// Whether `options` was asked for explicitly: resuming then checks it against the checkpoint.
    public var optionsGiven = false
    public var saveDirectory: String
    public var saveFrequency = 100
    public var logFrequency = 10
    public var maxSteps: Int? = nil
    /// Stop (and write `final`) once this much wall time has passed.
    public var maxMinutes: Double? = nil
    public var epochs = 10
    public var batchSize = 128
    public var unrollSteps = 20
    public var dropout = 0.1
    public var maxGradientNorm = 10.0
    /// Candidates per direction for the sampled softmax; nil = full softmax.
    public var sampledSoftmax: Int? = nil
    /// Probability that a sentence starts from a zero LSTM state instead of the carried one. bilm-tf
    /// never resets (0); the stateless embedder starts every sentence from zero, and a model that never
    /// saw that state can fall into a useless regime from it (see README, "State resets").
    public var stateResetProbability = 0.25
    public var seed: UInt64 = 2020
    /// bf16: the forward products by the LSTMs', highways' and projection's weights in bfloat16 with float32 sums (the
    /// recurrent ones backward too), the weights and optimizer kept in float32 (mixed precision); the char-CNN's
    /// convolutions, the weight gradients and the softmax stay fp32. Refused on CPUs without AVX512-BF16 or AMX.
    public var precision: ComputePrecision = .fp32
    public var optimizerName = "adagrad"
    public var optimizerOptions: [String: String] = [:]
    /// With a checkpoint to start from: false takes its parameters only, with a fresh optimizer, step
    /// count and data position (to continue on another corpus, as bilm-tf's restart.py does).
    public var restoreTrainingState = true

    public init(trainPattern: String, options: BiLMOptions, saveDirectory: String) {
        self.trainPattern = trainPattern
        self.options = options
        self.saveDirectory = saveDirectory
    }

    /// Every value in range; the first that is not is a ``ParameterError`` naming it.
    public func validate() throws {
        for (name, value) in [("saveFrequency", saveFrequency), ("logFrequency", logFrequency), ("epochs", epochs),
                              ("batchSize", batchSize), ("unrollSteps", unrollSteps), ("maxSteps", maxSteps ?? 1),
                              ("sampledSoftmax", sampledSoftmax ?? 1)] where value <= 0 {
            throw ParameterError(name, value, "must be a positive integer")
        }
        for (name, value) in [("maxMinutes", maxMinutes ?? 1), ("maxGradientNorm", maxGradientNorm)] where !(value > 0 && value.isFinite) {
            throw ParameterError(name, value, "must be a positive number")
        }
        guard dropout >= 0, dropout < 1 else { throw ParameterError("dropout", dropout, "must be in [0, 1)") }
        guard stateResetProbability >= 0, stateResetProbability <= 1 else {
            throw ParameterError("stateResetProbability", stateResetProbability, "must be in [0, 1]")
        }
    }
}

/// One line of `metrics.jsonl` / progress.
public struct TrainingMetrics: Sendable {
    public var step: Int
    public var epoch: Int
    public var loss: Double
    public var forwardPerplexity: Double
    public var backwardPerplexity: Double
    public var gradientNorm: Double
    public var tokensPerSecond: Double
    public var perplexity: Double { Foundation.exp(loss) }

    public var json: String {
        "{\"step\": \(step), \"epoch\": \(epoch), \"loss\": \(JSONText.number(loss)), \"perplexity\": \(JSONText.number(perplexity)), "
            + "\"forward_perplexity\": \(JSONText.number(forwardPerplexity)), \"backward_perplexity\": \(JSONText.number(backwardPerplexity)), "
            + "\"grad_norm\": \(JSONText.number(gradientNorm)), \"tokens_per_s\": \(JSONText.number(tokensPerSecond.rounded()))}"
    }
}

/// Trains the BiLM on continuous streams with truncated BPTT, checkpointing and resuming exactly.
///
/// Data-parallel (``communicator`` of N ranks): every rank reads the same global window of
/// `batchSize` streams and computes on its own `batchSize / N` of them; gradients are summed over
/// ranks each step, so every rank applies the same update. Rank 0 logs and writes checkpoints, which
/// hold the global data position and LSTM states: a run resumes with any N that divides the batch.
/// With dropout 0 the result equals one process with the same global batch up to float rounding;
/// with dropout each rank draws its own masks.
public final class Pretrainer {
    public let config: PretrainConfig
    public let model: BidirectionalLM<Float>
    public let vocabulary: Vocabulary
    public let optimizer: any Optimizer
    /// Updates applied so far (the checkpoint's step).
    public private(set) var completedSteps = 0
    public private(set) var rng: SeededRandom
    public private(set) var states: Bidirectional<[LSTMState<Float>]>
    private(set) var batcher: StreamBatcher
    let parameters: [Parameter<Float>]
    public let communicator: any Communicator
    /// The streams of the global batch this rank computes on.
    public let localRows: Range<Int>
    /// Every trainable gradient end to end, for the one all-reduce per step.
    private var gradientBuffer: [Float] = []
    public var log: (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
    /// Called after every step (tests use it to stop or inspect).
    public var onStep: ((TrainingMetrics) -> Void)? = nil

    /// A fresh model (`resumeFrom` nil) or one continued from `DIR/STEP`.
    public init(config: PretrainConfig, vocabulary: Vocabulary?, optimizer: any Optimizer, resumeFrom requested: String?,
                communicator: any Communicator = SingleProcess()) throws {
        try config.validate()
        self.config = config
        self.communicator = communicator
        guard config.batchSize % communicator.size == 0 else {
            throw InputError("--batch-size \(config.batchSize): must be divisible by the number of MPI ranks (\(communicator.size))")
        }
        let share = config.batchSize / communicator.size
        localRows = (communicator.rank * share)..<((communicator.rank + 1) * share)
        let prefix = try requested.map(BiLMCheckpoint.resolve)
        self.optimizer = optimizer
        let corpus = try Corpus(glob: config.trainPattern, role: "--train-data-path")
        if let prefix {
            let (model, storedVocabulary) = try BiLMCheckpoint.loadModel(prefix, sparseSoftmax: config.sampledSoftmax != nil, languageModel: true)
            if config.optionsGiven, model.options != config.options {
                // Name the first tensor whose shape the asked-for model would not accept.
                var rng = SeededRandom(seed: 0)
                let asked = BidirectionalLM<Float>(options: config.options, vocabularySize: storedVocabulary.count, rng: &rng)
                let stored = Dictionary(uniqueKeysWithValues: model.parameters.map { ($0.name, $0.shape) })
                let path = BiLMCheckpoint.parametersPath(prefix)
                for p in asked.parameters where stored[p.name] != p.shape {
                    if let shape = stored[p.name] {
                        throw InputError("checkpoint \(path): tensor \(p.name) has shape \(shape), --config expects \(p.shape)")
                    }
                    throw InputError("checkpoint \(path): has no tensor \(p.name), which --config needs")
                }
                throw InputError("checkpoint \(path): was trained with other options than --config (clips or skip connections differ)")
            }
            if let vocabulary, vocabulary != storedVocabulary {
                throw InputError("--vocab-file differs from the vocabulary stored in \(BiLMCheckpoint.parametersPath(prefix)) (\(vocabulary.count) vs \(storedVocabulary.count) tokens)")
            }
            self.model = model
            self.vocabulary = storedVocabulary
        } else {
            guard let vocabulary else { throw InputError("--vocab-file is required (or --init-from-ckpt)") }
            var initRNG = SeededRandom(seed: config.seed)
            model = BidirectionalLM(options: config.options, vocabularySize: vocabulary.count,
                                    sparseSoftmax: config.sampledSoftmax != nil, rng: &initRNG)
            self.vocabulary = vocabulary
        }
        try config.precision.requireAvailable("--precision")
        model.setComputePrecision(config.precision, training: true)
        if let samples = config.sampledSoftmax, samples >= model.vocabularySize {
            throw InputError("--sampled-softmax \(samples): must be smaller than the vocabulary (\(model.vocabularySize))")
        }
        parameters = model.parameters
        rng = SeededRandom(seed: config.seed ^ 0x5EED_0F_D20_9A7)
        states = model.zeroStates(batch: localRows.count)
        let stream = try SentenceStream(corpus: corpus, vocabulary: self.vocabulary, seed: config.seed, shuffle: true, singlePass: false)
        batcher = StreamBatcher(stream: stream, rows: config.batchSize, steps: config.unrollSteps)
        if let prefix, config.restoreTrainingState { try restoreTrainingState(prefix, corpus: corpus) }
    }

    // MARK: - Training state

    private func restoreTrainingState(_ prefix: String, corpus: Corpus) throws {
        let path = BiLMCheckpoint.optimizerPath(prefix)
        guard let saved = try BiLMCheckpoint.TrainingState.read(prefix, layers: model.layers, batchSize: config.batchSize) else {
            log("note: \(path) not found: starting the optimizer, data and step count afresh from the checkpoint's parameters")
            return
        }
        let source = "optimizer checkpoint \(path)"
        // A data position only means something in the corpus it was saved in: checked before anything is restored.
        if let stored = saved.corpusIdentity, stored != Self.corpusIdentity(corpus) {
            let storedNames = stored.split(separator: "\n").map { $0.split(separator: "\t")[0] }.joined(separator: ", ")
            throw InputError("\(source): its data position is in other files (\(storedNames)) than --train-data-path \(corpus.pattern); "
                + "resume on the same corpus, or take the parameters only with --init-weights-from")
        }
        let storedName = saved.optimizerName.isEmpty ? optimizer.name : saved.optimizerName
        guard storedName == optimizer.name else {
            throw InputError("\(source): was written by optimizer \(storedName), this run uses \(optimizer.name)")
        }
        try optimizer.loadState(saved.optimizerTensors, parameters: parameters, source: source)
        completedSteps = saved.step
        rng = saved.rng
        let stream = batcher.stream
        let restoredStream = try SentenceStream(corpus: corpus, vocabulary: vocabulary, seed: stream.seed, shuffle: stream.shuffle,
                                                singlePass: false, position: saved.position)
        batcher = StreamBatcher(stream: restoredStream, rows: config.batchSize, steps: config.unrollSteps)
        try batcher.restore(rows: saved.rows, offsets: saved.rowOffsets)
        // This rank's streams of the saved global states.
        states = saved.states.map { layers in
            layers.map { state in
                func mine(_ whole: Tensor<Float>) -> Tensor<Float> {
                    let columns = whole.columns
                    return Tensor(shape: [localRows.count, columns],
                                  scalars: Array(whole.scalars[(localRows.lowerBound * columns)..<(localRows.upperBound * columns)]))
                }
                return LSTMState(cell: mine(state.cell), hidden: mine(state.hidden))
            }
        }
    }

    /// The LSTM states of all `batchSize` streams (collective: every rank calls it at the same step).
    private func globalStates() -> Bidirectional<[LSTMState<Float>]> {
        guard communicator.size > 1 else { return states }
        var all = states
        for direction in Direction.allCases {
            for l in all[direction].indices {
                func gathered(_ mine: Tensor<Float>) -> Tensor<Float> {
                    let columns = mine.columns
                    var whole = Tensor<Float>(shape: [config.batchSize, columns])
                    whole.scalars.replaceSubrange((localRows.lowerBound * columns)..<(localRows.upperBound * columns), with: mine.scalars)
                    whole.withUnsafeMutableBufferPointer { communicator.sum($0) }
                    return whole
                }
                all[direction][l].cell = gathered(states[direction][l].cell)
                all[direction][l].hidden = gathered(states[direction][l].hidden)
            }
        }
        return all
    }

    /// The corpus as a checkpoint records it: each file's name and size, one per line (names without
    /// directories, so a moved data folder still resumes).
    static func corpusIdentity(_ corpus: Corpus) -> String {
        corpus.files.map { file in
            let size = (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? NSNumber)?.int64Value ?? -1
            return "\((file as NSString).lastPathComponent)\t\(size)"
        }.joined(separator: "\n")
    }

    /// This run's state as the checkpoint records it (collective: gathers the LSTM states of every rank).
    func trainingState() -> BiLMCheckpoint.TrainingState {
        let b = batcher
        return BiLMCheckpoint.TrainingState(
            optimizerName: optimizer.name,
            optimizerOptions: config.optimizerOptions.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","),
            optimizerTensors: optimizer.state(), batchSize: config.batchSize, unrollSteps: config.unrollSteps, step: completedSteps,
            rng: rng, position: b.stream.position, rows: b.current.map { $0?.words }, rowOffsets: b.offsets,
            corpusIdentity: Self.corpusIdentity(b.stream.corpus), states: globalStates())
    }

    /// Writes `DIR/NAME.optim.safetensors` then `DIR/NAME.safetensors`, each atomically (rank 0 only;
    /// every rank calls it, as gathering the LSTM states is collective).
    public func saveCheckpoint(name: String) throws {
        let stateFile = trainingState().file
        guard communicator.isLeader else { return }
        try Files.ensureDirectory(config.saveDirectory, role: "--save-dir")
        let prefix = "\(config.saveDirectory)/\(name)"
        try stateFile.write(to: BiLMCheckpoint.optimizerPath(prefix))
        try BiLMCheckpoint.parametersFile(model, vocabulary: vocabulary).write(to: BiLMCheckpoint.parametersPath(prefix))
    }

    /// Chooses which of the window's sentence starts begin from a zero state. Draws nothing when the
    /// probability is 0, so such runs use the random stream exactly as bilm-tf-style training would.
    private func drawStateResets(_ batch: LMBatch) -> StateResets? {
        let p = config.stateResetProbability
        guard p > 0 else { return nil }
        var resets = StateResets(steps: batch.steps, rows: batch.rows)
        for slot in batch.sentenceStarts where rng.unitDouble() < p {
            resets.reset(step: slot / batch.rows, row: slot % batch.rows)
        }
        return resets.isEmpty ? nil : resets
    }

    // MARK: - Data parallelism

    /// Sums every trainable gradient over the ranks in one all-reduce. A row-sparse parameter's touched
    /// rows become the union over ranks, so that its optimizer updates every row any rank wrote.
    private func sumGradientsOverRanks() {
        guard communicator.size > 1 else { return }
        let trainable = parameters.filter(\.isTrainable)
        let total = trainable.reduce(0) { $0 + $1.count }
        if gradientBuffer.count != total { gradientBuffer = [Float](repeating: 0, count: total) }
        gradientBuffer.withUnsafeMutableBufferPointer { flat in
            var offset = 0
            for p in trainable {
                p.grad.withUnsafeBufferPointer { (flat.baseAddress! + offset).update(from: $0.baseAddress!, count: p.count) }
                offset += p.count
            }
            communicator.sum(flat)
            offset = 0
            for p in trainable {
                p.grad.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: flat.baseAddress! + offset, count: p.count) }
                offset += p.count
            }
        }
        for p in trainable where p.isRowSparse {
            var touched = [Float](repeating: 0, count: p.value.rows)
            for r in p.touchedRows { touched[r] = 1 }
            touched.withUnsafeMutableBufferPointer { communicator.sum($0) }
            for r in touched.indices where touched[r] > 0 { p.markRowTouched(r) }
        }
    }

    // MARK: - Loop

    /// What one update did.
    public struct StepResult: Sendable {
        public var metrics: TrainingMetrics
        /// Mean loss per token of each direction (the logs of the metrics' perplexities, unrounded).
        public var forwardLoss: Double
        public var backwardLoss: Double
        /// Tokens of the global window (all ranks).
        public var tokens: Int
    }

    /// One update on the next window: forward, backward, gradient sum over ranks, clipping, optimizer step.
    /// nil when the data is exhausted or the epoch limit is reached (nothing is changed then). A non-finite
    /// loss or gradient norm is a runtime failure naming the step; nothing of this step was applied.
    public func step() throws -> StepResult? {
        guard let window = try batcher.next() else { return nil }
        if batcher.stream.position.epoch >= config.epochs { return nil }
        let dropout = Float(config.dropout)
        model.zeroGradients()
        // Resets are drawn over the global window, so every rank sees the single-process draws.
        let windowResets = drawStateResets(window)
        let distributed = communicator.size > 1
        let batch = distributed ? window.selecting(rows: localRows) : window
        let resets = distributed ? windowResets?.selecting(rows: localRows) : windowResets
        let (report, cache) = model.loss(batch, states: &states, dropoutRate: dropout, training: true,
                                         samples: config.sampledSoftmax, resets: resets?.isEmpty == false ? resets : nil,
                                         rng: &rng, dropoutStream: communicator.rank)
        // The window's mean loss is the token-weighted mean of the ranks' means.
        let share = Double(batch.tokenCount) / Double(max(window.tokenCount, 1))
        var directionMeans = [Double(report.forward.mean) * share, Double(report.backward.mean) * share]
        communicator.sum(&directionMeans)
        let loss = (directionMeans[0] + directionMeans[1]) / 2
        guard loss.isFinite else {
            throw RuntimeFailure("step \(completedSteps + 1): loss is \(loss) (not finite); stopped — checkpoints written before this step are intact")
        }
        // bilm-tf and PaddleNLP scale the per-token loss by the unroll length before differentiating.
        model.backward(cache, dLoss: Float(Double(config.unrollSteps) * share), dropoutRate: dropout)
        sumGradientsOverRanks()
        let norm = GradientClipping.clipGlobalNorm(parameters, maxNorm: config.maxGradientNorm)
        guard norm.isFinite else {
            throw RuntimeFailure("step \(completedSteps + 1): gradient norm is \(norm) (not finite); stopped — checkpoints written before this step are intact")
        }
        optimizer.step(parameters)
        completedSteps += 1
        let metrics = TrainingMetrics(
            step: completedSteps, epoch: batcher.stream.position.epoch, loss: loss,
            forwardPerplexity: Foundation.exp(directionMeans[0]), backwardPerplexity: Foundation.exp(directionMeans[1]),
            gradientNorm: norm, tokensPerSecond: 0)
        return StepResult(metrics: metrics, forwardLoss: directionMeans[0], backwardLoss: directionMeans[1], tokens: window.tokenCount)
    }

    /// The running means of the steps between two log lines.
    struct MetricsWindow {
        private var start = Date(), tokens = 0, loss = 0.0, forward = 0.0, backward = 0.0, steps = 0

        mutating func add(_ result: StepResult) {
            tokens += result.tokens
            loss += result.metrics.loss
            forward += result.forwardLoss
            backward += result.backwardLoss
            steps += 1
        }

        /// `last` with the window's means and throughput; starts a new window.
        mutating func close(last: TrainingMetrics) -> TrainingMetrics {
            var averaged = last
            averaged.loss = loss / Double(steps)
            averaged.forwardPerplexity = Foundation.exp(forward / Double(steps))
            averaged.backwardPerplexity = Foundation.exp(backward / Double(steps))
            averaged.tokensPerSecond = Double(tokens) / max(Date().timeIntervalSince(start), 1e-9)
            self = MetricsWindow()
            return averaged
        }
    }

    /// Trains until `maxSteps`, `maxMinutes` or `epochs`: ``step()`` after step, a log line and a `metrics.jsonl`
    /// record every `logFrequency` steps, a checkpoint every `saveFrequency` steps and at the end (`final`).
    @discardableResult
    public func run() throws -> TrainingMetrics? {
        let leader = communicator.isLeader
        let log: (String) -> Void = leader ? self.log : { _ in }
        try Files.ensureDirectory(config.saveDirectory, role: "--save-dir")
        // Temporary files of a run that was killed mid-write are garbage: the checkpoints they were
        // becoming never replaced anything.
        for name in leader ? (try? FileManager.default.contentsOfDirectory(atPath: config.saveDirectory)) ?? [] : []
        where name.contains(".safetensors.tmp-") {
            try? FileManager.default.removeItem(atPath: "\(config.saveDirectory)/\(name)")
        }
        var metricsFile: FileHandle? = nil
        if leader {
            let metricsPath = "\(config.saveDirectory)/metrics.jsonl"
            if !FileManager.default.fileExists(atPath: metricsPath) { _ = FileManager.default.createFile(atPath: metricsPath, contents: nil) }
            guard let file = FileHandle(forWritingAtPath: metricsPath) else {
                throw RuntimeFailure("cannot write \(metricsPath)")
            }
            try file.seekToEnd()
            metricsFile = file
        }
        defer { try? metricsFile?.close() }
        var last: TrainingMetrics? = nil
        let progress: ProgressLine? = leader ? ProgressLine(total: config.maxSteps, unit: "steps") : nil
        let runStart = Date()
        var runTokens = 0
        var window = MetricsWindow()
        let ranks = communicator.size > 1 ? ", \(communicator.size) ranks of \(localRows.count) streams" : ""
        log("pretrain: \(model.parameterCount) parameters, vocabulary \(vocabulary.count), batch \(config.batchSize)×\(config.unrollSteps)\(ranks), "
            + (config.sampledSoftmax.map { "sampled softmax \($0)" } ?? "full softmax") + ", optimizer \(optimizer.name), from step \(completedSteps)"
            + (config.precision == .bf16 ? ", products in bf16" : ""))
        while config.maxSteps.map({ completedSteps < $0 }) ?? true {
            let outOfTime = config.maxMinutes.map { Date().timeIntervalSince(runStart) >= $0 * 60 } ?? false
            if communicator.leaderDecides(outOfTime) {
                log("time limit of \(config.maxMinutes!) minutes reached at step \(completedSteps)")
                break
            }
            guard let result = try step() else { break }
            let metrics = result.metrics
            runTokens += result.tokens
            window.add(result)
            progress?.update(done: completedSteps, rate: Double(runTokens) / max(Date().timeIntervalSince(runStart), 1e-9),
                             detail: String(format: "loss %.3f", metrics.loss))
            last = metrics
            if completedSteps % config.logFrequency == 0 {
                let averaged = window.close(last: metrics)
                metricsFile?.write(Data((averaged.json + "\n").utf8))
                progress?.clear()
                // A sampled-softmax loss is not the full cross-entropy: its exp is no perplexity.
                let lossName = config.sampledSoftmax == nil ? "loss" : "sampled loss"
                log("step \(completedSteps)  epoch \(averaged.epoch)  \(lossName) " + String(format: "%.4f  exp %.2f (fwd %.2f, bwd %.2f)  |g| %.2f  %.0f tokens/s",
                           averaged.loss, averaged.perplexity, averaged.forwardPerplexity,
                           averaged.backwardPerplexity, averaged.gradientNorm, averaged.tokensPerSecond))
                last = averaged
            }
            onStep?(metrics)
            if completedSteps % config.saveFrequency == 0 {
                progress?.clear()
                try saveCheckpoint(name: String(completedSteps))
                log("saved \(config.saveDirectory)/\(completedSteps)")
            }
        }
        progress?.clear()
        try saveCheckpoint(name: "final")
        log("saved \(config.saveDirectory)/final (step \(completedSteps))")
        return last
    }
}
