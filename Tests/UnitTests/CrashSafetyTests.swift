import Foundation
import Framework
import Models
import Testing
import TestSupport

/// `elmo pretrain` killed with SIGKILL while it writes checkpoints every step: the newest complete
/// checkpoint always loads, and resuming from it continues.
@Suite("Crash safety under SIGKILL", .serialized)
struct CrashSafetyTests {
    @Test func killedRepeatedlyWhileCheckpointing() throws {
        let d = RepositoryPaths.temporaryDirectory("sigkill")
        var text = ""
        var rng = SeededRandom(seed: 8)
        for _ in 0..<200 { text += ["the cat sat on the mat", "a dog ran", "the dog sat"][rng.integer(below: 3)] + "\n" }
        try text.write(toFile: "\(d)/corpus.txt", atomically: true, encoding: .utf8)
        try "<S>\n</S>\n<UNK>\nthe\ncat\ndog\nsat\n".write(toFile: "\(d)/vocab.txt", atomically: true, encoding: .utf8)
        // Wide enough that a checkpoint takes a moment to write.
        let options = BiLMOptions(cellSize: 256, projectionDim: 32, layerCount: 2, cellClip: 3, projectionClip: 3, skipConnections: true,
                                  charEmbeddingDim: 8, filters: [[1, 16], [2, 16]], highwayCount: 1, maxCharactersPerToken: 50, activation: "relu")
        try options.jsonText().write(toFile: "\(d)/options.json", atomically: true, encoding: .utf8)
        let base = ["pretrain", "--train-data-path", "\(d)/corpus.txt", "--vocab-file", "\(d)/vocab.txt", "--config", "\(d)/options.json",
                    "--batch-size", "4", "--unroll-steps", "5", "--save-freq", "1", "--log-freq", "1000", "--save-dir", "\(d)/run"]
        var killedWithCheckpoints = 0
        for round in 0..<6 {
            let hasCheckpoint = (try? BiLMCheckpoint.resolve("\(d)/run/latest")) != nil
            let process = Process()
            process.executableURL = URL(fileURLWithPath: BadInputTests.binary)
            process.arguments = base + ["--max-steps", "100000"] + (hasCheckpoint ? ["--init-from-ckpt", "\(d)/run/latest"] : [])
            process.standardError = FileHandle.nullDevice
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            // Killed once the run has written a checkpoint of its own, then 0–250 ms later (anywhere in the next
            // steps and checkpoint writes): waiting on the files, not a clock, holds on a machine of any speed.
            let before = try? BiLMCheckpoint.resolve("\(d)/run/latest"), deadline = Date().addingTimeInterval(300)
            while process.isRunning, Date() < deadline, (try? BiLMCheckpoint.resolve("\(d)/run/latest")) == before { usleep(2_000) }
            usleep(UInt32(50_000 * round))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            #expect(process.terminationReason == .uncaughtSignal)
            guard let latest = try? BiLMCheckpoint.resolve("\(d)/run/latest") else { continue }
            killedWithCheckpoints += 1
            // The newest complete checkpoint loads, parameters and training state.
            _ = try BiLMCheckpoint.loadModel(latest)
            let state = try SafeTensors.read(path: BiLMCheckpoint.optimizerPath(latest))
            #expect(state["train.step"] != nil)
        }
        #expect(killedWithCheckpoints == 6)
        // Resuming continues to completion from the newest checkpoint.
        let latest = try BiLMCheckpoint.resolve("\(d)/run/latest")
        let step = Int(URL(fileURLWithPath: latest).lastPathComponent)!
        let outcome = try BadInputTests.run(base + ["--max-steps", String(step + 2), "--init-from-ckpt", "\(d)/run/latest"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let final = try SafeTensors.read(path: "\(d)/run/final.optim.safetensors")
        #expect(try final["train.step"]!.integers(name: "train.step", source: "final") == [Int64(step + 2)])
    }
}
