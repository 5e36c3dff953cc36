import Foundation
import Framework
import Models
import Optimizers
import Testing
import TestSupport

@Suite("Pretraining, checkpoints, resume")
struct PretrainTests {
    static let options = BiLMOptions(cellSize: 16, projectionDim: 8, layerCount: 2, cellClip: 3, projectionClip: 3,
                                     skipConnections: true, charEmbeddingDim: 4, filters: [[1, 4], [2, 4], [3, 8]],
                                     highwayCount: 1, maxCharactersPerToken: 50, activation: "relu")

    /// A small corpus in two shards, with a vocabulary that leaves some words out (→ <UNK>).
    static func corpus() throws -> (pattern: String, vocabulary: Vocabulary, directory: String) {
        let directory = RepositoryPaths.temporaryDirectory("pretrain")
        let words = ["the", "cat", "dog", "sat", "on", "a", "mat", "ran", "fast", "slowly", "über", "and"]
        // Lines drawn from a few sentences, so there is structure to learn; one line is empty.
        let sentences = ["the cat sat on a mat", "a dog ran fast", "the dog sat slowly", "", "a cat ran and the dog sat über"]
        var rng = SeededRandom(seed: 5)
        for shard in 0..<2 {
            var text = ""
            for _ in 0..<40 { text += sentences[rng.integer(below: sentences.count)] + "\n" }
            try text.write(toFile: "\(directory)/shard-\(shard).txt", atomically: true, encoding: .utf8)
        }
        let vocabulary = try Vocabulary(tokens: Array(words.prefix(9)))
        return ("\(directory)/shard-*.txt", vocabulary, directory)
    }

    static func config(_ pattern: String, saveDir: String, maxSteps: Int, sampled: Int?) -> PretrainConfig {
        var config = PretrainConfig(trainPattern: pattern, options: options, saveDirectory: saveDir)
        config.batchSize = 3
        config.unrollSteps = 5
        config.maxSteps = maxSteps
        config.saveFrequency = 4
        config.logFrequency = 100
        config.sampledSoftmax = sampled
        config.epochs = 100
        return config
    }

    static func adagrad() throws -> any Optimizer {
        var registries = Registries()
        try Optimizers.register(into: &registries)
        return try registries.optimizers.make("adagrad", options: ["lr": "0.2"], context: ())
    }

    /// N steps, checkpoint, resume, N more steps: bit-identical to 2N uninterrupted steps (parameters,
    /// optimizer state, LSTM state, data position, dropout and sampler RNG all restored).
    @Test(arguments: [nil, 5] as [Int?])
    func resumeIsBitIdentical(sampled: Int?) throws {
        let (pattern, vocabulary, directory) = try Self.corpus()
        let straight = try Pretrainer(config: Self.config(pattern, saveDir: "\(directory)/straight", maxSteps: 12, sampled: sampled),
                                      vocabulary: vocabulary, optimizer: Self.adagrad(), resumeFrom: nil)
        straight.log = { _ in }
        try straight.run()

        let first = try Pretrainer(config: Self.config(pattern, saveDir: "\(directory)/split", maxSteps: 8, sampled: sampled),
                                   vocabulary: vocabulary, optimizer: Self.adagrad(), resumeFrom: nil)
        first.log = { _ in }
        try first.run()
        let resumed = try Pretrainer(config: Self.config(pattern, saveDir: "\(directory)/split", maxSteps: 12, sampled: sampled),
                                     vocabulary: nil, optimizer: Self.adagrad(), resumeFrom: "\(directory)/split/8")
        resumed.log = { _ in }
        #expect(resumed.completedSteps == 8)
        try resumed.run()
        #expect(resumed.completedSteps == 12 && straight.completedSteps == 12)
        for (a, b) in zip(straight.model.parameters, resumed.model.parameters) {
            let differing = zip(a.value.scalars, b.value.scalars).filter { $0.bitPattern != $1.bitPattern }.count
            #expect(differing == 0, "\(a.name): \(differing) of \(a.count) values differ after resume")
        }
        let straightFinal = try SafeTensors.read(path: "\(directory)/straight/final.safetensors")
        let resumedFinal = try SafeTensors.read(path: "\(directory)/split/final.safetensors")
        #expect(straightFinal.serialized() == resumedFinal.serialized())
        #expect(FileManager.default.fileExists(atPath: "\(directory)/split/metrics.jsonl"))
    }

