import Framework
@testable import Models
import Testing

/// The softmax's [N, V] logits buffer is written in place from forward to backward and reused by the next
/// step. A second reference to it anywhere on the way (a cache copied out of an enum payload, a captured
/// variable) makes the first write duplicate it: 84 MB and 20,000 page faults per step at the bench
/// shape. These tests see that as a change of address.
@Suite("Buffer reuse")
struct BufferReuseTests {
    static func address<T>(_ tensor: Tensor<T>) -> UInt {
        tensor.scalars.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) }
    }

    @Test("Softmax cross-entropy backward writes into the forward's buffer, even from a cache held elsewhere")
    func crossEntropyBackwardInPlace() {
        var rng = SeededRandom(seed: 1)
        var logits = Tensor<Float>(shape: [4, 300])
        rng.fillUniform(&logits, -2, 2)
        let original = Self.address(logits)
        let (_, cache) = SoftmaxCrossEntropy.forward(logits: consume logits, targets: [0, 5, 299, 7])
        // Held inside another value, as the output layer and the language model hold it.
        var holder: [SoftmaxCrossEntropy<Float>.Cache] = [consume cache]
        let gradient = SoftmaxCrossEntropy.backward(takingFrom: &holder[0])
        #expect(Self.address(gradient) == original)
        #expect(holder[0].exponentials.count == 0, "the cache gave its buffer away")
    }

    @Test("The output layer reuses one logits buffer across steps (full and sampled, training and release)",
          arguments: [nil, 16] as [Int?])
    func outputLayerReusesLogits(sampled: Int?) {
        var rng = SeededRandom(seed: 2)
        let (tokens, dim, vocab) = (6, 8, 50)
        let layer = SoftmaxOutput<Float>(vocabularySize: vocab, inputSize: dim, rowSparse: sampled != nil, rng: &rng)
        var h = Tensor<Float>(shape: [tokens, dim])
        rng.fillUniform(&h, -1, 1)
        let targets = (0..<tokens).map { Int32($0 * 7 % vocab) }
        let sample = sampled.map { CandidateSample.draw(count: $0, vocabularySize: vocab, rng: &rng) }
        func loss() -> SoftmaxOutput<Float>.Cache {
            if let sample { return layer.sampledLoss(h, targets: targets, mask: nil, sample: sample).1 }
            return layer.fullLoss(h, targets: targets, mask: nil).1
        }
        _ = layer.backward(cache: loss(), dLoss: 1)
        #expect(layer.spareLogits.count == 1)
        let buffer = Self.address(layer.spareLogits[0])
        // Checked after every step: a copy freed and made again could land back on the first address two
        // copies later, so a check at the end alone might not see it.
        for step in 0..<3 {
            _ = layer.backward(cache: loss(), dLoss: 1)
            #expect(layer.spareLogits.count == 1 && Self.address(layer.spareLogits[0]) == buffer, "step \(step) copied the logits buffer")
            layer.release(loss())
            #expect(layer.spareLogits.count == 1 && Self.address(layer.spareLogits[0]) == buffer, "release \(step) copied the logits buffer")
        }
    }
}
