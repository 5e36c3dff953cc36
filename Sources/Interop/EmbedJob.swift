import Foundation
import Framework
import Models
#if canImport(Glibc)
import Glibc
#endif

/// What `elmo embed` writes per sentence and how it batches.
public struct EmbedSettings: Sendable {
    public enum Layers: String, CaseIterable, Sendable { case all, top, average }
    public enum Pool: String, CaseIterable, Sendable { case mean, max }

    /// all: [L + 1, n, 2P]; top: the last layer [n, 2P]; average: the layers' mean [n, 2P].
    public var layers: Layers = .all
    /// A fixed scalar mix instead of `layers`: `γ · Σ_k softmax(w)_k · h_k` (AllenNLP's ScalarMix), [n, 2P].
    public var mixWeights: [Float]? = nil
    public var gamma: Float = 1
    /// One vector per sentence (per layer for `all`): the mean or maximum over its tokens.
    public var pool: Pool? = nil
    public var batchSize = 64
    /// At most this many padded tokens (sentences × the longest one's tokens) per batch; a longer sentence runs
    /// alone, in pieces of this many positions with the LSTM state carried across them.
    public var maxTokensPerBatch: Int? = nil
    public var stateful = false

    public init() {}

    /// The output's shape for a sentence of `n` tokens, with `layerCount` layers of width `dimension`.
    public func shape(tokens n: Int, layerCount: Int, dimension: Int) -> [Int] {
        let perLayer = layers == .all && mixWeights == nil
        switch (perLayer, pool != nil) {
        case (true, false): return [layerCount, n, dimension]
        case (true, true): return [layerCount, dimension]
        case (false, false): return [n, dimension]
        case (false, true): return [dimension]
        }
    }

    /// What the numbers in a file depend on, as text (part of a job's identity).
    public var description: String {
        var parts = ["layers=\(layers.rawValue)"]
        if let mixWeights { parts.append("mix=\(mixWeights.map { "\($0)" }.joined(separator: ","))/\(gamma)") }
        if let pool { parts.append("pool=\(pool.rawValue)") }
        parts.append("batch=\(batchSize)")
        if let maxTokensPerBatch { parts.append("max-tokens=\(maxTokensPerBatch)") }
        if stateful { parts.append("stateful") }
        return parts.joined(separator: " ")
    }

    /// Sentence indexes per batch. Stateless: sorted by length (ties by position), at most `batchSize` sentences
    /// and `maxTokensPerBatch` padded tokens each (a longer sentence goes alone, and is run in pieces). Stateful: consecutive runs of
    /// `batchSize`, row r of each batch continuing row r of the one before.
    public func batches(tokenCounts: [Int32]) -> [[Int]] {
        if stateful {
            return stride(from: 0, to: tokenCounts.count, by: batchSize).map { Array($0..<min($0 + batchSize, tokenCounts.count)) }
        }
        let order = tokenCounts.indices.sorted { (tokenCounts[$0], $0) < (tokenCounts[$1], $1) }
        var result: [[Int]] = [], current: [Int] = []
        for index in order {
            let longest = Int(tokenCounts[index])   // sorted: the newest is the longest
            let fits = current.count < batchSize && (maxTokensPerBatch.map { (current.count + 1) * longest <= $0 } ?? true)
            if !fits && !current.isEmpty {
                result.append(current)
                current = []
            }
            current.append(index)
        }
        if !current.isEmpty { result.append(current) }
        return result
    }

