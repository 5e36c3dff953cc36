import Framework

/// LSTM state carried between windows: c [B, C] and h [B, H].
public struct LSTMState<T: Scalar>: Sendable {
    public var cell: Tensor<T>
    public var hidden: Tensor<T>
    public init(cell: Tensor<T>, hidden: Tensor<T>) {
        self.cell = cell
        self.hidden = hidden
    }
    public static func zeros(batch: Int, cellSize: Int, outputSize: Int) -> LSTMState {
        LSTMState(cell: Tensor(shape: [batch, cellSize]), hidden: Tensor(shape: [batch, outputSize]))
    }
}

/// One LSTM layer over a window of T steps, TensorFlow `LSTMCell` convention (bilm-tf):
/// gates = [x; h]·kernel + bias in blocks i, j, f, o; c' = σ(f + 1)·c + σ(i)·tanh(j) (clipped);
/// h' = (σ(o)·tanh(c'))·projection (clipped), or without projection h' = σ(o)·tanh(c').
///
/// Sequences are time-major: row t·B + b is step t of stream b. The input projections of all T steps
/// are one GEMM before the recurrence; the weight gradients are one GEMM each after it. The per-step
/// products go through ``StepKernels`` (two cores without OpenBLAS's per-call allocation).
public final class LSTMLayer<T: Scalar>: HasParameters {
    public let kernel: Parameter<T>          // [I + H, 4C]
    public let bias: Parameter<T>            // [4C]
    public let projection: Parameter<T>?     // [C, P]
    public let inputSize: Int
    public let cellSize: Int
    public let cellClip: T?
    public let projectionClip: T?
    public var outputSize: Int { projection?.shape[1] ?? cellSize }
    public var parameters: [Parameter<T>] { [kernel, bias] + (projection.map { [$0] } ?? []) }

    public init(name: String, inputSize: Int, cellSize: Int, projectionSize: Int?, cellClip: Double?,
                projectionClip: Double?, rng: inout SeededRandom) {
        self.inputSize = inputSize
        self.cellSize = cellSize
        let h = projectionSize ?? cellSize
        kernel = Parameter(name: "\(name).kernel",
                           value: Initializer.glorotUniform.make([inputSize + h, 4 * cellSize], rng: &rng))
        bias = Parameter(name: "\(name).bias", value: Tensor(shape: [4 * cellSize]))
        projection = projectionSize.map {
            Parameter(name: "\(name).projection", value: Initializer.glorotUniform.make([cellSize, $0], rng: &rng))
        }
        self.cellClip = cellClip.map { T($0) }
        // TensorFlow clips the projected output only; without a projection there is nothing to clip.
        self.projectionClip = projectionSize == nil ? nil : projectionClip.map { T($0) }
    }

    public struct Cache {
        public var steps: Int
        public var batch: Int
        var input: Tensor<T>        // [T·B, I]
        var gates: Tensor<T>        // [T·B, 4C] activations σ(i), tanh(j), σ(f+1), σ(o)
        var cells: Tensor<T>        // [(T+1)·B, C], block 0 = the initial state
        var hiddens: Tensor<T>      // [(T+1)·B, H], block 0 = the initial state
        var unprojected: Tensor<T>? // [T·B, C] σ(o)·tanh(c), the projection's input
        var resets: StateResets?
        /// The state after step t (0-based) of stream b.
        public func state(afterStep t: Int, row b: Int) -> (cell: ArraySlice<T>, hidden: ArraySlice<T>) {
            let c = cells.columns, h = hiddens.columns, r = (t + 1) * batch + b
            return (cells.scalars[(r * c)..<((r + 1) * c)], hiddens.scalars[(r * h)..<((r + 1) * h)])
        }
    }

    /// Runs `body` with each row's factor on its previous cell — 0 for `resetRows` (a state reset before
    /// this step), 1 elsewhere — or with nil when no row resets.
    private static func withKeepFactors(_ resetRows: [Int], scratch: inout [T], _ body: (UnsafePointer<T>?) -> Void) {
        guard !resetRows.isEmpty else { return body(nil) }
        scratch.withUnsafeMutableBufferPointer { k in
            k.update(repeating: 1)
            for r in resetRows { k[r] = 0 }
            body(UnsafePointer(k.baseAddress!))
        }
    }

    /// Runs `body` with the projection's weights [C, P], or nil without a projection.
    private func projectionWeights(_ body: (UnsafePointer<T>?) -> Void) {
        guard let projection else { return body(nil) }
        projection.value.withUnsafeBufferPointer { body($0.baseAddress!) }
    }

