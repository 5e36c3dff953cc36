import Foundation
import Framework
import Models
import Testing
import TestSupport

/// The `tiny` BiLM against an independent numpy implementation (Tests/Golden/generate/bilm_reference.py):
/// same float32 weights, same sentences; every layer's output, the loss and every parameter gradient.
@Suite("BiLM matches the numpy reference")
struct BiLMGoldenTests {
    static let weightsPrefix = RepositoryPaths.path("Tests/Golden/Resources/bilm-tiny-weights")
    static let goldenPath = RepositoryPaths.path("Tests/Golden/Resources/bilm-tiny-golden.safetensors")
    /// The golden contract: ≤ 1e-5 in Float32, relative to the tensor's largest magnitude when that exceeds 1.
    static let tolerance = 1e-5

    let golden: SafeTensors
    let model: BidirectionalLM<Float>
    let vocabulary: Vocabulary

    init() throws {
        golden = try SafeTensors.read(path: Self.goldenPath)
        (model, vocabulary) = try BiLMCheckpoint.loadModel(Self.weightsPrefix)
    }

    func reference(_ name: String) throws -> [Double] {
        guard let t = golden[name] else { throw InputError("golden tensor \(name) missing") }
        if t.dtype == .i64 { return try t.integers(name: name, source: "golden").map(Double.init) }
        return try t.floatingPoint(Double.self, name: name, source: "golden").scalars
    }

    /// Batch-major [B, T, …] reference → time-major rows as the model computes them.
    func timeMajor(_ values: [Double], rows: Int, steps: Int) -> [Double] {
        let width = values.count / (rows * steps)
        var out = [Double](repeating: 0, count: values.count)
        for b in 0..<rows { for t in 0..<steps { for j in 0..<width { out[(t * rows + b) * width + j] = values[(b * steps + t) * width + j] } } }
        return out
    }

    func expectClose(_ actual: [Float], _ expected: [Double], _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(actual.count == expected.count, "\(what): \(actual.count) values, reference has \(expected.count)", sourceLocation: sourceLocation)
        let scale = max(1, expected.map(abs).max() ?? 0)
        var worst = 0.0, at = 0
        for (i, (a, e)) in zip(actual, expected).enumerated() where abs(Double(a) - e) > worst {
            worst = abs(Double(a) - e)
            at = i
        }
        #expect(worst <= Self.tolerance * scale, "\(what): max |Δ| \(worst) at \(at) (scale \(scale))", sourceLocation: sourceLocation)
    }

    /// The rows' sentences written as a corpus, read back through the real data path.
    func batchFromCorpus() throws -> LMBatch {
        let rows = try JSONSerialization.jsonObject(with: Data(golden.metadata["rows"]!.utf8)) as! [[[String]]]
        let directory = RepositoryPaths.temporaryDirectory("golden-corpus")
        let path = "\(directory)/corpus.txt"
        try (rows.flatMap { $0 }.map { $0.joined(separator: " ") }.joined(separator: "\n") + "\n")
            .write(toFile: path, atomically: true, encoding: .utf8)
        let stream = try SentenceStream(corpus: Corpus(glob: path, role: "corpus"), vocabulary: vocabulary, seed: 0,
                                        shuffle: false, singlePass: true)
        return try StreamBatcher(stream: stream, rows: 2, steps: 6).next()!
    }

    @Test func dataPathProducesTheReferenceInputs() throws {
        let batch = try batchFromCorpus()
        for direction in ["forward", "backward"] {
            let chars = timeMajor(try reference("input.\(direction).chars"), rows: 2, steps: 6).map { Int32($0) }
            let targets = timeMajor(try reference("input.\(direction).targets"), rows: 2, steps: 6).map { Int32($0) }
            #expect(chars == (direction == "forward" ? batch.forwardChars : batch.backwardChars), "\(direction) chars")
            #expect(targets == (direction == "forward" ? batch.forwardTargets : batch.backwardTargets), "\(direction) targets")
        }
    }

