import Dispatch
import Foundation
import Framework
import Models
import Testing
import TestSupport

/// Data-parallel pretraining over an in-process group of ranks (the same code path `mpirun` drives
/// through ``OpenMPI``): the ranks' summed gradients must give the single-process update.
@Suite("Data-parallel pretraining")
struct DataParallelTests {
    static func config(_ pattern: String, saveDir: String, maxSteps: Int, sampled: Int?) -> PretrainConfig {
        var config = PretrainTests.config(pattern, saveDir: saveDir, maxSteps: maxSteps, sampled: sampled)
        config.batchSize = 4
        config.saveFrequency = 2
        config.dropout = 0   // with dropout, each rank draws its own masks
        return config
    }

    /// Runs `ranks` trainers side by side; returns each rank's parameters and per-step losses.
    static func train(ranks: Int, _ config: PretrainConfig, vocabulary: Vocabulary?, resumeFrom: String? = nil) throws
        -> [(parameters: [String: [Float]], losses: [Double])] {
        let group = ThreadGroup(size: ranks)
        let trainers = try (0..<ranks).map { rank in
            let trainer = try Pretrainer(config: config, vocabulary: vocabulary, optimizer: PretrainTests.adagrad(),
                                         resumeFrom: resumeFrom, communicator: group.rank(rank))
            trainer.log = { _ in }
            return trainer
        }
        let losses = LockedLosses(ranks: ranks)
        for (rank, trainer) in trainers.enumerated() { trainer.onStep = { losses.append(rank, $0.loss) } }
        let failures = LockedLosses(ranks: ranks)
        let box = UncheckedBox(trainers)
        DispatchQueue.concurrentPerform(iterations: ranks) { rank in
            do { try box.value[rank].run() } catch { failures.append(rank, .nan) }
        }
        let failedRanks = failures.values.filter { !$0.isEmpty }.count
        #expect(failedRanks == 0)
        return trainers.enumerated().map { rank, trainer in
            (Dictionary(uniqueKeysWithValues: trainer.model.parameters.map { ($0.name, $0.value.scalars) }), losses.values[rank])
        }
    }

    static func maxDifference(_ a: [String: [Float]], _ b: [String: [Float]]) -> Float {
        var worst: Float = 0
        for (name, values) in a {
            for (x, y) in zip(values, b[name]!) { worst = max(worst, abs(x - y)) }
        }
        return worst
    }

    @Test("2 ranks × 2 streams = 1 process × 4 streams (full and sampled softmax, state resets)", arguments: [nil, 5] as [Int?])
    func twoRanksMatchOneProcess(sampled: Int?) throws {
        let (pattern, vocabulary, directory) = try PretrainTests.corpus()
        let single = try Self.train(ranks: 1, Self.config(pattern, saveDir: "\(directory)/one", maxSteps: 4, sampled: sampled),
                                    vocabulary: vocabulary)[0]
        let pair = try Self.train(ranks: 2, Self.config(pattern, saveDir: "\(directory)/two", maxSteps: 4, sampled: sampled),
                                  vocabulary: vocabulary)
        // Both ranks applied identical updates.
        #expect(Self.maxDifference(pair[0].parameters, pair[1].parameters) == 0)
        #expect(pair[0].losses == pair[1].losses)
        // And they equal one process up to float rounding (the sums are split differently).
        #expect(pair[0].losses.count == 4)
        for (a, b) in zip(single.losses, pair[0].losses) { #expect(abs(a - b) <= 1e-5) }
        let difference = Self.maxDifference(single.parameters, pair[0].parameters)
        #expect(difference <= 1e-5, "max |Δparameter| \(difference)")
        // The checkpoint rank 0 wrote holds every stream's state: one process can continue it.
        #expect(FileManager.default.fileExists(atPath: "\(directory)/two/final.safetensors"))
    }

    @Test("Resuming with the same number of ranks continues exactly")
    func resumeWithSameRanks() throws {
        let (pattern, vocabulary, directory) = try PretrainTests.corpus()
        let straight = try Self.train(ranks: 2, Self.config(pattern, saveDir: "\(directory)/straight", maxSteps: 4, sampled: nil),
                                      vocabulary: vocabulary)
        _ = try Self.train(ranks: 2, Self.config(pattern, saveDir: "\(directory)/split", maxSteps: 2, sampled: nil), vocabulary: vocabulary)
        let resumed = try Self.train(ranks: 2, Self.config(pattern, saveDir: "\(directory)/split", maxSteps: 4, sampled: nil),
                                     vocabulary: nil, resumeFrom: "\(directory)/split/2")
        #expect(resumed[0].losses == Array(straight[0].losses.suffix(2)))
        #expect(Self.maxDifference(straight[0].parameters, resumed[0].parameters) == 0)
    }

    @Test("A batch the ranks cannot share evenly is a one-line input error")
    func indivisibleBatch() throws {
        let (pattern, vocabulary, directory) = try PretrainTests.corpus()
        var config = Self.config(pattern, saveDir: "\(directory)/odd", maxSteps: 1, sampled: nil)
        config.batchSize = 3
        let group = ThreadGroup(size: 2)
        #expect(throws: InputError.self) {
            _ = try Pretrainer(config: config, vocabulary: vocabulary, optimizer: PretrainTests.adagrad(), resumeFrom: nil,
                               communicator: group.rank(0))
        }
    }

