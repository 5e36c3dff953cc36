/// Vectorised float32 exp for the softmax, the hottest elementwise loop of the language model
/// (tokens × vocabulary exponentials per step). Cephes' expf: range reduction by ln 2 in two
/// parts, a degree-6 polynomial, scaling by 2ⁿ through the exponent bits; relative error ≈ 2e-7.
/// The LSTM's gate nonlinearities (σ and tanh) are built on it.
public enum FastMath {
    @inlinable @inline(__always)
    static func exp8(_ input: SIMD8<Float>) -> SIMD8<Float> {
        var x = input.replacing(with: SIMD8(repeating: 88.37626), where: input .> 88.37626)
        x = x.replacing(with: SIMD8(repeating: -87.33654), where: x .< -87.33654)
        // n = round(x / ln 2) by the 1.5·2²³ trick: adding it leaves n in the low mantissa bits
        // (generic SIMD rounding and float→int conversion are scalar loops in Swift today).
        let magic = SIMD8<Float>(repeating: 12582912.0)
        let shifted = x * 1.44269504088896341 + magic
        let n = shifted - magic
        var r = x - n * 0.693359375
        r = r - n * -2.12194440e-4
        var p = SIMD8<Float>(repeating: 1.9875691500e-4)
        p = p * r + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        p = p * r * r + r + 1
        let exponent = (unsafeBitCast(shifted, to: SIMD8<UInt32>.self) &- 0x4B40_0000 &+ 127) &<< 23
        let scaled = p * unsafeBitCast(exponent, to: SIMD8<Float>.self)
        // Exact zero for inputs below the float range (e.g. −∞ for a removed candidate).
        return scaled.replacing(with: 0, where: input .< -87.33654)
    }

    /// `row[i] = exp(row[i] − shift)` for every element; returns Σ row[i] (accumulated in 8 lanes).
    @inlinable
    public static func exponentiate(_ row: UnsafeMutableBufferPointer<Float>, subtracting shift: Float) -> Float {
        let count = row.count
        var sums = SIMD8<Float>(repeating: 0)
        var i = 0
        let base = UnsafeMutableRawPointer(row.baseAddress!)
        while i + 8 <= count {
            let v = base.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            let e = exp8(v - shift)
            base.storeBytes(of: e, toByteOffset: i * 4, as: SIMD8<Float>.self)
            sums += e
            i += 8
        }
        var total = sums.sum()
        if i < count {
            var tail = SIMD8<Float>(repeating: -.infinity)
            for k in i..<count { tail[k - i] = row[k] - shift }
            let e = exp8(tail)
            for k in i..<count { row[k] = e[k - i]; total += e[k - i] }
        }
        return total
    }

    /// Largest element of a row (8 lanes).
    @inlinable
    public static func maximum(_ row: UnsafeBufferPointer<Float>) -> Float {
        var best = SIMD8<Float>(repeating: -.infinity)
        var i = 0
        let base = UnsafeRawPointer(row.baseAddress!)
        while i + 8 <= row.count {
            best = pointwiseMax(best, base.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self))
            i += 8
        }
        var m = best.max()
        while i < row.count { m = max(m, row[i]); i += 1 }
        return m
    }

    /// σ(x) = 1 / (1 + e⁻ˣ): exp8 saturates cleanly, so both tails come out as exact 0 and 1.
    @inlinable @inline(__always)
    static func sigmoid8(_ x: SIMD8<Float>) -> SIMD8<Float> {
        1 / (1 + exp8(-x))
    }

    /// tanh: Cephes' tanhf — an odd polynomial below |x| = 0.625 (where 1 − 2/(e²ˣ + 1) would lose
    /// digits to cancellation), 1 − 2/(e²ˣ + 1) above; absolute error ≈ 1e-7.
    @inlinable @inline(__always)
    static func tanh8(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let z = x * x
        var small = SIMD8<Float>(repeating: -5.70498872745e-3)
        small = small * z + 2.06390887954e-2
        small = small * z - 5.37397155531e-2
        small = small * z + 1.33314422036e-1
        small = small * z - 3.33332819422e-1
        small = small * z * x + x
        let magnitude = x.replacing(with: -x, where: x .< 0)
        var large = 1 - 2 / (exp8(magnitude + magnitude) + 1)
        large.replace(with: -large, where: x .< 0)
        return small.replacing(with: large, where: magnitude .>= 0.625)
    }

    /// Applies an 8-lane function over `count` floats from `source` into `target` (which may be `source`).
    @inlinable @inline(__always)
    static func map8(_ source: UnsafePointer<Float>, into target: UnsafeMutablePointer<Float>, count: Int,
                     _ f: (SIMD8<Float>) -> SIMD8<Float>) {
        let from = UnsafeRawPointer(source), to = UnsafeMutableRawPointer(target)
        var i = 0
        while i + 8 <= count {
            to.storeBytes(of: f(from.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)), toByteOffset: i * 4,
                          as: SIMD8<Float>.self)
            i += 8
        }
        if i < count {
            var tail = SIMD8<Float>(repeating: 0)
            for k in i..<count { tail[k - i] = source[k] }
            let y = f(tail)
            for k in i..<count { target[k] = y[k - i] }
        }
    }

    /// `target[i] = σ(source[i] + shift)`.
    @inlinable
    public static func sigmoid(_ source: UnsafePointer<Float>, into target: UnsafeMutablePointer<Float>, count: Int,
                               shift: Float = 0) {
        map8(source, into: target, count: count) { sigmoid8($0 + shift) }
    }

    /// `target[i] = tanh(source[i])`.
    @inlinable
    public static func tanh(_ source: UnsafePointer<Float>, into target: UnsafeMutablePointer<Float>, count: Int) {
        map8(source, into: target, count: count) { tanh8($0) }
    }
}