    /// Two processes running the same pretraining write byte-identical checkpoints (the optimizer's tensors
    /// are written in name order, not in the order of a dictionary, which differs from process to process).
    @Test func checkpointFilesAreTheSameBytesEveryRun() throws {
        let (pattern, vocabulary, directory) = try Self.corpus()
        try Self.options.jsonText().write(toFile: "\(directory)/options.json", atomically: true, encoding: .utf8)
        try vocabulary.fileText.write(toFile: "\(directory)/vocab.txt", atomically: true, encoding: .utf8)
        var files: [[UInt8]] = []
        for run in 0..<2 {
            let outcome = try BadInputTests.run(["pretrain", "--config", "\(directory)/options.json", "--train-data-path", pattern,
                                                 "--vocab-file", "\(directory)/vocab.txt", "--batch-size", "3", "--unroll-steps", "5",
                                                 "--max-steps", "3", "--save-dir", "\(directory)/run-\(run)"])
            #expect(outcome.status == 0, "\(outcome.stderr)")
            files.append(try Files.readBytes("\(directory)/run-\(run)/final.optim.safetensors", role: "test"))
            files.append(try Files.readBytes("\(directory)/run-\(run)/final.safetensors", role: "test"))
        }
        #expect(files[0] == files[2] && files[1] == files[3])
    }

    @Test func lossFallsAndEvaluationCountsEveryToken() throws {
        let (pattern, vocabulary, directory) = try Self.corpus()
        var config = Self.config(pattern, saveDir: "\(directory)/run", maxSteps: 80, sampled: nil)
        config.logFrequency = 10
        let trainer = try Pretrainer(config: config, vocabulary: vocabulary, optimizer: Self.adagrad(), resumeFrom: nil)
        trainer.log = { _ in }
        var losses: [Double] = []
        trainer.onStep = { losses.append($0.loss) }
        try trainer.run()
        let early = losses.prefix(10).reduce(0, +) / 10, late = losses.suffix(10).reduce(0, +) / 10
        #expect(late < early - 0.3, "loss \(early) → \(late)")
        // Evaluation predicts every word plus one end marker per line, once per direction.
        let corpus = try Corpus(glob: pattern, role: "corpus")
        var expected = 0
        try corpus.forEachSentence { expected += $0.count + 1 }
        let (model, storedVocabulary) = try BiLMCheckpoint.loadModel("\(directory)/run/final")
        #expect(storedVocabulary == vocabulary)
        let result = try Evaluation.run(model: model, vocabulary: storedVocabulary, corpus: corpus, batchSize: 4, unrollSteps: 7)
        #expect(result.tokens == expected)
        #expect(result.forwardPerplexity < Double(vocabulary.count) && result.backwardPerplexity < Double(vocabulary.count))
    }

    /// `--precision bf16` (mixed precision: bfloat16 products, float32 weights repacked after every step) learns as
    /// fp32 does, to bfloat16's rounding: the same loss curve within a few per cent. Weights packed once and never
    /// repacked would leave the loss where it started. On a CPU without AVX512-BF16 or AMX: a one-line refusal.
    @Test func bfloat16FollowsFloat32() throws {
        let (pattern, vocabulary, directory) = try Self.corpus()
        var losses: [ComputePrecision: [Double]] = [:]
        for precision in ComputePrecision.allCases {
            var config = Self.config(pattern, saveDir: "\(directory)/\(precision.rawValue)", maxSteps: 80, sampled: nil)
            config.precision = precision
            guard precision == .fp32 || PackedMatmul.bfloat16Available else {
                #expect(throws: InputError("--precision bf16: needs a CPU with AVX512-BF16 or AMX; this one has \(PackedMatmul.isaName) (use fp32)")) {
                    _ = try Pretrainer(config: config, vocabulary: vocabulary, optimizer: Self.adagrad(), resumeFrom: nil)
                }
                return
            }
            let trainer = try Pretrainer(config: config, vocabulary: vocabulary, optimizer: Self.adagrad(), resumeFrom: nil)
            trainer.log = { _ in }
            trainer.onStep = { losses[precision, default: []].append($0.loss) }
            try trainer.run()
        }
        let fp32 = try #require(losses[.fp32]), bf16 = try #require(losses[.bf16])
        let mean = { (x: ArraySlice<Double>) in x.reduce(0, +) / Double(x.count) }
        #expect(mean(bf16.suffix(10)) < mean(bf16.prefix(10)) - 0.3, "bf16 loss \(mean(bf16.prefix(10))) → \(mean(bf16.suffix(10)))")
        #expect(abs(mean(bf16.suffix(10)) - mean(fp32.suffix(10))) <= 0.03 * mean(fp32.suffix(10)),
                "late loss bf16 \(mean(bf16.suffix(10))) vs fp32 \(mean(fp32.suffix(10)))")
        #expect(bf16 != fp32, "the bf16 path did not run")
    }

    /// A data position belongs to its corpus: resuming on other files is refused with a pointer to
    /// `--init-weights-from`, which takes the parameters alone and starts step, data and optimizer afresh.
    @Test func anotherCorpusStartsFromTheWeightsOnly() throws {
        let (pattern, vocabulary, directory) = try Self.corpus()
        let first = try Pretrainer(config: Self.config(pattern, saveDir: "\(directory)/a", maxSteps: 4, sampled: nil),
                                   vocabulary: vocabulary, optimizer: Self.adagrad(), resumeFrom: nil)
        first.log = { _ in }
        try first.run()
        try "the cat ran on a mat\na dog sat\n".write(toFile: "\(directory)/other.txt", atomically: true, encoding: .utf8)
        let other = Self.config("\(directory)/other.txt", saveDir: "\(directory)/b", maxSteps: 2, sampled: nil)
        do {
            _ = try Pretrainer(config: other, vocabulary: nil, optimizer: Self.adagrad(), resumeFrom: "\(directory)/a/4")
            Issue.record("resuming on another corpus was accepted")
        } catch let error as InputError {
            #expect(error.message.contains("data position is in other files (shard-0.txt, shard-1.txt)"), "\(error.message)")
            #expect(error.message.contains("--init-weights-from"), "\(error.message)")
        }
        var weightsOnly = other
        weightsOnly.restoreTrainingState = false
        let second = try Pretrainer(config: weightsOnly, vocabulary: nil, optimizer: Self.adagrad(), resumeFrom: "\(directory)/a/4")
        second.log = { _ in }
        #expect(second.completedSteps == 0)
        for (a, b) in zip(first.model.parameters, second.model.parameters) {
            #expect(a.value.scalars == b.value.scalars, "\(a.name) differs from the checkpoint's")
        }
        try second.run()
        #expect(second.completedSteps == 2)
        // The same corpus still resumes.
        let resumed = try Pretrainer(config: Self.config(pattern, saveDir: "\(directory)/a", maxSteps: 6, sampled: nil),
                                     vocabulary: nil, optimizer: Self.adagrad(), resumeFrom: "\(directory)/a/4")
        #expect(resumed.completedSteps == 4)
    }

    @Test func checkpointOfAnotherShapeNamesTheTensor() throws {
        let (pattern, vocabulary, directory) = try Self.corpus()
        let trainer = try Pretrainer(config: Self.config(pattern, saveDir: "\(directory)/a", maxSteps: 1, sampled: nil),
                                     vocabulary: vocabulary, optimizer: Self.adagrad(), resumeFrom: nil)
        trainer.log = { _ in }
        try trainer.run()
        var file = try SafeTensors.read(path: "\(directory)/a/final.safetensors")
        var other = Self.options
        other.cellSize = 32
        file.metadata["options"] = other.jsonText(vocabularySize: vocabulary.count)
        try file.write(to: "\(directory)/a/edited.safetensors")
        #expect(throws: InputError("checkpoint \(directory)/a/edited.safetensors: tensor lstm.forward.layer_0.kernel has shape [16, 64], the model expects [16, 128]")) {
            try BiLMCheckpoint.loadModel("\(directory)/a/edited")
        }
    }
}