    /// The real thing: `mpirun -np 2` of the `elmo` binary (Open MPI loaded with dlopen) against one process.
    @Test("mpirun -np 2 elmo pretrain matches one process")
    func realMPI() throws {
        let (pattern, vocabulary, directory) = try PretrainTests.corpus()
        try vocabulary.fileText.write(toFile: "\(directory)/vocab.txt", atomically: true, encoding: .utf8)
        try PretrainTests.options.jsonText().write(toFile: "\(directory)/options.json", atomically: true, encoding: .utf8)
        let common = ["pretrain", "--train-data-path", pattern, "--vocab-file", "\(directory)/vocab.txt",
                      "--config", "\(directory)/options.json", "--batch-size", "4", "--unroll-steps", "5",
                      "--max-steps", "3", "--dropout", "0", "--log-freq", "1"]
        let single = try BadInputTests.run(common + ["--save-dir", "\(directory)/one"])
        #expect(single.status == 0, "\(single.stderr)")
        let mpirun = try runToEnd("/usr/bin/env", ["mpirun", "--allow-run-as-root", "--oversubscribe", "-np", "2", BadInputTests.binary]
                                  + common + ["--save-dir", "\(directory)/two"])
        let stderr = mpirun.stderr
        #expect(mpirun.status == 0, "mpirun (install openmpi-bin: scripts/setup does): \(stderr)")
        #expect(stderr.contains("2 ranks of 2 streams"), "\(stderr)")
        let a = try SafeTensors.read(path: "\(directory)/one/final.safetensors")
        let b = try SafeTensors.read(path: "\(directory)/two/final.safetensors")
        var worst: Float = 0
        for name in a.names {
            let x = try a[name]!.floatingPoint(Float.self, name: name, source: "one")
            let y = try b[name]!.floatingPoint(Float.self, name: name, source: "two")
            for (u, v) in zip(x.scalars, y.scalars) { worst = max(worst, abs(u - v)) }
        }
        #expect(worst <= 1e-5, "max |Δparameter| \(worst)")
        // Rank 0 alone wrote the checkpoint and the metrics (3 steps, one line each).
        let metrics = try String(contentsOfFile: "\(directory)/two/metrics.jsonl", encoding: .utf8)
        #expect(metrics.split(separator: "\n").count == 3)
    }

    @Test("MPI launch environments: none, Open MPI's, another launcher's, a malformed one")
    func launchEnvironment() throws {
        #expect(try OpenMPI.fromEnvironment([:]) == nil)
        #expect(throws: InputError.self) { _ = try OpenMPI.fromEnvironment(["PMI_SIZE": "2"]) }
        #expect(throws: InputError.self) { _ = try OpenMPI.fromEnvironment(["OMPI_COMM_WORLD_SIZE": "two"]) }
    }

    @Test("A window's rows and resets slice consistently")
    func slicing() throws {
        var batch = LMBatch(rows: 3, steps: 2, forwardChars: (0..<300).map(Int32.init), backwardChars: (300..<600).map(Int32.init),
                            forwardTargets: [0, 1, 2, 3, 4, 5], backwardTargets: [6, 7, 8, 9, 10, 11],
                            mask: [true, true, true, true, false, true])
        batch.sentenceStarts = [0, 2, 4]
        let part = batch.selecting(rows: 1..<3)
        #expect(part.rows == 2)
        #expect(part.forwardTargets == [1, 2, 4, 5])
        #expect(part.backwardTargets == [7, 8, 10, 11])
        #expect(part.mask == [true, true, false, true])
        #expect(Array(part.forwardChars[0..<50]) == (50..<100).map(Int32.init))
        #expect(part.sentenceStarts == [1, 2])
        var resets = StateResets(steps: 2, rows: 3)
        resets.reset(step: 0, row: 2)
        resets.reset(step: 1, row: 0)
        let mine = resets.selecting(rows: 1..<3)
        #expect(mine.rows(atStep: 0) == [1])
        #expect(mine.rows(atStep: 1).isEmpty)
    }
}

private final class LockedLosses: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var values: [[Double]]
    init(ranks: Int) { values = Array(repeating: [], count: ranks) }
    func append(_ rank: Int, _ value: Double) {
        lock.lock()
        values[rank].append(value)
        lock.unlock()
    }
}

private struct UncheckedBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
