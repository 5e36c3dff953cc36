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

    /// A parameter's `learningRateScale` acts as that parameter's own rate: Adam at rate 0.05 with
    /// scale 0.2 takes exactly the steps of Adam at rate 0.01, while an unscaled neighbour keeps 0.05.
    @Test func learningRateScaleIsAPerParameterRate() throws {
        func run(rate: String, scale: Float) throws -> ([Float], [Float]) {
            let optimizer = try makeOptimizer("adam", ["lr": rate, "weight-decay": "0.001"])
            let scaled = Parameter(name: "encoder", value: Tensor<Float>(shape: [3], scalars: [0.5, -1, 2]))
            let plain = Parameter(name: "head", value: Tensor<Float>(shape: [2], scalars: [1, -0.25]))
            scaled.learningRateScale = scale
            for step in 0..<4 {
                for (k, p) in [scaled, plain].enumerated() {
                    for i in 0..<p.count { p.grad.scalars[i] = Float.sin(Float(2 * i + step + 5 * k)) }
                }
                optimizer.step([scaled, plain])
            }
            return (scaled.value.scalars, plain.value.scalars)
        }
        let (scaled, plain) = try run(rate: "0.05", scale: 0.2)
        let (reference, _) = try run(rate: "0.01", scale: 1)
        let (_, unscaledNeighbour) = try run(rate: "0.05", scale: 1)
        for (a, b) in zip(scaled, reference) { #expect(abs(a - b) <= 1e-7 * max(1, abs(b)), "\(a) vs \(b)") }
        #expect(plain == unscaledNeighbour)
    }

    /// A parameter that starts training after the others (a thawed encoder) gets Adam's first-step
    /// bias correction, as a fresh optimizer would give it, and that count survives a save and restore.
    @Test func lateParameterCountsItsOwnSteps() throws {
        func gradients(_ ps: [Parameter<Float>], step: Int) {
            for (k, p) in ps.enumerated() {
                for i in 0..<p.count { p.grad.scalars[i] = Float.cos(Float(3 * i + step + 2 * k)) }
            }
        }
        let head = Parameter(name: "head", value: Tensor<Float>(shape: [2], scalars: [0.3, 0.7]))
        let late = Parameter(name: "late", value: Tensor<Float>(shape: [3], scalars: [1, 2, 3]))
        let adam = try makeOptimizer("adam", ["lr": "0.01"])
        for step in 0..<5 { gradients([head], step: step); adam.step([head]) }
        gradients([head, late], step: 5)
        adam.step([head, late])

        let fresh = Parameter(name: "late", value: Tensor<Float>(shape: [3], scalars: [1, 2, 3]))
        fresh.grad.scalars = late.grad.scalars
        try makeOptimizer("adam", ["lr": "0.01"]).step([fresh])
        #expect(late.value.scalars == fresh.value.scalars)

        var file = SafeTensors()
        for (key, tensor) in adam.state() { file[key] = tensor }
        let reread = try SafeTensors.parse(file.serialized(), source: "state")
        #expect(reread.tensors["step/late"] != nil && reread.tensors["step/head"] == nil)
        let resumed = try makeOptimizer("adam", ["lr": "0.01"])
        let headCopy = Parameter(name: "head", value: head.value), lateCopy = Parameter(name: "late", value: late.value)
        try resumed.loadState(reread.tensors, parameters: [headCopy, lateCopy], source: "state")
        for step in 6..<8 {
            gradients([head, late], step: step); adam.step([head, late])
            gradients([headCopy, lateCopy], step: step); resumed.step([headCopy, lateCopy])
        }
        #expect(head.value.scalars == headCopy.value.scalars && late.value.scalars == lateCopy.value.scalars)

        var state = adam.state()
        state["step/late"] = StoredTensor(int64: [99], shape: [])
        #expect(throws: InputError("opt: step/late is invalid (must be one count from 0 to the optimizer's 8)")) {
            try makeOptimizer("adam").loadState(state, parameters: [head, late], source: "opt")
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
