/// A dense, contiguous, row-major array of scalars with a shape.
///
/// The hot generic entry points of Framework carry `@_specialize(exported: true, …)` for Float and
/// Double: without it, generic code called from another module runs through witness tables, an
/// order of magnitude slower in elementwise loops.
///
/// Value semantics (copy-on-write through the underlying `Array`). Hot loops reach the storage
/// through ``withUnsafeBufferPointer(_:)`` / ``withUnsafeMutableBufferPointer(_:)`` and never
/// allocate per element.
public struct Tensor<T: Scalar>: Equatable, Sendable {
    public private(set) var shape: [Int]
    public var scalars: [T]

    /// A tensor of `shape` filled with `value`.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public init(shape: [Int], repeating value: T = 0) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in shape \(shape)")
        self.shape = shape
        self.scalars = Array(repeating: value, count: shape.reduce(1, *))
    }

    /// A tensor whose scalars are unspecified: for buffers a GEMM with beta = 0 overwrites entirely.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public init(uninitializedShape shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in shape \(shape)")
        let count = shape.reduce(1, *)
        self.shape = shape
        self.scalars = Array(unsafeUninitializedCapacity: count) { _, initialized in initialized = count }
    }

    /// A tensor of `shape` over `scalars` (row-major); the counts must agree.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public init(shape: [Int], scalars: [T]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in shape \(shape)")
        precondition(shape.reduce(1, *) == scalars.count,
                     "shape \(shape) needs \(shape.reduce(1, *)) scalars, got \(scalars.count)")
        self.shape = shape
        self.scalars = scalars
    }

    @inlinable public var count: Int { scalars.count }
    @inlinable public var rank: Int { shape.count }

    /// Rows of the tensor seen as a matrix: the product of all but the last dimension.
    public var rows: Int { shape.count <= 1 ? 1 : shape.dropLast().reduce(1, *) }
    /// Columns of the tensor seen as a matrix: its last dimension.
    public var columns: Int { shape.last ?? 1 }

    /// The same scalars under another shape of equal element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        Tensor(shape: newShape, scalars: scalars)
    }

    /// Changes the shape in place (same element count).
    public mutating func reshape(_ newShape: [Int]) {
        precondition(newShape.reduce(1, *) == scalars.count, "cannot reshape \(shape) to \(newShape)")
        shape = newShape
    }

    /// Sets every scalar to zero, keeping the storage.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public mutating func zero() {
        scalars.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
    }

    /// Element conversion to another precision (Float ↔ Double).
    public func converted<U: Scalar>(to: U.Type = U.self) -> Tensor<U> {
        Tensor<U>(shape: shape, scalars: scalars.map { U($0) })
    }

    @inlinable
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<T>) throws -> R) rethrows -> R {
        try scalars.withUnsafeBufferPointer(body)
    }

    @inlinable
    public mutating func withUnsafeMutableBufferPointer<R>(
        _ body: (inout UnsafeMutableBufferPointer<T>) throws -> R
    ) rethrows -> R {
        try scalars.withUnsafeMutableBufferPointer(body)
    }

    /// Element at a multi-index (slow path: tests and tools, not kernels).
    public subscript(index: Int...) -> T {
        get { scalars[flatIndex(index)] }
        set { scalars[flatIndex(index)] = newValue }
    }

    private func flatIndex(_ index: [Int]) -> Int {
        precondition(index.count == shape.count, "index \(index) for shape \(shape)")
        var flat = 0
        for (i, dim) in zip(index, shape) {
            precondition(i >= 0 && i < dim, "index \(index) out of range for shape \(shape)")
            flat = flat * dim + i
        }
        return flat
    }

    /// Row `r` of the matrix view as a new array.
    public func row(_ r: Int) -> [T] {
        let c = columns
        return Array(scalars[(r * c)..<((r + 1) * c)])
    }

    /// Rows `ids` of the matrix view, in that order: [ids.count, columns] (a row may repeat).
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func gatheringRows(_ ids: [Int32]) -> Tensor {
        let c = columns, available = rows
        var out = Tensor(uninitializedShape: [ids.count, c])
        scalars.withUnsafeBufferPointer { source in
            out.scalars.withUnsafeMutableBufferPointer { target in
                for (n, id) in ids.enumerated() {
                    let row = Int(id)
                    precondition(row >= 0 && row < available, "row \(row) outside 0..<\(available)")
                    (target.baseAddress! + n * c).update(from: source.baseAddress! + row * c, count: c)
                }
            }
        }
        return out
    }

    /// Adds row n of `source` into row `ids[n]` of this matrix: the gradient of ``gatheringRows(_:)``.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public mutating func addRows(of source: Tensor, at ids: [Int32]) {
        let c = columns, available = rows
        precondition(source.rows == ids.count && source.columns == c, "rows \(source.shape) for \(ids.count) ids of width \(c)")
        source.scalars.withUnsafeBufferPointer { s in
            scalars.withUnsafeMutableBufferPointer { t in
                for (n, id) in ids.enumerated() {
                    let row = Int(id)
                    precondition(row >= 0 && row < available, "row \(row) outside 0..<\(available)")
                    Kernels.add(UnsafeBufferPointer(rebasing: s[(n * c)..<((n + 1) * c)]),
                                into: UnsafeMutableBufferPointer(rebasing: t[(row * c)..<((row + 1) * c)]))
                }
            }
        }
    }

    /// Largest absolute elementwise difference to `other` (same shape); NaN if either holds NaN.
    public func maxAbsDifference(_ other: Tensor) -> T {
        precondition(shape == other.shape, "shape \(shape) vs \(other.shape)")
        var worst: T = 0
        for (a, b) in zip(scalars, other.scalars) {
            let d = abs(a - b)
            if d.isNaN { return .nan }
            worst = Swift.max(worst, d)
        }
        return worst
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let shown = scalars.prefix(8).map { "\($0)" }.joined(separator: ", ")
        return "Tensor<\(T.self)>\(shape)[\(shown)\(scalars.count > 8 ? ", …" : "")]"
    }
}
