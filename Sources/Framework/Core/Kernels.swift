import CKernels
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

    // MARK: LSTM cells

    /// One LSTM step's cells for `rows` rows (TF LSTMCell; gate blocks i, j, f, o of width `c` per row):
    /// `gates` [rows, 4c] pre-activations become σ(i), tanh(j), σ(f + 1), σ(o); `cellNext` = σ(f+1)·keep·cellPrev
    /// + σ(i)·tanh(j), clipped to ±clip; `m` = σ(o)·tanh(cellNext). `keep` per row (0 after a reset) or nil.
    /// Float runs the C kernel; Double (gradient checks) this loop with the exact functions.
    @inlinable
    public static func lstmForwardCells<T: Scalar>(gates: UnsafeMutablePointer<T>, cellPrev: UnsafePointer<T>,
                                                   cellNext: UnsafeMutablePointer<T>, m: UnsafeMutablePointer<T>,
                                                   rows: Int, cellSize c: Int, clip: T?, keep: UnsafePointer<T>?) {
        if T.self == Float.self {
            elmo_lstm_forward_cells(float(gates), float(cellPrev), float(cellNext), float(m), rows, c, (clip as! Float?) ?? .infinity,
                                    keep.map { float($0) })
            return
        }
        let highest = clip ?? T.infinity, lowest = -highest
        for r in 0..<rows {
            let row = gates + r * 4 * c
            sigmoid(row, into: row, count: c)
            tanh(row + c, into: row + c, count: c)
            sigmoid(row + 2 * c, into: row + 2 * c, count: c, shift: 1)
            sigmoid(row + 3 * c, into: row + 3 * c, count: c)
            let k = keep?[r] ?? 1
            let before = cellPrev + r * c, next = cellNext + r * c, out = m + r * c
            for j in 0..<c { next[j] = min(max(row[2 * c + j] * k * before[j] + row[j] * row[c + j], lowest), highest) }
            tanh(next, into: out, count: c)
            for j in 0..<c { out[j] *= row[3 * c + j] }
        }
    }

    /// The gradient of ``lstmForwardCells``: `gates` are the stored activations, `dm` = d(σ(o)·tanh(c));
    /// `dc` holds the gradient arriving at `cellNow` from the next step and becomes the gradient to `cellPrev`;
    /// `dGates` [rows, 4c] receives the gradient of the pre-activations. A clipped cell passes none.
    @inlinable
    public static func lstmBackwardCells<T: Scalar>(gates: UnsafePointer<T>, cellPrev: UnsafePointer<T>, cellNow: UnsafePointer<T>,
                                                    dm: UnsafePointer<T>, dc: UnsafeMutablePointer<T>, dGates: UnsafeMutablePointer<T>,
                                                    rows: Int, cellSize c: Int, clip: T?, keep: UnsafePointer<T>?) {
        if T.self == Float.self {
            elmo_lstm_backward_cells(float(gates), float(cellPrev), float(cellNow), float(dm), float(dc), float(dGates), rows, c,
                                     (clip as! Float?) ?? .infinity, keep.map { float($0) })
            return
        }
        for r in 0..<rows {
            let row = gates + r * 4 * c, drow = dGates + r * 4 * c
            let k = keep?[r] ?? 1
            for j in 0..<c {
                let ig = row[j], jg = row[c + j], fg = row[2 * c + j], og = row[3 * c + j]
                let cell = cellNow[r * c + j], tc = T.tanh(cell), dmj = dm[r * c + j]
                var d = dc[r * c + j] + dmj * og * (1 - tc * tc)
                if let clip, abs(cell) >= clip { d = 0 }
                drow[j] = d * jg * ig * (1 - ig)
                drow[c + j] = d * ig * (1 - jg * jg)
                drow[2 * c + j] = d * k * cellPrev[r * c + j] * fg * (1 - fg)
                drow[3 * c + j] = dmj * tc * og * (1 - og)
                dc[r * c + j] = d * fg * k
            }
        }
    }

    // MARK: Row-wise

    /// Adds `bias` (length `columns`) to every row of `x` (rows × columns).
    @inlinable
    public static func addRowVector<T: Scalar>(
        _ bias: UnsafeBufferPointer<T>, to x: UnsafeMutableBufferPointer<T>, columns: Int
    ) {
        precondition(bias.count == columns && x.count % max(columns, 1) == 0)
        guard columns > 0, !x.isEmpty else { return }
        if let (xf, bf) = floats(x, bias) {
            elmo_add_row_vector(xf, x.count / columns, columns, bf)
            return
        }
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
        guard columns > 0, !x.isEmpty else { return }
        if let (sf, xf) = floats(sums, x) {
            elmo_accumulate_column_sums(xf, x.count / columns, columns, sf)
            return
        }
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
        if T.self == Float.self, let base = x.baseAddress {
            elmo_scale(UnsafeMutableRawPointer(base).assumingMemoryBound(to: Float.self), x.count, a as! Float)
            return
        }
        for i in x.indices { x[i] *= a }
    }

    /// `y ← y + x` elementwise (same count; x and y must not overlap).
    @inlinable
    public static func add<T: Scalar>(_ x: UnsafeBufferPointer<T>, into y: UnsafeMutableBufferPointer<T>) {
        precondition(x.count == y.count)
        if let (yf, xf) = floats(y, x) {
            elmo_add(xf, yf, y.count)
            return
        }
        for i in y.indices { y[i] += x[i] }
    }

    /// maximum[j] = max over the `rows` rows of x [rows, columns] of column j, argmax[j] the first row that has it
    /// (a NaN never wins, as with `>`). rows ≥ 1.
    @inlinable
    public static func maxOverRows<T: Scalar>(_ x: UnsafePointer<T>, rows: Int, columns: Int,
                                              maximum: UnsafeMutablePointer<T>, argmax: UnsafeMutablePointer<Int32>) {
        precondition(rows >= 1)
        if T.self == Float.self {
            return elmo_max_over_rows(float(x), rows, columns, float(maximum), argmax)
        }
        for j in 0..<columns {
            maximum[j] = x[j]
            argmax[j] = 0
        }
        for r in 1..<rows {
            let row = x + r * columns
            for j in 0..<columns where row[j] > maximum[j] {
                maximum[j] = row[j]
                argmax[j] = Int32(r)
            }
        }
    }

    /// A pointer's memory as Float (callers check `T.self == Float.self` first).
    @inlinable @inline(__always)
    public static func float<T: Scalar>(_ p: UnsafePointer<T>) -> UnsafePointer<Float> { UnsafeRawPointer(p).assumingMemoryBound(to: Float.self) }
    @inlinable @inline(__always)
    public static func float<T: Scalar>(_ p: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<Float> {
        UnsafeMutableRawPointer(p).assumingMemoryBound(to: Float.self)
    }

    /// Float views of a mutable and a read-only buffer (nil for Double, or an empty buffer), for the C kernels.
    @inlinable @inline(__always)
    static func floats<T: Scalar>(_ target: UnsafeMutableBufferPointer<T>, _ source: UnsafeBufferPointer<T>)
        -> (UnsafeMutablePointer<Float>, UnsafePointer<Float>)? {
        guard T.self == Float.self, let t = target.baseAddress, let s = source.baseAddress else { return nil }
        return (float(t), float(UnsafePointer(s)))
    }
}
