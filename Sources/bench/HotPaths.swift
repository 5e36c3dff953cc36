import ArgumentParser
import Foundation
import Framework
import Models
import Optimizers

/// Options every timing benchmark shares.
struct TimingOptions: ParsableArguments {
    @Option(help: "OpenBLAS threads (default: all cores).") var threads: Int?
    @Option(help: "Timed repetitions (after one warm-up).") var repeats = 5
    @Flag(help: "Print a JSON object as the last line.") var json = false

    func apply() throws {
        try requireReleaseBuild()
        if let threads {
            guard threads > 0 else { throw InputError("--threads \(threads): must be positive") }
            BLASRuntime.setThreads(threads)
        }
        guard repeats > 0 else { throw InputError("--repeats \(repeats): must be positive") }
    }
}

/// Median wall time of `body` over `repeats` runs after a warm-up.
func medianSeconds(_ repeats: Int, _ body: () -> Void) -> Double {
    body()
    var times: [Double] = []
    for _ in 0..<repeats {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
    return times.sorted()[times.count / 2]
}

/// Prints the standard report: tokens/s and GFLOP/s forward and forward+backward, the kernel, and JSON.
///
/// GFLOP/s are nominal where the char-CNN takes part: its work as a plain implementation does it (every
/// window of every token), though it skips repeated windows and tokens; `nominalFlops` says so in the output.
func report(_ name: String, shape: [(String, String)], tokens: Int, forwardSeconds: Double, trainSeconds: Double,
            forwardFlops: Double, trainFlops: Double, options: TimingOptions, ceiling: (gflops: Double, fraction: Double)? = nil,
            nominalFlops: Bool = false) {
    let shapeText = shape.map { "\($0.0) \($0.1)" }.joined(separator: ", ")
    print("\(name): \(shapeText)")
    print("  kernel \(BLASRuntime.coreName), \(BLASRuntime.threads) thread(s), elementwise \(FastMath.variant)")
    print(String(format: "  forward           %8.2f ms  %9.0f tokens/s  %6.1f GFLOP/s", forwardSeconds * 1e3,
                 Double(tokens) / forwardSeconds, forwardFlops / forwardSeconds / 1e9))
    print(String(format: "  forward+backward  %8.2f ms  %9.0f tokens/s  %6.1f GFLOP/s", trainSeconds * 1e3,
                 Double(tokens) / trainSeconds, trainFlops / trainSeconds / 1e9))
    if nominalFlops {
        print("  (GFLOP/s nominal: a plain char-CNN's work, every window of every token; this one skips repeats)")
    }
    if let ceiling {
        print(String(format: "  its GEMMs alone through OpenBLAS (bench gemm): %.1f GFLOP/s; forward+backward reaches %.0f %%",
                     ceiling.gflops, ceiling.fraction * 100))
    }
    if options.json {
        let fields = shape.map { "\(JSONText.quote($0.0.replacingOccurrences(of: "-", with: "_"))): \(Int($0.1).map(String.init) ?? JSONText.quote($0.1))" }
        print("{\"benchmark\": \(JSONText.quote(name)), " + fields.joined(separator: ", ")
              + ", \"threads\": \(BLASRuntime.threads), \"kernel\": \(JSONText.quote(BLASRuntime.coreName)), "
              + "\"elementwise\": \(JSONText.quote(FastMath.variant)), "
              + "\"forward_tokens_per_s\": \(JSONText.number((Double(tokens) / forwardSeconds).rounded())), "
              + "\"train_tokens_per_s\": \(JSONText.number((Double(tokens) / trainSeconds).rounded())), "
              + "\"gflops\": \(JSONText.number((trainFlops / trainSeconds / 1e8).rounded() / 10))"
              + (ceiling.map { ", \"gemm_ceiling_gflops\": \(JSONText.number(($0.gflops * 10).rounded() / 10)), "
                  + "\"fraction_of_gemm_ceiling\": \(JSONText.number(($0.fraction * 1000).rounded() / 1000))" } ?? "") + "}")
    }
}

func randomTensor(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor<Float> {
    var rng = SeededRandom(seed: seed)
    var t = Tensor<Float>(shape: shape)
    rng.fillUniform(&t, -scale, scale)
    return t
}

/// One GEMM of a workload: its shape, operand layouts and how many times one window runs it.
struct GemmShape {
    let name: String
    let m: Int, n: Int, k: Int
    var transA: Transpose = .none
    var transB: Transpose = .none
    var count = 1
    var flops: Double { 2 * Double(m) * Double(n) * Double(k) * Double(count) }
}

/// Every GEMM of one LSTM-with-projection window, forward and backward, as ``LSTMLayer`` runs them.
func lstmGemms(batch b: Int, steps t: Int, input i: Int, cell c: Int, projection p: Int) -> [GemmShape] {
    let g = 4 * c, h = p > 0 ? p : c, rows = t * b
    var list = [GemmShape(name: "fwd input projection (T·B × I × 4C)", m: rows, n: g, k: i),
                GemmShape(name: "fwd recurrent step (B × H × 4C)", m: b, n: g, k: h, count: t)]
    if p > 0 { list.append(GemmShape(name: "fwd projection step (B × C × P)", m: b, n: p, k: c, count: t)) }
    if p > 0 { list.append(GemmShape(name: "bwd d(unprojected) step (B × P × C)", m: b, n: c, k: p, transB: .transposed, count: t)) }
    list += [GemmShape(name: "bwd d(h) step (B × 4C × H)", m: b, n: h, k: g, transB: .transposed, count: t),
             GemmShape(name: "bwd d(input kernel) (I × T·B × 4C)", m: i, n: g, k: rows, transA: .transposed),
             GemmShape(name: "bwd d(recurrent kernel) (H × T·B × 4C)", m: h, n: g, k: rows, transA: .transposed)]
    if p > 0 { list.append(GemmShape(name: "bwd d(projection) (C × T·B × P)", m: c, n: p, k: rows, transA: .transposed)) }
    list.append(GemmShape(name: "bwd d(input) (T·B × 4C × I)", m: rows, n: i, k: g, transB: .transposed))
    return list
}

/// Median seconds of one OpenBLAS call at `shape` (operands random, as stored for its layouts).
func gemmSeconds(_ shape: GemmShape, repeats: Int) -> Double {
    let a = randomTensor(shape.transA == .none ? [shape.m, shape.k] : [shape.k, shape.m], seed: 1)
    let b = randomTensor(shape.transB == .none ? [shape.k, shape.n] : [shape.n, shape.k], seed: 2)
    var c = Tensor<Float>(shape: [shape.m, shape.n])
    return medianSeconds(repeats) { BLAS.matmul(a, b, into: &c, transposeA: shape.transA, transposeB: shape.transB) }
}

/// Median seconds of one oneDNN product at `shape` with B packed once (nil for shapes whose B is not a weight
/// matrix reused across calls, or when the precision is unavailable).
func packedSeconds(_ shape: GemmShape, precision: PackedMatmul.Precision, repeats: Int) -> Double? {
    guard shape.transA == .none, precision == .float32 || PackedMatmul.bfloat16Available else { return nil }
    let transposed = shape.transB == .transposed
    let a = randomTensor([shape.m, shape.k], seed: 1)
    let b = randomTensor(transposed ? [shape.n, shape.k] : [shape.k, shape.n], seed: 2)
    var c = Tensor<Float>(shape: [shape.m, shape.n])
    guard let product = try? b.withUnsafeBufferPointer({
        try PackedMatmul(m: shape.m, n: shape.n, k: shape.k, weights: $0.baseAddress!, ldb: transposed ? shape.k : shape.n,
                         transposedWeights: transposed, precision: precision)
    }) else { return nil }
    return a.withUnsafeBufferPointer { ap in
        c.withUnsafeMutableBufferPointer { cp in medianSeconds(repeats) { product.run(ap.baseAddress!, into: cp.baseAddress!) } }
    }
}

/// The window's GEMMs alone through OpenBLAS: (seconds, GFLOP/s) — the ceiling the layer is measured against.
func gemmCeiling(_ shapes: [GemmShape], repeats: Int, verbose: Bool) -> (seconds: Double, gflops: Double) {
    var seconds = 0.0, flops = 0.0
    for shape in shapes {
        let one = gemmSeconds(shape, repeats: repeats)
        seconds += one * Double(shape.count)
        flops += shape.flops
        if verbose {
            print("  " + shape.name.padding(toLength: 40, withPad: " ", startingAt: 0)
                  + String(format: " m %5d n %6d k %5d %@ ×%-3d %7.1f GFLOP/s", shape.m, shape.n, shape.k,
                           "\(shape.transA == .none ? "n" : "t")\(shape.transB == .none ? "n" : "t")", shape.count,
                           2 * Double(shape.m) * Double(shape.n) * Double(shape.k) / one / 1e9))
        }
    }
    return (seconds, flops / seconds / 1e9)
}

struct LSTMBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "lstm", abstract: "One LSTM-with-projection layer over a window.")
    @Option(help: "Streams.") var batchSize = 32
    @Option(help: "Steps.") var unrollSteps = 20
    @Option(help: "Input size.") var inputDim = 128
    @Option(help: "Cell size.") var hidden = 1024
    @Option(help: "Projection size (0 = none).") var proj = 128
    @Option(help: "fp32, or bf16: every product by a weight in bfloat16 (CPUs with AVX512-BF16 or AMX), as `elmo pretrain --precision`.")
    var precision = "fp32"
    @OptionGroup var options: TimingOptions

    func run() throws {
        try options.apply()
        let arithmetic = try ComputePrecision(flag: "--precision", value: precision)
        var rng = SeededRandom(seed: 1)
        let layer = LSTMLayer<Float>(name: "lstm", inputSize: inputDim, cellSize: hidden, projectionSize: proj > 0 ? proj : nil,
                                     cellClip: 3, projectionClip: 3, rng: &rng)
        layer.setComputePrecision(arithmetic)
        let x = randomTensor([unrollSteps * batchSize, inputDim], seed: 2)
        let state = LSTMState<Float>.zeros(batch: batchSize, cellSize: hidden, outputSize: layer.outputSize)
        let dOut = randomTensor([unrollSteps * batchSize, layer.outputSize], seed: 3, scale: 0.01)
        let forward = medianSeconds(options.repeats) { _ = layer.forward(x, steps: unrollSteps, initial: state) }
        let train = medianSeconds(options.repeats) {
            let (_, cache, _) = layer.forward(x, steps: unrollSteps, initial: state)
            _ = layer.backward(dOut, cache: cache)
            // Training changes the weights every step, and packed copies (oneDNN's step products) are then rebuilt:
            // count that too, as an optimizer step would cause it.
            for parameter in layer.parameters { parameter.value = parameter.value }
        }
        let tokens = Double(unrollSteps * batchSize), h = Double(layer.outputSize)
        let flops = 2 * tokens * (Double(inputDim) + h) * 4 * Double(hidden) + (proj > 0 ? 2 * tokens * Double(hidden) * Double(proj) : 0)
        // The ceiling is OpenBLAS's fp32 rate for the same GEMMs: a yardstick for fp32 only.
        let ceiling = arithmetic == .fp32
            ? gemmCeiling(lstmGemms(batch: batchSize, steps: unrollSteps, input: inputDim, cell: hidden, projection: proj),
                          repeats: options.repeats, verbose: false).gflops
            : nil
        report("lstm", shape: [("batch-size", "\(batchSize)"), ("unroll-steps", "\(unrollSteps)"), ("input-dim", "\(inputDim)"),
                               ("hidden", "\(hidden)"), ("proj", "\(proj)"), ("precision", precision)],
               tokens: Int(tokens), forwardSeconds: forward, trainSeconds: train, forwardFlops: flops, trainFlops: 3 * flops, options: options,
               ceiling: ceiling.map { ($0, 3 * flops / train / 1e9 / $0) })
    }
}

