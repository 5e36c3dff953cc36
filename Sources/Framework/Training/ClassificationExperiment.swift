import Foundation

/// Labelled sentences, with an optional fixed train / test split (indices into `sentences`).
public struct LabelledSentences: Sendable {
    public var sentences: [[String]]
    public var labels: [Int]
    public var trainIndices: [Int]?
    public var testIndices: [Int]?
    /// Names the data in errors ("data-dir data/rt-polarity").
    public var source: String

    public init(sentences: [[String]], labels: [Int], trainIndices: [Int]? = nil, testIndices: [Int]? = nil, source: String) {
        self.sentences = sentences
        self.labels = labels
        self.trainIndices = trainIndices
        self.testIndices = testIndices
        self.source = source
    }
}

/// A sentence-classification experiment: an encoder and a head, chosen by name from the registries,
/// trained on the fixed split or by k-fold cross-validation, optionally with a dev set carved from each
/// training part for early stopping. `elmo train` is this type plus flag parsing.
public struct ClassificationExperiment {
    public struct Configuration: Sendable {
        public var encoder = "elmo"
        public var encoderOptions: [String: String] = [:]
        /// Option values for an encoder of a given name wherever it is built (see ``EncoderContext/optionDefaults``).
        public var encoderOptionDefaults: [String: [String: String]] = [:]
        public var head = "bow"
        public var headOptions: [String: String] = [:]
        public var optimizer = "adam"
        public var learningRate = 1e-3
        public var weightDecay = 1e-4
        public var scheduleShape = LearningRateSchedule.Shape.constant
        /// Fraction of the updates spent warming the rate up linearly.
        public var warmupFraction = 0.0
        /// Fine-tune the encoder's weights too.
        public var trainable = false
        /// The encoder's learning rate as a multiple of ``learningRate`` (trainable only).
        public var encoderLearningRateScale = 1.0
        /// Train the head alone for this many first epochs (trainable only).
        public var frozenEncoderEpochs = 0
        public var epochs = 20
        public var batchSize = 64
        /// The fraction of each training part carved out as a dev set (0: none).
        public var devFraction = 0.0
        /// k-fold cross-validation over all sentences (0: the data's fixed split).
        public var folds = 0
        /// With ``folds``: run only these folds (1-based; empty: all). A fold's result does not depend on which
        /// others run, so a long cross-validation can be split across processes and its results joined.
        public var onlyFolds: [Int] = []
        public var seed: UInt64 = 2020

        public init() {}

        /// Every value in range; the first that is not is a ``ParameterError`` naming it.
        public func validate() throws {
            guard epochs > 0 else { throw ParameterError("epochs", epochs, "must be positive") }
            guard batchSize > 0 else { throw ParameterError("batchSize", batchSize, "must be positive") }
            guard learningRate > 0, learningRate.isFinite else { throw ParameterError("learningRate", learningRate, "must be a positive number") }
            guard weightDecay >= 0 else { throw ParameterError("weightDecay", weightDecay, "must be ≥ 0") }
            guard devFraction >= 0, devFraction < 1 else { throw ParameterError("devFraction", devFraction, "must be in [0, 1)") }
            guard warmupFraction >= 0, warmupFraction < 1 else { throw ParameterError("warmupFraction", warmupFraction, "must be in [0, 1)") }
            guard encoderLearningRateScale > 0, encoderLearningRateScale.isFinite else {
                throw ParameterError("encoderLearningRateScale", encoderLearningRateScale, "must be a positive number")
            }
            guard frozenEncoderEpochs >= 0, frozenEncoderEpochs < epochs else {
                throw ParameterError("frozenEncoderEpochs", frozenEncoderEpochs, "must be from 0 to epochs − 1 (\(epochs - 1))")
            }
            guard trainable || (encoderLearningRateScale == 1 && frozenEncoderEpochs == 0) else {
                throw ParameterError(encoderLearningRateScale != 1 ? "encoderLearningRateScale" : "frozenEncoderEpochs",
                                     encoderLearningRateScale != 1 ? "\(encoderLearningRateScale)" : "\(frozenEncoderEpochs)",
                                     "needs a trainable encoder (the encoder is frozen)")
            }
            guard folds == 0 || folds >= 2 else { throw ParameterError("folds", folds, "must be 0 (off) or at least 2") }
            if let outside = onlyFolds.first(where: { $0 < 1 || $0 > folds }) {
                throw ParameterError("onlyFolds", outside, folds == 0 ? "needs folds (cross-validation)" : "must be from 1 to folds (\(folds))")
            }
        }
    }

