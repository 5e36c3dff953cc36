import Foundation
import Framework
import Testing
import TestSupport

/// Float64 central-difference checks of the generic layers (max relative error ≤ 1e-6).
@Suite("Gradient checks: framework layers")
struct FrameworkLayerGradientTests {
    static let tolerance = 1e-6

    @Test("Linear: weight, bias and input, over a rank-3 input")
    func linear() {
        var rng = SeededRandom(seed: 7)
        let layer = Linear<Double>(name: "fc", inputSize: 5, outputSize: 3, biasInit: .uniform(-1, 1), rng: &rng)
        let x = randomParameter("x", [2, 4, 5], seed: 1)
        let loss = ProjectionLoss(shape: [2, 4, 3], seed: 2)
        let result = GradientChecker.check(layer.parameters + [x]) {
            loss.value(layer.forward(x.value).output)
        } backward: {
            let (y, cache) = layer.forward(x.value)
            #expect(y.shape == [2, 4, 3])
            x.accumulate(layer.backward(loss.gradient(like: y), cache: cache)!)
        }
        #expect(result.maxRelativeError <= Self.tolerance, "\(result)")
        #expect(result.elementsChecked == 15 + 3 + 40)
    }

    @Test("Linear without bias")
    func linearWithoutBias() {
        var rng = SeededRandom(seed: 8)
        let layer = Linear<Double>(name: "proj", inputSize: 6, outputSize: 2, hasBias: false, rng: &rng)
        let x = randomParameter("x", [3, 6], seed: 3)
        let loss = ProjectionLoss(shape: [3, 2], seed: 4)
        let result = GradientChecker.check(layer.parameters + [x]) {
            loss.value(layer.forward(x.value).output)
        } backward: {
            let (y, cache) = layer.forward(x.value)
            x.accumulate(layer.backward(loss.gradient(like: y), cache: cache)!)
        }
        #expect(result.maxRelativeError <= Self.tolerance, "\(result)")
    }

    @Test("Embedding: repeated ids accumulate, the padding row gets nothing, touched rows recorded")
    func embedding() {
        var rng = SeededRandom(seed: 9)
        let layer = Embedding<Double>(name: "emb", vocabularySize: 7, dimension: 4, paddingIndex: 0,
                                      initializer: .uniform(-1, 1), rng: &rng)
        #expect(layer.table.value.row(0).allSatisfy { $0 == 0 })
        let ids: [Int32] = [3, 1, 5, 3, 6, 3, 1]
        let loss = ProjectionLoss(shape: [ids.count, 4], seed: 5)
        let result = GradientChecker.check(layer.parameters) {
            loss.value(layer.forward(ids))
        } backward: {
            layer.backward(loss.gradient(like: layer.forward(ids)), ids: ids)
        }
        #expect(result.maxRelativeError <= Self.tolerance, "\(result)")
        #expect(layer.table.touchedRows == [3, 1, 5, 6])

        // Ids equal to the padding index look up its row but train nothing.
        layer.table.zeroGrad()
        #expect(layer.table.touchedRows.isEmpty && layer.table.grad.scalars.allSatisfy { $0 == 0 })
        let padded: [Int32] = [0, 2, 0]
        layer.backward(Tensor(shape: [3, 4], repeating: 1), ids: padded)
        #expect(layer.table.touchedRows == [2])
        #expect(layer.table.grad.row(0).allSatisfy { $0 == 0 })
        #expect(layer.table.grad.row(2).allSatisfy { $0 == 1 })
    }

    @Test("Softmax cross-entropy with a mask")
    func softmaxCrossEntropy() {
        let logits = randomParameter("logits", [6, 5], seed: 11, scale: 3)
        let targets: [Int32] = [0, 4, 2, 2, 1, 3]
        let mask = [true, true, false, true, true, false]
        let result = GradientChecker.check([logits]) {
            Double(SoftmaxCrossEntropy.forward(logits: logits.value, targets: targets, mask: mask).output.loss)
        } backward: {
            let (_, cache) = SoftmaxCrossEntropy.forward(logits: logits.value, targets: targets, mask: mask)
            logits.accumulate(SoftmaxCrossEntropy.backward(cache: cache))
        }
        #expect(result.maxRelativeError <= Self.tolerance, "\(result)")
        // Masked rows get exactly zero gradient.
        #expect(logits.grad.row(2).allSatisfy { $0 == 0 } && logits.grad.row(5).allSatisfy { $0 == 0 })
    }

    @Test("Softmax cross-entropy is stable for huge logits and matches a direct computation")
    func softmaxStability() {
        let logits = Tensor<Double>(shape: [2, 3], scalars: [1000, 0, -1000, 1, 2, 3])
        let (out, _) = SoftmaxCrossEntropy.forward(logits: logits, targets: [1, 2], mask: nil)
        let row0 = 1000.0   // −log softmax(1000, 0, −1000)[1] = 1000 + log(1 + e^−1000 + e^−2000)
        let row1 = -3 + log(exp(1.0) + exp(2.0) + exp(3.0))
        #expect(abs(out.totalNLL - (row0 + row1)) < 1e-9)
        #expect(out.keptRows == 2 && out.loss.isFinite)
    }

    @Test("Layer norm over the last dimension, with a zero row that must stay zero")
    func layerNorm() {
        let x = randomParameter("x", [2, 3, 6], seed: 16, scale: 2)
        for j in 0..<6 { x.value.scalars[6 + j] = 0 }   // row 1 is padding
        let layer = LayerNorm<Double>()
        let loss = ProjectionLoss(shape: [2, 3, 6], seed: 17)
        let result = GradientChecker.check([x]) { loss.value(layer.forward(x.value).output) } backward: {
            let (y, cache) = layer.forward(x.value)
            x.accumulate(layer.backward(loss.gradient(like: y), cache: cache))
        }
        #expect(result.maxRelativeError <= Self.tolerance, "\(result)")
        let y = layer.forward(x.value).output
        #expect(y.scalars[6..<12].allSatisfy { $0 == 0 })
        for r in [0, 2, 5] {   // mean 0, variance 1 − ε-sized
            let row = Array(y.scalars[(r * 6)..<(r * 6 + 6)])
            let mean = row.reduce(0, +) / 6, variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 6
            #expect(abs(mean) < 1e-12 && abs(variance - 1) < 1e-4, "row \(r): mean \(mean), variance \(variance)")
        }
    }

    @Test("Dropout with a fixed mask")
    func dropout() {
        let x = randomParameter("x", [5, 4], seed: 13)
        let layer = Dropout<Double>(rate: 0.3)
        let loss = ProjectionLoss(shape: [5, 4], seed: 14)
        func run() -> (Tensor<Double>, Dropout<Double>.Cache) {
            var rng = SeededRandom(seed: 15)   // same mask in every evaluation
            return layer.forward(x.value, training: true, rng: &rng)
        }
        let result = GradientChecker.check([x]) { loss.value(run().0) } backward: {
            let (y, cache) = run()
            x.accumulate(layer.backward(loss.gradient(like: y), cache: cache))
        }
        #expect(result.maxRelativeError <= Self.tolerance, "\(result)")
        let dropped = run().0.scalars.filter { $0 == 0 }.count
        #expect(dropped > 0 && dropped < 20)
    }
}