struct BiLSTMBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bilstm", abstract: "The ELMo stack: a forward and a backward 2-layer LSTM with skip connections.")
    @Option(help: "Streams.") var batchSize = 32
    @Option(help: "Steps.") var unrollSteps = 20
    @Option(help: "Input (= projection) size.") var inputDim = 128
    @Option(help: "Cell size.") var hidden = 1024
    @Option(help: "Projection size.") var proj = 128
    @OptionGroup var options: TimingOptions

    func run() throws {
        try options.apply()
        guard inputDim == proj else { throw InputError("--input-dim must equal --proj for the stack (skip connections)") }
        var rng = SeededRandom(seed: 1)
        let bilmOptions = BiLMOptions(cellSize: hidden, projectionDim: proj, layerCount: 2, cellClip: 3, projectionClip: 3,
                                      skipConnections: true, charEmbeddingDim: 4, filters: [[1, 4]], highwayCount: 0,
                                      maxCharactersPerToken: 50, activation: "relu")
        let model = BidirectionalLM<Float>(options: bilmOptions, vocabularySize: 4, rng: &rng)
        let x = randomTensor([unrollSteps * batchSize, proj], seed: 2)
        let dTop = randomTensor([unrollSteps * batchSize, proj], seed: 3, scale: 0.01)
        let dropout = Dropout<Float>(rate: 0)
        // As training runs them: the two directions side by side when there are two threads.
        func direction(_ direction: Direction, backward: Bool) {
            var states = model.zeroStates(batch: batchSize)[direction]
            var dropRNG = SeededRandom(seed: 4)
            let (_, cache) = model.runStack(direction, input: x, steps: unrollSteps, states: &states,
                                            dropout: dropout, training: false, rng: &dropRNG)
            if backward { _ = model.backwardStack(direction, dTop: dTop, cache: cache, dropout: dropout) }
        }
        func step(backward: Bool) {
            Parallel.both({ direction(.forward, backward: backward) }, { direction(.backward, backward: backward) })
        }
        let forward = medianSeconds(options.repeats) { step(backward: false) }
        let train = medianSeconds(options.repeats) { step(backward: true) }
        let tokens = Double(unrollSteps * batchSize)
        let perLayer = 2 * tokens * Double(2 * proj) * 4 * Double(hidden) + 2 * tokens * Double(hidden) * Double(proj)
        let flops = 4 * perLayer
        report("bilstm", shape: [("batch-size", "\(batchSize)"), ("unroll-steps", "\(unrollSteps)"), ("input-dim", "\(inputDim)"),
                                 ("hidden", "\(hidden)"), ("proj", "\(proj)")],
               tokens: Int(tokens), forwardSeconds: forward, trainSeconds: train, forwardFlops: flops, trainFlops: 3 * flops, options: options)
    }
}

