import Foundation
import Framework
import Interop
import Models
import Testing
import TestSupport

/// `elmo embed` to HDF5 (AllenNLP's layout) through the real binary: the values equal the `.npz` output's, the
/// layout has what AllenNLP's consumers read, the same job writes the same bytes, a run killed with SIGKILL
/// resumes to the uninterrupted run's file, and bad inputs stop with one line without touching earlier output.
@Suite("elmo embed: HDF5 output, resumable", .serialized)
struct EmbedCommandTests {
    /// A random-weight model wide enough that embedding a few thousand sentences takes seconds, and inputs.
    static let directory: String = {
        let d = RepositoryPaths.temporaryDirectory("embed-hdf5")
        var rng = SeededRandom(seed: 5)
        _ = RandomModel.checkpoint(in: d, cellSize: 256, projectionDim: 32, rng: &rng)
        let words = ["the", "cat", "sat", "on", "a", "mat", "naïve", "“quoted”", "dog", "ran", "."]
        var lines: [String] = []
        for i in 0..<4000 {
            let n = 1 + rng.integer(below: i % 97 == 0 ? 60 : 25)
            lines.append((0..<n).map { _ in words[rng.integer(below: words.count)] }.joined(separator: " "))
        }
        try! (lines.joined(separator: "\n") + "\n").write(toFile: "\(d)/corpus.txt", atomically: true, encoding: .utf8)
        try! "the cat sat\n  a dog ran\t\nthe cat sat\nnaïve “quoted” .\n".write(toFile: "\(d)/small.txt", atomically: true, encoding: .utf8)
        try! "the cat\n\nsat\n   \n".write(toFile: "\(d)/blank.txt", atomically: true, encoding: .utf8)
        return d
    }()

    static func embed(_ arguments: [String]) throws -> BadInputTests.Outcome {
        try BadInputTests.run(["embed", "--init-from-ckpt", "\(directory)/model"] + arguments)
    }

    static func bytes(_ path: String) throws -> [UInt8] { try Files.readBytes(path, role: "test") }

    /// The fraction of its batches that a run's progress record says are on disk; 0 while there is none.
    static func recordedFraction(_ path: String) -> Double {
        guard let data = FileManager.default.contents(atPath: path),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let batches = object["batches"] as? Int, let total = object["of"] as? Int, total > 0 else { return 0 }
        return Double(batches) / Double(total)
    }

    /// The float32 arrays of an `.npz` as `elmo embed` writes it (zip entries stored, .npy version 1.0), by name.
    static func storedNPZ(_ path: String) throws -> [String: [Float]] {
        let zip = try bytes(path)
        func u16(_ i: Int) -> Int { Int(zip[i]) | Int(zip[i + 1]) << 8 }
        func u32(_ i: Int) -> Int { u16(i) | u16(i + 2) << 16 }
        var arrays: [String: [Float]] = [:], at = 0
        while at + 30 <= zip.count, u32(at) == 0x0403_4B50 {
            let size = u32(at + 18), nameLength = u16(at + 26), extra = u16(at + 28)
            let name = String(decoding: zip[(at + 30)..<(at + 30 + nameLength)], as: UTF8.self)
            let data = at + 30 + nameLength + extra, header = u16(data + 8)
            let payload = Array(zip[(data + 10 + header)..<(data + size)])
            arrays[String(name.dropLast(4))] = payload.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            at = data + size
        }
        return arrays
    }

