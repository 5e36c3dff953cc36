import Foundation

/// Trains an encoder + head on labelled sentences through the plugin protocols only (so a new encoder
/// needs no change here): softmax cross-entropy, shuffled mini-batches, evaluation by accuracy.
public final class ClassifierTrainer {
    public let encoder: any Encoder
    public let head: any Head
    public let optimizer: any Optimizer
    public var batchSize = 64
    /// Sets the optimizer's rate before every update from the rate it had when the trainer was made.
    public var schedule = LearningRateSchedule()
    /// Updates the whole run will take (the schedule's horizon); see ``updates(examples:epochs:)``.
    public var totalSteps = 0
    let baseLearningRate: Float
    /// Updates applied so far.
    public private(set) var stepsTaken = 0
    /// While set, only the head trains: the encoder's backward is skipped and its parameters are not
    /// updated (ULMFiT's gradual unfreezing; "linear probing, then fine-tuning").
    public var encoderFrozen = false
    public var log: (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
    var rng: SeededRandom

    public init(encoder: any Encoder, head: any Head, optimizer: any Optimizer, seed: UInt64) {
        self.encoder = encoder
        self.head = head
        self.optimizer = optimizer
        baseLearningRate = optimizer.learningRate
        rng = SeededRandom(seed: seed)
    }

    /// Updates in `epochs` passes over `examples` sentences at the trainer's batch size.
    public func updates(examples: Int, epochs: Int) -> Int { epochs * ((examples + batchSize - 1) / batchSize) }

    public var parameters: [Parameter<Float>] { encoder.parameters + head.parameters }

    /// One pass over `indices` in a shuffled order; returns the mean loss.
    @discardableResult
    public func trainEpoch(sentences: [[String]], labels: [Int], indices: [Int]) -> Double {
        var order = indices
        rng.shuffle(&order)
        var total = 0.0
        let parameters = encoderFrozen ? head.parameters : self.parameters
        for start in stride(from: 0, to: order.count, by: batchSize) {
            let batch = Array(order[start..<min(start + batchSize, order.count)])
            for p in parameters { p.zeroGrad() }
            let encoded = encoder.forward(batch.map { sentences[$0] }, training: true, rng: &rng)
            let classified = head.forward(encoded.vectors, training: true, rng: &rng)
            let (output, softmaxCache) = SoftmaxCrossEntropy.forward(logits: classified.logits, targets: batch.map { Int32(labels[$0]) })
            total += Double(output.loss) * Double(batch.count)
            let dVectors = classified.backward(SoftmaxCrossEntropy.backward(cache: softmaxCache))
            if !encoderFrozen { encoded.backward(dVectors) }
            precondition(schedule == LearningRateSchedule() || stepsTaken < totalSteps,
                         "the schedule's totalSteps (\(totalSteps)) is shorter than the run")
            optimizer.learningRate = baseLearningRate * Float(schedule.factor(step: stepsTaken, totalSteps: totalSteps))
            optimizer.step(parameters)
            stepsTaken += 1
        }
        return total / Double(max(order.count, 1))
    }

    /// Accuracy on `indices` (no dropout).
    public func accuracy(sentences: [[String]], labels: [Int], indices: [Int]) -> Double {
        guard !indices.isEmpty else { return .nan }
        var correct = 0
        for start in stride(from: 0, to: indices.count, by: batchSize) {
            let batch = Array(indices[start..<min(start + batchSize, indices.count)])
            var evalRNG = SeededRandom(seed: 0)
            let vectors = encoder.forward(batch.map { sentences[$0] }, training: false, rng: &evalRNG).vectors
            let logits = head.forward(vectors, training: false, rng: &evalRNG).logits
            let c = logits.columns
            for (r, index) in batch.enumerated() {
                let row = logits.scalars[(r * c)..<((r + 1) * c)]
                if row.indices.max(by: { row[$0] < row[$1] })! - r * c == labels[index] { correct += 1 }
            }
        }
        return Double(correct) / Double(indices.count)
    }

    /// The parameter values (to keep the best epoch's model in memory).
    public func snapshot() -> [[Float]] { parameters.map(\.value.scalars) }
    public func restore(_ values: [[Float]]) { for (p, v) in zip(parameters, values) { p.value.scalars = v } }
}
