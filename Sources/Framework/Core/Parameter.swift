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

extension Array {
    /// Checks that parameter names are unique (checkpoints and optimizer state key on them).
    public func assertUniqueParameterNames<T>() where Element == Parameter<T> {
        var seen = Set<String>()
        for p in self {
            precondition(seen.insert(p.name).inserted, "duplicate parameter name \(p.name)")
        }
    }
}