struct SoftmaxBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "softmax", abstract: "Output layer + cross-entropy, full or sampled.")
    @Option(help: "Tokens.") var tokens = 640
    @Option(help: "Input size.") var dim = 128
    @Option(help: "Vocabulary size.") var vocab = 32768
    @Option(help: "Sampled softmax candidates (default: full).") var sampled: Int?
    @OptionGroup var options: TimingOptions

    func run() throws {
        try options.apply()
        if let sampled, sampled <= 0 || sampled >= vocab { throw InputError("--sampled \(sampled): must be in 1..<\(vocab)") }
        var rng = SeededRandom(seed: 1)
        let layer = SoftmaxOutput<Float>(vocabularySize: vocab, inputSize: dim, rowSparse: sampled != nil, rng: &rng)
        let h = randomTensor([tokens, dim], seed: 2)
        let targets = (0..<tokens).map { _ in Int32(rng.integer(below: vocab)) }
        // The candidates are drawn once, outside the timed loss (as the PyTorch script's randperm); the draw
        // is timed on its own line, since training pays it once per batch.
        var sample: CandidateSample?
        if let sampled {
            let drawSeconds = medianSeconds(options.repeats) {
                var sampleRNG = SeededRandom(seed: 3)
                sample = CandidateSample.draw(count: sampled, vocabularySize: vocab, rng: &sampleRNG)
            }
            print(String(format: "candidate draw (%d of %d, log-uniform, unique): %.2f ms, %d tries", sampled, vocab,
                         drawSeconds * 1e3, sample!.tries))
        }
        func loss() -> (SoftmaxOutput<Float>.Loss, SoftmaxOutput<Float>.Cache) {
            if let sample { return layer.sampledLoss(h, targets: targets, mask: nil, sample: sample) }
            return layer.fullLoss(h, targets: targets, mask: nil)
        }
        // Forward alone hands its buffer back as evaluation does (`release`), so each forward reuses it.
        let forward = medianSeconds(options.repeats) { layer.release(loss().1) }
        let train = medianSeconds(options.repeats) {
            layer.weight.zeroGrad()
            let (_, cache) = loss()
            _ = layer.backward(cache: cache, dLoss: 1)
        }
        let classes = Double(sampled ?? vocab)
        let flops = 2 * Double(tokens) * Double(dim) * classes
        report("softmax", shape: [("tokens", "\(tokens)"), ("dim", "\(dim)"), ("vocab", "\(vocab)"), ("sampled", sampled.map(String.init) ?? "full")],
               tokens: tokens, forwardSeconds: forward, trainSeconds: train, forwardFlops: flops, trainFlops: 3 * flops, options: options)
    }
}

