/// A named, trainable tensor and its gradient.
///
/// A reference type: layers hold their parameters, optimizers and checkpoints walk the same
/// objects by name. Backward passes *accumulate* into ``grad``; ``zeroGrad()`` is a separate step.
///
/// Row-sparse gradients: an embedding table's backward touches only the rows it looked up, so
/// such parameters record those rows (``touchedRows``). Zeroing then costs only those rows, and
/// optimizers whose update is exactly zero for a zero gradient (SGD without momentum or decay,
/// Adagrad) update only those rows.
public final class Parameter<T: Scalar>: @unchecked Sendable {
    public let name: String
    public var value: Tensor<T> { didSet { version &+= 1 } }
    /// Changes with every write to ``value`` (an optimizer step, a load): consumers that keep a derived copy of
    /// the weights (packed layouts) rebuild it only when this moves.
    public private(set) var version = 0
    public var grad: Tensor<T>
    /// Frozen parameters keep their gradient at zero and are skipped by optimizers.
    public var isTrainable: Bool
    /// Multiplies the optimizer's learning rate for this parameter alone (1 by default): discriminative
    /// fine-tuning, where a pretrained encoder trains at another rate than the new head (PyTorch's parameter groups).
    public var learningRateScale: Float = 1
    /// Whether backward records the rows it writes (see ``touchedRows``).
    public let isRowSparse: Bool
    /// Rows of ``grad`` that may be non-zero since the last ``zeroGrad()``, in first-touch order.
    /// Meaningful only when ``isRowSparse``.
    public private(set) var touchedRows: [Int] = []
    private var rowTouched: [Bool] = []
    /// How ``multiply(_:rows:depth:firstRow:accumulate:into:)`` runs: nil, BLAS in `T`; else (float32 parameters)
    /// oneDNN with the weights packed, in that precision (`embed --precision bf16`, a frozen encoder's, mixed-precision
    /// pretraining's). Packed on first use and again whenever ``value`` has changed since; one thread at a time
    /// multiplies by a given parameter.
    public var packedPrecision: PackedMatmul.Precision? = nil { didSet { packedProducts = [:] } }
    /// Per first row of the block of rows multiplied: its packed product and the ``version`` it was packed at.
    private var packedProducts: [Int: (version: Int, product: PackedWeightProduct)] = [:]

    public init(name: String, value: Tensor<T>, trainable: Bool = true, rowSparse: Bool = false) {
        self.name = name
        self.value = value
        self.grad = Tensor(shape: value.shape)
        self.isTrainable = trainable
        self.isRowSparse = rowSparse
    }

    public var shape: [Int] { value.shape }
    public var count: Int { value.count }

    /// Records that backward wrote into `row` of ``grad``.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func markRowTouched(_ row: Int) {
        if rowTouched.isEmpty { rowTouched = Array(repeating: false, count: value.rows) }
        if !rowTouched[row] {
            rowTouched[row] = true
            touchedRows.append(row)
        }
    }

    /// Clears the gradient: all of it, or only the touched rows of a row-sparse parameter.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func zeroGrad() {
        guard isRowSparse else {
            grad.zero()
            return
        }
        let columns = grad.columns
        grad.withUnsafeMutableBufferPointer { g in
            for r in touchedRows {
                UnsafeMutableBufferPointer(rebasing: g[(r * columns)..<((r + 1) * columns)]).update(repeating: 0)
                rowTouched[r] = false
            }
        }
        touchedRows.removeAll(keepingCapacity: true)
    }
}

extension Parameter {
    /// c [m × n] (=, or += with `accumulate`) a [m × depth] · rows `firstRow..<firstRow + depth` of this [R, n]
    /// parameter (all of it by default); a and c dense. The one product by a weight that `Linear`, the char-CNN and the
    /// LSTMs' input projections share: BLAS, or oneDNN's packed product where ``packedPrecision`` asks for it.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func multiply(_ a: UnsafePointer<T>, rows m: Int, depth k: Int, firstRow: Int = 0, accumulate: Bool = false,
                         into c: UnsafeMutablePointer<T>) {
        let n = value.columns
        precondition(firstRow >= 0 && firstRow + k <= value.rows, "\(name): rows \(firstRow)..<\(firstRow + k) of \(shape)")
        guard m > 0 else { return }
        value.withUnsafeBufferPointer { w in
            let block = w.baseAddress! + firstRow * n
            guard let precision = packedPrecision, T.self == Float.self else {
                return BLAS.gemm(.none, .none, m: m, n: n, k: k, alpha: 1, a: a, lda: k, b: block, ldb: n,
                                 beta: accumulate ? 1 : 0, c: c, ldc: n)
            }
            let key = firstRow
            let product: PackedWeightProduct
            if let known = packedProducts[key], known.product.k == k, known.product.accumulate == accumulate {
                if known.version != version { known.product.repack(weights: Kernels.float(block)) }
                product = known.product
            } else {
                do {
                    product = try PackedWeightProduct(k: k, n: n, weights: Kernels.float(block), ldb: n, accumulate: accumulate,
                                                      precision: precision)
                } catch {
                    preconditionFailure("\(name): \(error) (check PackedMatmul.bfloat16Available before asking for bfloat16)")
                }
            }
            packedProducts[key] = (version, product)
            product.run(Kernels.float(a), rows: m, into: Kernels.float(c))
        }
    }
}

extension Array {
    /// Checks that parameter names are unique (checkpoints and optimizer state key on them).
    public func assertUniqueParameterNames<T>() where Element == Parameter<T> {
        var seen = Set<String>()
        for p in self {
            precondition(seen.insert(p.name).inserted, "duplicate parameter name \(p.name)")
        }
    }
}