    /// A sentence's [L + 1, n, D] representation reduced to what was asked for.
    public func select(_ all: Tensor<Float>) -> Tensor<Float> {
        let l = all.shape[0], n = all.shape[1], d = all.shape[2]
        func layer(_ k: Int) -> Tensor<Float> {
            Tensor(shape: [n, d], scalars: Array(all.scalars[(k * n * d)..<((k + 1) * n * d)]))
        }
        var out: Tensor<Float>
        if let mixWeights {
            let mix = ScalarMix<Float>(layers: l)
            mix.weights.value = Tensor(shape: [l], scalars: mixWeights)
            mix.gamma.value = Tensor(shape: [1], scalars: [gamma])
            out = mix.forward((0..<l).map(layer))
        } else {
            switch layers {
            case .all: out = all
            case .top: out = layer(l - 1)
            case .average:
                var mean = [Float](repeating: 0, count: n * d)
                all.withUnsafeBufferPointer { h in
                    for k in 0..<l { for i in 0..<(n * d) { mean[i] += h[k * n * d + i] } }
                }
                for i in mean.indices { mean[i] /= Float(l) }
                out = Tensor(shape: [n, d], scalars: mean)
            }
        }
        guard let pool else { return out }
        // Pool over the token axis of each layer: sentences are embedded one by one, so no padding is counted.
        let groups = out.shape.count == 3 ? l : 1
        var pooled = [Float](repeating: pool == .max ? -.infinity : 0, count: groups * d)
        out.withUnsafeBufferPointer { h in
            for g in 0..<groups {
                for t in 0..<n {
                    let row = (g * n + t) * d
                    for j in 0..<d {
                        pooled[g * d + j] = pool == .max ? Swift.max(pooled[g * d + j], h[row + j]) : pooled[g * d + j] + h[row + j]
                    }
                }
            }
        }
        if pool == .mean { for i in pooled.indices { pooled[i] /= Float(n) } }
        return Tensor(shape: groups == 1 ? [d] : [groups, d], scalars: pooled)
    }
}

/// Where `elmo embed` puts each sentence's vectors.
public protocol EmbeddingSink: AnyObject {
    /// Sentence `index`'s output.
    func put(_ index: Int, _ vectors: Tensor<Float>) throws
    /// `batches` batches of the plan are complete (a resumable sink records it).
    func committed(batches: Int) throws
    /// Makes the output whole and puts it in place.
    func finish() throws
}

/// Embeds a sentence file batch by batch into a sink.
public enum EmbedJob {
    /// Runs batches `first...` of `plan`; `report(done batches, sentences done)` after each.
    public static func run(embedder: ELMoEmbedder<Float>, sentences: SentenceFile, settings: EmbedSettings, plan: [[Int]],
                           from first: Int, into sink: EmbeddingSink, report: (Int, Int) -> Void) throws {
        var done = plan[..<first].reduce(0) { $0 + $1.count }
        for b in first..<plan.count {
            let batch = plan[b]
            let vectors: [Tensor<Float>]
            if let budget = settings.maxTokensPerBatch, !settings.stateful, batch.count == 1, Int(sentences.tokenCounts[batch[0]]) > budget {
                vectors = [embedder.encodeChunked(sentences.tokens(batch[0]), chunkSteps: budget)]
            } else {
                vectors = embedder.encode(batch.map { sentences.tokens($0) })
            }
            for (index, all) in zip(batch, vectors) { try sink.put(index, settings.select(all)) }
            try sink.committed(batches: b + 1)
            done += batch.count
            report(b + 1, done)
        }
        try sink.finish()
    }

    /// The identity of a job: what its output's numbers depend on. A resume continues only the same job.
    public static func identity(inputSHA256: String, checkpointSHA256: String, settings: EmbedSettings, keys: String,
                                precision: ComputePrecision) -> String {
        var digest = SHA256Digest()
        digest.update(Array("swift-elmo embed 1\n\(inputSHA256)\n\(checkpointSHA256)\n\(settings.description)\n\(keys)\n\(precision.rawValue)\n".utf8))
        return digest.hexDigest()
    }
}

extension ELMoEmbedder where T == Float {
    /// The carried LSTM states (stateful runs) as tensors `forward.layer_0.cell`, `forward.layer_0.hidden`, ….
    public func carriedStateTensors() -> SafeTensors {
        var file = SafeTensors()
        for direction in Direction.allCases {
            for (l, state) in carriedStates[direction].enumerated() {
                file["\(direction.rawValue).layer_\(l).cell"] = StoredTensor(state.cell)
                file["\(direction.rawValue).layer_\(l).hidden"] = StoredTensor(state.hidden)
            }
        }
        return file
    }

