import Foundation
import Framework

/// Stochastic gradient descent with optional momentum (PyTorch's `SGD`, dampening 0):
/// `b ← μ·b + g`, `θ ← θ − lr·b` (Nesterov: `θ ← θ − lr·(g + μ·b)`); without momentum `θ ← θ − lr·g`.
public final class SGD: SlotOptimizer {
    public let momentum: Float
    public let nesterov: Bool

    public init(learningRate: Float, momentum: Float = 0, nesterov: Bool = false, weightDecay: Float = 0) {
        precondition(momentum >= 0 && momentum < 1, "momentum must be in [0, 1)")
        self.momentum = momentum
        self.nesterov = nesterov
        super.init(name: "sgd", learningRate: learningRate, weightDecay: weightDecay,
                   slotNames: momentum > 0 ? ["momentum_buffer"] : [])
    }

    override public var zeroGradientIsNoOp: Bool { momentum == 0 }

    override public func update(_ run: Run) {
        let lr = run.learningRate, mu = momentum
        for i in 0..<run.count {
            let g = run.decayedGradient(i)
            if mu == 0 {
                run.parameter[i] -= lr * g
                continue
            }
            let b = mu * run.slots[i] + g
            run.slots[i] = b
            run.parameter[i] -= lr * (nesterov ? g + mu * b : b)
        }
    }
}

/// Adagrad as bilm-tf trains ELMo (TensorFlow's `AdagradOptimizer`): `a ← a + g²`,
/// `θ ← θ − lr·g/(√a + ε)`, the accumulator starting at `initialAccumulator` (bilm-tf: 1.0).
/// ε (default 1e-10, PyTorch's) only matters while the accumulator is near zero.
public final class Adagrad: SlotOptimizer {
    public let initialAccumulator: Float
    public let epsilon: Float

    public init(learningRate: Float, initialAccumulator: Float = 1.0, epsilon: Float = 1e-10, weightDecay: Float = 0) {
        precondition(initialAccumulator >= 0 && epsilon >= 0)
        self.initialAccumulator = initialAccumulator
        self.epsilon = epsilon
        super.init(name: "adagrad", learningRate: learningRate, weightDecay: weightDecay, slotNames: ["sum"])
    }

    override public var initialSlotValue: Float { initialAccumulator }
    override public var zeroGradientIsNoOp: Bool { true }

    override public func update(_ run: Run) {
        let lr = run.learningRate, eps = epsilon
        for i in 0..<run.count {
            let g = run.decayedGradient(i)
            let a = run.slots[i] + g * g
            run.slots[i] = a
            run.parameter[i] -= lr * g / (a.squareRoot() + eps)
        }
    }
}

/// Adam (Kingma & Ba 2015) with bias correction, as PyTorch's `Adam`: `m ← β₁m + (1−β₁)g`,
/// `v ← β₂v + (1−β₂)g²`, `θ ← θ − (lr/(1−β₁ᵗ))·m/(√v/√(1−β₂ᵗ) + ε)`. Weight decay is the coupled
/// L2 term of PyTorch's and Paddle's `weight_decay` (not AdamW).
public final class Adam: SlotOptimizer {
    public let beta1: Float
    public let beta2: Float
    public let epsilon: Float

    public init(learningRate: Float, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: Float = 0) {
        precondition(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1, "betas must be in [0, 1)")
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        super.init(name: "adam", learningRate: learningRate, weightDecay: weightDecay, slotNames: ["exp_avg", "exp_avg_sq"])
    }

