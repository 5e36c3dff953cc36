import RealModule

/// A seeded, portable pseudo-random generator: xoshiro256** (Blackman & Vigna 2018) seeded
/// through SplitMix64. The same seed gives the same numbers on every machine and Swift
/// version, unlike the system generator; its whole state is four words that checkpoints save.
///
/// Derived draws (uniform floats, normals, shuffles, bounded integers) are defined here, not
/// delegated to the standard library, whose algorithms may change between releases.
public struct SeededRandom: RandomNumberGenerator, Sendable, Equatable {
    public private(set) var state: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        var sm = seed
        func splitMix() -> UInt64 {
            sm &+= 0x9E37_79B9_7F4A_7C15
            var z = sm
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        state = (splitMix(), splitMix(), splitMix(), splitMix())
    }

    /// Restores a generator from ``stateWords``.
    public init(stateWords w: [UInt64]) {
        precondition(w.count == 4, "a generator state has 4 words")
        precondition(w.contains { $0 != 0 }, "the all-zero state is not a valid xoshiro state")
        state = (w[0], w[1], w[2], w[3])
    }

    public var stateWords: [UInt64] { [state.0, state.1, state.2, state.3] }

    public static func == (a: SeededRandom, b: SeededRandom) -> Bool { a.stateWords == b.stateWords }

    @inline(__always)
    private static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    public mutating func next() -> UInt64 {
        let result = Self.rotl(state.1 &* 5, 7) &* 9
        let t = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= t
        state.3 = Self.rotl(state.3, 45)
        return result
    }

    /// A new independent stream derived from this one (for per-thread or per-purpose generators).
    public mutating func split() -> SeededRandom { SeededRandom(seed: next()) }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func unitDouble() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// Uniform in [low, high).
    public mutating func uniform<T: Scalar>(_ low: T, _ high: T) -> T {
        low + (high - low) * T(unitDouble())
    }

    /// Standard normal by the Box–Muller transform (one draw per two uniforms; no cached spare,
    /// so the state stays four words).
    public mutating func normal<T: Scalar>(mean: T = 0, std: T = 1) -> T {
        var u1 = unitDouble()
        while u1 == 0 { u1 = unitDouble() }
        let u2 = unitDouble()
        let z = (-2 * Double.log(u1)).squareRoot() * Double.cos(2 * Double.pi * u2)
        return mean + std * T(z)
    }

    /// Uniform integer in 0..<bound, without modulo bias (Lemire 2019).
    public mutating func integer(below bound: Int) -> Int {
        precondition(bound > 0, "bound must be positive")
        let b = UInt64(bound)
        var m = next().multipliedFullWidth(by: b)
        if m.low < b {
            let threshold = (0 &- b) % b
            while m.low < threshold { m = next().multipliedFullWidth(by: b) }
        }
        return Int(m.high)
    }

    /// Fisher–Yates shuffle with this generator's own draws.
    public mutating func shuffle<C: MutableCollection & RandomAccessCollection>(_ c: inout C) where C.Index == Int {
        guard c.count > 1 else { return }
        for i in stride(from: c.count - 1, to: 0, by: -1) {
            let j = integer(below: i + 1)
            c.swapAt(c.startIndex + i, c.startIndex + j)
        }
    }

    /// Fills `x` with draws from U(low, high).
    public mutating func fillUniform<T: Scalar>(_ x: inout Tensor<T>, _ low: T, _ high: T) {
        for i in 0..<x.count { x.scalars[i] = uniform(low, high) }
    }

    /// Fills `x` with draws from N(mean, std²).
    public mutating func fillNormal<T: Scalar>(_ x: inout Tensor<T>, mean: T = 0, std: T) {
        for i in 0..<x.count { x.scalars[i] = normal(mean: mean, std: std) }
    }
}
