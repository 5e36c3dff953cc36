/// Updates parameters from their gradients and keeps whatever state the rule needs.
///
/// Training runs in Float. State (moments, accumulators, the step count) is saved with
/// ``state()`` and restored with ``loadState(_:parameters:source:)`` bit for bit, so a resumed
/// run continues exactly where it stopped.
public protocol Optimizer: AnyObject {
    /// The registry name ("adam").
    var name: String { get }
    var learningRate: Float { get set }
    /// Updates applied so far.
    var stepCount: Int { get }

    /// Applies one update to every trainable parameter from its gradient (gradients unchanged).
    func step(_ parameters: [Parameter<Float>])

    /// The state as named tensors: `"<slot>/<parameter name>"` per parameter, `"step"`, and
    /// `"step/<parameter name>"` for a parameter updated fewer times than the optimizer.
    func state() -> [String: StoredTensor]

    /// Restores ``state()`` output for `parameters`; a missing or mis-shaped entry is an input
    /// error naming `source` (the file it came from).
    func loadState(_ state: [String: StoredTensor], parameters: [Parameter<Float>], source: String) throws
}

/// Factories for optimizers take nothing but their options.
public typealias OptimizerRegistry = Registry<Void, any Optimizer>

/// Scales all gradients together so that their global L2 norm is at most `maxNorm`
/// (TensorFlow's `clip_by_global_norm`, as bilm-tf and PaddleNLP train ELMo).
public enum GradientClipping {
    /// The global norm √(Σ‖g‖²) over trainable parameters, accumulated in Double.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public static func globalNorm<T: Scalar>(_ parameters: [Parameter<T>]) -> Double {
        var sum = 0.0
        for p in parameters where p.isTrainable {
            p.grad.withUnsafeBufferPointer { g in
                if p.isRowSparse {
                    let c = p.grad.columns
                    for r in p.touchedRows {
                        sum += Kernels.sumOfSquares(UnsafeBufferPointer(rebasing: g[(r * c)..<((r + 1) * c)]))
                    }
                } else {
                    sum += Kernels.sumOfSquares(g)
                }
            }
        }
        return sum.squareRoot()
    }

    /// Clips in place and returns the norm before clipping (non-finite when a gradient is).
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    @discardableResult
    public static func clipGlobalNorm<T: Scalar>(_ parameters: [Parameter<T>], maxNorm: Double) -> Double {
        let norm = globalNorm(parameters)
        guard norm.isFinite, norm > maxNorm else { return norm }
        let factor = T(maxNorm / norm)
        for p in parameters where p.isTrainable {
            p.grad.withUnsafeMutableBufferPointer { Kernels.scale($0, by: factor) }
        }
        return norm
    }
}