@Suite("Non-finite loss and plots")
struct NonFiniteAndPlotTests {
    /// A NaN in the parameters stops training with a message naming the step; the checkpoints
    /// written before stay as they were.
    @Test func nanLossStopsAndKeepsTheLastCheckpoint() throws {
        let (pattern, vocabulary, directory) = try PretrainTests.corpus()
        let first = try Pretrainer(config: PretrainTests.config(pattern, saveDir: "\(directory)/run", maxSteps: 4, sampled: nil),
                                   vocabulary: vocabulary, optimizer: PretrainTests.adagrad(), resumeFrom: nil)
        first.log = { _ in }
        try first.run()
        let before = try Files.readBytes("\(directory)/run/4.safetensors", role: "test")
        let resumed = try Pretrainer(config: PretrainTests.config(pattern, saveDir: "\(directory)/run", maxSteps: 8, sampled: nil),
                                     vocabulary: nil, optimizer: PretrainTests.adagrad(), resumeFrom: "\(directory)/run/4")
        resumed.log = { _ in }
        resumed.model.softmax.bias.value.scalars[3] = .nan
        #expect(throws: RuntimeFailure("step 5: loss is nan (not finite); stopped — checkpoints written before this step are intact")) {
            try resumed.run()
        }
        #expect(try Files.readBytes("\(directory)/run/4.safetensors", role: "test") == before)
    }

    @Test func plotDrawsTheCurvesOfARun() throws {
        let (pattern, vocabulary, directory) = try PretrainTests.corpus()
        var config = PretrainTests.config(pattern, saveDir: "\(directory)/run", maxSteps: 30, sampled: nil)
        config.logFrequency = 5
        let trainer = try Pretrainer(config: config, vocabulary: vocabulary, optimizer: PretrainTests.adagrad(), resumeFrom: nil)
        trainer.log = { _ in }
        try trainer.run()
        let lines = try String(contentsOfFile: "\(directory)/run/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 6)
        let outcome = try BadInputTests.run(["plot", "\(directory)/run"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let svg = try String(contentsOfFile: "\(directory)/run/curves.svg", encoding: .utf8)
        #expect(svg.hasPrefix("<svg") && svg.contains("<polyline") && svg.contains("perplexity (log scale)"))
        try BadInputTests.expectRejected(["plot", "\(directory)/nowhere"], mentions: ["metrics file", "nowhere/metrics.jsonl"])
    }
}
