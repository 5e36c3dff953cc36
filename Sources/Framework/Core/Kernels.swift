import RealModule

/// Elementwise and row-wise kernels shared by the layers. Each works on raw buffers so that
/// callers can run them over slices of preallocated workspaces without allocating.
///
/// Shapes: a "rows × columns" buffer is row-major with `columns` contiguous scalars per row.
public enum Kernels {
    // MARK: Activations

    /// Logistic sigmoid, stable for large |x| (no overflow of exp).
    @inlinable @inline(__always)
    public static func sigmoid<T: Scalar>(_ x: T) -> T {
        if x >= 0 {
            return 1 / (1 + T.exp(-x))
        }
        let e = T.exp(x)
        return e / (1 + e)
    }

    /// `target[i] = σ(source[i] + shift)`; Float takes FastMath's 8-lane version, Double (the gradient
    /// checks) the exact one. `target` may be `source`.
    @inlinable
    public static func sigmoid<T: Scalar>(_ source: UnsafePointer<T>, into target: UnsafeMutablePointer<T>, count: Int,
                                          shift: T = 0) {
        if T.self == Float.self {
            FastMath.sigmoid(UnsafeRawPointer(source).assumingMemoryBound(to: Float.self),
                             into: UnsafeMutableRawPointer(target).assumingMemoryBound(to: Float.self), count: count,
                             shift: unsafeBitCast(shift, to: Float.self))
            return
        }
        for i in 0..<count { target[i] = sigmoid(source[i] + shift) }
    }

    /// `target[i] = tanh(source[i])`, as ``sigmoid(_:into:count:shift:)``.
    @inlinable
    public static func tanh<T: Scalar>(_ source: UnsafePointer<T>, into target: UnsafeMutablePointer<T>, count: Int) {
        if T.self == Float.self {
            FastMath.tanh(UnsafeRawPointer(source).assumingMemoryBound(to: Float.self),
                          into: UnsafeMutableRawPointer(target).assumingMemoryBound(to: Float.self), count: count)
            return
        }
        for i in 0..<count { target[i] = T.tanh(source[i]) }
    }

    @inlinable
    public static func sigmoid<T: Scalar>(_ x: UnsafeMutableBufferPointer<T>) {
        guard let base = x.baseAddress else { return }
        sigmoid(base, into: base, count: x.count)
    }

    @inlinable
    public static func tanh<T: Scalar>(_ x: UnsafeMutableBufferPointer<T>) {
        guard let base = x.baseAddress else { return }
        tanh(base, into: base, count: x.count)
    }

    @inlinable
    public static func relu<T: Scalar>(_ x: UnsafeMutableBufferPointer<T>) {
        for i in x.indices where x[i] < 0 { x[i] = 0 }
    }

    // MARK: Row-wise

    /// Adds `bias` (length `columns`) to every row of `x` (rows × columns).
    @inlinable
    public static func addRowVector<T: Scalar>(
        _ bias: UnsafeBufferPointer<T>, to x: UnsafeMutableBufferPointer<T>, columns: Int
    ) {
        precondition(bias.count == columns && x.count % max(columns, 1) == 0)
        guard columns > 0 else { return }
        var offset = 0
        while offset < x.count {
            for j in 0..<columns { x[offset + j] += bias[j] }
            offset += columns
        }
    }

    /// `sums[j] += Σ_r x[r, j]`: the bias gradient of a row-broadcast bias.
    @inlinable
    public static func accumulateColumnSums<T: Scalar>(
        of x: UnsafeBufferPointer<T>, columns: Int, into sums: UnsafeMutableBufferPointer<T>
    ) {
        precondition(sums.count == columns && x.count % max(columns, 1) == 0)
        guard columns > 0 else { return }
        var offset = 0
        while offset < x.count {
            for j in 0..<columns { sums[j] += x[offset + j] }
            offset += columns
        }
    }

    // MARK: Reductions

    /// Σ x² accumulated in Double, whatever the storage precision.
    @inlinable
    public static func sumOfSquares<T: Scalar>(_ x: UnsafeBufferPointer<T>) -> Double {
        var sum = 0.0
        for v in x { let d = Double(v); sum += d * d }
        return sum
    }

    /// `x ← a·x`.
    @inlinable
    public static func scale<T: Scalar>(_ x: UnsafeMutableBufferPointer<T>, by a: T) {
        for i in x.indices { x[i] *= a }
    }

    /// `y ← y + x` elementwise (same count).
    @inlinable
    public static func add<T: Scalar>(_ x: UnsafeBufferPointer<T>, into y: UnsafeMutableBufferPointer<T>) {
        precondition(x.count == y.count)
        for i in y.indices { y[i] += x[i] }
    }
}
