import Foundation
import Framework
import Models
import Testing
import TestSupport

/// Float64 central-difference checks of the ELMo layers (max relative error ≤ 1e-6).
@Suite("Gradient checks: ELMo layers")
struct ModelGradientTests {
    static let tolerance = 1e-6

    static func chars(_ tokens: [String]) -> [Int32] { tokens.flatMap { CharacterIDs.encode($0) } }

    @Test("Highway: both linear maps and the input")
    func highway() {
        var rng = SeededRandom(seed: 11)
        let layer = Highway<Double>(name: "hw", dimension: 6, rng: &rng)
        for p in layer.parameters { rng.fillUniform(&p.value, -0.8, 0.8) }
        let x = randomParameter("x", [4, 6], seed: 12)
        let loss = ProjectionLoss(shape: [4, 6], seed: 13)
        let result = GradientChecker.check(layer.parameters + [x]) {
            loss.value(layer.forward(x.value).output)
        } backward: {
            let (y, cache) = layer.forward(x.value)
            x.accumulate(layer.backward(loss.gradient(like: y), cache: cache))
        }
        #expect(result.maxRelativeError <= Self.tolerance, "\(result)")
    }

    @Test("Char-CNN: embedding, convolutions + max-pool + relu, highway, projection; repeated tokens computed once")
    func charCNN() {
        var rng = SeededRandom(seed: 21)
        let cnn = CharCNN<Double>(embeddingDim: 3, filters: [(1, 2), (2, 3), (3, 2)], highwayCount: 1, outputDim: 4, rng: &rng)
        for p in cnn.parameters where p.name.contains("conv") { rng.fillUniform(&p.value, -0.6, 0.6) }
        // "a" twice: the network runs once for it and its two gradients add up.
        let chars = Self.chars(["<S>", "héllo", "a", "</S>", "zz", "a"])
        let loss = ProjectionLoss(shape: [6, 4], seed: 22)
        let result = GradientChecker.check(cnn.parameters, samplesPerTensor: 80) {
            loss.value(cnn.forward(chars: chars).output)
        } backward: {
            let (y, cache) = cnn.forward(chars: chars)
            cnn.backward(loss.gradient(like: y), cache: cache)
        }
        #expect(result.maxRelativeError <= Self.tolerance, "\(result)")
        #expect(result.elementsChecked > 250)
    }

    static func lstmCheck(projection: Int?, cellClip: Double?, projectionClip: Double?, steps: Int, seed: UInt64,
                          resets: StateResets? = nil)
        -> (result: GradientCheckResult, clippedCells: Int, clippedOutputs: Int) {
        var rng = SeededRandom(seed: seed)
        let layer = LSTMLayer<Double>(name: "lstm", inputSize: 3, cellSize: 4, projectionSize: projection,
                                      cellClip: cellClip, projectionClip: projectionClip, rng: &rng)
        for p in layer.parameters { rng.fillUniform(&p.value, -0.9, 0.9) }
        let h = layer.outputSize, b = 2
        let x = randomParameter("x", [steps * b, 3], seed: seed + 1)
        let initial = LSTMState<Double>(cell: randomParameter("c0", [b, 4], seed: seed + 2).value,
                                        hidden: randomParameter("h0", [b, h], seed: seed + 3, scale: 0.5).value)
        let loss = ProjectionLoss(shape: [steps * b, h], seed: seed + 4)
        let result = GradientChecker.check(layer.parameters + [x]) {
            loss.value(layer.forward(x.value, steps: steps, initial: initial, resets: resets).output)
        } backward: {
            let (y, cache, _) = layer.forward(x.value, steps: steps, initial: initial, resets: resets)
            x.accumulate(layer.backward(loss.gradient(like: y), cache: cache))
        }
        let (y, cache, _) = layer.forward(x.value, steps: steps, initial: initial, resets: resets)
        var clippedCells = 0
        for t in 0..<steps { for r in 0..<b { clippedCells += cache.state(afterStep: t, row: r).cell.filter { abs($0) == cellClip }.count } }
        return (result, clippedCells, y.scalars.filter { abs($0) == projectionClip }.count)
    }

    @Test("LSTM with projection, BPTT through 6 steps from a carried state")
    func lstmWithProjection() {
        let (result, _, _) = Self.lstmCheck(projection: 2, cellClip: nil, projectionClip: nil, steps: 6, seed: 31)
        #expect(result.maxRelativeError <= Self.tolerance, "\(result)")
    }