struct CharCNNBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "charcnn", abstract: "Char-CNN + highway + projection of a preset.")
    @Option(help: "Tokens.") var tokens = 640
    @Option(help: "Preset or options.json.") var config = "small"
    @OptionGroup var options: TimingOptions

    func run() throws {
        try options.apply()
        let bilm = try BiLMOptions.resolve(config)
        var rng = SeededRandom(seed: 1)
        let cnn = CharCNN<Float>(embeddingDim: bilm.charEmbeddingDim, filters: bilm.filters.map { (width: $0[0], count: $0[1]) },
                                 highwayCount: bilm.highwayCount, outputDim: bilm.projectionDim, rng: &rng)
        let letters = Array("abcdefghijklmnopqrstuvwxyz")
        let words = (0..<tokens).map { _ in String((0..<(2 + rng.integer(below: 9))).map { _ in letters[rng.integer(below: 26)] }) }
        let chars = words.flatMap { CharacterIDs.encode($0) }
        let dOut = randomTensor([tokens, cnn.outputDim], seed: 2, scale: 0.01)
        let forward = medianSeconds(options.repeats) { _ = cnn.forward(chars: chars) }
        let train = medianSeconds(options.repeats) {
            cnn.zeroGradients()
            let (_, cache) = cnn.forward(chars: chars)
            cnn.backward(dOut, cache: cache)
        }
        let e = Double(bilm.charEmbeddingDim), d = Double(cnn.filterCount)
        var flops = bilm.filters.reduce(0.0) { $0 + 2 * Double(50 - $1[0] + 1) * Double($1[0]) * e * Double($1[1]) } * Double(tokens)
        flops += Double(bilm.highwayCount) * 2 * 2 * d * d * Double(tokens) + 2 * d * Double(bilm.projectionDim) * Double(tokens)
        report("charcnn", shape: [("tokens", "\(tokens)"), ("config", config)],
               tokens: tokens, forwardSeconds: forward, trainSeconds: train, forwardFlops: flops, trainFlops: 3 * flops, options: options,
               nominalFlops: true)
    }
}

