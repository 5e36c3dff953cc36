import ArgumentParser
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

    func run() throws {
        for (value, flag) in [(dim, "--dim"), (window, "--window"), (negative, "--negative"), (minCount, "--min-count"), (epochs, "--epochs")] {
            try Check.positive(value, flag)
        }
        try Check.positive(lr, "--lr")
        var config = SkipGramConfig()
        config.dimension = dim; config.window = window; config.negative = negative; config.minCount = minCount
        config.epochs = epochs; config.learningRate = lr; config.seed = seed
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
    @Option(help: "Pretrained BiLM for --encoder elmo (DIR/STEP).") var initFromCkpt = "runs/pretrain/final"
    @Option(help: "word2vec file for --encoder word2vec.") var pretrainedWord2vecFile: String?
    @Flag(help: "Fine-tune the encoder's weights too.") var trainable = false
    @Option(help: "With --trainable: the encoder's learning rate as a multiple of --lr (discriminative fine-tuning).") var encoderLrScale = 1.0
    @Option(help: "With --trainable: train the head alone for this many first epochs, then the encoder too.") var frozenEncoderEpochs = 0
    @Option(help: "Epochs.") var epochs = 20
    @Option(help: "Sentences per batch.") var batchSize = 64
    @Option(help: "Cut sentences at this many tokens.") var maxSeqLen = 256
    @Option(help: "Carve this fraction of the training split as a dev set: early stopping keeps the best dev epoch.") var devFraction = 0.0
    @Option(help: "k-fold cross-validation over all sentences instead of the shipped split (0 = off).") var folds = 0
    @Option(name: .customLong("encoder-option"), help: "Encoder option KEY=VALUE (repeatable), e.g. layers=mix.") var encoderOptions: [String] = []
    @Option(name: .customLong("head-option"), help: "Head option KEY=VALUE (repeatable).") var headOptions: [String] = []
    @Option(help: "Directory for metrics.jsonl.") var saveDir = "runs/train"
    @Option(help: "Random seed.") var seed: UInt64 = 2020

    func run() throws {
        try Check.positive(epochs, "--epochs")
        try Check.positive(batchSize, "--batch-size")
        try Check.positive(maxSeqLen, "--max-seq-len")
        try Check.positive(lr, "--lr")
        guard weightDecay >= 0 else { throw InputError("--weight-decay \(weightDecay): must be ≥ 0") }
        try Check.fraction(devFraction, "--dev-fraction")
        guard let scheduleShape = LearningRateSchedule.Shape(rawValue: lrSchedule) else {
            throw InputError("--lr-schedule \(lrSchedule): not one of \(LearningRateSchedule.Shape.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        try Check.fraction(warmupFraction, "--warmup-fraction")
        try Check.positive(encoderLrScale, "--encoder-lr-scale")
        guard frozenEncoderEpochs >= 0, frozenEncoderEpochs < epochs else {
            throw InputError("--frozen-encoder-epochs \(frozenEncoderEpochs): must be from 0 to --epochs − 1 (\(epochs - 1))")
        }
        guard trainable || (encoderLrScale == 1 && frozenEncoderEpochs == 0) else {
            throw InputError("--encoder-lr-scale and --frozen-encoder-epochs need --trainable: the encoder is frozen")
        }
        guard folds == 0 || folds >= 2 else { throw InputError("--folds \(folds): must be 0 (off) or at least 2") }
        let registries = try builtinRegistries()
        let data = try SentencePolarity(directory: dataDir, maxTokens: maxSeqLen)
        let context = EncoderContext(checkpoint: initFromCkpt, word2vecFile: pretrainedWord2vecFile,
                                     trainable: trainable, seed: seed, encoders: registries.encoders)
        let encoderPlugin = try registries.encoders.make(encoder, options: try keyValues(encoderOptions, "--encoder-option"), context: context)
        // Check the head's name and options now, before the encoder's (possibly long) preparation.
        _ = try registries.heads.make(head, options: try keyValues(headOptions, "--head-option"), context: HeadContext(inputDimension: 1, classes: 2, seed: 0))
        _ = try registries.optimizers.make(optimizer, options: ["lr": String(lr), "weight-decay": String(weightDecay)], context: ())
        let start = Date()
        try encoderPlugin.prepare(data.sentences)
        printError("encoder \(encoder) ready (dimension \(encoderPlugin.dimension)) in " + String(format: "%.1f s", Date().timeIntervalSince(start)))
        let initialEncoder = encoderPlugin.parameters.map(\.value.scalars)
        for p in encoderPlugin.parameters { p.learningRateScale = Float(encoderLrScale) }
        try Files.ensureDirectory(saveDir, role: "--save-dir")
        var metrics = ""

        // The experiments: the shipped split, or k folds.
        var experiments: [(train: [Int], test: [Int])] = []
        if folds > 0 {
            var order = Array(data.sentences.indices)
            var rng = SeededRandom(seed: seed)
            rng.shuffle(&order)
            for k in 0..<folds {
                let test = order.enumerated().filter { $0.offset % folds == k }.map(\.element)
                let testSet = Set(test)
                experiments.append((order.filter { !testSet.contains($0) }, test))
            }
        } else {
            guard let train = data.trainIndices, let test = data.testIndices else {
                throw InputError("--data-dir \(dataDir): no split-random-state-2020.tsv; use --folds 10")
            }
            experiments.append((train, test))
        }
        var devAccuracies: [Double] = [], testAccuracies: [Double] = []
        for (k, experiment) in experiments.enumerated() {
            for (p, v) in zip(encoderPlugin.parameters, initialEncoder) { p.value.scalars = v; p.zeroGrad() }
            var train = experiment.train, dev: [Int] = []
            if devFraction > 0 {
                var rng = SeededRandom(seed: seed &+ UInt64(k) &+ 17)
                rng.shuffle(&train)
                let devCount = max(1, Int((Double(train.count) * devFraction).rounded()))
                dev = Array(train.prefix(devCount))
                train = Array(train.dropFirst(devCount))
            }
            let headPlugin = try registries.heads.make(head, options: try keyValues(headOptions, "--head-option"),
                                                       context: HeadContext(inputDimension: encoderPlugin.dimension, classes: 2, seed: seed &+ UInt64(k)))
            let optimizerPlugin = try registries.optimizers.make(optimizer, options: ["lr": String(lr), "weight-decay": String(weightDecay)], context: ())
            let trainer = ClassifierTrainer(encoder: encoderPlugin, head: headPlugin, optimizer: optimizerPlugin, seed: seed &+ UInt64(k))
            trainer.batchSize = batchSize
            trainer.schedule = LearningRateSchedule(shape: scheduleShape, warmupFraction: warmupFraction)
            trainer.totalSteps = trainer.updates(examples: train.count, epochs: epochs)
            var best: (accuracy: Double, epoch: Int, values: [[Float]])? = nil
            for epoch in 1...epochs {
                let epochStart = Date()
                trainer.encoderFrozen = epoch <= frozenEncoderEpochs
                let loss = trainer.trainEpoch(sentences: data.sentences, labels: data.labels, indices: train)
                var line = (experiments.count > 1 ? "fold \(k + 1)/\(experiments.count)  " : "")
                    + String(format: "epoch %d/%d  loss %.4f  %.1f s", epoch, epochs, loss, Date().timeIntervalSince(epochStart))
                var record = "{\"fold\": \(k), \"epoch\": \(epoch), \"loss\": \(JSONText.number(loss))"
                if !dev.isEmpty {
                    let accuracy = trainer.accuracy(sentences: data.sentences, labels: data.labels, indices: dev)
                    line += String(format: "  dev acc %.4f", accuracy)
                    record += ", \"dev_acc\": \(JSONText.number(accuracy))"
                    if best == nil || accuracy > best!.accuracy { best = (accuracy, epoch, trainer.snapshot()) }
                }
                printError(line)
                metrics += record + "}\n"
            }
            if let best {
                trainer.restore(best.values)
                printError("fold \(k + 1): best dev epoch \(best.epoch) (dev acc \(String(format: "%.4f", best.accuracy)))")
                devAccuracies.append(best.accuracy)
            }
            let testAccuracy = trainer.accuracy(sentences: data.sentences, labels: data.labels, indices: experiment.test)
            testAccuracies.append(testAccuracy)
            printError((experiments.count > 1 ? "fold \(k + 1)  " : "") + String(format: "test acc %.4f", testAccuracy))
        }
        try Files.writeAtomically(Array(metrics.utf8), to: "\(saveDir)/metrics.jsonl")
        let mean = testAccuracies.reduce(0, +) / Double(testAccuracies.count)
        let std = (testAccuracies.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(testAccuracies.count)).squareRoot()
        let devMean = devAccuracies.isEmpty ? Double.nan : devAccuracies.reduce(0, +) / Double(devAccuracies.count)
        if experiments.count > 1 { print(String(format: "%d-fold test accuracy %.4f ± %.4f", experiments.count, mean, std)) }
        else { print(String(format: "test accuracy %.4f", mean)) }
        var json = "{\"encoder\": \(JSONText.quote(encoder)), \"head\": \(JSONText.quote(head)), \"trainable\": \(trainable), "
        json += "\"dev_acc\": \(JSONText.number(devMean)), \"test_acc\": \(JSONText.number(mean))"
        if experiments.count > 1 { json += ", \"test_acc_std\": \(JSONText.number(std)), \"folds\": \(experiments.count)" }
        print(json + "}")
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
