import Framework

/// Shared machinery of the elementwise optimizers: per-parameter state "slots" shaped like the
/// parameter, the step counter, state save/restore, coupled L2 weight decay, and the row-sparse
/// fast path. A subclass supplies only its slot names and its per-element rule
/// (``update(_:)``), in the manner of mlx-swift's `OptimizerBase`.
open class SlotOptimizer: Optimizer {
    public let name: String
    public var learningRate: Float
    /// Coupled L2 decay: the rule sees g + weightDecay·θ (PyTorch's / Paddle's `weight_decay`).
    public let weightDecay: Float
    public private(set) var stepCount = 0

    /// Names of the per-parameter state tensors, e.g. `["exp_avg", "exp_avg_sq"]`.
    public let slotNames: [String]
    /// Slot storage per parameter name: `slotNames.count` blocks of the parameter's size, back to back.
    private var slots: [String: [Float]] = [:]
    /// Updates each parameter has received. Bias corrections count these, not ``stepCount``, so a
    /// parameter that starts training late (a frozen encoder thawed) starts its moments afresh, as
    /// PyTorch's per-parameter `state['step']` does.
    private var parameterSteps: [String: Int] = [:]

    public init(name: String, learningRate: Float, weightDecay: Float, slotNames: [String]) {
        self.name = name
        self.learningRate = learningRate
        self.weightDecay = weightDecay
        self.slotNames = slotNames
    }

    /// The initial value of every slot element (Adagrad starts its accumulator above zero).
    open var initialSlotValue: Float { 0 }

    /// Whether a zero gradient leaves both parameter and state unchanged, so that row-sparse
    /// parameters may skip rows they did not touch. Subclasses say so for their rule; decay breaks it.
    open var zeroGradientIsNoOp: Bool { false }

    /// One contiguous run of elements to update: parameter, gradient and slots at the same offset.
    public struct Run {
        public let parameter: UnsafeMutablePointer<Float>
        public let gradient: UnsafePointer<Float>
        /// Base of the slot block; slot k of element i is at `slots[k * slotStride + i]`
        /// (a one-element scratch when the rule has no slots).
        public let slots: UnsafeMutablePointer<Float>
        public let slotStride: Int
        public let count: Int
        public let weightDecay: Float
        /// The optimizer's rate times the parameter's ``Parameter/learningRateScale``.
        public let learningRate: Float
        /// This parameter's update being taken, counted from 1.
        public let step: Int

        /// The gradient of element i with coupled weight decay applied.
        @inline(__always)
        public func decayedGradient(_ i: Int) -> Float {
            weightDecay == 0 ? gradient[i] : gradient[i] + weightDecay * parameter[i]
        }
    }

    /// The per-element rule over one run. Override.
    open func update(_ run: Run) {
        fatalError("\(type(of: self)) must override update(_:)")
    }

    public func step(_ parameters: [Parameter<Float>]) {
        stepCount += 1
        for p in parameters where p.isTrainable {
            let n = p.count
            // Slots are created on first use and mutated in place in the dictionary (no copy).
            let blockSize = max(slotNames.count * n, 1)
            if slots[p.name] == nil { slots[p.name] = Array(repeating: initialSlotValue, count: blockSize) }
            precondition(slots[p.name]!.count == blockSize, "parameter \(p.name) changed size under the optimizer")
            parameterSteps[p.name, default: 0] += 1
            let step = parameterSteps[p.name]!, rate = learningRate * p.learningRateScale
            let sparse = p.isRowSparse && zeroGradientIsNoOp && weightDecay == 0
            let columns = p.value.columns
            p.value.withUnsafeMutableBufferPointer { value in
                p.grad.withUnsafeBufferPointer { grad in
                    slots[p.name]!.withUnsafeMutableBufferPointer { state in
                        func run(_ offset: Int, _ count: Int) {
                            update(Run(
                                parameter: value.baseAddress! + offset, gradient: grad.baseAddress! + offset,
                                slots: state.baseAddress! + (slotNames.isEmpty ? 0 : offset), slotStride: n,
                                count: count, weightDecay: weightDecay, learningRate: rate, step: step))
                        }
                        if sparse {
                            for r in p.touchedRows { run(r * columns, columns) }
                        } else {
                            run(0, n)
                        }
                    }
                }
            }
        }
    }

    public func state() -> [String: StoredTensor] {
        var out: [String: StoredTensor] = ["step": StoredTensor(int64: [Int64(stepCount)], shape: [])]
        // A parameter's own count is stored only where it differs from the optimizer's.
        for (name, steps) in parameterSteps where steps != stepCount {
            out["step/\(name)"] = StoredTensor(int64: [Int64(steps)], shape: [])
        }
        for (name, block) in slots where !slotNames.isEmpty {
            let n = block.count / slotNames.count
            for (k, slot) in slotNames.enumerated() {
                out["\(slot)/\(name)"] = StoredTensor(Tensor(shape: [n], scalars: Array(block[(k * n)..<((k + 1) * n)])))
            }
        }
        return out
    }

    public func loadState(_ state: [String: StoredTensor], parameters: [Parameter<Float>], source: String) throws {
        guard let stepTensor = state["step"] else { throw InputError("\(source): optimizer state has no step") }
        let step = try stepTensor.integers(name: "step", source: source)
        guard step.count == 1, step[0] >= 0 else { throw InputError("\(source): optimizer step is invalid") }
        var restored: [String: [Float]] = [:], restoredSteps: [String: Int] = [:]
        for p in parameters where p.isTrainable {
            var ownStep = Int(step[0])
            if let stored = state["step/\(p.name)"] {
                let value = try stored.integers(name: "step/\(p.name)", source: source)
                guard value.count == 1, value[0] >= 0, value[0] <= step[0] else {
                    throw InputError("\(source): step/\(p.name) is invalid (must be one count from 0 to the optimizer's \(step[0]))")
                }
                ownStep = Int(value[0])
            }
            if ownStep > 0 { restoredSteps[p.name] = ownStep }
            var block: [Float] = []
            var present = 0
            for slot in slotNames {
                let key = "\(slot)/\(p.name)"
                guard let stored = state[key] else { continue }
                present += 1
                let values = try stored.floatingPoint(Float.self, name: key, source: source)
                guard values.count == p.count, stored.dtype == .f32 else {
                    throw InputError("\(source): \(key) has \(values.count) \(stored.dtype.rawValue) values, parameter \(p.name) \(p.shape) needs \(p.count) F32")
                }
                block += values.scalars
            }
            if slotNames.isEmpty { continue }
            if present == slotNames.count {
                restored[p.name] = block
            } else if present > 0 || ownStep > 0 {
                throw InputError("\(source): optimizer state for \(p.name) is missing (\(name) at step \(ownStep))")
            }
        }
        slots = restored
        parameterSteps = restoredSteps
        stepCount = Int(step[0])
    }
}
