import CKernels
import Foundation

/// The per-step work of a recurrence (an LSTM window): products of few rows (the batch) with the same weights
/// at every step, and the cells' elementwise pass, dozens of calls per window.
///
/// OpenBLAS's own threading allocates its job list on every call it splits. With two cores allowed, the
/// products are split by columns instead and the cells by rows, one half here and one on ``Parallel``'s
/// helper thread (each product an OpenBLAS call on one thread): two cores, no allocation per step.
public enum StepKernels {
    /// Runs `body(split)`: with `split`, OpenBLAS is held to one thread meanwhile (restored after) and
    /// ``gemm(split:_:m:n:k:a:lda:b:ldb:beta:c:ldc:)`` divides its products over two cores.
    public static func run<R>(_ body: (_ split: Bool) throws -> R) rethrows -> R {
        guard Parallel.mayUseTwoCores else { return try body(false) }
        let threads = BLASRuntime.threads
        BLASRuntime.setThreads(1)
        defer { BLASRuntime.setThreads(threads) }
        return try body(true)
    }

    /// `c[m × n] = a[m × k]·op(b) + beta·c`, op(b) = b [k × n] or, transposed, the transpose of b [n × k].
    /// Split into two column halves when `split` and there are at least 32 columns; Double (the gradient
    /// checks) never splits.
    @inlinable
    public static func gemm<T: Scalar>(split: Bool, _ transB: Transpose, m: Int, n: Int, k: Int,
                                       a: UnsafePointer<T>, lda: Int, b: UnsafePointer<T>, ldb: Int,
                                       beta: T, c: UnsafeMutablePointer<T>, ldc: Int) {
        guard split, n >= 32, T.self == Float.self else {
            BLAS.gemm(.none, transB, m: m, n: n, k: k, alpha: 1, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
            return
        }
        inTwo(.product(ColumnHalves(transposedB: transB == .transposed, m: m, n: n, k: k, a: Kernels.float(a), lda: lda,
                                    b: Kernels.float(b), ldb: ldb, beta: unsafeBitCast(beta, to: Float.self),
                                    c: Kernels.float(c), ldc: ldc)))
    }
}

extension StepKernels {
    /// ``Kernels/lstmForwardCells(gates:cellPrev:cellNext:m:rows:cellSize:clip:keep:)``, its rows split in two
    /// halves when `split` (Float only).
    @inlinable
    public static func lstmForwardCells<T: Scalar>(split: Bool, gates: UnsafeMutablePointer<T>, cellPrev: UnsafePointer<T>,
                                                   cellNext: UnsafeMutablePointer<T>, m: UnsafeMutablePointer<T>,
                                                   rows: Int, cellSize c: Int, clip: T?, keep: UnsafePointer<T>?) {
        guard split, rows >= 2, T.self == Float.self else {
            Kernels.lstmForwardCells(gates: gates, cellPrev: cellPrev, cellNext: cellNext, m: m, rows: rows, cellSize: c,
                                     clip: clip, keep: keep)
            return
        }
        inTwo(.cells(CellHalves(backward: false, rows: rows, c: c, clip: (clip as! Float?) ?? .infinity,
                                keep: keep.map { Kernels.float($0) }, gates: Kernels.float(gates),
                                cellPrev: Kernels.float(cellPrev), cellOther: Kernels.float(cellNext),
                                m: Kernels.float(m), dc: nil, dGates: nil)))
    }

    /// ``Kernels/lstmBackwardCells(gates:cellPrev:cellNow:dm:dc:dGates:rows:cellSize:clip:keep:)``, its rows
    /// split in two halves when `split` (Float only).
    @inlinable
    public static func lstmBackwardCells<T: Scalar>(split: Bool, gates: UnsafePointer<T>, cellPrev: UnsafePointer<T>,
                                                    cellNow: UnsafePointer<T>, dm: UnsafePointer<T>, dc: UnsafeMutablePointer<T>,
                                                    dGates: UnsafeMutablePointer<T>, rows: Int, cellSize c: Int, clip: T?,
                                                    keep: UnsafePointer<T>?) {
        guard split, rows >= 2, T.self == Float.self else {
            Kernels.lstmBackwardCells(gates: gates, cellPrev: cellPrev, cellNow: cellNow, dm: dm, dc: dc, dGates: dGates,
                                      rows: rows, cellSize: c, clip: clip, keep: keep)
            return
        }
        inTwo(.cells(CellHalves(backward: true, rows: rows, c: c, clip: (clip as! Float?) ?? .infinity,
                                keep: keep.map { Kernels.float($0) }, gates: UnsafeMutablePointer(mutating: Kernels.float(gates)),
                                cellPrev: Kernels.float(cellPrev), cellOther: UnsafeMutablePointer(mutating: Kernels.float(cellNow)),
                                m: UnsafeMutablePointer(mutating: Kernels.float(dm)), dc: Kernels.float(dc),
                                dGates: Kernels.float(dGates))))
    }
}

/// One piece of per-step work cut in two.
@usableFromInline
enum StepHalves {
    case product(ColumnHalves)
    case cells(CellHalves)

