import RealModule

/// Softmax cross-entropy over rows of logits, averaged over the rows the mask keeps.
///
/// `loss = (1/K) Σ_{n: mask[n]} (logsumexp(z_n) − z_n[target_n])`, K = number of kept rows.
/// Stable: every row is shifted by its maximum before exponentiation. Forward turns the logits
/// buffer it consumes into probabilities in place; backward turns those into dlogits in place, so
/// a [N, V] problem uses one N×V buffer end to end.
public enum SoftmaxCrossEntropy<T: Scalar> {
    /// What backward needs: the probabilities (the logits buffer, reused), targets and mask.
    public struct Cache {
        public var probabilities: Tensor<T>
        public var targets: [Int32]
        public var mask: [Bool]?
        public var keptRows: Int
    }

    public struct Output {
        /// Mean NLL over kept rows (0 when no row is kept).
        public var loss: T
        /// Σ NLL over kept rows, accumulated in Double (for perplexity over many batches).
        public var totalNLL: Double
        public var keptRows: Int
    }

    /// logits [N, V] (consumed), targets [N] in 0..<V, mask [N] (nil = all rows).
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public static func forward(
        logits: consuming Tensor<T>, targets: [Int32], mask: [Bool]? = nil
    ) -> (output: Output, cache: Cache) {
        var probabilities = logits
        let n = probabilities.rows, v = probabilities.columns
        precondition(targets.count == n, "targets \(targets.count) for \(n) rows")
        if let mask { precondition(mask.count == n, "mask \(mask.count) for \(n) rows") }
        var total = 0.0
        var kept = 0
        probabilities.withUnsafeMutableBufferPointer { p in
            for r in 0..<n {
                let row = UnsafeMutableBufferPointer(rebasing: p[(r * v)..<((r + 1) * v)])
                let isKept = mask?[r] ?? true
                let t = Int(targets[r])
                if isKept { precondition(t >= 0 && t < v, "target \(t) outside 0..<\(v)") }
                let targetLogit = isKept ? row[t] : 0   // read before the row becomes probabilities
                let logSumExp = softmaxInPlace(row)
                guard isKept else { continue }
                total += Double(logSumExp) - Double(targetLogit)
                kept += 1
            }
        }
        let loss = kept > 0 ? T(total / Double(kept)) : 0
        return (Output(loss: loss, totalNLL: total, keptRows: kept),
                Cache(probabilities: probabilities, targets: targets, mask: mask, keptRows: kept))
    }

    /// dlogits = dLoss·(p − onehot(target))/K on kept rows, 0 elsewhere; reuses the cache's buffer.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public static func backward(cache: consuming Cache, dLoss: T = 1) -> Tensor<T> {
        var grad = cache.probabilities
        let n = grad.rows, v = grad.columns
        let scale = cache.keptRows > 0 ? dLoss / T(cache.keptRows) : 0
        let mask = cache.mask, targets = cache.targets
        grad.withUnsafeMutableBufferPointer { g in
            for r in 0..<n {
                let row = UnsafeMutableBufferPointer(rebasing: g[(r * v)..<((r + 1) * v)])
                guard mask?[r] ?? true else {
                    row.update(repeating: 0)
                    continue
                }
                row[Int(targets[r])] -= 1
                Kernels.scale(row, by: scale)
            }
        }
        return grad
    }

    /// Replaces a row of logits by its softmax and returns the row's logsumexp.
    @inlinable
    public static func softmaxInPlace(_ row: UnsafeMutableBufferPointer<T>) -> T {
        if T.self == Float.self {
            // Float rows (training) take the vectorised exp; Double (gradient checks) the exact one.
            return row.withMemoryRebound(to: Float.self) { T(FastMath.softmaxRow($0)) }
        }
        var maxValue = -T.infinity
        for x in row where x > maxValue { maxValue = x }
        var sum: T = 0
        for i in row.indices {
            let e = T.exp(row[i] - maxValue)
            row[i] = e
            sum += e
        }
        let inverse = 1 / sum
        for i in row.indices { row[i] *= inverse }
        return maxValue + T.log(sum)
    }
}
