import CKernels
import Foundation
import Framework
import Testing
import TestSupport

@Suite("BLAS and kernels")
struct BLASTests {
    func checkAgainstNaive<T: Scalar>(_: T.Type, tolerance: T) {
        var rng = SeededRandom(seed: 3)
        let (m, n, k) = (5, 7, 4)
        for transA in [Transpose.none, .transposed] {
            for transB in [Transpose.none, .transposed] {
                var a = Tensor<T>(shape: transA == .none ? [m, k] : [k, m])
                var b = Tensor<T>(shape: transB == .none ? [k, n] : [n, k])
                var c = Tensor<T>(shape: [m, n])
                rng.fillUniform(&a, -1, 1)
                rng.fillUniform(&b, -1, 1)
                rng.fillUniform(&c, -1, 1)
                var expected = c.scalars
                BLAS.naiveGemm(transA, transB, m: m, n: n, k: k, alpha: 0.5, a: a.scalars, lda: a.columns,
                               b: b.scalars, ldb: b.columns, beta: 2, c: &expected, ldc: n)
                BLAS.matmul(a, b, into: &c, transposeA: transA, transposeB: transB, alpha: 0.5, beta: 2)
                let diff = c.maxAbsDifference(Tensor(shape: [m, n], scalars: expected))
                #expect(diff <= tolerance, "\(T.self) \(transA) \(transB): \(diff)")
            }
        }
    }

    @Test func gemmMatchesNaiveReference() {
        checkAgainstNaive(Float.self, tolerance: 1e-5)
        checkAgainstNaive(Double.self, tolerance: 1e-13)
    }

    /// The LSTM's per-step products cut into two column halves (here and on the helper thread) against one
    /// OpenBLAS call: both layouts of B, a width that is not a multiple of 16, and one too narrow to split.
    @Test func stepProductsSplitByColumnsEqualOneCall() {
        var rng = SeededRandom(seed: 13)
        for transB in [Transpose.none, .transposed] {
            for (m, n, k) in [(5, 1030, 70), (3, 40, 9), (2, 20, 3)] {
                let a = (0..<(m * k)).map { _ in Float(rng.unitDouble() * 2 - 1) }
                let b = (0..<(k * n)).map { _ in Float(rng.unitDouble() * 2 - 1) }   // [k, n], or [n, k] stored transposed
                let c0 = (0..<(m * n)).map { _ in Float(rng.unitDouble() * 2 - 1) }
                let ldb = transB == .none ? n : k
                var whole = c0, split = c0
                BLAS.gemm(.none, transB, m: m, n: n, k: k, alpha: 1, a: a, lda: k, b: b, ldb: ldb, beta: 0.5, c: &whole, ldc: n)
                StepKernels.gemm(split: true, transB, m: m, n: n, k: k, a: a, lda: k, b: b, ldb: ldb, beta: 0.5, c: &split, ldc: n)
                let worst = zip(whole, split).map { abs($0 - $1) }.max()!
                #expect(worst <= 1e-5, "\(m)×\(n)×\(k) \(transB): \(worst)")
            }
        }
    }

    /// The LSTM cells cut into two row halves give the single call's bits (rows are independent), forward and
    /// backward, with a reset row and the clip active; an odd row count.
    @Test func stepCellsSplitByRowsEqualOneCall() {
        var rng = SeededRandom(seed: 14)
        let rows = 7, c = 24
        func random(_ count: Int, _ scale: Double) -> [Float] { (0..<count).map { _ in Float((rng.unitDouble() * 2 - 1) * scale) } }
        let preactivations = random(rows * 4 * c, 3), cellPrev = random(rows * c, 4), dm = random(rows * c, 1), dc0 = random(rows * c, 1)
        var keep = [Float](repeating: 1, count: rows)
        keep[4] = 0
        var results: [[Float]] = []
        for split in [false, true] {
            var gates = preactivations, cellNext = [Float](repeating: 0, count: rows * c), m = cellNext
            StepKernels.lstmForwardCells(split: split, gates: &gates, cellPrev: cellPrev, cellNext: &cellNext, m: &m,
                                         rows: rows, cellSize: c, clip: 3, keep: keep)
            var dc = dc0, dGates = [Float](repeating: 0, count: rows * 4 * c)
            StepKernels.lstmBackwardCells(split: split, gates: gates, cellPrev: cellPrev, cellNow: cellNext, dm: dm, dc: &dc,
                                          dGates: &dGates, rows: rows, cellSize: c, clip: 3, keep: keep)
            results.append(gates + cellNext + m + dc + dGates)
        }
        let differing = zip(results[0], results[1]).filter { $0 != $1 }.count
        #expect(differing == 0, "\(differing) of \(results[0].count) values differ between one call and two halves")
        #expect(results[0].contains { abs($0) == 3 }, "the clip should be active somewhere")
    }