    @Test func layerOutputsLossAndGradients() throws {
        let batch = try batchFromCorpus()
        var states = model.zeroStates(batch: 2)
        var rng = SeededRandom(seed: 0)
        model.zeroGradients()
        let (report, cache) = model.loss(batch, states: &states, dropoutRate: 0, training: false, rng: &rng)
        #expect(abs(Double(report.forward.mean) - (try reference("loss.forward"))[0]) <= Self.tolerance)
        #expect(abs(Double(report.backward.mean) - (try reference("loss.backward"))[0]) <= Self.tolerance)
        #expect(abs(Double(report.mean) - (try reference("loss"))[0]) <= Self.tolerance)

        let tokens = 12, d = model.charCNN.filterCount, p = model.tokenDim
        let convolution = cache.charCNN.convolutionOutput.scalars, highway = model.charCNN.highwayOutput(cache.charCNN).scalars
        for (k, direction) in Direction.allCases.enumerated() {
            let name = direction.rawValue
            expectClose(Array(convolution[(k * tokens * d)..<((k + 1) * tokens * d)]), timeMajor(try reference("cnn.\(name)"), rows: 2, steps: 6), "cnn.\(name)")
            expectClose(Array(highway[(k * tokens * d)..<((k + 1) * tokens * d)]), timeMajor(try reference("highway.\(name)"), rows: 2, steps: 6), "highway.\(name)")
            expectClose(Array(cache.tokenEmbeddings.scalars[(k * tokens * p)..<((k + 1) * tokens * p)]),
                        timeMajor(try reference("token_embedding.\(name)"), rows: 2, steps: 6), "token_embedding.\(name)")
            for l in 0..<2 {
                expectClose(cache.stack(direction).layerOutputs[l].scalars,
                            timeMajor(try reference("lstm.\(name).layer_\(l).output"), rows: 2, steps: 6), "lstm.\(name).layer_\(l).output")
                expectClose(states[direction][l].cell.scalars, try reference("lstm.\(name).layer_\(l).final_c"), "final_c \(name) \(l)")
                expectClose(states[direction][l].hidden.scalars, try reference("lstm.\(name).layer_\(l).final_h"), "final_h \(name) \(l)")
            }
        }
        model.backward(cache, dLoss: 1, dropoutRate: 0)
        for parameter in model.parameters {
            expectClose(parameter.grad.scalars, try reference("grad.\(parameter.name)"), "grad.\(parameter.name)")
        }
    }

    @Test func sampledSoftmaxWithFixedCandidates() throws {
        let batch = try batchFromCorpus()
        var states = model.zeroStates(batch: 2)
        var rng = SeededRandom(seed: 0)
        let (_, cache) = model.loss(batch, states: &states, dropoutRate: 0, training: false, rng: &rng)
        let top = cache.stack(.forward).layerOutputs.last!
        let candidates = try reference("sampled.candidates").map { Int32($0) }
        let tries = Int(try reference("sampled.num_tries")[0])
        let sample = CandidateSample(candidates: candidates, tries: tries, vocabularySize: vocabulary.count)
        model.zeroGradients()
        let (loss, softmaxCache) = model.softmax.sampledLoss(top, targets: batch.forwardTargets, mask: nil, sample: sample)
        #expect(abs(Double(loss.mean) - (try reference("sampled.loss.forward"))[0]) <= Self.tolerance)
        let dTop = model.softmax.backward(cache: softmaxCache, dLoss: 1)
        expectClose(dTop.scalars, timeMajor(try reference("sampled.grad.top"), rows: 2, steps: 6), "sampled.grad.top")
        expectClose(model.softmax.weight.grad.scalars, try reference("sampled.grad.softmax.weight"), "sampled.grad.softmax.weight")
        expectClose(model.softmax.bias.grad.scalars, try reference("sampled.grad.softmax.bias"), "sampled.grad.softmax.bias")
    }

    @Test func statelessEmbeddings() throws {
        let sentences = try JSONSerialization.jsonObject(with: Data(golden.metadata["embed_sentences"]!.utf8)) as! [[String]]
        let embedder = ELMoEmbedder(model: model, vocabulary: vocabulary)
        let vectors = embedder.encode(sentences)
        for (i, v) in vectors.enumerated() {
            #expect(v.shape == [3, sentences[i].count, 128])
            expectClose(v.scalars, try reference("embed.\(i)"), "embed.\(i)")
        }
        // Stateless: the same sentence alone or in another batch gives the same vectors.
        let alone = embedder.encode([sentences[2]])[0]
        #expect(alone.maxAbsDifference(vectors[2]) <= 1e-6)
    }
}
