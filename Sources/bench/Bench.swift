import ArgumentParser
import Foundation
import Framework
import Models

struct Bench: ParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "bench", abstract: "Throughput and memory of the hot paths (release builds only).",
            version: "swift-elmo bench — \(BLASRuntime.summary)",
            subcommands: [GemmBench.self, LSTMBench.self, BiLSTMBench.self, SoftmaxBench.self, CharCNNBench.self, PretrainBench.self, EmbedBench.self, StreamBench.self])
    }
}

/// Refuses debug builds: their figures mean nothing.
func requireReleaseBuild() throws {
    #if DEBUG
    throw InputError("bench: this is a debug build; run `swift run -c release bench …`")
    #endif
}

/// Resident and peak resident memory of this process, from /proc/self/status (kB → MB).
func memoryMB() -> (resident: Double, peak: Double) {
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return (0, 0) }
    func field(_ name: String) -> Double {
        for line in text.split(separator: "\n") where line.hasPrefix(name) {
            return Double(line.split(separator: " ").dropFirst().first.map(String.init) ?? "0").map { $0 / 1024 } ?? 0
        }
        return 0
    }
    return (field("VmRSS:"), field("VmHWM:"))
}

struct StreamBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stream",
        abstract: "Write shards of 1B-Word-style text, then stream them through the pretraining batcher and report memory.")

    @Option(help: "Total size of the generated shards, MB.") var megabytes = 400
    @Option(help: "Number of shards.") var shards = 8
    @Option(help: "Sentences sampled for the shards.") var source = "data/1b-word-sample/1b_benchmark.dev.tokens"
    @Option(help: "Directory for the shards (deleted afterwards).") var directory = NSTemporaryDirectory() + "swift-elmo-stream-bench"
    @Option(help: "Streams per batch.") var batchSize = 128
    @Option(help: "Window length.") var unrollSteps = 20
    @Flag(help: "Last line JSON.") var json = false

    func run() throws {
        try requireReleaseBuild()
        guard megabytes > 0, shards > 0 else { throw InputError("--megabytes and --shards must be positive") }
        let lines = try String(contentsOfFile: source, encoding: .utf8).split(separator: "\n")
        guard !lines.isEmpty else { throw InputError("--source \(source): is empty") }
        try Files.ensureDirectory(directory, role: "--directory")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var rng = SeededRandom(seed: 1)
        let perShard = megabytes * 1_000_000 / shards
        for k in 0..<shards {
            guard let out = FileHandle(forWritingAtPath: { _ = FileManager.default.createFile(atPath: "\(directory)/news.en-\(k)", contents: nil); return "\(directory)/news.en-\(k)" }()) else {
                throw RuntimeFailure("cannot write \(directory)/news.en-\(k)")
            }
            var written = 0, chunk = ""
            while written < perShard {
                let line = lines[rng.integer(below: lines.count)]
                chunk += line + "\n"
                written += line.utf8.count + 1
                if chunk.utf8.count > 1 << 20 { out.write(Data(chunk.utf8)); chunk = "" }
            }
            out.write(Data(chunk.utf8))
            try out.close()
        }
        let corpus = try Corpus(glob: "\(directory)/news.en-*", role: "shards")
        let vocabulary = try Vocabulary.build(from: Corpus(glob: source, role: "--source"), minCount: 1, maxSize: 50_000)
        let stream = try SentenceStream(corpus: corpus, vocabulary: vocabulary, seed: 2, shuffle: true, singlePass: true)
        let batcher = StreamBatcher(stream: stream, rows: batchSize, steps: unrollSteps)
        let start = Date()
        let baseline = memoryMB()
        print(String(format: "streaming %d MB in %d shards; resident before: %.1f MB", megabytes, shards, baseline.resident))
        var tokens = 0, batches = 0, nextReport = 0.0
        var maxResident = baseline.resident
        while let batch = try batcher.next() {
            tokens += batch.tokenCount
            batches += 1
            let fraction = Double(stream.position.fileIndex) / Double(shards)
            let memory = memoryMB()
            maxResident = max(maxResident, memory.resident)
            if fraction >= nextReport {
                print(String(format: "  %3.0f%% of shards  %9d tokens  resident %.1f MB", fraction * 100, tokens, memory.resident))
                nextReport += 0.125
            }
        }
        let seconds = Date().timeIntervalSince(start)
        print(String(format: "done: %d tokens in %d batches, %.1f s (%.0f tokens/s); resident max %.1f MB (before %.1f MB)",
                     tokens, batches, seconds, Double(tokens) / seconds, maxResident, baseline.resident))
        if json {
            print("{\"megabytes\": \(megabytes), \"tokens\": \(tokens), \"seconds\": \(JSONText.number(seconds)), "
                  + "\"resident_before_mb\": \(JSONText.number(baseline.resident)), \"resident_max_mb\": \(JSONText.number(maxResident))}")
        }
    }
}