struct GemmBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "gemm", abstract: "sgemm GFLOP/s at the LSTM and softmax shapes.")
    @Option(help: "Streams.") var batchSize = 32
    @Option(help: "Steps.") var unrollSteps = 20
    @Option(help: "Input size.") var inputDim = 128
    @Option(help: "Cell size.") var hidden = 1024
    @Option(help: "Projection size.") var proj = 128
    @Option(help: "Vocabulary size.") var vocab = 32768
    @OptionGroup var options: TimingOptions

    func run() throws {
        try options.apply()
        let tokens = batchSize * unrollSteps
        let shapes: [(String, Int, Int, Int)] = [
            ("lstm input projection (T·B × I × 4C)", tokens, 4 * hidden, inputDim),
            ("lstm recurrent step (B × P × 4C)", batchSize, 4 * hidden, proj),
            ("lstm projection step (B × C × P)", batchSize, proj, hidden),
            ("softmax logits (tokens × P × V)", tokens, vocab, proj),
            ("square 2048", 2048, 2048, 2048),
        ]
        print("gemm: kernel \(BLASRuntime.coreName), \(BLASRuntime.threads) thread(s)")
        var results: [String] = []
        for (name, m, n, k) in shapes {
            let seconds = gemmSeconds(GemmShape(name: name, m: m, n: n, k: k), repeats: options.repeats)
            let gflops = 2 * Double(m) * Double(n) * Double(k) / seconds / 1e9
            print("  " + name.padding(toLength: 40, withPad: " ", startingAt: 0)
                  + String(format: " m %5d n %6d k %5d  %7.1f GFLOP/s", m, n, k, gflops))
            results.append("{\"shape\": \(JSONText.quote(name)), \"m\": \(m), \"n\": \(n), \"k\": \(k), \"gflops\": \(JSONText.number((gflops * 10).rounded() / 10))}")
        }
        print("one lstm window (forward + backward), every GEMM (layouts nn/nt/tn, × calls per window):")
        let window = lstmGemms(batch: batchSize, steps: unrollSteps, input: inputDim, cell: hidden, projection: proj)
        let ceiling = gemmCeiling(window, repeats: options.repeats, verbose: true)
        print(String(format: "  all of them: %.2f ms, %.1f GFLOP/s (the ceiling bench lstm compares itself with)",
                     ceiling.seconds * 1e3, ceiling.gflops))
        // The per-step products, whose B is a weight matrix used T times: OpenBLAS (packing B at every call)
        // against oneDNN with B packed once, as fractions of the square GEMM's rate.
        let square = GemmShape(name: "square", m: 2048, n: 2048, k: 2048)
        let squareRate = square.flops / gemmSeconds(square, repeats: options.repeats) / 1e9
        PackedMatmul.setThreads(BLASRuntime.threads)
        print(String(format: "per-step products, GFLOP/s and (fraction of OpenBLAS's square 2048: %.1f GFLOP/s); oneDNN %@, "
                     + "kernels chosen by CPU (%@):", squareRate, PackedMatmul.version, PackedMatmul.isaName))
        print("  " + "shape".padding(toLength: 40, withPad: " ", startingAt: 0) + "      OpenBLAS     oneDNN packed   oneDNN bf16")
        for shape in window where shape.count > 1 {
            let one = GemmShape(name: shape.name, m: shape.m, n: shape.n, k: shape.k, transA: shape.transA, transB: shape.transB)
            let rates = [gemmSeconds(one, repeats: options.repeats),
                         packedSeconds(one, precision: .float32, repeats: options.repeats),
                         packedSeconds(one, precision: .bfloat16, repeats: options.repeats)].map { $0.map { one.flops / $0 / 1e9 } }
            let cells = rates.map { rate in rate.map { String(format: "%6.1f (%3.0f %%)", $0, 100 * $0 / squareRate) } ?? "      —       " }
            print("  " + shape.name.padding(toLength: 40, withPad: " ", startingAt: 0) + "  " + cells.joined(separator: "  "))
            results.append("{\"shape\": \(JSONText.quote(shape.name)), \"m\": \(one.m), \"n\": \(one.n), \"k\": \(one.k), "
                           + "\"openblas_gflops\": \(JSONText.number(((rates[0] ?? 0) * 10).rounded() / 10)), "
                           + "\"onednn_packed_gflops\": \(rates[1].map { JSONText.number(($0 * 10).rounded() / 10) } ?? "null"), "
                           + "\"onednn_bf16_gflops\": \(rates[2].map { JSONText.number(($0 * 10).rounded() / 10) } ?? "null"), "
                           + "\"square_gflops\": \(JSONText.number((squareRate * 10).rounded() / 10))}")
        }
        if options.json {
            print("{\"benchmark\": \"gemm\", \"kernel\": \(JSONText.quote(BLASRuntime.coreName)), \"threads\": \(BLASRuntime.threads), "
                  + "\"results\": [\(results.joined(separator: ", "))], "
                  + "\"lstm_window_gflops\": \(JSONText.number((ceiling.gflops * 10).rounded() / 10))}")
        }
    }
}