    @Test func zeroInnerDimensionScalesByBeta() {
        var c = Tensor<Float>(shape: [2, 2], repeating: .nan)
        let a = Tensor<Float>(shape: [2, 0]), b = Tensor<Float>(shape: [0, 2])
        BLAS.matmul(a, b, into: &c)
        #expect(c.scalars == [0, 0, 0, 0])
    }

    @Test func sigmoidIsStableAtExtremes() {
        #expect(Kernels.sigmoid(Float(-200)) == 0)
        #expect(Kernels.sigmoid(Float(200)) == 1)
        #expect(abs(Kernels.sigmoid(0.3) - 1 / (1 + exp(-0.3))) < 1e-15)
    }

    @Test func orthogonalInitialisationHasOrthonormalColumnsOrRows() {
        var rng = SeededRandom(seed: 5)
        for shape in [[8, 3], [3, 8], [6, 6]] {
            let q: Tensor<Double> = Initializer.orthogonal.make(shape, rng: &rng)
            let small = min(shape[0], shape[1])
            var gram = Tensor<Double>(shape: [small, small])
            if shape[0] >= shape[1] {
                BLAS.matmul(q, q, into: &gram, transposeA: .transposed)
            } else {
                BLAS.matmul(q, q, into: &gram, transposeB: .transposed)
            }
            for i in 0..<small {
                for j in 0..<small {
                    #expect(abs(gram[i, j] - (i == j ? 1 : 0)) < 1e-12, "\(shape) gram[\(i),\(j)]")
                }
            }
        }
    }
}

@Suite("Seeded random generator")
struct RandomTests {
    /// Values from an independent Python implementation of xoshiro256** seeded by SplitMix64:
    /// see Tests/Golden/generate/xoshiro_reference.py.
    @Test func matchesReferenceSequence() {
        var rng = SeededRandom(seed: 2020)
        #expect((0..<4).map { _ in rng.next() } == [0x2334_c896_b4cf_8e03, 0x47fe_7245_5925_0b1e, 0xd307_7886_7463_2026, 0x0a4a_e432_6790_208b])
        var zero = SeededRandom(seed: 0)
        #expect([zero.next(), zero.next()] == [0x99ec_5f36_cb75_f2b4, 0xbf6e_1f78_4956_452a])
    }

    @Test func stateRoundTripsThroughWords() {
        var a = SeededRandom(seed: 42)
        for _ in 0..<10 { _ = a.next() }
        var b = SeededRandom(stateWords: a.stateWords)
        #expect((0..<100).map { _ in a.next() } == (0..<100).map { _ in b.next() })
    }

    @Test func boundedIntegersShuffleAndNormals() {
        var rng = SeededRandom(seed: 1)
        var counts = [Int](repeating: 0, count: 3)
        for _ in 0..<30_000 { counts[rng.integer(below: 3)] += 1 }
        #expect(counts.allSatisfy { abs($0 - 10_000) < 500 })
        var values = Array(0..<50)
        rng.shuffle(&values)
        #expect(values.sorted() == Array(0..<50) && values != Array(0..<50))
        let normals: [Double] = (0..<20_000).map { _ in rng.normal() }
        let mean = normals.reduce(0, +) / Double(normals.count)
        let variance = normals.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(normals.count)
        #expect(abs(mean) < 0.03 && abs(variance - 1) < 0.05)
        let u: [Float] = (0..<1000).map { _ in rng.uniform(-0.25, 0.25) }
        #expect(u.allSatisfy { $0 >= -0.25 && $0 < 0.25 })
    }
}