    @Test("LSTM without projection (the paddle preset's cell)")
    func lstmWithoutProjection() {
        let (result, _, _) = Self.lstmCheck(projection: nil, cellClip: nil, projectionClip: nil, steps: 5, seed: 41)
        #expect(result.maxRelativeError <= Self.tolerance, "\(result)")
    }

    @Test("LSTM with projection and active cell/projection clipping (the small preset's cell)")
    func lstmWithClipping() {
        // Clips low enough that some cells and outputs are clipped: their gradient is zero.
        let (result, clippedCells, clippedOutputs) = Self.lstmCheck(projection: 2, cellClip: 0.6, projectionClip: 0.35, steps: 6, seed: 51)
        #expect(result.maxRelativeError <= Self.tolerance, "\(result)")
        #expect(clippedCells > 0 && clippedOutputs > 0, "clipping never active: \(clippedCells) cells, \(clippedOutputs) outputs")
    }

    @Test("LSTM with state resets inside the window (sentence starts from a zero state)")
    func lstmWithResets() {
        var resets = StateResets(steps: 6, rows: 2)
        resets.reset(step: 0, row: 1)
        resets.reset(step: 2, row: 0)
        resets.reset(step: 4, row: 0)
        resets.reset(step: 4, row: 1)
        let (result, _, _) = Self.lstmCheck(projection: 2, cellClip: 0.8, projectionClip: 0.6, steps: 6, seed: 61, resets: resets)
        #expect(result.maxRelativeError <= Self.tolerance, "\(result)")
    }

    @Test("A reset row continues exactly as a fresh run from a zero state; other rows are untouched")
    func resetMatchesFreshStart() {
        var rng = SeededRandom(seed: 71)
        let layer = LSTMLayer<Double>(name: "lstm", inputSize: 3, cellSize: 4, projectionSize: 2,
                                      cellClip: 3, projectionClip: 3, rng: &rng)
        for p in layer.parameters { rng.fillUniform(&p.value, -0.9, 0.9) }
        let steps = 5, b = 2, h = 2, resetStep = 2
        let x = randomParameter("x", [steps * b, 3], seed: 72).value
        let initial = LSTMState<Double>(cell: randomParameter("c0", [b, 4], seed: 73).value,
                                        hidden: randomParameter("h0", [b, h], seed: 74).value)
        var resets = StateResets(steps: steps, rows: b)
        resets.reset(step: resetStep, row: 1)
        let withReset = layer.forward(x, steps: steps, initial: initial, resets: resets).output
        let plain = layer.forward(x, steps: steps, initial: initial).output
        // Row 1 from step 2 on, alone from a zero state: batch of one over the suffix.
        let suffix = Tensor<Double>(shape: [steps - resetStep, 3],
                                    scalars: (resetStep..<steps).flatMap { t in x.scalars[((t * b + 1) * 3)..<((t * b + 2) * 3)] })
        let fresh = layer.forward(suffix, steps: steps - resetStep, initial: .zeros(batch: 1, cellSize: 4, outputSize: h)).output
        for t in 0..<steps {
            for k in 0..<h {
                let got = withReset.scalars[(t * b + 1) * h + k]
                let want = t < resetStep ? plain.scalars[(t * b + 1) * h + k] : fresh.scalars[(t - resetStep) * h + k]
                #expect(abs(got - want) <= 1e-12, "row 1 step \(t)")
                #expect(withReset.scalars[(t * b) * h + k] == plain.scalars[(t * b) * h + k], "row 0 step \(t)")
            }
        }
        #expect(withReset.scalars != plain.scalars, "the reset changed nothing")
    }