    /// x [T·B, I] → h [T·B, H], the cache, and the state after the last step. `resets` zeroes the
    /// state entering chosen steps of chosen rows (a sentence that starts afresh inside the window).
    @_specialize(exported: true, where T == Float)
    public func forward(_ x: Tensor<T>, steps: Int, initial: LSTMState<T>,
                        resets: StateResets? = nil) -> (output: Tensor<T>, cache: Cache, final: LSTMState<T>) {
        let b = initial.cell.rows, c = cellSize, h = outputSize, g = 4 * c, i = inputSize
        precondition(x.rows == steps * b && x.columns == i, "LSTM input \(x.shape), expected [\(steps * b), \(i)]")
        precondition(initial.cell.shape == [b, c] && initial.hidden.shape == [b, h], "LSTM state shapes")
        precondition(resets.map { $0.steps == steps && $0.rows == b } ?? true, "LSTM resets shape")
        // The recurrent GEMM of a step with resets reads the previous outputs with those rows zeroed.
        var resetHidden = [T](repeating: 0, count: resets == nil ? 0 : b * h)
        // Every row starts as the bias; then all steps' input projections in one GEMM on top.
        var gates = Tensor<T>(uninitializedShape: [steps * b, g])
        gates.withUnsafeMutableBufferPointer { gp in
            bias.value.withUnsafeBufferPointer { bp in
                for r in 0..<(steps * b) { (gp.baseAddress! + r * g).update(from: bp.baseAddress!, count: g) }
            }
            x.withUnsafeBufferPointer { xp in
                kernel.value.withUnsafeBufferPointer { w in
                    BLAS.gemm(.none, .none, m: steps * b, n: g, k: i, alpha: 1, a: xp.baseAddress!, lda: i,
                              b: w.baseAddress!, ldb: g, beta: 1, c: gp.baseAddress!, ldc: g)
                }
            }
        }
        // Block 0 is the initial state; the steps write the rest.
        var cells = Tensor<T>(uninitializedShape: [(steps + 1) * b, c])
        var hiddens = Tensor<T>(uninitializedShape: [(steps + 1) * b, h])
        cells.scalars.replaceSubrange(0..<(b * c), with: initial.cell.scalars)
        hiddens.scalars.replaceSubrange(0..<(b * h), with: initial.hidden.scalars)
        var unprojected = Tensor<T>(uninitializedShape: projection == nil ? [0, c] : [steps * b, c])
        let projectionClip = self.projectionClip
        let cellClip = self.cellClip
        var keepScratch = [T](repeating: 1, count: b)
        unprojected.withUnsafeMutableBufferPointer { up in
        kernel.value.withUnsafeBufferPointer { w in
        projectionWeights { pp in
        StepKernels.run { split in
            gates.withUnsafeMutableBufferPointer { gp in
                cells.withUnsafeMutableBufferPointer { cp in
                    hiddens.withUnsafeMutableBufferPointer { hp in
                        let recurrent = w.baseAddress! + i * g
                        for t in 0..<steps {
                            let gt = gp.baseAddress! + t * b * g
                            let resetRows = resets?.rows(atStep: t) ?? []
                            let previous = UnsafePointer(hp.baseAddress! + t * b * h)
                            if resetRows.isEmpty {
                                StepKernels.gemm(split: split, .none, m: b, n: g, k: h, a: previous, lda: h,
                                                  b: recurrent, ldb: g, beta: 1, c: gt, ldc: g)
                            } else {
                                resetHidden.withUnsafeMutableBufferPointer { scratch in
                                    scratch.baseAddress!.update(from: previous, count: b * h)
                                    for r in resetRows { (scratch.baseAddress! + r * h).update(repeating: 0, count: h) }
                                    StepKernels.gemm(split: split, .none, m: b, n: g, k: h, a: scratch.baseAddress!, lda: h,
                                                      b: recurrent, ldb: g, beta: 1, c: gt, ldc: g)
                                }
                            }
                            let cPrev = cp.baseAddress! + t * b * c, cNext = cp.baseAddress! + (t + 1) * b * c
                            // Without projection σ(o)·tanh(c) is the output itself.
                            let m: UnsafeMutablePointer<T> = projection == nil
                                ? hp.baseAddress! + (t + 1) * b * h
                                : up.baseAddress! + t * b * c
                            // Gates in place (σ(i), tanh(j), σ(f + 1), σ(o)), the cells and σ(o)·tanh(c), one pass.
                            Self.withKeepFactors(resetRows, scratch: &keepScratch) { keep in
                                StepKernels.lstmForwardCells(split: split, gates: gt, cellPrev: cPrev, cellNext: cNext, m: m,
                                                             rows: b, cellSize: c, clip: cellClip, keep: keep)
                            }
                            if let pp {
                                let hNext = hp.baseAddress! + (t + 1) * b * h
                                StepKernels.gemm(split: split, .none, m: b, n: h, k: c, a: m, lda: c,
                                                  b: pp, ldb: h, beta: 0, c: hNext, ldc: h)
                                if let clip = projectionClip {
                                    for k in 0..<(b * h) { hNext[k] = min(max(hNext[k], -clip), clip) }
                                }
                            }
                        }
                    }
                }
            }
        }
        }
        }
        }
        let output = Tensor(shape: [steps * b, h], scalars: Array(hiddens.scalars[(b * h)...]))
        let final = LSTMState(cell: Tensor(shape: [b, c], scalars: Array(cells.scalars[(steps * b * c)...])),
                              hidden: Tensor(shape: [b, h], scalars: Array(hiddens.scalars[(steps * b * h)...])))
        return (output, Cache(steps: steps, batch: b, input: x, gates: gates, cells: cells, hiddens: hiddens,
                              unprojected: projection == nil ? nil : unprojected, resets: resets), final)
    }

