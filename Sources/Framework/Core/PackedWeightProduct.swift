/// `c = a·W` (or `c += a·W`) for any number of rows of `a`, with W — a weight matrix — packed once by oneDNN (float32
/// or bfloat16) and used until it changes (`embed` and a frozen encoder never repack; mixed-precision pretraining
/// repacks after each step). The product over all steps of a pass (an LSTM's input
/// projections, the char-CNN's windows, the highway layers) has a different row count at every batch; a oneDNN
/// primitive has one, so rows go through fixed-height primitives — blocks of ``blockRows``, then chunks of
/// ``chunkRows``, the last chunk padded — that read one packed copy of W. On two cores (``Parallel/mayUseTwoCores``)
/// the rows are cut in two, one part per core.
///
/// A row's result does not depend on how many rows come with it, nor on where it sits: every path runs the same
/// packed kernels over the same depth (tested), so `serve`'s answers keep the bits `embed` gives.
///
/// Not thread-safe: one caller at a time (it uses both cores itself when it may).
public final class PackedWeightProduct {
    public static let blockRows = 128
    public static let chunkRows = 16

    public let k: Int, n: Int
    public let precision: PackedMatmul.Precision
    public let accumulate: Bool

    /// Per core: a block primitive and a chunk primitive, all four reading the first one's packed weights where
    /// oneDNN chose one layout for all (else each pair packs its own).
    private let workers: [Worker]

    private final class Worker {
        let block: PackedMatmul, chunk: PackedMatmul
        /// One padded chunk of input and output: the last rows, when fewer than a chunk remain.
        let paddedInput: UnsafeMutablePointer<Float>, paddedOutput: UnsafeMutablePointer<Float>
        let k: Int, n: Int

        init(k: Int, n: Int, weights: UnsafePointer<Float>, ldb: Int, accumulate: Bool, precision: PackedMatmul.Precision,
             sharing owner: PackedMatmul?) throws {
            block = try PackedMatmul(m: PackedWeightProduct.blockRows, n: n, k: k, weights: weights, ldb: ldb,
                                     accumulate: accumulate, precision: precision, sharingWeightsOf: owner)
            chunk = try PackedMatmul(m: PackedWeightProduct.chunkRows, n: n, k: k, weights: weights, ldb: ldb,
                                     accumulate: accumulate, precision: precision, sharingWeightsOf: block)
            (self.k, self.n) = (k, n)
            paddedInput = .allocate(capacity: PackedWeightProduct.chunkRows * k)
            paddedInput.initialize(repeating: 0, count: PackedWeightProduct.chunkRows * k)
            paddedOutput = .allocate(capacity: PackedWeightProduct.chunkRows * n)
            paddedOutput.initialize(repeating: 0, count: PackedWeightProduct.chunkRows * n)
        }

        deinit {
            paddedInput.deallocate()
            paddedOutput.deallocate()
        }

        /// Rows `0..<m` of a [m × k] into c [m × n].
        func run(_ a: UnsafePointer<Float>, rows m: Int, into c: UnsafeMutablePointer<Float>, accumulate: Bool) {
            var row = 0
            while m - row >= PackedWeightProduct.blockRows {
                block.run(a + row * k, into: c + row * n)
                row += PackedWeightProduct.blockRows
            }
            while m - row >= PackedWeightProduct.chunkRows {
                chunk.run(a + row * k, into: c + row * n)
                row += PackedWeightProduct.chunkRows
            }
            let rest = m - row
            guard rest > 0 else { return }
            paddedInput.update(from: a + row * k, count: rest * k)
            if accumulate { paddedOutput.update(from: c + row * n, count: rest * n) }
            chunk.run(paddedInput, into: paddedOutput)
            (c + row * n).update(from: paddedOutput, count: rest * n)
        }
    }

    /// W is `[k, n]` with row stride `ldb` (a block of rows of a wider parameter, say); a and c are dense.
    /// Throws where oneDNN has no kernel for the request (bfloat16 without AVX512-BF16 or AMX).
    public init(k: Int, n: Int, weights: UnsafePointer<Float>, ldb: Int, accumulate: Bool = false,
                precision: PackedMatmul.Precision) throws {
        precondition(k > 0 && n > 0 && ldb >= n, "PackedWeightProduct needs positive sizes and ldb ≥ n, got \(k)×\(n), ldb \(ldb)")
        (self.k, self.n, self.precision, self.accumulate) = (k, n, precision, accumulate)
        PackedMatmul.setThreads(1)   // this type's rows are split across cores here; oneDNN's own team would compete
        let first = try Worker(k: k, n: n, weights: weights, ldb: ldb, accumulate: accumulate, precision: precision, sharing: nil)
        // The second core's primitives are made now, while `weights` is valid; they read the first's packed copy.
        workers = BLASRuntime.processors >= 2
            ? [first, try Worker(k: k, n: n, weights: weights, ldb: ldb, accumulate: accumulate, precision: precision, sharing: first.block)]
            : [first]
    }

    /// Packs new weights, same shape and layout: after the parameter changed.
    public func repack(weights: UnsafePointer<Float>) {
        for worker in workers {
            for primitive in [worker.block, worker.chunk] where !primitive.sharesWeights { primitive.repack(weights: weights) }
        }
    }

    /// How many packed copies of W the primitives read: 1 when oneDNN chose one layout for every row count.
    public var packedCopies: Int { workers.reduce(0) { $0 + [$1.block, $1.chunk].filter { !$0.sharesWeights }.count } }

    /// c [m × n] (=, or += with `accumulate`) a [m × k] · W.
    public func run(_ a: UnsafePointer<Float>, rows m: Int, into c: UnsafeMutablePointer<Float>) {
        guard m > 0 else { return }
        // OpenMP's thread count belongs to the calling thread, which may not be the one that made this product: without
        // this, oneDNN would start its own team under our split (or under the other LM direction's thread).
        PackedMatmul.setThreads(1)
        // Two parts only when each has at least a block: below that the hand-over costs more than it saves.
        guard Parallel.mayUseTwoCores, workers.count == 2, m >= 2 * Self.blockRows else {
            return workers[0].run(a, rows: m, into: c, accumulate: accumulate)
        }
        // The first part is the whole number of blocks nearest half the rows: both parts run mostly whole blocks, and
        // neither gets more than half a block beyond half the rows.
        let firstRows = max(1, Int((Double(m) / Double(2 * Self.blockRows)).rounded())) * Self.blockRows
        var work = Halves(product: self, a: a, c: c, rows: m, firstRows: firstRows)
        withUnsafeMutablePointer(to: &work) { pointer in
            Parallel.halves(UnsafeMutableRawPointer(pointer)) { raw, half in
                let work = raw.assumingMemoryBound(to: Halves.self).pointee
                PackedMatmul.setThreads(1)   // OpenMP's count is per calling thread: the helper must ask for one too
                let product = work.product, start = half == 0 ? 0 : work.firstRows
                let rows = half == 0 ? work.firstRows : work.rows - work.firstRows
                product.workers[half].run(work.a + start * product.k, rows: rows, into: work.c + start * product.n,
                                          accumulate: product.accumulate)
            }
        }
    }

    private struct Halves {
        let product: PackedWeightProduct
        let a: UnsafePointer<Float>
        let c: UnsafeMutablePointer<Float>
        let rows: Int, firstRows: Int
    }
}