    /// Float runs the LSTM cells in C (8 lanes, AVX2 where present), Double the Swift loops the checks above
    /// verify: on the same weights and inputs, with resets and both clips active, and a cell size that leaves
    /// a ragged tail, they must agree to float precision.
    ///
    /// The per-step products run through OpenBLAS or oneDNN (weights packed once per pass; bfloat16 where the CPU
    /// has it, at bfloat16's tolerance); the larger shape splits every product across two cores.
    @Test("LSTM in Float (C kernels) matches the grad-checked Double path",
          arguments: [(nil, 13), (5, 13), (36, 40)] as [(Int?, Int)], ["openblas", "onednn", "onednn-bf16"])
    func floatMatchesDouble(shape: (projection: Int?, cell: Int), backend: String) {
        if backend == "onednn-bf16" && !PackedMatmul.bfloat16Available { return }   // refused on such CPUs: PackedMatmulTests
        let projection = shape.projection
        var rng = SeededRandom(seed: 81)
        let steps = 6, b = 3, i = 5, c = shape.cell
        let reference = LSTMLayer<Double>(name: "lstm", inputSize: i, cellSize: c, projectionSize: projection,
                                          cellClip: 1.2, projectionClip: 0.7, rng: &rng)
        for p in reference.parameters { rng.fillUniform(&p.value, -0.9, 0.9) }
        let fast = LSTMLayer<Float>(name: "lstm", inputSize: i, cellSize: c, projectionSize: projection,
                                    cellClip: 1.2, projectionClip: 0.7, rng: &rng)
        for (f, d) in zip(fast.parameters, reference.parameters) { f.value.scalars = d.value.scalars.map(Float.init) }
        fast.stepProducts = StepKernels.ProductBackend(name: backend)!
        let bfloat16 = backend == "onednn-bf16"
        let h = reference.outputSize
        let x = randomParameter("x", [steps * b, i], seed: 82).value
        let c0 = randomParameter("c0", [b, c], seed: 83).value, h0 = randomParameter("h0", [b, h], seed: 84).value
        let dy = randomParameter("dy", [steps * b, h], seed: 85).value
        var resets = StateResets(steps: steps, rows: b)
        resets.reset(step: 2, row: 1)
        resets.reset(step: 4, row: 0)
        func float(_ t: Tensor<Double>) -> Tensor<Float> { Tensor(shape: t.shape, scalars: t.scalars.map(Float.init)) }
        let (y64, cache64, _) = reference.forward(x, steps: steps, initial: LSTMState(cell: c0, hidden: h0), resets: resets)
        let dx64 = reference.backward(dy, cache: cache64)
        let (y32, cache32, _) = fast.forward(float(x), steps: steps, initial: LSTMState(cell: float(c0), hidden: float(h0)), resets: resets)
        let dx32 = fast.backward(float(dy), cache: cache32)
        func worst(_ a: [Float], _ b: [Double]) -> Double {
            zip(a, b).map { abs(Double($0) - $1) / max(1, abs($1)) }.max() ?? 0
        }
        if bfloat16 {
            // 8 significant bits per product input: outputs to ≈ 1 %; a clip that one side reaches and the other
            // not moves single gradient entries a lot, so gradients are compared as directions (0.97–0.99 seen at
            // these saturating weights; a wrong layout or transpose gives ≈ 0).
            func cosine(_ a: [Float], _ b: [Double]) -> Double {
                let dot = zip(a, b).reduce(0.0) { $0 + Double($1.0) * $1.1 }
                return dot / (a.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot() * b.reduce(0.0) { $0 + $1 * $1 }.squareRoot())
            }
            #expect(worst(y32.scalars, y64.scalars) <= 2e-2, "outputs")
            #expect(cosine(dx32.scalars, dx64.scalars) >= 0.95, "input gradient")
            for (f, d) in zip(fast.parameters, reference.parameters) {
                #expect(cosine(f.grad.scalars, d.grad.scalars) >= 0.95, "\(f.name) gradient")
            }
        } else {
            #expect(worst(y32.scalars, y64.scalars) <= 2e-6, "outputs")
            #expect(worst(dx32.scalars, dx64.scalars) <= 1e-5, "input gradient")
            for (f, d) in zip(fast.parameters, reference.parameters) {
                #expect(worst(f.grad.scalars, d.grad.scalars) <= 1e-5, "\(f.name) gradient")
            }
        }
        // The clips were reached (otherwise this would not test them).
        let clippedCells = (0..<steps).flatMap { t in (0..<b).flatMap { r in cache64.state(afterStep: t, row: r).cell } }
        #expect(clippedCells.contains { abs($0) >= 1.2 })
        #expect(y64.scalars.contains { abs($0) >= 0.7 })
    }

