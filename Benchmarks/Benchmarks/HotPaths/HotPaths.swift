import Benchmark
import Framework
import Models

/// The LSTM at two unroll lengths, the softmax at the `bench` default shape: time, malloc count, peak memory.
/// Equal malloc counts per iteration at 10 and 20 steps mean no allocation per timestep. The LSTM cases leave out
/// peak memory: measuring it starts the harness's sampling thread, whose own mallocs would land in the count
/// (`Benchmarks/mallocs/per-step` counts the same thing with an LD_PRELOAD counter).
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .mallocCountTotal, .peakMemoryResident],
                                           maxDuration: .seconds(5), maxIterations: 50)
    let exactMallocs = Benchmark.Configuration(metrics: [.wallClock, .mallocCountTotal], maxDuration: .seconds(5), maxIterations: 50)

    func lstmCase(steps: Int) -> (LSTMLayer<Float>, Tensor<Float>, LSTMState<Float>, Tensor<Float>) {
        var rng = SeededRandom(seed: 1)
        let layer = LSTMLayer<Float>(name: "lstm", inputSize: 128, cellSize: 1024, projectionSize: 128, cellClip: 3,
                                     projectionClip: 3, rng: &rng)
        var x = Tensor<Float>(shape: [steps * 32, 128])
        rng.fillUniform(&x, -1, 1)
        var d = Tensor<Float>(shape: [steps * 32, 128])
        rng.fillUniform(&d, -0.01, 0.01)
        return (layer, x, LSTMState.zeros(batch: 32, cellSize: 1024, outputSize: 128), d)
    }

    for steps in [10, 20] {
        let (layer, x, state, dOut) = lstmCase(steps: steps)
        Benchmark("lstm forward, batch 32, \(steps) steps", configuration: exactMallocs) { benchmark in
            for _ in benchmark.scaledIterations { blackHole(layer.forward(x, steps: steps, initial: state)) }
        }
        Benchmark("lstm forward+backward, batch 32, \(steps) steps", configuration: exactMallocs) { benchmark in
            for _ in benchmark.scaledIterations {
                let (_, cache, _) = layer.forward(x, steps: steps, initial: state)
                blackHole(layer.backward(dOut, cache: cache))
            }
        }
    }

    var rng = SeededRandom(seed: 2)
    let softmax = SoftmaxOutput<Float>(vocabularySize: 32768, inputSize: 128, rowSparse: false, rng: &rng)
    var h = Tensor<Float>(shape: [640, 128])
    rng.fillUniform(&h, -1, 1)
    let targets = (0..<640).map { _ in Int32(rng.integer(below: 32768)) }
    Benchmark("softmax forward+backward, 640 × 128 → 32768") { benchmark in
        for _ in benchmark.scaledIterations {
            let (_, cache) = softmax.fullLoss(h, targets: targets, mask: nil)
            blackHole(softmax.backward(cache: cache, dLoss: 1))
        }
    }
}
