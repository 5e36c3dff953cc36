import RealModule

/// Softmax cross-entropy over rows of logits, averaged over the rows the mask keeps.
///
/// `loss = (1/K) Σ_{n: mask[n]} (logsumexp(z_n) − z_n[target_n])`, K = number of kept rows.
/// Stable: every row is shifted by its maximum before exponentiation. Forward turns the logits buffer
/// it consumes into exp(z − max z) in place and keeps each row's 1/Σ; backward normalises and subtracts
/// the one-hot in one pass over the same buffer, so a [N, V] problem makes two passes over one N×V buffer
/// besides the GEMMs (normalising in forward would be a third, which evaluation never needs).
public enum SoftmaxCrossEntropy<T: Scalar> {
    /// What backward needs: exp(z − max z) per row (the logits buffer, reused), 1/Σ per row, targets, mask.
    public struct Cache {
        public var exponentials: Tensor<T>
        public var inverseSums: [T]
        public var targets: [Int32]
        public var mask: [Bool]?
        public var keptRows: Int

        /// The exponentials, moved out: the cache keeps an empty tensor, so the caller holds the only
        /// reference and may write in place. Also how a forward-only caller hands the buffer on for reuse.
        public mutating func takeExponentials() -> Tensor<T> {
            let taken = exponentials
            exponentials = Tensor(shape: [0])
            return taken
        }
    }

    public struct Output {
        /// Mean NLL over kept rows (0 when no row is kept).
        public var loss: T
        /// Σ NLL over kept rows, accumulated in Double (for perplexity over many batches).
        public var totalNLL: Double
        public var keptRows: Int
    }

    /// logits [N, V] (consumed), targets [N] in 0..<V, mask [N] (nil = all rows); `rowBias` [V], when given,
    /// is added to every row first (fused into the pass that finds each row's maximum).
    ///
    /// Callers pass their buffer with `consume`, never from inside a closure that captured it: a captured
    /// variable is copied in, and the buffer would then be duplicated (an N × V copy and its page faults).
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public static func forward(
        logits: consuming Tensor<T>, targets: [Int32], mask: [Bool]? = nil, rowBias: [T]? = nil
    ) -> (output: Output, cache: Cache) {
        var exponentials = logits
        let n = exponentials.rows, v = exponentials.columns
        precondition(targets.count == n, "targets \(targets.count) for \(n) rows")
        if let mask { precondition(mask.count == n, "mask \(mask.count) for \(n) rows") }
        if let rowBias { precondition(rowBias.count == v, "bias \(rowBias.count) for \(v) columns") }
        var total = 0.0
        var kept = 0
        var inverseSums = [T](repeating: 0, count: n)
        (rowBias ?? []).withUnsafeBufferPointer { biasBuffer in
            let bias = rowBias == nil ? nil : biasBuffer
            exponentials.withUnsafeMutableBufferPointer { p in
                for r in 0..<n {
                    let row = UnsafeMutableBufferPointer(rebasing: p[(r * v)..<((r + 1) * v)])
                    let isKept = mask?[r] ?? true
                    let t = Int(targets[r])
                    if isKept { precondition(t >= 0 && t < v, "target \(t) outside 0..<\(v)") }
                    // Read before the row is exponentiated.
                    let targetLogit = isKept ? row[t] + (bias?[t] ?? 0) : 0
                    let (sum, maximum) = exponentiate(row, adding: bias)
                    inverseSums[r] = 1 / sum
                    guard isKept else { continue }
                    total += Double(maximum) + Double(T.log(sum)) - Double(targetLogit)
                    kept += 1
                }
            }
        }
        let loss = kept > 0 ? T(total / Double(kept)) : 0
        return (Output(loss: loss, totalNLL: total, keptRows: kept),
                Cache(exponentials: exponentials, inverseSums: inverseSums, targets: targets, mask: mask, keptRows: kept))
    }

    /// dlogits = dLoss·(softmax − onehot(target))/K on kept rows, 0 elsewhere; reuses the cache's buffer.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public static func backward(cache: consuming Cache, dLoss: T = 1) -> Tensor<T> {
        backward(takingFrom: &cache, dLoss: dLoss)
    }

    /// ``backward(cache:dLoss:)`` for a cache stored inside another: the buffer is moved out of `cache`
    /// (left empty), so the gradient is written in place whoever held the cache. A caller's copy of the
    /// cache would otherwise share the buffer and the first write would duplicate N × V scalars.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public static func backward(takingFrom cache: inout Cache, dLoss: T = 1) -> Tensor<T> {
        var grad = cache.takeExponentials()
        precondition(grad.rank == 2 && grad.rows == cache.targets.count,
                     "softmax backward: the cache has no buffer (already back-propagated or released)")
        let n = grad.rows, v = grad.columns
        let scale = cache.keptRows > 0 ? dLoss / T(cache.keptRows) : 0
        let mask = cache.mask, targets = cache.targets, inverseSums = cache.inverseSums
        grad.withUnsafeMutableBufferPointer { g in
            for r in 0..<n {
                let row = UnsafeMutableBufferPointer(rebasing: g[(r * v)..<((r + 1) * v)])
                guard mask?[r] ?? true else {
                    row.update(repeating: 0)
                    continue
                }
                Kernels.scale(row, by: inverseSums[r] * scale)
                row[Int(targets[r])] -= scale
            }
        }
        return grad
    }

    /// `row ← exp(row + bias − m)`, m the row's maximum after the bias; returns (Σ, m).
    @inlinable
    static func exponentiate(_ row: UnsafeMutableBufferPointer<T>, adding bias: UnsafeBufferPointer<T>?) -> (sum: T, maximum: T) {
        if T.self == Float.self {
            // Float rows (training) take the vectorised exp; Double (gradient checks) the exact one.
            let floatBias = bias.map { UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: Float.self) }
            let (sum, maximum) = row.withMemoryRebound(to: Float.self) { FastMath.exponentiate($0, adding: floatBias) }
            return (T(sum), T(maximum))
        }
        if let bias { for i in row.indices { row[i] += bias[i] } }
        var maximum = -T.infinity
        for x in row where x > maximum { maximum = x }
        var sum: T = 0
        for i in row.indices {
            let e = T.exp(row[i] - maximum)
            row[i] = e
            sum += e
        }
        return (sum, maximum)
    }
}