    /// oneDNN's packs are rebuilt only when the weights change: an in-place update (as an optimizer makes) between
    /// two passes must reach the second pass, whose output then matches OpenBLAS's on the new weights.
    @Test func packedProductsFollowWeightUpdates() {
        var rng = SeededRandom(seed: 91)
        let steps = 4, b = 2, i = 6, c = 40
        let packed = LSTMLayer<Float>(name: "lstm", inputSize: i, cellSize: c, projectionSize: 36, cellClip: 3, projectionClip: 3, rng: &rng)
        let plain = LSTMLayer<Float>(name: "lstm", inputSize: i, cellSize: c, projectionSize: 36, cellClip: 3, projectionClip: 3, rng: &rng)
        packed.stepProducts = .oneDNN(.float32)
        plain.stepProducts = .openBLAS
        func copyWeights() { for (p, q) in zip(packed.parameters, plain.parameters) { q.value = p.value } }
        copyWeights()
        let x = Tensor<Float>(shape: [steps * b, i], scalars: (0..<(steps * b * i)).map { _ in Float(rng.unitDouble() * 2 - 1) })
        let zero = LSTMState<Float>.zeros(batch: b, cellSize: c, outputSize: 36)
        let before = packed.forward(x, steps: steps, initial: zero).output
        for p in packed.parameters { p.value.withUnsafeMutableBufferPointer { w in for k in w.indices { w[k] *= 1.5 } } }
        copyWeights()
        let after = packed.forward(x, steps: steps, initial: zero).output
        let reference = plain.forward(x, steps: steps, initial: zero).output
        #expect(zip(after.scalars, reference.scalars).allSatisfy { abs($0 - $1) <= 1e-5 }, "the second pass used stale packs")
        #expect(before.scalars != after.scalars)
    }

    /// A server's batches come in every size: each size packs its own weights, and only the last few stay packed. A
    /// size packed again after its eviction still gives OpenBLAS's numbers.
    @Test func packedProductsStayBoundedOverManyBatchSizes() {
        var rng = SeededRandom(seed: 92)
        let steps = 3, i = 5, c = 24
        let packed = LSTMLayer<Float>(name: "lstm", inputSize: i, cellSize: c, projectionSize: 16, cellClip: 3, projectionClip: 3, rng: &rng)
        let plain = LSTMLayer<Float>(name: "lstm", inputSize: i, cellSize: c, projectionSize: 16, cellClip: 3, projectionClip: 3, rng: &rng)
        packed.stepProducts = .oneDNN(.float32)
        plain.stepProducts = .openBLAS
        for (p, q) in zip(packed.parameters, plain.parameters) { q.value = p.value }
        let sizes = Array(1...(LSTMLayer<Float>.maxPackedShapes + 4)) + [1, 2]
        for b in sizes {
            let x = Tensor<Float>(shape: [steps * b, i], scalars: (0..<(steps * b * i)).map { _ in Float(rng.unitDouble() * 2 - 1) })
            let zero = LSTMState<Float>.zeros(batch: b, cellSize: c, outputSize: 16)
            let got = packed.forward(x, steps: steps, initial: zero).output, want = plain.forward(x, steps: steps, initial: zero).output
            #expect(zip(got.scalars, want.scalars).allSatisfy { abs($0 - $1) <= 1e-5 }, "batch size \(b)")
            #expect(packed.packedShapeCount <= LSTMLayer<Float>.maxPackedShapes)
        }
        #expect(packed.packedShapeCount == LSTMLayer<Float>.maxPackedShapes)
    }

    static func miniOptions(skip: Bool = true) -> BiLMOptions {
        BiLMOptions(cellSize: 4, projectionDim: 3, layerCount: 2, cellClip: 3, projectionClip: 3, skipConnections: skip,
                    charEmbeddingDim: 3, filters: [[1, 2], [2, 3]], highwayCount: 1, maxCharactersPerToken: 50,
                    activation: "relu")
    }

    static func miniBatch(vocabulary: Vocabulary) throws -> LMBatch {
        let sentences = [["the", "cat", "sat"], ["a", "dög"], ["on", "the", "mat", "xyz"], ["cat"]]
        var rows: [[EncodedSentence]] = [[], []]
        for (i, s) in sentences.enumerated() { rows[i % 2].append(EncodedSentence(words: s, vocabulary: vocabulary)) }
        return makeBatch(rows: rows, steps: 4)
    }

