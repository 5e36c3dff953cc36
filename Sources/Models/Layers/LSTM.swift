import Foundation
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
    /// oneDNN's packed per-step products (float32 layers, when ``StepKernels/productBackend`` is oneDNN), by
    /// pass, batch size and split; repacked at the start of a pass when the weights' versions moved.
    private var packedProducts: [PackedKey: PackedStepProducts] = [:]
    /// The keys of ``packedProducts``, least recently used first. A server's batches come in many sizes; each size
    /// holds its own packed copy of the weights (2.5 MB per layer for the shipped model), so only the last
    /// ``maxPackedShapes`` are kept.
    private var packedUseOrder: [PackedKey] = []
    public static var maxPackedShapes: Int { 8 }
    /// How many batch sizes have their weights packed now.
    public var packedShapeCount: Int { packedProducts.count }
    /// This layer's per-step product backend; nil follows ``StepKernels/productBackend``.
    public var stepProducts: StepKernels.ProductBackend? = nil

    /// The arithmetic of every product by this layer's weights: the per-step products and the input projection
    /// over the window (fp32: the process's step-product backend and BLAS; bf16: oneDNN in bfloat16).
    public func setComputePrecision(_ precision: ComputePrecision) {
        stepProducts = precision.stepProducts
        for parameter in parameters { parameter.packedPrecision = precision.packedProducts }
    }

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

    // MARK: - Workspaces

    /// One window's buffers as raw pointers named after the math, valid only inside the call that made them:
    /// every tensor is pinned once there, so the per-step code below reads like the equations.
    struct Workspace {
        let steps: Int, rows: Int, cellSize: Int, outputSize: Int
        /// [T·B, 4C]: forward, the gates' pre-activations then activations σ(i), tanh(j), σ(f + 1), σ(o);
        /// backward, the activations (read only).
        let gates: UnsafeMutablePointer<T>
        /// [(T+1)·B, C] and [(T+1)·B, H]: block 0 the initial state, block t + 1 the state after step t.
        let cells: UnsafeMutablePointer<T>
        let hiddens: UnsafeMutablePointer<T>
        /// [T·B, C] σ(o)·tanh(c), the projection's input (nil without a projection: it is the output itself).
        let unprojected: UnsafeMutablePointer<T>?
        /// The kernel's rows that multiply h [H, 4C], and the projection [C, H].
        let recurrentKernel: UnsafePointer<T>
        let projection: UnsafePointer<T>?
        /// Backward only: dL/d(gates) [T·B, 4C] and dL/d(output) [T·B, H], which becomes dL/d(unclipped h) step by step.
        let dGates: UnsafeMutablePointer<T>?
        let dHiddens: UnsafeMutablePointer<T>?
        /// Per-step scratch: a row's factor on its previous state (0 after a reset) [B], the previous outputs with
        /// reset rows zeroed [B, H], and backward dL/d(σ(o)·tanh(c)) [B, C], dL/dc and dL/dh into the previous step.
        let keep: UnsafeMutablePointer<T>
        let maskedHidden: UnsafeMutablePointer<T>
        let dUnprojected: UnsafeMutablePointer<T>
        let dCellNext: UnsafeMutablePointer<T>
        let dHiddenNext: UnsafeMutablePointer<T>
        /// The pass's per-step products with the weights packed once (nil: each step calls OpenBLAS).
        let packed: PackedStepProducts?

        func gates(step t: Int) -> UnsafeMutablePointer<T> { gates + t * rows * 4 * cellSize }
        func cell(after t: Int) -> UnsafeMutablePointer<T> { cells + (t + 1) * rows * cellSize }
        func hidden(after t: Int) -> UnsafeMutablePointer<T> { hiddens + (t + 1) * rows * outputSize }

        /// Each row's factor on its previous cell — 0 for `resetRows`, 1 elsewhere — or nil when no row resets.
        func keepFactors(_ resetRows: [Int]) -> UnsafePointer<T>? {
            guard !resetRows.isEmpty else { return nil }
            keep.update(repeating: 1, count: rows)
            for r in resetRows { keep[r] = 0 }
            return UnsafePointer(keep)
        }
    }

    /// The forward pass's workspace over the tensors it writes, for `body` (with ``StepKernels``' split flag).
    private func withForwardWorkspace<R>(steps: Int, rows b: Int, gates: inout Tensor<T>, cells: inout Tensor<T>, hiddens: inout Tensor<T>,
                                         unprojected: inout Tensor<T>?, _ body: (Workspace, Bool) -> R) -> R {
        gates.withUnsafeMutableBufferPointer { gp in
            cells.withUnsafeMutableBufferPointer { cp in
                hiddens.withUnsafeMutableBufferPointer { hp in
                    Self.pinned(&unprojected) { up in
                        withWorkspace(backward: false, steps: steps, rows: b, gates: gp.baseAddress!, cells: cp.baseAddress!, hiddens: hp.baseAddress!,
                                      unprojected: up, dGates: nil, dHiddens: nil, body)
                    }
                }
            }
        }
    }

    /// The backward pass's workspace: the forward's tensors from `cache`, which it only reads, and the gradients it writes.
    private func withBackwardWorkspace<R>(_ cache: Cache, dGates: inout Tensor<T>, dHiddens: inout Tensor<T>,
                                          _ body: (Workspace, Bool) -> R) -> R {
        // Read only: the mutable pointers of the workspace type are never written through in the backward pass.
        cache.gates.withUnsafeBufferPointer { gp in
            cache.cells.withUnsafeBufferPointer { cp in
                cache.hiddens.withUnsafeBufferPointer { hp in
                    dGates.withUnsafeMutableBufferPointer { dg in
                        dHiddens.withUnsafeMutableBufferPointer { dh in
                            withWorkspace(backward: true, steps: cache.steps, rows: cache.batch, gates: UnsafeMutablePointer(mutating: gp.baseAddress!),
                                          cells: UnsafeMutablePointer(mutating: cp.baseAddress!),
                                          hiddens: UnsafeMutablePointer(mutating: hp.baseAddress!), unprojected: nil,
                                          dGates: dg.baseAddress!, dHiddens: dh.baseAddress!, body)
                        }
                    }
                }
            }
        }
    }

    /// Adds the weights and per-step scratch to the pinned buffers and runs `body` under ``StepKernels/run(_:)``.
    private func withWorkspace<R>(backward: Bool, steps: Int, rows b: Int, gates: UnsafeMutablePointer<T>, cells: UnsafeMutablePointer<T>,
                                  hiddens: UnsafeMutablePointer<T>, unprojected: UnsafeMutablePointer<T>?,
                                  dGates: UnsafeMutablePointer<T>?, dHiddens: UnsafeMutablePointer<T>?,
                                  _ body: (Workspace, Bool) -> R) -> R {
        let c = cellSize, h = outputSize, count = b + b * h + 2 * b * c + b * h
        let scratch = UnsafeMutablePointer<T>.allocate(capacity: count)
        scratch.initialize(repeating: 0, count: count)
        defer { scratch.deallocate() }
        return kernel.value.withUnsafeBufferPointer { w in
            projectionWeights { pp in
                StepKernels.run { split in
                    let recurrent = w.baseAddress! + inputSize * 4 * c
                    let packed = packedStepProducts(backward: backward, rows: b, split: split, recurrent: recurrent, projection: pp)
                    return body(Workspace(steps: steps, rows: b, cellSize: c, outputSize: h, gates: gates, cells: cells, hiddens: hiddens,
                                          unprojected: unprojected, recurrentKernel: recurrent, projection: pp,
                                          dGates: dGates, dHiddens: dHiddens, keep: scratch, maskedHidden: scratch + b,
                                          dUnprojected: scratch + b + b * h, dCellNext: scratch + b + b * h + b * c,
                                          dHiddenNext: scratch + b + b * h + 2 * b * c, packed: packed),
                                split)
                }
            }
        }
    }

    /// The pass's products packed by oneDNN, built on first use for this batch size and repacked when the weights
    /// changed: forward h·W_h (accumulated onto the gates) and m·P; backward dh·Pᵀ and dgates·W_hᵀ. Nil for
    /// Double layers and with the OpenBLAS backend.
    private func packedStepProducts(backward: Bool, rows b: Int, split: Bool, recurrent: UnsafePointer<T>,
                                    projection: UnsafePointer<T>?) -> PackedStepProducts? {
        guard T.self == Float.self, case .oneDNN(let precision) = stepProducts ?? StepKernels.productBackend else { return nil }
        let c = cellSize, h = outputSize, g = 4 * c
        let w = Kernels.float(recurrent), p = projection.map { Kernels.float($0) }
        let key = PackedKey(backward: backward, rows: b, split: split)
        let versions = [kernel.version, self.projection?.version ?? 0]
        if let products = packedProducts[key] {
            if packedUseOrder.last != key, let at = packedUseOrder.firstIndex(of: key) {
                packedUseOrder.append(packedUseOrder.remove(at: at))
            }
            // Repacked only after the weights changed: a frozen model (embed) packs once.
            if products.versions != versions {
                products.recurrent.repack(w)
                if let p { products.projection?.repack(p) }
                products.versions = versions
            }
            return products
        }
        // Creation fails only for a precision the CPU lacks (the commands refuse it first): then OpenBLAS, said once.
        do {
            let products = try PackedStepProducts(
                versions: versions,
                recurrent: StepProduct(split: split, transposedB: backward, m: b, n: backward ? h : g, k: backward ? g : h, b: w, ldb: g,
                                       accumulate: !backward, precision: precision),
                projection: p.map { p in
                    try StepProduct(split: split, transposedB: backward, m: b, n: backward ? c : h, k: backward ? h : c, b: p, ldb: h,
                                    accumulate: false, precision: precision)
                })
            if packedUseOrder.count >= Self.maxPackedShapes { packedProducts[packedUseOrder.removeFirst()] = nil }
            packedProducts[key] = products
            packedUseOrder.append(key)
            return products
        } catch {
            stepProducts = .openBLAS
            FileHandle.standardError.write(Data("warning: \(error); this layer uses OpenBLAS\n".utf8))
            return nil
        }
    }

    private static func pinned<U>(_ tensor: inout Tensor<T>?, _ body: (UnsafeMutablePointer<T>?) -> U) -> U {
        guard tensor != nil else { return body(nil) }
        return tensor!.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
    }

    /// Runs `body` with the projection's weights [C, P], or nil without a projection.
    private func projectionWeights<R>(_ body: (UnsafePointer<T>?) -> R) -> R {
        guard let projection else { return body(nil) }
        return projection.value.withUnsafeBufferPointer { body($0.baseAddress!) }
    }

    // MARK: - Forward

    /// x [T·B, I] → h [T·B, H], the cache, and the state after the last step. `resets` zeroes the
    /// state entering chosen steps of chosen rows (a sentence that starts afresh inside the window).
    @_specialize(exported: true, where T == Float)
    public func forward(_ x: Tensor<T>, steps: Int, initial: LSTMState<T>,
                        resets: StateResets? = nil) -> (output: Tensor<T>, cache: Cache, final: LSTMState<T>) {
        let b = initial.cell.rows, c = cellSize, h = outputSize, g = 4 * c, i = inputSize
        precondition(x.rows == steps * b && x.columns == i, "LSTM input \(x.shape), expected [\(steps * b), \(i)]")
        precondition(initial.cell.shape == [b, c] && initial.hidden.shape == [b, h], "LSTM state shapes")
        precondition(resets.map { $0.steps == steps && $0.rows == b } ?? true, "LSTM resets shape")
        // Every row starts as the bias; then all steps' input projections x·W_x in one GEMM on top.
        var gates = Tensor<T>(uninitializedShape: [steps * b, g])
        gates.withUnsafeMutableBufferPointer { gp in
            bias.value.withUnsafeBufferPointer { bp in
                for r in 0..<(steps * b) { (gp.baseAddress! + r * g).update(from: bp.baseAddress!, count: g) }
            }
            x.withUnsafeBufferPointer { xp in
                kernel.multiply(xp.baseAddress!, rows: steps * b, depth: i, accumulate: true, into: gp.baseAddress!)
            }
        }
        var cells = Tensor<T>(uninitializedShape: [(steps + 1) * b, c])
        var hiddens = Tensor<T>(uninitializedShape: [(steps + 1) * b, h])
        cells.scalars.replaceSubrange(0..<(b * c), with: initial.cell.scalars)
        hiddens.scalars.replaceSubrange(0..<(b * h), with: initial.hidden.scalars)
        var unprojected: Tensor<T>? = projection == nil ? nil : Tensor<T>(uninitializedShape: [steps * b, c])
        withForwardWorkspace(steps: steps, rows: b, gates: &gates, cells: &cells, hiddens: &hiddens, unprojected: &unprojected) { w, split in
            for t in 0..<steps { forwardStep(t, w, resetRows: resets?.rows(atStep: t) ?? [], split: split) }
        }
        let output = Tensor(shape: [steps * b, h], scalars: Array(hiddens.scalars[(b * h)...]))
        let final = LSTMState(cell: Tensor(shape: [b, c], scalars: Array(cells.scalars[(steps * b * c)...])),
                              hidden: Tensor(shape: [b, h], scalars: Array(hiddens.scalars[(steps * b * h)...])))
        return (output, Cache(steps: steps, batch: b, input: x, gates: gates, cells: cells, hiddens: hiddens,
                              unprojected: unprojected, resets: resets), final)
    }

    /// Step t: gates_t += h_{t−1}·W_h; σ(i), tanh(j), σ(f + 1), σ(o); c_t = clip(σ(f + 1)·c_{t−1} + σ(i)·tanh(j));
    /// m_t = σ(o)·tanh(c_t); h_t = clip(m_t·P) (or m_t without a projection). Reset rows read a zero state.
    @inline(__always)
    private func forwardStep(_ t: Int, _ w: Workspace, resetRows: [Int], split: Bool) {
        let b = w.rows, c = w.cellSize, h = w.outputSize, g = 4 * c
        var previous = UnsafePointer(w.hiddens + t * b * h)
        if !resetRows.isEmpty {
            w.maskedHidden.update(from: previous, count: b * h)
            for r in resetRows { (w.maskedHidden + r * h).update(repeating: 0, count: h) }
            previous = UnsafePointer(w.maskedHidden)
        }
        if let packed = w.packed {
            packed.recurrent.run(Kernels.float(previous), into: Kernels.float(w.gates(step: t)))
        } else {
            StepKernels.gemm(split: split, .none, m: b, n: g, k: h, a: previous, lda: h, b: w.recurrentKernel, ldb: g,
                             beta: 1, c: w.gates(step: t), ldc: g)
        }
        let m = w.unprojected.map { $0 + t * b * c } ?? w.hidden(after: t)
        StepKernels.lstmForwardCells(split: split, gates: w.gates(step: t), cellPrev: w.cells + t * b * c, cellNext: w.cell(after: t),
                                     m: m, rows: b, cellSize: c, clip: cellClip, keep: w.keepFactors(resetRows))
        if let p = w.projection {
            let hNext = w.hidden(after: t)
            if let packed = w.packed?.projection {
                packed.run(Kernels.float(UnsafePointer(m)), into: Kernels.float(hNext))
            } else {
                StepKernels.gemm(split: split, .none, m: b, n: h, k: c, a: m, lda: c, b: p, ldb: h, beta: 0, c: hNext, ldc: h)
            }
            if let clip = projectionClip {
                for k in 0..<(b * h) { hNext[k] = min(max(hNext[k], -clip), clip) }
            }
        }
    }

    // MARK: - Backward

    /// dOutput [T·B, H] → dInput [T·B, I]; accumulates the parameter gradients. The initial state is a
    /// constant (truncated BPTT).
    @_specialize(exported: true, where T == Float)
    public func backward(_ dOutput: Tensor<T>, cache: Cache) -> Tensor<T> {
        let steps = cache.steps, b = cache.batch, c = cellSize, h = outputSize, g = 4 * c, i = inputSize
        precondition(dOutput.shape == [steps * b, h], "LSTM dOutput \(dOutput.shape)")
        var dGatesAll = Tensor<T>(uninitializedShape: [steps * b, g])   // every step writes its rows
        var dHiddenAll = dOutput                                           // becomes dL/d(unclipped h) step by step
        withBackwardWorkspace(cache, dGates: &dGatesAll, dHiddens: &dHiddenAll) { w, split in
            for t in stride(from: steps - 1, through: 0, by: -1) {
                backwardStep(t, w, resetRows: cache.resets?.rows(atStep: t) ?? [], split: split)
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
                dGatesAll.withUnsafeBufferPointer { dg in
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
            dGatesAll.withUnsafeBufferPointer { dg in
                bias.grad.withUnsafeMutableBufferPointer { Kernels.accumulateColumnSums(of: dg, columns: g, into: $0) }
            }
        }
        if let projection, projection.isTrainable, let unprojected = cache.unprojected {
            BLAS.matmul(unprojected, dHiddenAll, into: &projection.grad, transposeA: .transposed, beta: 1)
        }
        var dInput = Tensor<T>(uninitializedShape: [steps * b, i])
        dGatesAll.withUnsafeBufferPointer { dg in
            kernel.value.withUnsafeBufferPointer { w in
                dInput.withUnsafeMutableBufferPointer { dx in
                    BLAS.gemm(.none, .transposed, m: steps * b, n: i, k: g, alpha: 1, a: dg.baseAddress!, lda: g,
                              b: w.baseAddress!, ldb: g, beta: 0, c: dx.baseAddress!, ldc: i)
                }
            }
        }
        return dInput
    }

    /// Step t backward: dh_t (from above and from step t + 1, zero where h_t was clipped) → dm_t = dh_t·Pᵀ →
    /// the cells' backward (dL/d gates_t, dL/dc_{t−1}) → dh_{t−1} = dgates_t·W_hᵀ (zero for reset rows, whose
    /// previous state was the constant zero).
    @inline(__always)
    private func backwardStep(_ t: Int, _ w: Workspace, resetRows: [Int], split: Bool) {
        let b = w.rows, c = w.cellSize, h = w.outputSize, g = 4 * c
        let dh = w.dHiddens! + t * b * h, hNow = w.hidden(after: t)
        for k in 0..<(b * h) {
            var d = dh[k] + w.dHiddenNext[k]
            if let clip = projectionClip, abs(hNow[k]) >= clip { d = 0 }
            dh[k] = d
        }
        if let p = w.projection {
            if let packed = w.packed?.projection {
                packed.run(Kernels.float(UnsafePointer(dh)), into: Kernels.float(w.dUnprojected))
            } else {
                StepKernels.gemm(split: split, .transposed, m: b, n: c, k: h, a: dh, lda: h, b: p, ldb: h, beta: 0, c: w.dUnprojected, ldc: c)
            }
        } else {
            w.dUnprojected.update(from: dh, count: b * c)
        }
        let dGates = w.dGates! + t * b * g
        StepKernels.lstmBackwardCells(split: split, gates: w.gates(step: t), cellPrev: w.cells + t * b * c, cellNow: w.cell(after: t),
                                      dm: w.dUnprojected, dc: w.dCellNext, dGates: dGates, rows: b, cellSize: c, clip: cellClip,
                                      keep: w.keepFactors(resetRows))
        if let packed = w.packed {
            packed.recurrent.run(Kernels.float(UnsafePointer(dGates)), into: Kernels.float(w.dHiddenNext))
        } else {
            StepKernels.gemm(split: split, .transposed, m: b, n: h, k: g, a: dGates, lda: g, b: w.recurrentKernel, ldb: g,
                             beta: 0, c: w.dHiddenNext, ldc: h)
        }
        for r in resetRows { (w.dHiddenNext + r * h).update(repeating: 0, count: h) }
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

/// Which pass, batch size and split a set of packed products serves.
struct PackedKey: Hashable {
    let backward: Bool
    let rows: Int
    let split: Bool
}

/// One pass's per-step products packed by oneDNN: the recurrent kernel's (W_h forward, W_hᵀ backward) and the
/// projection's (P forward, Pᵀ backward), if any, and the parameter versions they were packed from.
final class PackedStepProducts {
    var versions: [Int]
    let recurrent: StepProduct
    let projection: StepProduct?

    init(versions: [Int], recurrent: StepProduct, projection: StepProduct?) {
        (self.versions, self.recurrent, self.projection) = (versions, recurrent, projection)
    }
}