@Suite("Registry")
struct RegistryTests {
    @Test func duplicatesUnknownNamesAndUnknownOptionsAreErrors() throws {
        var registry = Registry<Void, Int>(kind: "widget")
        let size = PluginOption<Int>("size", default: 1, help: "how big")
        let count = PluginOption<Int>.positive("count", default: nil, help: "how many")
        try registry.register(ComponentInfo(name: "one", summary: "the first", options: [size.info])) { options in
            let value = try options.value(of: size)
            return { _ in value }
        }
        try registry.register(ComponentInfo(name: "many", summary: "needs a count", options: [count.info])) { options in
            let value = try options.value(of: count)
            return { _ in value }
        }
        #expect(throws: RuntimeFailure.self) {
            try registry.register(ComponentInfo(name: "one", summary: "again")) { _ in { _ in 2 } }
        }
        // The descriptor is what `elmo list` shows.
        #expect(try registry.info("one").options == [OptionInfo(key: "size", help: "how big", defaultText: "1", expected: "an integer")])
        #expect(throws: InputError("widget many: option count is required (how many)")) { try registry.make("many", context: ()) }
        #expect(throws: InputError("widget many: option count=0 is invalid, expected a positive integer")) {
            try registry.make("many", options: ["count": "0"], context: ())
        }
        // Configuring checks the options and builds nothing; the builder builds.
        let builder = try registry.configure("many", options: ["count": "3"])
        #expect(try builder(()) == 3)
        #expect(try registry.make("one", context: ()) == 1)
        #expect(try registry.make("one", options: ["size": "5"], context: ()) == 5)
        #expect(throws: InputError("unknown widget 'two' (known: one, many)")) {
            try registry.make("two", context: ())
        }
        #expect(throws: InputError("widget one has no option colour (its options: size)")) {
            try registry.make("one", options: ["colour": "red"], context: ())
        }
        #expect(throws: InputError("widget one: option size=big is invalid, expected an integer")) {
            try registry.make("one", options: ["size": "big"], context: ())
        }
    }
}

@Suite("OpenBLAS runtime")
struct BLASRuntimeTests {
    @Test func kernelChoiceFollowsCPUFlags() {
        #expect(BLASRuntime.preferredCoreType(cpuFlags: ["sse2", "avx", "avx2", "avx512f"]) == "SkylakeX")
        #expect(BLASRuntime.preferredCoreType(cpuFlags: ["sse2", "avx", "avx2"]) == "Haswell")
        #expect(BLASRuntime.preferredCoreType(cpuFlags: ["sse2"]) == nil)
        let flags = BLASRuntime.cpuFlags(cpuinfo: "processor : 0\nflags\t\t: fpu sse2 avx2\nbugs : x\n")
        #expect(flags == ["fpu", "sse2", "avx2"])
        #expect(!BLASRuntime.coreName.isEmpty && BLASRuntime.threads >= 1)
    }
}

@Suite("Vectorised float math against Double")
struct FastMathTests {
    /// Points across the range the LSTM and softmax see, both tails, zero, tiny values, and a tail
    /// shorter than one 8-lane vector.
    static let points: [Float] = {
        var xs: [Float] = [0, -0.0, 1e-30, -1e-30, 1e-6, -1e-6, 0.624, 0.625, 0.626, -0.625, 9, -9, 20, -20, 88, -88, 100, -100, 1000, -1000]
        var x: Float = -12
        while x <= 12 { xs.append(x); x += 0.0137 }
        return xs
    }()