    /// A window built by hand from per-row sentences (same layout as StreamBatcher).
    static func makeBatch(rows: [[EncodedSentence]], steps: Int) -> LMBatch {
        let b = rows.count, width = CharacterIDs.tokenLength
        var batch = LMBatch(rows: b, steps: steps,
                            forwardChars: .init(repeating: 0, count: steps * b * width),
                            backwardChars: .init(repeating: 0, count: steps * b * width),
                            forwardTargets: .init(repeating: 0, count: steps * b),
                            backwardTargets: .init(repeating: 0, count: steps * b),
                            mask: .init(repeating: true, count: steps * b))
        for (r, sentences) in rows.enumerated() {
            var t = 0
            for s in sentences {
                for k in 0..<s.predictionCount where t < steps {
                    let slot = t * b + r
                    batch.forwardTargets[slot] = s.wordIDs[s.index(k + 1, backward: false)]
                    batch.backwardTargets[slot] = s.wordIDs[s.index(k + 1, backward: true)]
                    for c in 0..<width {
                        batch.forwardChars[slot * width + c] = s.chars[s.index(k, backward: false) * width + c]
                        batch.backwardChars[slot * width + c] = s.chars[s.index(k, backward: true) * width + c]
                    }
                    t += 1
                }
            }
        }
        return batch
    }

    static func bilmCheck(sampled: Bool, dropout: Double, skip: Bool = true) throws -> GradientCheckResult {
        let vocabulary = try Vocabulary(tokens: ["the", "cat", "sat", "a", "on", "mat"])
        var rng = SeededRandom(seed: 61)
        let model = BidirectionalLM<Double>(options: miniOptions(skip: skip), vocabularySize: vocabulary.count, rng: &rng)
        for p in model.parameters where p.name.contains("lstm") || p.name.contains("conv") { rng.fillUniform(&p.value, -0.7, 0.7) }
        let batch = try miniBatch(vocabulary: vocabulary)
        let sample = CandidateSample(candidates: [4, 1, 6, 0], tries: 7, vocabularySize: vocabulary.count)
        func run() -> (BidirectionalLM<Double>.LossReport, BidirectionalLM<Double>.StepCache) {
            var states = model.zeroStates(batch: 2)
            var dropoutRNG = SeededRandom(seed: 99)   // the same dropout masks on every evaluation
            return model.loss(batch, states: &states, dropoutRate: dropout, training: dropout > 0,
                              rng: &dropoutRNG, fixedSample: sampled ? sample : nil)
        }
        return GradientChecker.check(model.parameters, samplesPerTensor: 40) {
            run().0.mean
        } backward: {
            let (_, cache) = run()
            model.backward(cache, dLoss: 1, dropoutRate: dropout)
        }
    }

    @Test("BiLM end to end, full softmax, dropout, skip connection")
    func bilmFull() throws {
        let result = try Self.bilmCheck(sampled: false, dropout: 0.3)
        #expect(result.maxRelativeError <= Self.tolerance, "\(result)")
        #expect(result.elementsChecked > 400)
    }

    @Test("BiLM end to end, sampled softmax with fixed candidates (one an accidental hit), no skip")
    func bilmSampled() throws {
        let result = try Self.bilmCheck(sampled: true, dropout: 0, skip: false)
        #expect(result.maxRelativeError <= Self.tolerance, "\(result)")
    }

    @Test("Sampled softmax alone: log-Q correction and removed accidental hits")
    func sampledSoftmax() {
        var rng = SeededRandom(seed: 71)
        let layer = SoftmaxOutput<Double>(vocabularySize: 10, inputSize: 3, rowSparse: true, rng: &rng)
        rng.fillUniform(&layer.bias.value, -0.5, 0.5)
        let h = randomParameter("h", [5, 3], seed: 72)
        let targets: [Int32] = [2, 7, 2, 0, 9]
        let sample = CandidateSample(candidates: [7, 3, 0, 5], tries: 6, vocabularySize: 10)
        let result = GradientChecker.check(layer.parameters + [h]) {
            Double(layer.sampledLoss(h.value, targets: targets, mask: [true, true, false, true, true], sample: sample).0.mean)
        } backward: {
            let (_, cache) = layer.sampledLoss(h.value, targets: targets, mask: [true, true, false, true, true], sample: sample)
            h.accumulate(layer.backward(cache: cache, dLoss: 1))
        }
        #expect(result.maxRelativeError <= Self.tolerance, "\(result)")
        #expect(Set(layer.weight.touchedRows) == [7, 3, 0, 5, 2, 9])
    }
}