    /// One epoch of one fold, as `metrics.jsonl` records it.
    public struct EpochRecord: Codable, Sendable, Equatable {
        public var fold: Int
        public var epoch: Int
        public var loss: Double
        public var devAccuracy: Double?
        enum CodingKeys: String, CodingKey { case fold, epoch, loss, devAccuracy = "dev_acc" }
    }

    /// What the experiment measured. Its JSON (``summary``) is `elmo train`'s last line.
    public struct Report: Encodable, Sendable {
        public var encoder: String
        public var head: String
        public var trainable: Bool
        /// Per fold (one entry without folds): test accuracy, and the best dev epoch's accuracy when there is a dev set.
        public var testAccuracies: [Double]
        public var devAccuracies: [Double]
        public var history: [EpochRecord]
        /// The folds run (1-based) when they were a subset of all; empty otherwise.
        public var foldNumbers: [Int] = []

        public var testAccuracy: Double { testAccuracies.reduce(0, +) / Double(testAccuracies.count) }
        public var testAccuracyStd: Double {
            let mean = testAccuracy
            return (testAccuracies.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(testAccuracies.count)).squareRoot()
        }
        public var devAccuracy: Double? { devAccuracies.isEmpty ? nil : devAccuracies.reduce(0, +) / Double(devAccuracies.count) }

        enum CodingKeys: String, CodingKey {
            case encoder, head, trainable, devAccuracy = "dev_acc", testAccuracy = "test_acc", testAccuracyStd = "test_acc_std", folds
            case foldNumbers = "fold_numbers", testAccuracies = "fold_test_acc", history
        }

        /// Encodes the summary (encoder, head, trainable, dev_acc — null without a dev set —, test_acc, and with
        /// folds test_acc_std, folds), then the per-fold accuracies and the epoch history.
        public func encode(to encoder: any Swift.Encoder) throws {
            try encodeSummary(to: encoder)
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(testAccuracies, forKey: .testAccuracies)
            try container.encode(history, forKey: .history)
        }

        func encodeSummary(to encoder: any Swift.Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(self.encoder, forKey: .encoder)
            try container.encode(head, forKey: .head)
            try container.encode(trainable, forKey: .trainable)
            try container.encode(devAccuracy, forKey: .devAccuracy)
            try container.encode(testAccuracy, forKey: .testAccuracy)
            if testAccuracies.count > 1 {
                try container.encode(testAccuracyStd, forKey: .testAccuracyStd)
                try container.encode(testAccuracies.count, forKey: .folds)
            }
            if !foldNumbers.isEmpty { try container.encode(foldNumbers, forKey: .foldNumbers) }
        }

        struct Summary: Encodable {
            let report: Report
            func encode(to encoder: any Swift.Encoder) throws { try report.encodeSummary(to: encoder) }
        }

        /// One line of JSON with the summary's keys.
        public var summaryJSON: String {
            let coder = JSONEncoder()
            coder.outputFormatting = [.sortedKeys]
            let data = (try? coder.encode(Summary(report: self))) ?? Data("{}".utf8)
            return String(decoding: data, as: UTF8.self)
        }
    }

    public let configuration: Configuration
    public let registries: Registries
    public let data: LabelledSentences
    public var log: (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }

    public init(configuration: Configuration, registries: Registries, data: LabelledSentences) {
        self.configuration = configuration
        self.registries = registries
        self.data = data
    }

    /// The train / test index pairs: the data's split, or `folds` folds of a seeded shuffle.
    public func splits() throws -> [(train: [Int], test: [Int])] {
        let c = configuration
        if c.folds > 0 {
            var order = Array(data.sentences.indices)
            var rng = SeededRandom(seed: c.seed)
            rng.shuffle(&order)
            return (0..<c.folds).map { k in
                let test = order.enumerated().filter { $0.offset % c.folds == k }.map(\.element)
                let testSet = Set(test)
                return (order.filter { !testSet.contains($0) }, test)
            }
        }
        guard let train = data.trainIndices, let test = data.testIndices else {
            throw InputError("\(data.source): has no fixed train/test split; use folds (--folds 10)")
        }
        return [(train, test)]
    }

