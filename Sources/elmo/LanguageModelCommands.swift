import ArgumentParser
import CLISupport
import Foundation
import Framework
import Models

struct VocabCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vocab", abstract: "Build a bilm-tf vocabulary (<S>, </S>, <UNK>, then words by frequency) from a corpus.")

    @Option(help: "Corpus glob (one sentence per line, whitespace-tokenized).")
    var trainDataPath = "data/wikitext-2/train.txt"
    @Option(help: "Keep words seen at least this often.") var minCount = 1
    @Option(help: "Keep at most this many words (besides the specials).") var maxSize: Int?
    @Option(help: "Output vocab file.") var output = "vocab.txt"

    func run() throws {
        try Check.positive(minCount, "--min-count")
        if let maxSize { try Check.positive(maxSize, "--max-size") }
        let corpus = try Corpus(glob: trainDataPath, role: "--train-data-path")
        let vocabulary = try Vocabulary.build(from: corpus, minCount: minCount, maxSize: maxSize)
        try Files.ensureParentDirectory(of: output, role: "--output")
        try Files.writeAtomically(Array(vocabulary.fileText.utf8), to: output)
        print("wrote \(output): \(vocabulary.count) tokens (\(vocabulary.count - 3) words + <S>, </S>, <UNK>)")
    }
}

