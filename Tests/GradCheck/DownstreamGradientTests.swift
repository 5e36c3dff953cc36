import Foundation
import Framework
import Heads
import Models
import Testing
import TestSupport

@Suite("Gradient checks: downstream (BoW head, scalar mix, trainable ELMo)")
struct DownstreamGradientTests {
    static let tolerance = 1e-6

    @Test(arguments: [("mean", "none", 0.0), ("sum", "tanh", 0.3), ("max", "relu", 0.5), ("mean", "none", 0.5)])
    func bagOfWordsHead(_ pooling: String, _ activation: String, _ inputDropout: Double) {
        var rng = SeededRandom(seed: 81)
        let head = BagOfWordsHead<Double>(inputDimension: 4, hiddenSize: 5, classes: 2,
                                          pooling: .init(rawValue: pooling)!, activation: .init(rawValue: activation)!,
                                          dropout: 0.5, inputDropout: inputDropout, rng: &rng)
        for p in head.parameters { rng.fillUniform(&p.value, -0.8, 0.8) }
        let x = randomParameter("x", [3, 4, 4], seed: 82)
        let lengths = [4, 2, 1]
        let loss = ProjectionLoss(shape: [3, 2], seed: 83)
        func run() -> (Tensor<Double>, BagOfWordsHead<Double>.Cache) {
            var dropoutRNG = SeededRandom(seed: 84)
            return head.forward(x.value, lengths: lengths, training: true, rng: &dropoutRNG)
        }
        let result = GradientChecker.check(head.parameters + [x]) {
            loss.value(run().0)
        } backward: {
            let (logits, cache) = run()
            x.accumulate(head.backward(loss.gradient(like: logits), cache: cache))
        }
        #expect(result.maxRelativeError <= Self.tolerance, "\(pooling)/\(activation)/\(inputDropout): \(result)")
        // Padding positions never receive gradient.
        let (logits, cache) = run()
        let dx = head.backward(loss.gradient(like: logits), cache: cache)
        #expect(dx.scalars[(1 * 4 + 2) * 4..<(1 * 4 + 4) * 4].allSatisfy { $0 == 0 })
    }

    /// Input dropout acts in training only: at inference the head is the one without it.
    @Test func bagOfWordsInputDropoutTrainsOnly() {
        func head(_ inputDropout: Double) -> BagOfWordsHead<Double> {
            var rng = SeededRandom(seed: 86)
            return BagOfWordsHead<Double>(inputDimension: 4, hiddenSize: 5, classes: 2, pooling: .mean, activation: .none,
                                          dropout: 0, inputDropout: inputDropout, rng: &rng)
        }
        let x = randomParameter("x", [3, 4, 4], seed: 87).value, lengths = [4, 2, 1]
        var rng = SeededRandom(seed: 88)
        let plain = head(0).forward(x, lengths: lengths, training: true, rng: &rng).0
        let dropped = head(0.5)
        #expect(dropped.forward(x, lengths: lengths, training: false, rng: &rng).0.scalars == plain.scalars)
        #expect(dropped.forward(x, lengths: lengths, training: true, rng: &rng).0.scalars != plain.scalars)
    }

    @Test func scalarMix() {
        let mix = ScalarMix<Double>(layers: 3)
        mix.weights.value = Tensor(shape: [3], scalars: [0.3, -0.5, 0.1])
        mix.gamma.value = Tensor(shape: [1], scalars: [1.4])
        let layers = (0..<3).map { randomParameter("h\($0)", [2, 5], seed: 90 + UInt64($0)) }
        let loss = ProjectionLoss(shape: [2, 5], seed: 95)
        let result = GradientChecker.check(mix.parameters + layers) {
            loss.value(mix.forward(layers.map(\.value)))
        } backward: {
            let out = mix.forward(layers.map(\.value))
            for (p, g) in zip(layers, mix.backward(loss.gradient(like: out), layers: layers.map(\.value))) { p.accumulate(g) }
        }
        #expect(result.maxRelativeError <= Self.tolerance, "\(result)")
    }

    /// --trainable: the classifier's gradient reaches the scalar mix, every LSTM layer and the char-CNN.
    @Test(arguments: ["mix", "top", "average"])
    func trainableELMoEncoder(_ layers: String) throws {
        let vocabulary = try Vocabulary(tokens: ["the", "cat", "sat"])
        var rng = SeededRandom(seed: 101)
        let model = BidirectionalLM<Double>(options: ModelGradientTests.miniOptions(), vocabularySize: vocabulary.count, rng: &rng)
        for p in model.parameters where p.name.contains("lstm") || p.name.contains("conv") { rng.fillUniform(&p.value, -0.7, 0.7) }
        let encoder = ELMoEncoder(embedder: ELMoEmbedder(model: model, vocabulary: vocabulary),
                                  choice: .init(rawValue: layers)!, trainable: true)
        if let mix = encoder.mix { mix.weights.value = Tensor(shape: [3], scalars: [0.2, -0.4, 0.3]) }
        let sentences = [["the", "cat", "sat"], ["a", "dög"]]
        let loss = ProjectionLoss(shape: [2, 5, encoder.dimension], seed: 102)
        let checked = encoder.parameters
        #expect(checked.contains { $0.name.hasPrefix("char_cnn.conv") } && checked.contains { $0.name.hasPrefix("lstm.backward.layer_1") })
        #expect(!checked.contains { $0.name.hasPrefix("softmax") })
        let result = GradientChecker.check(checked, samplesPerTensor: 25) {
            loss.value(encoder.forwardVectors(sentences).vectors)
        } backward: {
            let (vectors, _, cache) = encoder.forwardVectors(sentences)
            encoder.backwardVectors(loss.gradient(like: vectors), cache: cache)
        }
        #expect(result.maxRelativeError <= Self.tolerance, "\(layers): \(result)")
        #expect(result.elementsChecked > 300)
    }
}