    /// Each compiled variant that this CPU can run (the dispatcher uses the widest).
    struct Variant: CustomStringConvertible, Sendable {
        let description: String
        let sigmoid: @Sendable (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int, Float) -> Void
        let tanh: @Sendable (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void
        let exponentiate: @Sendable (UnsafeMutablePointer<Float>, UnsafePointer<Float>?, Int, UnsafeMutablePointer<Float>) -> Float
        typealias ForwardCells = @Sendable (UnsafeMutablePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>,
                                            UnsafeMutablePointer<Float>, Int, Int, Float, UnsafePointer<Float>?) -> Void
        typealias BackwardCells = @Sendable (UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>,
                                             UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, Int, Int, Float,
                                             UnsafePointer<Float>?) -> Void
        let forwardCells: ForwardCells
        let backwardCells: BackwardCells
        let dot: @Sendable (UnsafePointer<Float>, UnsafePointer<Float>, Int) -> Float
        let negativeSamplingUpdate: @Sendable (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UnsafePointer<Float>, Int,
                                               Float) -> Void
        let maxOverRows: @Sendable (UnsafePointer<Float>, Int, Int, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Int32>) -> Void
    }
    static let variants: [Variant] = {
        var list = [Variant(description: "baseline", sigmoid: { elmo_sigmoid_base($0, $1, $2, $3) },
                            tanh: { elmo_tanh_base($0, $1, $2) }, exponentiate: { elmo_exponentiate_row_base($0, $1, $2, $3) },
                            forwardCells: { elmo_lstm_forward_cells_base($0, $1, $2, $3, $4, $5, $6, $7) },
                            backwardCells: { elmo_lstm_backward_cells_base($0, $1, $2, $3, $4, $5, $6, $7, $8, $9) },
                            dot: { elmo_dot_base($0, $1, $2) }, negativeSamplingUpdate: { elmo_sgns_update_base($0, $1, $2, $3, $4) },
                            maxOverRows: { elmo_max_over_rows_base($0, $1, $2, $3, $4) })]
        if elmo_kernels_have_avx2() == 1 {
            list.append(Variant(description: "avx2+fma", sigmoid: { elmo_sigmoid_avx2($0, $1, $2, $3) },
                                tanh: { elmo_tanh_avx2($0, $1, $2) }, exponentiate: { elmo_exponentiate_row_avx2($0, $1, $2, $3) },
                                forwardCells: { elmo_lstm_forward_cells_avx2($0, $1, $2, $3, $4, $5, $6, $7) },
                                backwardCells: { elmo_lstm_backward_cells_avx2($0, $1, $2, $3, $4, $5, $6, $7, $8, $9) },
                                dot: { elmo_dot_avx2($0, $1, $2) }, negativeSamplingUpdate: { elmo_sgns_update_avx2($0, $1, $2, $3, $4) },
                                maxOverRows: { elmo_max_over_rows_avx2($0, $1, $2, $3, $4) }))
        }
        if elmo_kernels_have_avx512() == 1 {
            list.append(Variant(description: "avx512", sigmoid: { elmo_sigmoid_avx512($0, $1, $2, $3) },
                                tanh: { elmo_tanh_avx512($0, $1, $2) }, exponentiate: { elmo_exponentiate_row_avx512($0, $1, $2, $3) },
                                forwardCells: { elmo_lstm_forward_cells_avx512($0, $1, $2, $3, $4, $5, $6, $7) },
                                backwardCells: { elmo_lstm_backward_cells_avx512($0, $1, $2, $3, $4, $5, $6, $7, $8, $9) },
                                dot: { elmo_dot_avx512($0, $1, $2) },
                                negativeSamplingUpdate: { elmo_sgns_update_avx512($0, $1, $2, $3, $4) },
                                maxOverRows: { elmo_max_over_rows_avx512($0, $1, $2, $3, $4) }))
        }
        return list
    }()