    public func run() throws -> Report {
        let c = configuration
        try c.validate()
        let context = EncoderContext(trainable: c.trainable, seed: c.seed, encoders: registries.encoders,
                                     optionDefaults: c.encoderOptionDefaults)
        let encoder = try registries.encoders.makeEncoder(c.encoder, options: c.encoderOptions, context: context)
        // Head and optimizer options are checked now, before the encoder's (possibly long) preparation;
        // each fold builds its own from these configurations.
        let makeHead = try registries.heads.configure(c.head, options: c.headOptions)
        let optimizerOptions = ["lr": String(c.learningRate), "weight-decay": String(c.weightDecay)]
        let makeOptimizer = try registries.optimizers.configure(c.optimizer, options: optimizerOptions)
        let experiments = try splits()
        let start = Date()
        try encoder.prepare(data.sentences)
        log("encoder \(c.encoder) ready (dimension \(encoder.dimension)) in " + String(format: "%.1f s", Date().timeIntervalSince(start)))
        let initialEncoder = encoder.parameters.map(\.value.scalars)
        for p in encoder.parameters { p.learningRateScale = Float(c.encoderLearningRateScale) }

        var report = Report(encoder: c.encoder, head: c.head, trainable: c.trainable, testAccuracies: [], devAccuracies: [], history: [])
        report.foldNumbers = c.onlyFolds.isEmpty ? [] : Array(Set(c.onlyFolds)).sorted()
        for (k, experiment) in experiments.enumerated() where c.onlyFolds.isEmpty || c.onlyFolds.contains(k + 1) {
            for (p, v) in zip(encoder.parameters, initialEncoder) { p.value.scalars = v; p.zeroGrad() }
            var train = experiment.train, dev: [Int] = []
            if c.devFraction > 0 {
                var rng = SeededRandom(seed: c.seed &+ UInt64(k) &+ 17)
                rng.shuffle(&train)
                let devCount = max(1, Int((Double(train.count) * c.devFraction).rounded()))
                dev = Array(train.prefix(devCount))
                train = Array(train.dropFirst(devCount))
            }
            let head = try makeHead(HeadContext(inputDimension: encoder.dimension, classes: 2, seed: c.seed &+ UInt64(k)))
            let trainer = ClassifierTrainer(encoder: encoder, head: head, optimizer: try makeOptimizer(()), seed: c.seed &+ UInt64(k))
            trainer.batchSize = c.batchSize
            trainer.schedule = LearningRateSchedule(shape: c.scheduleShape, warmupFraction: c.warmupFraction)
            trainer.totalSteps = trainer.updates(examples: train.count, epochs: c.epochs)
            let foldLabel = experiments.count > 1 ? "fold \(k + 1)/\(experiments.count)  " : ""
            var best: (accuracy: Double, epoch: Int, values: [[Float]])? = nil
            for epoch in 1...c.epochs {
                let epochStart = Date()
                trainer.encoderFrozen = epoch <= c.frozenEncoderEpochs
                let loss = trainer.trainEpoch(sentences: data.sentences, labels: data.labels, indices: train)
                var line = foldLabel + String(format: "epoch %d/%d  loss %.4f  %.1f s", epoch, c.epochs, loss, Date().timeIntervalSince(epochStart))
                var record = EpochRecord(fold: k, epoch: epoch, loss: loss, devAccuracy: nil)
                if !dev.isEmpty {
                    let accuracy = trainer.accuracy(sentences: data.sentences, labels: data.labels, indices: dev)
                    line += String(format: "  dev acc %.4f", accuracy)
                    record.devAccuracy = accuracy
                    if best == nil || accuracy > best!.accuracy { best = (accuracy, epoch, trainer.snapshot()) }
                }
                log(line)
                report.history.append(record)
            }
            if let best {
                trainer.restore(best.values)
                log("fold \(k + 1): best dev epoch \(best.epoch) (dev acc \(String(format: "%.4f", best.accuracy)))")
                report.devAccuracies.append(best.accuracy)
            }
            let testAccuracy = trainer.accuracy(sentences: data.sentences, labels: data.labels, indices: experiment.test)
            report.testAccuracies.append(testAccuracy)
            log((experiments.count > 1 ? "fold \(k + 1)  " : "") + String(format: "test acc %.4f", testAccuracy))
        }
        return report
    }
}