struct PretrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pretrain", abstract: "Pretrain the bidirectional language model (truncated BPTT over continuous streams).")

    @Option(help: "Training corpus glob.") var trainDataPath = "data/wikitext-2/train.txt"
    @Option(help: "Vocabulary file (bilm-tf or PaddleNLP format; default data/wikitext-2/vocab.txt, or the checkpoint's when starting from one).") var vocabFile: String?
    @Option(help: "Preset (\(BiLMOptions.presetNames.joined(separator: "|"))) or an options.json path (default tiny; with --init-from-ckpt, the checkpoint's).") var config: String?
    @Option(help: "Checkpoint directory.") var saveDir = "runs/pretrain"
    @Option(help: "Checkpoint every N steps.") var saveFreq = 1000
    @Option(help: "Log every N steps.") var logFreq = 10
    @Option(help: "Stop after N steps.") var maxSteps: Int?
    @Option(help: "Stop after N passes over the corpus.") var epochs = 10
    @Option(help: "Stop after this many minutes of wall time (checkpointing `final`).") var maxMinutes: Double?
    @Option(help: "Streams per batch.") var batchSize = 128
    @Option(help: "Truncated-BPTT window.") var unrollSteps = 20
    @Option(help: "Optimizer name (see `elmo list`).") var optimizer = "adagrad"
    @Option(help: "Learning rate.") var lr = 0.2
    @Option(help: "Dropout on every LSTM layer's input and on the output.") var dropout = 0.1
    @Option(help: "Global gradient-norm clip.") var maxGradNorm = 10.0
    @Option(help: "Sampled softmax with N candidates per direction (default: full softmax).") var sampledSoftmax: Int?
    @Option(help: "Probability that a sentence starts from a zero LSTM state instead of the carried one (0 = bilm-tf).") var stateResetProb = 0.25
    @Option(help: "Continue from DIR/STEP (parameters, optimizer state, data position, RNG).") var initFromCkpt: String?
    @Option(help: "Start from DIR/STEP's parameters only: fresh optimizer, step count and data position (e.g. on another corpus).") var initWeightsFrom: String?
    @Option(help: "Random seed.") var seed: UInt64 = 2020
    @Option(help: "fp32, or bf16: products by the weights in bfloat16 with float32 sums and float32 weights (CPUs with AVX512-BF16 or AMX).")
    var precision = "fp32"

    /// The settings' parameters, as the flags that set them (for errors).
    static let flags = ["saveFrequency": "--save-freq", "logFrequency": "--log-freq", "maxSteps": "--max-steps", "maxMinutes": "--max-minutes",
                        "epochs": "--epochs", "batchSize": "--batch-size", "unrollSteps": "--unroll-steps", "dropout": "--dropout",
                        "maxGradientNorm": "--max-grad-norm", "sampledSoftmax": "--sampled-softmax", "stateResetProbability": "--state-reset-prob"]

    func run() throws {
        if initFromCkpt != nil, initWeightsFrom != nil {
            throw InputError("--init-from-ckpt and --init-weights-from: give one (the first continues a run, the second starts one from its parameters)")
        }
        let startFrom = initFromCkpt ?? initWeightsFrom
        try Check.positive(lr, "--lr")
        let registries = try builtinRegistries()
        let optimizer = try registries.optimizers.make(self.optimizer, options: ["lr": String(lr)], context: ())
        var settings = PretrainConfig(trainPattern: trainDataPath, options: try BiLMOptions.resolve(config ?? "tiny"), saveDirectory: saveDir)
        settings.optionsGiven = config != nil
        settings.saveFrequency = saveFreq
        settings.logFrequency = logFreq
        settings.maxSteps = maxSteps
        settings.maxMinutes = maxMinutes
        settings.epochs = epochs
        settings.batchSize = batchSize
        settings.unrollSteps = unrollSteps
        settings.dropout = dropout
        settings.maxGradientNorm = maxGradNorm
        settings.sampledSoftmax = sampledSoftmax
        settings.stateResetProbability = stateResetProb
        settings.seed = seed
        settings.optimizerName = self.optimizer
        settings.optimizerOptions = ["lr": String(lr)]
        settings.restoreTrainingState = initWeightsFrom == nil
        settings.precision = try ComputePrecision(flag: "--precision", value: precision)
        try Check.flags(Self.flags) { try settings.validate() }
        // From a checkpoint the vocabulary is the checkpoint's; an explicit --vocab-file must agree.
        let vocabulary: Vocabulary? = try (vocabFile ?? (startFrom == nil ? "data/wikitext-2/vocab.txt" : nil)).map(Vocabulary.init(contentsOf:))
        // Under Open MPI's mpirun: data-parallel over its ranks (see README, "Data-parallel pretraining").
        let communicator: any Communicator = try OpenMPI.fromEnvironment() ?? SingleProcess()
        if communicator.size > 1 {
            let environment = ProcessInfo.processInfo.environment
            // Ranks on one machine share its cores: unless told otherwise, each gets its share.
            if environment["OPENBLAS_NUM_THREADS"] == nil {
                let local = environment["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap(Int.init) ?? communicator.size
                BLASRuntime.setThreads(max(1, BLASRuntime.processors / max(local, 1)))
            }
        }
        let trainer = try Pretrainer(config: settings, vocabulary: vocabulary, optimizer: optimizer, resumeFrom: startFrom,
                                     communicator: communicator)
        try trainer.run()
        communicator.finish()
    }
}

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval", abstract: "Perplexity of a checkpoint on held-out text (last line JSON).")

    @Option(help: "Held-out corpus glob.") var devDataPath = "data/wikitext-2/valid.txt"
    @Option(help: "Vocabulary file; must equal the checkpoint's (default: the checkpoint's own).") var vocabFile: String?
    @Option(help: "Checkpoint DIR/STEP.") var initFromCkpt = "runs/pretrain/final"
    @Option(help: "Streams per batch.") var batchSize = 128
    @Option(help: "Window length.") var unrollSteps = 20

    func run() throws {
        try Check.positive(batchSize, "--batch-size")
        try Check.positive(unrollSteps, "--unroll-steps")
        let (model, vocabulary) = try BiLMCheckpoint.loadModel(initFromCkpt, languageModel: true)
        if let vocabFile, try Vocabulary(contentsOf: vocabFile) != vocabulary {
            throw InputError("--vocab-file \(vocabFile): differs from the vocabulary stored in the checkpoint")
        }
        let corpus = try Corpus(glob: devDataPath, role: "--dev-data-path")
        let start = Date()
        let result = try Evaluation.run(model: model, vocabulary: vocabulary, corpus: corpus, batchSize: batchSize, unrollSteps: unrollSteps)
        printError(String(format: "eval: %d tokens per direction in %.1f s", result.tokens, Date().timeIntervalSince(start)))
        print(String(format: "forward perplexity %.2f, backward perplexity %.2f, mean %.2f",
                     result.forwardPerplexity, result.backwardPerplexity, result.perplexity))
        print(result.json)
    }
}