    @usableFromInline
    func run(half: Int) {
        switch self {
        case .product(let work): work.run(half: half)
        case .cells(let work): work.run(half: half)
        }
    }
}

extension StepKernels {
    /// Columns of the first half when a product of `n` columns is cut in two: about half, at a 16-column boundary.
    @usableFromInline
    static func firstHalfColumns(_ n: Int) -> Int { (n / 2 + 15) / 16 * 16 }

    /// Half 0 here, half 1 on ``Parallel``'s helper thread.
    @usableFromInline
    static func inTwo(_ work: StepHalves) {
        var work = work
        withUnsafeMutablePointer(to: &work) { pointer in
            Parallel.halves(UnsafeMutableRawPointer(pointer)) { raw, half in
                raw.assumingMemoryBound(to: StepHalves.self).pointee.run(half: half)
            }
        }
    }
}

/// One step's cells cut into two row ranges (rows are independent). Forward: `cellOther` is the next cell
/// state and `m` the output; backward: `cellOther` is the current cell, `m` holds d(m), and `dc`, `dGates`
/// are written.
@usableFromInline
struct CellHalves {
    let backward: Bool
    let rows: Int, c: Int, clip: Float
    let keep: UnsafePointer<Float>?
    let gates: UnsafeMutablePointer<Float>
    let cellPrev: UnsafePointer<Float>
    let cellOther: UnsafeMutablePointer<Float>
    let m: UnsafeMutablePointer<Float>
    let dc: UnsafeMutablePointer<Float>?
    let dGates: UnsafeMutablePointer<Float>?

    @usableFromInline
    init(backward: Bool, rows: Int, c: Int, clip: Float, keep: UnsafePointer<Float>?, gates: UnsafeMutablePointer<Float>,
         cellPrev: UnsafePointer<Float>, cellOther: UnsafeMutablePointer<Float>, m: UnsafeMutablePointer<Float>,
         dc: UnsafeMutablePointer<Float>?, dGates: UnsafeMutablePointer<Float>?) {
        (self.backward, self.rows, self.c, self.clip, self.keep, self.gates) = (backward, rows, c, clip, keep, gates)
        (self.cellPrev, self.cellOther, self.m, self.dc, self.dGates) = (cellPrev, cellOther, m, dc, dGates)
    }

    @usableFromInline
    func run(half: Int) {
        let first = rows / 2
        let start = half == 0 ? 0 : first, count = half == 0 ? first : rows - first
        let g = 4 * c
        if backward {
            elmo_lstm_backward_cells(gates + start * g, cellPrev + start * c, cellOther + start * c, m + start * c,
                                     dc! + start * c, dGates! + start * g, count, c, clip, keep.map { $0 + start })
        } else {
            elmo_lstm_forward_cells(gates + start * g, cellPrev + start * c, cellOther + start * c, m + start * c,
                                    count, c, clip, keep.map { $0 + start })
        }
    }
}

/// One product cut at a 16-column boundary into two halves that write disjoint columns of `c`.
@usableFromInline
struct ColumnHalves {
    let transposedB: Bool
    let m: Int, n: Int, k: Int
    let a: UnsafePointer<Float>, lda: Int
    let b: UnsafePointer<Float>, ldb: Int
    let beta: Float
    let c: UnsafeMutablePointer<Float>, ldc: Int

    @usableFromInline
    init(transposedB: Bool, m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
         beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        (self.transposedB, self.m, self.n, self.k, self.a, self.lda) = (transposedB, m, n, k, a, lda)
        (self.b, self.ldb, self.beta, self.c, self.ldc) = (b, ldb, beta, c, ldc)
    }

    @usableFromInline
    func run(half: Int) {
        let firstColumns = StepKernels.firstHalfColumns(n)
        let start = half == 0 ? 0 : firstColumns
        let count = half == 0 ? firstColumns : n - firstColumns
        // Columns start.. of op(b): columns of b, or rows of the stored transpose.
        let bPart = transposedB ? b + start * ldb : b + start
        BLAS.gemm(.none, transposedB ? .transposed : .none, m: m, n: count, k: k, alpha: 1, a: a, lda: lda,
                  b: bPart, ldb: ldb, beta: beta, c: c + start, ldc: ldc)
    }
}

// MARK: - Products with the weights packed once per window

extension StepKernels {
    /// Who multiplies the per-step products: OpenBLAS at every call (packing the weights each time), or oneDNN
    /// with the weights packed once per window, in float32 or bfloat16. Read once from `ELMO_STEP_PRODUCTS`
    /// (`openblas`, `onednn`, `onednn-bf16`); unset, ``automaticBackend``. ``StepProduct`` is used only when this is
    /// not `.openBLAS`.
    public enum ProductBackend: Equatable, Sendable {
        case openBLAS
        case oneDNN(PackedMatmul.Precision)

        public var name: String {
            switch self {
            case .openBLAS: "openblas"
            case .oneDNN(.float32): "onednn"
            case .oneDNN(.bfloat16): "onednn-bf16"
            }
        }