    @Test func hdf5HoldsTheNPZValuesInAllenNLPsLayout() throws {
        let d = Self.directory, out = RepositoryPaths.temporaryDirectory("embed-layout")
        for (flags, shape) in [([String](), [3, -1, 64]), (["--layers", "top"], [-1, 64]), (["--layers", "average"], [-1, 64]),
                               (["--mix-weights", "0.5,-1,2", "--gamma", "0.7"], [-1, 64]), (["--pool", "max"], [3, 64]),
                               (["--layers", "top", "--pool", "mean"], [64])] {
            let name = flags.isEmpty ? "all" : flags.joined(separator: "_")
            let h5 = try Self.embed(["--input", "\(d)/small.txt", "--output", "\(out)/\(name).hdf5"] + flags)
            #expect(h5.status == 0, "\(flags): \(h5.stderr)")
            let npz = try Self.embed(["--input", "\(d)/small.txt", "--output", "\(out)/\(name).npz"] + flags)
            #expect(npz.status == 0, "\(flags): \(npz.stderr)")
            let file = try HDF5File(path: "\(out)/\(name).hdf5", role: "test")
            let arrays = try Self.storedNPZ("\(out)/\(name).npz")
            #expect(file.rootLinkCount == 5, "\(flags): datasets 0…3 and sentence_to_index")
            for (i, n) in [3, 3, 3, 3].enumerated() {
                let (actualShape, values) = try file.floats(String(i))
                #expect(actualShape == shape.map { $0 == -1 ? n : $0 }, "\(flags) \(i)")
                #expect(values == arrays[String(i)], "\(flags) \(i): HDF5 and npz values differ")
            }
            #expect(file.stringDataset("sentence_to_index") == #"{"the cat sat": "2", "a dog ran": "1", "na\u00efve \u201cquoted\u201d .": "3"}"#)
            #expect(file.stringAttribute("elmo_input_sha256") == (try SentenceFile(path: "\(d)/small.txt", role: "test")).sha256)
        }
        // The mix is AllenNLP's: γ · Σ softmax(w)_k · h_k over the layers of `all`.
        let all = try HDF5File(path: "\(out)/all.hdf5", role: "test").floats("1").values
        let mixed = try HDF5File(path: "\(out)/--mix-weights_0.5,-1,2_--gamma_0.7.hdf5", role: "test").floats("1").values
        let w = [0.5, -1, 2].map { exp(Float($0)) }, s = w.reduce(0, +), per = 3 * 64
        for i in 0..<per {
            let expected = 0.7 * (0..<3).reduce(Float(0)) { $0 + w[$1] / s * all[$1 * per + i] }
            #expect(abs(mixed[i] - expected) <= 1e-5 * max(1, abs(expected)))
        }
        // Sentence keys instead of line numbers; or no sentence_to_index.
        try BadInputTests.expectRejected(["embed", "--init-from-ckpt", "\(d)/model", "--input", "\(d)/small.txt", "--output", "\(out)/keys.hdf5",
                                          "--use-sentence-keys"], mentions: ["--use-sentence-keys", "lines 0 and 2"])
        try "the cat sat\nnaïve “quoted” .\n".write(toFile: "\(out)/unique.txt", atomically: true, encoding: .utf8)
        #expect(try Self.embed(["--input", "\(out)/unique.txt", "--output", "\(out)/keys.hdf5", "--use-sentence-keys"]).status == 0)
        let keyed = try HDF5File(path: "\(out)/keys.hdf5", role: "test")
        #expect(keyed.rootLinkCount == 2 && keyed.hasDataset("naïve “quoted” .") && !keyed.hasDataset("sentence_to_index"))
        #expect(try Self.embed(["--input", "\(d)/small.txt", "--output", "\(out)/forget.hdf5", "--forget-sentences"]).status == 0)
        let forgot = try HDF5File(path: "\(out)/forget.hdf5", role: "test")
        #expect(forgot.rootLinkCount == 4 && !forgot.hasDataset("sentence_to_index"))
        // A token budget below the longest line: that line runs alone in pieces, with the same vectors.
        let long = (0..<70).map { ["the", "cat", "naïve", "."][$0 % 4] }.joined(separator: " ")
        try "a dog\n\(long)\nthe cat sat\n".write(toFile: "\(out)/long.txt", atomically: true, encoding: .utf8)
        #expect(try Self.embed(["--input", "\(out)/long.txt", "--output", "\(out)/whole.hdf5"]).status == 0)
        #expect(try Self.embed(["--input", "\(out)/long.txt", "--output", "\(out)/pieces.hdf5", "--max-tokens-per-batch", "16"]).status == 0)
        let whole = try HDF5File(path: "\(out)/whole.hdf5", role: "test"), pieces = try HDF5File(path: "\(out)/pieces.hdf5", role: "test")
        for name in ["0", "1", "2"] {
            let a = try whole.floats(name), b = try pieces.floats(name)
            #expect(a.shape == b.shape)
            #expect(zip(a.values, b.values).map { abs($0 - $1) }.max()! <= 1e-5, "line \(name)")
        }
        // .jsonl: lines in input order although the batches ran by length, the vectors of the HDF5 file, no scratch left.
        #expect(try Self.embed(["--input", "\(out)/long.txt", "--output", "\(out)/lines.jsonl"]).status == 0)
        let lines = try String(contentsOfFile: "\(out)/lines.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 3)
        for (i, line) in lines.enumerated() {
            let object = try #require(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let tokens = try #require(object["tokens"] as? [String]), layers = try #require(object["embedding"] as? [[[Double]]])
            #expect(tokens == ["a dog", long, "the cat sat"][i].split(separator: " ").map(String.init), "line \(i)")
            let expected = try whole.floats(String(i))
            #expect([layers.count, layers[0].count, layers[0][0].count] == expected.shape, "line \(i)")
            let values = layers.flatMap { $0.flatMap { $0 } }
            #expect(zip(values, expected.values).allSatisfy { abs($0 - Double($1)) <= 1e-6 * max(1, abs(Double($1))) }, "line \(i)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: out).filter { $0.contains("lines.jsonl.") }.isEmpty)
    }

    /// Stateless, and stateful (rows carry LSTM state from batch to batch, saved with each progress record).
    @Test(arguments: [false, true]) func killedFiveTimesAndResumedEqualsAnUninterruptedRun(stateful: Bool) throws {
        let d = Self.directory, out = RepositoryPaths.temporaryDirectory(stateful ? "embed-resume-stateful" : "embed-resume")
        let common = ["--input", "\(d)/corpus.txt", "--layers", "top", "--batch-size", "16", "--record-seconds", "0"] + (stateful ? ["--stateful"] : [])
        let whole = try Self.embed(common + ["--output", "\(out)/whole.hdf5"])
        #expect(whole.status == 0, "\(whole.stderr)")
        // Again from nothing: the same bytes (no timestamps in the file).
        #expect(try Self.embed(common + ["--output", "\(out)/again.hdf5"]).status == 0)
        #expect(try Self.bytes("\(out)/whole.hdf5") == Self.bytes("\(out)/again.hdf5"))

        // Five kills, each once the run's progress record has passed a mark (10 %, 20 %, … of the batches, plus up
        // to 5 %) and then 0–10 ms later, to land anywhere in a batch or a record. Watching the record, not a clock,
        // keeps the kills in the middle of the work on a machine of any speed; about half is left for the last run.
        var rng = SeededRandom(seed: 99)
        var resumedWithProgress = 0
        for round in 1...5 {
            let hadProgress = FileManager.default.fileExists(atPath: "\(out)/killed.hdf5.progress")
            let process = Process()
            process.executableURL = URL(fileURLWithPath: BadInputTests.binary)
            process.arguments = ["embed", "--init-from-ckpt", "\(d)/model"] + common + ["--output", "\(out)/killed.hdf5"]
            process.currentDirectoryURL = URL(fileURLWithPath: RepositoryPaths.root)
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            let mark = 0.1 * Double(round) + 0.05 * rng.uniform(0.0, 1.0)
            let deadline = Date().addingTimeInterval(300)
            while process.isRunning, Date() < deadline, Self.recordedFraction("\(out)/killed.hdf5.progress") < mark { usleep(1_000) }
            usleep(UInt32(10_000 * rng.uniform(0.0, 1.0)))
            #expect(process.isRunning, "round \(round): the run ended before it could be killed (\(Self.recordedFraction("\(out)/killed.hdf5.progress")) recorded)")
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            if hadProgress { resumedWithProgress += 1 }
            #expect(!FileManager.default.fileExists(atPath: "\(out)/killed.hdf5"), "a killed run must not leave the final name")
        }
        #expect(resumedWithProgress == 4, "every restart after the first should find a progress record to continue from")
        if stateful {
            // Without its saved state a stateful run cannot continue: refused, and nothing is lost.
            let state = "\(out)/killed.hdf5.state"
            try FileManager.default.moveItem(atPath: state, toPath: state + ".aside")
            try BadInputTests.expectRejected(["embed", "--init-from-ckpt", "\(d)/model"] + common + ["--output", "\(out)/killed.hdf5"],
                                             mentions: ["killed.hdf5.state", "--overwrite"])
            try FileManager.default.moveItem(atPath: state + ".aside", toPath: state)
        }
        let last = try Self.embed(common + ["--output", "\(out)/killed.hdf5"])
        #expect(last.status == 0, "\(last.stderr)")
        #expect(last.stderr.contains("resuming"), "\(last.stderr)")
        #expect(try Self.bytes("\(out)/killed.hdf5") == Self.bytes("\(out)/whole.hdf5"))
        #expect(!FileManager.default.fileExists(atPath: "\(out)/killed.hdf5.partial"))
        #expect(!FileManager.default.fileExists(atPath: "\(out)/killed.hdf5.progress"))
        #expect(!FileManager.default.fileExists(atPath: "\(out)/killed.hdf5.state"))
        if stateful {
            // The state mattered: a stateless run writes other numbers.
            #expect(try Self.embed(Array(common.dropLast()) + ["--output", "\(out)/stateless.hdf5"]).status == 0)
            #expect(try Self.bytes("\(out)/stateless.hdf5") != Self.bytes("\(out)/whole.hdf5"))
        }
        // The same command once more: nothing to do.
        let again = try Self.embed(common + ["--output", "\(out)/killed.hdf5"])
        #expect(again.status == 0 && again.stdout.contains("already complete"), "\(again.stdout)")
    }

    @Test func badInputsStopWithOneLineAndKeepEarlierOutput() throws {
        let d = Self.directory, out = RepositoryPaths.temporaryDirectory("embed-bad")
        let base = ["embed", "--init-from-ckpt", "\(d)/model", "--input", "\(d)/small.txt"]
        try BadInputTests.expectRejected(["embed", "--init-from-ckpt", "\(d)/model", "--input", "\(d)/blank.txt", "--output", "\(out)/x.hdf5"],
                                         mentions: ["blank.txt", "empty lines at 0-based indexes [1, 3]"])
        // An existing output of another job (here: other layers) is refused and left as it was.
        #expect(try Self.embed(["--input", "\(d)/small.txt", "--output", "\(out)/done.hdf5"]).status == 0)
        let before = try Self.bytes("\(out)/done.hdf5")
        try BadInputTests.expectRejected(base + ["--output", "\(out)/done.hdf5", "--layers", "top"], mentions: ["done.hdf5", "--overwrite"])
        #expect(try Self.bytes("\(out)/done.hdf5") == before)
        try "not hdf5\n".write(toFile: "\(out)/text.hdf5", atomically: true, encoding: .utf8)
        try BadInputTests.expectRejected(base + ["--output", "\(out)/text.hdf5"], mentions: ["text.hdf5", "something other than an HDF5 file"])
        #expect(try String(contentsOfFile: "\(out)/text.hdf5", encoding: .utf8) == "not hdf5\n")
        // --overwrite replaces it.
        #expect(try Self.embed(["--input", "\(d)/small.txt", "--output", "\(out)/done.hdf5", "--layers", "top", "--overwrite"]).status == 0)
        #expect(try HDF5File(path: "\(out)/done.hdf5", role: "test").shape("0") == [3, 64])
        // A truncated unfinished run is refused, not repaired or deleted.
        let common = ["--input", "\(d)/corpus.txt", "--layers", "top", "--output", "\(out)/cut.hdf5"]
        let process = Process()
        process.executableURL = URL(fileURLWithPath: BadInputTests.binary)
        process.arguments = ["embed", "--init-from-ckpt", "\(d)/model", "--record-seconds", "0"] + common
        process.currentDirectoryURL = URL(fileURLWithPath: RepositoryPaths.root)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        while !FileManager.default.fileExists(atPath: "\(out)/cut.hdf5.progress") && process.isRunning { usleep(20_000) }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let partial = try Self.bytes("\(out)/cut.hdf5.partial")
        precondition(FileManager.default.createFile(atPath: "\(out)/cut.hdf5.partial", contents: Data(partial.prefix(partial.count / 2))))
        try BadInputTests.expectRejected(["embed", "--init-from-ckpt", "\(d)/model"] + common, mentions: ["cut.hdf5.partial", "truncated", "--overwrite"])
        #expect(try Self.bytes("\(out)/cut.hdf5.partial").count == partial.count / 2)
        // Arguments.
        try BadInputTests.expectRejected(base + ["--output", "\(out)/m.hdf5", "--mix-weights", "1,2"], mentions: ["--mix-weights 1,2", "2 weights", "3 layers"])
        try BadInputTests.expectRejected(base + ["--output", "\(out)/m.hdf5", "--mix-weights", "1,x,2"], mentions: ["--mix-weights 1,x,2"])
        try BadInputTests.expectRejected(base + ["--output", "\(out)/m.hdf5", "--gamma", "2"], mentions: ["--gamma", "--mix-weights"])
        try BadInputTests.expectRejected(base + ["--output", "\(out)/m.hdf5", "--pool", "median"], mentions: ["--pool median"])
        try BadInputTests.expectRejected(base + ["--output", "\(out)/m.npz", "--use-sentence-keys"], mentions: ["--use-sentence-keys", ".hdf5"])
        try BadInputTests.expectRejected(base + ["--output", "\(out)/m.hdf5", "--stateful", "--max-tokens-per-batch", "100"],
                                         mentions: ["--max-tokens-per-batch", "--stateful"])
        try BadInputTests.expectRejected(base + ["--output", "\(d)/small.txt/x.hdf5"], mentions: ["--output", "small.txt"])
    }

    @Test func tokenBudgetBatchesByLength() {
        var settings = EmbedSettings()
        settings.batchSize = 3
        settings.maxTokensPerBatch = 10
        // Sorted by length (ties by line), ≤ 3 sentences and ≤ 10 padded tokens each; a 12-token line runs alone.
        #expect(settings.batches(tokenCounts: [5, 1, 12, 2, 2, 4, 1]) == [[1, 6, 3], [4, 5], [0], [2]])
        settings.stateful = true
        settings.maxTokensPerBatch = nil
        #expect(settings.batches(tokenCounts: [5, 1, 12, 2, 2, 4, 1]) == [[0, 1, 2], [3, 4, 5], [6]])
    }
}

@Suite("ELMoEmbedder: long sentences in pieces")
struct ChunkedEmbeddingTests {
    @Test func piecesWithCarriedStateEqualTheWholeSentence() throws {
        var rng = SeededRandom(seed: 31)
        let model = BidirectionalLM<Float>(options: PretrainTests.options, vocabularySize: 5, rng: &rng)
        let embedder = ELMoEmbedder(model: model, vocabulary: try Vocabulary(tokens: ["a", "b"]))
        let words = (0..<41).map { _ in ["a", "b", "cat", "naïve", "."][rng.integer(below: 5)] }
        let whole = embedder.encode([words])[0]
        for steps in [1, 2, 7, 43, 100] {
            let pieces = embedder.encodeChunked(words, chunkSteps: steps)
            #expect(pieces.shape == whole.shape)
            let worst = zip(pieces.scalars, whole.scalars).map { abs($0 - $1) }.max()!
            #expect(worst <= 1e-5, "pieces of \(steps): max |Δ| \(worst)")
        }
        let single = zip(embedder.encodeChunked(["a"], chunkSteps: 1).scalars, embedder.encode([["a"]])[0].scalars).map { abs($0 - $1) }.max()!
        #expect(single <= 1e-5)
    }

    /// `infer` runs the LSTMs a window of steps at a time (memory bounded by the window); each window must start
    /// from the states the last ended with, and each row's kept state is the one after its own `</S>`, wherever
    /// that falls. In Double, so any slip shows far above rounding.
    @Test func windowedInferenceEqualsTheWholePassAndKeepsItsStates() throws {
        var rng = SeededRandom(seed: 32)
        let model = BidirectionalLM<Double>(options: PretrainTests.options, vocabularySize: 5, rng: &rng)
        let embedder = ELMoEmbedder(model: model, vocabulary: try Vocabulary(tokens: ["a", "b"]))
        // Lengths 1…13 in 4 of 5 rows: the last row has no sentence and must keep its state.
        let sentences = [1, 13, 6, 9].map { n in (0..<n).map { _ in ["a", "b", "cat", "naïve", "."][rng.integer(below: 5)] } }
        var initial = model.zeroStates(batch: 5)
        for direction in Direction.allCases {
            for l in initial[direction].indices {
                for i in initial[direction][l].cell.scalars.indices { initial[direction][l].cell.scalars[i] = rng.uniform(-0.5, 0.5) }
                for i in initial[direction][l].hidden.scalars.indices { initial[direction][l].hidden.scalars[i] = rng.uniform(-0.5, 0.5) }
            }
        }
        var wholeStates = initial
        let whole = embedder.run(sentences, states: &wholeStates).representations
        for window in [1, 2, 5, 15, 16, 100] {
            embedder.windowSteps = window
            var states = initial
            let windowed = embedder.infer(sentences, states: &states)
            let outputs = zip(windowed.layerOutputs.both.joined(), whole.layerOutputs.both.joined())
            let worst = outputs.map { zip($0.scalars, $1.scalars).map { abs($0 - $1) }.max()! }.max()!
            #expect(worst <= 1e-12, "window \(window): outputs differ by \(worst)")
            #expect(windowed.tokenEmbeddings.scalars == whole.tokenEmbeddings.scalars)
            for direction in Direction.allCases {
                for l in states[direction].indices {
                    let cell = zip(states[direction][l].cell.scalars, wholeStates[direction][l].cell.scalars).map { abs($0 - $1) }.max()!
                    let hidden = zip(states[direction][l].hidden.scalars, wholeStates[direction][l].hidden.scalars).map { abs($0 - $1) }.max()!
                    #expect(max(cell, hidden) <= 1e-12, "window \(window), \(direction) layer \(l): kept states differ by \(max(cell, hidden))")
                }
                // The row without a sentence kept its initial state.
                let c = states[direction][0].cell.columns
                #expect(Array(states[direction][0].cell.scalars[(4 * c)...]) == Array(initial[direction][0].cell.scalars[(4 * c)...]))
            }
        }
    }
}


@Suite("elmo embed: a sentence's vectors whatever its batch", .serialized)
struct BatchInvarianceTests {
    /// At the shipped model's shape the products cross OpenBLAS's small-matrix threshold as batches grow (without the
    /// invariant mode this test fails; section C of Benchmarks/scripts/2026-12-03-embed.sh measures the shipped model:
    /// 170,875 of 271,872 values differed, by up to 2.4e-6); `elmo embed` turns BLAS.batchInvariant on, and a sentence
    /// alone gets the bits it gets in the batch.
    @Test func aSentenceAloneAndInABatchOf64GetTheSameBits() throws {
        let d = RepositoryPaths.temporaryDirectory("batch-invariance")
        var rng = SeededRandom(seed: 77)
        let model = RandomModel.checkpoint(in: d, options: RandomModel.shippedShape, rng: &rng)
        let words = ["the", "cat", "sat", "naïve", ".", "dog", "a", "movie"]
        let lines = (0..<64).map { k in (0..<(1 + (k * 5) % 23)).map { _ in words[rng.integer(below: words.count)] }.joined(separator: " ") }
        try (lines.joined(separator: "\n") + "\n").write(toFile: "\(d)/batch.txt", atomically: true, encoding: .utf8)
        let together = try BadInputTests.run(["embed", "--init-from-ckpt", model, "--input", "\(d)/batch.txt", "--output", "\(d)/batch.npz"])
        #expect(together.status == 0, "\(together.stderr)")
        let batch = try EmbedCommandTests.storedNPZ("\(d)/batch.npz")
        for k in [0, 1, 2, 7, 30, 63] {
            try (lines[k] + "\n").write(toFile: "\(d)/alone.txt", atomically: true, encoding: .utf8)
            let alone = try BadInputTests.run(["embed", "--init-from-ckpt", model, "--input", "\(d)/alone.txt", "--output", "\(d)/alone.npz"])
            #expect(alone.status == 0, "\(alone.stderr)")
            let a = try #require(EmbedCommandTests.storedNPZ("\(d)/alone.npz")["0"]), b = try #require(batch[String(k)])
            let differing = a.count == b.count ? zip(a, b).filter { $0.bitPattern != $1.bitPattern }.count : -1
            #expect(differing == 0, "sentence \(k) (\(lines[k].split(separator: " ").count) tokens): \(differing) values differ alone and in the batch")
        }
    }
}