    override public func update(_ run: Run) {
        let t = Double(run.step)
        let correction1 = 1 - pow(Double(beta1), t)
        let correction2 = 1 - pow(Double(beta2), t)
        let stepSize = Float(Double(run.learningRate) / correction1)
        let inverseRootCorrection2 = Float(1 / correction2.squareRoot())
        let b1 = beta1, b2 = beta2, eps = epsilon, n = run.slotStride
        for i in 0..<run.count {
            let g = run.decayedGradient(i)
            let m = b1 * run.slots[i] + (1 - b1) * g
            let v = b2 * run.slots[n + i] + (1 - b2) * g * g
            run.slots[i] = m
            run.slots[n + i] = v
            run.parameter[i] -= stepSize * m / (v.squareRoot() * inverseRootCorrection2 + eps)
        }
    }
}

/// The options of the optimizers, each declared once (key, type, default, range, help).
enum OptimizerOptions {
    static func learningRate(_ value: Double) -> PluginOption<Double> { .positive("lr", default: value, help: "learning rate") }
    static let weightDecay = PluginOption<Double>.nonNegative("weight-decay", default: 0, help: "coupled L2 weight decay")
    static let momentum = PluginOption<Double>.fraction("momentum", default: 0, help: "momentum")
    static let nesterov = PluginOption<Bool>("nesterov", default: false, help: "Nesterov momentum")
    static let initialAccumulator = PluginOption<Double>.nonNegative("initial-accumulator", default: 1.0, help: "starting accumulator value")
    static let adagradEpsilon = PluginOption<Double>.nonNegative("eps", default: 1e-10, help: "added to √accumulator")
    static let beta1 = PluginOption<Double>.fraction("beta1", default: 0.9, help: "first-moment decay")
    static let beta2 = PluginOption<Double>.fraction("beta2", default: 0.999, help: "second-moment decay")
    static let adamEpsilon = PluginOption<Double>.positive("eps", default: 1e-8, help: "added to √v̂")
}

/// Registers `sgd`, `adagrad` and `adam`.
public func register(into registries: inout Registries) throws {
    typealias O = OptimizerOptions
    let sgdRate = O.learningRate(0.1), adagradRate = O.learningRate(0.2), adamRate = O.learningRate(1e-3)
    try registries.optimizers.register(ComponentInfo(
        name: "sgd", summary: "SGD with optional (Nesterov) momentum, as torch.optim.SGD",
        options: [sgdRate.info, O.momentum.info, O.nesterov.info, O.weightDecay.info])
    ) { options in
        let (lr, momentum, nesterov, decay) = (try options.value(of: sgdRate), try options.value(of: O.momentum),
                                               try options.value(of: O.nesterov), try options.value(of: O.weightDecay))
        return { _ in SGD(learningRate: Float(lr), momentum: Float(momentum), nesterov: nesterov, weightDecay: Float(decay)) }
    }
    try registries.optimizers.register(ComponentInfo(
        name: "adagrad", summary: "Adagrad with an initial accumulator, as bilm-tf pretrains ELMo",
        options: [adagradRate.info, O.initialAccumulator.info, O.adagradEpsilon.info, O.weightDecay.info])
    ) { options in
        let (lr, accumulator, eps, decay) = (try options.value(of: adagradRate), try options.value(of: O.initialAccumulator),
                                             try options.value(of: O.adagradEpsilon), try options.value(of: O.weightDecay))
        return { _ in Adagrad(learningRate: Float(lr), initialAccumulator: Float(accumulator), epsilon: Float(eps), weightDecay: Float(decay)) }
    }
    try registries.optimizers.register(ComponentInfo(
        name: "adam", summary: "Adam with bias correction and coupled L2 decay, as torch.optim.Adam",
        options: [adamRate.info, O.beta1.info, O.beta2.info, O.adamEpsilon.info, O.weightDecay.info])
    ) { options in
        let (lr, beta1, beta2) = (try options.value(of: adamRate), try options.value(of: O.beta1), try options.value(of: O.beta2))
        let (eps, decay) = (try options.value(of: O.adamEpsilon), try options.value(of: O.weightDecay))
        return { _ in Adam(learningRate: Float(lr), beta1: Float(beta1), beta2: Float(beta2), epsilon: Float(eps), weightDecay: Float(decay)) }
    }
}