    /// Sets the carried states from ``carriedStateTensors()``'s file; `source` names it in errors.
    public func restoreCarriedStates(from file: SafeTensors, source: String) throws {
        var states = carriedStates
        for direction in Direction.allCases {
            for l in states[direction].indices {
                for (part, shape) in [("cell", states[direction][l].cell.shape), ("hidden", states[direction][l].hidden.shape)] {
                    let name = "\(direction.rawValue).layer_\(l).\(part)"
                    guard let stored = file[name], stored.shape == shape else {
                        throw InputError("\(source): no tensor \(name) of shape \(shape) (saved by another model or batch size?)")
                    }
                    let value = try stored.floatingPoint(Float.self, name: name, source: source)
                    if part == "cell" { states[direction][l].cell = value } else { states[direction][l].hidden = value }
                }
            }
        }
        carriedStates = states
    }
}

/// `allennlp elmo`'s HDF5 file, written in place batch by batch and resumable after a kill.
///
/// The file is built as `OUTPUT.partial`, beside `OUTPUT.progress` (the job's identity and how many batches of
/// its plan are on disk, rewritten atomically at most every few seconds after the data is flushed). A rerun of
/// the same command continues from there; at the end the file is renamed to `OUTPUT`. An existing `OUTPUT` or
/// an unfinished run of another job is never touched without `overwrite`.
///
/// A stateful run (rows carrying LSTM state from batch to batch) also saves that state, `OUTPUT.state`, with each
/// record: written after the data is flushed and before the progress record, so a kill between the two leaves a
/// state that is ahead of the record but never ahead of the data, and the run continues from the state's batch.
public final class HDF5EmbeddingSink: EmbeddingSink {
    public enum Start {
        case fresh
        case resumed(batches: Int)
        case alreadyComplete
    }

    public let path: String
    public let start: Start
    private let partialPath: String
    private let progressPath: String
    private let statePath: String
    /// Stateful runs: the carried LSTM state after the committed batches, saved with each record.
    private let saveState: (() -> SafeTensors)?
    /// Stateful runs resumed: the state the run continues from.
    public private(set) var resumedState: SafeTensors? = nil
    private let job: String
    private let batchCount: Int
    private var offsets: [Int64] = []
    private var byteCounts: [Int] = []
    private var fd: Int32 = -1
    private var lastRecorded = Date()
    private var pending = 0
    /// Seconds between progress records: at most this much work is redone after a kill.
    public var recordInterval: TimeInterval = 5