    @Test("σ and tanh over a row (with a ragged tail)", arguments: variants)
    func matchesDouble(variant: Variant) {
        let xs = Self.points
        var tanhOut = [Float](repeating: 0, count: xs.count), sigmoidOut = tanhOut, shifted = tanhOut
        xs.withUnsafeBufferPointer { x in
            tanhOut.withUnsafeMutableBufferPointer { variant.tanh(x.baseAddress!, $0.baseAddress!, xs.count) }
            sigmoidOut.withUnsafeMutableBufferPointer { variant.sigmoid(x.baseAddress!, $0.baseAddress!, xs.count, 0) }
            shifted.withUnsafeMutableBufferPointer { variant.sigmoid(x.baseAddress!, $0.baseAddress!, xs.count, 1) }
        }
        var worstTanh = 0.0, worstSigmoid = 0.0, worstSmallTanh = 0.0
        for (i, x) in xs.enumerated() {
            let d = Double(x)
            worstTanh = max(worstTanh, abs(Double(tanhOut[i]) - Foundation.tanh(d)))
            // Near zero relative error counts (a cell of 1e-6 must not come out as 1.06e-6).
            if abs(d) < 0.625 && d != 0 { worstSmallTanh = max(worstSmallTanh, abs(Double(tanhOut[i]) / Foundation.tanh(d) - 1)) }
            let s = 1 / (1 + Foundation.exp(-d)), s1 = 1 / (1 + Foundation.exp(-(d + 1)))
            // σ relative where it is tiny (the gates multiply by it), absolute near 1.
            worstSigmoid = max(worstSigmoid, abs(Double(sigmoidOut[i]) - s) / max(s, 1e-30) , abs(Double(shifted[i]) - s1) / max(s1, 1e-30))
            #expect(tanhOut[i] >= -1 && tanhOut[i] <= 1 && sigmoidOut[i] >= 0 && sigmoidOut[i] <= 1, "out of range at \(x)")
        }
        #expect(worstTanh <= 3e-7, "tanh absolute error \(worstTanh)")
        #expect(worstSmallTanh <= 1e-6, "tanh relative error below 0.625: \(worstSmallTanh)")
        #expect(worstSigmoid <= 1e-6, "σ relative error \(worstSigmoid)")
        // Odd and exact at the origin, saturated at the ends.
        #expect(tanhOut[0] == 0 && tanhOut[xs.firstIndex(of: 100)!] == 1 && tanhOut[xs.firstIndex(of: -100)!] == -1)
        #expect(sigmoidOut[xs.firstIndex(of: 1000)!] == 1 && sigmoidOut[xs.firstIndex(of: -1000)!] < 1e-38)
    }

    @Test("Softmax rows (with and without a row bias) and their log-sum-exp, lengths around 8 lanes, −∞ logits",
          arguments: variants)
    func softmaxMatchesDouble(variant: Variant) {
        var rng = SeededRandom(seed: 11)
        for length in [1, 7, 8, 9, 15, 16, 17, 31, 1000] {
            for withBias in [false, true] {
                var row = (0..<length).map { _ in Float(rng.unitDouble() * 60 - 30) }
                let bias = (0..<length).map { _ in Float(rng.unitDouble() * 4 - 2) }
                if length > 8 { row[3] = -.infinity }   // a removed sampled-softmax candidate
                let exact = zip(row, bias).map { Double($0) + (withBias ? Double($1) : 0) }
                let m = exact.max()!
                let sum = exact.reduce(0.0) { $0 + Foundation.exp($1 - m) }
                var maximum: Float = 0
                let total = row.withUnsafeMutableBufferPointer { r in
                    bias.withUnsafeBufferPointer { b in variant.exponentiate(r.baseAddress!, withBias ? b.baseAddress! : nil, length, &maximum) }
                }
                let logSumExp = Double(maximum) + Foundation.log(Double(total))
                #expect(abs(logSumExp - (m + Foundation.log(sum))) <= 1e-6 * max(1, abs(m)), "length \(length): log-sum-exp")
                var worst = 0.0
                for (e, x) in zip(row, exact) {
                    let p = Double(e) / Double(total), q = Foundation.exp(x - m) / sum
                    worst = max(worst, abs(p - q) / max(q, 1e-30) * min(q * 1e30, 1))   // relative where representable
                }
                // exp's 2e-7 plus the float32 sum's rounding, which grows with the row (≈ 125 additions per lane at 1000).
                #expect(worst <= 5e-6, "length \(length), bias \(withBias): softmax relative error \(worst)")
                #expect(length <= 8 || row[3] == 0)
            }
        }
    }