struct PretrainBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pretrain",
        abstract: "Full training steps of a preset on WikiText-2 windows: char-CNN, both LSTM stacks, softmax, clipping, Adagrad.")
    @Option(help: "Preset or options.json.") var config = "small"
    @Option(help: "Streams.") var batchSize = 32
    @Option(help: "Steps.") var unrollSteps = 20
    @Option(help: "Sampled softmax candidates (default: full).") var sampled: Int?
    @Option(help: "Training text.") var trainDataPath = "data/wikitext-2/train.txt"
    @Option(help: "Vocabulary.") var vocabFile = "data/wikitext-2/vocab.txt"
    @Option(help: "fp32, or bf16: mixed precision, as `elmo pretrain --precision`.") var precision = "fp32"
    @OptionGroup var options: TimingOptions

    func run() throws {
        try options.apply()
        guard batchSize > 0, unrollSteps > 0 else { throw InputError("--batch-size and --unroll-steps must be positive") }
        let arithmetic = try ComputePrecision(flag: "--precision", value: precision)
        let bilm = try BiLMOptions.resolve(config)
        let vocabulary = try Vocabulary(contentsOf: vocabFile)
        if let sampled, sampled <= 0 || sampled >= vocabulary.count {
            throw InputError("--sampled \(sampled): must be in 1..<\(vocabulary.count)")
        }
        let stream = try SentenceStream(corpus: Corpus(glob: trainDataPath, role: "--train-data-path"), vocabulary: vocabulary,
                                        seed: 1, shuffle: false, singlePass: false)
        let batcher = StreamBatcher(stream: stream, rows: batchSize, steps: unrollSteps)
        // The same windows every repetition, so runs compare; they are real text, so the char-CNN and softmax see real ids.
        var windows: [LMBatch] = []
        for _ in 0..<4 { if let batch = try batcher.next() { windows.append(batch) } }
        guard !windows.isEmpty else { throw InputError("--train-data-path \(trainDataPath): no text") }
        var rng = SeededRandom(seed: 2)
        let model = BidirectionalLM<Float>(options: bilm, vocabularySize: vocabulary.count, sparseSoftmax: sampled != nil, rng: &rng)
        model.setComputePrecision(arithmetic, training: true)
        let optimizer = Adagrad(learningRate: 0.2)
        var states = model.zeroStates(batch: batchSize)
        var next = 0
        func step(train: Bool) {
            let batch = windows[next % windows.count]
            next += 1
            model.zeroGradients()
            let (_, cache) = model.loss(batch, states: &states, dropoutRate: 0.1, training: true, samples: sampled, rng: &rng)
            guard train else { return model.release(cache) }
            model.backward(cache, dLoss: Float(unrollSteps), dropoutRate: 0.1)
            _ = GradientClipping.clipGlobalNorm(model.parameters, maxNorm: 10)
            optimizer.step(model.parameters)
        }
        let forward = medianSeconds(options.repeats) { step(train: false) }
        let train = medianSeconds(options.repeats) { step(train: true) }
        // Multiply-adds of the GEMMs: char-CNN (convolutions, highways, projection) once for both directions' inputs,
        // two directions × layers × (gates + projection), and the softmax logits of both directions.
        let tokens = Double(batchSize * unrollSteps), e = Double(bilm.charEmbeddingDim)
        let d = Double(bilm.filters.reduce(0) { $0 + $1[1] }), p = Double(bilm.projectionDim), c = Double(bilm.cellSize)
        var perToken = bilm.filters.reduce(0.0) { $0 + Double(50 - $1[0] + 1) * Double($1[0]) * e * Double($1[1]) }
        perToken += Double(bilm.highwayCount) * 2 * d * d + (d != p ? d * p : 0)
        let hidden = bilm.projectionDim < bilm.cellSize ? p : c
        let lstm = Double(bilm.layerCount) * ((p + hidden) * 4 * c + (bilm.projectionDim < bilm.cellSize ? c * p : 0))
        let flops = 2 * 2 * tokens * (perToken + lstm + p * Double(sampled ?? vocabulary.count))
        report("pretrain", shape: [("config", config), ("precision", precision), ("batch-size", "\(batchSize)"), ("unroll-steps", "\(unrollSteps)"),
                                   ("vocab", "\(vocabulary.count)"), ("sampled", sampled.map(String.init) ?? "full")],
               tokens: Int(tokens), forwardSeconds: forward, trainSeconds: train, forwardFlops: flops, trainFlops: 3 * flops, options: options,
               nominalFlops: true)
    }
}