    /// Opens or creates the output for `job`. `layout` is called only when the file must be created.
    /// `saveState` (stateful runs): the carried LSTM state after the batches committed so far; such a run resumes
    /// only with its saved state (``resumedState``).
    public init(path: String, job: String, datasets: [EmbeddingHDF5.Dataset], batchCount: Int, overwrite: Bool,
                saveState: (() -> SafeTensors)? = nil,
                layout: () -> (sentenceToIndex: [UInt8]?, attributes: [(String, String)])) throws {
        self.path = path
        self.saveState = saveState
        self.job = job
        self.batchCount = batchCount
        partialPath = path + ".partial"
        progressPath = path + ".progress"
        statePath = path + ".state"
        byteCounts = datasets.map(\.byteCount)
        let fileManager = FileManager.default
        if fileManager.fileExists(atPath: path) && !overwrite {
            let existing = try? HDF5File(path: path, role: "--output")
            guard let existing, existing.stringAttribute("elmo_job") == job else {
                throw InputError("--output \(path): exists and holds \(existing == nil ? "something other than an HDF5 file" : "another input, model or options"); pass --overwrite or choose another path")
            }
            start = .alreadyComplete
            return
        }
        if !overwrite, fileManager.fileExists(atPath: progressPath), fileManager.fileExists(atPath: partialPath) {
            let record = try Self.readProgress(progressPath)
            guard record.job == job else {
                throw InputError("--output \(path): \(partialPath) is an unfinished run of another input, model or options; pass --overwrite to start again")
            }
            guard let file = try? HDF5File(path: partialPath, role: "--output") else {
                throw InputError("--output \(path): \(partialPath) cannot be resumed: truncated or damaged HDF5; pass --overwrite to start again")
            }
            guard file.stringAttribute("elmo_job") == job, file.rootLinkCount >= datasets.count else {
                throw InputError("--output \(path): \(partialPath) does not hold this run's layout; pass --overwrite to start again")
            }
            for dataset in datasets {
                guard let offset = file.dataOffset(dataset.name) else {
                    throw InputError("--output \(path): \(partialPath) lacks dataset \(dataset.name.debugDescription); pass --overwrite to start again")
                }
                offsets.append(offset)
            }
            var info = stat()
            let end = zip(offsets, byteCounts).map { $0 + Int64($1) }.max() ?? 0
            guard stat(partialPath, &info) == 0, Int64(info.st_size) >= end else {
                throw InputError("--output \(path): \(partialPath) is truncated (\(info.st_size) bytes, the layout needs \(end)); pass --overwrite to start again")
            }
            var batches = record.batches
            if saveState != nil {
                guard let state = try? SafeTensors.read(path: statePath), state.metadata["job"] == job,
                      let stateBatches = state.metadata["batches"].flatMap({ Int($0) }), stateBatches >= record.batches else {
                    throw InputError("--output \(path): \(statePath), the LSTM state this stateful run continues from, is missing or not this run's; pass --overwrite to start again")
                }
                batches = stateBatches
                resumedState = state
            }
            start = .resumed(batches: min(batches, batchCount))
        } else {
            unlink(progressPath)
            unlink(statePath)
            let (json, attributes) = layout()
            offsets = try EmbeddingHDF5.create(path: partialPath, datasets: datasets, sentenceToIndex: json,
                                               attributes: attributes + [("elmo_job", job)])
            start = .fresh
        }
        fd = open(partialPath, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw InputError("--output \(path): cannot open \(partialPath) for writing (\(String(cString: strerror(errno))))") }
        if case .fresh = start { try record(batches: 0) }
    }

    deinit { if fd >= 0 { close(fd) } }

    public var firstBatch: Int {
        if case .resumed(let batches) = start { return batches }
        return 0
    }

    public func put(_ index: Int, _ vectors: Tensor<Float>) throws {
        precondition(vectors.scalars.count * MemoryLayout<Float>.size == byteCounts[index], "dataset \(index): shape differs from its layout")
        try vectors.scalars.withUnsafeBytes {
            try Files.writeAll($0, to: fd, at: offsets[index], path: partialPath, advice: " (rerun the same command to continue)")
        }
    }

    public func committed(batches: Int) throws {
        pending = batches
        if Date().timeIntervalSince(lastRecorded) >= recordInterval { try record(batches: batches) }
    }

    /// Flushes the vectors, then records that `batches` batches are on disk: the record never runs ahead of the data.
    private func record(batches: Int) throws {
        guard fdatasync(fd) == 0 else { throw RuntimeFailure("cannot flush \(partialPath): \(String(cString: strerror(errno)))") }
        if let saveState {
            var state = saveState()
            state.metadata = ["job": job, "batches": String(batches)]
            try state.write(to: statePath)
        }
        let text = "{\"job\": \"\(job)\", \"batches\": \(batches), \"of\": \(batchCount)}\n"
        try Files.writeAtomically(Array(text.utf8), to: progressPath)
        lastRecorded = Date()
    }

    public func finish() throws {
        try record(batches: pending)
        close(fd)
        fd = -1
        guard rename(partialPath, path) == 0 else {
            throw RuntimeFailure("cannot rename \(partialPath) to \(path): \(String(cString: strerror(errno)))")
        }
        let directory = (path as NSString).deletingLastPathComponent
        let dirfd = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirfd >= 0 { _ = fsync(dirfd); close(dirfd) }
        unlink(progressPath)
        unlink(statePath)
    }