    /// The float32 LSTM cells of each variant against the Double loop with exact σ and tanh: a cell width that
    /// leaves a ragged tail for 8 and for 16 lanes and one that does not, a reset row, the clip active.
    @Test("LSTM cells forward and backward", arguments: variants)
    func lstmCellsMatchDouble(variant: Variant) {
        var rng = SeededRandom(seed: 21)
        for c in [37, 48] {
            let rows = 3, clip = 2.5
            func random(_ count: Int, _ scale: Double) -> [Double] { (0..<count).map { _ in (rng.unitDouble() * 2 - 1) * scale } }
            let preactivations = random(rows * 4 * c, 4), cellPrev = random(rows * c, 3), dm = random(rows * c, 1), dc0 = random(rows * c, 1)
            let keep: [Double] = [1, 0, 1]
            // Double reference.
            var gates = preactivations, cellNext = [Double](repeating: 0, count: rows * c), m = cellNext
            var dc = dc0, dGates = [Double](repeating: 0, count: rows * 4 * c)
            Kernels.lstmForwardCells(gates: &gates, cellPrev: cellPrev, cellNext: &cellNext, m: &m, rows: rows, cellSize: c,
                                     clip: clip, keep: keep)
            Kernels.lstmBackwardCells(gates: gates, cellPrev: cellPrev, cellNow: cellNext, dm: dm, dc: &dc, dGates: &dGates,
                                      rows: rows, cellSize: c, clip: clip, keep: keep)
            // The variant in float32.
            var fGates = preactivations.map(Float.init), fNext = [Float](repeating: 0, count: rows * c), fM = fNext
            var fDc = dc0.map(Float.init), fDGates = [Float](repeating: 0, count: rows * 4 * c)
            let fPrev = cellPrev.map(Float.init), fDm = dm.map(Float.init), fKeep = keep.map(Float.init)
            variant.forwardCells(&fGates, fPrev, &fNext, &fM, rows, c, Float(clip), fKeep)
            variant.backwardCells(fGates, fPrev, fNext, fDm, &fDc, &fDGates, rows, c, Float(clip), fKeep)
            for (name, exact, single) in [("gates", gates, fGates), ("cells", cellNext, fNext), ("m", m, fM), ("dc", dc, fDc),
                                          ("dGates", dGates, fDGates)] {
                let worst = zip(exact, single).map { abs($0 - Double($1)) / max(1, abs($0)) }.max()!
                #expect(worst <= 2e-6, "c \(c): \(name) differs by \(worst)")
            }
            #expect(fNext.contains { abs($0) == Float(clip) }, "the clip should be active somewhere")
            #expect(fDc[c..<(2 * c)].allSatisfy { $0 == 0 }, "a reset row passes no gradient to its previous cell")
        }
    }

    /// Skip-gram's kernels against Double: lengths around one and two vectors of 8 and 16 lanes, and 300.
    @Test("Dot product and the negative-sampling update", arguments: variants)
    func skipGramKernelsMatchDouble(variant: Variant) {
        var rng = SeededRandom(seed: 23)
        for n in [0, 1, 7, 8, 15, 16, 17, 31, 32, 33, 300] {
            let x = (0..<n).map { _ in Float(rng.unitDouble() * 2 - 1) }, y = (0..<n).map { _ in Float(rng.unitDouble() * 2 - 1) }
            let exact = zip(x, y).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            let dot = variant.dot(x, y, n)
            #expect(abs(Double(dot) - exact) <= 1e-6 * Double(max(n, 1)), "n \(n): \(dot) vs \(exact)")
            var gradient = (0..<n).map { _ in Float(rng.unitDouble()) }, weights = x
            let g: Float = 0.37
            let expectedGradient = zip(gradient, weights).map { Double($0) + Double(g) * Double($1) }
            let expectedWeights = zip(weights, y).map { Double($0) + Double(g) * Double($1) }
            variant.negativeSamplingUpdate(&gradient, &weights, y, n, g)
            #expect(zip(gradient, expectedGradient).allSatisfy { abs(Double($0) - $1) <= 1e-6 }, "n \(n): gradient")
            #expect(zip(weights, expectedWeights).allSatisfy { abs(Double($0) - $1) <= 1e-6 }, "n \(n): weights")
        }
    }

