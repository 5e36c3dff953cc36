import ArgumentParser
import CLISupport
import Foundation
import Framework
import Models

struct Word2VecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "word2vec", abstract: "Train skip-gram word vectors with negative sampling; writes the word2vec binary format.")

    @Option(help: "Corpus glob.") var trainDataPath = "data/wikitext-2/train.txt"
    @Option(help: "Output .bin file.") var output = "runs/word2vec/vectors.bin"
    @Option(help: "Vector size.") var dim = 100
    @Option(help: "Maximum context distance.") var window = 5
    @Option(help: "Negative samples per pair.") var negative = 5
    @Option(help: "Ignore words seen fewer times.") var minCount = 5
    @Option(help: "Passes over the corpus.") var epochs = 5
    @Option(help: "Starting learning rate (decays linearly).") var lr = 0.025
    @Option(help: "Random seed.") var seed: UInt64 = 1
    @Option(help: ArgumentHelp("Worker threads, updating the vectors without locks (default: all cores).",
                               discussion: "--threads 1 is the sequential algorithm: the same seed gives the same file, bit for bit."))
    var threads: Int?

    var workers: Int { threads ?? ProcessInfo.processInfo.activeProcessorCount }

    func run() throws {
        for (value, flag) in [(dim, "--dim"), (window, "--window"), (negative, "--negative"), (minCount, "--min-count"), (epochs, "--epochs"),
                              (workers, "--threads")] {
            try Check.positive(value, flag)
        }
        try Check.positive(lr, "--lr")
        var config = SkipGramConfig()
        config.dimension = dim; config.window = window; config.negative = negative; config.minCount = minCount
        config.epochs = epochs; config.learningRate = lr; config.seed = seed; config.threads = workers
        let trainer = try SkipGramTrainer(corpus: Corpus(glob: trainDataPath, role: "--train-data-path"), config: config)
        try Files.ensureParentDirectory(of: output, role: "--output")
        try trainer.train()
        try trainer.write(to: output)
        print("wrote \(output): \(trainer.words.count) words × \(dim)")
    }
}

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train", abstract: "Train a sentence-polarity classifier: an encoder + a head (last line JSON).")

    @Option(help: "Encoder (see `elmo list`).") var encoder = "elmo"
    @Option(help: "Head (see `elmo list`).") var head = "bow"
    @Option(help: "Optimizer (see `elmo list`).") var optimizer = "adam"
    @Option(help: "Learning rate.") var lr = 1e-3
    @Option(help: "Coupled L2 weight decay.") var weightDecay = 1e-4
    @Option(help: "Learning-rate schedule: constant (the example's) or linear (decay to zero at the last update).") var lrSchedule = "constant"
    @Option(help: "Fraction of the updates spent warming the learning rate up linearly.") var warmupFraction = 0.0
    @Option(help: "Directory with rt-polarity.pos/.neg (and split-random-state-2020.tsv).") var dataDir = "data/rt-polarity"
    @Option(help: "Alias of --encoder-option checkpoint=DIR/STEP for the elmo encoder (default: the shipped model).") var initFromCkpt: String?
    @Option(help: "Alias of --encoder-option file=F for the word2vec encoder (default: the shipped vectors).") var pretrainedWord2vecFile: String?
    @Flag(help: "Fine-tune the encoder's weights too.") var trainable = false
    @Option(help: "With --trainable: the encoder's learning rate as a multiple of --lr (discriminative fine-tuning).") var encoderLrScale = 1.0
    @Option(help: "With --trainable: train the head alone for this many first epochs, then the encoder too.") var frozenEncoderEpochs = 0
    @Option(help: "Epochs.") var epochs = 20
    @Option(help: "Sentences per batch.") var batchSize = 64
    @Option(help: "Cut sentences at this many tokens.") var maxSeqLen = 256
    @Option(help: "Carve this fraction of the training split as a dev set: early stopping keeps the best dev epoch.") var devFraction = 0.0
    @Option(help: "k-fold cross-validation over all sentences instead of the shipped split (0 = off).") var folds = 0
    @Option(help: "With --folds: run only fold K (1-based; repeatable). A fold's accuracy is the one it gets in the full run.")
    var fold: [Int] = []
    @Option(name: .customLong("encoder-option"), help: "Encoder option KEY=VALUE (repeatable), e.g. layers=mix.") var encoderOptions: [String] = []
    @Option(name: .customLong("head-option"), help: "Head option KEY=VALUE (repeatable).") var headOptions: [String] = []
    @Option(help: "Directory for metrics.jsonl.") var saveDir = "runs/train"
    @Option(help: "Random seed.") var seed: UInt64 = 2020

    /// The experiment's parameters, as the flags that set them (for errors).
    static let flags = ["epochs": "--epochs", "batchSize": "--batch-size", "learningRate": "--lr", "weightDecay": "--weight-decay",
                        "devFraction": "--dev-fraction", "warmupFraction": "--warmup-fraction", "encoderLearningRateScale": "--encoder-lr-scale",
                        "frozenEncoderEpochs": "--frozen-encoder-epochs", "folds": "--folds", "onlyFolds": "--fold"]

    func run() throws {
        try Check.positive(maxSeqLen, "--max-seq-len")
        guard let scheduleShape = LearningRateSchedule.Shape(rawValue: lrSchedule) else {
            throw InputError("--lr-schedule \(lrSchedule): not one of \(LearningRateSchedule.Shape.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        var configuration = ClassificationExperiment.Configuration()
        configuration.encoder = encoder
        configuration.encoderOptions = try keyValues(encoderOptions, "--encoder-option")
        // The documented aliases fill the options of the encoders that read them, wherever they are built.
        var defaults: [String: [String: String]] = [:]
        if let initFromCkpt { defaults["elmo", default: [:]]["checkpoint"] = initFromCkpt }
        if let pretrainedWord2vecFile { defaults["word2vec", default: [:]]["file"] = pretrainedWord2vecFile }
        configuration.encoderOptionDefaults = defaults
        configuration.head = head
        configuration.headOptions = try keyValues(headOptions, "--head-option")
        configuration.optimizer = optimizer
        configuration.learningRate = lr
        configuration.weightDecay = weightDecay
        configuration.scheduleShape = scheduleShape
        configuration.warmupFraction = warmupFraction
        configuration.trainable = trainable
        configuration.encoderLearningRateScale = encoderLrScale
        configuration.frozenEncoderEpochs = frozenEncoderEpochs
        configuration.epochs = epochs
        configuration.batchSize = batchSize
        configuration.devFraction = devFraction
        configuration.folds = folds
        configuration.onlyFolds = fold
        configuration.seed = seed
        try Check.flags(Self.flags) { try configuration.validate() }
        let polarity = try SentencePolarity(directory: dataDir, maxTokens: maxSeqLen)
        let data = LabelledSentences(sentences: polarity.sentences, labels: polarity.labels, trainIndices: polarity.trainIndices,
                                     testIndices: polarity.testIndices, source: "--data-dir \(dataDir) (no split-random-state-2020.tsv)")
        try Files.ensureDirectory(saveDir, role: "--save-dir")
        let report = try ClassificationExperiment(configuration: configuration, registries: try builtinRegistries(), data: data).run()
        let coder = JSONEncoder()
        coder.outputFormatting = [.sortedKeys]
        let metrics = try report.history.map { String(decoding: try coder.encode($0), as: UTF8.self) + "\n" }.joined()
        try Files.writeAtomically(Array(metrics.utf8), to: "\(saveDir)/metrics.jsonl")
        if !report.foldNumbers.isEmpty {
            let each = zip(report.foldNumbers, report.testAccuracies).map { String(format: "fold %d %.4f", $0, $1) }
            print("folds of \(folds): " + each.joined(separator: ", "))
        } else if report.testAccuracies.count > 1 {
            print(String(format: "%d-fold test accuracy %.4f ± %.4f", report.testAccuracies.count, report.testAccuracy, report.testAccuracyStd))
        } else {
            print(String(format: "test accuracy %.4f", report.testAccuracy))
        }
        print(report.summaryJSON)
    }

    func keyValues(_ items: [String], _ flag: String) throws -> [String: String] {
        var out: [String: String] = [:]
        for item in items {
            let parts = item.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, !parts[0].isEmpty else { throw InputError("\(flag) \(item): expected KEY=VALUE") }
            out[String(parts[0])] = String(parts[1])
        }
        return out
    }
}
