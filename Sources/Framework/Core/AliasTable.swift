/// Draws index i with probability wᵢ / Σw in constant time: Walker's alias method, built by Vose's algorithm.
///
/// Each of the n buckets keeps its own index with probability `threshold / 2³²` and otherwise answers its alias, so a
/// draw is one random number and one 8-byte read. word2vec.c instead fills a table of 10⁸ (here 10⁶) slots in
/// proportion to the weights: a 4 MB table read at random missed the caches on most negative samples and took a third
/// of `elmo word2vec`'s time; the alias table for a 10k-word vocabulary is 80 KB. It is also exact where the slot table
/// rounds each word's share to whole slots.
public struct AliasTable: Sendable {
    /// Bucket i: keep i when the low 32 bits of the draw are below `threshold`, else answer `alias`.
    public struct Bucket: Sendable, Equatable {
        public var threshold: UInt32
        public var alias: Int32
    }
    public let buckets: [Bucket]

    /// Weights must be finite, ≥ 0, with a positive sum, and fewer than 2³¹.
    public init(weights: [Double]) {
        let n = weights.count
        precondition(n > 0 && n < Int(Int32.max), "AliasTable needs 1…2³¹−1 weights, got \(n)")
        let total = weights.reduce(0, +)
        precondition(total > 0 && total.isFinite && weights.allSatisfy { $0 >= 0 }, "AliasTable weights must be ≥ 0 with a positive, finite sum")
        // Scaled so that the mean bucket holds 1; a bucket below 1 is topped up from one above.
        var scaled = weights.map { $0 * Double(n) / total }
        var buckets = [Bucket](repeating: Bucket(threshold: .max, alias: 0), count: n)
        var small: [Int] = [], large: [Int] = []
        for (i, s) in scaled.enumerated() { if s < 1 { small.append(i) } else { large.append(i) } }
        while let l = large.last, let s = small.popLast() {   // large first: a small one is popped only when it gets a partner
            buckets[s] = Bucket(threshold: Self.threshold(scaled[s]), alias: Int32(l))
            scaled[l] -= 1 - scaled[s]
            if scaled[l] < 1 { large.removeLast(); small.append(l) }
        }
        // What is left holds 1 up to rounding: it keeps itself.
        for i in small + large { buckets[i] = Bucket(threshold: .max, alias: Int32(i)) }
        self.buckets = buckets
    }

    /// p ∈ [0, 1) as a fraction of 2³².
    private static func threshold(_ p: Double) -> UInt32 {
        UInt32(min(max(p, 0) * 0x1p32, Double(UInt32.max)).rounded())
    }

    public var count: Int { buckets.count }

    /// The index a 64-bit uniform draw picks: its high 32 bits choose the bucket, its low 32 bits keep or alias.
    @inlinable
    public static func pick(_ draw: UInt64, in buckets: UnsafeBufferPointer<Bucket>) -> Int32 {
        let bucket = Int(((draw >> 32) &* UInt64(buckets.count)) >> 32)   // shifts bind tighter than &*
        let entry = buckets[bucket]
        return UInt32(truncatingIfNeeded: draw) < entry.threshold ? Int32(bucket) : entry.alias
    }

    /// The probability of each index that the buckets encode (what a test compares with the weights).
    public var probabilities: [Double] {
        var p = [Double](repeating: 0, count: count)
        for (i, b) in buckets.enumerated() {
            let keep = b.threshold == .max ? 1 : Double(b.threshold) / 0x1p32
            p[i] += keep / Double(count)
            p[Int(b.alias)] += (1 - keep) / Double(count)
        }
        return p
    }
}