struct EmbedBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed", abstract: "ELMoEmbedder.encode (what `elmo embed` runs) over sentences of a text, stateless.")
    @Option(help: "Preset or options.json (random weights: the speed does not depend on them).") var config = "small"
    @Option(help: "Sentences (lines of --input).") var sentences = 1000
    @Option(help: "Sentences per batch.") var batchSize = 64
    @Option(help: "Text, one tokenised sentence per line.") var input = "data/1b-word-sample/1b_benchmark.test.tokens"
    @Option(help: "Vocabulary (only its size matters here).") var vocabFile = "data/wikitext-2/vocab.txt"
    @Option(help: "fp32, or bf16: every product by a weight in bfloat16 (CPUs with AVX512-BF16 or AMX), as `elmo embed --precision`.")
    var precision = "fp32"
    @OptionGroup var options: TimingOptions

    func run() throws {
        try options.apply()
        guard sentences > 0, batchSize > 0 else { throw InputError("--sentences and --batch-size must be positive") }
        let bilm = try BiLMOptions.resolve(config)
        let vocabulary = try Vocabulary(contentsOf: vocabFile)
        var lines: [[String]] = []
        let reader = try LineReader(path: input, role: "--input")
        while lines.count < sentences, let line = try reader.nextLine() {
            if !line.tokens.isEmpty { lines.append(Array(line.tokens.prefix(256))) }
        }
        guard lines.count == sentences else {
            throw InputError("--input \(input): has \(lines.count) non-empty lines, --sentences asks for \(sentences)")
        }
        var rng = SeededRandom(seed: 1)
        let arithmetic = try ComputePrecision(flag: "--precision", value: precision)
        let model = BidirectionalLM<Float>(options: bilm, vocabularySize: vocabulary.count, rng: &rng)
        model.setComputePrecision(arithmetic)
        let embedder = ELMoEmbedder(model: model, vocabulary: vocabulary, batchSize: batchSize)
        let seconds = medianSeconds(options.repeats) { _ = embedder.encode(lines) }
        let tokens = lines.reduce(0) { $0 + $1.count + 2 }
        print("embed: config \(config), \(sentences) sentences (\(tokens) tokens with <S> and </S>), batch \(batchSize), precision \(precision)")
        print("  kernel \(BLASRuntime.coreName), \(BLASRuntime.threads) thread(s), elementwise \(FastMath.variant)")
        print(String(format: "  encode  %8.1f ms  %9.0f sentences/s  %9.0f tokens/s", seconds * 1e3,
                     Double(sentences) / seconds, Double(tokens) / seconds))
        if options.json {
            print("{\"benchmark\": \"embed\", \"config\": \(JSONText.quote(config)), \"sentences\": \(sentences), \"batch_size\": \(batchSize), "
                  + "\"threads\": \(BLASRuntime.threads), \"kernel\": \(JSONText.quote(BLASRuntime.coreName)), \"elementwise\": \(JSONText.quote(FastMath.variant)), "
                  + "\"forward_tokens_per_s\": \(JSONText.number((Double(tokens) / seconds).rounded())), "
                  + "\"sentences_per_s\": \(JSONText.number((Double(sentences) / seconds * 10).rounded() / 10))}")
        }
    }
}