    /// The char-CNN's max over window positions: column counts around 8 and 16 lanes, one row, ties (the first row
    /// keeps the maximum), a NaN (never the maximum) — against the plain loop.
    @Test("Max over rows with the first maximum's row", arguments: variants)
    func maxOverRowsMatchesLoop(variant: Variant) {
        var rng = SeededRandom(seed: 29)
        for (rows, columns) in [(1, 16), (3, 7), (5, 16), (9, 17), (44, 256), (2, 33)] {
            // Values on a coarse grid, so that ties are common.
            var x = (0..<(rows * columns)).map { _ in Float(Int(rng.unitDouble() * 5)) - 2 }
            if rows > 1 { x[columns + 1] = .nan }
            var maximum = [Float](repeating: 0, count: columns), argmax = [Int32](repeating: -1, count: columns)
            variant.maxOverRows(x, rows, columns, &maximum, &argmax)
            for j in 0..<columns {
                var best = x[j], at: Int32 = 0
                for r in 1..<rows where x[r * columns + j] > best { (best, at) = (x[r * columns + j], Int32(r)) }
                #expect(maximum[j] == best && argmax[j] == at, "\(rows)×\(columns) column \(j): \(maximum[j])@\(argmax[j]) vs \(best)@\(at)")
            }
        }
    }

    @Test("The dispatcher names its variant")
    func variantName() {
        #expect(["avx512", "avx2+fma", "baseline"].contains(FastMath.variant))
    }
}

@Suite("Alias sampling")
struct AliasTableTests {
    /// The buckets encode the weights' distribution to rounding, and draws follow it (each frequency within 5σ).
    @Test func drawsFollowTheWeights() {
        let weights = [1.0, 10, 100, 1000, 0, 3.5, 42].map { $0 == 0 ? 0 : Foundation.pow($0, 0.75) }
        let table = AliasTable(weights: weights)
        let total = weights.reduce(0, +)
        for (p, w) in zip(table.probabilities, weights) { #expect(abs(p - w / total) < 1e-9, "\(p) vs \(w / total)") }
        var rng = SeededRandom(seed: 5)
        var seen = [Int](repeating: 0, count: weights.count)
        let draws = 1_000_000
        table.buckets.withUnsafeBufferPointer { buckets in
            for _ in 0..<draws { seen[Int(AliasTable.pick(rng.next(), in: buckets))] += 1 }
        }
        for (i, w) in weights.enumerated() {
            let p = w / total, sigma = (Double(draws) * p * (1 - p)).squareRoot()
            #expect(abs(Double(seen[i]) - Double(draws) * p) <= 5 * sigma + 1e-9, "index \(i): \(seen[i]) draws, expected \(Double(draws) * p)")
        }
        #expect(seen[4] == 0)   // weight 0 is never drawn
        // Every bucket is reachable: the high half of the draw spreads over all of them.
        let single = AliasTable(weights: [2, 2, 2])
        let highHalves: [UInt64] = [0, 0x5555_5556, 0xAAAA_AAAB]   // ⌊h · 3 / 2³²⌋ = 0, 1, 2
        let picks = single.buckets.withUnsafeBufferPointer { b in highHalves.map { AliasTable.pick($0 << 32, in: b) } }
        #expect(picks == [0, 1, 2])
    }
}