    /// dOutput [T·B, H] → dInput [T·B, I]; accumulates the parameter gradients. The initial state is a
    /// constant (truncated BPTT).
    @_specialize(exported: true, where T == Float)
    public func backward(_ dOutput: Tensor<T>, cache: Cache) -> Tensor<T> {
        let steps = cache.steps, b = cache.batch, c = cellSize, h = outputSize, g = 4 * c, i = inputSize
        precondition(dOutput.shape == [steps * b, h], "LSTM dOutput \(dOutput.shape)")
        var dGates = Tensor<T>(uninitializedShape: [steps * b, g])   // every step writes its rows
        var dHidden = dOutput                      // becomes d(pre-clip h) per step
        // Per-step scratch, allocated once: d(σ(o)·tanh(c)) and the gradients flowing to the previous step.
        // Raw pointers, so the inner loops carry no exclusivity or bounds checks.
        let scratch = UnsafeMutablePointer<T>.allocate(capacity: 2 * b * c + b * h)
        scratch.initialize(repeating: 0, count: 2 * b * c + b * h)
        defer { scratch.deallocate() }
        let dUnprojected = scratch, dcNext = scratch + b * c, dhNext = scratch + 2 * b * c
        let cellClip = self.cellClip, projectionClip = self.projectionClip
        var keepScratch = [T](repeating: 1, count: b)
        kernel.value.withUnsafeBufferPointer { w in
        projectionWeights { pp in
        StepKernels.run { split in
            dGates.withUnsafeMutableBufferPointer { dg in
                dHidden.withUnsafeMutableBufferPointer { dh in
                    cache.gates.withUnsafeBufferPointer { gp in
                        cache.cells.withUnsafeBufferPointer { cp in
                            cache.hiddens.withUnsafeBufferPointer { hp in
                                for t in stride(from: steps - 1, through: 0, by: -1) {
                                    let dht = dh.baseAddress! + t * b * h
                                    let hNext = hp.baseAddress! + (t + 1) * b * h
                                    for k in 0..<(b * h) {
                                        var d = dht[k] + dhNext[k]
                                        if let clip = projectionClip, abs(hNext[k]) >= clip { d = 0 }
                                        dht[k] = d
                                    }
                                    if let pp {
                                        StepKernels.gemm(split: split, .transposed, m: b, n: c, k: h, a: dht, lda: h,
                                                          b: pp, ldb: h, beta: 0, c: dUnprojected, ldc: c)
                                    } else {
                                        for k in 0..<(b * c) { dUnprojected[k] = dht[k] }
                                    }
                                    let gt = gp.baseAddress! + t * b * g, dgt = dg.baseAddress! + t * b * g
                                    let cPrev = cp.baseAddress! + t * b * c, cNow = cp.baseAddress! + (t + 1) * b * c
                                    let resetRows = cache.resets?.rows(atStep: t) ?? []
                                    // A reset row's previous state is the constant zero: no gradient flows into it.
                                    Self.withKeepFactors(resetRows, scratch: &keepScratch) { keep in
                                        StepKernels.lstmBackwardCells(split: split, gates: gt, cellPrev: cPrev, cellNow: cNow,
                                                                      dm: dUnprojected, dc: dcNext, dGates: dgt, rows: b,
                                                                      cellSize: c, clip: cellClip, keep: keep)
                                    }
                                    StepKernels.gemm(split: split, .transposed, m: b, n: h, k: g, a: dgt, lda: g,
                                                      b: w.baseAddress! + i * g, ldb: g, beta: 0, c: dhNext, ldc: h)
                                    for r in resetRows { (dhNext + r * h).update(repeating: 0, count: h) }
                                }
                            }
                        }
                    }
                }
            }
        }
        }
        }
        // Weight gradients over all steps at once.
        if kernel.isTrainable {
            // The recurrent weights saw zeros, not the stored outputs, in the rows of reset steps.
            var previousHiddens = cache.hiddens
            if let resets = cache.resets, !resets.isEmpty {
                previousHiddens.withUnsafeMutableBufferPointer { hp in
                    for t in 0..<steps {
                        for r in resets.rows(atStep: t) { (hp.baseAddress! + (t * b + r) * h).update(repeating: 0, count: h) }
                    }
                }
            }
            kernel.grad.withUnsafeMutableBufferPointer { gw in
                dGates.withUnsafeBufferPointer { dg in
                    cache.input.withUnsafeBufferPointer { xp in
                        BLAS.gemm(.transposed, .none, m: i, n: g, k: steps * b, alpha: 1, a: xp.baseAddress!, lda: i,
                                  b: dg.baseAddress!, ldb: g, beta: 1, c: gw.baseAddress!, ldc: g)
                    }
                    previousHiddens.withUnsafeBufferPointer { hp in
                        BLAS.gemm(.transposed, .none, m: h, n: g, k: steps * b, alpha: 1, a: hp.baseAddress!, lda: h,
                                  b: dg.baseAddress!, ldb: g, beta: 1, c: gw.baseAddress! + i * g, ldc: g)
                    }
                }
            }
        }
        if bias.isTrainable {
            dGates.withUnsafeBufferPointer { dg in
                bias.grad.withUnsafeMutableBufferPointer { Kernels.accumulateColumnSums(of: dg, columns: g, into: $0) }
            }
        }
        if let projection, projection.isTrainable, let unprojected = cache.unprojected {
            BLAS.matmul(unprojected, dHidden, into: &projection.grad, transposeA: .transposed, beta: 1)
        }
        var dInput = Tensor<T>(uninitializedShape: [steps * b, i])
        dGates.withUnsafeBufferPointer { dg in
            kernel.value.withUnsafeBufferPointer { w in
                dInput.withUnsafeMutableBufferPointer { dx in
                    BLAS.gemm(.none, .transposed, m: steps * b, n: i, k: g, alpha: 1, a: dg.baseAddress!, lda: g,
                              b: w.baseAddress!, ldb: g, beta: 0, c: dx.baseAddress!, ldc: i)
                }
            }
        }
        return dInput
    }
}

/// Which rows start from a zero state at which steps of a window: row `r` of step `t` (a sentence
/// beginning there whose state the trainer chose to reset). Sparse, since resets are rare.
public struct StateResets: Sendable, Equatable {
    public let steps: Int
    public let rows: Int
    private var byStep: [[Int]]

    public init(steps: Int, rows: Int) {
        self.steps = steps
        self.rows = rows
        byStep = Array(repeating: [], count: steps)
    }

    public mutating func reset(step t: Int, row r: Int) {
        precondition(t >= 0 && t < steps && r >= 0 && r < rows, "reset (\(t), \(r)) outside \(steps)×\(rows)")
        if !byStep[t].contains(r) { byStep[t].append(r) }
    }

    public func rows(atStep t: Int) -> [Int] { byStep[t] }
    public var isEmpty: Bool { byStep.allSatisfy(\.isEmpty) }

    /// The resets of rows `range`, renumbered from 0 (a data-parallel rank's share).
    public func selecting(rows range: Range<Int>) -> StateResets {
        var part = StateResets(steps: steps, rows: range.count)
        for t in 0..<steps {
            for r in byStep[t] where range.contains(r) { part.reset(step: t, row: r - range.lowerBound) }
        }
        return part
    }
}
