import Foundation
import Testing
@testable import Framework

@Suite("Products by a packed weight over any number of rows")
struct PackedWeightProductTests {
    /// A [m × k], W [k × n] (rows `firstRow…` of a taller matrix), C0 [m × n] and the float64 reference of C (= or +=).
    static func operands(m: Int, n: Int, k: Int, firstRow: Int = 0, accumulate: Bool, seed: UInt64)
        -> (a: [Float], w: [Float], c0: [Float], expected: [Double]) {
        var rng = SeededRandom(seed: seed)
        let a = (0..<(m * k)).map { _ in Float(rng.unitDouble() * 2 - 1) }
        let w = (0..<((firstRow + k) * n)).map { _ in Float(rng.unitDouble() * 2 - 1) }
        let c0 = (0..<(m * n)).map { _ in Float(rng.unitDouble() * 2 - 1) }
        var expected = [Double](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var sum = accumulate ? Double(c0[i * n + j]) : 0
                for p in 0..<k { sum += Double(a[i * k + p]) * Double(w[(firstRow + p) * n + j]) }
                expected[i * n + j] = sum
            }
        }
        return (a, w, c0, expected)
    }

    static var precisions: [PackedMatmul.Precision] { PackedMatmul.bfloat16Available ? [.float32, .bfloat16] : [.float32] }

    /// Row counts around the block (128) and chunk (16) heights, and above two blocks (cut across two cores).
    @Test("every row count, = and +=, against float64", arguments: [1, 15, 16, 17, 129, 300, 517], [false, true])
    func matchesReference(rows m: Int, accumulate: Bool) throws {
        let n = 70, k = 37
        for precision in Self.precisions {
            let (a, w, c0, expected) = Self.operands(m: m, n: n, k: k, accumulate: accumulate, seed: UInt64(m))
            let product = try w.withUnsafeBufferPointer {
                try PackedWeightProduct(k: k, n: n, weights: $0.baseAddress!, ldb: n, accumulate: accumulate, precision: precision)
            }
            var out = c0
            out.withUnsafeMutableBufferPointer { product.run(a, rows: m, into: $0.baseAddress!) }
            // float32: its rounding; bfloat16: two roundings of 2⁻⁹ per term (terms ≤ 1), random signs, 3× margin.
            let bound = precision == .float32 ? 1e-5 : 3 * Double(k).squareRoot() / 256
            let worst = zip(out, expected).map { abs(Double($0) - $1) }.max()!
            #expect(worst <= bound, "\(precision) m \(m): worst \(worst)")
        }
    }

    /// A row's bits do not depend on its batch-mates: `serve` and `embed` give a sentence the same vectors.
    @Test("a row's result is the same alone and among 300 rows (any block, chunk, padding or core)")
    func rowsAreBatchInvariant() throws {
        let m = 300, n = 96, k = 200
        for precision in Self.precisions {
            let (a, w, _, _) = Self.operands(m: m, n: n, k: k, accumulate: false, seed: 5)
            let product = try w.withUnsafeBufferPointer {
                try PackedWeightProduct(k: k, n: n, weights: $0.baseAddress!, ldb: n, precision: precision)
            }
            var all = [Float](repeating: 0, count: m * n)
            all.withUnsafeMutableBufferPointer { product.run(a, rows: m, into: $0.baseAddress!) }
            for row in [0, 1, 127, 128, 150, 255, 256, 299] {
                var alone = [Float](repeating: 0, count: n)
                a.withUnsafeBufferPointer { ap in
                    alone.withUnsafeMutableBufferPointer { product.run(ap.baseAddress! + row * k, rows: 1, into: $0.baseAddress!) }
                }
                #expect(Array(all[(row * n)..<((row + 1) * n)]) == alone, "\(precision): row \(row) differs alone")
            }
        }
    }

    /// Through `Parameter.multiply`: a block of rows of the parameter, packed on first use and again after the value
    /// changes; nil precision is plain BLAS.
    @Test("Parameter.multiply: rows of the weight, repacked when the value changes")
    func parameterRepacksOnChange() throws {
        let m = 20, n = 48, k = 24, firstRow = 8
        for precision in [nil] + Self.precisions.map(Optional.some) {
            let first = Self.operands(m: m, n: n, k: k, firstRow: firstRow, accumulate: true, seed: 11)
            let second = Self.operands(m: m, n: n, k: k, firstRow: firstRow, accumulate: true, seed: 13)
            let weight = Parameter(name: "w", value: Tensor<Float>(shape: [firstRow + k, n], scalars: first.w))
            weight.packedPrecision = precision
            let bound = precision == .bfloat16 ? 3 * Double(k).squareRoot() / 256 : 1e-5
            for operands in [first, second] {
                weight.value = Tensor(shape: [firstRow + k, n], scalars: operands.w)
                var out = operands.c0
                out.withUnsafeMutableBufferPointer {
                    weight.multiply(operands.a, rows: m, depth: k, firstRow: firstRow, accumulate: true, into: $0.baseAddress!)
                }
                let worst = zip(out, operands.expected).map { abs(Double($0) - $1) }.max()!
                #expect(worst <= bound, "\(String(describing: precision)): worst \(worst)")
            }
        }
    }

    /// The four primitives (block and chunk, per core) read one packed copy where oneDNN picks one layout for both heights.
    @Test func onePackedCopy() throws {
        let w = [Float](repeating: 0.5, count: 256 * 1024)
        for precision in Self.precisions {
            let product = try w.withUnsafeBufferPointer {
                try PackedWeightProduct(k: 256, n: 1024, weights: $0.baseAddress!, ldb: 1024, precision: precision)
            }
            #expect(product.packedCopies == 1, "\(precision): \(product.packedCopies) packed copies")
        }
    }
}