        public init?(name: String) {
            switch name {
            case "openblas": self = .openBLAS
            case "onednn": self = .oneDNN(.float32)
            case "onednn-bf16": self = .oneDNN(.bfloat16)
            default: return nil
            }
        }
    }

    nonisolated(unsafe) private static var chosenBackend: ProductBackend? = nil

    /// The default where `ELMO_STEP_PRODUCTS` is unset: oneDNN float32 where oneDNN runs AVX-512 kernels, OpenBLAS
    /// elsewhere. Measured (Benchmarks/RESULTS.md): with AVX-512 oneDNN's packed products run the BiLSTM 1.2–1.3× faster
    /// and `serve` 1.15–1.25×, pretraining within noise; restricted to AVX2 (`ONEDNN_MAX_CPU_ISA=AVX2`), oneDNN 2.6 is
    /// slower than OpenBLAS (`embed` 0.7–0.9×), so AVX2-only CPUs keep OpenBLAS.
    public static var automaticBackend: ProductBackend {
        PackedMatmul.avx512Available ? .oneDNN(.float32) : .openBLAS
    }

    /// The backend of the per-step products (default: the environment's, else ``automaticBackend``). Set it before any
    /// layer runs (it is read without a lock).
    public static var productBackend: ProductBackend {
        get {
            if let chosenBackend { return chosenBackend }
            var backend = automaticBackend
            if let value = ProcessInfo.processInfo.environment["ELMO_STEP_PRODUCTS"] {
                if let named = ProductBackend(name: value) {
                    backend = named
                    if named == .oneDNN(.bfloat16) && !PackedMatmul.bfloat16Available {
                        FileHandle.standardError.write(Data("warning: ELMO_STEP_PRODUCTS=onednn-bf16 needs AVX512-BF16 or AMX; this CPU has \(PackedMatmul.isaName); using \(automaticBackend.name)\n".utf8))
                        backend = automaticBackend
                    }
                } else {
                    FileHandle.standardError.write(Data("warning: ELMO_STEP_PRODUCTS=\(value) is not openblas, onednn or onednn-bf16; using \(automaticBackend.name)\n".utf8))
                }
            }
            chosenBackend = backend
            return backend
        }
        set { chosenBackend = newValue }
    }
}

/// One per-step product of a window, `c = a·op(b)` (or `+=` with `accumulate`), with op(b) packed once by oneDNN:
/// whole, or cut at a 16-column boundary into two halves (one per core, each packed on its own) when `split`.
/// Build it once per layer and batch size; ``repack(_:)`` at the start of each window picks up updated weights.
public final class StepProduct {
    public let m: Int, n: Int, k: Int
    public let split: Bool
    let transposedB: Bool
    let ldb: Int
    let halves: [PackedMatmul]
    let starts: [Int]

    /// op(b) = b [k × n] (row stride `ldb`) or, `transposedB`, the transpose of b [n × k]; a is [m × k] dense,
    /// c [m × n] dense.
    public init(split: Bool, transposedB: Bool, m: Int, n: Int, k: Int, b: UnsafePointer<Float>, ldb: Int, accumulate: Bool,
                precision: PackedMatmul.Precision) throws {
        (self.m, self.n, self.k, self.split, self.transposedB, self.ldb) = (m, n, k, split && n >= 32, transposedB, ldb)
        let first = self.split ? StepKernels.firstHalfColumns(n) : n
        starts = self.split ? [0, first] : [0]
        let counts = self.split ? [first, n - first] : [n]
        PackedMatmul.setThreads(1)   // the halves are this type's threads; oneDNN's own would compete with them
        halves = try zip(starts, counts).map { start, count in
            try PackedMatmul(m: m, n: count, k: k, weights: transposedB ? b + start * ldb : b + start, ldb: ldb,
                             transposedWeights: transposedB, lda: k, ldc: n, accumulate: accumulate, precision: precision)
        }
    }

    /// Packs `b` (same shape and layout as at creation) again.
    public func repack(_ b: UnsafePointer<Float>) {
        for (half, start) in zip(halves, starts) { half.repack(weights: transposedB ? b + start * ldb : b + start) }
    }

    /// c = (or +=) a·op(b): both halves at once on two cores, or the whole here.
    public func run(_ a: UnsafePointer<Float>, into c: UnsafeMutablePointer<Float>) {
        guard split else { return halves[0].run(a, into: c) }
        var work = PackedHalves(product: self, a: a, c: c)
        withUnsafeMutablePointer(to: &work) { pointer in
            Parallel.halves(UnsafeMutableRawPointer(pointer)) { raw, half in
                let work = raw.assumingMemoryBound(to: PackedHalves.self).pointee
                // OpenMP's thread count is per calling thread: the helper must ask for one too, or oneDNN starts a
                // team of its own on it.
                PackedMatmul.setThreads(1)
                work.product.halves[half].run(work.a, into: work.c + work.product.starts[half])
            }
        }
    }
}

private struct PackedHalves {
    let product: StepProduct
    let a: UnsafePointer<Float>
    let c: UnsafeMutablePointer<Float>
}
