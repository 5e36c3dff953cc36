import Foundation
import Testing
@testable import Framework

@Suite("oneDNN packed-weight products")
struct PackedMatmulTests {
    struct Case: CustomStringConvertible, Sendable {
        let m: Int, n: Int, k: Int
        let transposed: Bool, accumulate: Bool, padded: Bool
        var description: String { "\(m)×\(n)×\(k)\(transposed ? " Bᵀ" : "")\(accumulate ? " +=" : "")\(padded ? " strided" : "")" }
    }

    /// The LSTM's step shapes (recurrent, projection and their backward) and ragged ones, both layouts of B,
    /// overwrite and accumulate, and rows of A and C longer than the matrix (a view into a wider buffer).
    static let cases: [Case] = [
        Case(m: 32, n: 2048, k: 256, transposed: false, accumulate: true, padded: false),
        Case(m: 64, n: 256, k: 512, transposed: false, accumulate: false, padded: false),
        Case(m: 64, n: 256, k: 1024, transposed: true, accumulate: false, padded: false),
        Case(m: 5, n: 1030, k: 70, transposed: true, accumulate: true, padded: true),
        Case(m: 3, n: 17, k: 9, transposed: false, accumulate: false, padded: true),
    ]

    /// A, B, C0, the float64 reference and the leading dimensions of one case.
    static func operands(_ c: Case, seed: UInt64) -> (a: [Float], b: [Float], c0: [Float], expected: [Double], lda: Int, ldb: Int, ldc: Int) {
        var rng = SeededRandom(seed: seed)
        let lda = c.k + (c.padded ? 3 : 0), ldc = c.n + (c.padded ? 5 : 0)
        let ldb = (c.transposed ? c.k : c.n) + (c.padded ? 2 : 0)
        let a = (0..<(c.m * lda)).map { _ in Float(rng.unitDouble() * 2 - 1) }
        let b = (0..<((c.transposed ? c.n : c.k) * ldb)).map { _ in Float(rng.unitDouble() * 2 - 1) }
        let c0 = (0..<(c.m * ldc)).map { _ in Float(rng.unitDouble() * 2 - 1) }
        var expected = c0.map(Double.init)
        for i in 0..<c.m {
            for j in 0..<c.n {
                var sum = 0.0
                for p in 0..<c.k { sum += Double(a[i * lda + p]) * Double(c.transposed ? b[j * ldb + p] : b[p * ldb + j]) }
                expected[i * ldc + j] = (c.accumulate ? expected[i * ldc + j] : 0) + sum
            }
        }
        return (a, b, c0, expected, lda, ldb, ldc)
    }

    @Test("float32 against a float64 reference", arguments: cases)
    func float32MatchesReference(_ c: Case) throws {
        let (a, b, c0, expected, lda, ldb, ldc) = Self.operands(c, seed: 31)
        let product = try b.withUnsafeBufferPointer {
            try PackedMatmul(m: c.m, n: c.n, k: c.k, weights: $0.baseAddress!, ldb: ldb, transposedWeights: c.transposed,
                             lda: lda, ldc: ldc, accumulate: c.accumulate)
        }
        var out = c0
        product.run(a, into: &out)
        for i in 0..<c.m {
            for j in 0..<ldc {
                let index = i * ldc + j
                if j >= c.n {
                    #expect(out[index] == c0[index], "\(c): padding of C written at row \(i) column \(j)")
                } else {
                    #expect(abs(Double(out[index]) - expected[index]) <= 2e-6 * Double(c.k).squareRoot() + 1e-6,
                            "\(c): [\(i), \(j)] \(out[index]) vs \(expected[index])")
                }
            }
        }
    }

    /// bfloat16 keeps 8 significant bits: the error is relative to the size of the terms, not of the sum.
    @Test("bfloat16 within its rounding, or a one-line refusal", arguments: cases)
    func bfloat16WithinRounding(_ c: Case) throws {
        let (a, b, c0, expected, lda, ldb, ldc) = Self.operands(c, seed: 37)
        guard PackedMatmul.bfloat16Available else {
            #expect(throws: InputError("bfloat16 products need a CPU with AVX512-BF16 or AMX; this one has \(PackedMatmul.isaName) (use float32)")) {
                _ = try PackedMatmul(m: c.m, n: c.n, k: c.k, weights: b, ldb: ldb, precision: .bfloat16)
            }
            return
        }
        let product = try b.withUnsafeBufferPointer {
            try PackedMatmul(m: c.m, n: c.n, k: c.k, weights: $0.baseAddress!, ldb: ldb, transposedWeights: c.transposed,
                             lda: lda, ldc: ldc, accumulate: c.accumulate, precision: .bfloat16)
        }
        #expect(!product.implementation.hasPrefix("ref"), "\(c): \(product.implementation)")
        var out = c0
        product.run(a, into: &out)
        var worst = 0.0
        for i in 0..<c.m { for j in 0..<c.n { worst = max(worst, abs(Double(out[i * ldc + j]) - expected[i * ldc + j])) } }
        // Each product's two roundings (2⁻⁹ each, terms ≤ 1) summed with random signs: ≈ 2⁻⁸·√k, and 3× for the tail.
        let bound = 3 * Double(c.k).squareRoot() / 256
        #expect(worst <= bound, "\(c): worst \(worst), bound \(bound)")
        #expect(worst > 0, "\(c): bfloat16 should differ from float64 somewhere")
    }

    @Test func repackUsesNewWeights() throws {
        let c = Case(m: 4, n: 40, k: 24, transposed: false, accumulate: false, padded: false)
        let first = Self.operands(c, seed: 41), second = Self.operands(c, seed: 43)
        var weights = first.b
        let product = try weights.withUnsafeBufferPointer { try PackedMatmul(m: c.m, n: c.n, k: c.k, weights: $0.baseAddress!, ldb: c.n) }
        weights = second.b
        weights.withUnsafeBufferPointer { product.repack(weights: $0.baseAddress!) }
        var out = [Float](repeating: 0, count: c.m * c.n)
        // A of the first operands, B of the second.
        product.run(first.a, into: &out)
        for i in 0..<c.m {
            for j in 0..<c.n {
                var sum = 0.0
                for p in 0..<c.k { sum += Double(first.a[i * c.k + p]) * Double(second.b[p * c.n + j]) }
                #expect(abs(Double(out[i * c.n + j]) - sum) <= 1e-5)
            }
        }
    }
}