    static func readProgress(_ path: String) throws -> (job: String, batches: Int) {
        let object = try JSONText.parseObject(Files.readBytes(path, role: "progress file"), source: path)
        guard let job = object["job"] as? String, let batches = object["batches"] as? Int, batches >= 0 else {
            throw InputError("progress file \(path): not a progress record of elmo embed; delete it or pass --overwrite")
        }
        return (job, batches)
    }
}

/// `.npz`: one array per sentence, key its line number, streamed as batches finish (not resumable).
public final class NPZEmbeddingSink: EmbeddingSink {
    private let writer: NumPy.NPZWriter
    private let keys: (Int) -> String
    public init(path: String, keys: @escaping (Int) -> String) throws {
        writer = try NumPy.NPZWriter(path: path)
        self.keys = keys
    }
    public func put(_ index: Int, _ vectors: Tensor<Float>) throws { try writer.add(keys(index), vectors) }
    public func committed(batches: Int) throws {}
    public func finish() throws { try writer.finish() }
}

/// `.jsonl`: one `{"tokens": …, "embedding": …}` line per sentence in input order (not resumable).
///
/// Batches finish in length order, not input order, so the vectors first go by offset into a scratch file beside
/// the output (float32, each sentence's place known from its shape); ``finish()`` then streams the lines out in
/// input order. Memory stays that of one sentence, whatever the corpus.
public final class JSONLEmbeddingSink: EmbeddingSink {
    private let path: String
    private let scratchPath: String
    private let tokens: (Int) -> [String]
    private let count: Int
    private let shape: (Int) -> [Int]
    private let offsets: [Int64]
    private var fd: Int32 = -1

    /// `shape(i)`: sentence i's output shape, for sentences 0..<count.
    public init(path: String, count: Int, tokens: @escaping (Int) -> [String], shape: @escaping (Int) -> [Int]) throws {
        self.path = path
        self.tokens = tokens
        self.count = count
        self.shape = shape
        var offsets: [Int64] = [], next: Int64 = 0
        offsets.reserveCapacity(count)
        for index in 0..<count {
            offsets.append(next)
            next += Int64(shape(index).reduce(1, *) * MemoryLayout<Float>.size)
        }
        self.offsets = offsets
        scratchPath = "\(path).vectors-\(getpid())"
        fd = open(scratchPath, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw InputError("--output \(path): cannot create \(scratchPath) (\(String(cString: strerror(errno))))") }
    }

    deinit {
        if fd >= 0 { close(fd); unlink(scratchPath) }
    }

    public func put(_ index: Int, _ vectors: Tensor<Float>) throws {
        precondition(vectors.shape == shape(index), "sentence \(index): shape differs from its layout")
        try vectors.scalars.withUnsafeBytes { try Files.writeAll($0, to: fd, at: offsets[index], path: scratchPath) }
    }

    public func committed(batches: Int) throws {}

    public func finish() throws {
        try Files.writeAtomically(to: path) { append in
            var text: [UInt8] = []
            for index in 0..<count {
                let shape = shape(index)
                var scalars = [Float](repeating: 0, count: shape.reduce(1, *))
                try scalars.withUnsafeMutableBytes { try Files.readAll(into: $0, from: fd, at: offsets[index], path: scratchPath) }
                let vectors = Tensor(shape: shape, scalars: scalars)
                text += Array(("{\"tokens\": [" + tokens(index).map(JSONText.quote).joined(separator: ", ") + "], \"embedding\": ").utf8)
                text += JSONText.nestedArray(vectors)
                text += Array("}\n".utf8)
                if text.count >= 1 << 20 {
                    try text.withUnsafeBytes { try append($0) }
                    text.removeAll(keepingCapacity: true)
                }
            }
            try text.withUnsafeBytes { try append($0) }
        }
        close(fd)
        fd = -1
        unlink(scratchPath)
    }
}
